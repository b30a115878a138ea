-- pgTAP: the box office's loose ends. Writers in SQL honour the Idempotency-Key
-- header (create_pricing, create_section, update_pricing, update_section,
-- register_venue); a tenant's admin registers venues and reads the events' audit
-- log, read-only and only its own tenant's; a tenant user reads neither.
BEGIN;
SELECT plan(32);
SET LOCAL client_min_messages = warning;

SELECT eventsvc.create_tenant('Tap Office', 'tap-office', '6b6b6b6b-6b6b-4b6b-8b6b-6b6b6b6b6b6b') IS NOT NULL AS t1;
SELECT eventsvc.create_tenant('Tap Rival', 'tap-rival', '6c6c6c6c-6c6c-4c6c-8c6c-6c6c6c6c6c6c') IS NOT NULL AS t2;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('6b6b6b6b-6b6b-4b6b-8b6b-6b6b6b6b6b6b', '6b6b6b6b-0000-4000-8000-00000000000a', 'Office Hall', 500);
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, starts_at, ends_at) VALUES
    ('6b6b6b6b-6b6b-4b6b-8b6b-6b6b6b6b6b6b', '6b6b6b6b-0000-4000-8000-0000000000e1',
     '6b6b6b6b-0000-4000-8000-00000000000a', 'Office Night', 'office-night',
     date_trunc('hour', now()) + interval '8 days', date_trunc('hour', now()) + interval '8 days 2 hours');
SET LOCAL app.current_tenant_id = '6b6b6b6b-6b6b-4b6b-8b6b-6b6b6b6b6b6b';
SET LOCAL app.current_user_id = 'olga';
SET LOCAL ROLE eventsvc_admin;

-- ---------------------------------------------------------------- Idempotency-Key
SELECT set_config('request.headers', '{"idempotency-key": "olga-section-1"}', true) IS NOT NULL AS h;
SELECT api.create_section('6b6b6b6b-0000-4000-8000-0000000000e1', 'Stalls', 100) ->> 'id' AS section \gset
SELECT is(api.create_section('6b6b6b6b-0000-4000-8000-0000000000e1', 'Stalls', 100) ->> 'id', :'section',
          'create_section retried with the same key returns the first section');
SELECT is((SELECT count(*)::int FROM eventsvc.event_capacity WHERE event_id = '6b6b6b6b-0000-4000-8000-0000000000e1'), 1,
          'one section for two calls');
SELECT throws_ok($$SELECT api.create_section('6b6b6b6b-0000-4000-8000-0000000000e1', 'Circle', 100)$$,
                 'PT422', NULL, 'the same key with another section is PT422');

SELECT set_config('request.headers', '{"idempotency-key": "olga-tier-1"}', true) IS NOT NULL AS h;
SELECT api.create_pricing('6b6b6b6b-0000-4000-8000-0000000000e1', 'General', 4000, capacity_id => :'section') ->> 'id' AS tier \gset
SELECT is(api.create_pricing('6b6b6b6b-0000-4000-8000-0000000000e1', 'General', 4000, capacity_id => :'section') ->> 'id',
          :'tier', 'create_pricing retried with the same key returns the first tier');
SELECT is((SELECT count(*)::int FROM eventsvc.event_pricing WHERE event_id = '6b6b6b6b-0000-4000-8000-0000000000e1'), 1,
          'one tier for two calls');
SELECT throws_ok(format($$SELECT api.create_pricing('6b6b6b6b-0000-4000-8000-0000000000e1', 'General', 4500, capacity_id => %L)$$, :'section'),
                 'PT422', NULL, 'the same key with another price is PT422');

SELECT set_config('request.headers', '{"idempotency-key": "olga-tier-update"}', true) IS NOT NULL AS h;
SELECT is(api.update_pricing(:'tier', 1, '{"base_price": 4200}') ->> 'version', '2', 'update_pricing moves the tier to version 2');
SELECT is(api.update_pricing(:'tier', 1, '{"base_price": 4200}') ->> 'version', '2',
          'retried with the same key: the first answer, not a stale-version conflict');
