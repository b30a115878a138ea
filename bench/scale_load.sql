-- bench/scale_load.sql: a synthetic platform loaded through eventsvc's own tables,
-- set-based, as the superuser (bench/scale_run). psql variable :scale is the
-- fraction of the full platform: 1,000 tenants, 1M events, 3M sections, 10M holds,
-- 1M published outbox messages (the default 0.1 is a tenth of that).
--
-- The load runs as a restore does (session_replication_role = replica): the hold
-- guard, the audit trail and the section list's trigger stay off. What they and the
-- hold functions would keep is derived set-based here: the sections' seat counts,
-- their counter rows (eventsvc.rebuild_section_counters()), the section lists; the
-- audit trail stays empty. Of the triggers marked ENABLE ALWAYS, the reference
-- generation's run; the two that build each event's search document and catalogue
-- row are off while the events go in, and eventsvc.rebuild_derived() builds both
-- tables at the end in one statement each. bench/scale_run checks the seat counters
-- against the holds afterwards (eventsvc.check_capacity).
--
-- Fixed rows the measurements aim at (ids below):
--   tenant 0 (5ca1e000-...-000000000000), venue "Scale Arena";
--   event A with section A: 100,000 holds (reservations, analytics);
--   event B with section B: 100,000 holds (the row-lock path once the shared
--   counters are full);
--   event F with section F: no holds (the fresh-section baseline).
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SET session_replication_role = replica;
SELECT setseed(0.16);

-- Ids from numbers, reproducible; tenant 0 has a fixed one.
CREATE FUNCTION pg_temp.tenant_id(t integer) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t = 0 THEN '5ca1e000-0000-4000-8000-000000000000'::uuid ELSE md5('tenant' || t)::uuid END $$;

CREATE TEMP TABLE scale_size AS
SELECT greatest(round(1000 * :scale)::int, 2) AS tenants,
       greatest(round(1000000 * :scale)::int, 1000) AS events,
       3 AS sections_per_event,
       greatest(round(10000000 * :scale)::int, 250000) AS holds,
       greatest(round(1000000 * :scale)::int, 10000) AS outbox,
       10 AS venues_per_tenant,
       100000 AS big_section_holds,
       20000 AS overdue_holds;

-- ---------------------------------------------------------------- tenants, venues
INSERT INTO eventsvc.tenants (id, name, slug)
SELECT pg_temp.tenant_id(t), 'Scale Tenant ' || t, 'scale-tenant-' || t
  FROM scale_size, generate_series(0, tenants - 1) t;
-- two tenants in a hundred are inactive: their events leave the public catalogue
UPDATE eventsvc.tenants SET is_active = false
 WHERE slug IN (SELECT 'scale-tenant-' || t FROM scale_size, generate_series(50, tenants - 1, 50) t);

INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone)
SELECT pg_temp.tenant_id(t), md5('venue' || t || '-' || v)::uuid,
       (ARRAY['Arena', 'Hall', 'Club', 'Theatre', 'Stadium', 'Park', 'Forum', 'Dome', 'Garden', 'Pavilion'])[v + 1]
           || ' ' || t, 2000 + 500 * v, (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo'])[1 + t % 4]
  FROM scale_size, generate_series(0, tenants - 1) t, generate_series(0, venues_per_tenant - 1) v;

-- ---------------------------------------------------------------- events
-- Event n belongs to tenant n % tenants and venue (n / tenants) % 10; a venue's
-- events follow each other over two years (one a week or so), so the
-- no-overlap rule holds. Past events are mostly COMPLETED; future ones mostly
-- ON_SALE or PUBLISHED; 90 % PUBLIC; 1 % deleted; 1 % of the public future
-- ones featured.
CREATE TEMP TABLE words AS
SELECT ARRAY['Midnight', 'Golden', 'Electric', 'Summer', 'Winter', 'Grand', 'Velvet', 'Neon', 'Silver', 'Wild',
             'Northern', 'Crimson', 'Blue', 'Open', 'Secret', 'Urban', 'Royal', 'Cosmic', 'Acoustic', 'Late']
           AS adjectives,
       ARRAY['Jazz', 'Rock', 'Opera', 'Comedy', 'Football', 'Basketball', 'Symphony', 'Techno', 'Blues', 'Theatre',
             'Circus', 'Ballet', 'Poetry', 'Cinema', 'Gospel', 'Salsa', 'Tango', 'Hip-Hop', 'Folk', 'Soul']
           AS genres,
       ARRAY['Night', 'Festival', 'Session', 'Tour', 'Gala', 'Live', 'Party', 'Showcase', 'Weekend', 'Marathon']
           AS kinds,
       ARRAY['live', 'outdoor', 'family', 'vip', 'acoustic', 'late-night', 'free', 'accessible', 'all-ages', '18+',
             'festival', 'premiere', 'sold-fast', 'seated', 'standing', 'local', 'touring', 'charity', 'student', 'seniors',
             'rock', 'jazz', 'pop', 'classical', 'electronic', 'indie', 'metal', 'rap', 'country', 'latin',
             'comedy', 'drama', 'dance', 'sports', 'conference', 'workshop', 'kids', 'food', 'art', 'film']
           AS tags;
CREATE TEMP TABLE cats AS
SELECT row_number() OVER (ORDER BY slug) - 1 AS k, id FROM eventsvc.event_categories;

ALTER TABLE eventsvc.events DISABLE TRIGGER events_search_document;
ALTER TABLE eventsvc.events DISABLE TRIGGER events_public_catalogue;

CREATE TEMP TABLE ev AS
SELECT n, pg_temp.tenant_id(n % s.tenants) AS tenant_id, md5('event' || n)::uuid AS id,
       md5('venue' || (n % s.tenants) || '-' || ((n / s.tenants) % s.venues_per_tenant))::uuid AS venue_id,
       date_trunc('hour', now()) - interval '365 days'
           + ((n / (s.tenants * s.venues_per_tenant)) * (730.0 / (s.events / (s.tenants * s.venues_per_tenant))))
             * interval '1 day' AS starts_at,
       random() AS r1, random() AS r2, random() AS r3, random() AS r4
  FROM scale_size s, generate_series(0, (SELECT events FROM scale_size) - 1) n;

INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, description, short_description, status,
                             visibility, primary_category_id, tags, starts_at, ends_at, timezone, capacity,
                             is_virtual, virtual_event_url, image_url, is_featured, featured_order, cancelled_at,
                             cancellation_reason, created_by, created_at, updated_at, deleted_at)
SELECT e.tenant_id, e.id, e.venue_id, x.name, 'event-' || e.n,
       x.name || ' brings ' || lower(w.genres[1 + (e.n / 7) % 20]) || ' and ' || lower(w.genres[1 + (e.n / 3) % 20])
           || ' to the ' || w.kinds[1 + (e.n / 11) % 10] || ' stage. Doors open an hour before the show; '
           || 'tickets are limited and bags are checked at the entrance.',
       'A ' || lower(w.adjectives[1 + (e.n / 13) % 20]) || ' evening of ' || lower(w.genres[1 + e.n % 20]),
       x.status, x.visibility, c.id,
       ARRAY[w.tags[1 + e.n % 40]] || CASE WHEN e.r2 < 0.7 THEN ARRAY[w.tags[1 + (e.n / 40) % 40]] ELSE '{}' END
           || CASE WHEN e.r2 < 0.3 THEN ARRAY[w.tags[1 + (e.n / 1600) % 40]] ELSE '{}' END,
       e.starts_at, e.starts_at + interval '3 hours', 'UTC', 500 + (e.n % 20) * 100,
       e.r3 < 0.05, CASE WHEN e.r3 < 0.05 THEN 'https://stream.example.com/' || e.n END,
       'https://img.example.com/' || e.n || '.jpg',
       x.featured, CASE WHEN x.featured THEN 1 + (e.n % 100) END,
       CASE WHEN x.status = 'CANCELLED' THEN e.starts_at - interval '20 days' END,
       CASE WHEN x.status = 'CANCELLED' THEN 'scale: cancelled' END,
       'loader', e.starts_at - interval '90 days', e.starts_at - interval '30 days',
       CASE WHEN e.r4 < 0.01 THEN e.starts_at - interval '10 days' END
  FROM ev e CROSS JOIN words w
  JOIN cats c ON c.k = e.n % (SELECT count(*) FROM cats)
  CROSS JOIN LATERAL (
        SELECT w.adjectives[1 + e.n % 20] || ' ' || w.genres[1 + (e.n / 20) % 20] || ' ' || w.kinds[1 + (e.n / 400) % 10]
                   AS name,
               CASE WHEN e.starts_at < now() THEN
                        CASE WHEN e.r1 < 0.90 THEN 'COMPLETED' WHEN e.r1 < 0.95 THEN 'CANCELLED' ELSE 'DRAFT' END
                    ELSE CASE WHEN e.r1 < 0.08 THEN 'DRAFT' WHEN e.r1 < 0.11 THEN 'CANCELLED'
                              WHEN e.r1 < 0.13 THEN 'POSTPONED' WHEN e.r1 < 0.33 THEN 'PUBLISHED'
                              WHEN e.r1 < 0.95 THEN 'ON_SALE' ELSE 'SOLD_OUT' END
               END::eventsvc.event_status AS status,
               CASE WHEN e.r3 < 0.90 THEN 'PUBLIC' WHEN e.r3 < 0.97 THEN 'PRIVATE' ELSE 'UNLISTED' END
                   ::eventsvc.event_visibility AS visibility,
               e.starts_at > now() AND e.r3 < 0.90 AND e.r4 > 0.01 AND e.r2 > 0.98 AS featured) x;

