-- Part 64: tickets and analytics reads for dashboards: seats sold, reserved and
-- available per section and per event, revenue from confirmed holds, and simple
-- customer analytics. security_invoker views: RLS keeps each tenant to its rows.
--
-- The hold rows are the source of truth (BRIEF decision 3): sold = seats of
-- CONFIRMED holds, reserved = seats of ACTIVE holds not yet expired by
-- eventsvc.now() (an expired hold the sweeper has not reached yet is already
-- free), available = total - sold - reserved. Reading the holds instead of the
-- section counters makes the figures exact whatever the reservation path keeps
-- in shared memory or stripes. See docs/discovery.md "Tickets and analytics".

CREATE VIEW api.section_availability WITH (security_invoker = true) AS
SELECT c.tenant_id, c.event_id, c.schedule_id, c.id AS capacity_id, c.section_name, c.section_code, c.tier,
       c.is_active, c.total_capacity,
       coalesce(h.sold, 0)::bigint AS sold,
       coalesce(h.reserved, 0)::bigint AS reserved,
       CASE WHEN c.is_active THEN greatest(c.total_capacity - coalesce(h.sold, 0) - coalesce(h.reserved, 0), 0)
            ELSE 0 END::bigint AS available
  FROM eventsvc.event_capacity c
  LEFT JOIN LATERAL (
        SELECT sum(x.quantity) FILTER (WHERE x.state = 'CONFIRMED') AS sold,
               sum(x.quantity) FILTER (WHERE x.state = 'ACTIVE' AND x.expires_at > eventsvc.now()) AS reserved
          FROM eventsvc.capacity_holds x
         WHERE x.tenant_id = c.tenant_id AND x.capacity_id = c.id
           AND x.state IN ('CONFIRMED', 'ACTIVE')) h ON true;
COMMENT ON VIEW api.section_availability IS
    'Per section: total, sold (confirmed holds), reserved (live holds), available; live and exact (GET /section_availability?event_id=eq.<id>).';

CREATE VIEW api.event_availability WITH (security_invoker = true) AS
SELECT s.tenant_id, s.event_id,
       count(*) AS sections,
       sum(s.total_capacity)::bigint AS total_capacity,
       sum(s.sold)::bigint AS sold,
       sum(s.reserved)::bigint AS reserved,
       sum(s.available)::bigint AS available
  FROM api.section_availability s
 GROUP BY s.tenant_id, s.event_id;
COMMENT ON VIEW api.event_availability IS 'Per event: the section figures summed (GET /event_availability?event_id=eq.<id>).';

-- Revenue in minor units per event and currency, from the locked unit price of
-- each confirmed hold. int8 arithmetic: an overflow is an error (22003), never a wrap.
CREATE VIEW api.event_revenue WITH (security_invoker = true) AS
SELECT h.tenant_id, h.event_id, h.currency,
       sum(h.quantity)::bigint AS tickets_sold,
       sum(h.quantity::bigint * h.unit_price)::bigint AS revenue_minor,
       count(*) AS confirmed_holds
  FROM eventsvc.capacity_holds h
 WHERE h.state = 'CONFIRMED' AND h.unit_price IS NOT NULL
 GROUP BY h.tenant_id, h.event_id, h.currency;
COMMENT ON VIEW api.event_revenue IS
    'Per event and currency: tickets sold and revenue in minor units from confirmed holds (GET /event_revenue?event_id=eq.<id>).';

-- Holds are the customer journey of the original's analytics: created, confirmed
-- (bought), expired (abandoned), released (given back). conversion_rate is
-- confirmed / created as an exact numeric with 4 decimals, NULL before any hold.
CREATE VIEW api.event_customer_analytics WITH (security_invoker = true) AS
SELECT h.tenant_id, h.event_id,
       count(*) AS holds_created,
       count(*) FILTER (WHERE h.state = 'CONFIRMED') AS holds_confirmed,
       count(*) FILTER (WHERE h.state = 'EXPIRED'
                           OR h.state = 'ACTIVE' AND h.expires_at <= eventsvc.now()) AS holds_expired,
       count(*) FILTER (WHERE h.state = 'RELEASED') AS holds_released,
       count(*) FILTER (WHERE h.state = 'ACTIVE' AND h.expires_at > eventsvc.now()) AS holds_active,
       count(DISTINCT h.holder_id) AS customers,
       count(DISTINCT h.holder_id) FILTER (WHERE h.state = 'CONFIRMED') AS buying_customers,
       round(count(*) FILTER (WHERE h.state = 'CONFIRMED')::numeric / count(*), 4) AS conversion_rate
  FROM eventsvc.capacity_holds h
 GROUP BY h.tenant_id, h.event_id;
COMMENT ON VIEW api.event_customer_analytics IS
    'Per event: holds created/confirmed/expired/released/active, distinct customers and conversion rate (GET /event_customer_analytics?event_id=eq.<id>).';

REVOKE ALL ON api.section_availability, api.event_availability, api.event_revenue,
              api.event_customer_analytics FROM PUBLIC;
GRANT SELECT ON api.section_availability, api.event_availability, api.event_revenue,
                api.event_customer_analytics TO eventsvc_user, eventsvc_service;
