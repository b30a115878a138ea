// sales.test.mjs: the box office through @supabase/postgrest-js, as a promoter and a
// shop would use it: edits while an event is on sale, revenue that equals what was
// charged, the audit log and venue registration for the tenant's admin, the
// Idempotency-Key of the SQL writers, the sales window of holds without a tier.
// Run by test/integration/http_client.sh (node --test), after client.test.mjs, which
// counts the seeded events before this file adds its own.
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
const ACME = '11111111-1111-4111-8111-111111111111';
const GLOBEX = '22222222-2222-4222-8222-222222222222';
const VENUE = 'aaaaaaaa-0000-4000-8000-000000000001';

const token = (claims) => `Bearer ${sign({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims }, KEY)}`;
const client = (claims, headers = {}) => new PostgrestClient(URL, { headers: { Authorization: token(claims), ...headers } });
const ADMIN = { role: 'eventsvc_admin', tenant_id: ACME, sub: 'box-office' };
const admin = client(ADMIN);
const user = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'clerk' });
const buyer = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'buyer-9' });
const rival = client({ role: 'eventsvc_admin', tenant_id: GLOBEX, sub: 'rival' });
const withKey = (key) => client(ADMIN, { 'Idempotency-Key': key });
const day = (n) => new Date(Date.now() + n * 86400e3).toISOString().slice(0, 10);

async function has(name) {
    const res = await fetch(`${URL}/`, { headers: { Authorization: token(ADMIN) } });
    const doc = await res.json();
    return Object.hasOwn(doc.paths, `/rpc/${name}`) || Object.hasOwn(doc.paths, `/${name}`);
}

// An event on sale at `offset` days with one section of `seats` and a tier.
async function onSale(name, offset, seats, tierArgs = {}) {
    const created = await admin.rpc('create_event', {
        venue_id: VENUE, name, starts_at: `${day(offset)}T20:00:00Z`, ends_at: `${day(offset)}T22:00:00Z`,
        sections: [{ section_name: 'Floor', total_capacity: seats }],
    });
    assert.equal(created.error, null, JSON.stringify(created.error));
    const event = created.data.id;
    const section = created.data.sections[0].id;
    const tier = await admin.rpc('create_pricing', { event_id: event, name: 'General', capacity_id: section, base_price: 1001, ...tierArgs });
    assert.equal(tier.error, null, JSON.stringify(tier.error));
    assert.equal((await admin.rpc('publish_event', { event_id: event })).data.status, 'PUBLISHED');
    assert.equal((await admin.rpc('transition_event', { event_id: event, status: 'ON_SALE' })).data.status, 'ON_SALE');
    return { event, section, tier: tier.data.id };
}

describe('edits while on sale', async () => {
    test('the presentation changes, settled fields do not, critical ones need a confirmation', async () => {
        const { event, section, tier } = await onSale('Edit Night', 80, 10);
        const hold = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 2, pricing_id: tier });
        assert.equal((await buyer.rpc('confirm_hold', { hold_id: hold.data.id })).data.state, 'CONFIRMED');
        const before = (await user.from('events').select('version').eq('id', event).single()).data.version;

        const edited = await user.rpc('update_event', {
            event_id: event, expected_version: before,
            changes: { name: 'Edit Night (new lineup)', image_url: 'https://img.example.com/edit.png', is_featured: true, tags: ['lineup'] },
        });
        assert.equal(edited.error, null, JSON.stringify(edited.error));
        assert.equal(edited.data.status, 'ON_SALE');
        assert.equal(edited.data.version, before + 1);
        assert.equal(edited.data.name, 'Edit Night (new lineup)');

        const settled = await user.rpc('update_event', { event_id: event, expected_version: before + 1, changes: { visibility: 'PRIVATE' } });
        assert.equal(settled.status, 409);
        assert.equal(settled.error.code, 'PT409');
        assert.equal(settled.error.message, 'these fields cannot change while the event is ON_SALE: visibility');

        const critical = await user.rpc('update_event', { event_id: event, expected_version: before + 1, changes: { ends_at: `${day(80)}T23:00:00Z` } });
        assert.equal(critical.status, 403, 'a tenant user cannot move the dates after sales');
        const ask = await admin.rpc('update_event', { event_id: event, expected_version: before + 1, changes: { ends_at: `${day(80)}T23:00:00Z` } });
        assert.equal(ask.data.status, 'confirmation_required');
        const done = await admin.rpc('update_event', {
            event_id: event, expected_version: before + 1, changes: { ends_at: `${day(80)}T23:00:00Z` }, confirmation_token: ask.data.token,
        });
        assert.equal(done.error, null, JSON.stringify(done.error));
        assert.equal(new Date(done.data.ends_at).toISOString(), `${day(80)}T23:00:00.000Z`);

        // the admin reads the audit of both edits
        const log = await admin.from('event_audit_log').select('action,actor_id,changed_fields')
            .eq('event_id', event).eq('action', 'UPDATE').order('id', { ascending: false }).limit(2);
        assert.equal(log.error, null, JSON.stringify(log.error));
        assert.ok(log.data[0].changed_fields.ends_at, 'the confirmed change is audited');
        assert.deepEqual(log.data[1].changed_fields.name, { old: 'Edit Night', new: 'Edit Night (new lineup)' });
        assert.equal(log.data[1].actor_id, 'clerk');
    });
});

