-- pgTAP: the waitlist. Join (refused while seats are free, once per customer and
-- section, within the per-customer limit); seats that come back go to the head of the
-- queue in the same transaction, gathered in a hold of its own, then offered with a
-- window, a price and a waitlist.offer message; a newcomer is refused meanwhile; an
-- offer confirmed converts, an offer that expires passes to the next entry; leaving
-- gives the gathered seats on; with nobody waiting the seats reach the open pool and
-- the event is on sale again; the promoter's figures; cancellation closes the queue.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(43);

SELECT eventsvc.create_tenant('Tap Waitlist', 'tap-waitlist', '46464646-4646-4646-8646-464646464646') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('46464646-4646-4646-8646-464646464646', '46460000-0000-4000-8000-00000000000a', 'Queue Hall', 500);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('46464646-4646-4646-8646-464646464646', '46460000-0000-4000-8000-0000000000e1',
     '46460000-0000-4000-8000-00000000000a', 'Queue Night', 'queue-night', 'ON_SALE'),
    ('46464646-4646-4646-8646-464646464646', '46460000-0000-4000-8000-0000000000e2',
     '46460000-0000-4000-8000-00000000000a', 'Queue Matinee', 'queue-matinee', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('46464646-4646-4646-8646-464646464646', '46460000-0000-4000-8000-0000000000c1',
     '46460000-0000-4000-8000-0000000000e1', 'Pit', 4, 4),
    ('46464646-4646-4646-8646-464646464646', '46460000-0000-4000-8000-0000000000c2',
     '46460000-0000-4000-8000-0000000000e2', 'Matinee', 1, 1);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, service_fee, tax_rate) VALUES
    ('46464646-4646-4646-8646-464646464646', '46460000-0000-4000-8000-0000000000f1',
     '46460000-0000-4000-8000-0000000000e1', 'Pit', 3000, 200, 0.07);
SET app.current_tenant_id = '46464646-4646-4646-8646-464646464646';

CREATE FUNCTION pg_temp.as_user(who text) RETURNS void LANGUAGE sql AS $$ SELECT set_config('app.current_user_id', who, false) $$;
CREATE FUNCTION pg_temp.join(who text, n integer) RETURNS jsonb LANGUAGE sql AS $$
    SELECT pg_temp.as_user(who);
    SELECT api.join_waitlist('46460000-0000-4000-8000-0000000000c1', n, '46460000-0000-4000-8000-0000000000f1')
$$;
CREATE FUNCTION pg_temp.entry(who text) RETURNS text LANGUAGE sql AS $$
    SELECT e.state || ' ' || e.gathered || '/' || e.quantity || coalesce(' ' || h.phase::text || ' ' || h.quantity, '')
      FROM api.waitlist_entries e LEFT JOIN eventsvc.capacity_holds h ON h.id = e.hold_id
     WHERE e.holder_id = who AND e.capacity_id = '46460000-0000-4000-8000-0000000000c1'
     ORDER BY e.joined_at DESC LIMIT 1
$$;
CREATE FUNCTION pg_temp.seats() RETURNS text LANGUAGE sql AS $$
    SELECT (r->>'held') || ' held, ' || (r->>'sold') || ' sold, ' || (r->>'available') || ' free, drift ' || (r->>'drift')
           || ', rows agree ' || (r #>> '{rows,agree}')
      FROM eventsvc.check_capacity('46460000-0000-4000-8000-0000000000c1') r
$$;
CREATE FUNCTION pg_temp.status() RETURNS text LANGUAGE sql AS $$
    SELECT status::text FROM eventsvc.events WHERE id = '46460000-0000-4000-8000-0000000000e1'
$$;

-- ---------------------------------------------------------------- joining
SELECT throws_ok($$SELECT pg_temp.join('cleo', 2)$$, 'PT409', '4 seats are free in this section now: reserve them instead',
                 'no waitlist while the seats can be bought');
SELECT pg_temp.as_user('ann');
SELECT (to_jsonb(api.reserve_capacity('46460000-0000-4000-8000-0000000000c1', 2, '46460000-0000-4000-8000-0000000000f1'))) ->> 'id' AS ann \gset
SELECT pg_temp.as_user('bea');
SELECT (to_jsonb(api.reserve_capacity('46460000-0000-4000-8000-0000000000c1', 2, '46460000-0000-4000-8000-0000000000f1'))) ->> 'id' AS bea \gset
SELECT to_jsonb(api.confirm_hold(:'ann')) IS NOT NULL AS a, to_jsonb(api.confirm_hold(:'bea')) IS NOT NULL AS b;
SELECT is(pg_temp.status(), 'SOLD_OUT', 'every seat sold');
SELECT is((pg_temp.join('cleo', 2)) ->> 'rank', '1', 'cleo waits for 2, first');
SELECT is((pg_temp.join('dan', 1)) ->> 'rank', '2', 'dan waits for 1, second');
SELECT is((pg_temp.join('eve', 3)) ->> 'rank', '3', 'eve waits for 3, third');
SELECT throws_ok($$SELECT pg_temp.join('dan', 2)$$, 'PT409', 'dan is already on the waitlist of this section',
                 'one entry per customer and section');
INSERT INTO eventsvc.tenant_quotas (tenant_id, max_seats_per_hold) VALUES ('46464646-4646-4646-8646-464646464646', 2);
SELECT throws_ok($$SELECT pg_temp.join('fay', 3)$$, 'PT429',
                 'quota seats_per_hold exceeded: an offer of 3 seats is more than one hold may have',
                 'an offer is one hold: the tenant''s quota of seats per hold');
DELETE FROM eventsvc.tenant_quotas WHERE tenant_id = '46464646-4646-4646-8646-464646464646';
SELECT throws_ok($$SELECT pg_temp.join('fay', 5)$$, '22023', 'quantity 5 is more than the section''s 4 seats',
                 'not more seats than the section has');
SELECT pg_temp.as_user('dan');
SELECT is((api.waitlist_position('46460000-0000-4000-8000-0000000000c1')) ->> 'rank', '2', 'dan asks: second');

-- ---------------------------------------------------------------- seats come back: the head gathers them
SELECT api.refund_purchase(:'ann', 'one back', 1) IS NOT NULL AS refunded;
SELECT is(pg_temp.entry('cleo'), 'WAITING 1/2 WAITLIST 1', 'the returned seat is cleo''s, in a hold that waits for one more');
SELECT is(pg_temp.status(), 'SOLD_OUT', 'nothing reached the open pool: still sold out');
SELECT pg_temp.as_user('newcomer');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('46460000-0000-4000-8000-0000000000c1', 1))$$, 'PT409', NULL,
                 'a newcomer cannot buy the returned seat');
