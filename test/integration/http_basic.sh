#!/usr/bin/env bash
# http_basic: real PostgREST in front of the test cluster. Tokens (RS256, a fresh key
# per run) decide who sees what: a tenant user sees only its tenant, anonymous sees
# only the public catalogue, missing/expired/invalid/revoked tokens get 401, a role
# the authenticator may not become is refused, an inactive tenant is refused.
set -uo pipefail
ROOT=${EVS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/postgrest.sh"
. "$ROOT/test/http/lib.sh"
http_seeded_pgrst eventsvc_http_basic || exit 1

A=11111111-1111-4111-8111-111111111111      # Acme (active)
B=22222222-2222-4222-8222-222222222222      # Globex (active)
D=33333333-3333-4333-8333-333333333333      # Dormant (inactive)
USER_A=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"alice\",\"jti\":\"tok-alice\"}")
USER_B=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$B\",\"sub\":\"bob\"}")
USER_D=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$D\",\"sub\":\"dan\"}")
USER_NOTENANT=$(evs_jwt '{"role":"eventsvc_user","sub":"nobody"}')
USER_BADTENANT=$(evs_jwt '{"role":"eventsvc_user","tenant_id":"not-a-uuid"}')
USER_UNKNOWNTENANT=$(evs_jwt '{"role":"eventsvc_user","tenant_id":"99999999-9999-4999-8999-999999999999"}')
EXPIRED=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"exp\":$(( $(date +%s) - 60 ))}")
ROLE_UNKNOWN=$(evs_jwt "{\"role\":\"eventsvc_root\",\"tenant_id\":\"$A\"}")
ROLE_SUPER=$(evs_jwt '{"role":"postgres"}')
ROLE_WORKER=$(evs_jwt '{"role":"eventsvc_worker"}')
SERVICE=$(evs_jwt '{"role":"eventsvc_service","sub":"auth-service","scope":"platform"}')
# Same claims, signed by a key PostgREST does not trust.
OTHER_KEY_DIR=$EVS_WORK/http_basic/otherkey; mkdir -p "$OTHER_KEY_DIR"
node "$ROOT/test/http/keys.mjs" "$OTHER_KEY_DIR"
FORGED=$(node "$ROOT/test/http/jwt.mjs" "$OTHER_KEY_DIR/jwt-private.pem" "{\"role\":\"eventsvc_admin\",\"tenant_id\":\"$A\"}")
GARBAGE=not.a.jwt

echo "# anonymous: the public catalogue only"
req GET '/public_events?select=slug,status&order=slug'
expect_status 200 "anonymous reads the public catalogue"
expect_jq '[.[].slug] == ["acme-jazz-postponed","acme-rock-night","globex-opera"]' \
    "only PUBLIC, non-deleted, published events of active tenants"
req GET '/public_events?select=*&limit=1'
expect_jq '.[0] | (has("artist_wallet") or has("event_pda") or has("version") or has("created_by") or has("virtual_event_url")) | not' \
    "the catalogue carries no private columns"
req GET "/public_events?tenant_id=eq.$B&select=slug"
expect_jq '[.[].slug] == ["globex-opera"]' "the catalogue filters by tenant"
req GET '/public_events?select=slug' "" "" -H 'Prefer: count=exact' -H 'Range: 0-0'
expect_status 206 "a partial range is 206"
req HEAD '/public_events' "" "" -H 'Prefer: count=exact'
expect_status 200 "HEAD works for anonymous"
req GET '/events?select=id'
expect_error 401 42501 "anonymous may not read tenant events"
req POST '/rpc/token_status' - '{"jti":"x"}'
expect_error 401 42501 "anonymous may not call service functions"
req GET '/revoked_tokens'
expect_error 404 42P01 "tables of eventsvc are not reachable over HTTP"
req GET '/revoked_tokens' "" "" -H 'Accept-Profile: eventsvc'
expect_error 406 PGRST106 "nor by asking for the eventsvc schema"
req GET '/rpc/check_request'
expect_status 404 "the pre-request function is not an RPC"

echo "# tenant isolation through the tenant views"
req GET '/events?select=slug&order=slug' USER_A
expect_status 200 "tenant A lists its events"
expect_jq '[.[].slug] == ["acme-draft","acme-jazz-postponed","acme-private-gala","acme-rock-night"]' \
    "tenant A sees all its own (non-deleted) events, drafts and private ones included, and nothing of B"
