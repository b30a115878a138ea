// holds.test.mjs: a hold's life after the reservation through @supabase/postgrest-js,
// as a shop and the payment service would drive it: a buyer reserves, starts the
// payment, the payment service confirms it; a payment that comes too late;
// per-customer limits. Run by test/integration/http_client.sh (node --test).
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
const VENUE = 'aaaaaaaa-0000-4000-8000-000000000001';

const client = (claims) => new PostgrestClient(URL, {
    headers: { Authorization: `Bearer ${sign(claims, KEY)}` },
});
const promoter = client({ role: 'eventsvc_admin', tenant_id: ACME, sub: 'promoter' });
const buyer = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'buyer-1' });
const other = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'buyer-2' });
const payments = client({ role: 'eventsvc_service', tenant_id: ACME, sub: 'payment-service' });
const day = (n) => new Date(Date.now() + n * 86400e3).toISOString().slice(0, 10);

async function hasRpc(name) {
    const res = await fetch(`${URL}/`, { headers: { Authorization: `Bearer ${sign({ role: 'eventsvc_admin', tenant_id: ACME }, KEY)}` } });
    return Object.hasOwn((await res.json()).paths, `/rpc/${name}`);
}

// An event on sale with one section of `seats` and a tier; returns { event, section, tier }.
async function onSale(name, offset, seats) {
    const created = await promoter.rpc('create_event', {
        venue_id: VENUE, name, starts_at: `${day(offset)}T20:00:00Z`, ends_at: `${day(offset)}T22:00:00Z`,
        sections: [{ section_name: 'Floor', total_capacity: seats }],
    });
    assert.equal(created.error, null, JSON.stringify(created.error));
    const event = created.data.id;
    const section = created.data.sections[0].id;
    const tier = await promoter.rpc('create_pricing', { event_id: event, name: 'General', capacity_id: section, base_price: 4000, service_fee: 250 });
    assert.equal(tier.error, null, JSON.stringify(tier.error));
    assert.equal((await promoter.rpc('publish_event', { event_id: event })).data.status, 'PUBLISHED');
    assert.equal((await promoter.rpc('transition_event', { event_id: event, status: 'ON_SALE' })).data.status, 'ON_SALE');
    return { event, section, tier: tier.data.id };
}

describe('payment-aware holds', async () => {
    const have = await hasRpc('start_payment');

    test('a buyer reserves, starts the payment, the payment service confirms it', { skip: !have && 'payment not installed' }, async () => {
        const { section, tier } = await onSale('Paid Night', 50, 10);
        const hold = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 2, pricing_id: tier });
        assert.equal(hold.error, null, JSON.stringify(hold.error));
        assert.equal(hold.data.state, 'ACTIVE');

        const started = await buyer.rpc('start_payment', { hold_id: hold.data.id, payment_ref: 'pi_3Kx81' });
        assert.equal(started.status, 200);
        assert.equal(started.data.phase, 'PAYMENT');
        assert.equal(started.data.payment_ref, 'pi_3Kx81');
        assert.ok(new Date(started.data.expires_at) > new Date(hold.data.expires_at), 'the payment window moved the expiry');

        const again = await buyer.rpc('start_payment', { hold_id: hold.data.id, payment_ref: 'pi_3Kx81' });
        assert.equal(again.status, 200, 'the same reference again is fine');
        assert.equal(again.data.expires_at, started.data.expires_at, 'and changes nothing');
        const second = await buyer.rpc('start_payment', { hold_id: hold.data.id, payment_ref: 'pi_other' });
        assert.equal(second.status, 409);
        assert.equal(second.error.code, 'PT409');

        const stranger = await other.rpc('start_payment', { hold_id: hold.data.id, payment_ref: 'pi_3Kx81' });
        assert.equal(stranger.status, 404, 'another buyer does not see the hold');
        const self = await buyer.rpc('confirm_payment', { hold_id: hold.data.id, payment_ref: 'pi_3Kx81' });
        assert.equal(self.status, 403, 'a buyer cannot report its own payment');
        assert.equal(self.error.code, '42501');

        const paid = await payments.rpc('confirm_payment', { hold_id: hold.data.id, payment_ref: 'pi_3Kx81' });
        assert.equal(paid.error, null, JSON.stringify(paid.error));
        assert.equal(paid.data.state, 'CONFIRMED');
        assert.equal(paid.data.revived_at, null);
        assert.deepEqual(paid.data.locked_price, hold.data.locked_price, 'sold at the locked price');
        const retry = await payments.rpc('confirm_payment', { hold_id: hold.data.id, payment_ref: 'pi_3Kx81' });
        assert.equal(retry.status, 200, 'a retried result is answered, not refused');
        assert.equal(retry.data.state, 'CONFIRMED');

        const history = await buyer.rpc('hold_history', { hold_id: hold.data.id });
        assert.deepEqual(history.data.history.map((e) => e.action), ['reserved', 'payment_started', 'payment_confirmed']);
        const mine = await buyer.from('holds').select('state,phase,reason').eq('id', hold.data.id).single();
        assert.deepEqual(mine.data, { state: 'CONFIRMED', phase: 'PAYMENT', reason: 'sold' });
    });

    test('renewals are capped and the refusal says how many were used', { skip: !have && 'payment not installed' }, async () => {
        const { section } = await onSale('Renewal Night', 51, 10);
        const hold = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 1, hold_seconds: 60 });
        for (let i = 1; i <= 3; i++) {
            const r = await buyer.rpc('extend_hold', { hold_id: hold.data.id, seconds: 30 });
            assert.equal(r.status, 200);
            assert.equal(r.data.renewals, i);
        }
        const refused = await buyer.rpc('extend_hold', { hold_id: hold.data.id, seconds: 30 });
        assert.equal(refused.status, 409);
        assert.equal(refused.error.message, 'the hold was renewed 3 times, the most allowed');
        assert.equal(refused.error.details, '3 of 3 renewals used.');
    });
});

