-- pgTAP: tax-included and tax-exclusive tiers (docs/money.md). The one-cent cases
-- reported against other ticketing systems, rounding-mode edges, overflow, the tier
-- rules of the new fields, the locked price of a hold, and a property test: for
-- thousands of generated tiers and quantities every line adds up exactly, no line is
-- negative, a tax-included line charges the displayed amounts, and every figure
-- equals an independent computation in exact numeric arithmetic.
BEGIN;
SELECT plan(63);
SET LOCAL client_min_messages = warning;

SELECT eventsvc.create_tenant('Tap Tax', 'tap-tax', '7a7a7a7a-7a7a-47a7-87a7-7a7a7a7a7a7a') IS NOT NULL AS tenant;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('7a7a7a7a-7a7a-47a7-87a7-7a7a7a7a7a7a', '7a7a7a7a-0000-4000-8000-00000000000a', 'Tax Hall', 100000);
SET eventsvc.import_mode = on;   -- a fixture on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('7a7a7a7a-7a7a-47a7-87a7-7a7a7a7a7a7a', '7a7a7a7a-0000-4000-8000-0000000000e1',
     '7a7a7a7a-0000-4000-8000-00000000000a', 'Tax Night', 'tax-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('7a7a7a7a-7a7a-47a7-87a7-7a7a7a7a7a7a', '7a7a7a7a-0000-4000-8000-0000000000c1',
        '7a7a7a7a-0000-4000-8000-0000000000e1', 'Floor', 100000, 100000);
SET LOCAL app.current_tenant_id = '7a7a7a7a-7a7a-47a7-87a7-7a7a7a7a7a7a';
SET LOCAL app.current_user_id = 'tax-admin';

-- A tier through the api; its line as "tax/net/total".
CREATE FUNCTION pg_temp.tier(name text, base bigint, rate numeric, inclusive boolean,
                             fee_pct numeric DEFAULT 0, fees_taxable boolean DEFAULT true,
                             mode text DEFAULT 'half_even', service bigint DEFAULT 0,
                             grp_min integer DEFAULT NULL, grp_pct numeric DEFAULT NULL) RETURNS uuid
LANGUAGE sql AS $$
    SELECT (api.create_pricing(event_id => '7a7a7a7a-0000-4000-8000-0000000000e1', name => name, base_price => base,
                               currency => 'EUR', tax_rate => rate, tax_included => inclusive,
                               fee_percentage => fee_pct, fees_taxable => fees_taxable, rounding_mode => mode,
                               service_fee => service, group_size_min => grp_min,
                               group_discount_percentage => grp_pct) ->> 'id')::uuid
$$;
-- (plpgsql, not inlined: it sees a tier created earlier in the same statement)
CREATE FUNCTION pg_temp.calc(tier uuid, q integer) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN to_jsonb(api.calculate_price(tier, q));
END
$$;
CREATE FUNCTION pg_temp.line(tier uuid, q integer) RETURNS text LANGUAGE sql AS $$
    SELECT format('tax %s net %s total %s', p ->> 'tax', p ->> 'net', p ->> 'total') FROM to_jsonb(api.calculate_price(tier, q)) p
$$;

-- ------------------------------------------------------------------ the reported cases
-- Hi.Events #128: 25.00 including 10 % entered as 22.73 plus tax charges 50.01 for two.
SELECT is(pg_temp.line(pg_temp.tier('HiEvents net', 2273, 0.10, false), 2), 'tax 455 net 4546 total 5001',
          'Hi.Events #128 as reported: a net price of 22.73 plus 10 % charges 50.01 for two');
SELECT pg_temp.tier('HiEvents incl', 2500, 0.10, true) AS hi \gset
SELECT is(pg_temp.line(:'hi', 2), 'tax 455 net 4545 total 5000', '2 x 25.00 including 10 %: 50.00 exactly, tax 4.55');
SELECT is(pg_temp.line(:'hi', 1), 'tax 227 net 2273 total 2500', '1 x 25.00 including 10 %: 25.00, tax 2.27');

