-- Pricing tiers and exact money: the tier rules, the active price at a moment,
-- calculate_price with half-even tax on awkward values, overflow, dynamic prices.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SELECT eventsvc.create_tenant('Money Hall', 'money-hall', '44444444-4444-4444-8444-444444444444') IS NOT NULL AS tenant;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('44444444-4444-4444-8444-444444444444', '44444444-0000-4000-8000-00000000000a', 'Money Hall', 1000);
-- Fixture events written directly by the superuser, in the state the test needs:
-- import mode (docs/tenancy.md "Write rules").
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('44444444-4444-4444-8444-444444444444', '44444444-0000-4000-8000-0000000000e1',
     '44444444-0000-4000-8000-00000000000a', 'Price Night', 'price-night', 'ON_SALE');
RESET eventsvc.import_mode;
SET ROLE eventsvc_user;
SET app.current_tenant_id = '44444444-4444-4444-8444-444444444444';
SET app.current_user_id = 'pricing-admin';

-- A plain tier: 8.25 % tax on 19.99 plus fees.
SELECT (api.create_pricing(event_id => '44444444-0000-4000-8000-0000000000e1', name => 'Standard',
        base_price => 1999, service_fee => 150, facility_fee => 75, tax_rate => 0.0825)) ->> 'id' AS std \gset
-- 3 x 19.99 = 59.97; fees 4.50 + 2.25; subtotal 66.72; tax 5.5044 -> 5.50; total 72.22
SELECT jsonb_pretty(to_jsonb(api.calculate_price(:'std', 3)));
-- 7 tickets: subtotal 155.68, tax 12.8436 -> 12.84
SELECT p->>'subtotal' AS subtotal, p->>'tax' AS tax, p->>'total' AS total
  FROM to_jsonb(api.calculate_price(:'std', 7)) p;

-- Half-even on exact halves: 0.5 % of 100 = 0.5 -> 0, of 300 = 1.5 -> 2, of 500 = 2.5 -> 2.
SELECT (api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Half', 100, tax_rate => 0.005)) ->> 'id' AS half \gset
SELECT q, (to_jsonb(api.calculate_price(:'half', q))) ->> 'tax' AS tax FROM generate_series(1, 5, 2) q;

-- Group discount 12.5 % from 4 tickets on the base only, rounded half-even; fees not discounted.
SELECT (api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Group', 1001, service_fee => 100,
        group_size_min => 4, group_discount_percentage => 12.5, tax_rate => 0.1)) ->> 'id' AS grp \gset
SELECT q, p->>'base_total' AS base, p->>'group_discount' AS discount, p->>'subtotal' AS subtotal,
       p->>'tax' AS tax, p->>'total' AS total
  FROM generate_series(3, 5) q, to_jsonb(api.calculate_price(:'grp', q)) p;

-- Large amounts stay exact; an overflow is an error, never a wrapped number.
SELECT (api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Huge', 4611686018427387903,
        tax_rate => 0.99999999)) ->> 'id' AS huge \gset
SELECT p->>'base_total' AS base, p->>'tax' AS tax FROM to_jsonb(api.calculate_price(:'huge', 1)) p;
SELECT to_jsonb(api.calculate_price(:'huge', 2));
SELECT to_jsonb(api.calculate_price(:'huge', 3));
SELECT to_jsonb(api.calculate_price(:'std', 0));
SELECT to_jsonb(api.calculate_price('44444444-0000-4000-8000-00000000ffff', 1));

-- Tier rules: each refusal names its rule.
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Neg', -1);
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Fee', 100, service_fee => -5);
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Tax', 100, tax_rate => 1.5);
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Tax9', 100, tax_rate => 0.123456789);
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Window', 100,
       sales_start_at => '2030-01-02', sales_end_at => '2030-01-01');
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Dyn', 100, is_dynamic => true);
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Dyn', 100, is_dynamic => true,
       min_price => 150, max_price => 300);
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'EB', 100, early_bird_price => 100,
       early_bird_ends_at => '2030-01-01');
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'EB', 100, early_bird_price => 80);
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'G', 100, group_discount_percentage => 10);
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'G', 100, group_discount_percentage => 101,
       group_size_min => 5);
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'G', 100, group_discount_percentage => 10,
       group_size_min => 1);
