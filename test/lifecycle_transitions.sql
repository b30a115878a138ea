-- The event state machine: all 144 (from, to) pairs against an independent literal
-- list of the map's edges, enforced on a plain UPDATE (as a DBA would write it) and
-- for an API role; terminal states; sold tickets block the return to DRAFT.
BEGIN;
SELECT plan(155);

SELECT eventsvc.create_tenant('SM Tenant', 'sm-tenant', '51111111-1111-4111-8111-111111111111');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('51111111-1111-4111-8111-111111111111', '5aaaaaaa-0000-4000-8000-000000000001', 'SM Hall', 1000);

-- The map's edges (section 1, "Event State Transitions"), written out by hand.
CREATE TEMP TABLE expected_edges (from_status text, to_status text);
INSERT INTO expected_edges VALUES
    ('DRAFT', 'REVIEW'), ('DRAFT', 'PUBLISHED'), ('DRAFT', 'CANCELLED'),
    ('REVIEW', 'APPROVED'), ('REVIEW', 'DRAFT'), ('REVIEW', 'CANCELLED'),
    ('APPROVED', 'PUBLISHED'), ('APPROVED', 'CANCELLED'),
    ('PUBLISHED', 'ON_SALE'), ('PUBLISHED', 'CANCELLED'), ('PUBLISHED', 'POSTPONED'),
    ('ON_SALE', 'SALES_PAUSED'), ('ON_SALE', 'SOLD_OUT'), ('ON_SALE', 'IN_PROGRESS'),
    ('ON_SALE', 'CANCELLED'), ('ON_SALE', 'POSTPONED'),
    ('SALES_PAUSED', 'ON_SALE'), ('SALES_PAUSED', 'IN_PROGRESS'), ('SALES_PAUSED', 'CANCELLED'),
    ('SALES_PAUSED', 'POSTPONED'),
    ('SOLD_OUT', 'IN_PROGRESS'), ('SOLD_OUT', 'CANCELLED'), ('SOLD_OUT', 'POSTPONED'),
    -- not in the map: seats that come back (a release, a refund) put a sold-out event on sale again
    ('SOLD_OUT', 'ON_SALE'),
    ('IN_PROGRESS', 'COMPLETED'), ('IN_PROGRESS', 'CANCELLED'),
    ('POSTPONED', 'RESCHEDULED'), ('POSTPONED', 'CANCELLED'),
    ('RESCHEDULED', 'PUBLISHED'), ('RESCHEDULED', 'ON_SALE'), ('RESCHEDULED', 'CANCELLED');

-- One undated event per pair (no overlap rule applies), already in its "from" state.
CREATE TEMP TABLE pairs AS
SELECT f AS from_status, t AS to_status, gen_random_uuid() AS event_id
  FROM unnest(enum_range(NULL::eventsvc.event_status)) f,
       unnest(enum_range(NULL::eventsvc.event_status)) t;
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, cancelled_at)
SELECT '51111111-1111-4111-8111-111111111111', p.event_id, '5aaaaaaa-0000-4000-8000-000000000001',
       'pair', 'pair-' || row_number() OVER (), p.from_status, now()
  FROM pairs p;

-- Try one status change in a subtransaction; 'allowed' or the SQLSTATE and message.
CREATE FUNCTION pg_temp.try_status(p_event uuid, p_to eventsvc.event_status) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE eventsvc.events SET status = p_to WHERE id = p_event;
    RETURN 'allowed';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;

SELECT is(CASE WHEN r LIKE 'PT409 illegal status transition from %' THEN 'refused' ELSE r END,
          CASE WHEN p.from_status = p.to_status
                 OR EXISTS (SELECT 1 FROM expected_edges x
                             WHERE x.from_status = p.from_status::text AND x.to_status = p.to_status::text)
               THEN 'allowed' ELSE 'refused' END,
          format('%s -> %s', p.from_status, p.to_status))
  FROM pairs p, LATERAL pg_temp.try_status(p.event_id, p.to_status) r
 ORDER BY p.from_status, p.to_status;

-- The C table read back matches the literal list exactly.
SELECT set_eq('SELECT from_status, to_status FROM api.event_transitions',
              'SELECT from_status, to_status FROM expected_edges',
              'api.event_transitions is exactly the map''s edges');

-- The error names both states and the allowed targets.
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('51111111-1111-4111-8111-111111111111', '5eeeeeee-0000-4000-8000-000000000001',
        '5aaaaaaa-0000-4000-8000-000000000001', 'msg', 'msg', 'ON_SALE');
