-- bench/setup.sql: one tenant, one ON_SALE event, a hot section, 100 spread
-- sections, one tier for all of them, the two baselines (naive PL/pgSQL
-- reservation with a row lock; bare single-row UPDATE) and the hold row alone.
-- Run as superuser.
SELECT eventsvc.create_tenant('Bench', 'bench', '0b0b0b0b-0000-4000-8000-000000000000');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('0b0b0b0b-0000-4000-8000-000000000000', '0b0b0b0b-0000-4000-8000-0000000000a1', 'Bench Arena', 2000000000);
-- The event is written on sale directly, as an import (docs/tenancy.md "Write rules"):
-- the benches address its sections by fixed ids.
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('0b0b0b0b-0000-4000-8000-000000000000', '0b0b0b0b-0000-4000-8000-0000000000e1',
        '0b0b0b0b-0000-4000-8000-0000000000a1', 'Bench Night', 'bench-night', 'ON_SALE');
RESET eventsvc.import_mode;
-- section s has id 00000000-0000-4000-8000-<s in 12 digits>; s = 0 is the hot one
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
SELECT '0b0b0b0b-0000-4000-8000-000000000000', ('00000000-0000-4000-8000-' || lpad(s::text, 12, '0'))::uuid,
       '0b0b0b0b-0000-4000-8000-0000000000e1', 'S' || s, 10000000, 10000000
  FROM generate_series(0, 100) s;
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, service_fee, tax_rate)
VALUES ('0b0b0b0b-0000-4000-8000-000000000000', '0b0b0b0b-0000-4000-8000-0000000000f1',
        '0b0b0b0b-0000-4000-8000-0000000000e1', 'General', 4999, 350, 0.0825);

-- Baseline 1: the naive reservation of the original service, in PL/pgSQL:
-- lock the section row, check, move the counters, insert a hold row.
CREATE SCHEMA bench;
CREATE TABLE bench.sections (id integer PRIMARY KEY, total integer NOT NULL, available integer NOT NULL,
                             reserved integer NOT NULL DEFAULT 0, CHECK (available >= 0));
CREATE TABLE bench.holds (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                          section_id integer NOT NULL REFERENCES bench.sections (id),
                          holder_id text NOT NULL, quantity integer NOT NULL, unit_price bigint,
                          expires_at timestamptz NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON bench.holds (section_id);
CREATE INDEX ON bench.holds (expires_at);
INSERT INTO bench.sections SELECT s, 10000000, 10000000 FROM generate_series(0, 100) s;
CREATE FUNCTION bench.naive_reserve(p_section integer, p_quantity integer, p_holder text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    avail integer;
    hold_id bigint;
BEGIN
    SELECT available INTO avail FROM bench.sections WHERE id = p_section FOR UPDATE;
    IF avail < p_quantity THEN
        RAISE EXCEPTION 'sold out';
    END IF;
    UPDATE bench.sections SET available = available - p_quantity, reserved = reserved + p_quantity
     WHERE id = p_section;
    INSERT INTO bench.holds (section_id, holder_id, quantity, unit_price, expires_at)
    VALUES (p_section, p_holder, p_quantity, 4999, now() + interval '10 minutes')
    RETURNING id INTO hold_id;
    RETURN hold_id;
END
$$;

-- Reference (1 client): the hold row alone. The row a reservation writes, by a
-- plain INSERT into a table of the same shape (columns, CHECKs, the four
-- indexes): what one durable hold costs before a single seat is counted.
CREATE TABLE bench.hold_rows (LIKE eventsvc.capacity_holds INCLUDING ALL);

-- Baseline 2: the cheapest durable write there is, one row updated in place.
CREATE TABLE bench.counter (id integer PRIMARY KEY, n bigint NOT NULL);
INSERT INTO bench.counter VALUES (1, 0);
