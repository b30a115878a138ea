-- pgTAP: the hold row a reservation writes without the executor
-- (src/capacity/hold_store.c). It is the row the API returns; the table's CHECK
-- constraints still refuse a bad row; a read-only transaction is refused;
-- and when an operator has changed the table (a row trigger, a new column with
-- a default) the reservation inserts through SQL, so the trigger fires and the
-- default applies. Every refusal leaves the seat counter where it was; amcheck
-- finds every index entry the direct path wrote in step with the heap.
BEGIN;
SELECT plan(22);

SELECT eventsvc.create_tenant('Tap Row', 'tap-row', '6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e', '6e6e6e6e-0000-4000-8000-00000000000a', 'Row Hall', 100);
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e', '6e6e6e6e-0000-4000-8000-0000000000e1',
     '6e6e6e6e-0000-4000-8000-00000000000a', 'Row Night', 'row-night', 'ON_SALE');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e', '6e6e6e6e-0000-4000-8000-0000000000c1',
        '6e6e6e6e-0000-4000-8000-0000000000e1', 'Floor', 40, 40);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, service_fee, tax_rate)
VALUES ('6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e', '6e6e6e6e-0000-4000-8000-0000000000f1',
        '6e6e6e6e-0000-4000-8000-0000000000e1', 'General', 2500, 150, 0.0825);
SET LOCAL app.current_tenant_id = '6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e';

CREATE FUNCTION pg_temp.free() RETURNS text LANGUAGE sql AS $$
    SELECT (r->>'available') || ' free, drift ' || (r->>'drift')
      FROM eventsvc.check_capacity('6e6e6e6e-0000-4000-8000-0000000000c1') r
$$;

SELECT isnt(eventsvc.reference_generation(), NULL, 'the reference generation lives in shared memory');

-- the row written is the row returned, column for column (as api.holds shows it)
CREATE TEMP TABLE got AS
SELECT to_jsonb(api.reserve_capacity('6e6e6e6e-0000-4000-8000-0000000000c1', 3, '6e6e6e6e-0000-4000-8000-0000000000f1', 'rita')) AS hold;
SELECT is((SELECT to_jsonb(h) FROM api.holds h WHERE id = (SELECT (hold->>'id')::uuid FROM got)),
          (SELECT hold FROM got), 'the stored hold equals the returned one');
SELECT is((SELECT state::text || ' ' || quantity || ' ' || currency || ' ' || unit_price || ' ' || (locked_price->>'total')
             FROM eventsvc.capacity_holds WHERE id = (SELECT (hold->>'id')::uuid FROM got)),
          'ACTIVE 3 USD 2500 ' || (to_jsonb(api.calculate_price('6e6e6e6e-0000-4000-8000-0000000000f1', 3))->>'total'),
          'state, quantity, currency, locked unit price and the priced total');
SELECT is((SELECT created_at FROM eventsvc.capacity_holds WHERE id = (SELECT (hold->>'id')::uuid FROM got)),
          now(), 'created at the transaction''s start, as the column default');
SELECT is(pg_temp.free(), '37 free, drift 0', 'three seats taken');

-- the locked price follows the tier: the same line again, another quantity, a new price
CREATE TEMP TABLE lines AS
SELECT n, (to_jsonb(api.reserve_capacity('6e6e6e6e-0000-4000-8000-0000000000c1', q, '6e6e6e6e-0000-4000-8000-0000000000f1', 'rita')))->'locked_price' AS locked
  FROM unnest(ARRAY[3, 1, 3]) WITH ORDINALITY AS u(q, n);
SELECT is((SELECT array_agg(locked->>'total' ORDER BY n) FROM lines),
          ARRAY[to_jsonb(api.calculate_price('6e6e6e6e-0000-4000-8000-0000000000f1', 3))->>'total',
                to_jsonb(api.calculate_price('6e6e6e6e-0000-4000-8000-0000000000f1', 1))->>'total',
                to_jsonb(api.calculate_price('6e6e6e6e-0000-4000-8000-0000000000f1', 3))->>'total'],
          'each hold locks the price of its own quantity');
UPDATE eventsvc.event_pricing SET base_price = 2600 WHERE id = '6e6e6e6e-0000-4000-8000-0000000000f1';
SELECT is((to_jsonb(api.reserve_capacity('6e6e6e6e-0000-4000-8000-0000000000c1', 3, '6e6e6e6e-0000-4000-8000-0000000000f1', 'rita')))->'locked_price',
          to_jsonb(api.calculate_price('6e6e6e6e-0000-4000-8000-0000000000f1', 3)),
          'after a price change the hold locks the new line');
SELECT is(pg_temp.free(), '27 free, drift 0', 'ten more seats held');

