#!/usr/bin/env bash
# http_client: the node:test suites of test/http (@supabase/postgrest-js against real
# PostgREST on the test cluster). Exits non-zero when any node test fails.
set -uo pipefail
ROOT=${EVS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/postgrest.sh"
HTTP_DB=eventsvc_http_client

psql -X -q -d postgres -c "CREATE DATABASE $HTTP_DB" >/dev/null || exit 1
psql -X -q -d "$HTTP_DB" -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null 2>&1 || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d "$HTTP_DB" -f "$ROOT/test/http/seed.sql" >/dev/null || exit 1

evs_pgrst_setup "$EVS_WORK/http_client" || exit 1
trap evs_pgrst_stop EXIT
evs_pgrst_start "$HTTP_DB" || exit 1

cd "$ROOT/test/http" || exit 1
node --test --test-reporter=spec ./*.test.mjs
