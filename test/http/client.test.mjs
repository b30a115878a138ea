// client.test.mjs: eventsvc through @supabase/postgrest-js, the client most PostgREST
// users have, as an application would use it: list, filter, paginate with exact
// counts, call RPCs, read errors as {code, message, details, hint} with a status.
// Run by test/integration/http_client.sh with PGRST_URL, EVS_JWT_KEY and
// EVS_NODE_MODULES set, against the data of test/http/seed.sql.
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
const ROCK = 'aaaaaaaa-0000-4000-8000-0000000000e1';

const client = (claims) => new PostgrestClient(URL, {
    headers: claims ? { Authorization: `Bearer ${sign(claims, KEY)}` } : {},
});
const anon = client(null);
const alice = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'alice' });
const bob = client({ role: 'eventsvc_user', tenant_id: GLOBEX, sub: 'bob' });
const admin = client({ role: 'eventsvc_admin', tenant_id: ACME, sub: 'ada' });
const service = client({ role: 'eventsvc_service', sub: 'auth-service', scope: 'platform' });

// Whether a route exists in this build: the suite covers what is installed.
async function hasRpc(name) {
    const res = await fetch(`${URL}/`, { headers: { Authorization: `Bearer ${sign({ role: 'eventsvc_admin', tenant_id: ACME }, KEY)}` } });
    const doc = await res.json();
    return Object.hasOwn(doc.paths, `/rpc/${name}`);
}

describe('public catalogue', () => {
    test('lists with an exact count and paginates with range', async () => {
        const page1 = await anon.from('public_events').select('slug', { count: 'exact' }).order('slug').range(0, 1);
        assert.equal(page1.error, null);
        assert.equal(page1.count, 3);
        assert.equal(page1.status, 206);
        assert.deepEqual(page1.data.map((e) => e.slug), ['acme-jazz-postponed', 'acme-rock-night']);
        const page2 = await anon.from('public_events').select('slug', { count: 'exact' }).order('slug').range(2, 3);
        assert.equal(page2.count, 3);
        assert.deepEqual(page2.data.map((e) => e.slug), ['globex-opera']);
    });

    test('keyset pages on (starts_at, id) cover the list in order', async () => {
        const all = await anon.from('public_events').select('id,starts_at').order('starts_at').order('id');
        assert.equal(all.data.length, 3);
        const seen = [];
        let page = await anon.from('public_events').select('id,starts_at').order('starts_at').order('id').limit(2);
        while (page.data.length > 0) {
            assert.equal(page.error, null);
            seen.push(...page.data);
            // the cursor is the last row; the gte bound lets the catalogue index start there
            const { starts_at: x, id: y } = page.data.at(-1);
            page = await anon.from('public_events').select('id,starts_at')
                .gte('starts_at', x).or(`starts_at.gt."${x}",and(starts_at.eq."${x}",id.gt.${y})`)
                .order('starts_at').order('id').limit(2);
        }
        assert.deepEqual(seen.map((e) => e.id), all.data.map((e) => e.id));
    });

    test('filters: eq, in, gte, contains, ilike', async () => {
        const onSale = await anon.from('public_events').select('slug').eq('status', 'ON_SALE');
        assert.deepEqual(onSale.data.map((e) => e.slug), ['acme-rock-night']);
        const two = await anon.from('public_events').select('slug').in('status', ['ON_SALE', 'PUBLISHED']).order('slug');
        assert.deepEqual(two.data.map((e) => e.slug), ['acme-rock-night', 'globex-opera']);
        const feb = await anon.from('public_events').select('slug').gte('starts_at', '2030-02-01T00:00:00Z');
        assert.deepEqual(feb.data.map((e) => e.slug), ['globex-opera']);
        const jazz = await anon.from('public_events').select('slug').contains('tags', ['jazz']);
        assert.deepEqual(jazz.data.map((e) => e.slug), ['acme-jazz-postponed']);
        const byName = await anon.from('public_events').select('slug').ilike('name', '%opera%');
        assert.deepEqual(byName.data.map((e) => e.slug), ['globex-opera']);
    });

    test('one row as an object with maybeSingle/single', async () => {
        const one = await anon.from('public_events').select('name,venue_name').eq('id', ROCK).single();
        assert.equal(one.error, null);
        assert.deepEqual(one.data, { name: 'Acme Rock Night', venue_name: 'Acme Arena' });
        const none = await anon.from('public_events').select('id').eq('slug', 'acme-draft').maybeSingle();
        assert.equal(none.data, null, 'a draft is not in the public catalogue');
    });

    test('private columns cannot be selected', async () => {
        const res = await anon.from('public_events').select('artist_wallet');
        assert.equal(res.status, 400);
        assert.equal(res.error.code, '42703');
    });

    test('anonymous cannot write to the catalogue', async () => {
        const res = await anon.from('public_events').update({ name: 'x' }).eq('id', ROCK);
        assert.ok([401, 403].includes(res.status), `status ${res.status}`);
        assert.equal(res.error.code, '42501');
    });
});

