-- Series (docs/series.md): a section shows the date it sells and its template.
CREATE OR REPLACE VIEW api.event_sections WITH (security_invoker = true) AS
SELECT c.id, c.event_id, c.schedule_id, c.section_name, c.section_code, c.tier, c.total_capacity,
       c.available_capacity, c.reserved_capacity, c.sold_count, c.pending_count, c.minimum_purchase,
       c.maximum_purchase, c.row_config, c.is_active, c.version, c.created_at, c.updated_at,
       c.occurrence_id, c.template_id
  FROM eventsvc.event_capacity c
  JOIN eventsvc.events e ON e.tenant_id = c.tenant_id AND e.id = c.event_id
 WHERE e.deleted_at IS NULL;
