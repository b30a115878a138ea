-- The waitlist views (part 46) join other tables, and api.holds, api.hold_refunds and
-- api.postponement_decisions read a buyer's rows and everybody's in two branches (parts
-- 44, 45, 49), so PostgreSQL cannot update them: like every such api view they refuse a
-- write with a clear 42501 instead of PostgREST's 500 (part 79 of a fresh install does
-- this for every api view; an update adds its own).
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.waitlist_entries
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.waitlist_sections
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.holds
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.hold_refunds
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.postponement_decisions
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
