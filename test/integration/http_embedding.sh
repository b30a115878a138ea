#!/usr/bin/env bash
# http_embedding: resource embedding (events with their sections, schedules, tiers,
# holds and content; holds with their event, section and tier) and the OpenAPI
# description, through @supabase/postgrest-js against real PostgREST
# (test/http/embedding.spec.mjs).
set -uo pipefail
ROOT=${EVS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/postgrest.sh"
. "$ROOT/test/http/lib.sh"
http_seeded_pgrst eventsvc_http_embedding || exit 1

cd "$ROOT/test/http" || exit 1
node --test --test-reporter=spec ./embedding.spec.mjs
