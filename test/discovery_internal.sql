-- Internal lookups, analytics and health, pgTAP: the service role's lookups across
-- tenants (by id, by PDA, scan stats, blockchain callback) and their refusal to every
-- other role; sold/reserved/available, revenue and customer analytics (what the hold
-- rows add up to); liveness and readiness.
BEGIN;
SELECT plan(39);
GRANT ALL ON ALL TABLES IN SCHEMA pg_temp TO PUBLIC;
GRANT ALL ON ALL SEQUENCES IN SCHEMA pg_temp TO PUBLIC;

CREATE TEMP TABLE t AS SELECT
    eventsvc.create_tenant('Internal A', 'internal-a', '91111111-1111-4111-8111-111111111111') AS a,
    eventsvc.create_tenant('Internal B', 'internal-b', '92222222-2222-4222-8222-222222222222') AS b;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-000000000001', 'Internal Hall', 500),
    ('92222222-2222-4222-8222-222222222222', '9bbbbbbb-0000-4000-8000-000000000001', 'Other Hall', 500);
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000e1', '9aaaaaaa-0000-4000-8000-000000000001',
     'Chain Concert', 'chain-concert', 'ON_SALE', '2031-05-01 19:00+00', '2031-05-01 22:00+00'),
    ('92222222-2222-4222-8222-222222222222', '9bbbbbbb-0000-4000-8000-0000000000e1', '9bbbbbbb-0000-4000-8000-000000000001',
     'Other Concert', 'other-concert', 'ON_SALE', '2031-05-02 19:00+00', '2031-05-02 22:00+00');

-- Sections and holds as fixtures, written directly: replica mode keeps the
-- reservation path's guards out of a fixture that only feeds the read views.
SET LOCAL session_replication_role = replica;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity, is_active) VALUES
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000c1', '9aaaaaaa-0000-4000-8000-0000000000e1',
     'Floor', 100, 100, true),
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000c2', '9aaaaaaa-0000-4000-8000-0000000000e1',
     'Balcony', 50, 50, false),
    ('92222222-2222-4222-8222-222222222222', '9bbbbbbb-0000-4000-8000-0000000000c1', '9bbbbbbb-0000-4000-8000-0000000000e1',
     'Floor', 10, 10, true);
INSERT INTO eventsvc.capacity_holds (tenant_id, event_id, capacity_id, holder_id, quantity, state, currency, unit_price, expires_at) VALUES
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000e1', '9aaaaaaa-0000-4000-8000-0000000000c1',
     'cust-1', 2, 'CONFIRMED', 'USD', 5000, now() - interval '1 hour'),
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000e1', '9aaaaaaa-0000-4000-8000-0000000000c1',
     'cust-2', 1, 'CONFIRMED', 'USD', 5000, now() - interval '1 hour'),
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000e1', '9aaaaaaa-0000-4000-8000-0000000000c1',
     'cust-3', 4, 'ACTIVE', 'USD', 5000, now() + interval '10 minutes'),
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000e1', '9aaaaaaa-0000-4000-8000-0000000000c1',
     'cust-4', 5, 'ACTIVE', 'USD', 5000, now() - interval '1 minute'),
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000e1', '9aaaaaaa-0000-4000-8000-0000000000c1',
     'cust-1', 2, 'RELEASED', 'USD', 5000, now() - interval '1 hour'),
    ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000e1', '9aaaaaaa-0000-4000-8000-0000000000c1',
     'cust-5', 1, 'EXPIRED', 'USD', 5000, now() - interval '1 hour'),
    ('92222222-2222-4222-8222-222222222222', '9bbbbbbb-0000-4000-8000-0000000000e1', '9bbbbbbb-0000-4000-8000-0000000000c1',
     'cust-x', 3, 'CONFIRMED', 'EUR', 700, now() - interval '1 hour');
