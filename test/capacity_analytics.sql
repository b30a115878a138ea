-- pgTAP: the analytics views (api.section_availability, api.event_availability,
-- api.event_customer_analytics) read the sections' counter rows,
-- not the holds, and still give exactly what the holds add up to: after each step
-- (reservations with and without a price in two currencies, confirmations, a
-- release, holds past their expiry that no sweep has reached yet, the sweep, a
-- reservation in the reader's own transaction) every view equals the same figures computed from the hold rows. Commits as
-- it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(20);

SELECT eventsvc.create_tenant('Tap Analytics', 'tap-analytics', 'a7a70000-0000-4000-8000-000000000001') IS NOT NULL AS tenant;
SELECT eventsvc.create_tenant('Tap Analytics Other', 'tap-analytics-other', 'a7a70000-0000-4000-8000-000000000002') IS NOT NULL AS other;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('a7a70000-0000-4000-8000-000000000001', 'a7a70000-0000-4000-8000-0000000000a1', 'Figure Hall', 1000);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('a7a70000-0000-4000-8000-000000000001', 'a7a70000-0000-4000-8000-0000000000e1',
     'a7a70000-0000-4000-8000-0000000000a1', 'Figure Night', 'figure-night', 'ON_SALE'),
    ('a7a70000-0000-4000-8000-000000000001', 'a7a70000-0000-4000-8000-0000000000e2',
     'a7a70000-0000-4000-8000-0000000000a1', 'Quiet Night', 'quiet-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('a7a70000-0000-4000-8000-000000000001', 'a7a70000-0000-4000-8000-0000000000c1',
        'a7a70000-0000-4000-8000-0000000000e1', 'Stalls', 100, 100),
       ('a7a70000-0000-4000-8000-000000000001', 'a7a70000-0000-4000-8000-0000000000c2',
        'a7a70000-0000-4000-8000-0000000000e1', 'Circle', 50, 50),
       ('a7a70000-0000-4000-8000-000000000001', 'a7a70000-0000-4000-8000-0000000000c3',
        'a7a70000-0000-4000-8000-0000000000e2', 'Empty', 10, 10);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, currency) VALUES
    ('a7a70000-0000-4000-8000-000000000001', 'a7a70000-0000-4000-8000-0000000000f1',
     'a7a70000-0000-4000-8000-0000000000e1', 'Euro', 2500, 'EUR'),
    ('a7a70000-0000-4000-8000-000000000001', 'a7a70000-0000-4000-8000-0000000000f2',
     'a7a70000-0000-4000-8000-0000000000e1', 'Pound', 1999, 'GBP');
SET app.current_tenant_id = 'a7a70000-0000-4000-8000-000000000001';

-- Per section, from the hold rows.
CREATE FUNCTION pg_temp.section_rows() RETURNS TABLE (event_id uuid, section_name text, total_capacity bigint, sold bigint, reserved bigint, available bigint)
LANGUAGE sql AS $$
    SELECT c.event_id, c.section_name::text, c.total_capacity, coalesce(h.sold, 0), coalesce(h.reserved, 0),
           CASE WHEN c.is_active THEN greatest(c.total_capacity - coalesce(h.sold, 0) - coalesce(h.reserved, 0), 0) ELSE 0 END
      FROM eventsvc.event_capacity c
      LEFT JOIN LATERAL (
            SELECT sum(x.quantity) FILTER (WHERE x.state = 'CONFIRMED') AS sold,
                   sum(x.quantity) FILTER (WHERE x.state = 'ACTIVE' AND x.expires_at > eventsvc.now()) AS reserved
              FROM eventsvc.capacity_holds x WHERE x.tenant_id = c.tenant_id AND x.capacity_id = c.id) h ON true
     WHERE c.tenant_id = 'a7a70000-0000-4000-8000-000000000001'
