-- Part 70: the HTTP surface's authentication checks, run by PostgREST before every
-- request (db-pre-request = "eventsvc.check_request"): revoked tokens by jti, and the
-- tenant of tenant-scoped tokens. See docs/postgrest.md.

-- Revoked tokens, keyed by jti alone: the auth service issues tokens for the whole
-- platform and a jti is unique across tenants, so a revocation is global. A row is
-- kept until the token would have expired anyway; after that the signature check
-- refuses the token and the row is only clutter (eventsvc.purge_revoked_tokens()).
-- No API role has any right on this table: it is read and written only through the
-- SECURITY DEFINER functions below. RLS is forced with no policy as a second lock.
CREATE TABLE eventsvc.revoked_tokens (
    jti         text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 255),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    revoked_by  text
);
CREATE INDEX idx_revoked_tokens_expires ON eventsvc.revoked_tokens (expires_at);
ALTER TABLE eventsvc.revoked_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.revoked_tokens FORCE ROW LEVEL SECURITY;
COMMENT ON TABLE eventsvc.revoked_tokens IS
    'JWT ids revoked by the auth service (api.revoke_token); refused by eventsvc.check_request until expires_at.';

-- PostgREST's db-pre-request: runs as the role of the token (or eventsvc_anon),
-- after request.jwt.claims is set and before the query: a token without exp or living
-- longer than eventsvc.token_max_lifetime is refused (PT401), so is a revoked jti
-- (PT401), and a token naming a tenant, or any tenant user's token, must name an
-- existing, active one (42501). In C (src/core/request_check.c): it runs on every
-- request, reads the claims parsed once per claims text and probes the tables'
-- indexes without SPI. Invoker rights on purpose: the tenant rule depends on the
-- caller's role.
CREATE FUNCTION eventsvc.check_request() RETURNS void
    AS 'MODULE_PATHNAME', 'evs_sql_check_request' LANGUAGE C STABLE;
COMMENT ON FUNCTION eventsvc.check_request() IS
    'PostgREST db-pre-request: refuses revoked tokens, tokens without exp or living longer than eventsvc.token_max_lifetime (PT401), tokens whose tenant is missing, unknown or inactive (42501), and requests over their rate limit (HTTP 429, code PT429, raised as PGRST).';

-- The scope of a service token: the tenant it names (its calls reach that tenant's
-- events only), or NULL for a platform-wide call, which needs the explicit claim
-- "scope": "platform" (a trusted SQL client: app.scope = 'platform'); a service token
-- with neither is refused (42501), as is every other role. The internal lookups (part
-- 65) and token revocation below ask it. docs/tenancy.md "Trust model".
CREATE FUNCTION eventsvc.service_scope(action text) RETURNS uuid
    AS 'MODULE_PATHNAME', 'evs_sql_service_scope' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION eventsvc.service_scope(text) IS
    'Service role only (42501): the tenant a service call is scoped to, or NULL for a platform-wide call with the explicit platform scope (docs/tenancy.md).';

-- The auth service revokes a token (logout, password change, compromise). Service
-- role with the platform scope only. Idempotent: revoking again keeps the later expiry.
CREATE FUNCTION api.revoke_token(jti text, expires_at timestamptz) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.revoked_tokens;
BEGIN
    -- a revocation holds for every tenant: a platform-wide call
    IF eventsvc.service_scope('revoke tokens') IS NOT NULL THEN
        PERFORM eventsvc.raise_error('forbidden', 'revoking tokens needs the platform scope',
            'A revocation holds for every tenant (a jti is unique across the platform); a service token that names a tenant cannot make one.',
            'Use the auth service''s token, with "scope": "platform".');
    END IF;
    IF jti IS NULL OR length(jti) NOT BETWEEN 1 AND 255 THEN
        PERFORM eventsvc.raise_error('validation', 'jti must be a token id of 1 to 255 characters',
            format('Got %s.', coalesce(quote_literal(left(jti, 40)), 'null')), 'Pass the jti claim of the token to revoke.');
    END IF;
    IF expires_at IS NULL THEN
        PERFORM eventsvc.raise_error('validation', 'expires_at is required',
            NULL, 'Pass the exp claim of the token as a timestamp, e.g. "2030-01-01T00:00:00Z".');
    END IF;
    INSERT INTO eventsvc.revoked_tokens AS r (jti, expires_at, revoked_by)
    VALUES (revoke_token.jti, revoke_token.expires_at, eventsvc.current_actor())
    ON CONFLICT ON CONSTRAINT revoked_tokens_pkey
        DO UPDATE SET expires_at = greatest(r.expires_at, excluded.expires_at)
    RETURNING * INTO rec;
    RETURN jsonb_build_object('jti', rec.jti, 'revoked', true, 'expires_at', rec.expires_at,
                              'revoked_at', rec.revoked_at);
END
$$;
COMMENT ON FUNCTION api.revoke_token(text, timestamptz) IS
    'Service role: revoke a token by jti until expires_at (POST /rpc/revoke_token).';

-- The original's GET /internal/token-status/{jti}: service role only.
CREATE FUNCTION api.token_status(jti text) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('jti', token_status.jti,
                              'revoked', r.jti IS NOT NULL AND r.expires_at > eventsvc.now(),
                              'expires_at', r.expires_at)
      FROM (SELECT 1) AS one
      LEFT JOIN eventsvc.revoked_tokens r ON r.jti = token_status.jti
$$;
COMMENT ON FUNCTION api.token_status(text) IS
    'Service role: is this jti revoked? (GET /rpc/token_status?jti=...)';

-- Rows whose token has expired anyway; run it from pg_cron or the service.
CREATE FUNCTION eventsvc.purge_revoked_tokens() RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (DELETE FROM eventsvc.revoked_tokens WHERE expires_at <= eventsvc.now() RETURNING 1)
    SELECT count(*)::integer FROM gone
$$;

-- PostgREST runs the pre-request for anonymous requests too, as eventsvc_anon:
-- it needs the schema (only to resolve the function; anon has no table rights).
GRANT USAGE ON SCHEMA eventsvc TO eventsvc_anon;
REVOKE ALL ON FUNCTION eventsvc.check_request(), eventsvc.service_scope(text),
                       api.revoke_token(text, timestamptz), api.token_status(text),
                       eventsvc.purge_revoked_tokens() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.check_request(), eventsvc.service_scope(text)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION api.revoke_token(text, timestamptz), api.token_status(text)
    TO eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.purge_revoked_tokens() TO eventsvc_service, eventsvc_worker;
