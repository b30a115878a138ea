-- pgTAP: refund policies. A tenant default and tiers' own policies (full until N days
-- before the event, then a percentage; fees refundable or not); each purchase stores the
-- policy in force when it is sold (confirm_hold and confirm_payment), and its refunds
-- follow that snapshot, not the current policy: fees kept, the full period's boundary
-- (inclusive, to the microsecond), percentages rounded half to even, a purchase without
-- a policy refunded in full, one without a price refunding 0. Who may set a policy, what
-- is refused, and another tenant sees none of it. Commits as it goes, own tenants.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(40);

SELECT eventsvc.create_tenant('Tap Policy', 'tap-policy', '48484848-4848-4848-8848-484848484848') IS NOT NULL;
SELECT eventsvc.create_tenant('Tap Policy Other', 'tap-policy-other', '48484848-4848-4848-8848-4848484848ff') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('48484848-4848-4848-8848-484848484848', '48480000-0000-4000-8000-00000000000a', 'Policy Hall', 500);
SET eventsvc.import_mode = on;   -- fixtures on sale, dates moved (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('48484848-4848-4848-8848-484848484848', '48480000-0000-4000-8000-0000000000e1',
     '48480000-0000-4000-8000-00000000000a', 'Policy Night', 'policy-night', 'ON_SALE',
     eventsvc.now() + interval '30 days', eventsvc.now() + interval '30 days 3 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('48484848-4848-4848-8848-484848484848', '48480000-0000-4000-8000-0000000000c1',
     '48480000-0000-4000-8000-0000000000e1', 'Stalls', 100, 100);
-- A and B: 10.01 a seat, 1.00 + 0.50 fees, 10 % tax (3 seats: 30.03 + 4.50 = 34.53, tax 3.45, total 37.98);
-- C: 10.01, no fees, no tax
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, service_fee, facility_fee, tax_rate) VALUES
    ('48484848-4848-4848-8848-484848484848', '48480000-0000-4000-8000-0000000000fa',
     '48480000-0000-4000-8000-0000000000e1', 'A', 1001, 100, 50, 0.10),
    ('48484848-4848-4848-8848-484848484848', '48480000-0000-4000-8000-0000000000fb',
     '48480000-0000-4000-8000-0000000000e1', 'B', 1001, 100, 50, 0.10),
    ('48484848-4848-4848-8848-484848484848', '48480000-0000-4000-8000-0000000000fc',
     '48480000-0000-4000-8000-0000000000e1', 'C', 1001, 0, 0, 0);
SET app.current_tenant_id = '48484848-4848-4848-8848-484848484848';
SET app.current_user_id = 'pia';

CREATE FUNCTION pg_temp.buy(tier text, n integer) RETURNS uuid LANGUAGE sql AS $$
    SELECT ((to_jsonb(api.confirm_hold(((to_jsonb(api.reserve_capacity('48480000-0000-4000-8000-0000000000c1', n,
             CASE WHEN tier IS NOT NULL THEN ('48480000-0000-4000-8000-0000000000f' || tier)::uuid END))) ->> 'id')::uuid)))
             ->> 'id')::uuid
$$;
CREATE FUNCTION pg_temp.snap(p uuid) RETURNS text LANGUAGE sql AS $$
    SELECT source || ' ' || full_refund_days || 'd ' || late_refund_percent || '% fees ' || fees_refundable
      FROM api.purchase_refund_policies WHERE hold_id = p
$$;

-- ---------------------------------------------------------------- who may set a policy, what is refused
SET ROLE eventsvc_user;
SELECT throws_ok($$SELECT api.set_refund_policy('{"full_refund_days": 14, "late_refund_percent": 50}')$$,
                 '42501', 'only a tenant admin may set a refund policy', 'a tenant user may not set a policy');
RESET ROLE;
SELECT throws_ok($$SELECT api.set_refund_policy('{"full_refund_days": 14, "late_refund_percent": 50, "window": 3}')$$,
                 '22023', 'policy.window: unknown key', 'an unknown key is named');
SELECT throws_ok($$SELECT api.set_refund_policy('{"full_refund_days": 14, "late_refund_percent": 12.345}')$$,
                 '22023', 'policy.late_refund_percent: is required, a percentage from 0 to 100 with at most 2 decimals',
                 'a percentage with three decimals is refused, not rounded');
SELECT throws_ok($$SELECT api.set_refund_policy('{"full_refund_days": 14, "late_refund_percent": 100.01}')$$,
                 '22023', NULL, 'more than 100 % is refused');
SELECT throws_ok($$SELECT api.set_refund_policy('{"full_refund_days": 14, "late_refund_percent": -1}')$$,
                 '22023', NULL, 'a negative percentage is refused');