describe('per-customer limits', async () => {
    const have = await hasRpc('set_customer_limit');

    test('one customer across two sections and no tier is stopped at the event\'s limit', { skip: !have && 'limits not installed' }, async () => {
        const created = await promoter.rpc('create_event', {
            venue_id: VENUE, name: 'Limited Night', starts_at: `${day(52)}T20:00:00Z`, ends_at: `${day(52)}T22:00:00Z`,
            sections: [{ section_name: 'Left', total_capacity: 10 }, { section_name: 'Right', total_capacity: 10 }],
        });
        const [left, right] = created.data.sections.map((s) => s.id);
        await promoter.rpc('publish_event', { event_id: created.data.id });
        await promoter.rpc('transition_event', { event_id: created.data.id, status: 'ON_SALE' });
        const set = await promoter.rpc('set_customer_limit', { event_id: created.data.id, max_seats: 3 });
        assert.equal(set.data.limit_in_force, 3);
        assert.equal((await buyer.rpc('reserve_capacity', { capacity_id: left, quantity: 2 })).status, 200);
        const refused = await buyer.rpc('reserve_capacity', { capacity_id: right, quantity: 2 });
        assert.equal(refused.status, 409);
        assert.equal(refused.error.details, 'Ask for at most 1 more.');
        const allowance = await buyer.rpc('seat_allowance', { event_id: created.data.id });
        assert.deepEqual([allowance.data.limit, allowance.data.seats, allowance.data.remaining], [3, 2, 1]);
        assert.equal((await other.rpc('reserve_capacity', { capacity_id: right, quantity: 3 })).status, 200, 'another customer has its own count');
    });
});

describe('refunds', async () => {
    const have = await hasRpc('refund_purchase');

    test('a sold-out event: a refund puts the seat back on sale, the refunds add up to the charge', { skip: !have && 'refunds not installed' }, async () => {
        const { event, section, tier } = await onSale('Refund Night', 53, 2);
        const hold = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 2, pricing_id: tier });
        const sold = await buyer.rpc('confirm_hold', { hold_id: hold.data.id });
        assert.equal(sold.data.state, 'CONFIRMED');
        const status = async () => (await promoter.from('events').select('status').eq('id', event).single()).data.status;
        assert.equal(await status(), 'SOLD_OUT');

        const denied = await buyer.rpc('refund_purchase', { hold_id: hold.data.id, reason: 'mine' });
        assert.equal(denied.status, 403);
        const one = await promoter.rpc('refund_purchase', { hold_id: hold.data.id, reason: 'cannot come', quantity: 1 });
        assert.equal(one.error, null, JSON.stringify(one.error));
        assert.equal(one.data.quantity, 1);
        assert.equal(await status(), 'ON_SALE', 'the seat came back: on sale again');
        const again = await other.rpc('reserve_capacity', { capacity_id: section, quantity: 1 });
        assert.equal(again.status, 200, 'another buyer gets the returned seat');

        const rest = await payments.rpc('refund_purchase', { hold_id: hold.data.id, reason: 'event moved' });
        assert.equal(rest.data.quantity, 1);
        assert.equal(one.data.amount + rest.data.amount, hold.data.locked_price.total, 'the refunds add up to the charge');
        const history = await buyer.rpc('hold_history', { hold_id: hold.data.id });
        assert.deepEqual(history.data.history.map((e) => e.action), ['reserved', 'confirmed', 'refunded', 'refunded']);
        const refunds = await promoter.from('hold_refunds').select('seq,quantity').eq('hold_id', hold.data.id).order('seq');
        assert.deepEqual(refunds.data, [{ seq: 1, quantity: 1 }, { seq: 2, quantity: 1 }]);
    });
});