describe('errors as an application reads them', () => {
    test('forbidden: a tenant user calling a service function', async () => {
        const res = await alice.rpc('revoke_token', { jti: 'x', expires_at: '2099-01-01T00:00:00Z' });
        assert.equal(res.status, 403);
        assert.equal(res.error.code, '42501');
        assert.match(res.error.message, /permission denied/);
        assert.ok('details' in res.error && 'hint' in res.error);
    });

    test('validation: 400 with the field named', async () => {
        const res = await service.rpc('revoke_token', { jti: '', expires_at: '2099-01-01T00:00:00Z' });
        assert.equal(res.status, 400);
        assert.equal(res.error.code, '22023');
        assert.match(res.error.message, /jti/);
        assert.ok(res.error.hint);
    });

    test('unknown function: 404', async () => {
        const res = await alice.rpc('no_such_route', {});
        assert.equal(res.status, 404);
    });

    test('revoked token: 401 with PT401', async () => {
        const jti = `client-test-${process.pid}`;
        const carol = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'carol', jti });
        assert.equal((await carol.from('public_events').select('id').limit(1)).status, 200);
        const rev = await service.rpc('revoke_token', { jti, expires_at: '2099-01-01T00:00:00Z' });
        assert.equal(rev.error, null);
        assert.equal(rev.data.revoked, true);
        const res = await carol.from('public_events').select('id').limit(1);
        assert.equal(res.status, 401);
        assert.equal(res.error.code, 'PT401');
        const status = await service.rpc('token_status', { jti }, { get: true });
        assert.equal(status.data.revoked, true);
    });
});

describe('tenant views', async () => {
    const haveEvents = (await anon.from('public_events').select('id').limit(0)).status === 200
        && (await alice.from('events').select('id').limit(0)).status === 200;

    test('a tenant sees its own events only, with an exact count', { skip: !haveEvents && 'api.events not installed' }, async () => {
        const a = await alice.from('events').select('slug', { count: 'exact' }).order('slug');
        assert.equal(a.error, null);
        assert.ok(a.data.every((e) => e.slug.startsWith('acme-')), JSON.stringify(a.data));
        assert.equal(a.count, a.data.length);
        const b = await bob.from('events').select('slug', { count: 'exact' });
        assert.deepEqual(b.data.map((e) => e.slug), ['globex-opera']);
        assert.equal(b.count, 1);
        const cross = await bob.from('events').select('id').eq('id', ROCK);
        assert.deepEqual(cross.data, []);
    });

    test('an admin token works like a user token for reads', { skip: !haveEvents && 'api.events not installed' }, async () => {
        const res = await admin.from('events').select('id', { count: 'exact', head: true });
        assert.equal(res.error, null);
        assert.ok(res.count >= 1);
    });
});

