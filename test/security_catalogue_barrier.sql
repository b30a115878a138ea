-- A caller's cheap, leaky function (RAISE NOTICE of its arguments) in a WHERE clause
-- on the public catalogue sees only the rows the catalogue shows, never a draft, a
-- private, an unlisted or a deleted event, nor an event of an inactive tenant: the
-- catalogue is a table that holds only those rows (part 71). Every owner-rights view
-- of schema api is a security barrier, for the same guarantee.
--
-- Run against the code before this change (main at c0f1a26), tests 2, 3, 4 and 5
-- failed: api.public_events had no security_barrier, so the planner ran the caller's
-- cheap function before the catalogue's own conditions and it saw "Hidden Draft" and
-- "Dormant Gala" (names and statuses of rows it must never see); api.worker_status
-- had no security_barrier either. Test 1 passed there too: the rows returned were
-- right, only what the function saw on the way was not.
BEGIN;
SELECT plan(6);

CREATE TEMP TABLE tenants AS SELECT
    eventsvc.create_tenant('Barrier A', 'barrier-a', 'b1111111-1111-4111-8111-111111111111') AS a,
    eventsvc.create_tenant('Barrier Dormant', 'barrier-d', 'b3333333-3333-4333-8333-333333333333') AS d;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('b1111111-1111-4111-8111-111111111111', 'b1111111-0000-4000-8000-000000000001', 'Barrier Hall', 1000),
    ('b3333333-3333-4333-8333-333333333333', 'b3333333-0000-4000-8000-000000000001', 'Dormant Hall', 1000);

-- Every event through the API, as each tenant's admin.
CREATE FUNCTION pg_temp.ev(t uuid, v uuid, name text, days int, vis text, publish boolean, del boolean) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    id uuid;
BEGIN
    PERFORM set_config('app.current_tenant_id', t::text, true);
    SET LOCAL ROLE eventsvc_admin;
    id := (api.create_event(venue_id => v, name => name, visibility => vis,
                            starts_at => eventsvc.now() + make_interval(days => days),
                            ends_at => eventsvc.now() + make_interval(days => days, hours => 2)) ->> 'id')::uuid;
    IF publish THEN
        PERFORM api.publish_event(id);
    END IF;
    IF del THEN
        PERFORM api.delete_event(id);
    END IF;
    RESET ROLE;
    RETURN id;
END
$$;
CREATE TEMP TABLE evs AS
SELECT pg_temp.ev(t::uuid, v::uuid, n, d, vis, pub, del) AS id
  FROM (VALUES
    ('b1111111-1111-4111-8111-111111111111', 'b1111111-0000-4000-8000-000000000001', 'Shown Gala', 10, 'PUBLIC', true, false),
    ('b1111111-1111-4111-8111-111111111111', 'b1111111-0000-4000-8000-000000000001', 'Hidden Draft', 11, 'PUBLIC', false, false),
    ('b1111111-1111-4111-8111-111111111111', 'b1111111-0000-4000-8000-000000000001', 'Hidden Private', 12, 'PRIVATE', true, false),
    ('b1111111-1111-4111-8111-111111111111', 'b1111111-0000-4000-8000-000000000001', 'Hidden Unlisted', 13, 'UNLISTED', true, false),
    ('b1111111-1111-4111-8111-111111111111', 'b1111111-0000-4000-8000-000000000001', 'Hidden Deleted', 14, 'PUBLIC', false, true),
    ('b3333333-3333-4333-8333-333333333333', 'b3333333-0000-4000-8000-000000000001', 'Dormant Gala', 15, 'PUBLIC', true, false)
  ) AS x(t, v, n, d, vis, pub, del);
UPDATE eventsvc.tenants SET is_active = false WHERE id = 'b3333333-3333-4333-8333-333333333333';

-- The probe: as cheap as a function can be declared, and leaky: it tells (NOTICE) and
-- remembers (a setting) every argument it is given. Created by the anonymous role
-- itself, in its own temporary schema: anyone who can run SQL can do this.
SET LOCAL ROLE eventsvc_anon;
SELECT set_config('probe.seen', '', false);
CREATE FUNCTION pg_temp.peek(n text, s text) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS $$
BEGIN
    RAISE NOTICE 'peek: % %', n, s;
    PERFORM set_config('probe.seen', current_setting('probe.seen') || n || ';', false);
    RETURN true;
END
$$;
SET LOCAL client_min_messages = warning;

SELECT is((SELECT array_agg(name ORDER BY name) FROM api.public_events
            WHERE pg_temp.peek(name, status::text) AND tenant_id = 'b1111111-1111-4111-8111-111111111111'),
          ARRAY['Shown Gala'], 'the catalogue with a leaky condition shows the one public, published event of the tenant');
SELECT set_config('probe.seen', '', false);
SELECT set_config('probe.rows', count(*)::text, false) FROM api.public_events WHERE pg_temp.peek(name, status::text);
SELECT ok(current_setting('probe.seen') ~ 'Shown Gala' AND current_setting('probe.seen') !~ 'Hidden|Dormant',
          'the leaky function saw only rows the catalogue shows (no draft, private, unlisted, deleted or dormant event)');

-- The same through a join and an OR, which the planner also likes to push down.
SELECT set_config('probe.seen', '', false);
SELECT set_config('probe.rows', count(*)::text, false)
  FROM api.public_events p WHERE pg_temp.peek(p.name, p.status::text) OR p.name IS NULL;
SELECT ok(current_setting('probe.seen') !~ 'Hidden|Dormant', 'an OR around the leaky call does not reach hidden rows either');
RESET ROLE;

-- A tenant user of A through the catalogue: still only what the catalogue shows (its own
-- drafts are in api.events, not here).
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = 'b1111111-1111-4111-8111-111111111111';
SELECT set_config('probe.seen', '', false);
SELECT set_config('probe.rows', count(*)::text, false) FROM api.public_events WHERE pg_temp.peek(name, status::text);
SELECT ok(current_setting('probe.seen') ~ 'Shown Gala' AND current_setting('probe.seen') !~ 'Hidden|Dormant',
          'a tenant user''s leaky condition on the catalogue sees the catalogue only');
RESET ROLE;

-- Every view of schema api that runs with its owner's rights (not security_invoker) is a
-- security barrier.
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
            WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
              AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)
              AND NOT coalesce('security_barrier=true' = ANY (c.reloptions), false)),
          NULL, 'every owner-rights view of schema api has security_barrier');
SELECT cmp_ok((SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
                 AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)), '>=', 1::bigint,
              'the owner-rights views (worker_status) are found');

SELECT * FROM finish();
ROLLBACK;
