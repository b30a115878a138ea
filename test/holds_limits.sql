-- pgTAP: per-customer limits. An event's own limit, else the tenant's default,
-- else the cluster's eventsvc.max_seats_per_holder; a tier's max_per_customer on
-- top; seats counted across every tier, holds without a tier and other sections
-- of the event, live and confirmed; the refusal says how many more. Own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(30);

SELECT eventsvc.create_tenant('Tap Limits', 'tap-limits', '43434343-4343-4343-8343-434343434343') IS NOT NULL;
SELECT eventsvc.create_tenant('Tap Limits Other', 'tap-limits-other', '43434343-0000-4343-8343-434343434343') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('43434343-4343-4343-8343-434343434343', '43430000-0000-4000-8000-00000000000a', 'Limit Hall', 500),
    ('43434343-0000-4343-8343-434343434343', '43430000-0000-4000-8000-00000000000b', 'Other Hall', 500);
SET eventsvc.import_mode = on;   -- a fixture on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('43434343-4343-4343-8343-434343434343', '43430000-0000-4000-8000-0000000000e1',
     '43430000-0000-4000-8000-00000000000a', 'Limit Night', 'limit-night', 'ON_SALE'),
    ('43434343-4343-4343-8343-434343434343', '43430000-0000-4000-8000-0000000000e2',
     '43430000-0000-4000-8000-00000000000a', 'Limit Matinee', 'limit-matinee', 'ON_SALE'),
    ('43434343-0000-4343-8343-434343434343', '43430000-0000-4000-8000-0000000000e9',
     '43430000-0000-4000-8000-00000000000b', 'Other Night', 'other-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('43434343-4343-4343-8343-434343434343', '43430000-0000-4000-8000-0000000000c1',
     '43430000-0000-4000-8000-0000000000e1', 'Floor', 100, 100),
    ('43434343-4343-4343-8343-434343434343', '43430000-0000-4000-8000-0000000000c2',
     '43430000-0000-4000-8000-0000000000e1', 'Balcony', 100, 100),
    ('43434343-4343-4343-8343-434343434343', '43430000-0000-4000-8000-0000000000c3',
     '43430000-0000-4000-8000-0000000000e2', 'Matinee', 100, 100),
    ('43434343-0000-4343-8343-434343434343', '43430000-0000-4000-8000-0000000000c9',
     '43430000-0000-4000-8000-0000000000e9', 'Other', 100, 100);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, max_per_customer) VALUES
    ('43434343-4343-4343-8343-434343434343', '43430000-0000-4000-8000-0000000000f1',
     '43430000-0000-4000-8000-0000000000e1', 'Open', 1000, NULL),
    ('43434343-4343-4343-8343-434343434343', '43430000-0000-4000-8000-0000000000f2',
     '43430000-0000-4000-8000-0000000000e1', 'Capped', 2000, 3);
SET app.current_tenant_id = '43434343-4343-4343-8343-434343434343';
SET app.current_user_id = 'carol';

CREATE FUNCTION pg_temp.hold(section text, n integer, tier text DEFAULT NULL) RETURNS integer LANGUAGE sql AS $$
    SELECT ((to_jsonb(api.reserve_capacity(('43430000-0000-4000-8000-0000000000' || section)::uuid, n,
                                 ('43430000-0000-4000-8000-0000000000' || tier)::uuid))) ->> 'quantity')::integer
