-- Sections and holds: section rules, reservation rules and refusals, confirm /
-- release / extend / expire, the DML guard, subtransactions, and the invariant
-- checked against the hold rows after each step.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SELECT eventsvc.create_tenant('Seat Co', 'seat-co', '55555555-5555-4555-8555-555555555555') IS NOT NULL AS tenant;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-00000000000a', 'Seat Arena', 100);
-- Fixture events written directly by the superuser, in the state the test needs:
-- import mode (docs/tenancy.md "Write rules").
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-0000000000e1',
     '55555555-0000-4000-8000-00000000000a', 'Seat Night', 'seat-night', 'ON_SALE'),
    ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-0000000000e2',
     '55555555-0000-4000-8000-00000000000a', 'Draft Night', 'draft-night', 'DRAFT');
RESET eventsvc.import_mode;
SET ROLE eventsvc_user;
SET app.current_tenant_id = '55555555-5555-4555-8555-555555555555';
SET app.current_user_id = 'alice';

-- Sections: the rules.
SELECT api.create_section('55555555-0000-4000-8000-0000000000e1', 'Neg', -1);
SELECT api.create_section('55555555-0000-4000-8000-0000000000e1', 'Min', 10, minimum_purchase => 0);
SELECT api.create_section('55555555-0000-4000-8000-0000000000e1', 'MinMax', 10, minimum_purchase => 4, maximum_purchase => 2);
SELECT api.create_section('55555555-0000-4000-8000-0000000000e1', 'Rows', 10, row_config => '{"rows": 3, "seats_per_row": 4}');
SELECT api.create_section('55555555-0000-4000-8000-0000000000e1', 'Rows', 10, row_config => '{"rows": "x"}');
SELECT api.create_section('55555555-0000-4000-8000-0000000000e1', 'Venue', 101);
-- a tenant user writes no table directly; a DBA's direct INSERT meets the same rules
INSERT INTO eventsvc.event_capacity (tenant_id, event_id, section_name, total_capacity, available_capacity, sold_count)
VALUES ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-0000000000e1', 'Raw', 10, 8, 5);
RESET ROLE;
INSERT INTO eventsvc.event_capacity (tenant_id, event_id, section_name, total_capacity, available_capacity, sold_count)
VALUES ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-0000000000e1', 'Raw', 10, 8, 5);
SET ROLE eventsvc_user;
SELECT (api.create_section('55555555-0000-4000-8000-0000000000e1', 'Floor', 12,
        row_config => '{"rows": 3, "seats_per_row": 4}', maximum_purchase => 6)) ->> 'id' AS floor \gset
SELECT (api.create_section('55555555-0000-4000-8000-0000000000e1', 'Balcony', 8,
        row_config => '{"rows": [3, {"seats": 5}]}')) ->> 'id' AS balcony \gset
SELECT (api.create_section('55555555-0000-4000-8000-0000000000e2', 'Draft', 5)) ->> 'id' AS draft \gset
-- 12 + 8 of the venue's 100 used by this event (the draft event's 5 count for that event only).
SELECT api.create_section('55555555-0000-4000-8000-0000000000e1', 'Too much', 81);
SELECT (api.create_section('55555555-0000-4000-8000-0000000000e1', 'Standing', 70)) ->> 'total_capacity' AS standing;
SELECT (api.create_pricing('55555555-0000-4000-8000-0000000000e1', 'Floor', 2500, capacity_id => :'floor',
        tax_rate => 0.0825, max_per_customer => 8)) ->> 'id' AS floor_price \gset

-- Holds: one row each, with its own expiry and locked price.
SELECT h->>'state' AS state, h->>'quantity' AS qty, h->>'holder_id' AS holder, h->>'unit_price' AS unit,
       h->'locked_price'->>'total' AS locked_total,
       (h->>'expires_at')::timestamptz - (h->>'created_at')::timestamptz AS lifetime
  FROM to_jsonb(api.reserve_capacity(:'floor', 2, :'floor_price')) h;
