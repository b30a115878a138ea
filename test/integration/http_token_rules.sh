#!/usr/bin/env bash
# http_token_rules: the token rules through real PostgREST. Every token carries exp
# within eventsvc.token_max_lifetime (401 PT401 otherwise, from the pre-request check);
# a service token that names a tenant reaches that tenant's events only (404 for
# another tenant's, as for an unknown one); a platform-wide service call needs
# "scope": "platform" (403 42501 without it); revoking tokens is platform-wide.
#
# Run against the code before this change (main at efcc9c2), 15 of the 25 checks
# failed: tokens without exp, valid for two days or issued two days ago were served, the
# limit could not be set, and a service token naming tenant A read and changed tenant
# B's event, revoked tokens, and without any tenant or scope made platform-wide calls.
set -uo pipefail
ROOT=${EVS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/postgrest.sh"
. "$ROOT/test/http/lib.sh"
http_seeded_pgrst eventsvc_http_tokens || exit 1

A=11111111-1111-4111-8111-111111111111
ROCK=aaaaaaaa-0000-4000-8000-0000000000e1     # Acme's event
OPERA=bbbbbbbb-0000-4000-8000-0000000000e1    # Globex's event
NOW=$(date +%s)
USER_A=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"alice\"}")
NO_EXP=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"alice\",\"exp\":null}")
NO_EXP_NO_IAT=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"exp\":null,\"iat\":null}")
TWO_DAYS=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"alice\",\"exp\":$((NOW + 2 * 86400))}")
OLD_IAT=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"alice\",\"iat\":$((NOW - 2 * 86400)),\"exp\":$((NOW + 600))}")
NEAR_DAY=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"alice\",\"exp\":$((NOW + 86400 - 300))}")
SERVICE_A=$(evs_jwt "{\"role\":\"eventsvc_service\",\"tenant_id\":\"$A\",\"sub\":\"scanner\"}")
SERVICE_NONE=$(evs_jwt '{"role":"eventsvc_service","sub":"scanner"}')
SERVICE_PLATFORM=$(evs_jwt '{"role":"eventsvc_service","sub":"auth-service","scope":"platform"}')
SERVICE_NO_EXP=$(evs_jwt '{"role":"eventsvc_service","sub":"auth-service","scope":"platform","exp":null}')

echo "# exp within eventsvc.token_max_lifetime"
req GET '/events?select=slug&limit=1' USER_A
expect_status 200 "a token that lives an hour is served"
req GET '/events?select=slug&limit=1' NO_EXP
expect_error 401 PT401 "a token without exp is refused"
expect_jq '.message | test("exp claim is required")' "and says why"
req GET '/public_events?select=slug&limit=1' NO_EXP_NO_IAT
expect_error 401 PT401 "also for a read of the public catalogue"
req POST '/rpc/revoke_token' SERVICE_NO_EXP '{"jti":"x","expires_at":"2099-01-01T00:00:00Z"}'
expect_error 401 PT401 "also for a service token"
req GET '/events?select=slug&limit=1' TWO_DAYS
expect_error 401 PT401 "a token valid for two days is refused (the default limit is one day)"
expect_jq '.details | test("token_max_lifetime")' "the detail names the setting"
req GET '/events?select=slug&limit=1' OLD_IAT
expect_error 401 PT401 "a token issued two days ago is refused, though it ends in ten minutes"
req GET '/events?select=slug&limit=1' NEAR_DAY
expect_status 200 "a token just under a day is served"
sql "ALTER DATABASE eventsvc_http_tokens SET eventsvc.token_max_lifetime = '10min'"
for _ in $(seq 1 50); do    # PostgREST's pooled connections pick the setting up as they are replaced
    sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'eventsvc_http_tokens' AND pid <> pg_backend_pid()" >/dev/null
    req GET '/events?select=slug&limit=1' USER_A
    [ "$STATUS" = 401 ] && break
    sleep 0.1
done
expect_error 401 PT401 "with the limit set to 10 minutes, an hour's token is refused"
sql "ALTER DATABASE eventsvc_http_tokens RESET eventsvc.token_max_lifetime"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'eventsvc_http_tokens' AND pid <> pg_backend_pid()" >/dev/null
for _ in $(seq 1 50); do
    req GET '/events?select=slug&limit=1' USER_A
    [ "$STATUS" = 200 ] && break
    sleep 0.1
done
expect_status 200 "back to the default"
req GET '/public_events?select=slug&limit=1'
expect_status 200 "anonymous requests carry no token and pass"

echo "# service tokens that name a tenant are scoped to it"
req GET "/rpc/internal_event?event_id=$ROCK" SERVICE_A
expect_status 200 "tenant A's service token reads A's event"
expect_jq ".tenant_id == \"$A\"" "with its tenant"
req GET "/rpc/internal_event?event_id=$OPERA" SERVICE_A
expect_error 404 PT404 "tenant A's service token: B's event is not found"
req GET "/rpc/internal_scan_stats?event_id=$OPERA" SERVICE_A
expect_error 404 PT404 "nor its scan stats"
req POST '/rpc/update_blockchain_status' SERVICE_A "{\"event_id\":\"$OPERA\",\"status\":\"failed\"}"
expect_error 404 PT404 "nor can it report B's blockchain status"
[ "$(sql "SELECT blockchain_status FROM eventsvc.events WHERE id = '$OPERA'")" = none ] \
    && _ok "B's event is unchanged" || _fail "B's blockchain status changed"
req POST '/rpc/revoke_token' SERVICE_A '{"jti":"tok-x","expires_at":"2099-01-01T00:00:00Z"}'
expect_error 403 42501 "a tenant-scoped service token cannot revoke tokens"

echo "# platform-wide calls need the explicit claim"
req GET "/rpc/internal_event?event_id=$ROCK" SERVICE_NONE
expect_error 403 42501 "a service token with neither a tenant nor the platform scope is refused"
expect_jq '.hint | test("scope")' "the hint names the platform scope"
req GET "/rpc/internal_event?event_id=$OPERA" SERVICE_PLATFORM
expect_status 200 "with \"scope\": \"platform\" any tenant's event is found"
expect_jq '.tenant_id == "22222222-2222-4222-8222-222222222222"' "and carries its tenant"
req POST '/rpc/revoke_token' SERVICE_PLATFORM '{"jti":"tok-x","expires_at":"2099-01-01T00:00:00Z"}'
expect_status 200 "the platform scope revokes tokens"

http_summary
