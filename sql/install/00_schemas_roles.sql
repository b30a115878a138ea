-- eventsvc install script, part 00: schemas and cluster-wide roles.
-- Fragments in sql/install/ are concatenated in name order into eventsvc--<default_version>.sql.
-- Ranges: 00-29 foundation, 30-39 lifecycle, 40-49 capacity and pricing,
-- 50-59 worker and outbox, 60-69 schedules, discovery and content,
-- 70-79 HTTP surface, 90-99 final grants and checks.

\echo Use "CREATE EXTENSION eventsvc CASCADE" to load this file. \quit

-- Both schemas are created here, never reused: a schema that already exists
-- (possibly created by someone else) makes CREATE EXTENSION fail.
CREATE SCHEMA eventsvc;
CREATE SCHEMA api;
REVOKE ALL ON SCHEMA eventsvc, api FROM PUBLIC;
COMMENT ON SCHEMA eventsvc IS 'eventsvc tables and internal functions (not exposed over HTTP)';
COMMENT ON SCHEMA api IS 'eventsvc public surface: views and RPC functions served by PostgREST';

-- The one way the SQL of eventsvc raises an error: kind names an entry of the error
-- catalogue (the name in src/core/errors.h without EVS_ERR_, in lower case; docs/errors.md),
-- which gives the SQLSTATE; a NULL detail or hint is left out. No other SQL of the
-- extension raises an error itself (test/integration/catalogue.sh checks both).
CREATE FUNCTION eventsvc.raise_error(kind text, message text, detail text DEFAULT NULL, hint text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    code text := CASE kind
        WHEN 'validation' THEN '22023'
        WHEN 'overflow' THEN '22003'
        WHEN 'invariant' THEN '23514'
        WHEN 'forbidden' THEN '42501'
        WHEN 'token_revoked' THEN 'PT401'
        WHEN 'token_rejected' THEN 'PT401'
        WHEN 'not_found' THEN 'PT404'
        WHEN 'conflict' THEN 'PT409'
        WHEN 'illegal_transition' THEN 'PT409'
        WHEN 'sold_out' THEN 'PT409'
        WHEN 'gone' THEN 'PT410'
        WHEN 'too_large' THEN 'PT413'
        WHEN 'misdirected' THEN 'PT421'
        WHEN 'idempotency_mismatch' THEN 'PT422'
        WHEN 'confirmation_required' THEN 'PT428'
        WHEN 'quota_exceeded' THEN 'PT429'
        WHEN 'unavailable' THEN 'PT503'
        WHEN 'internal' THEN 'XX000'
    END;
    msg text := coalesce(message, kind || ' error');
BEGIN
    IF code IS NULL THEN
        PERFORM eventsvc.raise_error('validation',
            format('error kind %s is not in the error catalogue', coalesce(quote_literal(kind), 'null')),
            NULL, 'The kinds are the names in docs/errors.md without EVS_ERR_, in lower case.');
    END IF;
    -- (a RAISE option may not be NULL)
    IF detail IS NULL AND hint IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code;
    ELSIF hint IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, DETAIL = detail;
    ELSIF detail IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, HINT = hint;
    ELSE
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, DETAIL = detail, HINT = hint;
    END IF;
END
$$;
COMMENT ON FUNCTION eventsvc.raise_error(text, text, text, text) IS
    'Raises message with the SQLSTATE of catalogue entry kind (docs/errors.md), with detail and hint when not NULL.';

-- Roles are cluster-wide and outlive the extension. They are created on first
-- install and reused by later installs (a second database), but only when an
-- existing role carries none of the powers that would let it escape RLS.
-- See docs/tenancy.md "Roles".
DO $roles$
DECLARE
    spec record;
    r    pg_roles%ROWTYPE;
BEGIN
    FOR spec IN
        SELECT * FROM (VALUES
            ('eventsvc_anon',          false, true),
            ('eventsvc_user',          false, true),
            ('eventsvc_admin',         false, true),
            ('eventsvc_service',       false, true),
            ('eventsvc_worker',        true,  true),
            ('eventsvc_authenticator', true,  false)
        ) AS t(name, login, inherit)
    LOOP
        SELECT * INTO r FROM pg_roles WHERE rolname = spec.name;
        IF NOT FOUND THEN
            EXECUTE format('CREATE ROLE %I %s %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
                           spec.name,
                           CASE WHEN spec.login THEN 'LOGIN' ELSE 'NOLOGIN' END,
                           CASE WHEN spec.inherit THEN 'INHERIT' ELSE 'NOINHERIT' END);
        ELSIF r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication THEN
            PERFORM eventsvc.raise_error('forbidden',
                format('role "%s" already exists with powers eventsvc does not give it', spec.name),
                'eventsvc roles must be NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION.',
                'Drop the role or remove those attributes, then run CREATE EXTENSION again.');
        END IF;
    END LOOP;
END
$roles$;

-- A tenant admin can do everything a tenant user can, plus the admin overrides.
GRANT eventsvc_user TO eventsvc_admin;
-- PostgREST logs in as the authenticator and switches to the role in the JWT.
GRANT eventsvc_anon, eventsvc_user, eventsvc_admin, eventsvc_service TO eventsvc_authenticator;

GRANT USAGE ON SCHEMA api TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT USAGE ON SCHEMA eventsvc TO eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION eventsvc.raise_error(text, text, text, text)
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