SELECT set_config('request.headers', '{"idempotency-key": "olga-section-update"}', true) IS NOT NULL AS h;
SELECT is(api.update_section(:'section', 1, '{"total_capacity": 120}') ->> 'total_capacity', '120', 'update_section');
SELECT is(api.update_section(:'section', 1, '{"total_capacity": 120}') ->> 'version', '2',
          'update_section retried with the same key returns the first answer');

-- Without the header the writers work as before: two calls, two tiers.
SELECT set_config('request.headers', '{}', true) IS NOT NULL AS h;
SELECT ok(api.create_pricing('6b6b6b6b-0000-4000-8000-0000000000e1', 'VIP', 9000) IS NOT NULL
          AND api.create_pricing('6b6b6b6b-0000-4000-8000-0000000000e1', 'VIP', 9000) IS NOT NULL, 'no key: two calls');
SELECT is((SELECT count(*)::int FROM eventsvc.event_pricing WHERE event_id = '6b6b6b6b-0000-4000-8000-0000000000e1'), 3,
          'no key: two more tiers');

-- A dynamic price move and an exchange, retried with their keys: done once.
SELECT set_config('request.headers', '{}', true) IS NOT NULL AS h;
SELECT api.create_pricing('6b6b6b6b-0000-4000-8000-0000000000e1', 'Surge', 5000, is_dynamic => true,
                          min_price => 3000, max_price => 9000) ->> 'id' AS surge \gset
SELECT set_config('request.headers', '{"idempotency-key": "olga-surge-1"}', true) IS NOT NULL AS h;
SELECT is(api.update_dynamic_price(:'surge', 6000, 1) ->> 'version', '2', 'update_dynamic_price');
SELECT is(api.update_dynamic_price(:'surge', 6000, 1) ->> 'current_price', '6000',
          'retried with the same key: the first answer, not a stale-version conflict');
SELECT set_config('request.headers', '{}', true) IS NOT NULL AS h;
SELECT api.create_section('6b6b6b6b-0000-4000-8000-0000000000e1', 'Circle', 10) ->> 'id' AS circle \gset
SELECT api.publish_event('6b6b6b6b-0000-4000-8000-0000000000e1') IS NOT NULL AS p,
       api.transition_event('6b6b6b6b-0000-4000-8000-0000000000e1', 'ON_SALE') IS NOT NULL AS s;
SELECT (api.confirm_hold((api.reserve_capacity(:'section', 2, :'tier', holder_id => 'buyer-1')).id)).id AS bought \gset
SELECT set_config('request.headers', '{"idempotency-key": "olga-exchange-1"}', true) IS NOT NULL AS h;
SELECT api.exchange_purchase(:'bought', :'circle', 'wants the circle') AS ex \gset
SELECT is(api.exchange_purchase(:'bought', :'circle', 'wants the circle'), :'ex'::jsonb,
          'exchange_purchase retried with the same key returns the first exchange');
SELECT is((SELECT count(*)::int FROM eventsvc.hold_refunds WHERE hold_id = :'bought')
          || '/' || (SELECT count(*) FROM eventsvc.capacity_holds WHERE capacity_id = :'circle'), '1/1',
          'one refund and one new hold for two calls');
SELECT set_config('request.headers', '{}', true) IS NOT NULL AS h;

-- Schedules too.
SELECT set_config('request.headers', '{"idempotency-key": "olga-schedule-1"}', true) IS NOT NULL AS h;
SELECT api.create_schedule('6b6b6b6b-0000-4000-8000-0000000000e1', date_trunc('hour', now()) + interval '8 days',
                           date_trunc('hour', now()) + interval '8 days 2 hours', notes => 'matinee') ->> 'id' AS sched \gset
SELECT is(api.create_schedule('6b6b6b6b-0000-4000-8000-0000000000e1', date_trunc('hour', now()) + interval '8 days',
                              date_trunc('hour', now()) + interval '8 days 2 hours', notes => 'matinee') ->> 'id', :'sched',
          'create_schedule retried with the same key returns the first schedule');
