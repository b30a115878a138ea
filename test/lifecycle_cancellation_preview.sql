-- pgTAP: the cancellation preview. api.preview_cancellation changes nothing (but storing
-- its code) and says what the cancellation would do: the holds it releases, each purchase
-- it refunds with its amount (the organiser's refund under the policy the purchase was
-- sold under: fees kept, never the late percentage) and the totals by currency. An event
-- with purchases is cancelled only with a live code of the caller's own preview; a sale
-- after the preview makes the code stale (PT409). The real run then does exactly what the
-- preview said: the same purchases, the same amounts, the same totals, the same holds.
-- Commits as it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(34);

SELECT eventsvc.create_tenant('Tap Preview', 'tap-preview', '36363636-3636-4636-8636-363636363636') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('36363636-3636-4636-8636-363636363636', '36360000-0000-4000-8000-00000000000a', 'Preview Hall', 500);
SET eventsvc.import_mode = on;   -- fixtures on sale, dates moved (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('36363636-3636-4636-8636-363636363636', '36360000-0000-4000-8000-0000000000e1',
     '36360000-0000-4000-8000-00000000000a', 'Preview Night', 'preview-night', 'ON_SALE',
     eventsvc.now() + interval '30 days', eventsvc.now() + interval '30 days 3 hours'),
    ('36363636-3636-4636-8636-363636363636', '36360000-0000-4000-8000-0000000000e2',
     '36360000-0000-4000-8000-00000000000a', 'Empty Night', 'empty-night', 'ON_SALE',
     eventsvc.now() + interval '40 days', eventsvc.now() + interval '40 days 3 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('36363636-3636-4636-8636-363636363636', '36360000-0000-4000-8000-0000000000c1',
     '36360000-0000-4000-8000-0000000000e1', 'Stalls', 20, 20),
    ('36363636-3636-4636-8636-363636363636', '36360000-0000-4000-8000-0000000000c2',
     '36360000-0000-4000-8000-0000000000e2', 'Stalls', 20, 20);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, service_fee, facility_fee, tax_rate, currency)
VALUES ('36363636-3636-4636-8636-363636363636', '36360000-0000-4000-8000-0000000000fa',
        '36360000-0000-4000-8000-0000000000e1', 'A', 1001, 100, 50, 0.10, 'USD'),
       ('36363636-3636-4636-8636-363636363636', '36360000-0000-4000-8000-0000000000fe',
        '36360000-0000-4000-8000-0000000000e1', 'Euro', 2000, 0, 0, 0, 'EUR');
SET app.current_tenant_id = '36363636-3636-4636-8636-363636363636';
SET app.current_user_id = 'olga';
SELECT api.set_refund_policy('{"full_refund_days": 14, "late_refund_percent": 50, "fees_refundable": false}') IS NOT NULL;

CREATE FUNCTION pg_temp.buy(tier text, n integer) RETURNS uuid LANGUAGE sql AS $$
    SELECT ((to_jsonb(api.confirm_hold(((to_jsonb(api.reserve_capacity('36360000-0000-4000-8000-0000000000c1', n,
             ('36360000-0000-4000-8000-0000000000f' || tier)::uuid))) ->> 'id')::uuid))) ->> 'id')::uuid
$$;
-- everything a cancellation would change, as one text
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql AS $$
    SELECT (SELECT status::text FROM eventsvc.events WHERE id = '36360000-0000-4000-8000-0000000000e1') || ' / '
        || (SELECT string_agg(state::text || quantity, ',' ORDER BY id) FROM eventsvc.capacity_holds
             WHERE event_id = '36360000-0000-4000-8000-0000000000e1') || ' / '
        || (SELECT count(*) FROM eventsvc.hold_refunds WHERE tenant_id = '36363636-3636-4636-8636-363636363636') || ' refunds / '
        || (SELECT count(*) FROM eventsvc.outbox WHERE tenant_id = '36363636-3636-4636-8636-363636363636') || ' messages / '
        || (SELECT count(*) FROM eventsvc.event_cancellation_reports WHERE tenant_id = '36363636-3636-4636-8636-363636363636')
        || ' reports / ' || (SELECT string_agg(is_active::text, ',') FROM eventsvc.event_capacity
                              WHERE event_id = '36360000-0000-4000-8000-0000000000e1')