describe('waitlist', async () => {
    const have = await hasRpc('join_waitlist');

    test('a waitlisted buyer: join, receive an offer, confirm it', { skip: !have && 'waitlist not installed' }, async () => {
        const { event, section, tier } = await onSale('Queue Night', 54, 2);
        const held = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 2, pricing_id: tier });
        assert.equal(held.status, 200);
        const fan = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'fan-1' });
        const joined = await fan.rpc('join_waitlist', { capacity_id: section, quantity: 2, pricing_id: tier });
        assert.equal(joined.error, null, JSON.stringify(joined.error));
        assert.equal(joined.data.state, 'WAITING');
        assert.equal(joined.data.rank, 1);

        const blocked = await other.rpc('reserve_capacity', { capacity_id: section, quantity: 1 });
        assert.equal(blocked.status, 409);
        assert.equal((await buyer.rpc('release_hold', { hold_id: held.data.id })).status, 200);
        const again = await other.rpc('reserve_capacity', { capacity_id: section, quantity: 1 });
        assert.equal(again.status, 409, 'the returned seats are the waitlist\'s, not a newcomer\'s');

        const place = await fan.rpc('waitlist_position', { capacity_id: section }, { get: true });
        assert.equal(place.data.state, 'OFFERED');
        assert.ok(new Date(place.data.offer_expires_at) > new Date(), 'the offer has a window');
        const offer = await fan.from('holds').select('id,state,phase,quantity,locked_price').eq('id', place.data.hold_id).single();
        assert.deepEqual([offer.data.state, offer.data.phase, offer.data.quantity], ['ACTIVE', 'OFFERED', 2]);
        assert.equal(offer.data.locked_price.total, held.data.locked_price.total, 'priced by the tier');

        const bought = await fan.rpc('confirm_hold', { hold_id: place.data.hold_id });
        assert.equal(bought.data.state, 'CONFIRMED');
        const view = await promoter.from('waitlist_sections').select('offers_made,conversions,offers_out').eq('capacity_id', section).single();
        assert.deepEqual(view.data, { offers_made: 1, conversions: 1, offers_out: 0 });
        const status = await promoter.from('events').select('status').eq('id', event).single();
        assert.equal(status.data.status, 'SOLD_OUT', 'the offer sold the last seats');
    });
});