SET LOCAL session_replication_role = origin;
-- the views read the sections' counter rows: count them from the fixture's holds, as a
-- repair after rows written around the hold functions does (and escrow_reset: such
-- rows may expire before the sweep's read start, which it forgets)
SELECT eventsvc.rebuild_section_counters() > 0 AS counted;
SELECT eventsvc.escrow_reset('9aaaaaaa-0000-4000-8000-0000000000c1') IS NOT NULL AS reset;

-- ---------------------------------------------------------------- analytics (tenant A's user)
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '91111111-1111-4111-8111-111111111111';
SELECT results_eq($$SELECT section_name, total_capacity, sold, reserved, available FROM api.section_availability
                     ORDER BY section_name$$,
    $$VALUES ('Balcony', 50, 0::bigint, 0::bigint, 0::bigint), ('Floor', 100, 3::bigint, 4::bigint, 93::bigint)$$,
    'per section: sold = confirmed seats, reserved = live holds only, an inactive section has nothing available');
SELECT results_eq($$SELECT sections, total_capacity, sold, reserved, available FROM api.event_availability$$,
    $$VALUES (2::bigint, 150::bigint, 3::bigint, 4::bigint, 93::bigint)$$, 'per event: the sections summed, own tenant only');
SELECT results_eq($$SELECT currency::text, tickets_sold, revenue_minor, confirmed_holds FROM api.event_revenue$$,
    $$VALUES ('USD', 3::bigint, 15000::bigint, 2::bigint)$$, 'revenue in minor units from confirmed holds');
SELECT results_eq($$SELECT holds_created, holds_confirmed, holds_expired, holds_released, holds_active, customers,
                           buying_customers, conversion_rate FROM api.event_customer_analytics$$,
    $$VALUES (6::bigint, 2::bigint, 2::bigint, 1::bigint, 1::bigint, 5::bigint, 2::bigint, 0.3333::numeric)$$,
    'customer analytics: an unswept expired hold counts as expired; conversion = confirmed / created');
SELECT is(pg_typeof(conversion_rate)::text, 'numeric', 'the conversion rate is an exact numeric')
  FROM api.event_customer_analytics;
RESET ROLE;
SET LOCAL ROLE eventsvc_anon;
SELECT throws_ok($$SELECT * FROM api.event_revenue$$, '42501', NULL, 'the public cannot read revenue');
RESET ROLE;
-- overflow is an error, not a wrap: two writers' stripes of one section whose sum
-- passes 64 bits (each confirmation refuses to pass it on its own stripe)
INSERT INTO eventsvc.section_counters (tenant_id, capacity_id, currency, stripe, purchases, bought, charged, gross)
VALUES ('92222222-2222-4222-8222-222222222222', '9bbbbbbb-0000-4000-8000-0000000000c1', 'EUR', 9001, 1, 1,
        9223372036854775000, 9223372036854775000),
       ('92222222-2222-4222-8222-222222222222', '9bbbbbbb-0000-4000-8000-0000000000c1', 'EUR', 9002, 1, 1,
        9223372036854775000, 9223372036854775000);
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '92222222-2222-4222-8222-222222222222';
SELECT throws_ok($$SELECT * FROM api.event_revenue$$, '22003', NULL, 'revenue beyond 64-bit minor units is an overflow error');
RESET ROLE;

-- ---------------------------------------------------------------- internal lookups: refused
SET LOCAL ROLE eventsvc_anon;
SELECT throws_ok($$SELECT api.internal_event('9aaaaaaa-0000-4000-8000-0000000000e1')$$, '42501', NULL, 'anon: internal_event refused');
SELECT throws_ok($$SELECT api.internal_event_by_pda('7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU')$$, '42501', NULL,
                 'anon: internal_event_by_pda refused');
SELECT throws_ok($$SELECT api.internal_scan_stats('9aaaaaaa-0000-4000-8000-0000000000e1')$$, '42501', NULL,
                 'anon: internal_scan_stats refused');
SELECT throws_ok($$SELECT api.update_blockchain_status('9aaaaaaa-0000-4000-8000-0000000000e1', 'failed')$$, '42501', NULL,
                 'anon: update_blockchain_status refused');
RESET ROLE;
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '91111111-1111-4111-8111-111111111111';
SELECT throws_ok($$SELECT api.internal_event('9aaaaaaa-0000-4000-8000-0000000000e1')$$, '42501', NULL,
                 'tenant user: internal_event refused, even for its own event');
SELECT throws_ok($$SELECT api.update_blockchain_status('9aaaaaaa-0000-4000-8000-0000000000e1', 'failed')$$, '42501', NULL,
                 'tenant user: update_blockchain_status refused');
SELECT throws_ok($$SELECT eventsvc.require_service('look up events')$$, '42501', 'only the service role may look up events',
                 'the in-function gate refuses a tenant user too');
RESET ROLE;
SET LOCAL ROLE eventsvc_admin;
SET LOCAL app.current_tenant_id = '91111111-1111-4111-8111-111111111111';
SELECT throws_ok($$SELECT api.internal_scan_stats('9aaaaaaa-0000-4000-8000-0000000000e1')$$, '42501', NULL,
                 'tenant admin: internal_scan_stats refused');
SELECT throws_ok($$SELECT api.internal_event_by_pda('7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU')$$, '42501', NULL,
                 'tenant admin: internal_event_by_pda refused');
RESET ROLE;
SET LOCAL ROLE eventsvc_worker;
SELECT throws_ok($$SELECT api.internal_event('9aaaaaaa-0000-4000-8000-0000000000e1')$$, '42501', NULL, 'worker: internal_event refused');
RESET ROLE;

-- ---------------------------------------------------------------- internal lookups: the service role
-- (platform-wide, naming no tenant: a trusted SQL client says so with app.scope;
-- docs/tenancy.md)
SET LOCAL app.current_tenant_id = '';
SET LOCAL app.scope = 'platform';
SET LOCAL ROLE eventsvc_service;
SELECT is(api.internal_event('9bbbbbbb-0000-4000-8000-0000000000e1') ->> 'tenant_id', '92222222-2222-4222-8222-222222222222',
          'service: an event by id across tenants, with its tenant');
SELECT ok(NOT (api.internal_event('9aaaaaaa-0000-4000-8000-0000000000e1') ? 'search_vector'), 'no search vector in the answer');
SELECT throws_ok($$SELECT api.internal_event(gen_random_uuid())$$, 'PT404', NULL, 'service: unknown id is not found');
SELECT is(api.internal_scan_stats('9aaaaaaa-0000-4000-8000-0000000000e1') - 'starts_at' - 'ends_at' - 'doors_open' - 'name'
          - 'status' - 'venue_id' - 'tenant_id' - 'event_id',
          '{"sections": 2, "total_capacity": 150, "tickets_sold": 3, "reserved": 4, "available": 93}'::jsonb,
          'service: scan stats are the live seat figures');
SELECT throws_ok($$SELECT api.internal_event_by_pda('7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU')$$, 'PT404', NULL,
                 'service: no event has this PDA yet');
SELECT throws_ok($$SELECT api.internal_event_by_pda('not a pda')$$, '22023', NULL, 'service: a malformed PDA');
SELECT is(api.update_blockchain_status('9aaaaaaa-0000-4000-8000-0000000000e1', 'queued') ->> 'blockchain_status', 'queued',
          'callback: queued');
SELECT is(api.update_blockchain_status('9aaaaaaa-0000-4000-8000-0000000000e1', 'synced',
                                       '7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU') ->> 'event_pda',
          '7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU', 'callback: synced with its PDA');
SELECT is((api.update_blockchain_status('9aaaaaaa-0000-4000-8000-0000000000e1', 'synced',
                                        '7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU') ->> 'version')::int,
          (api.internal_event('9aaaaaaa-0000-4000-8000-0000000000e1') ->> 'version')::int,
          'callback: repeating the same report changes nothing');
SELECT is(api.internal_event_by_pda('7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU') ->> 'name', 'Chain Concert',
          'service: the event by its PDA');
SELECT throws_ok($$SELECT api.update_blockchain_status('9aaaaaaa-0000-4000-8000-0000000000e1', 'synced',
                                                       '9xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU')$$, 'PT409', NULL,
                 'callback: a synced event keeps its PDA');
SELECT throws_ok($$SELECT api.update_blockchain_status('9aaaaaaa-0000-4000-8000-0000000000e1', 'done')$$, '22023', NULL,
                 'callback: an unknown status');
SELECT throws_ok($$SELECT api.update_blockchain_status('9bbbbbbb-0000-4000-8000-0000000000e1', 'synced')$$, '22023',
                 'a synced event needs its event_pda', 'callback: synced needs a PDA');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM eventsvc.event_audit_log
            WHERE event_id = '9aaaaaaa-0000-4000-8000-0000000000e1' AND action = 'UPDATE'
              AND changed_fields ? 'blockchain_status'), 2,
          'the two real status changes are audited, the repeat is not');

