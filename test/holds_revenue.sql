-- pgTAP: revenue that equals what was charged (docs/money.md "Revenue"). api.event_revenue
-- and api.section_revenue sum the purchases' locked price lines: gross, group discounts,
-- fees, tax and the total charged, per currency; refunds are subtracted figure by figure;
-- a cancellation pays everything back. net always equals what the purchases keep: the
-- sum of their locked totals less their refunds, computed here from api.holds and
-- api.hold_refunds independently of the views.
BEGIN;
SELECT plan(20);
SET LOCAL client_min_messages = warning;

SELECT eventsvc.create_tenant('Rev Tenant', 'rev-tenant', '4d4d4d4d-4d4d-4d4d-8d4d-4d4d4d4d4d4d') IS NOT NULL AS t;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('4d4d4d4d-4d4d-4d4d-8d4d-4d4d4d4d4d4d', '4d4d4d4d-0000-4000-8000-00000000000a', 'Revenue Hall', 1000);
GRANT eventsvc_admin TO CURRENT_USER;  -- rolled back at the end
SET LOCAL ROLE eventsvc_admin;
SET LOCAL app.current_tenant_id = '4d4d4d4d-4d4d-4d4d-8d4d-4d4d4d4d4d4d';
SET LOCAL app.current_user_id = 'rhea';

SELECT api.create_event('4d4d4d4d-0000-4000-8000-00000000000a', 'Money Night',
    date_trunc('hour', now()) + interval '20 days', date_trunc('hour', now()) + interval '20 days 3 hours',
    sections => '[{"section_name": "Stalls", "total_capacity": 100}, {"section_name": "Circle", "total_capacity": 50}]') AS ev_doc \gset
SELECT (:'ev_doc'::jsonb) ->> 'id' AS ev, (:'ev_doc'::jsonb) #>> '{sections,0,id}' AS stalls,
       (:'ev_doc'::jsonb) #>> '{sections,1,id}' AS circle \gset
-- 10.01 a seat, 0.50 service and 0.25 facility fee a seat, 10 % off from 4 seats, 8 % tax;
-- the circle sells in euros at 20.00 without fees.
SELECT api.create_pricing(:'ev', 'Standard', 1001, capacity_id => :'stalls', service_fee => 50, facility_fee => 25,
                          tax_rate => 0.08, group_size_min => 4, group_discount_percentage => 10) ->> 'id' AS std \gset
SELECT api.create_pricing(:'ev', 'Circle', 2000, 'EUR', capacity_id => :'circle') ->> 'id' AS eur \gset
SELECT api.publish_event(:'ev') IS NOT NULL AS p;
SELECT api.transition_event(:'ev', 'ON_SALE') IS NOT NULL AS s;

CREATE FUNCTION pg_temp.buy(section uuid, tier uuid, n integer, who text) RETURNS uuid LANGUAGE sql AS $$
    SELECT (api.confirm_hold((api.reserve_capacity(section, n, tier, holder_id => who)).id)).id
$$;
-- What the purchases keep, from the holds and the refunds alone.
CREATE FUNCTION pg_temp.kept(ev uuid, cur text) RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(sum((h.locked_price ->> 'total')::bigint), 0)::bigint
           - coalesce((SELECT sum(r.amount) FROM api.hold_refunds r WHERE r.event_id = ev AND r.currency = cur), 0)::bigint
      FROM api.holds h WHERE h.event_id = ev AND h.currency = cur AND h.state::text IN ('CONFIRMED', 'REFUNDED')
