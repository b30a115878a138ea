-- Part 44: the counter rows (docs/capacity.md "Counter rows"). What the hold rows add
-- up to, per section and currency, kept by every hold change in its own transaction,
-- so that nothing that needs a section's seats or sales sums its holds: the row-lock
-- reservation path, a counter rebuild, the section changes, the analytics views.
--
-- Each writer adds to its own stripe (stripe = its backend slot), so concurrent
-- writers of one hot section never wait on each other's row; a reader sums the
-- section's stripes (a handful of rows, never more than the server's backend slots).
-- A stripe alone can be negative (a hold made by one backend, released by another);
-- the sums are exact. Written only by eventsvc's C hold functions (and the rebuild
-- below); no index covers what they change, so each change is a HOT update.
CREATE TABLE eventsvc.section_counters (
    tenant_id        uuid NOT NULL,
    capacity_id      uuid NOT NULL,
    currency         text NOT NULL,            -- the holds' currency; '' for holds without a price
    stripe           integer NOT NULL,         -- the writer's backend slot; 0: a rebuild
    held             bigint NOT NULL DEFAULT 0,  -- seats of ACTIVE holds
    sold             bigint NOT NULL DEFAULT 0,  -- seats of CONFIRMED holds
    revenue          bigint NOT NULL DEFAULT 0,  -- quantity x locked unit price of CONFIRMED holds, minor units
    holds            bigint NOT NULL DEFAULT 0,  -- holds made
    holds_confirmed  bigint NOT NULL DEFAULT 0,
    holds_expired    bigint NOT NULL DEFAULT 0,
    holds_released   bigint NOT NULL DEFAULT 0,
    customers        bigint NOT NULL DEFAULT 0,  -- holders whose first hold of the event this was
    buying_customers bigint NOT NULL DEFAULT 0,  -- holders whose first confirmed hold of the event this was
    -- Money (docs/money.md "Revenue"), minor units: a confirmation adds its purchase,
    -- a refund takes its lines off. A reservation changes none of these.
    purchases        bigint NOT NULL DEFAULT 0,  -- holds confirmed (CONFIRMED, or REFUNDED in full)
    bought           bigint NOT NULL DEFAULT 0,  -- seats the purchases bought
    charged          bigint NOT NULL DEFAULT 0,  -- their locked totals (no line: quantity x unit price)
    gross            bigint NOT NULL DEFAULT 0,  -- base_total of the seats still sold (charged less refunded)
    discounts        bigint NOT NULL DEFAULT 0,  -- group discounts of the seats still sold
    fees             bigint NOT NULL DEFAULT 0,  -- service, facility and percentage fees of the seats still sold
    tax              bigint NOT NULL DEFAULT 0,  -- tax of the seats still sold
    refunded_seats   bigint NOT NULL DEFAULT 0,  -- seats refunded
    refunded         bigint NOT NULL DEFAULT 0,  -- paid back by refunds
    PRIMARY KEY (tenant_id, capacity_id, currency, stripe)
) WITH (fillfactor = 50);
COMMENT ON TABLE eventsvc.section_counters IS
    'Per section, currency and writer stripe: seats held and sold, revenue and hold counts, what the purchases were charged and what refunds paid back; sum the stripes (docs/capacity.md "Counter rows").';
-- A repair names a section by its id alone (eventsvc.escrow_reset): its counter rows
-- in every tenant are found by this index, not by reading the whole key.
CREATE INDEX idx_section_counters_section ON eventsvc.section_counters (capacity_id);

-- Who has held seats of an event: a customer is counted once per event (customers)
-- and once when they first buy (buying_customers), exactly under concurrency (the
-- primary key decides who was first).
CREATE TABLE eventsvc.event_customers (
    tenant_id  uuid NOT NULL,
    event_id   uuid NOT NULL,
    holder_id  text NOT NULL,
    bought     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, event_id, holder_id)
);
COMMENT ON TABLE eventsvc.event_customers IS
    'One row per holder and event: the holder has held seats of the event (bought: and confirmed some).';

ALTER TABLE eventsvc.section_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.section_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.section_counters TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
ALTER TABLE eventsvc.event_customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_customers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.event_customers TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));

-- Data in a logical backup (part 90): pg_dump reads every table in one snapshot, so
-- the restored counters agree with the restored holds.
SELECT pg_catalog.pg_extension_config_dump('eventsvc.section_counters', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_customers', '');

-- Counts every section and customer again from the hold rows and the refunds (an
-- upgrade from a version without counter rows, a data-only restore with triggers
-- disabled, a repair after hold rows were written around the hold functions). Hold
-- writers wait while it runs (SHARE lock on the holds and the refunds). Superuser
-- only. Returns the rows written. The money columns are what the purchases were
-- charged and what their refunds paid back, as src/capacity/section_counters.c
-- adds them (the same SQL as EVS_SQL_HOLD_MONEY and EVS_SQL_REFUND_MONEY there).
CREATE FUNCTION eventsvc.rebuild_section_counters() RETURNS bigint
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
REVOKE ALL ON FUNCTION eventsvc.rebuild_section_counters() FROM PUBLIC;

GRANT SELECT ON eventsvc.section_counters, eventsvc.event_customers TO eventsvc_user, eventsvc_service;

-- The shared counters' table as a whole (slots in use, stale, free; tenants holding
-- some), for operators. Superuser only.
CREATE FUNCTION eventsvc.escrow_sections() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_escrow_sections' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.escrow_sections() IS
    'The shared seat counters: max_sections, sections_per_tenant, valid, stale and free slots, tenants holding some. NULL without shared_preload_libraries.';
REVOKE ALL ON FUNCTION eventsvc.escrow_sections() FROM PUBLIC;

CREATE FUNCTION eventsvc.repair_counters() RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_repair_counters' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.repair_counters() IS
    'eventsvc.escrow_reset for every section of this database at once: counter rows corrected to their holds in one statement, every shared seat counter of the database forgotten, the sweep horizon and reference copies reset. Returns how many counter rows were corrected. Superuser only.';
REVOKE ALL ON FUNCTION eventsvc.repair_counters() FROM PUBLIC;