describe('revenue', async () => {
    test('net equals what the purchases were charged, after a refund and after a cancellation', async () => {
        const { event, section, tier } = await onSale('Revenue Night', 81, 20,
            { service_fee: 50, facility_fee: 25, tax_rate: 0.08, group_size_min: 4, group_discount_percentage: 10 });
        const ids = [];
        for (const n of [4, 1, 1]) {
            const h = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: n, pricing_id: tier });
            ids.push((await buyer.rpc('confirm_hold', { hold_id: h.data.id })).data.id);
        }
        const revenue = async () => (await user.from('event_revenue')
            .select('currency,charged,refunded,net,revenue_minor,gross,discounts,fees,tax,tickets_sold').eq('event_id', event).single()).data;
        const kept = async () => {
            // every buyer's purchases and refunds: the box office (a buyer reads only its own)
            const holds = (await admin.from('holds').select('locked_price,state').eq('event_id', event).in('state', ['CONFIRMED', 'REFUNDED'])).data;
            const refunds = (await admin.from('hold_refunds').select('amount').eq('event_id', event)).data;
            return holds.reduce((s, h) => s + h.locked_price.total, 0) - refunds.reduce((s, r) => s + r.amount, 0);
        };
        assert.deepEqual(await revenue(), {
            currency: 'USD', charged: 6540, refunded: 0, net: 6540, revenue_minor: 6540, gross: 6006, discounts: 400, fees: 450, tax: 484,
            tickets_sold: 6,
        });
        assert.equal((await revenue()).net, await kept());

        const refund = await admin.rpc('refund_purchase', { hold_id: ids[0], reason: 'one cannot come', quantity: 1 });
        assert.equal(refund.error, null, JSON.stringify(refund.error));
        const after = await revenue();
        assert.equal(after.refunded, refund.data.amount);
        assert.equal(after.net, 6540 - refund.data.amount);
        assert.equal(after.net, await kept());

        const sections = (await user.from('section_revenue').select('capacity_id,net').eq('event_id', event)).data;
        assert.deepEqual(sections, [{ capacity_id: section, net: after.net }]);
        const foreign = await rival.from('event_revenue').select('net').eq('event_id', event);
        assert.deepEqual(foreign.data, [], 'another tenant reads none of it');

        const preview = await admin.rpc('preview_cancellation', { event_id: event });
        assert.equal(preview.error, null, JSON.stringify(preview.error));
        const cancel = await admin.rpc('confirm_cancellation', { event_id: event, confirmation_code: preview.data.confirmation_code, reason: 'storm' });
        assert.equal(cancel.error, null, JSON.stringify(cancel.error));
        const cancelled = await revenue();
        assert.deepEqual([cancelled.charged, cancelled.refunded, cancelled.net, cancelled.tickets_sold], [6540, 6540, 0, 0]);
    });
});