SELECT (to_jsonb(api.reserve_capacity(:'floor', 3, :'floor_price', hold_seconds => 60))) ->> 'id' AS h2 \gset
SELECT capacity_id = :'floor' AS floor, reserved, sold, available FROM api.section_availability WHERE capacity_id = :'floor';

-- Refusals.
SELECT to_jsonb(api.reserve_capacity(:'floor', 0));
SELECT to_jsonb(api.reserve_capacity(:'floor', 7));                       -- above the section's maximum
SELECT to_jsonb(api.reserve_capacity(:'floor', 1, hold_seconds => 100000));
SELECT to_jsonb(api.reserve_capacity(:'draft', 1));                       -- event not on sale
SELECT to_jsonb(api.reserve_capacity('55555555-0000-4000-8000-00000000ffff', 1));
SELECT to_jsonb(api.reserve_capacity(:'balcony', 1, :'floor_price'));    -- tier of another section
SELECT to_jsonb(api.reserve_capacity(:'floor', 4, :'floor_price'));      -- alice has 5, limit 8
SELECT to_jsonb(api.reserve_capacity(:'floor', 1, holder_id => 'bob'));   -- only services and admins hold for others
SET app.current_user_id = 'bob';
SELECT (to_jsonb(api.reserve_capacity(:'floor', 6, :'floor_price'))) ->> 'quantity' AS bob;
SET app.current_user_id = 'alice';
SET app.current_user_id = 'carol';
SELECT to_jsonb(api.reserve_capacity(:'floor', 2)); -- sold out: 1 remains
SET app.current_user_id = 'alice';
SET app.current_user_id = 'carol';
SELECT to_jsonb(api.reserve_capacity(:'floor', 1)) ->> 'quantity' AS last_seat;
SET app.current_user_id = 'alice';
SET app.current_user_id = 'carol';
SELECT to_jsonb(api.reserve_capacity(:'floor', 1));
SET app.current_user_id = 'alice';

-- Release gives seats back; a second release is gone; confirm of released is gone.
SELECT (to_jsonb(api.release_hold(:'h2'))) ->> 'state' AS released;
\set VERBOSITY terse
SELECT to_jsonb(api.release_hold(:'h2'));
SELECT to_jsonb(api.confirm_hold(:'h2'));
\set VERBOSITY default
SELECT reserved, sold, available FROM api.section_availability WHERE capacity_id = :'floor';

-- Confirm keeps the locked price even when the tier's price changes later.
SELECT (to_jsonb(api.reserve_capacity(:'floor', 2, :'floor_price'))) ->> 'id' AS h3 \gset
SELECT (api.update_pricing(:'floor_price', 1, '{"base_price": 9900}')) ->> 'base_price' AS new_base;
SELECT h->>'state' AS state, h->>'unit_price' AS unit, h->'locked_price'->>'total' AS total
  FROM to_jsonb(api.confirm_hold(:'h3')) h;
\set VERBOSITY terse
SELECT to_jsonb(api.confirm_hold(:'h3'));
SELECT to_jsonb(api.release_hold(:'h3'));

-- Only the holder (or a service / admin) may act on a hold.
SET app.current_user_id = 'mallory';
SELECT to_jsonb(api.release_hold(:'h3'));
SET app.current_user_id = 'alice';
\set VERBOSITY default

-- extend within the maximum; never past it.
SELECT (to_jsonb(api.reserve_capacity(:'balcony', 1, hold_seconds => 60))) ->> 'id' AS h4 \gset
SELECT (h->>'expires_at')::timestamptz - (h->>'created_at')::timestamptz AS lifetime FROM to_jsonb(api.extend_hold(:'h4', 600)) h;
SELECT to_jsonb(api.extend_hold(:'h4', 1200));

