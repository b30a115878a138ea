// embedding.spec.mjs: supabase-js style resource embedding through @supabase/postgrest-js
// against real PostgREST: an event with its sections, schedules, price tiers, holds and
// content in one request, the other way round (a hold with its event, section and tier),
// row-level security inside the embedded rows, and the OpenAPI description of the api
// schema (every view, column and function described; read-only views say so).
// Run by test/integration/http_embedding.sh (PGRST_URL, EVS_JWT_KEY, EVS_NODE_MODULES).
import { test, describe, before } from 'node:test';
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
const ARENA = 'aaaaaaaa-0000-4000-8000-000000000001';
const client = (claims) => new PostgrestClient(URL, { headers: { Authorization: `Bearer ${sign(claims, KEY)}` } });
const alice = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'alice' });
const buyer = client({ role: 'eventsvc_user', tenant_id: ACME, sub: 'buyer-7' });
const bob = client({ role: 'eventsvc_user', tenant_id: GLOBEX, sub: 'bob' });
// every buyer's holds: the tenant's admin (a tenant user reads its own: docs/tenancy.md "Buyers")
const promoter = client({ role: 'eventsvc_admin', tenant_id: ACME, sub: 'promoter' });
const ok = (res) => { assert.equal(res.error, null, JSON.stringify(res.error)); return res.data; };

let ev, floor, tier, hold;
before(async () => {
    const start = new Date(Date.now() + 40 * 86400e3); start.setUTCMinutes(0, 0, 0);
    const end = new Date(start.getTime() + 3 * 3600e3);
    ev = ok(await alice.rpc('create_event', {
        venue_id: ARENA, name: 'Embedding Night', starts_at: start.toISOString(), ends_at: end.toISOString(),
        sections: [{ section_name: 'Floor', total_capacity: 100 }, { section_name: 'Balcony', total_capacity: 40 }],
    })).id;
    floor = ok(await alice.from('event_sections').select('id').eq('event_id', ev).eq('section_name', 'Floor').single()).id;
    tier = ok(await alice.rpc('create_pricing', { event_id: ev, name: 'Floor GA', base_price: 4500, currency: 'USD', capacity_id: floor })).id;
    ok(await alice.rpc('set_event_content', { event_id: ev, locale: 'en', long_description: 'Loud.', highlights: ['late bar'] }));
    ok(await alice.rpc('set_event_content', { event_id: ev, locale: 'de', long_description: 'Laut.' }));
    ok(await alice.rpc('set_event_faqs', { event_id: ev, faqs: [{ question: 'Doors?', answer: '19:00' }, { question: 'Age?', answer: '16+' }] }));
    ok(await alice.rpc('publish_event', { event_id: ev }));
    ok(await alice.rpc('transition_event', { event_id: ev, status: 'ON_SALE' }));
    hold = ok(await buyer.rpc('reserve_capacity', { capacity_id: floor, quantity: 3, pricing_id: tier })).id;
});

describe('an event with everything it has, in one request', () => {
    test('events?select=*,event_sections(*),event_schedules(*),event_pricing_tiers(*),holds(*),event_content_locales(*),event_faqs(*)', async () => {
        const e = ok(await promoter.from('events')
            .select('*,event_sections(*),event_schedules(*),event_pricing_tiers(*),holds(*),event_content_locales(*),event_faqs(*)')
            .eq('id', ev).single());
        assert.equal(e.name, 'Embedding Night');
        assert.deepEqual(e.event_sections.map((s) => s.section_name).sort(), ['Balcony', 'Floor']);
        assert.equal(e.event_schedules.length, 1);
        assert.deepEqual(e.event_pricing_tiers.map((t) => [t.name, t.base_price, t.capacity_id]), [['Floor GA', 4500, floor]]);
        assert.deepEqual(e.holds.map((h) => [h.id, h.quantity, h.state]), [[hold, 3, 'ACTIVE']]);
        assert.deepEqual(e.event_content_locales.map((c) => c.locale).sort(), ['de', 'en']);
        assert.deepEqual(e.event_faqs.sort((a, b) => a.position - b.position).map((f) => f.question), ['Doors?', 'Age?']);
    });

    test('the supabase-js shorthand with chosen columns and an alias', async () => {
        const rows = ok(await alice.from('events').select('name, sections:event_sections(section_name, total_capacity)').eq('id', ev));
        assert.equal(rows.length, 1);
        assert.deepEqual(rows[0].sections.map((s) => [s.section_name, s.total_capacity]).sort(), [['Balcony', 40], ['Floor', 100]]);
    });

    test('filters and order inside the embedded rows', async () => {
        const e = ok(await alice.from('events').select('name,event_sections(section_name)')
            .eq('id', ev).eq('event_sections.section_name', 'Floor').single());
        assert.deepEqual(e.event_sections.map((s) => s.section_name), ['Floor']);
        const f = ok(await alice.from('events').select('event_faqs(question)').eq('id', ev)
            .order('position', { referencedTable: 'event_faqs', ascending: false }).single());
        assert.deepEqual(f.event_faqs.map((q) => q.question), ['Age?', 'Doors?']);
    });
});

