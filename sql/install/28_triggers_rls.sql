-- Part 28: triggers and row-level security on every tenant table.

CREATE TRIGGER events_version BEFORE UPDATE ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.version_trigger();
CREATE TRIGGER event_schedules_version BEFORE UPDATE ON eventsvc.event_schedules
    FOR EACH ROW EXECUTE FUNCTION eventsvc.version_trigger();
CREATE TRIGGER event_capacity_version BEFORE UPDATE ON eventsvc.event_capacity
    FOR EACH ROW EXECUTE FUNCTION eventsvc.version_trigger();
CREATE TRIGGER event_pricing_version BEFORE UPDATE ON eventsvc.event_pricing
    FOR EACH ROW EXECUTE FUNCTION eventsvc.version_trigger();
CREATE TRIGGER events_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.audit_trigger();

-- The list of tenant tables lives here once; tests read it back from the catalog.
CREATE FUNCTION eventsvc.tenant_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.oid::regclass
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
     WHERE c.relnamespace = 'eventsvc'::regnamespace AND c.relkind = 'r'
    UNION ALL SELECT 'eventsvc.tenants'::regclass
$$;

-- Every tenant table: RLS enabled and forced; one policy, keyed on the caller's tenant.
-- current_tenant_id() raises when no valid tenant is set, so a missing tenant is an
-- error, never an empty filter. The worker has no policy: it reaches rows only
-- through eventsvc's SECURITY DEFINER functions.
DO $rls$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT * FROM eventsvc.tenant_tables() LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        IF t = 'eventsvc.tenants'::regclass THEN
            EXECUTE format('CREATE POLICY tenant_isolation ON %s TO eventsvc_user, eventsvc_service '
                           'USING (id = (SELECT eventsvc.current_tenant_id()))', t);
        ELSE
            EXECUTE format('CREATE POLICY tenant_isolation ON %s TO eventsvc_user, eventsvc_service '
                           'USING (tenant_id = (SELECT eventsvc.current_tenant_id())) '
                           'WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()))', t);
        END IF;
    END LOOP;
END
$rls$;
