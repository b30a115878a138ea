-- pgTAP: refunds and returns to stock. A purchase refunded some seats at a time
-- and then in full: the amounts come from its locked line, shared out so that all
-- refunds add up exactly to what was charged (each figure too); the seats come
-- back; the payment service is asked once per refund with a stable key; a sold-out
-- event is on sale again; an exchange is both or nothing; who may refund; the
-- history shows it. Commits as it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(36);

SELECT eventsvc.create_tenant('Tap Refunds', 'tap-refunds', '45454545-4545-4545-8545-454545454545') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('45454545-4545-4545-8545-454545454545', '45450000-0000-4000-8000-00000000000a', 'Refund Hall', 500);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('45454545-4545-4545-8545-454545454545', '45450000-0000-4000-8000-0000000000e1',
     '45450000-0000-4000-8000-00000000000a', 'Refund Night', 'refund-night', 'ON_SALE'),
    ('45454545-4545-4545-8545-454545454545', '45450000-0000-4000-8000-0000000000e2',
     '45450000-0000-4000-8000-00000000000a', 'Tiny Night', 'tiny-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('45454545-4545-4545-8545-454545454545', '45450000-0000-4000-8000-0000000000c1',
     '45450000-0000-4000-8000-0000000000e1', 'Stalls', 50, 50),
    ('45454545-4545-4545-8545-454545454545', '45450000-0000-4000-8000-0000000000c2',
     '45450000-0000-4000-8000-0000000000e1', 'Circle', 3, 3),
    ('45454545-4545-4545-8545-454545454545', '45450000-0000-4000-8000-0000000000c3',
     '45450000-0000-4000-8000-0000000000e2', 'Only', 2, 2);
-- 10.01 a seat, 1.00 fee, 12.5 % off from 4 seats, 10 % tax: figures that do not divide by the seats
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, service_fee, tax_rate,
                                    group_size_min, group_discount_percentage) VALUES
    ('45454545-4545-4545-8545-454545454545', '45450000-0000-4000-8000-0000000000f1',
     '45450000-0000-4000-8000-0000000000e1', 'Standard', 1001, 100, 0.10, 4, 12.5);
SET app.current_tenant_id = '45454545-4545-4545-8545-454545454545';
SET app.current_user_id = 'rita';

CREATE FUNCTION pg_temp.buy(section text, n integer, tier boolean DEFAULT true) RETURNS uuid LANGUAGE sql AS $$
    SELECT ((to_jsonb(api.confirm_hold(((to_jsonb(api.reserve_capacity(('45450000-0000-4000-8000-0000000000' || section)::uuid, n,
             CASE WHEN tier THEN '45450000-0000-4000-8000-0000000000f1'::uuid END))) ->> 'id')::uuid))) ->> 'id')::uuid
