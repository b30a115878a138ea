// policy.test.mjs: refund policies, the cancellation preview and a postponement through
// @supabase/postgrest-js, as a promoter's back office and a buyer's app would drive them:
// the policy a purchase was sold under decides its refund; a cancellation is previewed,
// refused when a sale happened since, then confirmed and done as previewed; a postponed
// event's holders keep or refund, and the report counts them. Run by
// test/integration/http_client.sh (node --test).
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
const buyer = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'policy-buyer-1' });
const other = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'policy-buyer-2' });
const day = (n) => new Date(Date.now() + n * 86400e3).toISOString().slice(0, 10);

async function hasRpc(name) {
    const res = await fetch(`${URL}/`, { headers: { Authorization: `Bearer ${sign({ role: 'eventsvc_admin', tenant_id: ACME }, KEY)}` } });
    return Object.hasOwn((await res.json()).paths, `/rpc/${name}`);
}

// An event on sale with one section and a tier at 40.00 + 2.50 fee; returns { event, section, tier }.
async function onSale(name, offset) {
    const created = await promoter.rpc('create_event', {
        venue_id: VENUE, name, starts_at: `${day(offset)}T20:00:00Z`, ends_at: `${day(offset)}T22:00:00Z`,
        sections: [{ section_name: 'Floor', total_capacity: 20 }],
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

async function buy(who, section, tier, quantity) {
    const hold = await who.rpc('reserve_capacity', { capacity_id: section, quantity, pricing_id: tier });
    assert.equal(hold.error, null, JSON.stringify(hold.error));
    const sold = await who.rpc('confirm_hold', { hold_id: hold.data.id });
    assert.equal(sold.error, null, JSON.stringify(sold.error));
    return sold.data.id;
}

describe('refund policies, cancellation preview, postponement', async () => {
    const have = await hasRpc('preview_cancellation') && await hasRpc('decide_postponement');

    test('a purchase keeps its policy; a cancellation is previewed, refused when stale, then done as previewed', { skip: !have && 'not installed' }, async () => {
        const { event, section, tier } = await onSale('Preview Night', 77);
        const set = await promoter.rpc('set_refund_policy', { pricing_id: tier, policy: { full_refund_days: 60, late_refund_percent: 25, fees_refundable: false } });
        assert.equal(set.error, null, JSON.stringify(set.error));
        const bought = await buy(buyer, section, tier, 2);
        const snap = await buyer.from('purchase_refund_policies').select('source,full_refund_days,late_refund_percent,fees_refundable').eq('hold_id', bought).single();
        assert.deepEqual(snap.data, { source: 'tier', full_refund_days: 60, late_refund_percent: 25, fees_refundable: false });

        const preview = await promoter.rpc('preview_cancellation', { event_id: event });
        assert.equal(preview.error, null, JSON.stringify(preview.error));
        // the organiser's refund: 85.00 less the 5.00 of fees kept, never the late 25 %
        assert.deepEqual(preview.data.purchases.map((p) => [p.hold_id, p.amount]), [[bought, 8000]]);
        assert.deepEqual(preview.data.refund_totals, [{ currency: 'USD', purchases: 1, seats: 2, amount: 8000 }]);

        await buy(other, section, tier, 1);      // a sale after the preview
        const stale = await promoter.rpc('confirm_cancellation', { event_id: event, confirmation_code: preview.data.confirmation_code, reason: 'Storm' });
        assert.equal(stale.status, 409);
        assert.equal(stale.error.code, 'PT409');
        assert.match(stale.error.message, /stale/);

        const again = await promoter.rpc('preview_cancellation', { event_id: event });
        const done = await promoter.rpc('confirm_cancellation', { event_id: event, confirmation_code: again.data.confirmation_code, reason: 'Storm' });
        assert.equal(done.error, null, JSON.stringify(done.error));
        assert.equal(done.data.status, 'CANCELLED');
        assert.deepEqual(done.data.cancellation.refund_totals, again.data.refund_totals);
        const refunds = await promoter.from('hold_refunds').select('hold_id,amount').eq('event_id', event).eq('reason', 'Storm').order('hold_id');
        assert.deepEqual(refunds.data.map((r) => [r.hold_id, r.amount]),
            again.data.purchases.map((p) => [p.hold_id, p.amount]).sort((a, b) => a[0].localeCompare(b[0])));
    });

    test('the holders of a postponed event keep or refund; the report counts them', { skip: !have && 'not installed' }, async () => {
        const { event, section, tier } = await onSale('Postponed Night', 79);
        const mine = await buy(buyer, section, tier, 1);
        const theirs = await buy(other, section, tier, 2);
        const postponed = await promoter.rpc('postpone_event', { event_id: event, reason: 'Storm warning' });
        assert.equal(postponed.data.status, 'POSTPONED');

        const refused = await buyer.rpc('decide_postponement', { purchase_id: theirs, choice: 'refund' });
        assert.equal(refused.status, 403);
        // no policy on this tier: the refund is the whole 42.50
        const refund = await buyer.rpc('decide_postponement', { purchase_id: mine, choice: 'refund' });
        assert.equal(refund.error, null, JSON.stringify(refund.error));
        assert.equal(refund.data.refund_state, 'pending');
        assert.equal(refund.data.idempotency_key, `refund:${mine}:1`);
        const keep = await other.rpc('decide_postponement', { purchase_id: theirs, choice: 'keep' });
        assert.equal(keep.data.choice, 'keep');

        const report = await promoter.rpc('postponement_report', { event_id: event }, { get: true });
        assert.equal(report.error, null, JSON.stringify(report.error));
        assert.equal(report.data.kept, 1);
        assert.equal(report.data.refunded, 1);
        assert.equal(report.data.pending, 0);
        assert.deepEqual(report.data.by_currency, [{ currency: 'USD', kept_seats: 2, refunded_seats: 1, refunds_done: 0, refunds_pending: 4250, refunds_failed: 0 }]);
    });
});