-- 2 x 25.00 including 19 %.
SELECT pg_temp.tier('Incl 19', 2500, 0.19, true) AS i19 \gset
SELECT is(pg_temp.line(:'i19', 2), 'tax 798 net 4202 total 5000', '2 x 25.00 including 19 %: 50.00, tax 7.98, net 42.02');
SELECT is(pg_temp.line(:'i19', 3), 'tax 1197 net 6303 total 7500', '3 x 25.00 including 19 %: 75.00, tax 11.97');
SELECT pg_temp.tier('Net 19', 2101, 0.19, false) AS n19 \gset
SELECT is(pg_temp.line(:'n19', 3), 'tax 1198 net 6303 total 7501',
          'the same tickets as a net price of 21.01 plus 19 % charge 75.01 for three');

-- A 10 % fee on a tax-inclusive price: the fee is part of what the buyer pays, and bears tax.
SELECT pg_temp.tier('Fee incl', 2500, 0.19, true, fee_pct => 10) AS fee \gset
SELECT is((SELECT format('%s+%s=%s tax %s net %s base %s', p->>'base_total', p->>'percentage_fee', p->>'total',
                         p->>'tax', p->>'net', p->>'tax_base') FROM to_jsonb(api.calculate_price(:'fee', 2)) p),
          '5000+500=5500 tax 878 net 4622 base 4622',
          '2 x 25.00 including 19 % with a 10 % fee: 55.00, tax 8.78 on the whole line');
SELECT pg_temp.tier('Fee untaxed', 2500, 0.19, true, fee_pct => 10, fees_taxable => false) AS feeu \gset
SELECT is((SELECT format('%s+%s=%s tax %s net %s base %s', p->>'base_total', p->>'percentage_fee', p->>'total',
                         p->>'tax', p->>'net', p->>'tax_base') FROM to_jsonb(api.calculate_price(:'feeu', 2)) p),
          '5000+500=5500 tax 798 net 4702 base 4202',
          'the same fee without tax: the tax is that of the tickets, the fee is net');
-- openfoodnetwork #847: 6.00 with a 20 % fee, 10 % included in both: 0.66 when each part is rounded, 0.65 on the line.
SELECT is(pg_temp.line(pg_temp.tier('OFN', 600, 0.10, true, fee_pct => 20), 1), 'tax 65 net 655 total 720',
          'tax on a price and its percentage fee is rounded once: 0.65, not 0.55 + 0.11');

-- alf.io #576: 5 x 99.00 including 22 %: tax 89.26 (rounding per ticket gave 89.25).
SELECT pg_temp.tier('alfio', 9900, 0.22, true) AS alfio \gset
SELECT is(pg_temp.line(:'alfio', 5), 'tax 8926 net 40574 total 49500', 'alf.io #576: 5 x 99.00 including 22 %: tax 89.26');
SELECT is(pg_temp.line(:'alfio', 1), 'tax 1785 net 8115 total 9900', 'one ticket: 17.85, so 5 x per ticket would be 89.25');

-- pretix #5781: 15.00 including 19 % cannot be reached from a rounded net price (15.01 or 14.99).
SELECT is(pg_temp.line(pg_temp.tier('pretix', 1500, 0.19, true), 1), 'tax 239 net 1261 total 1500',
          'pretix #5781: 15.00 including 19 % charges 15.00, tax 2.39');
-- pretix #5861: 2 x 34.00 including 7 % and a fee, 70.07 in all: net 65.49, tax 4.58 (pretix: 65.48 at first).
SELECT pg_temp.tier('pretix fee', 3400, 0.07, true, fee_pct => 3.04) AS pfee \gset
SELECT is((SELECT format('fee %s total %s net %s tax %s', p->>'percentage_fee', p->>'total', p->>'net', p->>'tax')
             FROM to_jsonb(api.calculate_price(:'pfee', 2)) p),
          'fee 207 total 7007 net 6549 tax 458', 'pretix #5861: 70.07 splits into net 65.49 and tax 4.58');

-- A group discount on a tax-included price is taken off the gross; the tax follows.
SELECT pg_temp.tier('Group incl', 2500, 0.19, true, grp_min => 4, grp_pct => 10) AS gi \gset
SELECT is((SELECT format('%s-%s=%s tax %s net %s', p->>'base_total', p->>'group_discount', p->>'total', p->>'tax', p->>'net')
             FROM to_jsonb(api.calculate_price(:'gi', 4)) p),
          '10000-1000=9000 tax 1437 net 7563', '4 x 25.00 including 19 %, 10 % off from 4: 90.00, tax 14.37');
SELECT is(pg_temp.line(:'gi', 3), 'tax 1197 net 6303 total 7500', 'below the group minimum: no discount');