$$;

SELECT pg_temp.buy('a', 2) AS p1, pg_temp.buy('a', 1) AS p2, pg_temp.buy('e', 3) AS p3 \gset
SELECT (to_jsonb(api.reserve_capacity('36360000-0000-4000-8000-0000000000c1', 1))) ->> 'id' AS live \gset
-- the buyer gave one seat of p1 back 30 days before (full period: 12.66 less 1.50 fees)
SELECT is((api.refund_purchase(:'p1', 'one seat back', 1)) -> 'amount', '1116'::jsonb, 'a buyer''s refund before');
-- now the event is 1 day away: a buyer's refund would be late (50 %), the organiser's is not
SET eventsvc.import_mode = on;
UPDATE eventsvc.events SET starts_at = eventsvc.now() + interval '1 day', ends_at = eventsvc.now() + interval '1 day 3 hours'
 WHERE id = '36360000-0000-4000-8000-0000000000e1';
RESET eventsvc.import_mode;

-- ---------------------------------------------------------------- the preview changes nothing
SELECT pg_temp.state() AS before \gset
SELECT count(*) AS codes_before FROM eventsvc.confirmation_tokens WHERE tenant_id = '36363636-3636-4636-8636-363636363636' \gset
SET ROLE eventsvc_user;
SELECT throws_ok($$SELECT api.preview_cancellation('36360000-0000-4000-8000-0000000000e1')$$, '42501', NULL,
                 'after sales only a tenant admin may cancel, or preview it');
SET ROLE eventsvc_admin;
SELECT api.preview_cancellation('36360000-0000-4000-8000-0000000000e1') AS pv \gset
RESET ROLE;
SELECT is(pg_temp.state(), :'before', 'the preview changed no hold, refund, message, report, section or status');
SELECT is((SELECT count(*)::int FROM eventsvc.confirmation_tokens WHERE tenant_id = '36363636-3636-4636-8636-363636363636'),
          :codes_before + 1, 'it stored only its code');
SELECT ok((:'pv'::jsonb ->> 'confirmation_code') IS NOT NULL
          AND (:'pv'::jsonb ->> 'expires_at')::timestamptz > eventsvc.now() + interval '299 seconds'
          AND (:'pv'::jsonb ->> 'expires_at')::timestamptz <= eventsvc.now() + interval '300 seconds',
          'a confirmation code valid 5 minutes');
SELECT is((:'pv'::jsonb ->> 'purchase_count')::int, 3, 'three purchases to refund');
SELECT is((SELECT amount FROM jsonb_to_recordset(:'pv'::jsonb -> 'purchases') AS x(hold_id uuid, amount bigint)
            WHERE hold_id = :'p2'), 1116::bigint,
          'p2: the organiser''s refund is the share less the fees kept, never the late 50 %');
SELECT is((SELECT amount FROM jsonb_to_recordset(:'pv'::jsonb -> 'purchases') AS x(hold_id uuid, amount bigint)
            WHERE hold_id = :'p1'), 1116::bigint, 'p1: its last seat, 25.32 - 12.66 less 1.50 fees');
SELECT is(:'pv'::jsonb -> 'refund_totals',
          '[{"seats": 3, "amount": 6000, "currency": "EUR", "purchases": 1}, {"seats": 2, "amount": 2232, "currency": "USD", "purchases": 2}]'::jsonb,
          'the totals by currency');
SELECT is(:'pv'::jsonb #> '{holds_to_release,count}', '1'::jsonb, 'one live hold to release');
SELECT is(:'pv'::jsonb #>> '{holds_to_release,holds,0,hold_id}', :'live', 'the live hold, named');
SELECT ok(:'pv'::jsonb #>> '{listings_to_withdraw,request}' LIKE 'POST /internal/events/36360000-0000-4000-8000-0000000000e1/cancel-listings',
          'the resale listings withdrawn');
SELECT is(:'pv'::jsonb -> 'refund_calls',
          '{"service": "payment", "step": "refund_payments", "request": "POST /internal/refunds/bulk", "count": 3,
            "idempotency_key": "refund:<purchase>:<n>"}'::jsonb,
          'each purchase paid by one call of the saga''s refund_payments step');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(:'pv'::jsonb -> 'messages') m
            WHERE m ->> 'routing_key' = 'payment.refund_requested'), 0, 'and by no payment.refund_requested message');