-- ---------------------------------------------------------------- health
SET LOCAL ROLE eventsvc_anon;
SELECT is(api.health_live() ->> 'status', 'ok', 'liveness answers for the anonymous role');
RESET ROLE;
DELETE FROM eventsvc.outbox;
SELECT is(eventsvc.health_checks() #> '{checks,schema}',
          jsonb_build_object('ok', true, 'installed', (SELECT extversion FROM pg_extension WHERE extname = 'eventsvc'),
                             'expected', (SELECT default_version FROM pg_available_extensions WHERE name = 'eventsvc')),
          'readiness: the schema version check');
SELECT is(eventsvc.health_checks() #>> '{checks,outbox,ok}', 'true', 'readiness: no backlog, outbox ok');
SET LOCAL session_replication_role = replica;
INSERT INTO eventsvc.outbox (tenant_id, aggregate_id, sequence, exchange, routing_key, payload, created_at)
VALUES ('91111111-1111-4111-8111-111111111111', '9aaaaaaa-0000-4000-8000-0000000000e1', 1, 'tickettoken_events',
        'event.updated', '{}', now() - interval '10 minutes');
SET LOCAL session_replication_role = origin;
SELECT is(eventsvc.health_checks() #>> '{checks,outbox,ok}', 'false', 'readiness: a 10 minute old backlog fails the outbox check');
SET LOCAL ROLE eventsvc_anon;
SELECT lives_ok($$SELECT set_config('response.status', '', true); SELECT api.health_ready()$$,
                'not ready is no error (nothing in the server log)');
SELECT is(api.health_ready() #>> '{checks,outbox,ok}', 'false', 'not ready: the checks come back as an object');
SELECT is(api.health_ready() ->> 'status', 'unavailable', 'not ready: status unavailable');
SELECT is(current_setting('response.status', true), '503', 'not ready sets response.status to 503 (HTTP 503)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