-- The fixed events of tenant 0, at their own venue: A and B with 100,000 holds
-- each, F without any.
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('5ca1e000-0000-4000-8000-000000000000', '5ca1e000-0000-4000-8000-0000000000a0', 'Scale Arena', 2000000000);
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, short_description, status, visibility, tags,
                             starts_at, ends_at, created_by)
SELECT '5ca1e000-0000-4000-8000-000000000000', ('5ca1e000-0000-4000-8000-0000000000e' || k)::uuid,
       '5ca1e000-0000-4000-8000-0000000000a0', 'Scale Night ' || k, 'scale-night-' || lower(k),
       'The measured event ' || k, 'ON_SALE', 'PUBLIC', '{live}',
       date_trunc('day', now()) + interval '60 days' + (ascii(k) - 65) * interval '1 day',
       date_trunc('day', now()) + interval '60 days 3 hours' + (ascii(k) - 65) * interval '1 day', 'loader'
  FROM unnest(ARRAY['a', 'b', 'f']) k;

-- ---------------------------------------------------------------- sections, tiers
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, section_code, tier, total_capacity,
                                     available_capacity, maximum_purchase, created_at, updated_at)
SELECT e.tenant_id, md5('section' || e.n || '-' || k)::uuid, e.id,
       (ARRAY['Floor', 'Balcony', 'VIP'])[k + 1], (ARRAY['FL', 'BA', 'VI'])[k + 1], (ARRAY['GA', 'GA', 'VIP'])[k + 1],
       200 + 100 * ((e.n + k) % 19), 200 + 100 * ((e.n + k) % 19), 10,
       e.starts_at - interval '90 days', e.starts_at - interval '90 days'
  FROM ev e, generate_series(0, (SELECT sections_per_event FROM scale_size) - 1) k;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
SELECT '5ca1e000-0000-4000-8000-000000000000', ('5ca1e000-0000-4000-8000-0000000000c' || k)::uuid,
       ('5ca1e000-0000-4000-8000-0000000000e' || k)::uuid, 'Section ' || upper(k), 1000000000, 1000000000
  FROM unnest(ARRAY['a', 'b', 'f']) k;

INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, tier, currency, base_price, service_fee,
                                    tax_rate, max_per_order)
SELECT e.tenant_id, md5('tier' || e.n)::uuid, e.id, 'General', 'GA',
       CASE WHEN e.n % 10 < 7 THEN 'USD' WHEN e.n % 10 < 9 THEN 'EUR' ELSE 'GBP' END,
       1500 + 500 * (e.n % 40), 250 + 50 * (e.n % 5), 0.0825, 10
  FROM ev e;
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, tier, currency, base_price, service_fee, tax_rate)
SELECT '5ca1e000-0000-4000-8000-000000000000', ('5ca1e000-0000-4000-8000-0000000000f' || k)::uuid,
       ('5ca1e000-0000-4000-8000-0000000000e' || k)::uuid, 'General', 'GA', 'USD', 4999, 350, 0.0825
  FROM unnest(ARRAY['a', 'b', 'f']) k;