-- An expired hold is never confirmed, even before the sweeper runs; then the sweep frees it.
RESET ROLE;
SET eventsvc.clock_offset_seconds = 3600;
SET ROLE eventsvc_user;
\set VERBOSITY terse
SELECT to_jsonb(api.confirm_hold(:'h4'));
SELECT to_jsonb(api.extend_hold(:'h4', 10));
\set VERBOSITY default
RESET ROLE;
SELECT api.expire_holds(100) AS expired;
SELECT api.expire_holds(100) AS expired_again;
RESET eventsvc.clock_offset_seconds;
SELECT state, count(*) FROM eventsvc.capacity_holds GROUP BY state ORDER BY state;
SET ROLE eventsvc_user;
\set VERBOSITY terse
SELECT to_jsonb(api.confirm_hold(:'h4'));
\set VERBOSITY default

-- Subtransactions: seats taken in a rolled-back savepoint come back; committed ones stay.
BEGIN;
SAVEPOINT a;
SET app.current_user_id = 'dave';
SELECT (to_jsonb(api.reserve_capacity(:'balcony', 3))) ->> 'quantity' AS taken;
SET app.current_user_id = 'alice';
ROLLBACK TO a;
SAVEPOINT b;
SET app.current_user_id = 'erin';
SELECT (to_jsonb(api.reserve_capacity(:'balcony', 2))) ->> 'quantity' AS taken;
SET app.current_user_id = 'alice';
RELEASE b;
COMMIT;
SET app.current_user_id = 'frank';
BEGIN;
SELECT (to_jsonb(api.reserve_capacity(:'balcony', 8))) ->> 'quantity' AS taken;
ROLLBACK;
SELECT to_jsonb(api.reserve_capacity(:'balcony', 7));
SELECT (to_jsonb(api.reserve_capacity(:'balcony', 6))) ->> 'quantity' AS all_the_rest;
SET app.current_user_id = 'alice';

-- A transaction that touched seats cannot be prepared.
BEGIN;
SET app.current_user_id = 'gina';
SELECT (to_jsonb(api.reserve_capacity(:'floor', 1))) ->> 'quantity' AS taken;
SET app.current_user_id = 'alice';
PREPARE TRANSACTION 'evs_capacity_test';
SET app.current_user_id = 'gina';
SELECT to_jsonb(api.reserve_capacity(:'floor', 2)) ->> 'quantity' AS rolled_back_seats_reusable;
SET app.current_user_id = 'alice';

-- Nor one that changed the rows reservations read (their copies would stay stale).
RESET ROLE;
BEGIN;
UPDATE eventsvc.event_capacity SET maximum_purchase = maximum_purchase WHERE id = :'floor';
PREPARE TRANSACTION 'evs_reference_test';
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE gid = 'evs_reference_test';
SET ROLE eventsvc_user;

-- Nobody writes hold rows directly.
RESET ROLE;
INSERT INTO eventsvc.capacity_holds (tenant_id, event_id, capacity_id, holder_id, quantity, expires_at)
VALUES ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-0000000000e1', :'floor', 'x', 1, now());
UPDATE eventsvc.capacity_holds SET quantity = 1;
DELETE FROM eventsvc.capacity_holds;
TRUNCATE eventsvc.capacity_holds;
SET ROLE eventsvc_user;

-- Sections cannot shrink below what is held or sold; they can grow.
SELECT api.update_section(:'floor', 1, '{"total_capacity": 5}');
SELECT api.update_section(:'balcony', 1, '{"total_capacity": 5, "row_config": null}');  -- 8 held
SELECT (api.update_section(:'floor', 1, '{"total_capacity": 14, "row_config": {"rows": 2, "seats_per_row": 7}}')) ->> 'total_capacity' AS grown;
SELECT api.update_section(:'floor', 1, '{"total_capacity": 20}');
SELECT api.update_section(:'floor', 2, '{"available_capacity": 20}');
SET app.current_user_id = 'hank';
SELECT (to_jsonb(api.reserve_capacity(:'floor', 2))) ->> 'quantity' AS after_growth;
SET app.current_user_id = 'alice';

