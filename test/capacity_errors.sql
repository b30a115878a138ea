-- pgTAP: the SQLSTATE of every hold and pricing refusal (PostgREST maps them to
-- HTTP statuses: 22023 -> 400, 22003 -> 400, PT404, PT409, PT410, 42501 -> 403).
BEGIN;
SELECT plan(38);
SET LOCAL client_min_messages = warning;

SELECT eventsvc.create_tenant('Tap Seats', 'tap-seats', '88888888-8888-4888-8888-888888888888');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('88888888-8888-4888-8888-888888888888', '88888888-0000-4000-8000-00000000000a', 'Tap Hall', 50);
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('88888888-8888-4888-8888-888888888888', '88888888-0000-4000-8000-0000000000e1',
     '88888888-0000-4000-8000-00000000000a', 'Tap Night', 'tap-night', 'ON_SALE');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity,
                                     maximum_purchase)
VALUES ('88888888-8888-4888-8888-888888888888', '88888888-0000-4000-8000-0000000000c1',
        '88888888-0000-4000-8000-0000000000e1', 'A', 5, 5, 4);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, sales_start_at, max_per_customer)
VALUES ('88888888-8888-4888-8888-888888888888', '88888888-0000-4000-8000-0000000000f1',
        '88888888-0000-4000-8000-0000000000e1', 'Later', 100, now() + interval '1 day', NULL),
       ('88888888-8888-4888-8888-888888888888', '88888888-0000-4000-8000-0000000000f2',
        '88888888-0000-4000-8000-0000000000e1', 'Now', 4611686018427387904, NULL, 3);
SET LOCAL app.current_tenant_id = '88888888-8888-4888-8888-888888888888';
SET LOCAL app.current_user_id = 'tap';

SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-0000000000c1', 0))$$, '22023', NULL, 'quantity 0 is 22023');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-0000000000c1', 5))$$, '22023', NULL, 'above maximum_purchase is 22023');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-00000000ffff', 1))$$, 'PT404', NULL, 'unknown section is PT404');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-0000000000c1', 1, '88888888-0000-4000-8000-00000000ffff'))$$,
                 'PT404', NULL, 'unknown tier is PT404');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-0000000000c1', 1, '88888888-0000-4000-8000-0000000000f1'))$$,
                 'PT409', 'the tier''s sales window is closed', 'closed sales window is PT409');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-0000000000c1', 2, '88888888-0000-4000-8000-0000000000f2'))$$,
                 '22003', NULL, 'a locked price that overflows is 22003 and nothing is held');
SELECT is((SELECT count(*)::int FROM eventsvc.capacity_holds WHERE tenant_id = '88888888-8888-4888-8888-888888888888'), 0,
          'the overflowing reservation left no row');
SELECT is((to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-0000000000c1', 3, holder_id => 'h1'))) ->> 'quantity', '3', 'three held');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-0000000000c1', 3, holder_id => 'h2'))$$,
                 'PT409', 'not enough seats: 3 requested, 2 remaining', 'sold out is PT409 and says what remains');
SELECT to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-0000000000c1', 1, '88888888-0000-4000-8000-0000000000f2', holder_id => 'h3')) AS h3 \gset
SELECT is(:'h3'::jsonb, (SELECT to_jsonb(h) FROM api.holds h WHERE h.id = (:'h3'::jsonb ->> 'id')::uuid),
          'a tier price of 2^62 fits for one ticket; the result is the stored hold row');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('88888888-0000-4000-8000-0000000000c1', 1, '88888888-0000-4000-8000-0000000000f2', holder_id => 'h1'))$$,
                 'PT409', 'at most 3 seats per buyer for this event: h1 already has 3', 'per-holder limit is PT409');

