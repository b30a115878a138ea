-- The hold path stops selling when the event starts: its copy of the event row
-- (src/capacity/reserve.c section_load) now holds starts_at, so a change of the
-- start raises the reference generation too.
DROP TRIGGER events_reference_update ON eventsvc.events;
CREATE TRIGGER events_reference_update AFTER UPDATE OF tenant_id, id, status, deleted_at, starts_at ON eventsvc.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
ALTER TABLE eventsvc.events ENABLE ALWAYS TRIGGER events_reference_update;
COMMENT ON FUNCTION eventsvc.reference_generation() IS
    'Raised by every change to tenants, events (status, deletion, start), sections (seats, limits, activity), tiers and currencies; backends reload their copies of those rows when it moves. NULL without shared_preload_libraries (nothing is kept then).';