$$;
CREATE FUNCTION pg_temp.allowance(event text, tier text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
    SELECT a ->> 'seats' || ' of ' || coalesce(a ->> 'limit', 'none') || ', ' || coalesce(a ->> 'remaining', '-')
           || ' more (' || (a ->> 'source') || ')'
      FROM to_jsonb(api.seat_allowance(('43430000-0000-4000-8000-0000000000' || event)::uuid,
                                       ('43430000-0000-4000-8000-0000000000' || tier)::uuid)) a
$$;

-- No limit anywhere: the cluster setting is 0.
SELECT is(pg_temp.hold('c1', 20, 'f1'), 20, 'without a limit a customer holds 20');
SELECT is(pg_temp.allowance('e1'), '20 of none, - more (none)', 'the allowance says there is no limit');
SELECT is((SELECT count(*)::int FROM (SELECT to_jsonb(api.release_hold(id)) FROM eventsvc.capacity_holds
                                       WHERE tenant_id = current_setting('app.current_tenant_id')::uuid) r), 1,
          'released again');

-- The tenant's default: only a tenant admin sets it.
SET ROLE eventsvc_user;
SELECT throws_ok($$SELECT api.set_hold_settings('{"max_seats_per_customer": 4}')$$, '42501', NULL,
                 'a tenant user may not change the hold settings');
SELECT throws_ok($$SELECT api.set_customer_limit('43430000-0000-4000-8000-0000000000e1', 2)$$, '42501', NULL,
                 'nor set an event''s limit');
RESET ROLE;
SELECT is(api.set_hold_settings('{"max_seats_per_customer": 4}') -> 'max_seats_per_customer',
          '{"value": 4, "source": "tenant", "cluster_setting": "eventsvc.max_seats_per_holder"}'::jsonb,
          'the tenant''s default is 4');
SELECT throws_ok($$SELECT api.set_hold_settings('{"max_seats": 4}')$$, '22023',
                 'unknown hold setting "max_seats"', 'an unknown setting is named');
SELECT throws_ok($$SELECT api.set_hold_settings('{"max_seats_per_customer": 0}')$$, '22023',
                 'max_seats_per_customer must be a whole number from 1 to 1000000, or null', 'zero is out of range');
SELECT throws_ok($$SELECT api.set_hold_settings('{"max_seats_per_customer": "4"}')$$, '22023', NULL,
                 'a string is not a number');
SELECT throws_ok($$SELECT api.set_hold_settings('[]')$$, '22023', 'changes must be a JSON object', 'an array');

-- Across tiers, holds without a tier and the other section of the event.
SELECT is(pg_temp.hold('c1', 2, 'f1'), 2, 'two in a tier');
SELECT is(pg_temp.hold('c1', 1), 1, 'one without a tier');
SELECT is(pg_temp.hold('c2', 1), 1, 'one in the other section');
SELECT throws_ok($$SELECT pg_temp.hold('c2', 1, 'f1')$$, 'PT409',
                 'at most 4 seats per buyer for this event: carol already has 4', 'the fifth seat is refused');
SELECT is(pg_temp.allowance('e1'), '4 of 4, 0 more (default)', 'the allowance says none remain');
SELECT is(pg_temp.hold('c3', 4), 4, 'another event of the tenant has its own count');

-- The event's own limit overrides the tenant's default, both ways.
SELECT is(api.set_customer_limit('43430000-0000-4000-8000-0000000000e1', 6) ->> 'limit_in_force', '6', 'event limit 6');
SELECT is(pg_temp.hold('c1', 2), 2, 'two more under the event''s limit');
DO $$
BEGIN
    PERFORM pg_temp.hold('c1', 1);
EXCEPTION WHEN SQLSTATE 'PT409' THEN
    RAISE NOTICE 'refused';
END $$;
SELECT is(pg_temp.allowance('e1'), '6 of 6, 0 more (event)', 'six held, none remain');

-- The refusal says how many more the customer may take.
SELECT api.set_customer_limit('43430000-0000-4000-8000-0000000000e1', 8) IS NOT NULL AS limit_8;
CREATE TEMP TABLE refusal AS SELECT NULL::text AS msg, NULL::text AS detail;
DO $$
DECLARE m text; d text;
BEGIN
    PERFORM pg_temp.hold('c2', 5);
EXCEPTION WHEN SQLSTATE 'PT409' THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    UPDATE refusal SET msg = m, detail = d;
END $$;
SELECT is((SELECT msg || ' / ' || detail FROM refusal),
          'at most 8 seats per buyer for this event: carol already has 6 / Ask for at most 2 more.',
          'five asked, six held, limit eight: two more');

-- A tier's limit applies on top, counted over the whole event.
SELECT throws_ok($$SELECT pg_temp.hold('c1', 1, 'f2')$$, 'PT409',
                 'at most 3 seats per buyer for this event: carol already has 6', 'the tier''s 3 is already used up');
SELECT is(pg_temp.allowance('e1', 'f2'), '6 of 3, 0 more (tier)', 'the allowance in the tier');

-- Released and expired holds no longer count; confirmed ones do.
SELECT is((SELECT count(*)::int FROM (SELECT to_jsonb(api.release_hold(id)) FROM eventsvc.capacity_holds
                                       WHERE event_id = '43430000-0000-4000-8000-0000000000e1'
                                         AND state = 'ACTIVE' AND quantity = 2) r), 2, 'two holds of 2 released');
SELECT is((SELECT count(*)::int FROM (SELECT to_jsonb(api.confirm_hold(id)) FROM eventsvc.capacity_holds
                                       WHERE event_id = '43430000-0000-4000-8000-0000000000e1'
                                         AND state = 'ACTIVE') r), 2, 'the rest confirmed');
SELECT is(pg_temp.allowance('e1'), '2 of 8, 6 more (event)', 'released seats are free again, confirmed ones count');
SELECT is((SELECT p.prorettype::regtype FROM pg_proc p WHERE p.oid = 'api.seat_allowance(uuid, uuid)'::regprocedure),
          'api.allowance'::regtype, 'seat_allowance is declared to return a row of api.allowance');
SELECT is((SELECT format('%s %s %s %s', a.seats, a."limit", a.remaining, a.source)
             FROM api.seat_allowance('43430000-0000-4000-8000-0000000000e1') a),
          '2 8 6 event', 'its figures are columns of their own');

-- Removing the event's limit brings the tenant's default back; the other tenant keeps the cluster's.
SELECT is(api.set_customer_limit('43430000-0000-4000-8000-0000000000e1', NULL) ->> 'limit_in_force', '4',
          'back to the default of 4');
SET app.current_tenant_id = '43434343-0000-4343-8343-434343434343';
SELECT is((to_jsonb(api.reserve_capacity('43430000-0000-4000-8000-0000000000c9', 10))) ->> 'quantity', '10',
          'another tenant is not bound by this tenant''s default');
SELECT throws_ok($$SELECT api.set_customer_limit('43430000-0000-4000-8000-0000000000e1', 2)$$, 'PT404', NULL,
                 'nor can it set a limit on this tenant''s event');

SELECT * FROM finish();