SELECT throws_ok($$SELECT to_jsonb(api.confirm_hold('88888888-0000-4000-8000-00000000ffff'))$$, 'PT404', NULL, 'unknown hold is PT404');
CREATE TEMP TABLE h AS SELECT id FROM eventsvc.capacity_holds WHERE holder_id = 'h1';
SET LOCAL app.current_user_id = 'h1';
SELECT is((to_jsonb(api.release_hold((SELECT id FROM h)))) ->> 'state', 'RELEASED', 'holder releases');
SELECT throws_ok($$SELECT to_jsonb(api.release_hold((SELECT id FROM h)))$$, 'PT410', NULL, 'second release is PT410');
SELECT throws_ok($$SELECT to_jsonb(api.confirm_hold((SELECT id FROM h)))$$, 'PT410', NULL, 'confirm after release is PT410');
SELECT throws_ok($$SELECT to_jsonb(api.extend_hold((SELECT id FROM h), 0))$$, '22023', NULL, 'extend by 0 is 22023');

SELECT throws_ok($$INSERT INTO eventsvc.capacity_holds (tenant_id, event_id, capacity_id, holder_id, quantity, expires_at)
                   VALUES ('88888888-8888-4888-8888-888888888888', '88888888-0000-4000-8000-0000000000e1',
                           '88888888-0000-4000-8000-0000000000c1', 'x', 1, now())$$,
                 '42501', NULL, 'direct insert of a hold is refused (42501)');
SELECT throws_ok($$DELETE FROM eventsvc.event_capacity WHERE id = '88888888-0000-4000-8000-0000000000c1'$$,
                 'PT409', NULL, 'a section with holds cannot be deleted');
SELECT throws_ok($$SELECT api.update_section('88888888-0000-4000-8000-0000000000c1', 1, '{"total_capacity": 0}')$$,
                 'PT409', NULL, 'cutting below held seats is PT409');
SELECT throws_ok($$SELECT api.create_pricing('88888888-0000-4000-8000-0000000000e1', 'Bad', 100, tax_rate => 2)$$,
                 '22023', NULL, 'tax above 1 is 22023');
SELECT throws_ok($$SELECT api.update_pricing('88888888-0000-4000-8000-0000000000f2', 7, '{"base_price": 1}')$$,
                 'PT409', NULL, 'stale pricing version is PT409');
SELECT throws_ok($$DELETE FROM eventsvc.event_pricing WHERE id = '88888888-0000-4000-8000-0000000000f2'$$,
                 'PT409', NULL, 'a tier that holds refer to cannot be deleted');
-- In this open transaction the release is in flight: the counter gives the 3 seats back only at
-- commit, and check_capacity counts them on the counter's side (its own records are known).
SELECT is((SELECT r->>'held' || '/' || (r->>'drift') || '/' || (r->>'oversold')
             FROM eventsvc.check_capacity('88888888-0000-4000-8000-0000000000c1') r), '1/0/false',
          'rows: 1 held; counter: 3 seats pending until commit, counted as this transaction''s own; not oversold');

-- Hostile input: NULL keys and bad currencies are clear 22023 refusals, never a crash or a raw error.
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok($$SELECT api.create_pricing(NULL::uuid, 'Probe', 1000::bigint, 'USD', gen_random_uuid())$$,
                 '22023', 'invalid pricing tier: event_id is required', 'tier without event_id (naming a section) is 22023');
SELECT throws_ok($$SELECT api.create_section(NULL::uuid, 'Probe', 10, NULL, NULL, gen_random_uuid())$$,
                 '22023', 'invalid section: event_id is required', 'section without event_id is 22023');
SELECT throws_ok($$SELECT api.create_section('88888888-0000-4000-8000-0000000000e1', NULL, 1)$$,
                 '22023', 'invalid section: section_name is required', 'section without a name is 22023');
SELECT throws_ok($$SELECT api.create_pricing('88888888-0000-4000-8000-0000000000e1', 'Cur', 100, repeat('X', 1000))$$,
                 '22023', 'invalid pricing tier: currency must be a 3-letter ISO 4217 code', 'a long currency is 22023');
SELECT throws_ok($$SELECT api.create_pricing('88888888-0000-4000-8000-0000000000e1', 'Cur', 100, NULL)$$,
                 '22023', 'invalid pricing tier: currency must be a 3-letter ISO 4217 code', 'a NULL currency is 22023');