-- Tax-exclusive tiers: the percentage fee is on the net tickets; untaxed fees stay out of the tax.
SELECT pg_temp.tier('Excl fee', 2000, 0.20, false, fee_pct => 12.5, service => 150, fees_taxable => false) AS ex \gset
SELECT is((SELECT format('%s+%s+%s=%s tax %s total %s base %s', p->>'base_total', p->>'service_fee', p->>'percentage_fee',
                         p->>'subtotal', p->>'tax', p->>'total', p->>'tax_base') FROM to_jsonb(api.calculate_price(:'ex', 3)) p),
          '6000+450+750=7200 tax 1200 total 8400 base 6000', 'exclusive, fees untaxed: 20 % of the tickets only');
UPDATE eventsvc.event_pricing SET fees_taxable = true WHERE id = :'ex';
SELECT is((SELECT format('tax %s total %s base %s', p->>'tax', p->>'total', p->>'tax_base') FROM to_jsonb(api.calculate_price(:'ex', 3)) p),
          'tax 1440 total 8640 base 7200', 'exclusive, fees taxed: 20 % of tickets and fees');

-- ------------------------------------------------------------------ rounding modes at exact halves
SELECT pg_temp.tier('Half even excl', 100, 0.005, false) AS hee \gset
SELECT pg_temp.tier('Half up excl', 100, 0.005, false, mode => 'half_up') AS hue \gset
SELECT is((SELECT string_agg(p->>'tax', ' ' ORDER BY q) FROM generate_series(1, 5, 2) q, to_jsonb(api.calculate_price(:'hee', q)) p),
          '0 2 2', 'exclusive, half_even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2');
SELECT is((SELECT string_agg(p->>'tax', ' ' ORDER BY q) FROM generate_series(1, 5, 2) q, to_jsonb(api.calculate_price(:'hue', q)) p),
          '1 2 3', 'exclusive, half_up: 0.5 -> 1, 1.5 -> 2, 2.5 -> 3');
-- 100 % included is half of the gross: 1, 3, 5 cents hold 0.5, 1.5, 2.5 of tax.
SELECT pg_temp.tier('Half even incl', 1, 1, true) AS hei \gset
SELECT pg_temp.tier('Half up incl', 1, 1, true, mode => 'half_up') AS hui \gset
SELECT is((SELECT string_agg(p->>'tax' || '/' || (p->>'net'), ' ' ORDER BY q) FROM generate_series(1, 5, 2) q, to_jsonb(api.calculate_price(:'hei', q)) p),
          '0/1 2/1 2/3', 'included, half_even: the tax inside 1, 3, 5 cents at 100 %');
SELECT is((SELECT string_agg(p->>'tax' || '/' || (p->>'net'), ' ' ORDER BY q) FROM generate_series(1, 5, 2) q, to_jsonb(api.calculate_price(:'hui', q)) p),
          '1/0 2/1 3/2', 'included, half_up: the tax inside 1, 3, 5 cents at 100 %');
SELECT is((SELECT string_agg(p->>'total', ' ' ORDER BY q) FROM generate_series(1, 5, 2) q, to_jsonb(api.calculate_price(:'hui', q)) p),
          '1 3 5', 'the rounding mode never changes what a tax-included line charges');
-- discount 12.5 % of 40.04 = 5.005 and fee 10 % of 1.05 = 0.105: the mode applies to every figure.
SELECT is((pg_temp.calc(pg_temp.tier('Disc even', 1001, 0, false, grp_min => 4, grp_pct => 12.5), 4)) ->> 'group_discount',
          '500', 'half_even discount: 5.005 -> 5.00');
SELECT is((pg_temp.calc(pg_temp.tier('Disc up', 1001, 0, false, mode => 'half_up', grp_min => 4, grp_pct => 12.5), 4)) ->> 'group_discount',
          '501', 'half_up discount: 5.005 -> 5.01');
SELECT is((pg_temp.calc(pg_temp.tier('Fee even', 35, 0, false, fee_pct => 10), 3)) ->> 'percentage_fee',
          '10', 'half_even percentage fee: 0.105 -> 0.10');
SELECT is((pg_temp.calc(pg_temp.tier('Fee up', 35, 0, false, fee_pct => 10, mode => 'half_up'), 3)) ->> 'percentage_fee',
          '11', 'half_up percentage fee: 0.105 -> 0.11 (per ticket it would be 3 x 0.04 = 0.12)');
