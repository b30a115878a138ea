-- Part 64: tickets and analytics reads for dashboards: seats sold, reserved and
-- available per section and per event, revenue from confirmed holds, and simple
-- customer analytics. security_invoker views: RLS keeps each tenant to its rows.
--
-- The hold rows are the source of truth (BRIEF decision 3): sold = seats of
-- CONFIRMED holds, reserved = seats of ACTIVE holds not yet expired by
-- eventsvc.now() (an expired hold the sweeper has not reached yet is already
-- free), available = total - sold - reserved. The availability and customer views
-- read what the holds add up to from the sections' counter rows (part 44: kept by
-- every hold change in its transaction, compared with the holds by
-- eventsvc.check_capacity and the drift check), not the holds themselves, so their
-- cost does not grow with an event's sales. The revenue views read the event's
-- purchases and refunds (their locked price lines). See docs/discovery.md
-- "Tickets and analytics".

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

CREATE VIEW api.section_availability WITH (security_invoker = true) AS
SELECT c.tenant_id, c.event_id, c.schedule_id, c.id AS capacity_id, c.section_name, c.section_code, c.tier,
       c.is_active, c.total_capacity,
       f.sold,
       f.reserved,
       CASE WHEN c.is_active THEN greatest(c.total_capacity - f.sold - f.reserved, 0)
            ELSE 0 END::bigint AS available,
       c.occurrence_id
  FROM eventsvc.event_capacity c
  CROSS JOIN LATERAL eventsvc.section_figures(c.tenant_id, c.id, false) f;
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
 -- the template sections of a recurring schedule sell nothing: their dates' sections count (docs/series.md)
 WHERE s.occurrence_id IS NOT NULL
    OR NOT EXISTS (SELECT 1 FROM eventsvc.event_schedules sc
                    WHERE sc.tenant_id = s.tenant_id AND sc.id = s.schedule_id AND sc.is_recurring)
 GROUP BY s.tenant_id, s.event_id;
COMMENT ON VIEW api.event_availability IS 'Per event: the section figures summed, a series'' dates included and their templates left out (GET /event_availability?event_id=eq.<id>).';