describe('the tenant admin\'s box office', async () => {
    test('the audit log is the admin\'s, read-only, and the tenant\'s own', async () => {
        const mine = await admin.from('event_audit_log').select('id,event_id,action').limit(5);
        assert.equal(mine.status, 200);
        assert.ok(mine.data.length > 0);
        const clerk = await user.from('event_audit_log').select('id').limit(1);
        assert.equal(clerk.status, 403, 'a tenant user may not read it');
        const other = await rival.from('event_audit_log').select('id').in('event_id', mine.data.map((r) => r.event_id));
        assert.deepEqual(other.data, [], 'another tenant\'s admin sees none of it');
        const write = await admin.from('event_audit_log').delete().eq('id', mine.data[0].id);
        assert.ok(write.status === 401 || write.status === 403 || write.status === 405, `read-only: ${write.status}`);
    });

    test('venues are registered over HTTP, once per Idempotency-Key', { skip: !(await has('register_venue')) && 'not installed' }, async () => {
        const first = await withKey('venue-riverside').rpc('register_venue', { name: 'Riverside Stage', capacity: 1200, timezone: 'Europe/Berlin' });
        assert.equal(first.error, null, JSON.stringify(first.error));
        assert.equal(first.data.capacity, 1200);
        const again = await withKey('venue-riverside').rpc('register_venue', { name: 'Riverside Stage', capacity: 1200, timezone: 'Europe/Berlin' });
        assert.equal(again.data.id, first.data.id, 'the retry returns the first venue');
        const other = await withKey('venue-riverside').rpc('register_venue', { name: 'Lakeside', capacity: 10 });
        assert.equal(other.status, 422);
        const clerk = await user.rpc('register_venue', { name: 'Clerk Hall', capacity: 10 });
        assert.equal(clerk.status, 403);
        const bad = await admin.rpc('register_venue', { name: 'Moon Hall', capacity: 10, timezone: 'Moon/Base' });
        assert.equal(bad.status, 400);
        const ev = await admin.rpc('create_event', {
            venue_id: first.data.id, name: 'Riverside Opening', starts_at: `${day(84)}T20:00:00Z`, ends_at: `${day(84)}T22:00:00Z`,
        });
        assert.equal(ev.error, null, JSON.stringify(ev.error));
    });

    test('create_pricing and create_section honour the Idempotency-Key', async () => {
        const ev = (await admin.rpc('create_event', { venue_id: VENUE, name: 'Keyed Night', starts_at: `${day(82)}T20:00:00Z`, ends_at: `${day(82)}T22:00:00Z` })).data.id;
        const s1 = await withKey('keyed-section').rpc('create_section', { event_id: ev, section_name: 'Pit', total_capacity: 30 });
        const s2 = await withKey('keyed-section').rpc('create_section', { event_id: ev, section_name: 'Pit', total_capacity: 30 });
        assert.equal(s1.error, null, JSON.stringify(s1.error));
        assert.equal(s2.data.id, s1.data.id);
        const t1 = await withKey('keyed-tier').rpc('create_pricing', { event_id: ev, name: 'Pit', base_price: 5000, capacity_id: s1.data.id });
        const t2 = await withKey('keyed-tier').rpc('create_pricing', { event_id: ev, name: 'Pit', base_price: 5000, capacity_id: s1.data.id });
        assert.equal(t2.data.id, t1.data.id);
        const sections = await admin.from('event_sections').select('id').eq('event_id', ev);
        const tiers = await admin.from('event_pricing_tiers').select('id').eq('event_id', ev);
        assert.deepEqual([sections.data.length, tiers.data.length], [1, 1], 'one section and one tier for two calls each');
        const mismatch = await withKey('keyed-tier').rpc('create_pricing', { event_id: ev, name: 'Pit', base_price: 6000, capacity_id: s1.data.id });
        assert.equal(mismatch.status, 422);
        assert.equal(mismatch.error.code, 'PT422');
    });

    test('a hold without a tier meets the event\'s sales window, and the error names both dates', async () => {
        const { section } = await onSale('Window Night', 83, 10,
            { sales_start_at: `${day(30)}T12:00:00Z`, sales_end_at: `${day(60)}T12:00:00Z` });
        const refused = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 1 });
        assert.equal(refused.status, 409);
        assert.equal(refused.error.message, 'the event\'s sales window is closed');
        assert.match(refused.error.details, new RegExp(`^Sales run from ${day(30)} .* to ${day(60)} .*\\.$`));
    });
});