SELECT is((to_jsonb(api.calculate_price(:'hue', 1))) ->> 'rounding', 'half-up per line', 'the locked price names the mode');

-- ------------------------------------------------------------------ overflow
SELECT pg_temp.tier('Huge incl', 4611686018427387903, 0.99999999, true) AS hugei \gset
SELECT pg_temp.tier('Huge excl', 4611686018427387903, 0.99999999, false) AS hugee \gset
SELECT is((SELECT format('total %s tax %s', p->>'total', p->>'tax') FROM to_jsonb(api.calculate_price(:'hugei', 2)) p),
          'total 9223372036854775806 tax 4611685995368957696',
          'included: a total near 2^63 is exact, the tax inside it too (128-bit products)');
SELECT throws_ok(format('SELECT api.calculate_price(%L, 2)', :'hugee'), '22003', NULL,
                 'excluded: the same line plus its tax does not fit (22003)');
SELECT throws_ok(format('SELECT api.calculate_price(%L, 3)', :'hugei'), '22003', NULL,
                 'included: a base total past 2^63 is 22003');
SELECT is((SELECT format('tax %s net %s', p->>'tax', p->>'net')
             FROM pg_temp.calc(pg_temp.tier('Max incl', 9223372036854775807, 1, true), 1) p),
          'tax 4611686018427387904 net 4611686018427387903', 'INT64_MAX at 100 % included: the exact half rounds to even');
SELECT throws_ok(format('SELECT pg_temp.calc(%L, 1)', pg_temp.tier('Max fee', 9223372036854775807, 0, true, fee_pct => 100)),
                 '22003', NULL, 'a percentage fee that overflows the line is 22003');
SELECT throws_ok(format('SELECT pg_temp.calc(%L, 2)', pg_temp.tier('Max service', 1, 0, true, service => 9223372036854775807)),
                 '22003', NULL, 'fees times quantity that overflow are 22003');

-- ------------------------------------------------------------------ tier rules of the new fields (22023)
SELECT throws_ok($$SELECT api.create_pricing('7a7a7a7a-0000-4000-8000-0000000000e1', 'R', 100, rounding_mode => 'half_down')$$,
                 '22023', 'invalid pricing tier: rounding_mode must be half_even or half_up', 'unknown rounding mode');
SELECT throws_ok($$SELECT api.create_pricing('7a7a7a7a-0000-4000-8000-0000000000e1', 'R', 100, rounding_mode => 'HALF_UP')$$,
                 '22023', 'invalid pricing tier: rounding_mode must be half_even or half_up', 'the mode is spelt exactly');
SELECT throws_ok($$SELECT api.create_pricing('7a7a7a7a-0000-4000-8000-0000000000e1', 'F', 100, fee_percentage => 100.01)$$,
                 '22023', 'invalid pricing tier: fee_percentage must be between 0 and 100', 'fee above 100 %');
SELECT throws_ok($$SELECT api.create_pricing('7a7a7a7a-0000-4000-8000-0000000000e1', 'F', 100, fee_percentage => -1)$$,
                 '22023', 'invalid pricing tier: fee_percentage must be between 0 and 100', 'negative fee');
SELECT throws_ok($$SELECT api.create_pricing('7a7a7a7a-0000-4000-8000-0000000000e1', 'F', 100, fee_percentage => 12.345)$$,
                 '22023', 'invalid pricing tier: fee_percentage has more than 2 decimal places', 'a fee is not rounded silently');
SELECT is((api.create_pricing('7a7a7a7a-0000-4000-8000-0000000000e1', 'Defaults', 100, tax_included => NULL,
                              fees_taxable => NULL, rounding_mode => NULL, fee_percentage => NULL)
           - ARRAY['id', 'event_id', 'name', 'base_price', 'created_at', 'updated_at']) @>
          '{"tax_included": false, "fees_taxable": true, "rounding_mode": "half_even", "fee_percentage": 0}',
          true, 'create_pricing: a null field takes its default, like the other fields');
SELECT throws_ok(format($$SELECT api.update_pricing(%L, 1, '{"tax_included": null}')$$, :'i19'),
                 '22023', 'invalid pricing tier: tax_included must be true or false', 'update: tax_included cannot be cleared');
SELECT throws_ok(format($$SELECT api.update_pricing(%L, 1, '{"fees_taxable": null}')$$, :'i19'),
                 '22023', 'invalid pricing tier: fees_taxable must be true or false', 'update: fees_taxable cannot be cleared');