-- Revenue: what the purchases were charged, from their locked price lines, less what
-- was paid back, per section and currency, per event and currency and per date of a
-- series (docs/money.md "Revenue"). A purchase is a confirmed hold (CONFIRMED, or
-- REFUNDED when every seat was refunded); its line says what it was charged:
-- base_total (gross), group_discount, service and facility fees, tax and total.
-- Refunds (eventsvc.hold_refunds) carry each figure's share. A cancelled event's
-- purchases are all paid back by the cancellation (its saga's refund step): what the
-- refunds had not yet paid back counts as refunded. net = charged - refunded, equal to
-- the sum of what each purchase still keeps. A purchase without a locked line (sold
-- before prices were locked) was charged quantity x unit price.
--
-- The sums are the money columns of the sections' counter rows (part 44): each
-- confirmation adds its purchase and each refund takes its lines off, in its own
-- transaction, on the writer's stripe; eventsvc.check_capacity and the drift check
-- compare them with the purchases and refunds. So a read is one probe of each
-- section's counter rows, whatever the number of holds. int8 throughout: an
-- overflow is an error (22003), never a wrap. Holds without a price (currency '')
-- are no purchases here. (GET /event_revenue?event_id=eq.<id>)
CREATE INDEX idx_hold_refunds_event ON eventsvc.hold_refunds (tenant_id, event_id);
-- the refunds of one section (the drift check and the counter rows' repair)
CREATE INDEX idx_hold_refunds_section ON eventsvc.hold_refunds (tenant_id, capacity_id);
-- One section's money per currency from its counter rows, this transaction's own
-- confirmations and refunds included (src/capacity/section_figures.c); the caller's
-- RLS applies.
CREATE FUNCTION eventsvc.section_money(tenant_id uuid, capacity_id uuid,
    OUT currency char(3), OUT purchases bigint, OUT confirmed_holds bigint, OUT tickets_sold bigint,
    OUT bought bigint, OUT refunded_seats bigint, OUT charged bigint, OUT refunded bigint, OUT gross bigint,
    OUT discounts bigint, OUT fees bigint, OUT tax bigint) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'evs_sql_section_money' LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;
COMMENT ON FUNCTION eventsvc.section_money(uuid, uuid) IS
    'A section''s purchases, seats sold, bought and refunded, charged, refunded, gross, discounts, fees and tax per currency, from its counter rows, live; the caller''s RLS applies.';
REVOKE ALL ON FUNCTION eventsvc.section_money(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.section_money(uuid, uuid) TO eventsvc_user, eventsvc_service;
CREATE VIEW api.section_revenue WITH (security_invoker = true) AS
SELECT c.tenant_id, c.event_id, c.id AS capacity_id, k.currency::char(3) AS currency,
       CASE WHEN e.cancelled THEN 0 ELSE k.tickets_sold END::bigint AS tickets_sold,
       k.confirmed_holds, k.purchases,
       CASE WHEN e.cancelled THEN k.bought ELSE k.refunded_seats END::bigint AS tickets_refunded,
       k.charged,
       CASE WHEN e.cancelled THEN k.charged ELSE k.refunded END AS refunded,
       CASE WHEN e.cancelled THEN 0 ELSE k.gross END AS gross,
       CASE WHEN e.cancelled THEN 0 ELSE k.discounts END AS discounts,
       CASE WHEN e.cancelled THEN 0 ELSE k.fees END AS fees,
       CASE WHEN e.cancelled THEN 0 ELSE k.tax END AS tax,
       CASE WHEN e.cancelled THEN 0 ELSE k.charged - k.refunded END AS net,
       c.occurrence_id
  FROM eventsvc.event_capacity c
 CROSS JOIN LATERAL eventsvc.section_money(c.tenant_id, c.id) k
  LEFT JOIN LATERAL (SELECT bool_or(ev.status = 'CANCELLED') AS cancelled
                       FROM eventsvc.events ev
                      WHERE ev.tenant_id = c.tenant_id AND ev.id = c.event_id) e ON true;
COMMENT ON VIEW api.section_revenue IS
    'Read-only. Per section and currency: what its purchases were charged (gross, discounts, fees, tax from their locked price lines), less refunds; net equals what the purchases keep (GET /section_revenue?event_id=eq.<id>).';

CREATE VIEW api.event_revenue WITH (security_invoker = true) AS
SELECT s.tenant_id, s.event_id, s.currency,
       sum(s.tickets_sold)::bigint AS tickets_sold,
       sum(s.net)::bigint AS revenue_minor,
       sum(s.confirmed_holds)::bigint AS confirmed_holds,
       sum(s.purchases)::bigint AS purchases,
       sum(s.tickets_refunded)::bigint AS tickets_refunded,
       sum(s.charged)::bigint AS charged,
       sum(s.refunded)::bigint AS refunded,
       sum(s.gross)::bigint AS gross,
       sum(s.discounts)::bigint AS discounts,
       sum(s.fees)::bigint AS fees,
       sum(s.tax)::bigint AS tax,
       sum(s.net)::bigint AS net
  FROM api.section_revenue s
 GROUP BY s.tenant_id, s.event_id, s.currency;
COMMENT ON VIEW api.event_revenue IS
    'Read-only. Per event and currency: what its purchases were charged (gross, discounts, fees, tax from their locked price lines), less refunds and a cancellation; net (= revenue_minor) equals what the purchases keep (GET /event_revenue?event_id=eq.<id>).';

COMMENT ON COLUMN api.section_revenue.tenant_id IS 'The tenant.';
COMMENT ON COLUMN api.section_revenue.event_id IS 'The event.';
COMMENT ON COLUMN api.section_revenue.currency IS 'ISO 4217 code of the amounts on this row.';
COMMENT ON COLUMN api.section_revenue.tickets_sold IS 'Seats its purchases still hold (0 once the event is cancelled).';
COMMENT ON COLUMN api.section_revenue.confirmed_holds IS 'Purchases with seats still sold.';
COMMENT ON COLUMN api.section_revenue.purchases IS 'Purchases ever made: confirmed holds, including those refunded in full.';
COMMENT ON COLUMN api.section_revenue.tickets_refunded IS 'Seats refunded, by refunds or by the cancellation.';
COMMENT ON COLUMN api.section_revenue.charged IS 'What the purchases were charged: the sum of their locked totals (minor units).';
COMMENT ON COLUMN api.section_revenue.refunded IS 'What was paid back: the refunds, and on a cancelled event everything else too (minor units).';
COMMENT ON COLUMN api.section_revenue.gross IS 'Face value (base_total) of the seats still sold (minor units).';
COMMENT ON COLUMN api.section_revenue.discounts IS 'Group discounts given on the seats still sold (minor units).';
COMMENT ON COLUMN api.section_revenue.fees IS 'Service, facility and percentage fees of the seats still sold (minor units).';
COMMENT ON COLUMN api.section_revenue.tax IS 'Tax of the seats still sold (minor units).';
COMMENT ON COLUMN api.section_revenue.net IS 'charged - refunded: what the purchases keep, equal to the sum of their totals less their refunds (minor units).';
COMMENT ON COLUMN api.section_revenue.capacity_id IS 'The section.';
COMMENT ON COLUMN api.section_revenue.occurrence_id IS 'The date of a series the section sells (NULL: a one-date event''s section).';
COMMENT ON COLUMN api.event_revenue.tenant_id IS 'The tenant.';
COMMENT ON COLUMN api.event_revenue.event_id IS 'The event.';
COMMENT ON COLUMN api.event_revenue.currency IS 'ISO 4217 code of the amounts on this row.';
COMMENT ON COLUMN api.event_revenue.tickets_sold IS 'Seats its purchases still hold (0 once the event is cancelled).';
COMMENT ON COLUMN api.event_revenue.confirmed_holds IS 'Purchases with seats still sold.';
COMMENT ON COLUMN api.event_revenue.purchases IS 'Purchases ever made: confirmed holds, including those refunded in full.';
COMMENT ON COLUMN api.event_revenue.tickets_refunded IS 'Seats refunded, by refunds or by the cancellation.';
COMMENT ON COLUMN api.event_revenue.charged IS 'What the purchases were charged: the sum of their locked totals (minor units).';
COMMENT ON COLUMN api.event_revenue.refunded IS 'What was paid back: the refunds, and on a cancelled event everything else too (minor units).';
COMMENT ON COLUMN api.event_revenue.gross IS 'Face value (base_total) of the seats still sold (minor units).';
COMMENT ON COLUMN api.event_revenue.discounts IS 'Group discounts given on the seats still sold (minor units).';
COMMENT ON COLUMN api.event_revenue.fees IS 'Service, facility and percentage fees of the seats still sold (minor units).';
COMMENT ON COLUMN api.event_revenue.tax IS 'Tax of the seats still sold (minor units).';
COMMENT ON COLUMN api.event_revenue.net IS 'charged - refunded: what the purchases keep, equal to the sum of their totals less their refunds (minor units).';
COMMENT ON COLUMN api.event_revenue.revenue_minor IS 'The same as net: what the purchases keep (minor units).';

-- Per date of a series and currency: its date sections' revenue summed (docs/series.md
-- "Revenue per date"). A date cancelled on its own refunded its purchases in full.
CREATE VIEW api.occurrence_revenue WITH (security_invoker = true) AS
SELECT s.tenant_id, s.event_id, s.occurrence_id, o.schedule_id, o.starts_at, o.status, s.currency,
       sum(s.tickets_sold)::bigint AS tickets_sold,
       sum(s.confirmed_holds)::bigint AS confirmed_holds,
       sum(s.purchases)::bigint AS purchases,
       sum(s.tickets_refunded)::bigint AS tickets_refunded,
       sum(s.charged)::bigint AS charged,
       sum(s.refunded)::bigint AS refunded,
       sum(s.gross)::bigint AS gross,
       sum(s.discounts)::bigint AS discounts,
       sum(s.fees)::bigint AS fees,
       sum(s.tax)::bigint AS tax,
       sum(s.net)::bigint AS net
  FROM api.section_revenue s
  JOIN eventsvc.event_occurrences o ON o.tenant_id = s.tenant_id AND o.id = s.occurrence_id
 GROUP BY s.tenant_id, s.event_id, s.occurrence_id, o.schedule_id, o.starts_at, o.status, s.currency;
COMMENT ON VIEW api.occurrence_revenue IS
    'Read-only. Per date of a series and currency: what its purchases were charged (gross, discounts, fees, tax), less refunds; net equals what they keep (GET /occurrence_revenue?event_id=eq.<id>).';
COMMENT ON COLUMN api.occurrence_revenue.tenant_id IS 'The tenant.';
COMMENT ON COLUMN api.occurrence_revenue.event_id IS 'The event.';
COMMENT ON COLUMN api.occurrence_revenue.occurrence_id IS 'The date (api.occurrences.id).';
COMMENT ON COLUMN api.occurrence_revenue.schedule_id IS 'The recurring schedule the date belongs to.';
COMMENT ON COLUMN api.occurrence_revenue.starts_at IS 'When the date starts.';
COMMENT ON COLUMN api.occurrence_revenue.status IS 'The date''s status (ON_SALE, SOLD_OUT, CLOSED, CANCELLED).';
COMMENT ON COLUMN api.occurrence_revenue.currency IS 'ISO 4217 code of the amounts on this row.';
COMMENT ON COLUMN api.occurrence_revenue.tickets_sold IS 'Seats its purchases still hold (0 once the event is cancelled).';
COMMENT ON COLUMN api.occurrence_revenue.confirmed_holds IS 'Purchases with seats still sold.';
COMMENT ON COLUMN api.occurrence_revenue.purchases IS 'Purchases ever made: confirmed holds, including those refunded in full.';
COMMENT ON COLUMN api.occurrence_revenue.tickets_refunded IS 'Seats refunded, by refunds or by the cancellation.';
COMMENT ON COLUMN api.occurrence_revenue.charged IS 'What the purchases were charged: the sum of their locked totals (minor units).';
COMMENT ON COLUMN api.occurrence_revenue.refunded IS 'What was paid back: the refunds, and on a cancelled event everything else too (minor units).';
COMMENT ON COLUMN api.occurrence_revenue.gross IS 'Face value (base_total) of the seats still sold (minor units).';
COMMENT ON COLUMN api.occurrence_revenue.discounts IS 'Group discounts given on the seats still sold (minor units).';
COMMENT ON COLUMN api.occurrence_revenue.fees IS 'Service, facility and percentage fees of the seats still sold (minor units).';
COMMENT ON COLUMN api.occurrence_revenue.tax IS 'Tax of the seats still sold (minor units).';
COMMENT ON COLUMN api.occurrence_revenue.net IS 'charged - refunded: what the purchases keep, equal to the sum of their totals less their refunds (minor units).';

-- Holds are the customer journey of the original's analytics: created, confirmed
-- (bought), expired (abandoned), released (given back). conversion_rate is
-- confirmed / created as an exact numeric with 4 decimals. Customers are the
-- holders who held seats of the event (eventsvc.event_customers).
CREATE VIEW api.event_customer_analytics WITH (security_invoker = true) AS
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
COMMENT ON VIEW api.event_customer_analytics IS
    'Per event: holds created/confirmed/expired/released/active, distinct customers and conversion rate (GET /event_customer_analytics?event_id=eq.<id>).';

REVOKE ALL ON api.section_availability, api.event_availability, api.event_revenue, api.section_revenue,
              api.occurrence_revenue, api.event_customer_analytics FROM PUBLIC;
GRANT SELECT ON api.section_availability, api.event_availability, api.event_revenue, api.section_revenue,
                api.occurrence_revenue, api.event_customer_analytics TO eventsvc_user, eventsvc_service;