SELECT throws_ok($$SELECT api.create_pricing('88888888-0000-4000-8000-0000000000e1', 'Cur', 100, 'ZZZ')$$,
                 '22023', 'invalid pricing tier: currency is not a supported ISO 4217 code', 'an unknown currency is 22023');
SELECT throws_ok($$SELECT api.update_pricing('88888888-0000-4000-8000-0000000000f2', 1, '{"currency": "EURO"}')$$,
                 '22023', 'invalid pricing tier: currency must be a 3-letter ISO 4217 code', 'update to a long currency is 22023');
SELECT throws_ok($$SELECT api.update_section('88888888-0000-4000-8000-0000000000c1', NULL, '{"tier": "x"}')$$,
                 '22023', 'update_section needs capacity_id and expected_version', 'update_section without a version is 22023');
SELECT throws_ok($$SELECT api.update_pricing('88888888-0000-4000-8000-0000000000f2', NULL, '{"base_price": 1}')$$,
                 '22023', 'update_pricing needs pricing_id and expected_version', 'update_pricing without a version is 22023');
RESET ROLE;
SELECT throws_ok($$SELECT eventsvc.check_capacity(NULL::uuid)$$, '22023', 'check_capacity needs capacity_id',
                 'check_capacity(NULL) is 22023');

-- Another tenant's section: checking it from this tenant is PT404 and leaves its counter alone.
SELECT eventsvc.create_tenant('Tap Other', 'tap-other', '88888888-8888-4888-8888-8888888888bb');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('88888888-8888-4888-8888-8888888888bb', '88888888-0000-4000-8000-0000000000ba', 'Other Hall', 50);
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('88888888-8888-4888-8888-8888888888bb', '88888888-0000-4000-8000-0000000000be',
     '88888888-0000-4000-8000-0000000000ba', 'Other Night', 'other-night', 'ON_SALE');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('88888888-8888-4888-8888-8888888888bb', '88888888-0000-4000-8000-0000000000bc',
        '88888888-0000-4000-8000-0000000000be', 'B', 4, 4);
SET LOCAL app.current_tenant_id = '88888888-8888-4888-8888-8888888888bb';
SELECT eventsvc.check_capacity('88888888-0000-4000-8000-0000000000bc');
SELECT eventsvc.escrow_reset('88888888-0000-4000-8000-0000000000bc');	-- unbuilt, as after a restart
SET LOCAL app.current_tenant_id = '88888888-8888-4888-8888-888888888888';
SELECT throws_ok($$SELECT eventsvc.check_capacity('88888888-0000-4000-8000-0000000000bc')$$, 'PT404', NULL,
                 'another tenant''s section is PT404');
SELECT is(eventsvc.escrow_state('88888888-0000-4000-8000-0000000000bc'), NULL,
          'and no counter was made from what this tenant sees');
SELECT throws_ok($$SELECT api.create_section('88888888-0000-4000-8000-0000000000be', 'Mine', 1)$$, 'PT404',
                 'event 88888888-0000-4000-8000-0000000000be not found',
                 'a section on another tenant''s event is PT404, not a foreign-key conflict');
-- A section of this tenant that carries the same id has a counter of its own.
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('88888888-8888-4888-8888-888888888888', '88888888-0000-4000-8000-0000000000bc',
        '88888888-0000-4000-8000-0000000000e1', 'Same id', 2, 2);
SELECT is(eventsvc.check_capacity('88888888-0000-4000-8000-0000000000bc') ->> 'counter', '2',
          'a same-id section of this tenant counts its own 2 seats');
SET LOCAL app.current_tenant_id = '88888888-8888-4888-8888-8888888888bb';
SELECT is((SELECT (r->>'counter') || '/' || (r->>'drift') FROM eventsvc.check_capacity('88888888-0000-4000-8000-0000000000bc') r),
          '4/0', 'the other tenant''s counter is still its 4 seats, no drift');

SELECT * FROM finish();
ROLLBACK;