SELECT pg_temp.as_user('cleo');
SELECT throws_ok(format('SELECT to_jsonb(api.confirm_hold(%L))', (SELECT hold_id FROM eventsvc.waitlist_entries WHERE holder_id = 'cleo')),
                 'PT409', 'cannot confirm the hold: the waitlist has not gathered all its seats yet', 'not before the offer');
SELECT throws_ok(format('SELECT to_jsonb(api.release_hold(%L))', (SELECT hold_id FROM eventsvc.waitlist_entries WHERE holder_id = 'cleo')),
                 'PT409', 'cannot release a hold the waitlist is gathering seats in', 'leave the waitlist instead');
SELECT is(pg_temp.seats(), '1 held, 3 sold, 0 free, drift 0, rows agree true', 'the gathered seat is held');

-- ---------------------------------------------------------------- complete: the offer
SELECT api.refund_purchase(:'ann', 'the other one') IS NOT NULL AS refunded;
SELECT is(pg_temp.entry('cleo'), 'OFFERED 2/2 OFFERED 2', 'cleo has both seats: an offer');
SELECT ok((SELECT h.expires_at BETWEEN eventsvc.now() + interval '1799 s' AND eventsvc.now() + interval '1801 s'
             FROM eventsvc.capacity_holds h JOIN eventsvc.waitlist_entries e ON e.hold_id = h.id WHERE e.holder_id = 'cleo'),
          'with the offer window (30 minutes)');
SELECT is((SELECT h.locked_price FROM eventsvc.capacity_holds h JOIN eventsvc.waitlist_entries e ON e.hold_id = h.id
            WHERE e.holder_id = 'cleo'), to_jsonb(api.calculate_price('46460000-0000-4000-8000-0000000000f1', 2)),
          'at the tier''s price for its seats');
SELECT is((SELECT payload #>> '{data,holder_id}' || ' ' || (payload #>> '{data,quantity}') FROM eventsvc.outbox
            WHERE routing_key = 'waitlist.offer' AND tenant_id = current_setting('app.current_tenant_id')::uuid),
          'cleo 2', 'one waitlist.offer message for the notification service');
SELECT is((SELECT waiting || ' waiting, ' || offers_out || ' out, ' || offers_made || ' made' FROM api.waitlist_sections
            WHERE capacity_id = '46460000-0000-4000-8000-0000000000c1'),
          '2 waiting, 1 out, 1 made', 'the promoter''s figures');
SELECT pg_temp.as_user('cleo');
SELECT is((api.waitlist_position('46460000-0000-4000-8000-0000000000c1')) ->> 'state', 'OFFERED', 'cleo sees her offer');
SELECT is((to_jsonb(api.confirm_hold((SELECT hold_id FROM eventsvc.waitlist_entries WHERE holder_id = 'cleo')))) ->> 'state',
          'CONFIRMED', 'cleo buys');
SELECT is(pg_temp.entry('cleo'), 'CONVERTED 2/2 OFFERED 2', 'her entry is converted');