$$;
CREATE FUNCTION pg_temp.rev(ev uuid, cur text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT to_jsonb(r) - 'tenant_id' - 'event_id' - 'currency' FROM api.event_revenue r WHERE r.event_id = ev AND r.currency = cur
$$;

-- A group of 4 (discounted), two singles, an unsold live hold, a released hold.
SELECT pg_temp.buy(:'stalls', :'std', 4, 'ann') AS g4 \gset
SELECT pg_temp.buy(:'stalls', :'std', 1, 'bob') AS s1 \gset
SELECT pg_temp.buy(:'stalls', :'std', 1, 'cyd') AS s2 \gset
SELECT pg_temp.buy(:'circle', :'eur', 3, 'dee') AS e3 \gset
SELECT (api.reserve_capacity(:'stalls', 2, :'std', holder_id => 'eve')).id IS NOT NULL AS live;
SELECT (api.release_hold((api.reserve_capacity(:'stalls', 2, :'std', holder_id => 'fay')).id)).state = 'RELEASED' AS gone;

SELECT is((SELECT locked_price ->> 'total' FROM api.holds WHERE id = :'g4'), '4216',
          'the group of 4 was charged 42.16: 40.04 - 4.00 off + 3.00 fees + 3.12 tax');
SELECT is(pg_temp.rev(:'ev', 'USD'),
          jsonb_build_object('tickets_sold', 6, 'revenue_minor', 6540, 'confirmed_holds', 3, 'purchases', 3,
                             'tickets_refunded', 0, 'charged', 6540, 'refunded', 0, 'gross', 6006, 'discounts', 400,
                             'fees', 450, 'tax', 484, 'net', 6540),
          'USD: gross 60.06, discounts 4.00, fees 4.50, tax 4.84, charged = net = 65.40 (not 6 x 10.01)');
SELECT is((pg_temp.rev(:'ev', 'USD') ->> 'net')::bigint, pg_temp.kept(:'ev', 'USD'), 'USD net = what the purchases were charged');
SELECT is((pg_temp.rev(:'ev', 'USD') ->> 'gross')::bigint - (pg_temp.rev(:'ev', 'USD') ->> 'discounts')::bigint
          + (pg_temp.rev(:'ev', 'USD') ->> 'fees')::bigint + (pg_temp.rev(:'ev', 'USD') ->> 'tax')::bigint,
          (pg_temp.rev(:'ev', 'USD') ->> 'net')::bigint, 'gross - discounts + fees + tax = net');
SELECT is(pg_temp.rev(:'ev', 'EUR') ->> 'net', '6000', 'EUR on its own row: 3 x 20.00');
SELECT is((SELECT jsonb_agg(jsonb_build_array(capacity_id, currency, net) ORDER BY net)
             FROM api.section_revenue WHERE event_id = :'ev'),
          jsonb_build_array(jsonb_build_array(:'circle', 'EUR', 6000), jsonb_build_array(:'stalls', 'USD', 6540)),
          'per section and currency');

-- Refunds: one seat of the group, then a whole single.
SELECT api.refund_purchase(:'g4', 'one cannot come', 1) ->> 'amount' AS r1 \gset
SELECT api.refund_purchase(:'s1', 'changed plans') ->> 'amount' AS r2 \gset
SELECT is(pg_temp.rev(:'ev', 'USD') ->> 'refunded', ((:r1)::bigint + (:r2)::bigint)::text, 'refunded = the refunds paid back');
SELECT is((pg_temp.rev(:'ev', 'USD') ->> 'net')::bigint, pg_temp.kept(:'ev', 'USD'),
          'after refunds, net = charged - refunds = what the purchases keep');
SELECT is((pg_temp.rev(:'ev', 'USD') ->> 'net')::bigint, 6540 - (:r1)::bigint - (:r2)::bigint, 'and 65.40 less both refunds');
SELECT is(pg_temp.rev(:'ev', 'USD') ->> 'tickets_sold', '4', '4 seats still sold');
SELECT is(pg_temp.rev(:'ev', 'USD') ->> 'tickets_refunded', '2', '2 refunded');
SELECT is(pg_temp.rev(:'ev', 'USD') ->> 'purchases', '3', 'a purchase refunded in full is still a purchase');
SELECT is(pg_temp.rev(:'ev', 'USD') ->> 'confirmed_holds', '2', 'with seats still sold: 2');
SELECT is((SELECT sum(net)::bigint FROM api.section_revenue WHERE event_id = :'ev' AND currency = 'USD'),
          (pg_temp.rev(:'ev', 'USD') ->> 'net')::bigint, 'the sections add up to the event');
-- Refund the rest of the group seat by seat: every minor unit comes back.
SELECT api.refund_purchase(:'g4', 'seat by seat', 1) IS NOT NULL AND api.refund_purchase(:'g4', 'seat by seat', 2) IS NOT NULL AS rest;
SELECT is((pg_temp.rev(:'ev', 'USD') ->> 'net')::bigint, 1162::bigint, 'the whole group refunded: only the last single remains');
SELECT is(pg_temp.rev(:'ev', 'USD') - ARRAY['tickets_sold', 'revenue_minor', 'confirmed_holds', 'purchases', 'tickets_refunded',
                                            'charged', 'refunded', 'net'],
          jsonb_build_object('gross', 1001, 'discounts', 0, 'fees', 75, 'tax', 86),
          'the figures left are those of the last single purchase');

-- A tier whose prices include tax: the buyer pays the displayed price, tax inside.
SELECT api.create_event('4d4d4d4d-0000-4000-8000-00000000000a', 'Tax Night',
    date_trunc('hour', now()) + interval '21 days', date_trunc('hour', now()) + interval '21 days 3 hours',
    sections => '[{"section_name": "Box", "total_capacity": 10}]') AS tax_doc \gset
SELECT (:'tax_doc'::jsonb) ->> 'id' AS tev, (:'tax_doc'::jsonb) #>> '{sections,0,id}' AS box \gset
SELECT api.create_pricing(:'tev', 'Box', 1190, capacity_id => :'box', service_fee => 119, tax_rate => 0.19,
                          tax_included => true) ->> 'id' AS inc \gset
SELECT api.publish_event(:'tev') IS NOT NULL AND api.transition_event(:'tev', 'ON_SALE') IS NOT NULL AS on_sale;
SELECT pg_temp.buy(:'box', :'inc', 2, 'gus') IS NOT NULL AS bought;
SELECT is(pg_temp.rev(:'tev', 'USD') - ARRAY['tickets_sold', 'revenue_minor', 'confirmed_holds', 'purchases', 'tickets_refunded', 'refunded'],
          jsonb_build_object('charged', 2618, 'gross', 2380, 'discounts', 0, 'fees', 238, 'tax', 418, 'net', 2618),
          'tax included: charged = gross + fees = 26.18, of which 4.18 tax');
SELECT is((pg_temp.rev(:'tev', 'USD') ->> 'net')::bigint, pg_temp.kept(:'tev', 'USD'), 'and net = what the purchase was charged');

-- A cancellation pays everything back.
SELECT api.confirm_cancellation(:'ev', (api.preview_cancellation(:'ev') ->> 'confirmation_code')::uuid, 'storm') IS NOT NULL AS cancelled;
SELECT is(pg_temp.rev(:'ev', 'USD') - ARRAY['confirmed_holds', 'purchases'],
          jsonb_build_object('tickets_sold', 0, 'revenue_minor', 0, 'tickets_refunded', 6, 'charged', 6540, 'refunded', 6540,
                             'gross', 0, 'discounts', 0, 'fees', 0, 'tax', 0, 'net', 0),
          'cancelled: everything charged is refunded, net 0');
SELECT is(pg_temp.rev(:'ev', 'EUR') ->> 'net', '0', 'in every currency');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