-- a CHECK constraint the C code knows nothing of still refuses the row
SAVEPOINT c;
ALTER TABLE eventsvc.capacity_holds ADD CONSTRAINT tap_at_most_four CHECK (quantity <= 4) NOT VALID;
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('6e6e6e6e-0000-4000-8000-0000000000c1', 5, holder_id => 'rita'))$$,
    '23514', 'new row for relation "capacity_holds" violates check constraint "tap_at_most_four"',
    'a table CHECK refuses the row written without the executor');
SELECT is(pg_temp.free(), '27 free, drift 0', 'the refused hold gave its seats back');
ROLLBACK TO SAVEPOINT c;

-- a row trigger added by an operator: the reservation goes through SQL and fires it
SAVEPOINT t;
CREATE TABLE pg_temp.seen (quantity integer);
CREATE FUNCTION eventsvc.tap_seen() RETURNS trigger LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO pg_temp.seen VALUES (NEW.quantity); RETURN NEW; END$$;
CREATE TRIGGER tap_seen AFTER INSERT ON eventsvc.capacity_holds FOR EACH ROW EXECUTE FUNCTION eventsvc.tap_seen();
SELECT is((to_jsonb(api.reserve_capacity('6e6e6e6e-0000-4000-8000-0000000000c1', 2, holder_id => 'rita')))->>'quantity', '2',
          'a reservation with a row trigger on holds');
SELECT is((SELECT array_agg(quantity) FROM pg_temp.seen), ARRAY[2], 'the trigger saw the row');
ROLLBACK TO SAVEPOINT t;

-- a column added with a default: the SQL insert applies the default
SAVEPOINT d;
ALTER TABLE eventsvc.capacity_holds ADD COLUMN tap_note text NOT NULL DEFAULT 'walk-up';
CREATE TEMP TABLE noted AS
SELECT (to_jsonb(api.reserve_capacity('6e6e6e6e-0000-4000-8000-0000000000c1', 1, holder_id => 'rita')))->>'id' AS id;
SELECT is((SELECT tap_note FROM eventsvc.capacity_holds WHERE id = (SELECT id::uuid FROM noted)),
          'walk-up', 'a new column gets its default');
ROLLBACK TO SAVEPOINT d;
SELECT is(pg_temp.free(), '27 free, drift 0', 'rolled back reservations gave their seats back');

-- the table is back as it was: the direct path again, and the same row as returned
CREATE TEMP TABLE again AS
SELECT to_jsonb(api.reserve_capacity('6e6e6e6e-0000-4000-8000-0000000000c1', 1, holder_id => 'sam')) AS hold;
SELECT is((SELECT to_jsonb(h) FROM api.holds h WHERE id = (SELECT (hold->>'id')::uuid FROM again)),
          (SELECT hold FROM again), 'after the table changed back, the stored hold equals the returned one again');

-- a read-only transaction (a GET through PostgREST, a standby) writes nothing
SAVEPOINT r;
SET LOCAL transaction_read_only = on;
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('6e6e6e6e-0000-4000-8000-0000000000c1', 1, holder_id => 'rita'))$$,
    '25006', 'cannot execute INSERT in a read-only transaction', 'a read-only transaction cannot hold seats');
ROLLBACK TO SAVEPOINT r;
SELECT is(pg_temp.free(), '26 free, drift 0', 'the read-only attempt took no seat');

-- every index entry the direct path wrote matches its heap row, and no row lacks one
CREATE EXTENSION amcheck;
SELECT is((SELECT count(*) FROM (SELECT bt_index_check(i.indexrelid, true) FROM pg_index i
                                   WHERE i.indrelid = 'eventsvc.capacity_holds'::regclass) x),
          5::bigint, 'amcheck: the five hold indexes agree with the heap');

-- the hold table replaced under its name (as a re-created extension replaces it):
-- the session looks the name up again instead of writing to the table it knew
SAVEPOINT n;
ALTER TABLE eventsvc.capacity_holds RENAME TO capacity_holds_before;
CREATE TABLE eventsvc.capacity_holds (LIKE eventsvc.capacity_holds_before INCLUDING ALL);
SELECT is((to_jsonb(api.reserve_capacity('6e6e6e6e-0000-4000-8000-0000000000c1', 2, holder_id => 'tess')))->>'quantity', '2',
          'a reservation after the hold table was replaced');
SELECT is((SELECT count(*) FROM eventsvc.capacity_holds WHERE holder_id = 'tess'), 1::bigint,
          'its row is in the table that has the name now');
SELECT is((SELECT count(*) FROM eventsvc.capacity_holds_before WHERE holder_id = 'tess'), 0::bigint,
          'and not in the renamed one');
ROLLBACK TO SAVEPOINT n;
SELECT is(pg_temp.free(), '26 free, drift 0', 'with the table back, the section is where it was');

SELECT * FROM finish();
ROLLBACK;