SELECT set_config('request.headers', '{"idempotency-key": "olga-schedule-2"}', true) IS NOT NULL AS h;
SELECT is(api.delete_schedule(:'sched', 1) ->> 'deleted', 'true', 'delete_schedule');
SELECT is(api.delete_schedule(:'sched', 1) ->> 'deleted', 'true', 'retried with the same key: the first answer, not a 404');
SELECT set_config('request.headers', '{}', true) IS NOT NULL AS h;

-- ---------------------------------------------------------------- venues
SELECT set_config('request.headers', '{"idempotency-key": "olga-venue-1"}', true) IS NOT NULL AS h;
SELECT api.register_venue('Riverside Stage', 1200, 'Europe/Berlin') AS venue \gset
SELECT is((:'venue'::jsonb) - 'id' - 'refreshed_at',
          '{"name": "Riverside Stage", "capacity": 1200, "timezone": "Europe/Berlin", "is_active": true}'::jsonb,
          'an admin registers a venue');
SELECT is(api.register_venue('Riverside Stage', 1200, 'Europe/Berlin') ->> 'id', :'venue'::jsonb ->> 'id',
          'a retry with the same key returns the first venue');
SELECT set_config('request.headers', '{}', true) IS NOT NULL AS h;
SELECT is(api.create_event(venue_id => (:'venue'::jsonb ->> 'id')::uuid, name => 'By the River',
                           starts_at => date_trunc('hour', now()) + interval '9 days',
                           ends_at => date_trunc('hour', now()) + interval '9 days 2 hours') ->> 'venue_id',
          :'venue'::jsonb ->> 'id', 'events may use the new venue at once');
SELECT throws_ok($$SELECT api.register_venue('Nowhere', 10, 'Mars/Olympus')$$, '22023',
                 'timezone: Mars/Olympus is not a time zone name', 'an unknown time zone is 22023');
SELECT throws_ok($$SELECT api.register_venue('', 10)$$, '22023', 'name: must be 1 to 200 characters', 'an empty name is 22023');
SELECT throws_ok($$SELECT api.register_venue('Minus', -1)$$, '22023', 'capacity: must be 0 or more', 'a negative capacity is 22023');
SELECT is((SELECT count(*)::int FROM eventsvc.venues WHERE tenant_id = '6b6b6b6b-6b6b-4b6b-8b6b-6b6b6b6b6b6b'), 2,
          'the refused registrations left nothing; the retry added nothing');

-- ---------------------------------------------------------------- audit log
SELECT api.update_event('6b6b6b6b-0000-4000-8000-0000000000e1', (SELECT version FROM api.events WHERE id = '6b6b6b6b-0000-4000-8000-0000000000e1'), '{"name": "Office Night Live"}') IS NOT NULL AS upd;
SELECT is((SELECT changed_fields -> 'name' FROM api.event_audit_log
            WHERE event_id = '6b6b6b6b-0000-4000-8000-0000000000e1' AND action = 'UPDATE'
            ORDER BY id DESC LIMIT 1),
          '{"old": "Office Night", "new": "Office Night Live"}'::jsonb,
          'the admin reads who changed which field, old and new');
SELECT is((SELECT actor_id FROM api.event_audit_log
            WHERE event_id = '6b6b6b6b-0000-4000-8000-0000000000e1' ORDER BY id DESC LIMIT 1), 'olga',
          'with who made the change');
SELECT throws_ok($$UPDATE api.event_audit_log SET actor_id = 'mallory'$$, '42501', NULL, 'the log is read-only');
RESET ROLE;
SET LOCAL app.current_tenant_id = '6c6c6c6c-6c6c-4c6c-8c6c-6c6c6c6c6c6c';
SET LOCAL ROLE eventsvc_admin;
SELECT is((SELECT count(*)::int FROM api.event_audit_log), 0, 'another tenant''s admin sees none of it');
RESET ROLE;
SET LOCAL app.current_tenant_id = '6b6b6b6b-6b6b-4b6b-8b6b-6b6b6b6b6b6b';
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok($$SELECT * FROM api.event_audit_log$$, '42501', NULL, 'a tenant user may not read the audit log');
SELECT throws_ok($$SELECT api.register_venue('Sneaky', 10)$$, '42501', NULL, 'a tenant user may not register venues');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