SELECT throws_ok(format($$SELECT api.update_pricing(%L, 1, '{"rounding_mode": null}')$$, :'i19'),
                 '22023', 'invalid pricing tier: rounding_mode must be half_even or half_up', 'update: rounding_mode cannot be cleared');
SELECT throws_ok(format($$SELECT api.update_pricing(%L, 1, '{"rounding_mode": "bankers"}')$$, :'i19'),
                 '22023', 'invalid pricing tier: rounding_mode must be half_even or half_up', 'update: unknown mode');
SELECT throws_ok(format($$SELECT api.update_pricing(%L, 1, '{"fee_percentage": 1.005}')$$, :'i19'),
                 '22023', 'invalid pricing tier: fee_percentage has more than 2 decimal places', 'update: fee with 3 decimals');
SELECT throws_ok(format($$SELECT api.update_pricing(%L, 1, '{"fee_percentage": null}')$$, :'i19'),
                 '22023', 'invalid pricing tier: fee_percentage must be between 0 and 100', 'update: fee cannot be cleared');
SELECT throws_ok($$INSERT INTO eventsvc.event_pricing (tenant_id, event_id, name, base_price, rounding_mode)
                   VALUES ('7a7a7a7a-7a7a-47a7-87a7-7a7a7a7a7a7a', '7a7a7a7a-0000-4000-8000-0000000000e1', 'Raw', 100, 'ceil')$$,
                 '22023', 'invalid pricing tier: rounding_mode must be half_even or half_up', 'a direct INSERT meets the same rule');

-- ------------------------------------------------------------------ holds lock the tax mode
SELECT to_jsonb(api.reserve_capacity('7a7a7a7a-0000-4000-8000-0000000000c1', 2, :'fee', holder_id => 'lock')) AS hold \gset
SELECT is(:'hold'::jsonb -> 'locked_price', to_jsonb(api.calculate_price(:'fee', 2)), 'the hold locks the line calculate_price shows');
SELECT is(:'hold'::jsonb -> 'locked_price' @> '{"tax_included": true, "fees_taxable": true, "rounding_mode": "half_even",
                                                "fee_percentage": 10.00, "total": 5500, "tax": 878, "net": 4622}', true,
          'the locked price says tax included, fees taxed, the mode, the fee rate and the figures');
SELECT is((SELECT locked_price FROM eventsvc.capacity_holds WHERE id = (:'hold'::jsonb ->> 'id')::uuid),
          :'hold'::jsonb -> 'locked_price', 'the hold row stores the same object');
SELECT is((api.update_pricing(:'fee', 1, '{"tax_included": false, "rounding_mode": "half_up"}')) ->> 'version', '2',
          'the tier becomes tax-exclusive, half-up');
SELECT is((to_jsonb(api.calculate_price(:'fee', 2))) @> '{"tax_included": false, "rounding_mode": "half_up", "total": 6545, "tax": 1045}',
          true, 'new lines follow the tier: 55.00 + 19 % = 65.45');
SELECT is((to_jsonb(api.confirm_hold((:'hold'::jsonb ->> 'id')::uuid))) -> 'locked_price' ->> 'total', '5500',
          'the hold sells at its locked, tax-included 55.00');
SELECT is((api.active_pricing('7a7a7a7a-0000-4000-8000-0000000000c1')) ? 'tax_included', true,
          'active_pricing says whether its unit price includes tax');