SELECT throws_ok($$SELECT api.set_refund_policy('{"full_refund_days": 1.5, "late_refund_percent": 50}')$$,
                 '22023', 'policy.full_refund_days: is required, a whole number of days from 0 to 3650',
                 'days are whole');
SELECT throws_ok($$SELECT api.set_refund_policy('{"full_refund_days": 3651, "late_refund_percent": 50}')$$,
                 '22023', NULL, 'at most ten years of days');
SELECT throws_ok($$SELECT api.set_refund_policy('{"late_refund_percent": 50}')$$,
                 '22023', NULL, 'full_refund_days is required');
SELECT throws_ok($$SELECT api.set_refund_policy('{"full_refund_days": 1, "late_refund_percent": 50, "fees_refundable": "no"}')$$,
                 '22023', 'policy.fees_refundable: must be true or false', 'fees_refundable is a boolean');
SELECT throws_ok($$SELECT api.set_refund_policy('[1]')$$, '22023', 'policy must be a JSON object', 'not an object');
SELECT throws_ok($$SELECT api.set_refund_policy('{"full_refund_days": 1, "late_refund_percent": 0}',
                                                '48480000-0000-4000-8000-0000000000ff')$$,
                 'PT404', 'pricing tier not found', 'an unknown tier is not found');
SELECT is(count(*)::int, 0, 'nothing was written by the refused calls') FROM eventsvc.refund_policies
 WHERE tenant_id = '48484848-4848-4848-8848-484848484848';

-- ---------------------------------------------------------------- the policies and their snapshots
SELECT is((api.set_refund_policy('{"full_refund_days": 14, "late_refund_percent": 50, "fees_refundable": false}'))
          -> 'policy' ->> 'late_refund_percent', '50.00', 'the tenant default: full until 14 days, then 50 %, fees kept');
SELECT is((api.set_refund_policy('{"full_refund_days": 7, "late_refund_percent": 33.33}',
                                 '48480000-0000-4000-8000-0000000000fb')) #>> '{policy,fees_refundable}', 'true',
          'tier B: 7 days, then 33.33 %; fees refundable by default');
SELECT is((api.set_refund_policy('{"full_refund_days": 3650, "late_refund_percent": 50}',
                                 '48480000-0000-4000-8000-0000000000fc')) #>> '{policy,full_refund_days}', '3650',
          'tier C: always late, 50 %');
SELECT pg_temp.buy('a', 3) AS pa, pg_temp.buy('b', 3) AS pb, pg_temp.buy('c', 1) AS pc1, pg_temp.buy('c', 3) AS pc3,
       pg_temp.buy(NULL, 2) AS pn \gset
SELECT is(pg_temp.snap(:'pa'), 'tenant 14d 50.00% fees false', 'a purchase of tier A keeps the tenant default');
SELECT is(pg_temp.snap(:'pb'), 'tier 7d 33.33% fees true', 'a purchase of tier B keeps its tier''s policy');
SELECT is(pg_temp.snap(:'pn'), 'tenant 14d 50.00% fees false', 'a purchase without a tier keeps the tenant default');
-- the default changes after the sale: old purchases keep theirs, new ones get the new one
SELECT lives_ok($$SELECT api.set_refund_policy('{"full_refund_days": 0, "late_refund_percent": 100}')$$,
                'the tenant default becomes generous');
SELECT pg_temp.buy('a', 3) AS pa2 \gset
SELECT is(pg_temp.snap(:'pa'), 'tenant 14d 50.00% fees false', 'the earlier purchase keeps the policy it was sold under');
SELECT is(pg_temp.snap(:'pa2'), 'tenant 0d 100.00% fees true', 'a later purchase gets the policy in force then');

-- ---------------------------------------------------------------- refunds follow the snapshot
SELECT api.refund_purchase(:'pa', 'cannot come', 1) AS r \gset
SELECT is((:'r'::jsonb ->> 'amount')::bigint, 1116::bigint,
          '30 days before (full period): one seat of three is round(3798 / 3) = 1266, less its 1.50 fees kept = 1116');
SELECT is(:'r'::jsonb #>> '{lines,policy,late}' || ' ' || (:'r'::jsonb #>> '{lines,policy,fees_kept}'), 'false 150',
          'the lines say: not late, 1.50 of fees kept');
