-- The views of part 72 (72_http_embedding.sql, the install part itself) cannot be
-- updated automatically: a fresh install gives them the read-only guard in part 79,
-- an update here.
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.event_content_locales
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.event_faqs
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