-- A tenant user writes no table directly; a DBA's direct INSERT meets the same rules.
INSERT INTO eventsvc.event_pricing (tenant_id, event_id, name, base_price, early_bird_price)
VALUES ('44444444-4444-4444-8444-444444444444', '44444444-0000-4000-8000-0000000000e1', 'Raw', 100, 50);
RESET ROLE;
INSERT INTO eventsvc.event_pricing (tenant_id, event_id, name, base_price, early_bird_price)
VALUES ('44444444-4444-4444-8444-444444444444', '44444444-0000-4000-8000-0000000000e1', 'Raw', 100, 50);
SET ROLE eventsvc_user;

-- The active unit price at a moment: early bird, then base, then last minute.
SELECT (api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Timed', 5000,
        early_bird_price => 4000, early_bird_ends_at => now() + interval '1 day',
        last_minute_price => 6000, last_minute_starts_at => now() + interval '10 days')) ->> 'id' AS timed \gset
SELECT (to_jsonb(api.calculate_price(:'timed', 1))) ->> 'price_kind' AS kind_now,
       (to_jsonb(api.calculate_price(:'timed', 1))) ->> 'unit_price' AS unit_now;
RESET ROLE;
SET eventsvc.clock_offset_seconds = 172800;   -- two days later
SET ROLE eventsvc_user;
SELECT (to_jsonb(api.calculate_price(:'timed', 1))) ->> 'price_kind' AS kind, (to_jsonb(api.calculate_price(:'timed', 1))) ->> 'unit_price' AS unit;
RESET ROLE;
SET eventsvc.clock_offset_seconds = 1036800;  -- twelve days later
SET ROLE eventsvc_user;
SELECT (to_jsonb(api.calculate_price(:'timed', 1))) ->> 'price_kind' AS kind, (to_jsonb(api.calculate_price(:'timed', 1))) ->> 'unit_price' AS unit;
RESET ROLE;
RESET eventsvc.clock_offset_seconds;
SET ROLE eventsvc_user;

-- Dynamic prices move within their bounds, versioned, with an outbox record.
SELECT (api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Surge', 10000, is_dynamic => true,
        min_price => 8000, max_price => 20000)) ->> 'id' AS surge \gset
SELECT p->>'current_price' AS current, p->>'version' AS version FROM api.update_dynamic_price(:'surge', 15000, 1) p;
SELECT (to_jsonb(api.calculate_price(:'surge', 2))) ->> 'price_kind' AS kind, (to_jsonb(api.calculate_price(:'surge', 2))) ->> 'base_total' AS base;
SELECT api.update_dynamic_price(:'surge', 16000, 1);
SELECT api.update_dynamic_price(:'surge', 25000, 2);
SELECT api.update_dynamic_price(:'std', 1000, 1);
RESET ROLE;
SELECT routing_key, payload->'data'->>'old_price' AS old, payload->'data'->>'new_price' AS new,
       payload->'data'->>'changed_by' AS who
  FROM eventsvc.outbox WHERE routing_key = 'pricing.price_changed';
SET ROLE eventsvc_user;

-- update_pricing: versioned, validated, only known fields.
SELECT p->>'base_price' AS base, p->>'version' AS version
  FROM api.update_pricing(:'std', 1, '{"base_price": 2499, "tax_rate": 0.07}') p;
SELECT api.update_pricing(:'std', 1, '{"base_price": 2599}');
SELECT api.update_pricing(:'std', 2, '{"base_price": -1}');
SELECT api.update_pricing(:'std', 2, '{"version": 9, "tenant_id": null}');
SELECT (to_jsonb(api.calculate_price(:'std', 1))) ->> 'total' AS total_at_7pct;

-- A tax-included tier (prices as the buyer sees them) with a 10 % fee: the buyer pays
-- 2 x 25.00 + 5.00 = 55.00 exactly; the 19 % inside it is 8.78 (docs/money.md).
SELECT (api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Inclusive', 2500, currency => 'EUR',
        tax_rate => 0.19, tax_included => true, fee_percentage => 10)) ->> 'id' AS incl \gset
SELECT jsonb_pretty(to_jsonb(api.calculate_price(:'incl', 2)));
SELECT api.create_pricing('44444444-0000-4000-8000-0000000000e1', 'Bad mode', 100, rounding_mode => 'nearest');
SELECT api.update_pricing(:'incl', 1, '{"tax_included": null}');