$$;
CREATE FUNCTION pg_temp.seats(section text) RETURNS text LANGUAGE sql AS $$
    SELECT (r->>'held') || ' held, ' || (r->>'sold') || ' sold, drift ' || (r->>'drift') || ', rows agree '
           || (r #>> '{rows,agree}')
      FROM eventsvc.check_capacity(('45450000-0000-4000-8000-0000000000' || section)::uuid) r
$$;

-- ---------------------------------------------------------------- who may refund
SELECT pg_temp.buy('c1', 7) AS p1 \gset
SET ROLE eventsvc_user;
SELECT throws_ok(format('SELECT api.refund_purchase(%L, %L)', :'p1', 'changed my mind'), '42501', NULL,
                 'the buyer cannot refund itself');
RESET ROLE;
SELECT throws_ok(format('SELECT api.refund_purchase(%L, %L)', :'p1', '  '), '22023', 'reason must have 1 to 500 characters',
                 'a refund needs a reason');
SELECT throws_ok(format('SELECT api.refund_purchase(%L, %L, 8)', :'p1', 'too many'), '22023',
                 'quantity must be from 1 to 7, the seats still sold, not 8', 'no more seats than were bought');
SELECT throws_ok(format('SELECT api.refund_purchase(%L, %L)',
                        (to_jsonb(api.reserve_capacity('45450000-0000-4000-8000-0000000000c1', 1))) ->> 'id', 'not sold'),
                 'PT409', 'only a purchase (a confirmed hold) can be refunded', 'a live hold is not a purchase');

-- ---------------------------------------------------------------- partial refunds that add up
SELECT locked_price AS line FROM eventsvc.capacity_holds WHERE id = :'p1' \gset
SELECT is((:'line'::jsonb ->> 'total')::bigint, 7514::bigint, '7 seats: 70.07 - 8.76 off + 7.00 fees + 6.83 tax = 75.14');
SELECT is((api.refund_purchase(:'p1', 'two seats back', 2)) -> 'amount', '2147'::jsonb,
          'two of seven: round(7514 x 2 / 7) = round(2146.86) = 2147');
SELECT is((SELECT quantity || ' sold, ' || refunded_quantity || ' refunded, ' || state FROM eventsvc.capacity_holds
            WHERE id = :'p1'), '5 sold, 2 refunded, CONFIRMED', 'the purchase keeps five seats');
SELECT is((api.refund_purchase(:'p1', 'three more', 3)) -> 'amount', '3220'::jsonb,
          'three more: round(7514 x 5 / 7) - 2147 = 5367 - 2147 = 3220');
SELECT is((api.refund_purchase(:'p1', 'the rest')) -> 'amount', '2147'::jsonb, 'the last two: 7514 - 5367');
SELECT is((SELECT sum(amount) FROM eventsvc.hold_refunds WHERE hold_id = :'p1'), 7514::numeric,
          'the refunds add up exactly to what was charged');
SELECT is((SELECT count(*)::int FROM jsonb_each(:'line'::jsonb) f
            WHERE f.key IN ('base_total', 'group_discount', 'service_fee', 'facility_fee', 'subtotal', 'tax', 'total')
              AND f.value::text::bigint <> (SELECT sum((r.lines ->> f.key)::bigint) FROM eventsvc.hold_refunds r
                                             WHERE r.hold_id = :'p1')), 0,
          'and so does every figure of the line (base, discount, fees, subtotal, tax)');
SELECT is((SELECT state || ', ' || quantity || ' + ' || refunded_quantity || ', ' || state_reason
             FROM eventsvc.capacity_holds WHERE id = :'p1'), 'REFUNDED, 2 + 7, the rest',
          'refunded in full: the hold says so and why');
SELECT throws_ok(format('SELECT api.refund_purchase(%L, %L)', :'p1', 'again'), 'PT409',
                 'the purchase was already refunded in full', 'nothing left to refund');
SELECT is((SELECT string_agg(payload #>> '{data,idempotency_key}' || '=' || (payload #>> '{data,amount}'), ','
                             ORDER BY id)
             FROM eventsvc.outbox WHERE routing_key = 'payment.refund_requested' AND payload #>> '{data,hold_id}' = :'p1'),
          format('refund:%s:1=2147,refund:%s:2=3220,refund:%s:3=2147', :'p1', :'p1', :'p1'),
          'one refund request each, with a stable key');
SELECT is((SELECT payload #>> '{data,kind}' FROM eventsvc.outbox WHERE routing_key = 'payment.refund_requested'
              AND payload #>> '{data,idempotency_key}' = 'refund:' || :'p1' || ':3'), 'refund', 'of kind refund');
SELECT is(pg_temp.seats('c1'), '1 held, 0 sold, drift 0, rows agree true', 'the seven seats are back in the section');
SELECT is((SELECT jsonb_agg(e ->> 'action') FROM jsonb_array_elements((api.hold_history(:'p1')) -> 'history') e),
          '["reserved", "confirmed", "refunded", "refunded", "refunded"]', 'the purchase''s history shows each refund');
SELECT is((SELECT count(*)::int FROM api.hold_refunds WHERE hold_id = :'p1'), 3, 'the tenant sees its refunds');

-- ---------------------------------------------------------------- a purchase without a price
SELECT pg_temp.buy('c1', 2, false) AS p2 \gset
SELECT is((api.refund_purchase(:'p2', 'comp ticket')) ->> 'amount', '0', 'a complimentary purchase refunds nothing');

-- ---------------------------------------------------------------- sold out, and on sale again
SELECT (to_jsonb(api.reserve_capacity('45450000-0000-4000-8000-0000000000c3', 2))) ->> 'id' AS p3 \gset
SELECT to_jsonb(api.confirm_hold(:'p3')) IS NOT NULL AS confirmed;    -- (after the reservation committed)
SELECT is((SELECT status::text FROM eventsvc.events WHERE id = '45450000-0000-4000-8000-0000000000e2'), 'SOLD_OUT',
          'the last seats sold: SOLD_OUT');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('45450000-0000-4000-8000-0000000000c3', 1))$$, 'PT409',
                 'not enough seats: 1 requested, 0 remaining', 'nothing to buy');
SELECT is((api.refund_purchase(:'p3', 'one back', 1)) ->> 'quantity', '1', 'one seat refunded');
SELECT is((SELECT status::text FROM eventsvc.events WHERE id = '45450000-0000-4000-8000-0000000000e2'), 'ON_SALE',
          'the seat came back: ON_SALE again');
SELECT is((SELECT string_agg(routing_key || ':' || coalesce(payload #>> '{data,previous_status}', '-'), ',' ORDER BY id)
             FROM eventsvc.outbox WHERE aggregate_id = '45450000-0000-4000-8000-0000000000e2'
              AND routing_key IN ('event.soldout', 'event.updated')),
          'event.soldout:ON_SALE,event.updated:SOLD_OUT', 'one message each way');
SELECT is((to_jsonb(api.reserve_capacity('45450000-0000-4000-8000-0000000000c3', 1))) ->> 'quantity', '1',
          'the seat can be bought again');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('45450000-0000-4000-8000-0000000000c3', 1))$$, 'PT409', NULL,
                 'and only that one');
SELECT is(pg_temp.seats('c3'), '1 held, 1 sold, drift 0, rows agree true', 'the section agrees with its rows');

-- ---------------------------------------------------------------- exchanges: both or nothing
SELECT pg_temp.buy('c1', 2) AS p4 \gset
SELECT api.exchange_purchase(:'p4', '45450000-0000-4000-8000-0000000000c2', 'a better view', 1) AS ex \gset
SELECT is((:'ex'::jsonb) #>> '{refund,quantity}', '1', 'one seat refunded');
SELECT is((:'ex'::jsonb) #>> '{hold,capacity_id}', '45450000-0000-4000-8000-0000000000c2', 'one seat held in the circle');
SELECT is((:'ex'::jsonb) #>> '{hold,holder_id}', 'rita', 'for the same buyer');
SELECT is((SELECT quantity FROM eventsvc.capacity_holds WHERE id = :'p4'), 1, 'the purchase keeps one seat');
SELECT pg_temp.buy('c2', 2) IS NOT NULL AS circle_full;
SELECT throws_ok(format('SELECT api.exchange_purchase(%L, %L, %L)', :'p4', '45450000-0000-4000-8000-0000000000c2',
                        'no room'), 'PT409', NULL, 'an exchange into a full section is refused');
SELECT is((SELECT quantity || ' ' || state FROM eventsvc.capacity_holds WHERE id = :'p4'), '1 CONFIRMED',
          'and nothing was refunded');
SELECT is((SELECT count(*)::int FROM eventsvc.hold_refunds WHERE hold_id = :'p4'), 1, 'only the first exchange''s refund');
SELECT is(pg_temp.seats('c2'), '1 held, 2 sold, drift 0, rows agree true', 'the circle agrees with its rows');
SELECT is(pg_temp.seats('c1'), '1 held, 1 sold, drift 0, rows agree true', 'and the stalls');

SELECT * FROM finish();
