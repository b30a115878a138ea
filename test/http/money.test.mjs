// money.test.mjs: tax-included tiers over HTTP (docs/money.md), through
// @supabase/postgrest-js against real PostgREST, as a box office would use them:
// create a tier whose price includes tax, read its line, hold seats at it, and get
// 400 with the rule for a bad tax mode. Run by test/integration/http_client.sh.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign } from './jwt.mjs';

const require = createRequire(join(process.env.EVS_NODE_MODULES, 'noop.js'));
const { PostgrestClient } = require('@supabase/postgrest-js');

const URL = process.env.PGRST_URL;
const KEY = readFileSync(process.env.EVS_JWT_KEY, 'utf8');
const ROCK = 'aaaaaaaa-0000-4000-8000-0000000000e1';   // Acme's event on sale (test/http/seed.sql)
const as = (claims) => new PostgrestClient(URL, { headers: { Authorization: `Bearer ${sign(claims, KEY)}` } });
const alice = as({ role: 'eventsvc_user', tenant_id: '11111111-1111-4111-8111-111111111111', sub: 'alice-money' });
const bob = as({ role: 'eventsvc_user', tenant_id: '22222222-2222-4222-8222-222222222222', sub: 'bob-money' });

describe('tax-included tiers', () => {
    test('create, price, hold: 2 x 25.00 including 19 % with a 10 % fee is 55.00, tax 8.78 inside', async () => {
        const section = await alice.rpc('create_section', { event_id: ROCK, section_name: 'Money Balcony', total_capacity: 10 });
        assert.equal(section.error, null, JSON.stringify(section.error));

        const tier = await alice.rpc('create_pricing', {
            event_id: ROCK, capacity_id: section.data.id, name: 'Balcony incl. VAT', base_price: 2500, currency: 'EUR',
            tax_rate: 0.19, tax_included: true, fee_percentage: 10, rounding_mode: 'half_up',
        });
        assert.equal(tier.error, null, JSON.stringify(tier.error));
        assert.equal(tier.status, 200);
        assert.equal(tier.data.tax_included, true);
        assert.equal(tier.data.fees_taxable, true, 'fees bear tax unless the tier says otherwise');
        assert.equal(tier.data.rounding_mode, 'half_up');

        const line = await alice.rpc('calculate_price', { pricing_id: tier.data.id, quantity: 2 }, { get: true });
        assert.equal(line.error, null, JSON.stringify(line.error));
        const p = line.data;
        assert.equal(p.total, 5500, 'the buyer pays the displayed 2 x 25.00 plus the 5.00 fee');
        assert.equal(p.tax, 878);
        assert.equal(p.net, 4622);
        assert.equal(p.base_total - p.group_discount + p.service_fee + p.facility_fee + p.percentage_fee, p.subtotal);
        assert.equal(p.subtotal, p.total, 'tax included: nothing is added on top');
        assert.equal(p.net + p.tax, p.total);
        assert.equal(p.tax_included, true);
        assert.equal(p.rounding_mode, 'half_up');
        assert.equal(p.rounding, 'half-up per line');

        const tiers = await alice.from('event_pricing_tiers').select('tax_included,fees_taxable,rounding_mode,fee_percentage')
            .eq('id', tier.data.id).single();
        assert.equal(tiers.error, null, JSON.stringify(tiers.error));
        assert.deepEqual({ ...tiers.data, fee_percentage: Number(tiers.data.fee_percentage) },
            { tax_included: true, fees_taxable: true, rounding_mode: 'half_up', fee_percentage: 10 });

        const hold = await alice.rpc('reserve_capacity', { capacity_id: section.data.id, quantity: 2, pricing_id: tier.data.id });
        assert.equal(hold.error, null, JSON.stringify(hold.error));
        assert.deepEqual(hold.data.locked_price, p, 'the hold locks the line calculate_price showed');

        const stranger = await bob.rpc('calculate_price', { pricing_id: tier.data.id, quantity: 2 }, { get: true });
        assert.equal(stranger.status, 404, 'another tenant does not see the tier');
    });

    test('a bad tax mode is 400 with the rule named', async () => {
        const mode = await alice.rpc('create_pricing', { event_id: ROCK, name: 'Bad', base_price: 100, rounding_mode: 'nearest' });
        assert.equal(mode.status, 400);
        assert.equal(mode.error.code, '22023');
        assert.match(mode.error.message, /rounding_mode must be half_even or half_up/);
        assert.ok(mode.error.hint);

        const fee = await alice.rpc('create_pricing', { event_id: ROCK, name: 'Bad', base_price: 100, fee_percentage: 12.345 });
        assert.equal(fee.status, 400);
        assert.equal(fee.error.code, '22023');
        assert.match(fee.error.message, /fee_percentage has more than 2 decimal places/);

        const tier = await alice.rpc('create_pricing', { event_id: ROCK, name: 'Plain', base_price: 100 });
        assert.equal(tier.data.tax_included, false, 'a tier is tax-exclusive unless it says otherwise');
        const cleared = await alice.rpc('update_pricing', { pricing_id: tier.data.id, expected_version: 1, changes: { tax_included: null } });
        assert.equal(cleared.status, 400);
        assert.equal(cleared.error.code, '22023');
        assert.match(cleared.error.message, /tax_included must be true or false/);
        const changed = await alice.rpc('update_pricing', { pricing_id: tier.data.id, expected_version: 1, changes: { tax_included: true } });
        assert.equal(changed.error, null, JSON.stringify(changed.error));
        assert.equal(changed.data.tax_included, true);
    });
});