SELECT throws_ok($$UPDATE eventsvc.events SET status = 'DRAFT' WHERE id = '5eeeeeee-0000-4000-8000-000000000001'$$,
                 'PT409', 'illegal status transition from ON_SALE to DRAFT',
                 'illegal transition: PT409 naming both states');
SELECT is(pg_temp.try_status('5eeeeeee-0000-4000-8000-000000000001', 'REVIEW'),
          'PT409 illegal status transition from ON_SALE to REVIEW', 'message of ON_SALE -> REVIEW');
CREATE FUNCTION pg_temp.detail_of(p_event uuid, p_to eventsvc.event_status) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
    UPDATE eventsvc.events SET status = p_to WHERE id = p_event;
    RETURN 'allowed';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d;
END
$$;
SELECT is(pg_temp.detail_of('5eeeeeee-0000-4000-8000-000000000001', 'DRAFT'),
          'Allowed from ON_SALE: SALES_PAUSED, SOLD_OUT, IN_PROGRESS, CANCELLED, POSTPONED.',
          'detail lists the allowed targets');

-- A DBA's plain UPDATE to CANCELLED gets a cancellation time from the trigger.
UPDATE eventsvc.events SET status = 'CANCELLED', cancelled_at = NULL WHERE id = '5eeeeeee-0000-4000-8000-000000000001';
SELECT isnt((SELECT cancelled_at FROM eventsvc.events WHERE id = '5eeeeeee-0000-4000-8000-000000000001'), NULL,
            'entering CANCELLED sets cancelled_at');
SELECT is(pg_temp.detail_of('5eeeeeee-0000-4000-8000-000000000001', 'DRAFT'),
          'Allowed from CANCELLED: none (terminal state).', 'CANCELLED is terminal');

-- Returning to DRAFT is refused once tickets are sold (section counters or confirmed holds).
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('51111111-1111-4111-8111-111111111111', '5eeeeeee-0000-4000-8000-000000000002',
        '5aaaaaaa-0000-4000-8000-000000000001', 'sold', 'sold', 'REVIEW');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity, sold_count)
VALUES ('51111111-1111-4111-8111-111111111111', '5ccccccc-0000-4000-8000-000000000001',
        '5eeeeeee-0000-4000-8000-000000000002', 'Floor', 100, 97, 3);
SELECT throws_ok($$UPDATE eventsvc.events SET status = 'DRAFT' WHERE id = '5eeeeeee-0000-4000-8000-000000000002'$$,
                 'PT409', 'cannot return to DRAFT: 3 tickets are sold', 'sold tickets block REVIEW -> DRAFT');
UPDATE eventsvc.event_capacity SET sold_count = 0, available_capacity = 98
 WHERE id = '5ccccccc-0000-4000-8000-000000000001';
-- A confirmed hold written directly (the hold guard is bypassed for this test only;
-- the ALTER is rolled back with everything else).
ALTER TABLE eventsvc.capacity_holds DISABLE TRIGGER USER;
INSERT INTO eventsvc.capacity_holds (tenant_id, event_id, capacity_id, holder_id, quantity, state, expires_at)
VALUES ('51111111-1111-4111-8111-111111111111', '5eeeeeee-0000-4000-8000-000000000002',
        '5ccccccc-0000-4000-8000-000000000001', 'buyer-1', 2, 'CONFIRMED', now() + interval '1 hour');
SELECT throws_ok($$UPDATE eventsvc.events SET status = 'DRAFT' WHERE id = '5eeeeeee-0000-4000-8000-000000000002'$$,
                 'PT409', 'cannot return to DRAFT: 2 tickets are sold', 'confirmed holds count as sold');
DELETE FROM eventsvc.capacity_holds WHERE event_id = '5eeeeeee-0000-4000-8000-000000000002';
ALTER TABLE eventsvc.capacity_holds ENABLE TRIGGER USER;

-- An API role is held to the same table (through the api: it writes no table directly),
-- and may use the edge once nothing is sold.
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '51111111-1111-4111-8111-111111111111';
SELECT throws_ok($$SELECT api.transition_event('5eeeeeee-0000-4000-8000-000000000002', 'COMPLETED')$$,
                 'PT409', 'illegal status transition from REVIEW to COMPLETED', 'API role: illegal edge refused');
SELECT lives_ok($$SELECT api.transition_event('5eeeeeee-0000-4000-8000-000000000002', 'DRAFT')$$,
                'API role: REVIEW -> DRAFT with nothing sold');
SELECT is((SELECT status::text FROM eventsvc.events WHERE id = '5eeeeeee-0000-4000-8000-000000000002'), 'DRAFT',
          'the allowed change is applied');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
