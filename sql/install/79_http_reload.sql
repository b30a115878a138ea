-- Part 79: last touches of the HTTP surface, after every api object exists.

-- A view PostgreSQL cannot update automatically (joins, aggregates) answers a PATCH,
-- POST or DELETE from PostgREST with 55000, which PostgREST turns into HTTP 500.
-- An INSTEAD OF trigger makes the rewriter accept the statement, so the privilege
-- check runs first (42501: 401 without a token, 403 with one) and, for a caller
-- who does hold the privilege, the trigger refuses with a clear message. Views that
-- are automatically updatable are left alone: their grants decide.
CREATE FUNCTION eventsvc.refuse_view_write() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventsvc.raise_error('forbidden', format('%s.%s is read-only', TG_TABLE_SCHEMA, TG_TABLE_NAME),
        NULL, 'Change data through the api functions (POST /rpc/...), not through the view.');
END
$$;
REVOKE ALL ON FUNCTION eventsvc.refuse_view_write() FROM PUBLIC;

DO $views$
DECLARE
    v regclass;
BEGIN
    FOR v IN
        SELECT c.oid::regclass FROM pg_class c
         WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
           AND pg_relation_is_updatable(c.oid, false) = 0
           AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid)
         ORDER BY c.relname
    LOOP
        EXECUTE format('CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write()', v);
    END LOOP;
END
$views$;

-- Tell a running PostgREST to reload its schema cache. NOTIFY is delivered when the
-- installing transaction commits, so the cache sees every part of the install;
-- without a listener it does nothing.
NOTIFY pgrst, 'reload schema';
