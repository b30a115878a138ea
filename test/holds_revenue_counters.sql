-- pgTAP: the revenue views read the money columns of the sections' counter rows
-- (docs/money.md "Revenue"); each confirmation adds its purchase and each refund takes
-- its lines off. After every kind of change that moves money (confirmations, partial
-- and full refunds, an exchange, a date cancelled, the event cancelled) the views equal,
-- per section, per date and per event, what is computed here from the purchases and
-- refunds alone (api.holds, api.hold_refunds); check_capacity compares the two, a repair
-- and a rebuild put a corrupted row right.
BEGIN;
SELECT plan(32);
SET LOCAL client_min_messages = warning;
SET LOCAL TimeZone = 'UTC';

SELECT eventsvc.create_tenant('Rev Rows', 'rev-rows', '6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e') IS NOT NULL AS t;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e', '6e6e0000-0000-4000-8000-00000000000a', 'Rows Hall', 1000);

-- What the purchases keep per section and currency, from the holds and refunds alone
-- (a cancelled event: everything refunded). The purchases here all have locked lines.
CREATE FUNCTION pg_temp.from_purchases(ev uuid)
RETURNS TABLE (capacity_id uuid, currency text, tickets_sold bigint, confirmed_holds bigint, purchases bigint,
               tickets_refunded bigint, charged bigint, refunded bigint, gross bigint, discounts bigint, fees bigint,
               tax bigint, net bigint)
LANGUAGE sql AS $$
    WITH p AS (
        SELECT h.capacity_id, h.currency::text AS currency,
               coalesce(sum(h.quantity) FILTER (WHERE h.state::text = 'CONFIRMED'), 0)::bigint AS sold,
               count(*) FILTER (WHERE h.state::text = 'CONFIRMED') AS confirmed, count(*) AS purchases,
               sum(h.quantity + coalesce(h.refunded_quantity, 0)
                   - CASE WHEN h.state::text = 'REFUNDED' THEN h.quantity ELSE 0 END)::bigint AS bought,
               sum((h.locked_price ->> 'total')::bigint)::bigint AS charged,
               sum((h.locked_price ->> 'base_total')::bigint)::bigint AS gross,
               sum(coalesce((h.locked_price ->> 'group_discount')::bigint, 0))::bigint AS discounts,
               sum(coalesce((h.locked_price ->> 'service_fee')::bigint, 0) + coalesce((h.locked_price ->> 'facility_fee')::bigint, 0)
                   + coalesce((h.locked_price ->> 'percentage_fee')::bigint, 0))::bigint AS fees,
               sum(coalesce((h.locked_price ->> 'tax')::bigint, 0))::bigint AS tax
          FROM api.holds h
         WHERE h.event_id = ev AND h.state::text IN ('CONFIRMED', 'REFUNDED')
         GROUP BY 1, 2),
    r AS (
        SELECT x.capacity_id, x.currency::text AS currency, sum(x.quantity)::bigint AS seats, sum(x.amount)::bigint AS amount,
               sum(coalesce((x.lines ->> 'base_total')::bigint, 0))::bigint AS gross,
               sum(coalesce((x.lines ->> 'group_discount')::bigint, 0))::bigint AS discounts,
               sum(coalesce((x.lines ->> 'service_fee')::bigint, 0) + coalesce((x.lines ->> 'facility_fee')::bigint, 0)
                   + coalesce((x.lines ->> 'percentage_fee')::bigint, 0))::bigint AS fees,
               sum(coalesce((x.lines ->> 'tax')::bigint, 0))::bigint AS tax
          FROM api.hold_refunds x WHERE x.event_id = ev GROUP BY 1, 2),
    c AS (SELECT e.status = 'CANCELLED' AS cancelled FROM eventsvc.events e WHERE e.id = ev)
    SELECT p.capacity_id, p.currency,
           CASE WHEN c.cancelled THEN 0 ELSE p.sold END, p.confirmed, p.purchases,
           CASE WHEN c.cancelled THEN p.bought ELSE coalesce(r.seats, 0) END,
           p.charged,
           CASE WHEN c.cancelled THEN p.charged ELSE coalesce(r.amount, 0) END,
           CASE WHEN c.cancelled THEN 0 ELSE p.gross - coalesce(r.gross, 0) END,
           CASE WHEN c.cancelled THEN 0 ELSE p.discounts - coalesce(r.discounts, 0) END,
           CASE WHEN c.cancelled THEN 0 ELSE p.fees - coalesce(r.fees, 0) END,
           CASE WHEN c.cancelled THEN 0 ELSE p.tax - coalesce(r.tax, 0) END,
           CASE WHEN c.cancelled THEN 0 ELSE p.charged - coalesce(r.amount, 0) END
      FROM p CROSS JOIN c LEFT JOIN r USING (capacity_id, currency)
