#!/usr/bin/env bash
# http_rate_limits: per-tenant rate limits through real PostgREST. Tenant Acme, given
# a bucket of 4 requests by the platform operator, gets 429 with Retry-After and the
# body code PT429 on its fifth request, while Globex is unaffected; Acme's reservations
# have their own bucket, and a refused reservation makes no hold (no work done); an
# anonymous client address over its limit gets 429 while another address passes; the
# tenant sees its buckets in /rate_limit_usage. With EVS_HTTP_THROUGH_PROXY=1
# (test/integration/scaleout.sh) the same requests go through PostgREST on the proxy of
# two shards, whose entries apply the limits (docs/scale-out.md "Rate limits"): the
# limits are set on the shards.
set -uo pipefail
ROOT=${EVS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/postgrest.sh"
. "$ROOT/test/http/lib.sh"
http_seeded_pgrst eventsvc_http_rate_limits || exit 1

A=11111111-1111-4111-8111-111111111111
B=22222222-2222-4222-8222-222222222222
EV=aaaaaaaa-0000-4000-8000-0000000000e1
ACME=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"alice\"}")
GLOBEX=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$B\",\"sub\":\"bob\"}")
retry_after() { tr -d '\r' <"$EVS_PGRST_DIR/headers" | sed -nE 's/^[Rr]etry-[Aa]fter: *([0-9]+)$/\1/p'; }
# a setting of every server that applies the limits: the test database, or each shard's
limits_sql() {
    if [ -n "${HTTP_ACME_SHARD:-}" ]; then s1 "$HTTP_DB" -c "$1" && s2 "$HTTP_DB" -c "$1"; else sql "$1"; fi
}

echo "# setup: a section to reserve in"
req POST '/rpc/create_section' ACME "{\"event_id\":\"$EV\",\"section_name\":\"Rate Floor\",\"total_capacity\":50,\"maximum_purchase\":10}"
expect_status 200 "a section"
SECTION=$(printf '%s' "$BODY" | jq -r .id)

echo "# a tenant over its request limit"
# one token a minute: none comes back while the test runs
acme_sql "INSERT INTO eventsvc.tenant_rate_limits (tenant_id, requests_per_minute, request_burst) VALUES ('$A', 1, 4)"
for i in 1 2 3 4; do
    req GET '/events?select=slug&limit=1' ACME
    expect_status 200 "Acme request $i of its burst of 4"
done
req GET '/events?select=slug&limit=1' ACME
expect_error 429 PT429 "Acme's fifth request is refused"
expect_jq '.message | test("^too many requests: try again in [0-9]+ seconds?$")' "the message says when to try again"
RA=$(retry_after)
if [ -n "$RA" ] && [ "$RA" -ge 1 ] && [ "$RA" -le 60 ]; then echo "ok - Retry-After: $RA seconds"
else _fail "a Retry-After header of 1 to 60 seconds (got '${RA}')"; fi
req POST '/rpc/reserve_capacity' ACME "{\"capacity_id\":\"$SECTION\",\"quantity\":1}"
expect_error 429 PT429 "a reservation is refused too while the request bucket is empty"
req GET '/events?select=slug&limit=1' GLOBEX
expect_status 200 "Globex is unaffected"
req GET '/rate_limit_usage?select=limit_name,per_minute,burst,source,tokens_left,allowed,refused&order=limit_name' GLOBEX
expect_jq '[.[] | .limit_name] == ["requests","reservations"] and .[0].source == "default" and .[0].refused == 0' \
    "Globex sees its own buckets, with the default limits and nothing refused"

echo "# reservations: their own bucket; a refused one does no work"
acme_sql "UPDATE eventsvc.tenant_rate_limits SET requests_per_minute = NULL, request_burst = NULL,
                                            reservations_per_minute = 1, reservation_burst = 2 WHERE tenant_id = '$A'"
req GET '/events?select=slug&limit=1' ACME
expect_status 200 "with the default request limit back, Acme passes again"
for i in 1 2; do
    req POST '/rpc/reserve_capacity' ACME "{\"capacity_id\":\"$SECTION\",\"quantity\":1}"
    expect_status 200 "Acme reservation $i of 2"
done
before=$(acme_sql "SELECT count(*) FROM eventsvc.capacity_holds WHERE capacity_id = '$SECTION'")
req POST '/rpc/reserve_capacity' ACME "{\"capacity_id\":\"$SECTION\",\"quantity\":1}"
expect_error 429 PT429 "the third reservation is refused"
expect_jq '.message | startswith("too many reservations")' "it names the reservations"
after=$(acme_sql "SELECT count(*) FROM eventsvc.capacity_holds WHERE capacity_id = '$SECTION'")
[ "$before" = 2 ] && [ "$after" = 2 ] && echo "ok - the refused reservation made no hold (2 holds)" \
    || _fail "the refused reservation made no hold (before $before, after $after)"
held=$(acme_sql "SET app.current_tenant_id = '$A'; SELECT eventsvc.check_capacity('$SECTION') ->> 'held'")
[ "$held" = 2 ] && echo "ok - and took no seat (2 held)" || _fail "and took no seat (held: $held)"
req GET '/rate_limit_usage?select=limit_name,per_minute,burst,source,tokens_left,refused&order=limit_name' ACME
expect_jq '.[1] == {"limit_name":"reservations","per_minute":1,"burst":2,"source":"tenant","tokens_left":0,"refused":1}' \
    "Acme sees its reservation bucket: its own limit, empty, one refused"

echo "# anonymous callers, per client address"
# (through the proxy the public_events view is read over postgres_fdw and not counted:
# docs/scale-out.md "Rate limits"; the catalogue search goes through every shard's entry)
ANON='/public_events?select=slug&limit=1'
[ -n "${HTTP_ACME_SHARD:-}" ] && ANON='/rpc/search_events?q=gala&select=slug'
limits_sql "ALTER DATABASE eventsvc_http_rate_limits SET eventsvc.rate_limit_anonymous_per_minute = 1"
limits_sql "ALTER DATABASE eventsvc_http_rate_limits SET eventsvc.rate_limit_anonymous_burst = 3"
evs_pgrst_stop
evs_pgrst_start eventsvc_http_rate_limits || exit 1     # new connections read the settings
for i in 1 2 3; do
    req GET "$ANON" - "" -H 'X-Forwarded-For: 203.0.113.10'
    expect_status 200 "address 203.0.113.10, request $i of 3"
done
req GET "$ANON" - "" -H 'X-Forwarded-For: 198.51.100.1, 203.0.113.10'
expect_error 429 PT429 "the fourth is refused, whatever address the client claims before the proxy's"
[ -n "$(retry_after)" ] && echo "ok - with Retry-After" || _fail "with Retry-After"
req GET "$ANON" - "" -H 'X-Forwarded-For: 203.0.113.11'
expect_status 200 "another address passes"
req GET '/events?select=slug&limit=1' GLOBEX
expect_status 200 "and tenants are not affected"

http_summary