SELECT is((SELECT payload #>> '{data,amount}' FROM eventsvc.outbox WHERE payload #>> '{data,refund_id}' = :'r'::jsonb ->> 'id'),
          '1116', 'the payment service is asked for the amount after the policy');
SELECT is((api.refund_purchase(:'pa2', 'cannot come', 1)) -> 'amount', '1266'::jsonb,
          'the same seat of a purchase sold under the generous policy: 1266, fees and all');
-- the boundary of the full period, in one transaction (one eventsvc.now())
BEGIN;
SET eventsvc.import_mode = on;
UPDATE eventsvc.events SET starts_at = eventsvc.now() + interval '7 days', ends_at = eventsvc.now() + interval '8 days'
 WHERE id = '48480000-0000-4000-8000-0000000000e1';
RESET eventsvc.import_mode;
SELECT is((api.refund_purchase(:'pb', 'exactly 7 days before', 1)) #>> '{lines,policy,late}', 'false',
          'exactly 7 days (of 24 h) before the start is still the full period');
SET eventsvc.import_mode = on;
UPDATE eventsvc.events SET starts_at = eventsvc.now() + interval '7 days' - interval '1 microsecond'
 WHERE id = '48480000-0000-4000-8000-0000000000e1';
RESET eventsvc.import_mode;
SELECT api.refund_purchase(:'pb', 'a microsecond later', 1) AS late \gset
COMMIT;
SELECT is((:'late'::jsonb ->> 'amount')::bigint, 422::bigint,
          'a microsecond later: 33.33 % of 1266 = 421.9578 -> 422 (fees refundable under tier B)');
SELECT is((:'late'::jsonb #>> '{lines,policy,percentage_kept}')::bigint, 844::bigint, 'and 8.44 is kept: 1266 - 422');
SELECT is((SELECT sum(amount) FROM eventsvc.hold_refunds WHERE hold_id = :'pb'), (1266 + 422)::numeric,
          'tier B''s purchase: one full seat, one late');
-- half to even on exact halves
SELECT is((api.refund_purchase(:'pc1', 'late', 1)) -> 'amount', '500'::jsonb, '50 % of 10.01 = 5.005 -> 5.00 (0 is even)');
SELECT is((api.refund_purchase(:'pc3', 'late')) -> 'amount', '1502'::jsonb, '50 % of 30.03 = 15.015 -> 15.02 (2 is even)');
SELECT is((api.refund_purchase(:'pn', 'no price')) -> 'amount', '0'::jsonb, 'a purchase without a price refunds 0');
-- after the start, the tenant's generous default is still full (0 days is the start itself)
SET eventsvc.import_mode = on;
UPDATE eventsvc.events SET starts_at = eventsvc.now() - interval '1 hour', ends_at = eventsvc.now() + interval '2 hours'
 WHERE id = '48480000-0000-4000-8000-0000000000e1';
RESET eventsvc.import_mode;
SELECT is((api.refund_purchase(:'pa2', 'after the start', 1)) -> 'amount', '1266'::jsonb,
          'a late refund under 100 % gives the whole share back');
SELECT is((api.refund_purchase(:'pa', 'after the start', 2)) -> 'amount', '1116'::jsonb,
          'two seats late under the tenant''s old policy: (3798 - 1266) - 300 fees = 2232, half = 1116');
SET eventsvc.import_mode = on;
UPDATE eventsvc.events SET starts_at = eventsvc.now() + interval '30 days', ends_at = eventsvc.now() + interval '30 days 3 hours'
 WHERE id = '48480000-0000-4000-8000-0000000000e1';
RESET eventsvc.import_mode;

-- ---------------------------------------------------------------- no policy; payment; other tenants
SELECT is((api.set_refund_policy(NULL)) -> 'policy', 'null'::jsonb, 'the tenant default removed');
SELECT pg_temp.buy('a', 1) AS pf \gset
SELECT is(pg_temp.snap(:'pf'), NULL, 'sold without a policy: no snapshot');
SELECT is((api.refund_purchase(:'pf', 'no policy')) -> 'amount', '1266'::jsonb, 'refunded in full, fees and all');
SELECT api.set_refund_policy('{"full_refund_days": 2, "late_refund_percent": 10}') IS NOT NULL;
SELECT (to_jsonb(api.reserve_capacity('48480000-0000-4000-8000-0000000000c1', 1, '48480000-0000-4000-8000-0000000000fa'))) ->> 'id'
       AS pp \gset
SELECT to_jsonb(api.start_payment(:'pp', 'pi_policy')) IS NOT NULL;
SELECT is((to_jsonb(api.confirm_payment(:'pp', 'pi_policy'))) ->> 'state', 'CONFIRMED', 'paid');
SELECT is(pg_temp.snap(:'pp'), 'tenant 2d 10.00% fees true', 'a purchase sold by its payment keeps the policy too');
SET app.current_tenant_id = '48484848-4848-4848-8848-4848484848ff';
SET ROLE eventsvc_user;
SELECT is((SELECT count(*)::int FROM api.refund_policies) + (SELECT count(*)::int FROM api.purchase_refund_policies), 0,
          'another tenant sees no policy and no snapshot');
RESET ROLE;

SELECT * FROM finish();
