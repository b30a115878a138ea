-- Part 70: tokens must carry exp within eventsvc.token_max_lifetime (checked in C by the
-- pre-request function, src/core/request_check.c); revoking tokens, a platform-wide call,
-- needs the platform scope.

CREATE OR REPLACE FUNCTION api.revoke_token(jti text, expires_at timestamptz) RETURNS jsonb
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

COMMENT ON FUNCTION eventsvc.check_request() IS
    'PostgREST db-pre-request: refuses revoked tokens, tokens without exp or living longer than eventsvc.token_max_lifetime (PT401), and tokens whose tenant is missing, unknown or inactive (42501).';
