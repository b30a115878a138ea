-- Series (docs/series.md): availability shows the date a section sells.
CREATE OR REPLACE VIEW api.section_availability WITH (security_invoker = true) AS
SELECT c.tenant_id, c.event_id, c.schedule_id, c.id AS capacity_id, c.section_name, c.section_code, c.tier,
       c.is_active, c.total_capacity,
       f.sold,
       f.reserved,
       CASE WHEN c.is_active THEN greatest(c.total_capacity - f.sold - f.reserved, 0)
            ELSE 0 END::bigint AS available,
       c.occurrence_id
  FROM eventsvc.event_capacity c
  CROSS JOIN LATERAL eventsvc.section_figures(c.tenant_id, c.id, false) f;

-- An event's availability counts its series' dates, not their templates.
CREATE OR REPLACE VIEW api.event_availability WITH (security_invoker = true) AS
SELECT s.tenant_id, s.event_id,
       count(*) AS sections,
       sum(s.total_capacity)::bigint AS total_capacity,
       sum(s.sold)::bigint AS sold,
       sum(s.reserved)::bigint AS reserved,
       sum(s.available)::bigint AS available
  FROM api.section_availability s
 -- the template sections of a recurring schedule sell nothing: their dates' sections count (docs/series.md)
 WHERE s.occurrence_id IS NOT NULL
    OR NOT EXISTS (SELECT 1 FROM eventsvc.event_schedules sc
                    WHERE sc.tenant_id = s.tenant_id AND sc.id = s.schedule_id AND sc.is_recurring)
 GROUP BY s.tenant_id, s.event_id;
COMMENT ON VIEW api.event_availability IS 'Per event: the section figures summed, a series'' dates included and their templates left out (GET /event_availability?event_id=eq.<id>).';

-- Part 64 (series): availability per date of a series (docs/series.md), from the
-- section figures of part 64.
-- Per date: its date sections' figures summed, live.
CREATE VIEW api.occurrence_availability WITH (security_invoker = true) AS
SELECT o.id AS occurrence_id, o.event_id, o.schedule_id, o.starts_at, o.status,
       count(a.capacity_id) FILTER (WHERE a.is_active) AS sections,
       coalesce(sum(a.total_capacity) FILTER (WHERE a.is_active), 0)::bigint AS total_capacity,
       coalesce(sum(a.sold), 0)::bigint AS sold,
       coalesce(sum(a.reserved), 0)::bigint AS reserved,
       CASE WHEN o.status IN ('ON_SALE', 'SOLD_OUT') THEN coalesce(sum(a.available), 0) ELSE 0 END::bigint AS available
  FROM api.occurrences o
  LEFT JOIN api.section_availability a ON a.occurrence_id = o.id
 GROUP BY o.id, o.event_id, o.schedule_id, o.starts_at, o.status;
COMMENT ON VIEW api.occurrence_availability IS
    'Per date of a series: active sections, total, sold, reserved and available seats (0 when closed or cancelled), live (GET /occurrence_availability?event_id=eq.<id>).';
GRANT SELECT ON api.occurrence_availability TO eventsvc_user, eventsvc_service;
