-- Part 41: event-wide capacity thresholds (docs/capacity.md "Thresholds").
-- One row per event with sections: the highest line (80 or 95 % of the event's
-- seats) whose crossing has been reported and not undone since, written only by
-- the reservation path (src/capacity/thresholds.c) under the event's threshold lock, in
-- the same transaction as the outbox message it stands for, so a rolled-back
-- reservation takes its message and its state change with it.
-- sections_version moves whenever the event's set of active sections or their
-- seats change (trigger below): the reservation path keeps the section list per
-- session and re-reads it only when this number moved.
CREATE TABLE eventsvc.event_capacity_thresholds (
    tenant_id        uuid NOT NULL,
    event_id         uuid NOT NULL,
    level            smallint NOT NULL DEFAULT 0 CHECK (level IN (0, 80, 95)),
    changes          bigint NOT NULL DEFAULT 0 CHECK (changes >= 0),
    sections_version bigint NOT NULL DEFAULT 0 CHECK (sections_version >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE eventsvc.event_capacity_thresholds IS
    'Event-wide threshold state: level = highest of 80/95 % reported for the current crossing; changes counts its writes; sections_version counts changes of the event''s sections.';
-- Tenant data like every other table: RLS forced; no API role has a policy or a
-- grant, only eventsvc's SECURITY DEFINER functions touch it.
ALTER TABLE eventsvc.event_capacity_thresholds ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_capacity_thresholds FORCE ROW LEVEL SECURITY;

-- A section added, removed, resized, (de)activated or moved: its event's (events')
-- section list changed. A deleted section only bumps an existing row: when the
-- whole event is being deleted, its row is already gone and must not come back.
CREATE FUNCTION eventsvc.event_sections_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.event_id IS DISTINCT FROM NEW.event_id) THEN
        UPDATE eventsvc.event_capacity_thresholds t SET sections_version = t.sections_version + 1
         WHERE t.tenant_id = OLD.tenant_id AND t.event_id = OLD.event_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO eventsvc.event_capacity_thresholds AS t (tenant_id, event_id, sections_version)
        VALUES (NEW.tenant_id, NEW.event_id, 1)
        ON CONFLICT (tenant_id, event_id) DO UPDATE SET sections_version = t.sections_version + 1;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION eventsvc.event_sections_changed() FROM PUBLIC;
CREATE TRIGGER event_capacity_sections_changed AFTER INSERT OR DELETE ON eventsvc.event_capacity
    FOR EACH ROW EXECUTE FUNCTION eventsvc.event_sections_changed();
CREATE TRIGGER event_capacity_sections_updated AFTER UPDATE OF total_capacity, is_active, event_id
    ON eventsvc.event_capacity FOR EACH ROW
    WHEN (OLD.total_capacity IS DISTINCT FROM NEW.total_capacity OR OLD.is_active IS DISTINCT FROM NEW.is_active
          OR OLD.event_id IS DISTINCT FROM NEW.event_id)
    EXECUTE FUNCTION eventsvc.event_sections_changed();