-- ---------------------------------------------------------------- holds
-- Sections that sell: those of ON_SALE, SOLD_OUT and COMPLETED events. The
-- holds are spread over them (two sections in three of those events get some);
-- A and B get 100,000 each. A hold lasts 10 minutes: CONFIRMED 60 %, EXPIRED
-- 25 %, RELEASED 10 %, ACTIVE 5 % (live), plus 20,000 ACTIVE holds whose expiry
-- passed in the last two hours (the sweep's work) spread over sections.
CREATE TEMP TABLE selling AS
SELECT (ascii(right(c.id::text, 1)) - ascii('a'))::bigint AS k, c.tenant_id, c.id, c.event_id, p.id AS pricing_id,
       p.currency, p.base_price, p.service_fee
  FROM eventsvc.event_capacity c
  JOIN eventsvc.event_pricing p ON p.tenant_id = c.tenant_id AND p.event_id = c.event_id
 WHERE c.id IN ('5ca1e000-0000-4000-8000-0000000000ca', '5ca1e000-0000-4000-8000-0000000000cb')
UNION ALL
SELECT 1 + row_number() OVER (), c.tenant_id, c.id, c.event_id, p.id, p.currency, p.base_price, p.service_fee
  FROM eventsvc.event_capacity c
  JOIN eventsvc.events e ON e.tenant_id = c.tenant_id AND e.id = c.event_id
  JOIN eventsvc.event_pricing p ON p.tenant_id = c.tenant_id AND p.event_id = c.event_id
 WHERE e.status IN ('ON_SALE', 'SOLD_OUT', 'COMPLETED')
   AND e.venue_id <> '5ca1e000-0000-4000-8000-0000000000a0';
CREATE UNIQUE INDEX ON selling (k);
ANALYZE selling;
CREATE TEMP TABLE hold_plan AS
SELECT i,
       CASE WHEN i < big THEN 0 WHEN i < 2 * big THEN 1
            ELSE 2 + (hashint4(i) & 2147483647) % (SELECT count(*) - 2 FROM selling) END AS k,
       CASE WHEN i >= total - overdue THEN 'OVERDUE'
            ELSE (ARRAY['CONFIRMED', 'CONFIRMED', 'CONFIRMED', 'CONFIRMED', 'CONFIRMED', 'CONFIRMED',
                        'EXPIRED', 'EXPIRED', 'EXPIRED', 'RELEASED', 'RELEASED', 'ACTIVE',
                        'CONFIRMED', 'CONFIRMED', 'CONFIRMED', 'CONFIRMED', 'CONFIRMED', 'CONFIRMED',
                        'EXPIRED', 'EXPIRED'])[1 + (hashint4(i + 7) & 2147483647) % 20] END AS kind,
       1 + (hashint4(i + 13) & 2147483647) % 4 AS quantity,
       ((hashint4(i + 29) & 2147483647) % 15552000) * interval '1 second' AS age
  FROM (SELECT big_section_holds AS big, holds AS total, overdue_holds AS overdue FROM scale_size) s,
       generate_series(0, (SELECT holds FROM scale_size) - 1) i;

INSERT INTO eventsvc.capacity_holds (tenant_id, id, event_id, capacity_id, pricing_id, holder_id, quantity, state,
                                     currency, unit_price, locked_price, expires_at, created_at, confirmed_at,
                                     released_at)
SELECT s.tenant_id, md5('hold' || h.i)::uuid, s.event_id, s.id, s.pricing_id, 'buyer-' || (h.i % 250000),
       h.quantity, CASE WHEN h.kind = 'OVERDUE' THEN 'ACTIVE' ELSE h.kind END::eventsvc.hold_state,
       s.currency, s.base_price,
       jsonb_build_object('tax', (h.quantity * (s.base_price + s.service_fee)) * 825 / 10000,
                          'total', h.quantity * (s.base_price + s.service_fee)
                                   + (h.quantity * (s.base_price + s.service_fee)) * 825 / 10000,
                          'currency', s.currency, 'quantity', h.quantity, 'rounding', 'half-even per line',
                          'subtotal', h.quantity * (s.base_price + s.service_fee), 'tax_rate', 0.08250000,
                          'base_total', h.quantity * s.base_price, 'minor_unit', 2, 'price_kind', 'base',
                          'unit_price', s.base_price, 'service_fee', s.service_fee, 'facility_fee', 0,
                          'group_discount', 0),
       t.created + interval '10 minutes', t.created,
       CASE WHEN h.kind = 'CONFIRMED' THEN t.created + interval '3 minutes' END,
       CASE WHEN h.kind = 'RELEASED' THEN t.created + interval '2 minutes'
            WHEN h.kind = 'EXPIRED' THEN t.created + interval '11 minutes' END
  FROM hold_plan h
  JOIN selling s ON s.k = h.k
  CROSS JOIN LATERAL (
        SELECT CASE h.kind
                   WHEN 'ACTIVE' THEN now() - (h.age / 155520 * 5 / 10)           -- the last 5 minutes
                   WHEN 'OVERDUE' THEN now() - interval '15 minutes' - (h.age / 155520 * 105 / 100)
                   ELSE now() - interval '2 hours' - h.age                          -- the last 180 days
               END AS created) t;

-- ---------------------------------------------------------------- derived rows
-- The seat counters of every section, from its holds (what check_capacity computes).
UPDATE eventsvc.event_capacity c
   SET available_capacity = c.total_capacity - x.held - x.sold, reserved_capacity = x.held, sold_count = x.sold
  FROM (SELECT h.tenant_id, h.capacity_id,
               coalesce(sum(h.quantity) FILTER (WHERE h.state = 'ACTIVE'), 0) AS held,
               coalesce(sum(h.quantity) FILTER (WHERE h.state = 'CONFIRMED'), 0) AS sold
          FROM eventsvc.capacity_holds h GROUP BY 1, 2) x
 WHERE c.tenant_id = x.tenant_id AND c.id = x.capacity_id;

-- The counter rows and event customers of every section, from the holds (what the
-- hold functions keep as they write).
SELECT eventsvc.rebuild_section_counters();

-- The event's section list version (what the section trigger keeps).
INSERT INTO eventsvc.event_capacity_thresholds (tenant_id, event_id, sections_version)
SELECT tenant_id, event_id, count(*) FROM eventsvc.event_capacity GROUP BY 1, 2;


-- ---------------------------------------------------------------- outbox
-- Published messages, a few per event, and 2,000 pending ones for the relay claim.
INSERT INTO eventsvc.outbox (tenant_id, aggregate_id, sequence, exchange, routing_key, payload, state, attempts,
                             published_at, created_at)
SELECT e.tenant_id, e.id, m.seq, 'tickettoken_events',
       (ARRAY['event.created', 'event.updated', 'event.published', 'capacity.warning'])[1 + m.seq % 4],
       jsonb_build_object('event_id', e.id, 'tenant_id', e.tenant_id, 'name', 'Scale event ' || e.n,
                          'status', 'ON_SALE', 'changed', jsonb_build_array('status'), 'actor', 'loader',
                          'occurred_at', e.starts_at - interval '30 days'),
       CASE WHEN m.pending THEN 'pending' ELSE 'published' END::eventsvc.outbox_state,
       CASE WHEN m.pending THEN 0 ELSE 1 END,
       CASE WHEN m.pending THEN NULL ELSE e.starts_at - interval '30 days' END,
       e.starts_at - interval '30 days'
  FROM ev e
  CROSS JOIN LATERAL (
        SELECT q AS seq, e.n < 2000 AND q = 1 AS pending
          FROM generate_series(1, (SELECT outbox FROM scale_size) / (SELECT events FROM scale_size)) q) m;
INSERT INTO eventsvc.outbox_sequences (tenant_id, aggregate_id, last_sequence)
SELECT tenant_id, aggregate_id, max(sequence) FROM eventsvc.outbox GROUP BY 1, 2;

RESET session_replication_role;
ALTER TABLE eventsvc.events ENABLE ALWAYS TRIGGER events_search_document;
ALTER TABLE eventsvc.events ENABLE ALWAYS TRIGGER events_public_catalogue;
-- The search documents and the public catalogue from the events; and, as rows were
-- written around the hold functions, the shared counters are rebuilt from the rows
-- on first use and the next sweep reads from the beginning.
SELECT eventsvc.rebuild_derived();
