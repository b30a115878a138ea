-- pgTAP: payment-aware holds. start_payment (payment window, once per hold,
-- idempotent on the reference, the tenant's window, the ceiling on a hold's life);
-- renewals capped; a payment result in time, after the window with the seats
-- still held, after expiry with the seats free (revived) and gone (refund
-- required, with its outbox message, once); visibility of ended holds and
-- their archive after the retention. Commits as it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(54);

SELECT eventsvc.create_tenant('Tap Payment', 'tap-payment', '4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a', '4a4a0000-0000-4000-8000-00000000000a', 'Pay Hall', 500);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a', '4a4a0000-0000-4000-8000-0000000000e1',
     '4a4a0000-0000-4000-8000-00000000000a', 'Pay Night', 'pay-night', 'ON_SALE'),
    ('4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a', '4a4a0000-0000-4000-8000-0000000000e2',
     '4a4a0000-0000-4000-8000-00000000000a', 'Pay Matinee', 'pay-matinee', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a', '4a4a0000-0000-4000-8000-0000000000c1',
     '4a4a0000-0000-4000-8000-0000000000e1', 'Stalls', 100, 100),
    ('4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a', '4a4a0000-0000-4000-8000-0000000000c2',
     '4a4a0000-0000-4000-8000-0000000000e1', 'Box', 2, 2),
    ('4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a', '4a4a0000-0000-4000-8000-0000000000c3',
     '4a4a0000-0000-4000-8000-0000000000e2', 'Matinee', 10, 10);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, service_fee, tax_rate) VALUES
    ('4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a', '4a4a0000-0000-4000-8000-0000000000f1',
     '4a4a0000-0000-4000-8000-0000000000e1', 'Standard', 2500, 150, 0.19);
SET app.current_tenant_id = '4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a';
SET app.current_user_id = 'pat';

CREATE FUNCTION pg_temp.hold(section text, n integer, seconds integer DEFAULT NULL) RETURNS uuid LANGUAGE sql AS $$
    SELECT ((to_jsonb(api.reserve_capacity(('4a4a0000-0000-4000-8000-0000000000' || section)::uuid, n,
                                  '4a4a0000-0000-4000-8000-0000000000f1', hold_seconds => seconds))) ->> 'id')::uuid
$$;
CREATE FUNCTION pg_temp.h(id uuid) RETURNS eventsvc.capacity_holds LANGUAGE sql AS $$
    SELECT * FROM eventsvc.capacity_holds WHERE capacity_holds.id = h.id
