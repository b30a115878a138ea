-- Part 64 (1.1): revenue read from the counter rows (docs/money.md "Revenue"). The
-- sections' counter rows (part 44) gain the money columns, kept by every
-- confirmation and refund; the revenue views read them instead of every purchase and
-- refund of the event, with the same columns and values; a view per date of a series.
-- The columns are filled here from the purchases and refunds already there.
ALTER TABLE eventsvc.section_counters
    ADD COLUMN purchases      bigint NOT NULL DEFAULT 0,
    ADD COLUMN bought         bigint NOT NULL DEFAULT 0,
    ADD COLUMN charged        bigint NOT NULL DEFAULT 0,
    ADD COLUMN gross          bigint NOT NULL DEFAULT 0,
    ADD COLUMN discounts      bigint NOT NULL DEFAULT 0,
    ADD COLUMN fees           bigint NOT NULL DEFAULT 0,
    ADD COLUMN tax            bigint NOT NULL DEFAULT 0,
    ADD COLUMN refunded_seats bigint NOT NULL DEFAULT 0,
    ADD COLUMN refunded       bigint NOT NULL DEFAULT 0;
COMMENT ON TABLE eventsvc.section_counters IS
    'Per section, currency and writer stripe: seats held and sold, revenue and hold counts, what the purchases were charged and what refunds paid back; sum the stripes (docs/capacity.md "Counter rows").';