describe('waitlist offers', async () => {
    const have = await hasRpc('join_waitlist');

    test('a declined offer passes to the next in line, who pays it through the payment service', { skip: !have && 'waitlist not installed' }, async () => {
        const { section, tier } = await onSale('Queue Matinee', 55, 1);
        const held = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 1, pricing_id: tier });
        assert.equal(held.status, 200);
        const first = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'fan-2' });
        const second = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'fan-3' });
        const j1 = await first.rpc('join_waitlist', { capacity_id: section, quantity: 1, pricing_id: tier });
        assert.equal(j1.status, 200, JSON.stringify(j1.error));
        assert.equal(j1.data.rank, 1);
        const j2 = await second.rpc('join_waitlist', { capacity_id: section, quantity: 1, pricing_id: tier });
        assert.equal(j2.status, 200, JSON.stringify(j2.error));
        assert.equal(j2.data.rank, 2);
        const twice = await first.rpc('join_waitlist', { capacity_id: section, quantity: 1 });
        assert.equal(twice.status, 409);
        assert.equal(twice.error.code, 'PT409');
        const tooMany = await second.rpc('join_waitlist', { capacity_id: section, quantity: 2 });
        assert.equal(tooMany.status, 400, 'more seats than the section has');

        assert.equal((await buyer.rpc('release_hold', { hold_id: held.data.id })).status, 200);
        const offer1 = await first.rpc('waitlist_position', { capacity_id: section }, { get: true });
        assert.equal(offer1.data.state, 'OFFERED');
        const early = await second.rpc('waitlist_position', { capacity_id: section }, { get: true });
        assert.equal(early.data.state, 'WAITING');
        assert.equal(early.data.rank, 1, 'next in line');
        const notMine = await second.rpc('confirm_hold', { hold_id: offer1.data.hold_id });
        assert.equal(notMine.status, 404, 'another customer cannot take the offer');

        const declined = await first.rpc('release_hold', { hold_id: offer1.data.hold_id });
        assert.equal(declined.status, 200);
        assert.equal(declined.data.state, 'RELEASED');
        const gone = await first.rpc('waitlist_position', { capacity_id: section }, { get: true });
        assert.equal(gone.status, 404, 'the first entry has lapsed');
        const offer2 = await second.rpc('waitlist_position', { capacity_id: section }, { get: true });
        assert.equal(offer2.data.state, 'OFFERED', 'the seat passed to the next in line');

        const started = await second.rpc('start_payment', { hold_id: offer2.data.hold_id, payment_ref: 'pi_wl_55' });
        assert.equal(started.status, 200);
        assert.equal(started.data.phase, 'PAYMENT');
        const paid = await payments.rpc('confirm_payment', { hold_id: offer2.data.hold_id, payment_ref: 'pi_wl_55' });
        assert.equal(paid.status, 200, JSON.stringify(paid.error));
        assert.equal(paid.data.state, 'CONFIRMED');
        assert.equal(paid.data.locked_price.total, held.data.locked_price.total, 'at the tier\'s price');

        const entries = await promoter.from('waitlist_entries').select('holder_id,state').eq('capacity_id', section).order('position');
        assert.deepEqual(entries.data, [{ holder_id: 'fan-2', state: 'LAPSED' }, { holder_id: 'fan-3', state: 'CONVERTED' }]);
        const history = await second.rpc('hold_history', { hold_id: offer2.data.hold_id });
        assert.deepEqual(history.data.history.map((e) => e.action),
            ['reserved', 'waitlist_gathered', 'waitlist_offered', 'payment_started', 'payment_confirmed']);
        const write = await promoter.from('waitlist_entries').update({ state: 'CONVERTED' }).eq('capacity_id', section);
        assert.equal(write.status, 403, 'the view is read-only');
    });
});

describe('the hold calls answer with the shape OpenAPI describes', () => {
    test('definitions.holds has every key a hold call answers with, and the answer is the row GET /holds shows', async () => {
        const res = await fetch(`${URL}/`, { headers: { Authorization: `Bearer ${sign({ role: 'eventsvc_user', tenant_id: ACME, sub: 'buyer-1' }, KEY)}` } });
        const doc = await res.json();
        const props = doc.definitions.holds.properties;
        for (const k of ['id', 'event_id', 'capacity_id', 'quantity', 'state', 'expires_at', 'locked_price', 'renewals', 'changed_at', 'reason']) {
            assert.ok(props[k], `definitions.holds.properties.${k}`);
        }
        assert.equal(props.quantity.type, 'integer');
        assert.equal(props.locked_price.format, 'jsonb');
        for (const fn of ['reserve_capacity', 'confirm_hold', 'release_hold', 'extend_hold', 'start_payment', 'confirm_payment']) {
            assert.ok(doc.paths[`/rpc/${fn}`], `/rpc/${fn} is described`);
        }

        const { section, tier } = await onSale('Typed Night', 56, 10);
        const asListed = async (id) => (await buyer.from('holds').select('*').eq('id', id).single()).data;
        const hold = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 2, pricing_id: tier });
        assert.equal(hold.error, null, JSON.stringify(hold.error));
        assert.deepEqual(Object.keys(hold.data).sort(), Object.keys(props).sort(), 'the answer has exactly the described keys');
        assert.deepEqual(hold.data, await asListed(hold.data.id), 'reserve_capacity answers with the hold as GET /holds shows it');
        assert.equal(hold.data.renewals, 0);
        const extended = await buyer.rpc('extend_hold', { hold_id: hold.data.id, seconds: 30 });
        assert.deepEqual(extended.data, await asListed(hold.data.id), 'extend_hold too');
        const sold = await buyer.rpc('confirm_hold', { hold_id: hold.data.id });
        assert.deepEqual(sold.data, await asListed(hold.data.id), 'confirm_hold too');
        assert.deepEqual([sold.data.state, sold.data.reason], ['CONFIRMED', 'sold']);
        const second = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 1 });
        const released = await buyer.rpc('release_hold', { hold_id: second.data.id });
        assert.deepEqual(released.data, await asListed(second.data.id), 'release_hold too');
        assert.deepEqual([released.data.state, released.data.reason], ['RELEASED', 'released']);
        // a row of holds embeds like one: the event comes with the new hold
        const embedded = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 1 }).select('quantity,events(name)');
        assert.equal(embedded.error, null, JSON.stringify(embedded.error));
        assert.deepEqual(embedded.data, { quantity: 1, events: { name: 'Typed Night' } });
    });
});