$$;
-- The figures from the hold rows, as the views computed them before they read the
-- counter rows (the reference each view must equal).
CREATE FUNCTION pg_temp.from_holds() RETURNS TABLE (what text, line text) LANGUAGE sql AS $$
    SELECT 'section', format('%s %s sold %s reserved %s available %s', c.event_id, c.section_name, c.sold, c.reserved,
               c.available)
      FROM pg_temp.section_rows() c
    UNION ALL
    SELECT 'customers', format('%s created %s confirmed %s expired %s released %s active %s customers %s buying %s rate %s',
               h.event_id, count(*), count(*) FILTER (WHERE h.state = 'CONFIRMED'),
               count(*) FILTER (WHERE h.state = 'EXPIRED' OR h.state = 'ACTIVE' AND h.expires_at <= eventsvc.now()),
               count(*) FILTER (WHERE h.state = 'RELEASED'),
               count(*) FILTER (WHERE h.state = 'ACTIVE' AND h.expires_at > eventsvc.now()),
               count(DISTINCT h.holder_id), count(DISTINCT h.holder_id) FILTER (WHERE h.state = 'CONFIRMED'),
               round(count(*) FILTER (WHERE h.state = 'CONFIRMED')::numeric / count(*), 4))
      FROM eventsvc.capacity_holds h
     WHERE h.tenant_id = 'a7a70000-0000-4000-8000-000000000001'
     GROUP BY h.event_id
$$;
-- The same lines from the views.
CREATE FUNCTION pg_temp.from_views() RETURNS TABLE (what text, line text) LANGUAGE sql AS $$
    SELECT 'section', format('%s %s sold %s reserved %s available %s', s.event_id, s.section_name, s.sold, s.reserved, s.available)
      FROM api.section_availability s
    UNION ALL
    SELECT 'customers', format('%s created %s confirmed %s expired %s released %s active %s customers %s buying %s rate %s',
               a.event_id, a.holds_created, a.holds_confirmed, a.holds_expired, a.holds_released, a.holds_active,
               a.customers, a.buying_customers, a.conversion_rate)
      FROM api.event_customer_analytics a
$$;
CREATE FUNCTION pg_temp.event_sums() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s %s/%s/%s/%s', s.event_id, s.total_capacity, s.sold, s.reserved, s.available), ', ' ORDER BY s.event_id)
      FROM (SELECT event_id, sum(total_capacity) total_capacity, sum(sold) sold, sum(reserved) reserved, sum(available) available
              FROM pg_temp.section_rows() GROUP BY event_id) s
$$;
CREATE FUNCTION pg_temp.view_event_sums() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s %s/%s/%s/%s', event_id, total_capacity, sold, reserved, available), ', ' ORDER BY event_id)
      FROM api.event_availability
$$;

-- Nothing sold yet: every section at zero, no customer row.
SET ROLE eventsvc_user;
SELECT set_eq('SELECT * FROM pg_temp.from_views()', 'SELECT * FROM pg_temp.from_holds()', 'before any hold: the views equal the holds');
SELECT is((SELECT count(*) FROM api.event_customer_analytics), 0::bigint, 'no customer analytics before a hold');

-- Reservations with and without a price, by three holders, on two sections.
SET app.current_user_id = 'ann';
SELECT (api.reserve_capacity('a7a70000-0000-4000-8000-0000000000c1', 3, 'a7a70000-0000-4000-8000-0000000000f1')).id AS a1 \gset
SELECT (api.reserve_capacity('a7a70000-0000-4000-8000-0000000000c2', 2, 'a7a70000-0000-4000-8000-0000000000f2')).id AS a2 \gset
SET app.current_user_id = 'bob';
SELECT (api.reserve_capacity('a7a70000-0000-4000-8000-0000000000c1', 4, 'a7a70000-0000-4000-8000-0000000000f1')).id AS b1 \gset
SELECT (api.reserve_capacity('a7a70000-0000-4000-8000-0000000000c1', 1)).id AS b2 \gset
SET app.current_user_id = 'cy';
SELECT (api.reserve_capacity('a7a70000-0000-4000-8000-0000000000c2', 5, 'a7a70000-0000-4000-8000-0000000000f2')).id AS c1 \gset
SELECT set_eq('SELECT * FROM pg_temp.from_views()', 'SELECT * FROM pg_temp.from_holds()', 'five live holds: the views equal the holds');
SELECT is((SELECT reserved FROM api.section_availability WHERE capacity_id = 'a7a70000-0000-4000-8000-0000000000c1'), 8::bigint,
          'eight seats reserved in the stalls');

