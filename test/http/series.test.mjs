// series.test.mjs: dates of a series sold separately, through @supabase/postgrest-js, as
// a theatre would sell a weekly show: one date opened with the template's seats,
// another with seats of its own; buyers racing for the last seat of one date; each date
// selling out on its own; a closed date. Run by test/integration/http_client.sh.
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
const client = (claims) => new PostgrestClient(URL, { headers: { Authorization: token(claims) } });
const admin = client({ role: 'eventsvc_admin', tenant_id: ACME, sub: 'box-office' });
const buyer = (n) => client({ role: 'eventsvc_user', tenant_id: ACME, sub: `series-buyer-${n}` });
const rival = client({ role: 'eventsvc_admin', tenant_id: GLOBEX, sub: 'rival' });
const day = (n) => new Date(Date.now() + n * 86400e3).toISOString().slice(0, 10);

async function has(name) {
    const res = await fetch(`${URL}/`, { headers: { Authorization: token({ role: 'eventsvc_admin', tenant_id: ACME }) } });
    const doc = await res.json();
    return Object.hasOwn(doc.paths, `/rpc/${name}`);
}

// A weekly show on sale: a recurring schedule of four dates and one template section.
async function weeklyShow(seats, offset) {
    const created = await admin.rpc('create_event', {
        venue_id: VENUE, name: `Weekly Show ${offset}`, starts_at: `${day(offset)}T19:00:00Z`, ends_at: `${day(offset)}T22:00:00Z`,
    });
    assert.equal(created.error, null, JSON.stringify(created.error));
    const event = created.data.id;
    const schedule = await admin.rpc('create_schedule', {
        event_id: event, starts_at: `${day(offset)}T19:00:00Z`, ends_at: `${day(offset)}T22:00:00Z`, timezone: 'UTC',
        recurrence_rule: 'FREQ=WEEKLY;COUNT=4',
    });
    assert.equal(schedule.error, null, JSON.stringify(schedule.error));
    const section = await admin.rpc('create_section', {
        event_id: event, section_name: 'Stalls', total_capacity: seats, schedule_id: schedule.data.id,
    });
    assert.equal(section.error, null, JSON.stringify(section.error));
    const tier = await admin.rpc('create_pricing', { event_id: event, name: 'Stalls', capacity_id: section.data.id, base_price: 3000 });
    assert.equal(tier.error, null, JSON.stringify(tier.error));
    assert.equal((await admin.rpc('publish_event', { event_id: event })).data.status, 'PUBLISHED');
    assert.equal((await admin.rpc('transition_event', { event_id: event, status: 'ON_SALE' })).data.status, 'ON_SALE');
    return { event, schedule: schedule.data.id, template: section.data.id, tier: tier.data.id };
}