$$;
CREATE FUNCTION pg_temp.seats(section text) RETURNS text LANGUAGE sql AS $$
    SELECT (r->>'held') || ' held, ' || (r->>'sold') || ' sold, drift ' || (r->>'drift') || ', oversold ' || (r->>'oversold')
           || ', rows agree ' || (r #>> '{rows,agree}')
      FROM eventsvc.check_capacity(('4a4a0000-0000-4000-8000-0000000000' || section)::uuid) r
$$;
-- a payment result as the payment service reports it
CREATE FUNCTION pg_temp.paid(id uuid, ref text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
    SET LOCAL ROLE eventsvc_service;
    r := to_jsonb(api.confirm_payment(id, ref));
    RESET ROLE;
    RETURN r;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.paid(uuid, text) TO eventsvc_service;

-- ---------------------------------------------------------------- start_payment
SELECT pg_temp.hold('c1', 2) AS h1 \gset
SELECT is((to_jsonb(api.start_payment(:'h1', 'pay-1'))) ->> 'phase', 'PAYMENT', 'the hold enters its payment phase');
SELECT ok((SELECT expires_at BETWEEN eventsvc.now() + interval '899 seconds' AND eventsvc.now() + interval '901 seconds'
             FROM pg_temp.h(:'h1')), 'its expiry is the payment window (900 s)');
SELECT is((SELECT payment_ref FROM pg_temp.h(:'h1')), 'pay-1', 'the payment reference is kept');
SELECT expires_at AS h1_expires FROM pg_temp.h(:'h1') \gset
SELECT is((to_jsonb(api.start_payment(:'h1', 'pay-1'))) ->> 'expires_at', to_jsonb(:'h1_expires'::timestamptz) #>> '{}',
          'the same reference again changes nothing');
SELECT throws_ok(format('SELECT to_jsonb(api.start_payment(%L, %L))', :'h1', 'pay-2'), 'PT409',
                 'a payment was already started for this hold with another reference', 'once per hold');
SET app.current_user_id = 'mallory';
SET ROLE eventsvc_user;
SELECT throws_ok(format('SELECT to_jsonb(api.start_payment(%L, %L))', :'h1', 'pay-1'), 'PT404', 'hold not found',
                 'someone else''s hold is not found');
RESET ROLE;
SET app.current_user_id = 'pat';
SELECT throws_ok(format('SELECT to_jsonb(api.start_payment(%L, %L))', :'h1', repeat('x', 201)), '22023', NULL,
                 'a reference longer than 200 characters');
SELECT is((SELECT string_agg(action, ',' ORDER BY id) FROM eventsvc.hold_audit_log WHERE hold_id = :'h1'),
          'payment_started', 'the start is audited once');

-- ---------------------------------------------------------------- a payment result in time
SET ROLE eventsvc_user;
SELECT throws_ok(format('SELECT to_jsonb(api.confirm_payment(%L, %L))', :'h1', 'pay-1'), '42501', NULL,
                 'the holder cannot report its own payment');
RESET ROLE;
SELECT throws_ok(format('SELECT pg_temp.paid(%L, %L)', :'h1', 'pay-9'), 'PT409',
                 'payment reference pay-9 is not this hold''s payment', 'another payment''s result is refused');
SELECT is((pg_temp.paid(:'h1', 'pay-1')) ->> 'state', 'CONFIRMED', 'paid in time: sold');
SELECT ok((SELECT revived_at IS NULL AND confirmed_at IS NOT NULL FROM pg_temp.h(:'h1')), 'not a revival');
SELECT is((pg_temp.paid(:'h1', 'pay-1')) ->> 'state', 'CONFIRMED', 'the same result again: the hold as it is');
SELECT (to_jsonb(api.calculate_price('4a4a0000-0000-4000-8000-0000000000f1', 2))) ->> 'total' AS total2 \gset
SELECT is((SELECT string_agg(action || ':' || amount, ',' ORDER BY id) FROM eventsvc.hold_audit_log WHERE hold_id = :'h1'),
          'payment_started:' || :'total2' || ',payment_confirmed:' || :'total2', 'audited once, with the locked total');
SELECT throws_ok(format('SELECT pg_temp.paid(%L, %L)', pg_temp.hold('c1', 1), 'pay-x'), 'PT409',
                 'no payment was started for this hold', 'a result for a hold without a payment');

-- ---------------------------------------------------------------- the tenant's window, the ceiling
SELECT is(api.set_hold_settings('{"payment_window_seconds": 120}') #>> '{payment_window_seconds,value}', '120',
          'the tenant sets a payment window of 2 minutes');
SELECT pg_temp.hold('c1', 1, 30) AS h2 \gset
SELECT ok((SELECT (to_jsonb(api.start_payment(:'h2', 'pay-h2')) ->> 'expires_at')::timestamptz
                  BETWEEN eventsvc.now() + interval '119 seconds' AND eventsvc.now() + interval '121 seconds'),
          'the tenant''s window applies (a window never shortens a hold: this one had 30 s)');
SET eventsvc.hold_max_life_seconds = 60;
SELECT api.set_hold_settings('{"payment_window_seconds": 600}') IS NOT NULL AS window_600;
SELECT pg_temp.hold('c1', 1, 30) AS h3 \gset
SELECT ok((SELECT (to_jsonb(api.start_payment(:'h3', 'pay-h3')) ->> 'expires_at')::timestamptz = created_at + interval '60 seconds'
             FROM pg_temp.h(:'h3')), 'the window ends at the ceiling on the hold''s life');
SELECT is((SELECT detail ->> 'cut_at_ceiling' FROM eventsvc.hold_audit_log WHERE hold_id = :'h3'), 'true',
          'the audit says the window was cut');
RESET eventsvc.hold_max_life_seconds;
SELECT api.set_hold_settings('{"payment_window_seconds": null}') IS NOT NULL AS window_cluster;

-- ---------------------------------------------------------------- renewals
SET eventsvc.hold_max_renewals = 2;
SELECT pg_temp.hold('c1', 1) AS h4 \gset
SELECT is((to_jsonb(api.extend_hold(:'h4', 10))) ->> 'renewals', '1', 'first renewal');
SELECT is((to_jsonb(api.extend_hold(:'h4', 10))) ->> 'renewals', '2', 'second renewal');
CREATE TEMP TABLE refusal (msg text, detail text);
SET my.h4 = :'h4';
DO $$
DECLARE m text; d text;
BEGIN
    PERFORM to_jsonb(api.extend_hold(current_setting('my.h4')::uuid, 10));
EXCEPTION WHEN SQLSTATE 'PT409' THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    INSERT INTO refusal VALUES (m, d);
END $$;
SELECT is((SELECT msg || ' / ' || detail FROM refusal), 'the hold was renewed 2 times, the most allowed / 2 of 2 renewals used.',
          'the third renewal is refused and says how many were used');
RESET eventsvc.hold_max_renewals;
SELECT is((to_jsonb(api.start_payment(:'h4', 'pay-h4'))) ->> 'renewals', '2', 'renewals carry into the payment phase');

-- ---------------------------------------------------------------- paid after the window, seats still held
SELECT pg_temp.hold('c1', 3) AS h5 \gset
SELECT to_jsonb(api.start_payment(:'h5', 'pay-h5')) IS NOT NULL AS started;
SET eventsvc.clock_offset_seconds = 1000;       -- the window (900 s) has passed; no sweep yet
SELECT is((pg_temp.paid(:'h5', 'pay-h5')) ->> 'state', 'CONFIRMED', 'paid late, seats never left: sold');
SELECT is((SELECT state_reason FROM pg_temp.h(:'h5')), 'paid after the payment window; its seats were still held',
          'and it says why');
SELECT ok((SELECT revived_at IS NOT NULL FROM pg_temp.h(:'h5')), 'marked as revived');
RESET eventsvc.clock_offset_seconds;

-- ---------------------------------------------------------------- paid after expiry, seats free: revived
SELECT pg_temp.hold('c1', 2) AS h6 \gset
SELECT to_jsonb(api.start_payment(:'h6', 'pay-h6')) IS NOT NULL AS started;
SET eventsvc.clock_offset_seconds = 1000;
SELECT ok(api.expire_holds(1000) >= 1, 'the sweep expires the unpaid hold');
SELECT is((SELECT state::text FROM pg_temp.h(:'h6')), 'EXPIRED', 'expired, its seats back in the section');
SELECT is((SELECT reason FROM api.holds WHERE id = :'h6'), 'the payment window passed',
          'the tenant sees why it ended');
SELECT is((pg_temp.paid(:'h6', 'pay-h6')) ->> 'state', 'CONFIRMED', 'the payment arrives: seats free, revived and sold');
SELECT is((SELECT state_reason FROM pg_temp.h(:'h6')), 'paid after the hold expired; its seats were still free',
          'revived, and why');
SELECT is((SELECT locked_price ->> 'total' FROM pg_temp.h(:'h6')), :'total2', 'at its locked price');
RESET eventsvc.clock_offset_seconds;
SELECT is(pg_temp.seats('c1'), '0 held, 7 sold, drift 0, oversold false, rows agree true',
          'the section''s counter and rows agree: 2 + 3 + 2 sold, the unpaid ones expired');

-- ---------------------------------------------------------------- paid after expiry, seats gone: refund
SELECT pg_temp.hold('c2', 2) AS h7 \gset
SELECT to_jsonb(api.start_payment(:'h7', 'pay-h7')) IS NOT NULL AS started;
SET eventsvc.clock_offset_seconds = 1000;
SELECT ok(api.expire_holds(1000) >= 1, 'the unpaid hold expires');
SET app.current_user_id = 'quinn';
SELECT is((to_jsonb(api.reserve_capacity('4a4a0000-0000-4000-8000-0000000000c2', 2))) ->> 'quantity', '2',
          'another buyer takes both seats of the box');
SET app.current_user_id = 'pat';
SELECT is((pg_temp.paid(:'h7', 'pay-h7')) ->> 'state', 'REFUND_REQUIRED', 'the payment arrives too late: refund required');
SELECT is((SELECT state_reason FROM pg_temp.h(:'h7')), 'its seats were held by other buyers after the hold ended',
          'with the reason: where the seats are now (held, not sold)');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE routing_key = 'payment.refund_requested'
              AND payload #>> '{data,hold_id}' = :'h7'), 1, 'one refund request for the payment service');
SELECT is((SELECT (payload -> 'data') - ARRAY['hold_id', 'event_id', 'capacity_id'] FROM eventsvc.outbox
            WHERE routing_key = 'payment.refund_requested' AND payload #>> '{data,hold_id}' = :'h7'),
          jsonb_build_object('kind', 'late_payment', 'amount', :'total2'::bigint, 'reason', 'its seats were held by other buyers after the hold ended',
                             'currency', 'USD', 'quantity', 2, 'holder_id', 'pat', 'payment_ref', 'pay-h7',
                             'idempotency_key', 'late-payment:' || :'h7'),
          'the request: amount, reason and a key the payment service deduplicates by');
SELECT is((pg_temp.paid(:'h7', 'pay-h7')) ->> 'state', 'REFUND_REQUIRED', 'the result again: nothing new');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE routing_key = 'payment.refund_requested'
              AND payload #>> '{data,hold_id}' = :'h7'), 1, 'still one refund request');
RESET eventsvc.clock_offset_seconds;
SELECT is(pg_temp.seats('c2'), '2 held, 0 sold, drift 0, oversold false, rows agree true', 'never oversold');
SELECT is((SELECT jsonb_agg(e ->> 'action') FROM jsonb_array_elements((api.hold_history(:'h7')) -> 'history') e),
          '["reserved", "payment_started", "expired", "refund_required"]', 'its history, in order');

-- ---------------------------------------------------------------- paid after expiry: the reason says where the seats went
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a', '4a4a0000-0000-4000-8000-0000000000c4',
     '4a4a0000-0000-4000-8000-0000000000e1', 'Loge', 1, 1),
    ('4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a', '4a4a0000-0000-4000-8000-0000000000c5',
     '4a4a0000-0000-4000-8000-0000000000e1', 'Gallery', 1, 1);
SET app.current_user_id = 'pat';
SELECT pg_temp.hold('c4', 1) AS h10 \gset
SELECT pg_temp.hold('c5', 1) AS h11 \gset
SELECT api.start_payment(:'h10', 'pay-h10') IS NOT NULL AS started, api.start_payment(:'h11', 'pay-h11') IS NOT NULL AS started;
SET app.current_user_id = 'rae';
SELECT is((api.join_waitlist('4a4a0000-0000-4000-8000-0000000000c5', 1)) ->> 'state', 'WAITING', 'rae waits for the gallery seat');
SET eventsvc.clock_offset_seconds = 1000;
SELECT ok(api.expire_holds(1000) >= 2, 'both unpaid holds expire: the gallery seat is offered to rae');
SET app.current_user_id = 'quinn';
SELECT api.confirm_hold(pg_temp.hold('c4', 1)) IS NOT NULL AS quinn_bought;
SET app.current_user_id = 'pat';
SELECT is((pg_temp.paid(:'h10', 'pay-h10')) ->> 'reason', 'its seats were sold after the hold ended',
          'the loge seat was sold to another buyer: the reason says sold');
SELECT is((pg_temp.paid(:'h11', 'pay-h11')) ->> 'reason', 'its seats were set aside for the waitlist after the hold ended',
          'the gallery seat went to the waitlist, not sold: the reason says so');
RESET eventsvc.clock_offset_seconds;
-- rae's offer ends and her waitlist rows go: later files count every section's waitlist
SET app.current_user_id = 'rae';
SELECT api.leave_waitlist(id) IS NOT NULL AS rae_left FROM eventsvc.waitlist_entries WHERE holder_id = 'rae';
SET app.current_user_id = 'pat';
SET session_replication_role = replica;
DELETE FROM eventsvc.waitlist_entries WHERE tenant_id = '4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a';
DELETE FROM eventsvc.waitlist_sections WHERE tenant_id = '4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a';
RESET session_replication_role;

-- ---------------------------------------------------------------- released during payment, event no longer on sale
SELECT pg_temp.hold('c1', 1) AS h8 \gset
SELECT to_jsonb(api.start_payment(:'h8', 'pay-h8')) IS NOT NULL AS started;
SELECT to_jsonb(api.release_hold(:'h8')) IS NOT NULL AS released;
UPDATE eventsvc.events SET status = 'SALES_PAUSED' WHERE id = '4a4a0000-0000-4000-8000-0000000000e1';
SELECT is((pg_temp.paid(:'h8', 'pay-h8')) ->> 'reason', 'the event is no longer on sale (SALES_PAUSED)',
          'a paused event sells nothing again: refund required');
UPDATE eventsvc.events SET status = 'ON_SALE' WHERE id = '4a4a0000-0000-4000-8000-0000000000e1';

-- ---------------------------------------------------------------- retention and archive
SELECT pg_temp.hold('c1', 1) AS h9 \gset
SELECT to_jsonb(api.release_hold(:'h9')) IS NOT NULL AS released;
SELECT is((SELECT reason FROM api.holds WHERE id = :'h9'), 'released', 'a released hold stays visible');
SET eventsvc.hold_retention_seconds = 3600;
SET eventsvc.clock_offset_seconds = 7200;
SELECT ok(api.expire_holds(1000) >= 0, 'a sweep two hours later');
RESET eventsvc.clock_offset_seconds;
RESET eventsvc.hold_retention_seconds;
SELECT is((SELECT count(*)::int FROM api.holds WHERE id IN (:'h9', :'h1', :'h7')), 2,
          'the released hold left api.holds; the purchase and the refund-required hold stay');
SELECT is((SELECT state::text FROM eventsvc.capacity_holds_archive WHERE id = :'h9'), 'RELEASED', 'it is in the archive');
SELECT is((api.hold_history(:'h9')) ->> 'archived', 'true', 'and its history still answers');
SELECT is(pg_temp.seats('c1'), '0 held, 7 sold, drift 0, oversold false, rows agree true',
          'the counter rows lost the archived holds with them');

SELECT * FROM finish();
