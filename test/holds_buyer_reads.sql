-- pgTAP: a buyer's read of its own rows costs its own rows, not the section's or the
-- tenant's. api.holds, api.waitlist_entries, api.hold_refunds and
-- api.postponement_decisions, read as a buyer by the filters a client uses (a section,
-- an event, a state, none), touch as many buffers beside 20,000 rows of other buyers
-- as beside 1,000 (EXPLAIN ANALYZE, BUFFERS); a tenant admin's and a service's reads
-- keep their index plans and see every row; a buyer sees exactly its own rows; a
-- tenant user with no tenant set reads nothing. Own tenant, rolled back.
BEGIN;
SELECT plan(32);

SELECT eventsvc.create_tenant('Tap Buyer Reads', 'tap-buyer-reads', '8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', '8b8b0000-0000-4000-8000-00000000000a', 'Reads Hall', 100000);
SET LOCAL eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', '8b8b0000-0000-4000-8000-0000000000e1',
     '8b8b0000-0000-4000-8000-00000000000a', 'Reads Night', 'reads-night', 'ON_SALE',
     eventsvc.now() + interval '20 days', eventsvc.now() + interval '20 days 3 hours'),
    ('8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', '8b8b0000-0000-4000-8000-0000000000e2',
     '8b8b0000-0000-4000-8000-00000000000a', 'Reads Matinee', 'reads-matinee', 'ON_SALE',
     eventsvc.now() + interval '21 days', eventsvc.now() + interval '21 days 3 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', '8b8b0000-0000-4000-8000-0000000000c1',
     '8b8b0000-0000-4000-8000-0000000000e1', 'Floor', 100000, 100000),
    ('8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', '8b8b0000-0000-4000-8000-0000000000c2',
     '8b8b0000-0000-4000-8000-0000000000e2', 'Stalls', 100000, 100000);
INSERT INTO eventsvc.postponements (tenant_id, id, event_id, kind, opened_at, closes_at, default_choice) VALUES
    ('8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', '8b8b0000-0000-4000-8000-0000000000d1',
     '8b8b0000-0000-4000-8000-0000000000e1', 'POSTPONED', now(), now() + interval '7 days', 'keep');

