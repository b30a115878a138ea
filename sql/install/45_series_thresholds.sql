-- Part 45 (series thresholds): the 80 / 95 % lines of one date of a series, its
-- sections together (docs/series.md, docs/capacity.md "Thresholds"). One row per date
-- with sections, kept exactly as the event's row of part 41: the highest line reported
-- for the current crossing, written only by the reservation path
-- (src/capacity/thresholds.c) under the date's threshold lock, in the transaction of
-- the message it stands for; sections_version moves whenever the date's active
-- sections or their seats change (trigger below), so the reservation path keeps the
-- date's section list per session and re-reads it only when this number moved.
CREATE TABLE eventsvc.occurrence_capacity_thresholds (
    tenant_id        uuid NOT NULL,
    occurrence_id    uuid NOT NULL,
    level            smallint NOT NULL DEFAULT 0 CHECK (level IN (0, 80, 95)),
    changes          bigint NOT NULL DEFAULT 0 CHECK (changes >= 0),
    sections_version bigint NOT NULL DEFAULT 0 CHECK (sections_version >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, occurrence_id),
    FOREIGN KEY (tenant_id, occurrence_id) REFERENCES eventsvc.event_occurrences (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE eventsvc.occurrence_capacity_thresholds IS
    'Threshold state of one date of a series: level = highest of 80/95 % reported for the current crossing; changes counts its writes; sections_version counts changes of the date''s sections.';
-- Tenant data: RLS forced; no API role has a policy or a grant, only eventsvc's
-- SECURITY DEFINER functions touch it.
ALTER TABLE eventsvc.occurrence_capacity_thresholds ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.occurrence_capacity_thresholds FORCE ROW LEVEL SECURITY;
REVOKE ALL ON eventsvc.occurrence_capacity_thresholds FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('eventsvc.occurrence_capacity_thresholds', '');

-- A date section added, removed, resized or (de)activated: its date's section list changed.
-- A deleted section only bumps an existing row (a date being deleted has none left).
CREATE FUNCTION eventsvc.occurrence_sections_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE eventsvc.occurrence_capacity_thresholds t SET sections_version = t.sections_version + 1
         WHERE t.tenant_id = OLD.tenant_id AND t.occurrence_id = OLD.occurrence_id;
    ELSE
        INSERT INTO eventsvc.occurrence_capacity_thresholds AS t (tenant_id, occurrence_id, sections_version)
        VALUES (NEW.tenant_id, NEW.occurrence_id, 1)
        ON CONFLICT (tenant_id, occurrence_id) DO UPDATE SET sections_version = t.sections_version + 1;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION eventsvc.occurrence_sections_changed() FROM PUBLIC;
CREATE TRIGGER occurrence_capacity_sections_added AFTER INSERT ON eventsvc.event_capacity
    FOR EACH ROW WHEN (NEW.occurrence_id IS NOT NULL) EXECUTE FUNCTION eventsvc.occurrence_sections_changed();
CREATE TRIGGER occurrence_capacity_sections_removed AFTER DELETE ON eventsvc.event_capacity
    FOR EACH ROW WHEN (OLD.occurrence_id IS NOT NULL) EXECUTE FUNCTION eventsvc.occurrence_sections_changed();
CREATE TRIGGER occurrence_capacity_sections_updated AFTER UPDATE OF total_capacity, is_active
    ON eventsvc.event_capacity FOR EACH ROW
    WHEN (NEW.occurrence_id IS NOT NULL AND (OLD.total_capacity IS DISTINCT FROM NEW.total_capacity
          OR OLD.is_active IS DISTINCT FROM NEW.is_active))
    EXECUTE FUNCTION eventsvc.occurrence_sections_changed();