describe('what a buyer sees of other buyers', async () => {
    const have = await hasRpc('join_waitlist');

    test('a buyer reads its own holds, entries and refunds; the promoter reads everyone\'s', { skip: !have && 'waitlist not installed' }, async () => {
        const { event, section, tier } = await onSale('Private Night', 58, 2);
        const sold = await buyer.rpc('reserve_capacity', { capacity_id: section, quantity: 2, pricing_id: tier });
        assert.equal((await buyer.rpc('confirm_hold', { hold_id: sold.data.id })).data.state, 'CONFIRMED');
        const early = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'fan-4' });
        const late = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'fan-5' });
        assert.equal((await early.rpc('join_waitlist', { capacity_id: section, quantity: 1, pricing_id: tier })).status, 200);
        assert.equal((await late.rpc('join_waitlist', { capacity_id: section, quantity: 1, pricing_id: tier })).status, 200);
        const refund = await promoter.rpc('refund_purchase', { hold_id: sold.data.id, reason: 'seat broken', quantity: 1 });
        assert.equal(refund.status, 200, JSON.stringify(refund.error));

        const holders = async (who, view) => [...new Set((await who.from(view).select('holder_id').eq('event_id', event)).data
            .map((r) => r.holder_id))].sort();
        assert.deepEqual(await holders(promoter, 'holds'), ['buyer-1', 'fan-4'], 'the promoter: the purchase and the offer');
        assert.deepEqual(await holders(promoter, 'waitlist_entries'), ['fan-4', 'fan-5']);
        assert.deepEqual(await holders(payments, 'holds'), ['buyer-1', 'fan-4'], 'a service reads them too');

        assert.deepEqual(await holders(late, 'holds'), [], 'fan-5 holds nothing and sees no one\'s holds');
        const entries = await late.from('waitlist_entries').select('holder_id,position,state').eq('capacity_id', section);
        assert.deepEqual(entries.data, [{ holder_id: 'fan-5', position: 2, state: 'WAITING' }], 'only its own entry');
        const place = await late.rpc('waitlist_position', { capacity_id: section }, { get: true });
        assert.equal(place.data.rank, 1, 'its rank: next in line');
        const embedded = await late.from('events').select('id,holds(holder_id)').eq('id', event).single();
        assert.deepEqual(embedded.data.holds, [], 'an event embeds none of the others\' holds');
        const byId = await late.from('holds').select('id').eq('id', sold.data.id);
        assert.deepEqual(byId.data, [], 'not even asked by its id');
        assert.deepEqual((await late.from('hold_refunds').select('hold_id').eq('event_id', event)).data, [], 'nor its refunds');

        assert.deepEqual(await holders(early, 'holds'), ['fan-4'], 'fan-4 reads its offer');
        assert.deepEqual(await holders(early, 'waitlist_entries'), ['fan-4']);
        const mine = await buyer.from('hold_refunds').select('hold_id,quantity,reason').eq('event_id', event);
        assert.deepEqual(mine.data, [{ hold_id: sold.data.id, quantity: 1, reason: 'seat broken' }], 'the buyer reads its refund');
        assert.deepEqual(await holders(buyer, 'holds'), ['buyer-1']);
        const counts = await late.from('waitlist_sections').select('waiting,offers_out').eq('capacity_id', section).single();
        assert.deepEqual(counts.data, { waiting: 1, offers_out: 1 }, 'the section\'s counts name nobody');
    });
});