$$;
-- The same, per date of a series (its date sections summed).
CREATE FUNCTION pg_temp.per_date_from_purchases(ev uuid)
RETURNS TABLE (occurrence_id uuid, currency text, tickets_sold bigint, purchases bigint, tickets_refunded bigint,
               charged bigint, refunded bigint, gross bigint, discounts bigint, fees bigint, tax bigint, net bigint)
LANGUAGE sql AS $$
    SELECT s.occurrence_id, f.currency, sum(f.tickets_sold)::bigint, sum(f.purchases)::bigint,
           sum(f.tickets_refunded)::bigint, sum(f.charged)::bigint, sum(f.refunded)::bigint, sum(f.gross)::bigint,
           sum(f.discounts)::bigint, sum(f.fees)::bigint, sum(f.tax)::bigint, sum(f.net)::bigint
      FROM pg_temp.from_purchases(ev) f JOIN eventsvc.event_capacity s ON s.id = f.capacity_id
     WHERE s.occurrence_id IS NOT NULL GROUP BY 1, 2
$$;
CREATE FUNCTION pg_temp.sections_q(ev uuid) RETURNS text LANGUAGE sql AS $$
    SELECT format('SELECT capacity_id, currency::text, tickets_sold, confirmed_holds, purchases, tickets_refunded, charged,'
                  ' refunded, gross, discounts, fees, tax, net FROM api.section_revenue WHERE event_id = %L', ev)
$$;
CREATE FUNCTION pg_temp.expected_q(ev uuid) RETURNS text LANGUAGE sql AS $$
    SELECT format('SELECT * FROM pg_temp.from_purchases(%L)', ev)
