-- Part 64 (1.1): the availability and customer analytics views read what the holds add
-- up to from the sections' counter rows (part 44) instead of every hold of the event;
-- the same columns. (The revenue views: 64_revenue_charged.sql.)
-- docs/discovery.md "Tickets and analytics".

-- One section's live figures from its counter rows, and its ACTIVE holds past
-- their expiry found from the sweep's read start on (src/capacity/section_figures.c);
-- with count_live also its live holds (only the customer analytics count them).
CREATE FUNCTION eventsvc.section_figures(tenant_id uuid, capacity_id uuid, count_live boolean,
    OUT sold bigint, OUT reserved bigint, OUT holds bigint, OUT holds_confirmed bigint,
    OUT holds_expired bigint, OUT holds_released bigint, OUT holds_active bigint,
    OUT customers bigint, OUT buying_customers bigint) RETURNS record
    AS 'MODULE_PATHNAME', 'evs_sql_section_figures' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.section_figures(uuid, uuid, boolean) IS
    'A section''s seats sold and reserved (live), holds by state and customers, from its counter rows, live; holds_active (the live holds, read from the holds) only with count_live; the caller''s RLS applies.';
REVOKE ALL ON FUNCTION eventsvc.section_figures(uuid, uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.section_figures(uuid, uuid, boolean) TO eventsvc_user, eventsvc_service;

CREATE OR REPLACE VIEW api.section_availability WITH (security_invoker = true) AS
SELECT c.tenant_id, c.event_id, c.schedule_id, c.id AS capacity_id, c.section_name, c.section_code, c.tier,
       c.is_active, c.total_capacity,
       f.sold,
       f.reserved,
       CASE WHEN c.is_active THEN greatest(c.total_capacity - f.sold - f.reserved, 0)
            ELSE 0 END::bigint AS available
  FROM eventsvc.event_capacity c
  CROSS JOIN LATERAL eventsvc.section_figures(c.tenant_id, c.id, false) f;

CREATE OR REPLACE VIEW api.event_customer_analytics WITH (security_invoker = true) AS
SELECT c.tenant_id, c.event_id,
       sum(f.holds)::bigint AS holds_created,
       sum(f.holds_confirmed)::bigint AS holds_confirmed,
       sum(f.holds_expired)::bigint AS holds_expired,
       sum(f.holds_released)::bigint AS holds_released,
       sum(f.holds_active)::bigint AS holds_active,
       sum(f.customers)::bigint AS customers,
       sum(f.buying_customers)::bigint AS buying_customers,
       round(sum(f.holds_confirmed)::numeric / sum(f.holds), 4) AS conversion_rate
  FROM eventsvc.event_capacity c
  CROSS JOIN LATERAL eventsvc.section_figures(c.tenant_id, c.id, true) f
 GROUP BY c.tenant_id, c.event_id
HAVING sum(f.holds) > 0;