-- ------------------------------------------------------------------ property test
-- 900 tiers from a fixed seed: prices from 0 to 10^13, real and random 8-decimal tax
-- rates (0 and 100 % included), both tax modes, both rounding modes, fees taxed or not,
-- fixed and percentage fees, group discounts; 9 quantities each.
SELECT setseed(0.2024);
CREATE TEMP TABLE gen AS
SELECT i,
       CASE i % 5 WHEN 0 THEN (random() * 500)::bigint
                  WHEN 1 THEN (random() * 100000)::bigint
                  WHEN 2 THEN (random() * 200)::bigint * 500
                  WHEN 3 THEN (random() * 10000000000000)::bigint
                  ELSE 1 + (random() * 3)::bigint * 2 END AS base,
       CASE WHEN random() < 0.6
            THEN (ARRAY[0.19, 0.07, 0.10, 0.20, 0.22, 0.0825, 0.21, 0.055, 0.25, 0.005, 0.5, 1, 0, 0.00000001,
                        0.99999999, 0.6, 0.125])[1 + (random() * 16)::int]
            ELSE round(random()::numeric, 8) END AS rate,
       random() < 0.5 AS inclusive,
       random() < 0.7 AS fees_taxable,
       CASE WHEN random() < 0.5 THEN 'half_even' ELSE 'half_up' END AS mode,
       CASE WHEN random() < 0.5 THEN 0 ELSE (random() * 1000)::bigint END AS service,
       CASE WHEN random() < 0.7 THEN 0 ELSE (random() * 300)::bigint END AS facility,
       CASE WHEN random() < 0.4 THEN 0 WHEN random() < 0.3 THEN (ARRAY[10, 12.5, 2.4, 50, 100])[1 + (random() * 4)::int]
            ELSE round((random() * 100)::numeric, 2) END AS fee_pct,
       CASE WHEN random() < 0.35 THEN 2 + (random() * 4)::int END AS grp_min,
       round((random() * 100)::numeric, 2) AS grp_pct
  FROM generate_series(1, 900) i;
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, tax_rate, tax_included, fees_taxable,
                                    rounding_mode, service_fee, facility_fee, fee_percentage, group_size_min,
                                    group_discount_percentage, currency)
SELECT '7a7a7a7a-7a7a-47a7-87a7-7a7a7a7a7a7a', ('7a7a7a7a-0000-4000-9000-' || lpad(i::text, 12, '0'))::uuid,
       '7a7a7a7a-0000-4000-8000-0000000000e1', 'gen ' || i, base, rate, inclusive, fees_taxable, mode,
       service, facility, fee_pct, grp_min, CASE WHEN grp_min IS NOT NULL THEN grp_pct END, 'EUR'
  FROM gen;
CREATE TEMP TABLE lines AS
SELECT g.*, q, p AS line
  FROM gen g, unnest(ARRAY[1, 2, 3, 4, 5, 7, 10, 25, 99]) q,
       to_jsonb(api.calculate_price(('7a7a7a7a-0000-4000-9000-' || lpad(g.i::text, 12, '0'))::uuid, q)) p;

-- The oracle: round(p / d) in the tier's mode, in exact numeric arithmetic.
CREATE FUNCTION pg_temp.rnd(p numeric, d numeric, mode text) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT div(p, d) + CASE WHEN 2 * mod(p, d) > d OR (2 * mod(p, d) = d AND (mode = 'half_up' OR mod(div(p, d), 2) = 1))
                            THEN 1 ELSE 0 END
$$;
CREATE TEMP TABLE checked AS
SELECT l.*, b.*, d.*, t.*, f.*, s.*, x.*, o.*,
       (l.line ->> 'base_total')::numeric AS l_base, (l.line ->> 'group_discount')::numeric AS l_disc,
       (l.line ->> 'service_fee')::numeric AS l_service, (l.line ->> 'facility_fee')::numeric AS l_facility,
       (l.line ->> 'percentage_fee')::numeric AS l_pfee, (l.line ->> 'subtotal')::numeric AS l_subtotal,
       (l.line ->> 'tax_base')::numeric AS l_tax_base, (l.line ->> 'tax')::numeric AS l_tax,
       (l.line ->> 'net')::numeric AS l_net, (l.line ->> 'total')::numeric AS l_total
  FROM lines l,
  LATERAL (SELECT l.base::numeric * l.q AS o_base) b,
  LATERAL (SELECT CASE WHEN l.grp_min IS NOT NULL AND l.q >= l.grp_min
                       THEN pg_temp.rnd(b.o_base * l.grp_pct * 100, 10000, l.mode) ELSE 0 END AS o_disc) d,
  LATERAL (SELECT b.o_base - d.o_disc AS o_tickets) t,
  LATERAL (SELECT pg_temp.rnd(t.o_tickets * l.fee_pct * 100, 10000, l.mode) AS o_pfee) f,
  LATERAL (SELECT t.o_tickets + (l.service + l.facility) * l.q + f.o_pfee AS o_subtotal) s,
  LATERAL (SELECT CASE WHEN l.fees_taxable THEN s.o_subtotal ELSE t.o_tickets END AS o_taxable) x,
  LATERAL (SELECT CASE WHEN l.inclusive THEN pg_temp.rnd(x.o_taxable * l.rate * 1e8, 1e8 + l.rate * 1e8, l.mode)
                       ELSE pg_temp.rnd(x.o_taxable * l.rate * 1e8, 1e8, l.mode) END AS o_tax,
                  CASE WHEN l.inclusive THEN mod(x.o_taxable * l.rate * 1e8 * 2, 1e8 + l.rate * 1e8) = 0
                                             AND mod(x.o_taxable * l.rate * 1e8, 1e8 + l.rate * 1e8) <> 0
                       ELSE mod(x.o_taxable * l.rate * 1e8 * 2, 1e8) = 0 AND mod(x.o_taxable * l.rate * 1e8, 1e8) <> 0
                  END AS tax_at_half) o;