-- ---------------------------------------------------------------- in order: dan then eve; an offer that expires
SELECT api.refund_purchase(:'bea', 'both back') IS NOT NULL AS refunded;
SELECT is(pg_temp.entry('dan'), 'OFFERED 1/1 OFFERED 1', 'the next entry, dan, gets his one seat as an offer');
SELECT is(pg_temp.entry('eve'), 'WAITING 1/3 WAITLIST 1', 'and eve gathers the other');
SET eventsvc.clock_offset_seconds = 2000;
SELECT ok(api.expire_holds(1000) >= 1, 'dan''s offer window passes: the sweep expires it');
RESET eventsvc.clock_offset_seconds;
SELECT is(pg_temp.entry('dan'), 'LAPSED 1/1 OFFERED 1', 'dan''s entry lapsed');
SELECT is(pg_temp.entry('eve'), 'WAITING 2/3 WAITLIST 2', 'his seat went on to eve');
SELECT is((SELECT reason FROM api.holds h JOIN eventsvc.waitlist_entries e ON e.hold_id = h.id WHERE e.holder_id = 'dan'),
          'the waitlist offer was not taken in time', 'the tenant sees why dan''s hold ended');
SELECT is(pg_temp.seats(), '2 held, 2 sold, 0 free, drift 0, rows agree true', 'held for eve, sold to cleo');

-- ---------------------------------------------------------------- leaving: the seats reach the open pool
SELECT pg_temp.as_user('eve');
SELECT is((api.leave_waitlist((SELECT id FROM eventsvc.waitlist_entries WHERE holder_id = 'eve'))) ->> 'state', 'LEFT',
          'eve leaves');
SELECT is(pg_temp.status(), 'ON_SALE', 'nobody waits: the seats reach the open pool, the event is on sale again');
SELECT is(pg_temp.seats(), '0 held, 2 sold, 2 free, drift 0, rows agree true', 'two seats free');
SELECT pg_temp.as_user('newcomer');
SELECT is((to_jsonb(api.reserve_capacity('46460000-0000-4000-8000-0000000000c1', 2))) ->> 'quantity', '2', 'now a newcomer can buy them');
SELECT is((SELECT waiting || ' waiting, ' || offers_out || ' out, ' || offers_made || ' made, ' || conversions
                  || ' converted, ' || lapsed || ' lapsed, ' || left_queue || ' left' FROM api.waitlist_sections
                  WHERE capacity_id = '46460000-0000-4000-8000-0000000000c1'),
          '0 waiting, 0 out, 2 made, 1 converted, 1 lapsed, 1 left', 'the promoter''s figures at the end');

-- ---------------------------------------------------------------- the limit counts what a customer waits for
SELECT api.set_customer_limit('46460000-0000-4000-8000-0000000000e1', 3) IS NOT NULL AS limited;
SELECT throws_ok($$SELECT pg_temp.join('newcomer', 2)$$, 'PT409',
                 'at most 3 seats per buyer for this event: newcomer already has 2', 'two held, two more asked: over 3');
SELECT is((pg_temp.join('gus', 3)) ->> 'rank', '1', 'gus waits for 3');
SELECT pg_temp.as_user('gus');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('46460000-0000-4000-8000-0000000000c1', 1))$$, 'PT409',
                 'at most 3 seats per buyer for this event: gus already has 3', 'what gus waits for counts');

-- ---------------------------------------------------------------- more seats: the waitlist first
SELECT api.update_section('46460000-0000-4000-8000-0000000000c1',
                          (SELECT version FROM eventsvc.event_capacity WHERE id = '46460000-0000-4000-8000-0000000000c1'),
                          '{"total_capacity": 6}') IS NOT NULL AS grown;
SELECT is(pg_temp.entry('gus'), 'WAITING 2/3 WAITLIST 2', 'the two new seats of the section go to gus, first in line');
SELECT pg_temp.as_user('newcomer2');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('46460000-0000-4000-8000-0000000000c1', 1))$$, 'PT409', NULL,
                 'a newcomer cannot buy the new seats while gus waits');
SELECT is(pg_temp.seats(), '4 held, 2 sold, 0 free, drift 0, rows agree true', 'held for gus and the newcomer, sold to cleo');

-- ---------------------------------------------------------------- cancellation closes the waitlist
SELECT pg_temp.as_user('hal');
SELECT to_jsonb(api.confirm_hold(((to_jsonb(api.reserve_capacity('46460000-0000-4000-8000-0000000000c2', 1))) ->> 'id')::uuid)) IS NOT NULL AS sold;
SELECT pg_temp.as_user('ivy');
SELECT is((api.join_waitlist('46460000-0000-4000-8000-0000000000c2', 1)) ->> 'state', 'WAITING', 'ivy waits for the matinee');
-- an event with a purchase is cancelled with its preview's code (docs/lifecycle.md "Cancellation preview")
SELECT api.confirm_cancellation('46460000-0000-4000-8000-0000000000e2',
       (api.preview_cancellation('46460000-0000-4000-8000-0000000000e2') ->> 'confirmation_code')::uuid,
       'the cast is ill') IS NOT NULL AS cancelled;
SELECT is((SELECT state::text FROM eventsvc.waitlist_entries WHERE holder_id = 'ivy'), 'CLOSED', 'the cancellation closes it');

SELECT * FROM finish();