$$;
-- Whether check_capacity finds every section's money in agreement with its purchases and refunds.
CREATE FUNCTION pg_temp.revenue_agrees(ev uuid) RETURNS boolean LANGUAGE sql AS $$
    SELECT bool_and((eventsvc.check_capacity(s.id) #>> '{rows,revenue_agree}')::boolean)
      FROM eventsvc.event_capacity s WHERE s.event_id = ev
$$;

GRANT eventsvc_admin TO CURRENT_USER;  -- rolled back at the end
SET LOCAL ROLE eventsvc_admin;
SET LOCAL app.current_tenant_id = '6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e';
SET LOCAL app.current_user_id = 'rows-office';

SELECT api.create_event('6e6e0000-0000-4000-8000-00000000000a', 'Rows Night',
    date_trunc('hour', now()) + interval '20 days', date_trunc('hour', now()) + interval '20 days 3 hours',
    sections => '[{"section_name": "Stalls", "total_capacity": 100}, {"section_name": "Circle", "total_capacity": 50}]') AS ev_doc \gset
SELECT (:'ev_doc'::jsonb) ->> 'id' AS ev, (:'ev_doc'::jsonb) #>> '{sections,0,id}' AS stalls,
       (:'ev_doc'::jsonb) #>> '{sections,1,id}' AS circle \gset
SELECT api.create_pricing(:'ev', 'Standard', 1001, capacity_id => :'stalls', service_fee => 50, facility_fee => 25,
                          tax_rate => 0.08, group_size_min => 4, group_discount_percentage => 10) ->> 'id' AS std \gset
SELECT api.create_pricing(:'ev', 'Circle', 2000, 'EUR', capacity_id => :'circle', service_fee => 125,
                          tax_rate => 0.07) ->> 'id' AS eur \gset
SELECT api.publish_event(:'ev') IS NOT NULL AND api.transition_event(:'ev', 'ON_SALE') IS NOT NULL AS on_sale;

CREATE FUNCTION pg_temp.buy(section uuid, tier uuid, n integer, who text) RETURNS uuid LANGUAGE sql AS $$
    SELECT (api.confirm_hold((api.reserve_capacity(section, n, tier, holder_id => who)).id)).id
$$;

-- Confirmations (a live hold and a released one change nothing).
SELECT pg_temp.buy(:'stalls', :'std', 4, 'ann') AS g4 \gset
SELECT pg_temp.buy(:'stalls', :'std', 3, 'bob') AS b3 \gset
SELECT pg_temp.buy(:'stalls', :'std', 1, 'cyd') AS c1 \gset
SELECT pg_temp.buy(:'circle', :'eur', 3, 'dee') AS e3 \gset
SELECT (api.reserve_capacity(:'stalls', 2, :'std', holder_id => 'eve')).id IS NOT NULL AS live;
SELECT (api.release_hold((api.reserve_capacity(:'circle', 2, :'eur', holder_id => 'fay')).id)).state = 'RELEASED' AS gone;
SELECT results_eq(pg_temp.sections_q(:'ev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'ev') || ' ORDER BY 1, 2',
                  'after confirmations: each section equals its purchases');
SELECT is((SELECT charged FROM api.event_revenue WHERE event_id = :'ev' AND currency = 'USD'),
          (SELECT sum((locked_price ->> 'total')::bigint)::bigint FROM api.holds WHERE event_id = :'ev' AND currency = 'USD'
              AND state::text = 'CONFIRMED'), 'the event charged what its USD purchases were charged');

-- Partial refunds, then a whole purchase refunded.
SELECT api.refund_purchase(:'g4', 'one cannot come', 1) IS NOT NULL AS r1;
SELECT api.refund_purchase(:'b3', 'two cannot come', 2) IS NOT NULL AS r2;
SELECT results_eq(pg_temp.sections_q(:'ev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'ev') || ' ORDER BY 1, 2',
                  'after partial refunds: each section equals its purchases less their refunds');
SELECT api.refund_purchase(:'c1', 'changed plans') IS NOT NULL AS r3;
SELECT api.refund_purchase(:'b3', 'the last seat', 1) IS NOT NULL AS r4;
SELECT results_eq(pg_temp.sections_q(:'ev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'ev') || ' ORDER BY 1, 2',
                  'after full refunds: a purchase refunded in full keeps counting as one, with nothing kept');
SELECT is((SELECT purchases - confirmed_holds FROM api.section_revenue WHERE capacity_id = :'stalls'), 2::bigint,
          'two stalls purchases refunded in full');

-- An exchange: a refund and a new hold in another section, in one transaction; its purchase when confirmed.
SELECT api.exchange_purchase(:'g4', :'circle', 'wants the circle', 2, :'eur') #>> '{hold,id}' AS swap \gset
SELECT results_eq(pg_temp.sections_q(:'ev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'ev') || ' ORDER BY 1, 2',
                  'after an exchange: the refund is off the stalls, the new hold is no purchase yet');
SELECT api.confirm_hold(:'swap') IS NOT NULL AS swapped;
SELECT results_eq(pg_temp.sections_q(:'ev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'ev') || ' ORDER BY 1, 2',
                  'the exchanged seats confirmed: a purchase of the circle');
SELECT is((SELECT purchases FROM api.section_revenue WHERE capacity_id = :'circle'), 2::bigint, 'two circle purchases');
SELECT is((SELECT sum(net)::bigint FROM api.section_revenue WHERE event_id = :'ev' AND currency = 'EUR'),
          (SELECT net FROM api.event_revenue WHERE event_id = :'ev' AND currency = 'EUR'), 'the sections add up to the event');

-- check_capacity compares the money with the purchases; a repair and a rebuild put a wrong row right.
RESET ROLE;
SELECT ok(pg_temp.revenue_agrees(:'ev'), 'check_capacity: every section''s money agrees with its purchases and refunds');
UPDATE eventsvc.section_counters SET tax = tax + 7, refunded = refunded - 1
 WHERE capacity_id = :'stalls' AND stripe = (SELECT min(stripe) FROM eventsvc.section_counters WHERE capacity_id = :'stalls');
SELECT is(eventsvc.check_capacity(:'stalls') #>> '{rows,revenue_agree}', 'false', 'a row written around the hold functions is found');
SELECT is(eventsvc.check_capacity(:'stalls') #>> '{rows,agree}', 'false', 'and the rows do not agree');
SELECT is(eventsvc.check_capacity(:'circle') #>> '{rows,revenue_agree}', 'true', 'the other section is fine');
-- the scheduled drift check: found twice, reported once, with revenue_agree false
SELECT ok(eventsvc.check_capacity_drift(600, 100000) IS NOT NULL AND eventsvc.check_capacity_drift(600, 100000) IS NOT NULL,
          'two drift checks');
SELECT is((SELECT row(payload -> 'data' ->> 'capacity_id', payload -> 'data' ->> 'rows_agree',
                      payload -> 'data' ->> 'revenue_agree', payload -> 'data' ->> 'rows_drift')::text
             FROM eventsvc.outbox WHERE tenant_id = '6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e'
              AND routing_key = 'capacity.drift_detected'),
          row(:'stalls', 'false', 'false', '0')::text,
          'capacity.drift_detected names the section whose money disagrees (its seats agree)');
SELECT eventsvc.escrow_reset(:'stalls') IS NOT NULL AS repaired;
SELECT is(eventsvc.check_capacity(:'stalls') #>> '{rows,revenue_agree}', 'true', 'the repair puts the money right');
SELECT is((eventsvc.check_capacity_drift(600, 100000) ->> 'cleared')::int >= 1, true, 'the next drift check clears the finding');
SELECT results_eq(pg_temp.sections_q(:'ev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'ev') || ' ORDER BY 1, 2',
                  'after the repair the view equals the purchases again');
UPDATE eventsvc.section_counters SET charged = charged + 100 WHERE capacity_id = :'circle';
SELECT ok(eventsvc.rebuild_section_counters() > 0, 'the rebuild counts every section again');
SELECT results_eq(pg_temp.sections_q(:'ev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'ev') || ' ORDER BY 1, 2',
                  'after a rebuild the view equals the purchases');
SELECT ok(pg_temp.revenue_agrees(:'ev'), 'and check_capacity agrees');
UPDATE eventsvc.section_counters SET gross = gross - 5, purchases = purchases + 1 WHERE capacity_id = :'circle';
SELECT ok(eventsvc.repair_counters() >= 1, 'the repair of every section (rebuild_derived) corrects the row');
SELECT results_eq(pg_temp.sections_q(:'ev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'ev') || ' ORDER BY 1, 2',
                  'after it the view equals the purchases');

-- ---------------------------------------------------------------- per date of a series
SET LOCAL eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e', '6e6e0000-0000-4000-8000-0000000000e2', '6e6e0000-0000-4000-8000-00000000000a',
     'Weekly Rows', 'weekly-rows', 'ON_SALE', date_trunc('day', now()) + interval '40 days 19 hours',
     date_trunc('day', now()) + interval '40 days 21 hours');
SET LOCAL eventsvc.import_mode = off;
INSERT INTO eventsvc.event_schedules (tenant_id, id, event_id, starts_at, ends_at, timezone, recurrence_rule) VALUES
    ('6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e', '6e6e0000-0000-4000-8000-0000000000d1', '6e6e0000-0000-4000-8000-0000000000e2',
     date_trunc('day', now()) + interval '40 days 19 hours', date_trunc('day', now()) + interval '40 days 21 hours',
     'UTC', 'FREQ=WEEKLY;COUNT=3');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, schedule_id, section_name, total_capacity, available_capacity) VALUES
    ('6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e', '6e6e0000-0000-4000-8000-0000000000a1',
     '6e6e0000-0000-4000-8000-0000000000e2', '6e6e0000-0000-4000-8000-0000000000d1', 'Stalls', 10, 10);
SET LOCAL ROLE eventsvc_admin;
SELECT api.create_pricing('6e6e0000-0000-4000-8000-0000000000e2', 'Weekly', 3000,
                          capacity_id => '6e6e0000-0000-4000-8000-0000000000a1', service_fee => 150,
                          tax_rate => 0.1) ->> 'id' AS wk \gset
\set sev '6e6e0000-0000-4000-8000-0000000000e2'
SELECT api.open_occurrence('6e6e0000-0000-4000-8000-0000000000d1', date_trunc('day', now()) + interval '40 days 19 hours')
       #>> '{sections,0,id}' AS d1 \gset
SELECT api.open_occurrence('6e6e0000-0000-4000-8000-0000000000d1', date_trunc('day', now()) + interval '47 days 19 hours')
       #>> '{sections,0,id}' AS d2 \gset
SELECT occurrence_id AS o1 FROM api.event_sections WHERE id = :'d1' \gset
SELECT occurrence_id AS o2 FROM api.event_sections WHERE id = :'d2' \gset
SELECT pg_temp.buy(:'d1', :'wk', 3, 'gus') AS w1 \gset
SELECT pg_temp.buy(:'d1', :'wk', 1, 'hal') IS NOT NULL AS w2;
SELECT pg_temp.buy(:'d2', :'wk', 2, 'ida') IS NOT NULL AS w3;
SELECT pg_temp.buy(:'d2', :'wk', 4, 'jo') IS NOT NULL AS w4;
SELECT api.refund_purchase(:'w1', 'one of three', 1) IS NOT NULL AS wr;
CREATE FUNCTION pg_temp.dates_q(ev uuid) RETURNS text LANGUAGE sql AS $$
    SELECT format('SELECT occurrence_id, currency::text, tickets_sold, purchases, tickets_refunded, charged, refunded,'
                  ' gross, discounts, fees, tax, net FROM api.occurrence_revenue WHERE event_id = %L', ev)
$$;
SELECT results_eq(pg_temp.dates_q(:'sev') || ' ORDER BY 1, 2',
                  format('SELECT * FROM pg_temp.per_date_from_purchases(%L) ORDER BY 1, 2', :'sev'),
                  'per date: each date equals its purchases less their refunds');
SELECT is((SELECT array_agg(tickets_sold ORDER BY starts_at) FROM api.occurrence_revenue WHERE event_id = :'sev'),
          ARRAY[3, 6]::bigint[], 'each date its own seats sold');
-- One date cancelled: its purchases refunded in full, the other date untouched.
RESET ROLE;
SELECT (api.cancel_occurrence(:'o2', 'the hall is flooded') ->> 'purchases_refunded')::int = 2 AS date_cancelled;
SET LOCAL ROLE eventsvc_admin;
SELECT results_eq(pg_temp.dates_q(:'sev') || ' ORDER BY 1, 2',
                  format('SELECT * FROM pg_temp.per_date_from_purchases(%L) ORDER BY 1, 2', :'sev'),
                  'a date cancelled: per date still equals the purchases and refunds');
SELECT results_eq(format('SELECT status, tickets_sold, net, refunded = charged FROM api.occurrence_revenue'
                         ' WHERE occurrence_id = %L', :'o2'),
                  $$VALUES ('CANCELLED', 0::bigint, 0::bigint, true)$$, 'the cancelled date kept nothing, paid everything back');
SELECT results_eq(pg_temp.sections_q(:'sev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'sev') || ' ORDER BY 1, 2',
                  'per section of the series too');
SELECT is((SELECT net FROM api.event_revenue WHERE event_id = :'sev'),
          (SELECT sum(net)::bigint FROM api.occurrence_revenue WHERE event_id = :'sev'), 'the dates add up to the event');

-- The event cancelled: everything charged counts as refunded.
SELECT api.confirm_cancellation(:'ev', (api.preview_cancellation(:'ev') ->> 'confirmation_code')::uuid, 'storm') IS NOT NULL AS cancelled;
SELECT results_eq(pg_temp.sections_q(:'ev') || ' ORDER BY 1, 2', pg_temp.expected_q(:'ev') || ' ORDER BY 1, 2',
                  'the event cancelled: each section refunded everything it was charged');
RESET ROLE;
SELECT ok(pg_temp.revenue_agrees(:'ev') AND pg_temp.revenue_agrees(:'sev'), 'check_capacity agrees after the cancellations');

-- A confirmation that would take a section's sum past 64 bits is refused (22003), nothing written.
UPDATE eventsvc.section_counters SET charged = 9223372036854775000 WHERE capacity_id = :'d1' AND purchases > 0;
SET LOCAL ROLE eventsvc_admin;
SELECT throws_ok(format($$SELECT pg_temp.buy(%L, %L, 1, 'kim') IS NOT NULL
                            AND EXISTS (SELECT 1 FROM api.section_revenue WHERE capacity_id = %L)$$, :'d1', :'wk', :'d1'),
                 '22003', NULL, 'charged past 64-bit minor units is an overflow error, not a wrap');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
