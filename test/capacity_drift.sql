-- pgTAP: the scheduled drift check (eventsvc.check_capacity_drift, which the worker
-- runs every eventsvc.drift_check_interval_s): a section that agrees leaves no
-- finding; a section whose holds were changed around the hold functions is found
-- drifting (api.capacity_drift, the tenant's own rows only), reported once with
-- capacity.drift_detected when the second check finds it again, and cleared when a
-- check finds it right after a repair. Commits as it goes.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(37);

SELECT eventsvc.create_tenant('Tap Drift', 'tap-drift', 'd21f0000-0000-4000-8000-000000000001') IS NOT NULL AS tenant;
SELECT eventsvc.create_tenant('Tap Drift Other', 'tap-drift-other', 'd21f0000-0000-4000-8000-000000000002') IS NOT NULL AS other;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('d21f0000-0000-4000-8000-000000000001', 'd21f0000-0000-4000-8000-0000000000a1', 'Drift Hall', 100);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('d21f0000-0000-4000-8000-000000000001', 'd21f0000-0000-4000-8000-0000000000e1',
     'd21f0000-0000-4000-8000-0000000000a1', 'Drift Night', 'drift-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('d21f0000-0000-4000-8000-000000000001', 'd21f0000-0000-4000-8000-0000000000c1',
        'd21f0000-0000-4000-8000-0000000000e1', 'Drifting', 10, 10),
       ('d21f0000-0000-4000-8000-000000000001', 'd21f0000-0000-4000-8000-0000000000c2',
        'd21f0000-0000-4000-8000-0000000000e1', 'Steady', 10, 10);
SET app.current_tenant_id = 'd21f0000-0000-4000-8000-000000000001';
SET app.current_user_id = 'dora';
SET ROLE eventsvc_user;
SELECT (api.reserve_capacity('d21f0000-0000-4000-8000-0000000000c1', 3)).id AS drifting_hold \gset
SELECT (api.reserve_capacity('d21f0000-0000-4000-8000-0000000000c2', 2)).id AS steady_hold \gset
SELECT ok((api.confirm_hold(:'steady_hold')).state = 'CONFIRMED', 'two seats sold in the steady section');

-- Only the superuser (the worker's C call, pg_cron) runs the check.
SELECT throws_ok($$SELECT eventsvc.check_capacity_drift()$$, '42501', NULL, 'a tenant user cannot run the drift check');
RESET ROLE;
SELECT throws_ok($$SELECT eventsvc.check_capacity_drift(0)$$, '22023', NULL, 'a window under a second is refused');
SELECT throws_ok($$SELECT eventsvc.check_capacity_drift(600, 0)$$, '22023', NULL, 'no sections to check is refused');

-- Everything agrees: checked, nothing found.
SELECT version AS steady_version FROM eventsvc.event_capacity WHERE id = 'd21f0000-0000-4000-8000-0000000000c2' \gset
SELECT ok((eventsvc.check_capacity_drift(600, 100000) ->> 'checked')::int >= 2, 'the recently sold sections are checked');
SELECT is((SELECT count(*) FROM eventsvc.capacity_drift_findings WHERE tenant_id = 'd21f0000-0000-4000-8000-000000000001'),
          0::bigint, 'sections that agree leave no finding');

-- A hold changed around the hold functions (replica mode bypasses the guard): the
-- holds now say 4 seats held where the counter rows and the shared counter say 3.
SET session_replication_role = replica;
UPDATE eventsvc.capacity_holds SET quantity = 4 WHERE id = :'drifting_hold';
SET session_replication_role = origin;

SELECT ok((eventsvc.check_capacity_drift(600, 100000) ->> 'drifting')::int >= 1, 'the first check finds drift');
SET ROLE eventsvc_user;
SELECT results_eq(
    $$SELECT section_name, checks, total_capacity, held, sold, counter, counter_drift, rows_drift, rows_agree, oversold,
             reported_at IS NULL FROM api.capacity_drift$$,
    $$VALUES ('Drifting'::text, 1, 10::bigint, 4::bigint, 0::bigint, 7::bigint, 1::bigint, -1::bigint, false, false, true)$$,
    'api.capacity_drift shows the drifting section only: the counter has 7 free where the rows leave 6, the counter rows count one seat less');
RESET ROLE;
SELECT ok(NOT EXISTS (SELECT 1 FROM eventsvc.outbox WHERE tenant_id = 'd21f0000-0000-4000-8000-000000000001'
                         AND routing_key = 'capacity.drift_detected'), 'no message after the first check');

-- The second check finds it again: reported, once.
SELECT ok((eventsvc.check_capacity_drift(600, 100000) ->> 'reported')::int >= 1, 'the second check reports it');
SELECT is((SELECT count(*) FROM eventsvc.outbox WHERE tenant_id = 'd21f0000-0000-4000-8000-000000000001'
              AND routing_key = 'capacity.drift_detected'), 1::bigint, 'one capacity.drift_detected message');
SELECT is((SELECT row(exchange, aggregate_id, payload -> 'data' ->> 'capacity_id', payload -> 'data' ->> 'event_id',
                      payload -> 'data' ->> 'counter_drift', payload -> 'data' ->> 'rows_drift',
                      payload -> 'data' ->> 'rows_agree', payload -> 'data' ->> 'held',
                      payload -> 'data' ->> 'checks', payload ->> 'type')::text
             FROM eventsvc.outbox WHERE tenant_id = 'd21f0000-0000-4000-8000-000000000001'
              AND routing_key = 'capacity.drift_detected'),
          row('tickettoken_events', 'd21f0000-0000-4000-8000-0000000000e1'::uuid, 'd21f0000-0000-4000-8000-0000000000c1',
              'd21f0000-0000-4000-8000-0000000000e1', '1', '-1', 'false', '4', '2', 'capacity.drift_detected')::text,
          'the message names the event (its aggregate), the section and the numbers');
SELECT is((SELECT checks FROM eventsvc.capacity_drift_findings WHERE capacity_id = 'd21f0000-0000-4000-8000-0000000000c1'),
          2, 'two consecutive checks');
SELECT ok((SELECT reported_at IS NOT NULL FROM eventsvc.capacity_drift_findings
            WHERE capacity_id = 'd21f0000-0000-4000-8000-0000000000c1'), 'marked reported');
SELECT ok(eventsvc.check_capacity_drift(600, 100000) IS NOT NULL, 'a third check');
SELECT is((SELECT count(*) FROM eventsvc.outbox WHERE tenant_id = 'd21f0000-0000-4000-8000-000000000001'
              AND routing_key = 'capacity.drift_detected'), 1::bigint, 'drift still there is not reported twice');
SELECT is((SELECT checks FROM eventsvc.capacity_drift_findings WHERE capacity_id = 'd21f0000-0000-4000-8000-0000000000c1'),
          3, 'three consecutive checks');
SELECT is((SELECT version FROM eventsvc.event_capacity WHERE id = 'd21f0000-0000-4000-8000-0000000000c2'),
          :'steady_version'::int, 'the checks leave the section rows alone (their version does not move)');

-- Another tenant sees nothing of it; no tenant sees nothing at all.
SET app.current_tenant_id = 'd21f0000-0000-4000-8000-000000000002';
SET ROLE eventsvc_user;
SELECT is((SELECT count(*) FROM api.capacity_drift), 0::bigint, 'another tenant sees no finding');
SELECT is((SELECT count(*) FROM eventsvc.capacity_drift_findings), 0::bigint, 'nor the table');
RESET ROLE;
RESET app.current_tenant_id;
SET ROLE eventsvc_user;
SELECT throws_ok($$SELECT count(*) FROM api.capacity_drift$$, NULL, NULL, 'without a tenant the view fails closed');
RESET ROLE;

-- Repaired (escrow_reset corrects the counter rows to the holds and forgets the
-- counter): the next check clears the finding.
SELECT ok(eventsvc.escrow_reset('d21f0000-0000-4000-8000-0000000000c1') IS NOT NULL, 'the section is repaired');
SELECT ok((eventsvc.check_capacity_drift(600, 100000) ->> 'cleared')::int >= 1, 'the next check clears it');
SELECT is((SELECT count(*) FROM eventsvc.capacity_drift_findings WHERE tenant_id = 'd21f0000-0000-4000-8000-000000000001'),
          0::bigint, 'no finding is left');

-- A drift that comes back starts counting again, and is reported again after two checks.
SET session_replication_role = replica;
UPDATE eventsvc.capacity_holds SET quantity = 5 WHERE id = :'drifting_hold';
SET session_replication_role = origin;
SELECT ok(eventsvc.check_capacity_drift(600, 100000) IS NOT NULL AND eventsvc.check_capacity_drift(600, 100000) IS NOT NULL,
          'two more checks');
SELECT is((SELECT count(*) FROM eventsvc.outbox WHERE tenant_id = 'd21f0000-0000-4000-8000-000000000001'
              AND routing_key = 'capacity.drift_detected'), 2::bigint, 'a new drift is a new report');
SELECT ok(eventsvc.escrow_reset('d21f0000-0000-4000-8000-0000000000c1') IS NOT NULL, 'repaired again');

-- Every section at once (what rebuild_derived runs after a restore): both sections
-- drift, one statement corrects their counter rows and forgets their counters.
SET session_replication_role = replica;
UPDATE eventsvc.capacity_holds SET quantity = 2 WHERE id = :'drifting_hold';
UPDATE eventsvc.capacity_holds SET quantity = 1 WHERE id = :'steady_hold';
SET session_replication_role = origin;
SELECT ok((eventsvc.check_capacity_drift(600, 100000) ->> 'drifting')::int >= 2, 'both sections drift');
SET ROLE eventsvc_user;
SELECT throws_ok($$SELECT eventsvc.repair_counters()$$, '42501', NULL, 'a tenant user cannot repair the counters');
RESET ROLE;
SELECT ok(eventsvc.repair_counters() >= 2, 'one call corrects the counter rows of both sections');
SELECT is((SELECT array_agg(ARRAY[h.held, h.sold, k.held, k.sold] ORDER BY h.capacity_id)
             FROM (SELECT capacity_id, coalesce(sum(quantity) FILTER (WHERE state = 'ACTIVE'), 0)::bigint AS held,
                          coalesce(sum(quantity) FILTER (WHERE state = 'CONFIRMED'), 0)::bigint AS sold
                     FROM eventsvc.capacity_holds WHERE tenant_id = 'd21f0000-0000-4000-8000-000000000001'
                    GROUP BY capacity_id) h
             JOIN (SELECT capacity_id, sum(held)::bigint AS held, sum(sold)::bigint AS sold
                     FROM eventsvc.section_counters WHERE tenant_id = 'd21f0000-0000-4000-8000-000000000001'
                    GROUP BY capacity_id) k USING (capacity_id)),
          ARRAY[[2, 0, 2, 0], [0, 1, 0, 1]]::bigint[],
          'the counter rows add up to the holds again: 2 held in one section, 1 sold in the other');
SELECT ok(eventsvc.escrow_state('d21f0000-0000-4000-8000-0000000000c1') IS NULL
          AND eventsvc.escrow_state('d21f0000-0000-4000-8000-0000000000c2') IS NULL,
          'their shared counters are forgotten (the next reservation builds them from the rows)');
SELECT is(eventsvc.repair_counters(), 0::bigint, 'a second call finds nothing to correct');
SELECT ok((eventsvc.check_capacity_drift(600, 100000) ->> 'drifting')::int = 0, 'the next check finds no drift');
SET app.current_tenant_id = 'd21f0000-0000-4000-8000-000000000001';
SET ROLE eventsvc_user;
SELECT is((api.reserve_capacity('d21f0000-0000-4000-8000-0000000000c1', 8)).quantity, 8,
          'the section sells what the corrected rows leave (10 - 2)');
SELECT throws_ok($$SELECT api.reserve_capacity('d21f0000-0000-4000-8000-0000000000c1', 1)$$, 'PT409', NULL,
                 'and not one seat more');
RESET ROLE;
-- leave the sections right for the tests that follow
SET session_replication_role = replica;
DELETE FROM eventsvc.capacity_holds WHERE capacity_id = 'd21f0000-0000-4000-8000-0000000000c1';
SET session_replication_role = origin;
SELECT ok(eventsvc.repair_counters() >= 1, 'repaired for what follows');

SELECT * FROM finish();