-- Rows of buyer n of the section: n = 0 is bea (3 of each kind), every other n another
-- buyer. Written as a restore does (the hold guard is off in replica mode); purchases,
-- so no seat counter is involved; ended waitlist entries, decisions and refunds.
CREATE FUNCTION pg_temp.load(first int, last int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO eventsvc.capacity_holds (tenant_id, id, event_id, capacity_id, holder_id, quantity, state,
                                         expires_at, created_at, confirmed_at)
    SELECT '8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', md5('bh' || i)::uuid, '8b8b0000-0000-4000-8000-0000000000e1',
           '8b8b0000-0000-4000-8000-0000000000c1', CASE WHEN i < 3 THEN 'bea' ELSE 'buyer-' || i END, 1,
           'CONFIRMED', now() - interval '1 day' + i * interval '1 second', now() - interval '2 days', now() - interval '1 day'
      FROM generate_series(first, last) i;
    INSERT INTO eventsvc.waitlist_entries (tenant_id, event_id, capacity_id, holder_id, quantity, position, state)
    SELECT '8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', '8b8b0000-0000-4000-8000-0000000000e1',
           '8b8b0000-0000-4000-8000-0000000000c1', CASE WHEN i < 3 THEN 'bea' ELSE 'buyer-' || i END, 1, i + 1, 'LEFT'
      FROM generate_series(first, last) i;
    INSERT INTO eventsvc.postponement_decisions (tenant_id, postponement_id, hold_id, event_id, holder_id, quantity)
    SELECT '8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', '8b8b0000-0000-4000-8000-0000000000d1', md5('bh' || i)::uuid,
           '8b8b0000-0000-4000-8000-0000000000e1', CASE WHEN i < 3 THEN 'bea' ELSE 'buyer-' || i END, 1
      FROM generate_series(first, last) i;
    INSERT INTO eventsvc.hold_refunds (tenant_id, hold_id, event_id, capacity_id, seq, quantity, amount, lines, reason,
                                       idempotency_key, requested_role)
    SELECT '8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', md5('bh' || i)::uuid, '8b8b0000-0000-4000-8000-0000000000e1',
           '8b8b0000-0000-4000-8000-0000000000c1', 1, 1, 0, '{}', 'test', 'refund:' || i, 'admin'
      FROM generate_series(first, last) i;
$$;
SET LOCAL session_replication_role = replica;
SELECT pg_temp.load(0, 999);
-- and the matinee's 2,000 holds, so that an admin's filters choose among the indexes
INSERT INTO eventsvc.capacity_holds (tenant_id, event_id, capacity_id, holder_id, quantity, state, expires_at)
SELECT '8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', '8b8b0000-0000-4000-8000-0000000000e2',
       '8b8b0000-0000-4000-8000-0000000000c2', 'matinee-' || i, 1, 'CONFIRMED', now() - interval '1 day'
  FROM generate_series(1, 2000) i;
RESET session_replication_role;
ANALYZE eventsvc.capacity_holds, eventsvc.waitlist_entries, eventsvc.postponement_decisions, eventsvc.hold_refunds;

-- The reads a client makes of each view, as PostgREST sends them (a filter, an order, a page).
CREATE TEMP TABLE reads (name text, q text);
INSERT INTO reads VALUES
    ('holds by section', $$SELECT * FROM api.holds WHERE capacity_id = '8b8b0000-0000-4000-8000-0000000000c1' ORDER BY expires_at DESC LIMIT 20$$),
    ('holds by event', $$SELECT * FROM api.holds WHERE event_id = '8b8b0000-0000-4000-8000-0000000000e1' LIMIT 20$$),
    ('holds by state', $$SELECT * FROM api.holds WHERE state = 'CONFIRMED' ORDER BY created_at DESC LIMIT 20$$),
    ('holds, no filter', $$SELECT * FROM api.holds$$),
    ('waitlist entries by section', $$SELECT * FROM api.waitlist_entries WHERE capacity_id = '8b8b0000-0000-4000-8000-0000000000c1' ORDER BY position$$),
    ('waitlist entries, no filter', $$SELECT * FROM api.waitlist_entries$$),
    ('postponement decisions by event', $$SELECT * FROM api.postponement_decisions WHERE event_id = '8b8b0000-0000-4000-8000-0000000000e1'$$),
    ('refunds by event', $$SELECT * FROM api.hold_refunds WHERE event_id = '8b8b0000-0000-4000-8000-0000000000e1'$$),
    ('refunds, no filter', $$SELECT * FROM api.hold_refunds$$);

-- Shared buffers (hit and read) of one run of the query, planning aside.
CREATE FUNCTION pg_temp.buffers(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    p json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, FORMAT JSON) ' || q INTO p;
    RETURN (p -> 0 -> 'Plan' ->> 'Shared Hit Blocks')::int + (p -> 0 -> 'Plan' ->> 'Shared Read Blocks')::int;
END
$$;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
-- the scans of capacity_holds in a plan, in order of their names
CREATE FUNCTION pg_temp.scans(q text) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(m[1] ORDER BY m[1])
      FROM regexp_matches(pg_temp.plan_of(q),
                          '((Index Only|Index|Seq|Bitmap Heap) Scan( Backward)?( using \w+)? on capacity_holds)', 'g') m
$$;
-- api.holds as it was: one filter, the holder or reads_every_holder()
CREATE TEMP VIEW holds_before WITH (security_invoker = true, security_barrier = true) AS
SELECT h.* FROM eventsvc.capacity_holds h
 WHERE h.holder_id = (SELECT eventsvc.current_actor()) OR (SELECT eventsvc.reads_every_holder());
-- the scans the query made on holds_before, and the buyer's branch of api.holds
CREATE FUNCTION pg_temp.scans_before(q text) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(x ORDER BY x)
      FROM unnest(pg_temp.scans(replace(q, 'api.holds', 'pg_temp.holds_before'))
                  || 'Index Scan using idx_capacity_holds_buyer on capacity_holds'::text) x
$$;
CREATE FUNCTION pg_temp.rows_of(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE 'SELECT count(*) FROM (' || q || ') x' INTO n;
    RETURN n;
END
$$;
-- how many rows the query reads, or 'refused' (42501: no tenant is set)
CREATE FUNCTION pg_temp.rows_or_refused(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN pg_temp.rows_of(q) || ' rows';
EXCEPTION WHEN insufficient_privilege THEN
    RETURN 'refused';
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.rows_or_refused(text), pg_temp.buffers(text), pg_temp.plan_of(text), pg_temp.scans(text), pg_temp.scans_before(text),
                          pg_temp.rows_of(text)
    TO eventsvc_user, eventsvc_service;
GRANT SELECT ON reads TO eventsvc_user, eventsvc_service;
GRANT SELECT ON holds_before TO eventsvc_user, eventsvc_service;
SET LOCAL app.current_tenant_id = '8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b';
SET LOCAL app.current_user_id = 'bea';

-- bea's buffers with 1,000 rows of each kind in the section
SET LOCAL ROLE eventsvc_user;
CREATE TEMP TABLE small AS SELECT name, pg_temp.buffers(q) AS buffers FROM reads;
RESET ROLE;

-- 19,000 more of other buyers
SET LOCAL session_replication_role = replica;
SELECT pg_temp.load(1000, 19999);
RESET session_replication_role;
ANALYZE eventsvc.capacity_holds, eventsvc.waitlist_entries, eventsvc.postponement_decisions, eventsvc.hold_refunds;

SET LOCAL ROLE eventsvc_user;
CREATE TEMP TABLE big AS SELECT name, pg_temp.buffers(q) AS buffers FROM reads;
RESET ROLE;

-- ---------------------------------------------------------------- a buyer's reads are bounded
-- (with the holder or the reads_every OR in one filter, each grew with the section: the
-- holds by section read every hold of it, 20 times as many buffers)
SELECT cmp_ok(b.buffers, '<=', s.buffers + 2, 'a buyer''s ' || b.name || ': as many buffers beside 20,000 rows as beside 1,000 ('
              || s.buffers || ', ' || b.buffers || ')')
  FROM small s JOIN big b USING (name) JOIN reads r USING (name) ORDER BY r.ctid;
SELECT is((SELECT string_agg(name, ', ') FROM big WHERE buffers > 40), NULL,
          'and each under 40 buffers for its 3 rows');

-- ---------------------------------------------------------------- what each caller sees
SET LOCAL ROLE eventsvc_user;
SELECT is((SELECT string_agg(DISTINCT holder_id, ',') || ' ' || count(*) FROM api.holds), 'bea 3',
          'the buyer reads its own 3 holds, and only them');
SELECT is((SELECT count(*)::int FROM api.holds WHERE capacity_id = '8b8b0000-0000-4000-8000-0000000000c1'
              AND state = 'CONFIRMED'), 3, 'by section and state too');
SELECT is((SELECT count(*)::int FROM api.holds WHERE holder_id = 'buyer-7'), 0, 'not another buyer''s, by its name');
SELECT is((SELECT string_agg(DISTINCT holder_id, ',') || ' ' || count(*) FROM api.waitlist_entries)
          || ' / ' || (SELECT string_agg(DISTINCT holder_id, ',') || ' ' || count(*) FROM api.postponement_decisions)
          || ' / ' || (SELECT count(*) FROM api.hold_refunds r
                        WHERE r.hold_id IN (md5('bh0')::uuid, md5('bh1')::uuid, md5('bh2')::uuid))
          || ' of ' || (SELECT count(*) FROM api.hold_refunds),
          'bea 3 / bea 3 / 3 of 3', 'its own waitlist entries, postponement decisions and refunds');
SELECT is(pg_temp.rows_of($$SELECT * FROM api.holds ORDER BY expires_at DESC LIMIT 2$$), 2::bigint,
          'an order and a page apply to its own rows');
RESET app.current_user_id;
SELECT is((SELECT count(*)::int FROM api.holds) + (SELECT count(*)::int FROM api.waitlist_entries)
          + (SELECT count(*)::int FROM api.hold_refunds) + (SELECT count(*)::int FROM api.postponement_decisions), 0,
          'a tenant user with no holder named sees no buyer''s rows');
RESET app.current_tenant_id;
SELECT is((SELECT string_agg(v || ': ' || r, ', ')
             FROM (SELECT v, pg_temp.rows_or_refused('SELECT * FROM ' || v) AS r
                     FROM unnest(ARRAY['api.holds', 'api.waitlist_entries', 'api.hold_refunds',
                                       'api.postponement_decisions']) v) x
            WHERE r NOT IN ('refused', '0 rows')), NULL,
          'with no tenant set, a tenant user reads nothing of the four views (refused, or no rows)');
SELECT set_config('app.current_tenant_id', '8b8b8b8b-8b8b-4b8b-8b8b-8b8b8b8b8b8b', true) IS NOT NULL;
RESET ROLE;

-- An admin's and a service's reads of api.holds use the indexes the view used before
-- (holds_before: its filter, the holder or reads_every_holder() in one OR), beside the
-- buyer's branch, which is in the plan and switched off. (Plans read with sequential
-- scans off: the question is which index serves the read, not the planner's choice on
-- this small tenant.)
CREATE TEMP TABLE admin_reads (name text, q text);
INSERT INTO admin_reads VALUES
    ('a page of a section''s holds', $$SELECT * FROM api.holds WHERE capacity_id = '8b8b0000-0000-4000-8000-0000000000c2' ORDER BY expires_at DESC LIMIT 20$$),
    ('an event''s holds', $$SELECT * FROM api.holds WHERE event_id = '8b8b0000-0000-4000-8000-0000000000e2'$$),
    ('a customer''s holds of an event', $$SELECT * FROM api.holds WHERE event_id = '8b8b0000-0000-4000-8000-0000000000e2' AND holder_id = 'matinee-7'$$),
    ('holds by state', $$SELECT * FROM api.holds WHERE state = 'CONFIRMED' ORDER BY created_at DESC LIMIT 20$$);
GRANT SELECT ON admin_reads TO eventsvc_user, eventsvc_service;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SET LOCAL ROLE eventsvc_admin;
SELECT is((SELECT count(*) FROM api.holds) || ' / ' || (SELECT count(*) FROM api.waitlist_entries) || ' / '
          || (SELECT count(*) FROM api.postponement_decisions) || ' / ' || (SELECT count(*) FROM api.hold_refunds),
          '22000 / 20000 / 20000 / 20000', 'a tenant admin reads every buyer''s rows of the four views');
SELECT is(pg_temp.scans(q), pg_temp.scans_before(q), 'a tenant admin, ' || name || ': the indexes of before')
  FROM admin_reads ORDER BY ctid;
SELECT matches(array_to_string(pg_temp.scans((SELECT q FROM admin_reads WHERE name = 'a page of a section''s holds')), ','),
               'idx_capacity_holds_section', 'a section''s: the section index');
SELECT matches(array_to_string(pg_temp.scans((SELECT q FROM admin_reads WHERE name = 'an event''s holds')), ','),
               'idx_capacity_holds_holder', 'an event''s: the event''s index');
SELECT matches(pg_temp.plan_of($$SELECT * FROM api.hold_refunds WHERE hold_id = md5('bh7')::uuid$$),
               'Index Scan using hold_refunds_tenant_id_hold_id_seq_key',
               'a purchase''s refunds: their key');
RESET ROLE;
SET LOCAL ROLE eventsvc_service;
SELECT is((SELECT count(*) FROM api.holds) || ' / ' || (SELECT count(*) FROM api.waitlist_entries) || ' / '
          || (SELECT count(*) FROM api.postponement_decisions) || ' / ' || (SELECT count(*) FROM api.hold_refunds),
          '22000 / 20000 / 20000 / 20000', 'a service reads every buyer''s rows of the four views');
SELECT is(pg_temp.scans(q), pg_temp.scans_before(q), 'a service, ' || name || ': the indexes of before')
  FROM admin_reads ORDER BY ctid;
RESET ROLE;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- the buyer's plans: its holder is the index condition; the other branch never runs
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_user_id = 'bea';
SELECT matches(pg_temp.plan_of((SELECT q FROM reads WHERE name = 'holds by section')),
               'Index Cond: \(\(tenant_id = \$\d+\) AND \(holder_id = \$\d+\)\)',
               'a buyer''s holds by section: found by their holder');
SELECT matches(pg_temp.plan_of((SELECT q FROM reads WHERE name = 'holds by section')),
               'One-Time Filter: \(NOT \$\d+\)', 'its branch is switched by one test per query');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