SELECT is((SELECT count(*)::int FROM checked), 8100, 'the property test priced 900 tiers x 9 quantities');
SELECT is_empty($$SELECT i, q, line FROM checked
                   WHERE l_base - l_disc + l_service + l_facility + l_pfee <> l_subtotal
                      OR l_total <> l_subtotal + CASE WHEN inclusive THEN 0 ELSE l_tax END
                      OR l_net + l_tax <> l_total
                      OR l_tax_base + CASE WHEN fees_taxable THEN 0 ELSE l_service + l_facility + l_pfee END <> l_net$$,
                'every line: base - discount + fees = subtotal, subtotal (+ tax when excluded) = total, net + tax = total');
SELECT is_empty($$SELECT i, q, line FROM checked
                   WHERE least(l_base, l_disc, l_service, l_facility, l_pfee, l_subtotal, l_tax_base, l_tax, l_net, l_total) < 0$$,
                'no line is negative');
SELECT is_empty($$SELECT i, q, line FROM checked
                   WHERE inclusive AND (l_total <> base * q - l_disc + (service + facility) * q + l_pfee
                                        OR (l_disc = 0 AND service = 0 AND facility = 0 AND fee_pct = 0 AND l_total <> base * q))$$,
                'tax included: the charge is the displayed unit price x quantity - discount + fees, to the minor unit');
SELECT is_empty($$SELECT i, q, line FROM checked
                   WHERE (l_base, l_disc, l_pfee, l_subtotal, l_tax, l_total) IS DISTINCT FROM
                         (o_base, o_disc, o_pfee, o_subtotal, o_tax, CASE WHEN inclusive THEN o_subtotal ELSE o_subtotal + o_tax END)$$,
                'every figure equals the exact numeric computation of docs/money.md');
SELECT is_empty($$SELECT i, q, line FROM checked
                   WHERE abs(l_tax - l_tax_base * rate) > CASE WHEN inclusive THEN (1 + rate) / 2 ELSE 0.5 END$$,
                'the tax is the rate of the tax base within half a minor unit (included: within (1 + rate) / 2)');
SELECT is_empty($$SELECT i, q, line FROM checked
                   WHERE line ->> 'rounding_mode' <> mode OR (line ->> 'tax_included')::boolean <> inclusive
                      OR (line ->> 'fees_taxable')::boolean <> fees_taxable OR (line ->> 'fee_percentage')::numeric <> fee_pct$$,
                'every line states its tax mode');
SELECT ok((SELECT count(DISTINCT (inclusive, mode)) FROM checked WHERE tax_at_half) = 4,
          'the generated lines hit exact halves of tax in both tax modes and both rounding modes');
SELECT ok((SELECT count(*) FROM checked WHERE inclusive AND l_disc > 0 AND l_pfee > 0 AND NOT fees_taxable) > 50
          AND (SELECT count(*) FROM checked WHERE NOT inclusive AND l_disc > 0 AND l_pfee > 0 AND fees_taxable) > 50,
          'and lines with a discount, a percentage fee and either fee treatment in both tax modes');
-- The hold path prices the same lines: a sample of tiers through reserve_capacity.
SELECT is_empty($$SELECT i, q FROM checked c
                   WHERE i % 60 = 0 AND q = 3 AND base < 1000000000
                     AND (to_jsonb(api.reserve_capacity('7a7a7a7a-0000-4000-8000-0000000000c1', 3,
                                               ('7a7a7a7a-0000-4000-9000-' || lpad(c.i::text, 12, '0'))::uuid,
                                               holder_id => 'prop-' || i))) -> 'locked_price' <> c.line$$,
                'reserve_capacity locks exactly the line calculate_price gives');

SELECT * FROM finish();
ROLLBACK;