req GET '/events?select=slug&order=slug' USER_B
expect_jq '[.[].slug] == ["globex-opera"]' "tenant B sees only B"
req GET '/events?id=eq.aaaaaaaa-0000-4000-8000-0000000000e1&select=id' USER_B
expect_jq 'length == 0' "tenant B sees nothing of A's event by id"
req PATCH '/events?id=eq.aaaaaaaa-0000-4000-8000-0000000000e1' USER_B '{"name":"hijacked"}'
expect_error 403 42501 "tenant B cannot write A's event through the view"
[ "$(sql "SELECT name FROM eventsvc.events WHERE id = 'aaaaaaaa-0000-4000-8000-0000000000e1'")" = "Acme Rock Night" ] \
    && _ok "A's event is unchanged" || _fail "A's event was changed"

echo "# tokens"
req GET '/public_events?select=slug' USER_A
expect_status 200 "a valid tenant token reads the catalogue"
req GET '/public_events' EXPIRED
expect_error 401 PGRST301 "an expired token"
req GET '/public_events' FORGED
expect_error 401 PGRST301 "a token signed by another key"
req GET '/public_events' GARBAGE
expect_error 401 PGRST301 "a malformed token"
req GET '/public_events' ROLE_UNKNOWN
expect_error 400 22023 "a role claim that is no database role"
req GET '/public_events' ROLE_SUPER
expect_error 403 42501 "a role claim the authenticator may not take (superuser)"
req GET '/public_events' ROLE_WORKER
expect_error 403 42501 "a role claim the authenticator may not take (worker)"
req GET '/public_events' USER_NOTENANT
expect_error 403 42501 "a tenant user token without tenant_id"
req GET '/public_events' USER_BADTENANT
expect_error 403 42501 "a malformed tenant_id"
req GET '/public_events' USER_UNKNOWNTENANT
expect_error 403 42501 "an unknown tenant"
req GET '/public_events' USER_D
expect_error 403 42501 "an inactive tenant"
expect_jq '.message | test("not active")' "the inactive tenant is named as the reason"

echo "# revocation"
req POST '/rpc/revoke_token' USER_A '{"jti":"tok-alice","expires_at":"2099-01-01T00:00:00Z"}'
expect_error 403 42501 "a tenant user may not revoke tokens"
req POST '/rpc/revoke_token' SERVICE '{"jti":"","expires_at":"2099-01-01T00:00:00Z"}'
expect_error 400 22023 "an empty jti is a validation error"
req POST '/rpc/revoke_token' SERVICE '{"jti":"tok-alice","expires_at":null}'
expect_error 400 22023 "a missing expiry is a validation error"
req GET '/rpc/revoke_token?jti=tok-alice&expires_at=2099-01-01' SERVICE
expect_error 405 25006 "a writer cannot be called with GET"
req GET '/rpc/token_status?jti=tok-alice' SERVICE
expect_jq '.revoked == false' "not revoked yet"
req POST '/rpc/revoke_token' SERVICE '{"jti":"tok-alice","expires_at":"2099-01-01T00:00:00Z"}'
expect_status 200 "the service revokes alice's token"
expect_jq '.jti == "tok-alice" and .revoked == true' "revoke returns the revocation"
req POST '/rpc/revoke_token' SERVICE '{"jti":"tok-alice","expires_at":"2098-01-01T00:00:00Z"}'
expect_jq '.expires_at | startswith("2099")' "revoking again is idempotent and keeps the later expiry"
req GET '/public_events' USER_A
expect_error 401 PT401 "the revoked token is refused"
req GET '/public_events' USER_B
expect_status 200 "other tokens still work"
req GET '/rpc/token_status?jti=tok-alice' SERVICE
expect_jq '.revoked == true' "token_status reports the revocation"
# An expired revocation no longer counts and is purged.
sql "UPDATE eventsvc.revoked_tokens SET expires_at = now() - interval '1 minute' WHERE jti = 'tok-alice'"
req GET '/public_events?select=slug' USER_A
expect_status 200 "a revocation past its expiry no longer counts"
[ "$(sql "SET ROLE eventsvc_service; SELECT eventsvc.purge_revoked_tokens()")" = 1 ] \
    && _ok "purge_revoked_tokens removes the expired revocation" || _fail "purge_revoked_tokens"
[ "$(sql "SELECT count(*) FROM eventsvc.revoked_tokens")" = 0 ] && _ok "nothing left" || _fail "revoked_tokens not empty"

echo "# the schema cache reloads on NOTIFY"
sql "CREATE FUNCTION api.http_basic_probe() RETURNS int LANGUAGE sql STABLE AS 'SELECT 42';
     GRANT EXECUTE ON FUNCTION api.http_basic_probe() TO eventsvc_anon;
     NOTIFY pgrst, 'reload schema'"
for _ in $(seq 1 50); do
    req GET '/rpc/http_basic_probe'
    [ "$STATUS" = 200 ] && break
    sleep 0.1
done
expect_jq '. == 42' "a function created after start is served after NOTIFY pgrst"
sql "DROP FUNCTION api.http_basic_probe()"

http_summary