describe('dates of a series', async () => {
    test('each date sells its own seats and sells out on its own', async (t) => {
        if (!(await has('open_occurrence'))) return t.skip('open_occurrence is not installed');
        const show = await weeklyShow(3, 61);
        const first = await admin.rpc('open_occurrence', { schedule_id: show.schedule, starts_at: `${day(61)}T19:00:00Z` });
        assert.equal(first.error, null, JSON.stringify(first.error));
        assert.equal(first.data.sections[0].total_capacity, 3, 'the template\'s seats');
        const second = await admin.rpc('open_occurrence', {
            schedule_id: show.schedule, starts_at: `${day(68)}T19:00:00Z`, capacities: { Stalls: 1 },
        });
        assert.equal(second.data.sections[0].total_capacity, 1, 'seats of its own');
        const [d1, d2] = [first.data.sections[0].id, second.data.sections[0].id];

        const template = await buyer(0).rpc('reserve_capacity', { capacity_id: show.template, quantity: 1 });
        assert.equal(template.status, 409);
        assert.equal(template.error.message, 'this section is sold per date');

        // five buyers race for the three seats of the first date, one seat each
        const race = await Promise.all([1, 2, 3, 4, 5].map((n) =>
            buyer(n).rpc('reserve_capacity', { capacity_id: d1, quantity: 1, pricing_id: show.tier })));
        const won = race.filter((r) => r.error === null);
        const lost = race.filter((r) => r.error !== null);
        assert.equal(won.length, 3, 'exactly the three seats are held');
        assert.ok(lost.every((r) => r.status === 409 && r.error.code === 'PT409'), JSON.stringify(lost.map((r) => r.error)));
        assert.equal(won[0].data.unit_price, 3000, 'the template\'s tier sells the date');

        // the second date knows nothing of the first one's race
        const other = await buyer(6).rpc('reserve_capacity', { capacity_id: d2, quantity: 1 });
        assert.equal(other.error, null, JSON.stringify(other.error));

        for (const [i, r] of won.entries()) {
            const sold = await buyer(race.indexOf(r) + 1).rpc('confirm_hold', { hold_id: r.data.id });
            assert.equal(sold.data.state, 'CONFIRMED', `purchase ${i}`);
        }
        const dates = await admin.from('occurrences').select('id,status').eq('event_id', show.event).order('starts_at');
        assert.deepEqual(dates.data.map((d) => d.status), ['SOLD_OUT', 'ON_SALE'], 'the first date is sold out, the second is not');
        const ev = await admin.from('events').select('status').eq('id', show.event).single();
        assert.equal(ev.data.status, 'ON_SALE', 'the event stays on sale');

        const avail = await admin.from('occurrence_availability').select('sold,reserved,available')
            .eq('event_id', show.event).order('starts_at');
        assert.deepEqual(avail.data, [{ sold: 3, reserved: 0, available: 0 }, { sold: 0, reserved: 1, available: 0 }]);

        const closed = await admin.rpc('close_occurrence', { occurrence_id: second.data.id, reason: 'cast ill' });
        assert.equal(closed.data.status, 'CLOSED');
        const late = await buyer(7).rpc('reserve_capacity', { capacity_id: d2, quantity: 1 });
        assert.equal(late.status, 409);
        const foreign = await rival.rpc('reopen_occurrence', { occurrence_id: second.data.id });
        assert.equal(foreign.status, 404, 'another tenant does not see the date');
        const anon = await new PostgrestClient(URL).from('occurrences').select('id').eq('event_id', show.event);
        assert.ok(anon.error !== null || anon.data.length === 0, 'no dates without a token');
    });

    test('one date cancelled: holds released, purchases refunded, the other dates sell on', async (t) => {
        if (!(await has('cancel_occurrence'))) return t.skip('cancel_occurrence is not installed');
        const show = await weeklyShow(4, 91);
        const one = await admin.rpc('open_occurrence', { schedule_id: show.schedule, starts_at: `${day(91)}T19:00:00Z` });
        const two = await admin.rpc('open_occurrence', { schedule_id: show.schedule, starts_at: `${day(98)}T19:00:00Z` });
        const [d1, d2] = [one.data.sections[0].id, two.data.sections[0].id];
        const bought = await buyer(8).rpc('reserve_capacity', { capacity_id: d1, quantity: 2, pricing_id: show.tier });
        assert.equal((await buyer(8).rpc('confirm_hold', { hold_id: bought.data.id })).data.state, 'CONFIRMED');
        const held = await buyer(9).rpc('reserve_capacity', { capacity_id: d1, quantity: 1 });
        assert.equal(held.error, null, JSON.stringify(held.error));
        const kept = await buyer(9).rpc('reserve_capacity', { capacity_id: d2, quantity: 1, pricing_id: show.tier });
        assert.equal((await buyer(9).rpc('confirm_hold', { hold_id: kept.data.id })).data.state, 'CONFIRMED');

        const refused = await buyer(8).rpc('cancel_occurrence', { occurrence_id: one.data.id, reason: 'flood' });
        assert.equal(refused.status, 403, 'a buyer cannot cancel a date');
        const cancelled = await admin.rpc('cancel_occurrence', { occurrence_id: one.data.id, reason: 'the hall is flooded' });
        assert.equal(cancelled.error, null, JSON.stringify(cancelled.error));
        assert.equal(cancelled.data.status, 'CANCELLED');
        assert.equal(cancelled.data.holds_released, 1);
        assert.equal(cancelled.data.purchases_refunded, 1);
        assert.equal(cancelled.data.refunds[0].amount, 6000, 'the whole purchase: 2 x 3000');

        const holds = await admin.from('holds').select('id,state').in('id', [bought.data.id, held.data.id, kept.data.id]);
        const state = Object.fromEntries(holds.data.map((h) => [h.id, h.state]));
        assert.deepEqual([state[bought.data.id], state[held.data.id], state[kept.data.id]], ['REFUNDED', 'RELEASED', 'CONFIRMED']);
        const late = await buyer(10).rpc('reserve_capacity', { capacity_id: d1, quantity: 1 });
        assert.equal(late.status, 409, 'the cancelled date sells nothing');
        const other = await buyer(10).rpc('reserve_capacity', { capacity_id: d2, quantity: 1 });
        assert.equal(other.error, null, 'the other date sells on');
        const rivalTry = await rival.rpc('cancel_occurrence', { occurrence_id: two.data.id, reason: 'x' });
        assert.equal(rivalTry.status, 404, 'another tenant cannot cancel the date');

        // revenue per date: the cancelled date paid everything back, the other keeps its purchase
        const perDate = await admin.from('occurrence_revenue')
            .select('occurrence_id,status,currency,purchases,tickets_sold,charged,refunded,net').eq('event_id', show.event)
            .order('starts_at');
        assert.equal(perDate.error, null, JSON.stringify(perDate.error));
        assert.deepEqual(perDate.data, [
            { occurrence_id: one.data.id, status: 'CANCELLED', currency: 'USD', purchases: 1, tickets_sold: 0, charged: 6000, refunded: 6000, net: 0 },
            { occurrence_id: two.data.id, status: 'ON_SALE', currency: 'USD', purchases: 1, tickets_sold: 1, charged: 3000, refunded: 0, net: 3000 },
        ]);
        const total = await admin.from('event_revenue').select('net').eq('event_id', show.event).single();
        assert.equal(total.data.net, 3000, 'the dates add up to the event');
        const foreign = await rival.from('occurrence_revenue').select('occurrence_id').eq('event_id', show.event);
        assert.deepEqual(foreign.data, [], 'another tenant reads none of it');
        const write = await admin.from('occurrence_revenue').delete().eq('event_id', show.event);
        assert.ok(write.status === 401 || write.status === 403, `read-only: ${write.status}`);
    });

    test('one date moved: its holders keep or refund, then the date is cancelled and the rest refunded once', async (t) => {
        if (!(await has('move_occurrence'))) return t.skip('move_occurrence is not installed');
        const show = await weeklyShow(6, 121);
        const one = await admin.rpc('open_occurrence', { schedule_id: show.schedule, starts_at: `${day(121)}T19:00:00Z` });
        const two = await admin.rpc('open_occurrence', { schedule_id: show.schedule, starts_at: `${day(128)}T19:00:00Z` });
        const [d1, d2] = [one.data.sections[0].id, two.data.sections[0].id];
        const purchase = async (n, section, quantity) => {
            const hold = await buyer(n).rpc('reserve_capacity', { capacity_id: section, quantity, pricing_id: show.tier });
            assert.equal(hold.error, null, JSON.stringify(hold.error));
            return (await buyer(n).rpc('confirm_hold', { hold_id: hold.data.id })).data.id;
        };
        const p11 = await purchase(11, d1, 1);
        const p12 = await purchase(12, d1, 2);
        const p13 = await purchase(13, d1, 1);
        const p14 = await purchase(14, d2, 1);

        const moved = await admin.rpc('move_occurrence', {
            occurrence_id: one.data.id, starts_at: `${day(122)}T19:00:00Z`, ends_at: `${day(122)}T22:00:00Z`, reason: 'hall booked',
        });
        assert.equal(moved.error, null, JSON.stringify(moved.error));
        assert.equal(moved.data.decision_window.purchases, 3, 'the date\'s three purchases, not the other date\'s');
        assert.equal(moved.data.decision_window.default_choice, 'keep');

        const refund = await buyer(11).rpc('decide_postponement', { purchase_id: p11, choice: 'refund' });
        assert.equal(refund.error, null, JSON.stringify(refund.error));
        assert.equal(refund.data.refund_state, 'pending');
        assert.equal(refund.data.idempotency_key, `refund:${p11}:1`);
        assert.equal(refund.data.occurrence_id, one.data.id);
        const keep = await buyer(12).rpc('decide_postponement', { purchase_id: p12, choice: 'keep' });
        assert.equal(keep.data.choice, 'keep');
        const notMine = await buyer(13).rpc('decide_postponement', { purchase_id: p12, choice: 'refund' });
        assert.equal(notMine.status, 403, 'only the holder decides');
        const otherDate = await buyer(14).rpc('decide_postponement', { purchase_id: p14, choice: 'refund' });
        assert.equal(otherDate.status, 404, 'the other date was not moved');
        const foreign = await rival.rpc('decide_postponement', { purchase_id: p13, choice: 'refund' });
        assert.equal(foreign.status, 404, 'another tenant sees no decision');

        const mine = await buyer(12).from('postponement_decisions').select('purchase_id,choice,occurrence_id').eq('occurrence_id', one.data.id);
        assert.deepEqual(mine.data, [{ purchase_id: p12, choice: 'keep', occurrence_id: one.data.id }], 'a buyer reads its own decision');
        const report = await admin.rpc('postponement_report', { event_id: show.event, occurrence_id: one.data.id }, { get: true });
        assert.equal(report.error, null, JSON.stringify(report.error));
        assert.deepEqual([report.data.kind, report.data.kept, report.data.refunded, report.data.pending], ['MOVED', 1, 1, 1]);

        const cancelled = await admin.rpc('cancel_occurrence', { occurrence_id: one.data.id, reason: 'the run is over' });
        assert.equal(cancelled.error, null, JSON.stringify(cancelled.error));
        assert.deepEqual(cancelled.data.refunds.map((r) => r.hold_id).sort(), [p12, p13].sort(), 'the purchases not refunded yet');
        const refunds = await admin.from('hold_refunds').select('hold_id').in('hold_id', [p11, p12, p13]);
        assert.equal(refunds.data.length, 3, 'each purchase of the date refunded exactly once');
        const after = await admin.rpc('postponement_report', { event_id: show.event, occurrence_id: one.data.id }, { get: true });
        assert.deepEqual([after.data.refunded, after.data.pending, after.data.by_source.cancellation], [3, 0, 2]);
        assert.notEqual(after.data.closed_at, null, 'the window is closed');
    });
});