-- ---------------------------------------------------------------- no code, wrong code, stale code
SELECT throws_ok($$SELECT api.cancel_event('36360000-0000-4000-8000-0000000000e1', 'storm')$$, 'PT428',
                 'cancelling event 36360000-0000-4000-8000-0000000000e1 refunds its purchases: confirm it with a preview''s code',
                 'cancel_event refuses an event with purchases');
SELECT throws_ok($$SELECT api.transition_event('36360000-0000-4000-8000-0000000000e1', 'CANCELLED', 'storm')$$, 'PT428',
                 NULL, 'and so does transition_event');
SELECT throws_ok(format('SELECT api.confirm_cancellation(%L, gen_random_uuid(), %L)', '36360000-0000-4000-8000-0000000000e1', 'storm'),
                 'PT428', NULL, 'an unknown code is refused');
SET app.current_user_id = 'mallory';
SELECT throws_ok(format('SELECT api.confirm_cancellation(%L, %L, %L)', '36360000-0000-4000-8000-0000000000e1',
                        :'pv'::jsonb ->> 'confirmation_code', 'storm'),
                 'PT428', 'confirmation code ' || (:'pv'::jsonb ->> 'confirmation_code') || ' was issued for a different user',
                 'another user''s code is refused');
SET app.current_user_id = 'olga';
SET eventsvc.clock_offset_seconds = 300;
SELECT throws_ok(format('SELECT api.confirm_cancellation(%L, %L, %L)', '36360000-0000-4000-8000-0000000000e1',
                        :'pv'::jsonb ->> 'confirmation_code', 'storm'), 'PT428', NULL, 'a code 5 minutes old is expired');
RESET eventsvc.clock_offset_seconds;
SELECT pg_temp.buy('a', 1) AS p4 \gset
SELECT throws_ok(format('SELECT api.confirm_cancellation(%L, %L, %L)', '36360000-0000-4000-8000-0000000000e1',
                        :'pv'::jsonb ->> 'confirmation_code', 'storm'), 'PT409',
                 'the cancellation preview of event 36360000-0000-4000-8000-0000000000e1 is stale: its purchases or refunds changed since',
                 'a sale after the preview makes its code stale');
SELECT is(pg_temp.state() LIKE 'ON_SALE / %', true, 'and nothing was cancelled');

-- ---------------------------------------------------------------- the real run does what the preview said
SELECT api.preview_cancellation('36360000-0000-4000-8000-0000000000e1') AS pv2 \gset
SELECT is((:'pv2'::jsonb ->> 'purchase_count')::int, 4, 'a new preview sees the new sale');
SET ROLE eventsvc_admin;
SELECT api.confirm_cancellation('36360000-0000-4000-8000-0000000000e1', (:'pv2'::jsonb ->> 'confirmation_code')::uuid,
                                'Headliner cancelled the tour') AS done \gset
RESET ROLE;
SELECT is(:'done'::jsonb ->> 'status', 'CANCELLED', 'cancelled with the code');
SELECT is((SELECT jsonb_agg(jsonb_build_object('hold_id', r.hold_id, 'amount', r.amount, 'currency', r.currency) ORDER BY r.hold_id)
             FROM eventsvc.hold_refunds r WHERE r.event_id = '36360000-0000-4000-8000-0000000000e1'
              AND r.reason = 'Headliner cancelled the tour'),
          (SELECT jsonb_agg(jsonb_build_object('hold_id', p ->> 'hold_id', 'amount', (p ->> 'amount')::bigint,
                                               'currency', p ->> 'currency') ORDER BY p ->> 'hold_id')
             FROM jsonb_array_elements(:'pv2'::jsonb -> 'purchases') p),
          'the refunds made are the previewed ones: the same purchases, amounts and currencies');
