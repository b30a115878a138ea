-- Foundation, pgTAP: for every tenant table and every role, no tenant gives an
-- error or no rows; tenant A cannot read, change or plant rows of tenant B;
-- nothing is granted to PUBLIC; the clock is superuser-only.
BEGIN;
SELECT * FROM no_plan();

-- Two tenants, each with a venue and an event, and one row in every other tenant table.
CREATE TEMP TABLE fx AS SELECT
    eventsvc.create_tenant('RLS A', 'rls-a') AS ta,
    eventsvc.create_tenant('RLS B', 'rls-b') AS tb;
GRANT SELECT ON fx TO PUBLIC;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
SELECT ta, 'a0000000-0000-4000-8000-000000000001'::uuid, 'Venue A', 100 FROM fx UNION ALL
SELECT tb, 'b0000000-0000-4000-8000-000000000001'::uuid, 'Venue B', 100 FROM fx;
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug)
SELECT ta, 'a0000000-0000-4000-8000-0000000000e1'::uuid, 'a0000000-0000-4000-8000-000000000001'::uuid, 'Event A', 'event-a' FROM fx UNION ALL
SELECT tb, 'b0000000-0000-4000-8000-0000000000e1'::uuid, 'b0000000-0000-4000-8000-000000000001'::uuid, 'Event B', 'event-b' FROM fx;

-- Every table that has tenant_id is in the list, and every one of them forces RLS.
SELECT set_eq(
    $$SELECT c.oid::regclass::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
       WHERE c.relnamespace = 'eventsvc'::regnamespace AND c.relkind = 'r' AND a.attname = 'tenant_id'
       UNION SELECT 'eventsvc.tenants'$$,
    $$SELECT t::text FROM eventsvc.tenant_tables() t$$,
    'tenant_tables() lists every table with a tenant_id');
SELECT is(count(*)::int, 0, 'every tenant table has RLS enabled and forced')
  FROM eventsvc.tenant_tables() t JOIN pg_class c ON c.oid = t
 WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity);
SELECT is(count(*)::int, 0, 'tenant_id leads every primary key of a tenant table')
  FROM eventsvc.tenant_tables() t JOIN pg_constraint k ON k.conrelid = t AND k.contype = 'p'
 WHERE t <> 'eventsvc.tenants'::regclass
   AND (SELECT attname FROM pg_attribute WHERE attrelid = t AND attnum = k.conkey[1]) <> 'tenant_id';
SELECT is(count(*)::int, 0, 'every foreign key between tenant tables includes tenant_id')
  FROM pg_constraint k
 WHERE k.contype = 'f' AND k.conrelid IN (SELECT * FROM eventsvc.tenant_tables())
   AND k.confrelid IN (SELECT * FROM eventsvc.tenant_tables())
   AND k.confrelid <> 'eventsvc.tenants'::regclass
   AND NOT EXISTS (SELECT 1 FROM unnest(k.conkey) c JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c
                    WHERE a.attname = 'tenant_id');
SELECT is(count(*)::int, 0, 'every unique constraint of a tenant table includes tenant_id')
  FROM pg_constraint k
 WHERE k.contype = 'u' AND k.conrelid IN (SELECT * FROM eventsvc.tenant_tables())
   AND k.conrelid <> 'eventsvc.tenants'::regclass
   AND NOT EXISTS (SELECT 1 FROM unnest(k.conkey) c JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c
                    WHERE a.attname = 'tenant_id');

-- Nothing in eventsvc or api is granted to PUBLIC.
SELECT is(count(*)::int, 0, 'no table, view or sequence is granted to PUBLIC')
  FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
 WHERE c.relnamespace IN ('eventsvc'::regnamespace, 'api'::regnamespace) AND a.grantee = 0;
SELECT is(count(*)::int, 0, 'no function is executable by PUBLIC')
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace IN ('eventsvc'::regnamespace, 'api'::regnamespace) AND a.grantee = 0;
SELECT is(count(*)::int, 0, 'schemas eventsvc and api are not usable by PUBLIC')
  FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE n.nspname IN ('eventsvc', 'api') AND a.grantee = 0;
SELECT is(count(*)::int, 0, 'every SECURITY DEFINER function has a fixed search_path')
  FROM pg_proc p
 WHERE p.pronamespace IN ('eventsvc'::regnamespace, 'api'::regnamespace) AND p.prosecdef
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');
SELECT is(count(*)::int, 0, 'no eventsvc role is superuser, bypasses RLS or creates roles')
  FROM pg_roles WHERE rolname LIKE 'eventsvc\_%' AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb);

-- For every tenant table and every API role: no tenant set means an error or no rows.
CREATE TEMP TABLE probe (role text, tbl text, outcome text);
GRANT ALL ON probe TO PUBLIC;
DO $$
DECLARE r text; t regclass; n bigint;
BEGIN
  FOREACH r IN ARRAY ARRAY['eventsvc_anon','eventsvc_user','eventsvc_admin','eventsvc_service','eventsvc_worker','eventsvc_authenticator'] LOOP
    FOR t IN SELECT * FROM eventsvc.tenant_tables() LOOP
      BEGIN
        EXECUTE format('SET LOCAL ROLE %I', r);
        EXECUTE format('SELECT count(*) FROM %s', t) INTO n;
        RESET ROLE;
        INSERT INTO probe VALUES (r, t::text, CASE WHEN n = 0 THEN 'no rows' ELSE n || ' rows' END);
      EXCEPTION WHEN OTHERS THEN
        RESET ROLE;
        INSERT INTO probe VALUES (r, t::text, 'error ' || SQLSTATE);
      END;
    END LOOP;
  END LOOP;