-- Event cancellation releases every active hold.
RESET ROLE;
SET app.current_tenant_id = '55555555-5555-4555-8555-555555555555';
SELECT eventsvc.release_event_holds('55555555-0000-4000-8000-0000000000e1') AS released;

-- The invariant, from the rows, and no drift between counters and rows.
SELECT c.section_name, r->>'total' AS total, r->>'held' AS held, r->>'sold' AS sold,
       r->>'available' AS available, r->>'drift' AS drift, r->>'oversold' AS oversold
  FROM eventsvc.event_capacity c, eventsvc.check_capacity(c.id) r
 WHERE c.tenant_id = '55555555-5555-4555-8555-555555555555' ORDER BY c.section_name;
SELECT section_name, available_capacity, reserved_capacity, sold_count FROM eventsvc.event_capacity
 WHERE tenant_id = '55555555-5555-4555-8555-555555555555' ORDER BY section_name;

-- Thresholds: 80 % and 95 % of a section emit one message each when crossed (an
-- aborted crossing is emitted by the next one); when every seat of the event is
-- sold (not merely held), the event becomes SOLD_OUT with one event.soldout.
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-0000000000e3',
     '55555555-0000-4000-8000-00000000000a', 'Tiny Night', 'tiny-night', 'ON_SALE');
RESET eventsvc.import_mode;
SET ROLE eventsvc_user;
SET app.current_user_id = 'tiny-buyer';
SELECT (api.create_section('55555555-0000-4000-8000-0000000000e3', 'Tiny', 10)) ->> 'id' AS tiny \gset
SELECT (api.create_section('55555555-0000-4000-8000-0000000000e3', 'Tiny2', 2)) ->> 'id' AS tiny2 \gset
SELECT (to_jsonb(api.reserve_capacity(:'tiny', 7))) IS NOT NULL AS seventy_percent;
BEGIN;
SELECT (to_jsonb(api.reserve_capacity(:'tiny', 1))) IS NOT NULL AS eighty_percent_then_abort;
ROLLBACK;
SELECT (to_jsonb(api.reserve_capacity(:'tiny', 1))) IS NOT NULL AS eighty_percent;
SELECT (to_jsonb(api.reserve_capacity(:'tiny', 1))) IS NOT NULL AS ninety_percent;
SELECT (to_jsonb(api.reserve_capacity(:'tiny2', 2))) IS NOT NULL AS other_section_full;
SELECT (to_jsonb(api.reserve_capacity(:'tiny', 1))) IS NOT NULL AS last_seat_held;
SELECT count(to_jsonb(api.confirm_hold(id))) AS confirmed_all_but_one
  FROM (SELECT id FROM api.holds WHERE event_id = '55555555-0000-4000-8000-0000000000e3' ORDER BY quantity DESC LIMIT 4) h;
SELECT status AS still_on_sale_while_one_hold_is_open FROM api.events WHERE id = '55555555-0000-4000-8000-0000000000e3';
SELECT count(to_jsonb(api.confirm_hold(id))) AS confirmed_last
  FROM api.holds WHERE event_id = '55555555-0000-4000-8000-0000000000e3' AND state = 'ACTIVE';
SELECT to_jsonb(api.reserve_capacity(:'tiny2', 1));
RESET ROLE;
SELECT routing_key, payload->'data'->>'held_or_sold' AS used, payload->'data'->>'total_capacity' AS total,
       payload->'data'->>'threshold_percent' AS pct
  FROM eventsvc.outbox WHERE aggregate_id = '55555555-0000-4000-8000-0000000000e3' ORDER BY id;
SELECT status FROM eventsvc.events WHERE id = '55555555-0000-4000-8000-0000000000e3';
