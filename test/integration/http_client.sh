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
