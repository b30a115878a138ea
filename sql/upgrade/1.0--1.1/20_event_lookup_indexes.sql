-- events: the stored search vector and its index go (it was a second copy of the
-- words of eventsvc.event_search_documents, part 61, and no query used its
-- index); idx_events_tenant_id goes (the primary key starts with tenant_id); a
-- tenant's events by date get id as the keyset tie-break; lookups by id alone
-- get an index.
ALTER TABLE eventsvc.events DROP COLUMN search_vector;
DROP INDEX eventsvc.idx_events_tenant_id;
DROP INDEX eventsvc.idx_events_starts_at;
CREATE INDEX idx_events_starts_at ON eventsvc.events (tenant_id, starts_at, id);
CREATE INDEX idx_events_id ON eventsvc.events (id);
