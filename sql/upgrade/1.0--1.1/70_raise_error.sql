-- The HTTP request check and token revocation raise through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION eventsvc.check_request() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    raw    text := current_setting('request.jwt.claims', true);
    claims jsonb;
BEGIN
    IF raw IS NULL OR raw = '' THEN
        RETURN;     -- a trusted SQL client, not PostgREST
    END IF;
    claims := raw::jsonb;
    IF jsonb_typeof(claims) <> 'object' THEN
        PERFORM eventsvc.raise_error('token_revoked', 'the token claims are not a JSON object',
            NULL, 'Sign in again to get a new token.');
    END IF;

    IF claims ? 'jti' AND eventsvc.token_is_revoked(claims ->> 'jti') THEN
        PERFORM eventsvc.raise_error('token_revoked', 'this token has been revoked',
            format('Token id (jti) %s was revoked by the auth service.', claims ->> 'jti'),
            'Sign in again to get a new token.');
    END IF;

    -- Tenant users and admins always act for one tenant: their token must name an
    -- existing, active one. Other roles (service) are checked when they name one.
    -- eventsvc.current_tenant_id() raises 42501 (403) with the reason.
    IF claims ? 'tenant_id' OR pg_catalog.pg_has_role(current_user, 'eventsvc_user', 'MEMBER') THEN
        PERFORM eventsvc.current_tenant_id();
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION api.revoke_token(jti text, expires_at timestamptz) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.revoked_tokens;
BEGIN
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
