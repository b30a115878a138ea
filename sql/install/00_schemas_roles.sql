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
            RAISE EXCEPTION 'role "%" already exists with powers eventsvc does not give it', spec.name
                USING ERRCODE = '42501',
                      DETAIL = 'eventsvc roles must be NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION.',
                      HINT = 'Drop the role or remove those attributes, then run CREATE EXTENSION again.';
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
