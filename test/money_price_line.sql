-- pgTAP: api.calculate_price returns a row of api.price_line, a declared type typed
-- clients see: its columns are the keys of the price line (the same object a hold
-- keeps as locked_price), each with its SQL type and a comment, and a caller reads
-- one figure as (api.calculate_price(...)).total. docs/money.md "The result".
BEGIN;
SELECT plan(9);
SET LOCAL client_min_messages = warning;

SELECT eventsvc.create_tenant('Tap Line', 'tap-line', '7b7b7b7b-7b7b-47b7-87b7-7b7b7b7b7b7b') IS NOT NULL AS tenant;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('7b7b7b7b-7b7b-47b7-87b7-7b7b7b7b7b7b', '7b7b7b7b-0000-4000-8000-00000000000a', 'Line Hall', 1000);
SET eventsvc.import_mode = on;   -- a fixture on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('7b7b7b7b-7b7b-47b7-87b7-7b7b7b7b7b7b', '7b7b7b7b-0000-4000-8000-0000000000e1',
     '7b7b7b7b-0000-4000-8000-00000000000a', 'Line Night', 'line-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('7b7b7b7b-7b7b-47b7-87b7-7b7b7b7b7b7b', '7b7b7b7b-0000-4000-8000-0000000000c1',
        '7b7b7b7b-0000-4000-8000-0000000000e1', 'Floor', 1000, 1000);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, capacity_id, name, base_price, service_fee, facility_fee, tax_rate)
VALUES ('7b7b7b7b-7b7b-47b7-87b7-7b7b7b7b7b7b', '7b7b7b7b-0000-4000-8000-0000000000f1', '7b7b7b7b-0000-4000-8000-0000000000e1',
        '7b7b7b7b-0000-4000-8000-0000000000c1', 'Standard', 1999, 150, 75, 0.0825);
SET LOCAL app.current_tenant_id = '7b7b7b7b-7b7b-47b7-87b7-7b7b7b7b7b7b';
SET LOCAL app.current_user_id = 'line-buyer';

SELECT is((SELECT p.prorettype::regtype FROM pg_proc p WHERE p.oid = 'api.calculate_price(uuid, integer)'::regprocedure),
          'api.price_line'::regtype, 'calculate_price is declared to return api.price_line');
SELECT is((SELECT c.relkind::text FROM pg_class c WHERE c.oid = (SELECT typrelid FROM pg_type WHERE oid = 'api.price_line'::regtype)),
          'c', 'api.price_line is a composite type of its own');
SELECT is_empty($$
    SELECT a.attname FROM pg_attribute a
     WHERE a.attrelid = (SELECT typrelid FROM pg_type WHERE oid = 'api.price_line'::regtype) AND a.attnum > 0
       AND coalesce(col_description(a.attrelid, a.attnum), '') = ''
$$, 'every column of api.price_line has a comment');

-- the documented example: 3 x 19.99, 1.50 + 0.75 fees a ticket, 8.25 % on everything
SELECT is((SELECT format('%s %s %s %s %s %s %s', p.currency, p.quantity, p.base_total, p.subtotal, p.tax, p.net, p.total)
             FROM api.calculate_price('7b7b7b7b-0000-4000-8000-0000000000f1', 3) p),
          'USD 3 5997 6672 550 6672 7222', 'the figures as columns of their own');
SELECT is((api.calculate_price('7b7b7b7b-0000-4000-8000-0000000000f1', 3)).total, 7222::bigint,
          '(api.calculate_price(...)).total is a bigint');
SELECT is((api.calculate_price('7b7b7b7b-0000-4000-8000-0000000000f1', 3)).tax_rate::text, '0.08250000',
          'the rate keeps its exact decimals');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(to_jsonb(api.calculate_price('7b7b7b7b-0000-4000-8000-0000000000f1', 3))) k),
          (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a
            WHERE a.attrelid = (SELECT typrelid FROM pg_type WHERE oid = 'api.price_line'::regtype) AND a.attnum > 0),
          'as an object, the row has exactly the columns of the type');

-- the same line a hold locks (the hold's locked_price is made by the same code, as jsonb)
SELECT is((api.reserve_capacity('7b7b7b7b-0000-4000-8000-0000000000c1', 3, '7b7b7b7b-0000-4000-8000-0000000000f1')).locked_price,
          to_jsonb(api.calculate_price('7b7b7b7b-0000-4000-8000-0000000000f1', 3)),
          'a hold locks exactly the line calculate_price answers');
SELECT ok(NOT EXISTS (SELECT 1 FROM jsonb_each(to_jsonb(api.calculate_price('7b7b7b7b-0000-4000-8000-0000000000f1', 1))) e
                       WHERE e.value = 'null'::jsonb),
          'no figure of a line is null');

SELECT * FROM finish();
ROLLBACK;
