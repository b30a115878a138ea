-- The views of series dates (part 45) join other tables, so PostgreSQL cannot update
-- them: like every such api view they refuse a write with a clear 42501 (part 79 of a
-- fresh install does this for every api view; an update adds its own).
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.occurrences
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.occurrence_availability
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