-- Counts every section and customer again from the hold rows and the refunds (an
-- upgrade from a version without counter rows, a data-only restore with triggers
-- disabled, a repair after hold rows were written around the hold functions). Hold
-- writers wait while it runs (SHARE lock on the holds and the refunds). Superuser
-- only. Returns the rows written. The money columns are what the purchases were
-- charged and what their refunds paid back, as src/capacity/section_counters.c
-- adds them (the same SQL as EVS_SQL_HOLD_MONEY and EVS_SQL_REFUND_MONEY there).
CREATE OR REPLACE FUNCTION eventsvc.rebuild_section_counters() RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    LOCK TABLE eventsvc.capacity_holds, eventsvc.hold_refunds IN SHARE MODE;
    DELETE FROM eventsvc.section_counters;
    DELETE FROM eventsvc.event_customers;
    INSERT INTO eventsvc.event_customers (tenant_id, event_id, holder_id, bought)
    SELECT h.tenant_id, h.event_id, h.holder_id, bool_or(h.state = 'CONFIRMED')
      FROM eventsvc.capacity_holds h GROUP BY 1, 2, 3;
    WITH firsts AS (
        SELECT DISTINCT ON (h.tenant_id, h.event_id, h.holder_id) h.tenant_id, h.capacity_id, coalesce(h.currency, '') AS currency
          FROM eventsvc.capacity_holds h ORDER BY h.tenant_id, h.event_id, h.holder_id, h.created_at, h.id),
    buys AS (
        SELECT DISTINCT ON (h.tenant_id, h.event_id, h.holder_id) h.tenant_id, h.capacity_id, coalesce(h.currency, '') AS currency
          FROM eventsvc.capacity_holds h WHERE h.state = 'CONFIRMED'
         ORDER BY h.tenant_id, h.event_id, h.holder_id, h.confirmed_at, h.id),
    purchases AS (
        SELECT h.id, (CASE WHEN h.state::text = 'REFUNDED' THEN h.refunded_quantity
                           ELSE h.quantity + coalesce(h.refunded_quantity, 0) END)::int8 AS bought
          FROM eventsvc.capacity_holds h WHERE h.state::text IN ('CONFIRMED', 'REFUNDED')),
    sums AS (
        SELECT h.tenant_id, h.capacity_id, coalesce(h.currency, '') AS currency,
               coalesce(sum(h.quantity) FILTER (WHERE h.state = 'ACTIVE'), 0) AS held,
               coalesce(sum(h.quantity) FILTER (WHERE h.state = 'CONFIRMED'), 0) AS sold,
               coalesce(sum(h.quantity::bigint * h.unit_price) FILTER (WHERE h.state = 'CONFIRMED'), 0) AS revenue,
               count(*) AS holds,
               count(*) FILTER (WHERE h.state = 'CONFIRMED') AS holds_confirmed,
               count(*) FILTER (WHERE h.state = 'EXPIRED') AS holds_expired,
               count(*) FILTER (WHERE h.state = 'RELEASED') AS holds_released,
               count(p.id) AS purchases,
               coalesce(sum(p.bought), 0)::bigint AS bought,
               coalesce(sum(coalesce((h.locked_price ->> 'total')::bigint,
                                     (h.locked_price ->> 'base_total')::bigint, p.bought * h.unit_price)) FILTER (WHERE p.id IS NOT NULL), 0)::bigint AS charged,
               coalesce(sum(coalesce((h.locked_price ->> 'base_total')::bigint, p.bought * h.unit_price))
                        FILTER (WHERE p.id IS NOT NULL), 0)::bigint AS gross,
               coalesce(sum((h.locked_price ->> 'group_discount')::bigint) FILTER (WHERE p.id IS NOT NULL), 0)::bigint AS discounts,
               coalesce(sum(coalesce((h.locked_price ->> 'service_fee')::bigint, 0) + coalesce((h.locked_price ->> 'facility_fee')::bigint, 0)
                            + coalesce((h.locked_price ->> 'percentage_fee')::bigint, 0)) FILTER (WHERE p.id IS NOT NULL), 0)::bigint AS fees,
               coalesce(sum((h.locked_price ->> 'tax')::bigint) FILTER (WHERE p.id IS NOT NULL), 0)::bigint AS tax
          FROM eventsvc.capacity_holds h
          LEFT JOIN purchases p ON p.id = h.id
         GROUP BY 1, 2, 3),
    refunds AS (
        SELECT r.tenant_id, r.capacity_id, coalesce(r.currency::text, '') AS currency,
               sum(r.quantity)::bigint AS seats, sum(r.amount)::bigint AS amount,
               coalesce(sum((r.lines ->> 'base_total')::bigint), 0)::bigint AS gross,
               coalesce(sum((r.lines ->> 'group_discount')::bigint), 0)::bigint AS discounts,
               coalesce(sum(coalesce((r.lines ->> 'service_fee')::bigint, 0) + coalesce((r.lines ->> 'facility_fee')::bigint, 0)
                            + coalesce((r.lines ->> 'percentage_fee')::bigint, 0)), 0)::bigint AS fees,
               coalesce(sum((r.lines ->> 'tax')::bigint), 0)::bigint AS tax
          FROM eventsvc.hold_refunds r GROUP BY 1, 2, 3),
    first_counts AS (SELECT tenant_id, capacity_id, currency, count(*) AS n FROM firsts GROUP BY 1, 2, 3),
    buy_counts AS (SELECT tenant_id, capacity_id, currency, count(*) AS n FROM buys GROUP BY 1, 2, 3)
    INSERT INTO eventsvc.section_counters (tenant_id, capacity_id, currency, stripe, held, sold, revenue, holds,
                                           holds_confirmed, holds_expired, holds_released, customers, buying_customers,
                                           purchases, bought, charged, gross, discounts, fees, tax, refunded_seats, refunded)
    SELECT s.tenant_id, s.capacity_id, s.currency, 0, s.held, s.sold, s.revenue, s.holds, s.holds_confirmed,
           s.holds_expired, s.holds_released, coalesce(f.n, 0), coalesce(b.n, 0),
           s.purchases, s.bought, s.charged, s.gross - coalesce(r.gross, 0), s.discounts - coalesce(r.discounts, 0),
           s.fees - coalesce(r.fees, 0), s.tax - coalesce(r.tax, 0), coalesce(r.seats, 0), coalesce(r.amount, 0)
      FROM sums s
      LEFT JOIN first_counts f ON (f.tenant_id, f.capacity_id, f.currency) = (s.tenant_id, s.capacity_id, s.currency)
      LEFT JOIN buy_counts b ON (b.tenant_id, b.capacity_id, b.currency) = (s.tenant_id, s.capacity_id, s.currency)
      LEFT JOIN refunds r ON (r.tenant_id, r.capacity_id, r.currency) = (s.tenant_id, s.capacity_id, s.currency::text);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION eventsvc.rebuild_section_counters() IS
    'Counts every section''s counter rows (seats, holds, money) and the event customers again from the hold rows and the refunds (hold writers wait meanwhile). Superuser only.';

-- every section counted again, its money too (the holds and refunds of this database)
SELECT eventsvc.rebuild_section_counters();

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

CREATE OR REPLACE VIEW api.section_revenue WITH (security_invoker = true) AS
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
COMMENT ON COLUMN api.section_revenue.occurrence_id IS 'The date of a series the section sells (NULL: a one-date event''s section).';

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

REVOKE ALL ON api.occurrence_revenue FROM PUBLIC;
GRANT SELECT ON api.occurrence_revenue TO eventsvc_user, eventsvc_service;
-- not automatically updatable: writes are refused with 42501 (part 79)
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.occurrence_revenue
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