SELECT is(:'done'::jsonb #> '{cancellation,refund_totals}', :'pv2'::jsonb -> 'refund_totals', 'the same totals by currency');
SELECT is((:'done'::jsonb #>> '{cancellation,holds_released}')::int, (:'pv2'::jsonb #>> '{holds_to_release,count}')::int,
          'the previewed holds released');
SELECT is((SELECT string_agg(DISTINCT state::text, ',') FROM eventsvc.capacity_holds
            WHERE event_id = '36360000-0000-4000-8000-0000000000e1'), 'REFUNDED,RELEASED',
          'every purchase refunded, the live hold released');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '36363636-3636-4636-8636-363636363636'
            AND routing_key = 'payment.refund_requested' AND payload #>> '{data,reason}' = 'Headliner cancelled the tour'),
          0, 'no payment.refund_requested message: the saga''s refund_payments step pays them');
-- the saga's refund_payments step: one call per refund, the refund alone, its own key and amount
SELECT r.id AS report FROM eventsvc.event_cancellation_reports r WHERE r.event_id = '36360000-0000-4000-8000-0000000000e1' \gset
SELECT is((SELECT jsonb_agg(jsonb_build_object('key', c.idempotency_key, 'hold_id', c.body::jsonb #>> '{refunds,0,purchaseId}',
                                               'amount', (c.body::jsonb #>> '{refunds,0,amount}')::bigint,
                                               'holder_id', c.body::jsonb #>> '{refunds,0,holderId}',
                                               'ticket_ids', c.body::jsonb -> 'ticketIds',
                                               'body_key', c.body::jsonb #>> '{refunds,0,idempotencyKey}') ORDER BY c.call_no)
             FROM eventsvc.saga_step_calls('36363636-3636-4636-8636-363636363636', :'report', 3::smallint, 100) c
            WHERE c.path = '/internal/refunds/bulk'),
          (SELECT jsonb_agg(jsonb_build_object('key', h.idempotency_key, 'hold_id', h.hold_id, 'amount', h.amount,
                                               'holder_id', k.holder_id, 'ticket_ids', '[]'::jsonb,
                                               'body_key', h.idempotency_key) ORDER BY h.hold_id)
             FROM eventsvc.hold_refunds h JOIN eventsvc.capacity_holds k ON k.tenant_id = h.tenant_id AND k.id = h.hold_id
            WHERE h.event_id = '36360000-0000-4000-8000-0000000000e1' AND h.reason = 'Headliner cancelled the tour'),
          'refund_payments: one call per refund, keyed refund:<purchase>:<n>, with its amount, no ticket ids');
SELECT is((SELECT sum((c.body::jsonb #>> '{refunds,0,amount}')::bigint)::bigint
             FROM eventsvc.saga_step_calls('36363636-3636-4636-8636-363636363636', :'report', 3::smallint, 100) c),
          (SELECT sum((t ->> 'amount')::bigint) FROM jsonb_array_elements(:'pv2'::jsonb -> 'refund_totals') t)::bigint,
          'the calls pay the previewed total');
UPDATE eventsvc.cancellation_steps SET result = '{"calls_done": 2}'
 WHERE report_id = :'report' AND step = 'refund_payments';
SELECT is((SELECT string_agg(c.call_no::text, ',' ORDER BY c.call_no)
             FROM eventsvc.saga_step_calls('36363636-3636-4636-8636-363636363636', :'report', 3::smallint, 100) c),
          '3,4', 'after a restart only the refunds not yet recorded are called again');
SELECT is((SELECT report -> 'refund_totals' FROM eventsvc.event_cancellation_reports
            WHERE event_id = '36360000-0000-4000-8000-0000000000e1'), :'pv2'::jsonb -> 'refund_totals',
          'the cancellation report keeps the refunds by currency');
SELECT throws_ok(format('SELECT api.confirm_cancellation(%L, %L, %L)', '36360000-0000-4000-8000-0000000000e1',
                        :'pv2'::jsonb ->> 'confirmation_code', 'again'), 'PT409', NULL, 'cancelling twice is refused');

-- an event without purchases is cancelled as before, without a code
SELECT is((api.cancel_event('36360000-0000-4000-8000-0000000000e2', 'no sales')) ->> 'status', 'CANCELLED',
          'an event without purchases needs no code');

SELECT * FROM finish();