describe('actions through rpc()', async () => {
    const haveLifecycle = await hasRpc('create_event');
    const haveHolds = await hasRpc('reserve_capacity');
    const day = (n) => new Date(Date.now() + n * 86400e3).toISOString().slice(0, 10);
    const VENUE = 'aaaaaaaa-0000-4000-8000-000000000001';

    test('create, publish, open sales, reserve, sell out, illegal transition', { skip: !(haveLifecycle && haveHolds) && 'lifecycle or holds not installed' }, async () => {
        const created = await alice.rpc('create_event', {
            venue_id: VENUE, name: 'Client Night', starts_at: `${day(40)}T20:00:00Z`, ends_at: `${day(40)}T22:00:00Z`,
            sections: [{ section_name: 'Floor', total_capacity: 3 }],
        });
        assert.equal(created.error, null, JSON.stringify(created.error));
        assert.equal(created.status, 200);
        const ev = created.data;
        assert.equal(ev.status, 'DRAFT');
        const section = ev.sections[0].id;

        const early = await alice.rpc('reserve_capacity', { capacity_id: section, quantity: 1 });
        assert.equal(early.status, 409, 'no sales before ON_SALE');
        assert.equal(early.error.code, 'PT409');

        assert.equal((await alice.rpc('publish_event', { event_id: ev.id })).data.status, 'PUBLISHED');
        const illegal = await alice.rpc('transition_event', { event_id: ev.id, status: 'COMPLETED' });
        assert.equal(illegal.status, 409);
        assert.equal(illegal.error.code, 'PT409');
        assert.match(illegal.error.message, /illegal status transition/);
        assert.ok(illegal.error.details.includes('ON_SALE'), 'details list the allowed targets');
        assert.equal((await alice.rpc('transition_event', { event_id: ev.id, status: 'ON_SALE' })).data.status, 'ON_SALE');

        const hold = await alice.rpc('reserve_capacity', { capacity_id: section, quantity: 2 });
        assert.equal(hold.error, null);
        assert.equal(hold.data.state, 'ACTIVE');
        const tooMany = await alice.rpc('reserve_capacity', { capacity_id: section, quantity: 2 });
        assert.equal(tooMany.status, 409);
        assert.match(tooMany.error.message, /not enough seats/);
        const stranger = await bob.rpc('reserve_capacity', { capacity_id: section, quantity: 1 });
        assert.equal(stranger.status, 404, 'another tenant does not see the section');
        const confirmed = await alice.rpc('confirm_hold', { hold_id: hold.data.id });
        assert.equal(confirmed.data.state, 'CONFIRMED');

        const avail = await alice.from('section_availability').select('available,reserved,sold').eq('capacity_id', section).single();
        assert.deepEqual(avail.data, { available: 1, reserved: 0, sold: 2 });
        const pub = await anon.from('public_events').select('status').eq('id', ev.id).single();
        assert.equal(pub.data.status, 'ON_SALE');
    });

    test('stale version and idempotency key through headers', { skip: !haveLifecycle && 'lifecycle not installed' }, async () => {
        const key = `client-${process.pid}`;
        const body = { venue_id: VENUE, name: 'Keyed Night', starts_at: `${day(41)}T20:00:00Z`, ends_at: `${day(41)}T22:00:00Z` };
        // postgrest-js has no per-call headers in 1.x: a client whose headers carry the key.
        const withKey = new PostgrestClient(URL, {
            headers: { Authorization: `Bearer ${sign({ role: 'eventsvc_user', tenant_id: ACME, sub: 'alice' }, KEY)}`, 'Idempotency-Key': key },
        });
        const first = await withKey.rpc('create_event', body);
        const again = await withKey.rpc('create_event', body);
        assert.equal(first.error, null, JSON.stringify(first.error));
        assert.equal(again.data.id, first.data.id, 'the retry returns the same event');
        const other = await withKey.rpc('create_event', { ...body, name: 'Other Night' });
        assert.equal(other.status, 422);
        assert.equal(other.error.code, 'PT422');

        const upd = await alice.rpc('update_event', { event_id: first.data.id, expected_version: 1, changes: { name: 'Keyed Night II' } });
        assert.equal(upd.data.version, 2);
        const stale = await alice.rpc('update_event', { event_id: first.data.id, expected_version: 1, changes: { name: 'Lost' } });
        assert.equal(stale.status, 409);
        assert.equal(stale.error.code, 'PT409');
        assert.ok(stale.error.hint);
    });

    test('paginate the tenant events view with exact counts', { skip: !haveLifecycle && 'lifecycle not installed' }, async () => {
        const all = await alice.from('events').select('id', { count: 'exact', head: true });
        const total = all.count;
        assert.ok(total >= 4);
        const seen = [];
        for (let from = 0; from < total; from += 2) {
            const page = await alice.from('events').select('id', { count: 'exact' }).order('id').range(from, from + 1);
            assert.equal(page.error, null);
            assert.equal(page.count, total);
            seen.push(...page.data.map((e) => e.id));
        }
        assert.equal(new Set(seen).size, total, 'pages cover every event exactly once');
    });
});

export { client, alice, bob, admin, service, anon, hasRpc, ACME, GLOBEX, ROCK };
