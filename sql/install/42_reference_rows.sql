-- Part 42: the reference generation (docs/capacity.md "Reference rows").
-- The hold path keeps, per backend, copies of the rows it reads on every
-- reservation (the tenant, the section, its event's status, the tier and its
-- currency) and uses them while the shared reference generation stays the
-- same (src/core/refcache.c). Every statement that changes those rows raises it
-- here; the changing transaction raises it again when it ends. The column
-- lists name every column of events and event_capacity the hold path reads
-- (src/capacity/reserve.c section_load): derived counters and descriptions do not
-- drop the copies. ENABLE ALWAYS: a session in replica mode raises it too.
CREATE FUNCTION eventsvc.reference_rows_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_refcache_trigger' LANGUAGE C;
CREATE FUNCTION eventsvc.reference_generation() RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_reference_generation' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.reference_generation() IS
    'Raised by every change to tenants, events (status, deletion, start), sections (seats, limits, activity), tiers and currencies; backends reload their copies of those rows when it moves. NULL without shared_preload_libraries (nothing is kept then).';

CREATE TRIGGER tenants_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON eventsvc.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER events_reference AFTER INSERT OR DELETE OR TRUNCATE ON eventsvc.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER events_reference_update AFTER UPDATE OF tenant_id, id, status, deleted_at, starts_at ON eventsvc.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER event_capacity_reference AFTER INSERT OR DELETE OR TRUNCATE ON eventsvc.event_capacity
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER event_capacity_reference_update
    AFTER UPDATE OF tenant_id, id, event_id, total_capacity, minimum_purchase, maximum_purchase, is_active
    ON eventsvc.event_capacity FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER event_pricing_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON eventsvc.event_pricing
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER currencies_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON eventsvc.currencies
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
ALTER TABLE eventsvc.tenants ENABLE ALWAYS TRIGGER tenants_reference;
ALTER TABLE eventsvc.events ENABLE ALWAYS TRIGGER events_reference;
ALTER TABLE eventsvc.events ENABLE ALWAYS TRIGGER events_reference_update;
ALTER TABLE eventsvc.event_capacity ENABLE ALWAYS TRIGGER event_capacity_reference;
ALTER TABLE eventsvc.event_capacity ENABLE ALWAYS TRIGGER event_capacity_reference_update;
ALTER TABLE eventsvc.event_pricing ENABLE ALWAYS TRIGGER event_pricing_reference;
ALTER TABLE eventsvc.currencies ENABLE ALWAYS TRIGGER currencies_reference;
GRANT EXECUTE ON FUNCTION eventsvc.reference_generation() TO eventsvc_admin, eventsvc_service, eventsvc_worker;
