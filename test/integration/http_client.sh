#!/usr/bin/env bash
# http_client: the node:test suites of test/http (@supabase/postgrest-js against real
# PostgREST on the test cluster). Exits non-zero when any node test fails.
set -uo pipefail
ROOT=${EVS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/postgrest.sh"
. "$ROOT/test/http/lib.sh"
http_seeded_pgrst eventsvc_http_client || exit 1

cd "$ROOT/test/http" || exit 1
node --test --test-reporter=spec ./*.test.mjs
st=$?
# The waitlisted buyer's offer (holds.test.mjs, "a waitlisted buyer") also reached the
# notification service: one waitlist.offer message in the outbox for the 2 seats offered.
if [ "${EVS_HTTP_THROUGH_PROXY:-0}" != 1 ]; then
    offers=$(psql -X -At -d "$HTTP_DB" -c "SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'waitlist.offer'
                                             AND payload #>> '{data,holder_id}' = 'fan-1' AND payload #>> '{data,quantity}' = '2'")
    if [ "$offers" = 1 ]; then
        echo "ok - the waitlisted buyer's offer was sent once as waitlist.offer"
    else
        echo "not ok - the waitlisted buyer's offer: $offers waitlist.offer messages, not 1"; st=1
    fi
fi
exit $st