-- Confirmations in both currencies, and a release.
SET app.current_user_id = 'ann';
SELECT is((api.confirm_hold(:'a1')).state, 'CONFIRMED', 'ann buys her euro seats');
SELECT is((api.release_hold(:'a2')).state, 'RELEASED', 'ann gives her pound seats back');
SET app.current_user_id = 'cy';
SELECT is((api.confirm_hold(:'c1')).state, 'CONFIRMED', 'cy buys his pound seats');
SET app.current_user_id = 'bob';
SELECT is((api.confirm_hold(:'b2')).state, 'CONFIRMED', 'bob''s seat without a price is sold too');
SELECT set_eq('SELECT * FROM pg_temp.from_views()', 'SELECT * FROM pg_temp.from_holds()',
              'sold, released: the views equal the holds');
SELECT is(pg_temp.view_event_sums(), pg_temp.event_sums(), 'event_availability equals the holds summed per event');

-- Holds past their expiry that no sweep has reached: free in the views, as in the holds.
RESET ROLE;
SET eventsvc.clock_offset_seconds = 3600;
SET ROLE eventsvc_user;
SELECT set_eq('SELECT * FROM pg_temp.from_views()', 'SELECT * FROM pg_temp.from_holds()',
              'an hour later, before any sweep: the overdue holds count as expired and their seats as free');
SELECT is((SELECT reserved FROM api.section_availability WHERE capacity_id = 'a7a70000-0000-4000-8000-0000000000c1'), 0::bigint,
          'bob''s overdue hold reserves nothing');
SELECT is((SELECT holds_expired || '/' || holds_active FROM api.event_customer_analytics), '1/0', 'one expired (overdue), none active');
SELECT is((SELECT count(*) FROM eventsvc.capacity_holds WHERE state = 'ACTIVE'), 1::bigint, 'the hold row itself is still ACTIVE');

-- The sweep expires it: the same figures.
RESET ROLE;
SELECT ok(api.expire_holds(1000) >= 1, 'the sweep expires it');
SET ROLE eventsvc_user;
SELECT set_eq('SELECT * FROM pg_temp.from_views()', 'SELECT * FROM pg_temp.from_holds()', 'after the sweep: the views equal the holds');
RESET ROLE;
RESET eventsvc.clock_offset_seconds;

-- A new live hold in the same transaction as the read is seen (the reader's own change).
BEGIN;
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_user_id = 'dee';
SELECT (api.reserve_capacity('a7a70000-0000-4000-8000-0000000000c2', 7)).id IS NOT NULL AS held \gset
SELECT is((SELECT reserved FROM api.section_availability WHERE capacity_id = 'a7a70000-0000-4000-8000-0000000000c2'), 7::bigint,
          'a reservation made earlier in the transaction is counted');
SELECT set_eq('SELECT * FROM pg_temp.from_views()', 'SELECT * FROM pg_temp.from_holds()', 'and the views still equal the holds');
ROLLBACK;

-- Another tenant sees none of it, also through the figures function itself.
SET app.current_tenant_id = 'a7a70000-0000-4000-8000-000000000002';
SET ROLE eventsvc_user;
SELECT is((SELECT count(*) FROM api.section_availability) + (SELECT count(*) FROM api.event_revenue)
          + (SELECT count(*) FROM api.event_customer_analytics), 0::bigint, 'another tenant sees no figures');
SELECT is((SELECT sold + reserved + holds + holds_active FROM eventsvc.section_figures('a7a70000-0000-4000-8000-000000000001',
                                                                          'a7a70000-0000-4000-8000-0000000000c1', true)),
          0::bigint, 'nor through section_figures with the other tenant''s ids (RLS)');
RESET ROLE;
SET app.current_tenant_id = 'a7a70000-0000-4000-8000-000000000001';

SELECT * FROM finish();
