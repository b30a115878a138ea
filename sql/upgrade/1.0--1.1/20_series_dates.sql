-- Series: dates sold separately (docs/series.md). The occurrences table, and the
-- date sections' two columns at the end of event_capacity; a section's name is
-- unique per event and date.
-- One date of a recurring schedule on sale with seats of its own (docs/series.md):
-- its date sections are event_capacity rows with occurrence_id. original_starts_at is
-- the rule's date, which a move keeps (one row per date of the rule).
CREATE TABLE eventsvc.event_occurrences (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id           uuid NOT NULL,
    schedule_id        uuid NOT NULL,
    original_starts_at timestamptz NOT NULL,
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL,
    status             text NOT NULL DEFAULT 'ON_SALE'
                       CHECK (status IN ('ON_SALE', 'SOLD_OUT', 'CLOSED', 'CANCELLED')),
    status_reason      text CHECK (length(status_reason) <= 1000),
    version            integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, schedule_id) REFERENCES eventsvc.event_schedules (tenant_id, id),
    CONSTRAINT event_occurrences_date_key UNIQUE (tenant_id, schedule_id, original_starts_at),
    CHECK (ends_at > starts_at)
);
CREATE INDEX idx_event_occurrences_event ON eventsvc.event_occurrences (tenant_id, event_id, starts_at);

ALTER TABLE eventsvc.event_occurrences ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_occurrences FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.event_occurrences TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));

ALTER TABLE eventsvc.event_capacity
    ADD COLUMN occurrence_id uuid,
    ADD COLUMN template_id uuid,
    ADD CONSTRAINT event_capacity_occurrence_fkey FOREIGN KEY (tenant_id, occurrence_id)
        REFERENCES eventsvc.event_occurrences (tenant_id, id),
    DROP CONSTRAINT event_capacity_section_key,
    ADD CONSTRAINT event_capacity_section_key UNIQUE NULLS NOT DISTINCT (tenant_id, event_id, section_name, occurrence_id),
    ADD CONSTRAINT event_capacity_date_section CHECK ((occurrence_id IS NULL) = (template_id IS NULL));