END $$;
SELECT is(count(*)::int, 0, 'no role sees rows of any tenant table without a tenant')
  FROM probe WHERE outcome LIKE '% rows' AND outcome <> 'no rows';
SELECT cmp_ok(count(*)::int, '>=', 6 * 15, 'probed every role against every tenant table') FROM probe;

-- Tenant A, per tenant table: reads only A, cannot update or delete B, cannot insert for B.
SET LOCAL app.current_tenant_id TO DEFAULT;
SELECT set_config('app.current_tenant_id', (SELECT ta::text FROM fx), true);
SET LOCAL ROLE eventsvc_user;
SELECT is((SELECT count(*)::int FROM eventsvc.events), 1, 'tenant A sees exactly its one event');
SELECT is((SELECT count(*)::int FROM eventsvc.events WHERE tenant_id = (SELECT tb FROM fx)), 0, 'tenant A sees none of B''s events');
SELECT is((SELECT count(*)::int FROM eventsvc.venues), 1, 'tenant A sees only its venue');
SELECT is((SELECT count(*)::int FROM eventsvc.tenants), 1, 'tenant A sees only its own tenant row');
-- (tenant roles write no table directly at all: every write goes through the api functions)
SELECT throws_ok($$UPDATE eventsvc.events SET name = 'x' WHERE id = 'b0000000-0000-4000-8000-0000000000e1' RETURNING 1$$,
    '42501', NULL, 'tenant A cannot update B''s event');
SELECT throws_ok($$DELETE FROM eventsvc.events WHERE id = 'b0000000-0000-4000-8000-0000000000e1' RETURNING 1$$,
    '42501', NULL, 'tenant A cannot delete B''s event');
SELECT throws_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug)
                  SELECT tb, 'b0000000-0000-4000-8000-000000000001'::uuid, 'Planted', 'planted' FROM fx$$,
    '42501', NULL, 'tenant A cannot insert an event for B');
SELECT throws_ok($$INSERT INTO eventsvc.event_metadata (tenant_id, event_id)
                  SELECT tb, 'b0000000-0000-4000-8000-0000000000e1'::uuid FROM fx$$,
    '42501', NULL, 'tenant A cannot insert metadata for B');
RESET ROLE;
SELECT throws_ok($$UPDATE eventsvc.events SET tenant_id = (SELECT tb FROM fx) WHERE id = 'a0000000-0000-4000-8000-0000000000e1'$$,
    '22023', NULL, 'a row cannot be moved to another tenant, not even by a superuser');

-- Per table and per writer role: rows planted for B are refused (WITH CHECK).
CREATE TEMP TABLE plant (tbl text, outcome text);
GRANT ALL ON plant TO PUBLIC;
DO $$
DECLARE t regclass; cols text; vals text;
BEGIN
  FOR t IN SELECT * FROM eventsvc.tenant_tables() WHERE tenant_tables <> 'eventsvc.tenants'::regclass LOOP
    BEGIN
      SET LOCAL ROLE eventsvc_user;
      EXECUTE format('INSERT INTO %s (tenant_id) SELECT tb FROM fx', t);
      RESET ROLE;
      INSERT INTO plant VALUES (t::text, 'inserted');
    EXCEPTION WHEN OTHERS THEN
      RESET ROLE;
      INSERT INTO plant VALUES (t::text, SQLSTATE);
    END;
  END LOOP;
END $$;
SELECT is(count(*)::int, 0, 'no tenant table accepts a row for another tenant')
  FROM plant WHERE outcome = 'inserted';
-- Refused by the policy or the missing privilege (42501), or earlier by a table's own guard trigger.
SELECT diag(tbl || ' refused with ' || outcome) FROM plant WHERE outcome <> '42501' ORDER BY tbl;
SELECT cmp_ok(count(*)::int, '>=', 14, 'planting was tried in every tenant table') FROM plant;

-- Versions: a stale stated version conflicts on each versioned table.
SELECT throws_ok($$UPDATE eventsvc.events SET name = 'y', version = 7 WHERE id = 'a0000000-0000-4000-8000-0000000000e1'$$,
    'PT409', NULL, 'a stale expected version on events is a conflict');
SELECT lives_ok($$UPDATE eventsvc.events SET name = 'y', version = 1 WHERE id = 'a0000000-0000-4000-8000-0000000000e1'$$,
    'the current version is accepted');
SELECT is((SELECT version FROM eventsvc.events WHERE id = 'a0000000-0000-4000-8000-0000000000e1'), 2, 'and bumped by the trigger');
SELECT is(count(*)::int, 4, 'events, schedules, capacity and pricing carry the version trigger')
  FROM pg_trigger WHERE tgname LIKE '%\_version' AND tgrelid IN
       ('eventsvc.events'::regclass, 'eventsvc.event_schedules'::regclass, 'eventsvc.event_capacity'::regclass, 'eventsvc.event_pricing'::regclass);

-- Audit: changed fields with old and new values.
SELECT is((SELECT changed_fields -> 'name' FROM eventsvc.event_audit_log
            WHERE event_id = 'a0000000-0000-4000-8000-0000000000e1' AND action = 'UPDATE' ORDER BY id DESC LIMIT 1),
          '{"old": "Event A", "new": "y"}'::jsonb, 'the audit row records the changed field with old and new values');
SELECT is((SELECT count(*)::int FROM eventsvc.event_audit_log
            WHERE event_id = 'a0000000-0000-4000-8000-0000000000e1' AND action = 'INSERT'), 1, 'the insert is audited');

-- The clock: an ordinary role cannot move it.
SET LOCAL ROLE eventsvc_admin;
SELECT throws_ok($$SET eventsvc.clock_offset_seconds = 60$$, '42501', NULL, 'a tenant admin cannot move the clock');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