describe('the other way round (to-one)', () => {
    test('a hold with its event, section and tier as objects', async () => {
        const h = ok(await buyer.from('holds').select('quantity,events(name,status),event_sections(section_name),event_pricing_tiers(name)')
            .eq('id', hold).single());
        assert.deepEqual(h, { quantity: 3, events: { name: 'Embedding Night', status: 'ON_SALE' },
                              event_sections: { section_name: 'Floor' }, event_pricing_tiers: { name: 'Floor GA' } });
    });

    test('a section with its event, its tiers and its holds', async () => {
        const s = ok(await promoter.from('event_sections').select('section_name,events(name),event_pricing_tiers(name),holds(quantity)')
            .eq('id', floor).single());
        assert.deepEqual(s, { section_name: 'Floor', events: { name: 'Embedding Night' },
                              event_pricing_tiers: [{ name: 'Floor GA' }], holds: [{ quantity: 3 }] });
    });

    test('schedules, tiers, content and FAQs embed their event', async () => {
        for (const view of ['event_schedules', 'event_pricing_tiers', 'event_content_locales', 'event_faqs']) {
            const rows = ok(await alice.from(view).select('events(id)').eq('event_id', ev));
            assert.ok(rows.length > 0, view);
            assert.ok(rows.every((r) => r.events && r.events.id === ev), view);
        }
    });
});

describe('row-level security holds inside embeddings', () => {
    test('a tenant user embeds its own holds only, not another buyer\'s', async () => {
        const e = ok(await alice.from('events').select('id,holds(id),event_sections(holds(id))').eq('id', ev).single());
        assert.deepEqual(e.holds, [], 'the event\'s creator, a tenant user, holds nothing of it');
        assert.ok(e.event_sections.every((s) => s.holds.length === 0), 'nor through its sections');
        assert.deepEqual(ok(await alice.from('holds').select('id').eq('id', hold)), [], 'nor by the hold\'s id');
        const mine = ok(await buyer.from('events').select('holds(id,holder_id)').eq('id', ev).single());
        assert.deepEqual(mine.holds, [{ id: hold, holder_id: 'buyer-7' }], 'the buyer embeds its own hold');
    });

    test("another tenant sees neither the event nor its rows", async () => {
        assert.deepEqual(ok(await bob.from('events').select('id,event_sections(id),holds(id)').eq('id', ev)), []);
        assert.deepEqual(ok(await bob.from('holds').select('id,events(id)').eq('id', hold)), []);
    });

    test("another tenant's own events embed only its own rows", async () => {
        const rows = ok(await bob.from('events').select('id,event_sections(event_id),holds(event_id)'));
        for (const e of rows) {
            assert.ok(e.event_sections.every((s) => s.event_id === e.id));
            assert.ok(e.holds.every((h) => h.event_id === e.id));
        }
        assert.ok(!rows.some((e) => e.id === ev));
    });
});

describe('OpenAPI describes the api schema', () => {
    let doc;
    before(async () => {
        const res = await fetch(`${URL}/`, { headers: { Authorization: `Bearer ${sign({ role: 'eventsvc_admin', tenant_id: ACME }, KEY)}` } });
        doc = await res.json();
    });

    test('every view and every column has a description; read-only views say so', () => {
        const views = Object.entries(doc.definitions);
        assert.ok(views.length >= 10, `only ${views.length} definitions`);
        for (const [name, def] of views) {
            assert.ok(def.description && def.description.length > 10, `${name} has no description`);
            assert.match(def.description, /^Read-only\./, `${name} does not say it is read-only`);
            for (const [col, prop] of Object.entries(def.properties)) {
                assert.ok(prop.description && prop.description.length > 3, `${name}.${col} has no description`);
            }
        }
    });

    test('every RPC has a description', () => {
        const rpcs = Object.entries(doc.paths).filter(([p]) => p.startsWith('/rpc/'));
        assert.ok(rpcs.length >= 20, `only ${rpcs.length} RPCs`);
        for (const [path, item] of rpcs) {
            const op = item.post || item.get;
            assert.ok(op && (op.summary || op.description), `${path} has no description`);
        }
    });
});
