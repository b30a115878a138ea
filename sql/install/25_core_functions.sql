-- Part 25: the foundation's C functions: clock, tenancy, triggers, outbox writer.

CREATE FUNCTION eventsvc.now() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'evs_sql_now' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.now() IS
    'The clock of every date rule and hold expiry: transaction start plus eventsvc.clock_offset_seconds (superuser-only).';

CREATE FUNCTION eventsvc.current_tenant_id() RETURNS uuid
    AS 'MODULE_PATHNAME', 'evs_sql_current_tenant_id' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION eventsvc.current_tenant_id() IS
    'The caller''s tenant: JWT claim tenant_id, else app.current_tenant_id; errors (42501) when none, malformed, unknown or inactive.';

CREATE FUNCTION eventsvc.current_actor() RETURNS text
    AS 'MODULE_PATHNAME', 'evs_sql_current_actor' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION eventsvc.current_actor() IS
    'Who is acting: JWT claim sub, else app.current_user_id, else the current role name.';

CREATE FUNCTION eventsvc.is_tenant_admin() RETURNS boolean
    AS 'MODULE_PATHNAME', 'evs_sql_is_tenant_admin' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION eventsvc.version_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_version_trigger' LANGUAGE C;

CREATE FUNCTION eventsvc.audit_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_audit_trigger' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Appends one message to the outbox in the caller's transaction (docs/outbox.md).
CREATE FUNCTION eventsvc.outbox_emit(p_tenant_id uuid, p_aggregate_id uuid, p_exchange text,
                                     p_routing_key text, p_data jsonb) RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_outbox_emit' LANGUAGE C VOLATILE PARALLEL UNSAFE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Platform operators (superusers) create tenants; eventsvc only reads them.
CREATE FUNCTION eventsvc.create_tenant(p_name text, p_slug text, p_id uuid DEFAULT gen_random_uuid())
RETURNS uuid LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO eventsvc.tenants (id, name, slug) VALUES (p_id, p_name, p_slug) RETURNING id
$$;
