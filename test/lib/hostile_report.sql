-- test/lib/hostile_report.sql: what went wrong, one row per problem, from hostile.results.
-- Loaded after the calls have run. hostile.problems is what the shell script prints.

CREATE FUNCTION hostile.describe(cid integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT format('%s as %s (%s), %s', c.fn, c.role, c.mode, c.probe)
      FROM hostile.calls c WHERE c.id = cid
$$;

-- A runnable reproducer: the role, the tenant, and the call with its literal arguments
-- (values over 200 characters are shown by their label in hostile_calls.sql).
CREATE FUNCTION hostile.repro(cid integer) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c hostile.calls;
    argtypes oid[];
    e text[] := '{}';
    v hostile.vals;
    i integer;
    pre text;
BEGIN
    SELECT * INTO c FROM hostile.calls WHERE id = cid;
    SELECT ARRAY(SELECT unnest(p.proargtypes::oid[])) INTO argtypes FROM pg_proc p WHERE p.oid = c.fn;
    FOR i IN 1 .. coalesce(array_length(argtypes, 1), 0) LOOP
        SELECT * INTO v FROM hostile.vals WHERE label = c.args[i];
        e := e || CASE WHEN v.val IS NULL THEN 'NULL::' || format_type(argtypes[i], NULL)
                       WHEN length(v.val) > 200 THEN '<' || v.label || '>::' || format_type(argtypes[i], NULL)
                       ELSE quote_literal(v.val) || '::' || format_type(argtypes[i], NULL) END;
    END LOOP;
    pre := CASE
        WHEN c.mode = 'tenantA' THEN 'SET app.current_tenant_id = ''aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa''; '
        WHEN c.mode = 'jwtA' THEN format('SET request.jwt.claims = %L; ',
                                         json_build_object('role', c.role, 'tenant_id', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'sub', 'hostile-sub'))
        WHEN c.mode = 'inactive' THEN 'SET app.current_tenant_id = ''cccccccc-cccc-4ccc-8ccc-cccccccccccc''; '
        WHEN c.mode LIKE 'claims:%' THEN format('SET app.current_tenant_id = ''aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa''; SET request.jwt.claims = %L; ',
                                                left(replace(hostile.state_get(c.mode), '$ROLE', c.role), 200))
        ELSE '' END;
    RETURN format('BEGIN; %sSET LOCAL ROLE %s; SELECT %s(%s); ROLLBACK;', pre, c.role,
                  (SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = c.fn),
                  array_to_string(e, ', '));
END
$$;

CREATE VIEW hostile.classified AS
SELECT c.id, c.fn, c.role, c.mode, c.probe, c.cross_b, r.ok, r.sqlstate, r.message, r.detail, r.leak, r.b_changed, r.a_xref,
       r.wrote, r.residue, r.output, r.proxy_differs,
       has_function_privilege('eventsvc_anon', c.fn, 'EXECUTE') AS public_ok,
       EXISTS (SELECT 1 FROM hostile.cross_tenant_by_design d WHERE d.fn = c.fn) AS by_design,
       (SELECT provolatile FROM pg_proc WHERE oid = c.fn) AS volatility
  FROM hostile.calls c JOIN hostile.results r ON r.call_id = c.id;

CREATE VIEW hostile.problems AS
SELECT id, fn, role, mode, probe, sqlstate, message, kind FROM (
    SELECT *,
           CASE
               WHEN sqlstate = 'CRASH' THEN 'backend crashed'
               WHEN sqlstate = '57014' THEN 'statement did not finish within the timeout'
               WHEN probe = 'no EXECUTE: refused' THEN
                   CASE WHEN sqlstate = '42501' THEN NULL ELSE 'a role without EXECUTE was not refused with 42501' END
               WHEN hostile.bad_code(sqlstate, fn) IS NOT NULL THEN 'error code ' || sqlstate || ': ' || hostile.bad_code(sqlstate, fn)
               WHEN leak IS NOT NULL THEN 'output or error shows data it must not (' || leak || ')'
               WHEN b_changed THEN 'tenant B''s rows changed'
               WHEN a_xref IS NOT NULL THEN 'a row of tenant A now refers to tenant B''s object ' || a_xref
               WHEN residue IS NOT NULL THEN 'state outlived the rollback: ' || residue
               WHEN proxy_differs IS NOT NULL THEN 'through the proxy the answer differs from the shard''s own: ' || proxy_differs
               WHEN sqlstate = '42501' AND mode IN ('tenantA', 'jwtA')
                    AND message ~ '^permission denied for (table|relation|sequence|schema|view|function)'
                   THEN 'granted function fails with a raw permission error'
               -- a writer that accepts tenant B's id where it refuses an unknown id
               WHEN ok AND cross_b AND mode IN ('tenantA', 'jwtA') AND volatility = 'v' AND NOT public_ok AND NOT by_design
                    AND NOT EXISTS (SELECT 1 FROM hostile.classified u
                                     WHERE u.fn = x.fn AND u.role = x.role AND u.mode = x.mode AND u.ok
                                       AND u.probe = regexp_replace(x.probe, '= B:.*$', '= u_rand'))
                   THEN 'a write naming tenant B''s object succeeded where an unknown id fails'
               -- tenant B's id answered differently from an unknown id: B's objects can be probed
               WHEN cross_b AND mode IN ('tenantA', 'jwtA') AND NOT public_ok AND NOT by_design
                    AND EXISTS (SELECT 1 FROM hostile.classified u
                                 WHERE u.fn = x.fn AND u.role = x.role AND u.mode = x.mode
                                   AND u.probe = regexp_replace(x.probe, '= B:.*$', '= u_rand')
                                   AND u.sqlstate IS DISTINCT FROM x.sqlstate)
                   THEN 'tenant B''s id gets another answer than an unknown id (existence oracle)'
               WHEN ok AND wrote AND (mode IN ('none', 'inactive') OR mode LIKE 'claims:%') AND NOT by_design
                    AND NOT public_ok
                   THEN 'wrote rows without a usable tenant'
           END AS kind
      FROM hostile.classified x) s
 WHERE kind IS NOT NULL;

-- The leaky function of the view probe (below), made in the reading session (through
-- the proxy: in the proxy's session, hostile.run).
CREATE FUNCTION hostile.peek_sql() RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT $peek$CREATE OR REPLACE FUNCTION pg_temp.hostile_peek(row_text text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE COST 0.0001 AS $f$
    BEGIN
        RAISE NOTICE 'peek: %', left(row_text, 200);
        PERFORM set_config('hostile.seen', left(current_setting('hostile.seen', true) || E'\n' || coalesce(row_text, ''), 200000), true);
        RETURN true;
    END
    $f$$peek$
$fn$;

-- Views (and the catalogue table) of schema api: read as every role that may, in each
-- tenant mode. A view must not show tenant B's rows to tenant A (beyond the public
-- catalogue), nor anything secret without a usable tenant; an error must have an
-- acceptable code.
-- With leaky = true each read carries a caller's leaky function in its WHERE clause, once
-- per column, declared as cheap as can be so that the planner runs it as early as it may: it
-- tells (RAISE NOTICE) and remembers (a setting) every row it is handed, and whatever it
-- was handed counts as seen. A view that runs with its owner's rights and is no security
-- barrier hands it the rows its own WHERE clause hides.
CREATE FUNCTION hostile.view_probe(leaky boolean DEFAULT false)
RETURNS TABLE (view regclass, role text, mode text, sqlstate text, message text, leak text, problem text)
LANGUAGE plpgsql AS $$
DECLARE
    v regclass;
    r text;
    m text;
    outtxt text;
    st text;
    msg text;
    public_ok boolean;
    tenant_a text := (SELECT id FROM hostile.ids WHERE kind = 'tenant' AND tenant = 'A');
BEGIN
    -- the caller's function, in the session's own temporary schema: any role can make one
    EXECUTE hostile.peek_sql();
    FOR v IN SELECT c.oid::regclass FROM pg_class c WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'm', 'r')
             ORDER BY 1::text LOOP
        public_ok := has_table_privilege('eventsvc_anon', v, 'SELECT');
        FOREACH r IN ARRAY ARRAY['eventsvc_anon', 'eventsvc_user', 'eventsvc_admin', 'eventsvc_service', 'eventsvc_worker'] LOOP
            CONTINUE WHEN NOT has_table_privilege(r, v, 'SELECT');
            FOREACH m IN ARRAY ARRAY['tenantA', 'jwtA', 'none', 'inactive', 'claims:no_tenant', 'claims:malformed'] LOOP
                outtxt := NULL; st := NULL; msg := NULL;
                BEGIN
                    IF m = 'tenantA' THEN
                        PERFORM set_config('app.current_tenant_id', tenant_a, true);
                    ELSIF m = 'jwtA' THEN
                        PERFORM set_config('request.jwt.claims', json_build_object('role', r, 'tenant_id', tenant_a)::text, true);
                    ELSIF m = 'inactive' THEN
                        PERFORM set_config('app.current_tenant_id', (SELECT id FROM hostile.ids WHERE kind = 'tenant' AND tenant = 'C'), true);
                    ELSIF m LIKE 'claims:%' THEN
                        PERFORM set_config('request.jwt.claims', replace(hostile.state_get(m), '$ROLE', r), true);
                        PERFORM set_config('app.current_tenant_id', tenant_a, true);
                    END IF;
                    PERFORM set_config('hostile.seen', '', true);
                    IF leaky THEN
                        SET LOCAL client_min_messages = warning;
                        -- one call per column, ANDed: each is a condition of its own that the
                        -- planner may push down to the table the column comes from
                        outtxt := hostile.run(format('SELECT concat_ws(E''\n'', (SELECT string_agg(left(x::text, 20000), E''\n'') '
                                                     'FROM (SELECT * FROM %s x WHERE %s LIMIT 1000) x), current_setting(''hostile.seen'', true))', v,
                                                     (SELECT string_agg(format('pg_temp.hostile_peek(x.%I::text)', a.attname), ' AND ' ORDER BY a.attnum)
                                                        FROM pg_attribute a WHERE a.attrelid = v AND a.attnum > 0 AND NOT a.attisdropped)),
                                              r);
                    ELSE
                        outtxt := hostile.run(format('SELECT string_agg(left(x::text, 20000), E''\n'') FROM (SELECT * FROM %s LIMIT 1000) x', v), r);
                    END IF;
                    RAISE EXCEPTION USING ERRCODE = 'HR000', MESSAGE = 'hostile rollback';
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
                    IF st = 'HR000' THEN st := NULL; msg := NULL; END IF;
                END;
                view := v; role := r; mode := m; sqlstate := st; message := msg;
                leak := hostile.leak(concat_ws(' ', outtxt, msg), '', public_ok, m NOT IN ('tenantA', 'jwtA'));
                problem := CASE
                    WHEN hostile.bad_code(st, 'api.health_live()'::regprocedure) IS NOT NULL THEN 'error code ' || st || ': ' || hostile.bad_code(st, 'api.health_live()'::regprocedure)
                    WHEN leak IS NOT NULL THEN 'shows data it must not (' || leak || ')'
                    WHEN st = '42501' AND m IN ('tenantA', 'jwtA') AND msg ~ '^permission denied for' THEN 'granted view fails with a raw permission error'
                END;
                RETURN NEXT;
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;

-- PDA takeover: tenant B's public event is synced with an on-chain address (as the
-- blockchain service would); then tenant A, as each of its roles and in each of its
-- tenant modes, tries to put that address on its own event through every path there is
-- (the API's update and create, direct writes, the service callback). Whatever the
-- attempt answers, afterwards the address must still resolve to B's event and to no
-- other. Each attempt runs in a subtransaction that is always rolled back.
CREATE FUNCTION hostile.pda_takeover()
RETURNS TABLE (attempt text, role text, mode text, sqlstate text, message text, problem text)
LANGUAGE plpgsql AS $$
DECLARE
    pda_b constant text := '7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU';
    tenant_a text := (SELECT id FROM hostile.ids WHERE kind = 'tenant' AND tenant = 'A');
    event_a text := (SELECT id FROM hostile.ids WHERE kind = 'event_secret' AND tenant = 'A');    -- a DRAFT
    event_b text := (SELECT id FROM hostile.ids WHERE kind = 'event' AND tenant = 'B');
    venue_a text := (SELECT id FROM hostile.ids WHERE kind = 'venue' AND tenant = 'A');
    a record;
    m text;
    st text;
    msg text;
    found_id text;
    holders bigint;
    b_pda text;
BEGIN
    FOR a IN SELECT * FROM (VALUES
        ('api.update_event', 'eventsvc_user', format('SELECT api.update_event(%L, (SELECT version FROM api.events WHERE id = %L), jsonb_build_object(''event_pda'', %L))', event_a, event_a, pda_b)),
        ('api.update_event', 'eventsvc_admin', format('SELECT api.update_event(%L, (SELECT version FROM api.events WHERE id = %L), jsonb_build_object(''event_pda'', %L))', event_a, event_a, pda_b)),
        ('api.create_event', 'eventsvc_admin', format('SELECT api.create_event(venue_id => %L, name => ''Squatter'', starts_at => eventsvc.now() + interval ''90 days'', ends_at => eventsvc.now() + interval ''90 days 1 hour'', event_pda => %L)', venue_a, pda_b)),
        ('UPDATE eventsvc.events', 'eventsvc_user', format('UPDATE eventsvc.events SET event_pda = %L WHERE id = %L', pda_b, event_a)),
        ('UPDATE eventsvc.events', 'eventsvc_admin', format('UPDATE eventsvc.events SET event_pda = %L, blockchain_status = ''synced'' WHERE id = %L', pda_b, event_a)),
        ('INSERT INTO eventsvc.events', 'eventsvc_admin', format('INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, starts_at, ends_at, event_pda, blockchain_status) VALUES (%L, %L, ''Squatter'', ''squatter'', eventsvc.now() + interval ''90 days'', eventsvc.now() + interval ''90 days 1 hour'', %L, ''synced'')', tenant_a, venue_a, pda_b)),
        ('api.update_blockchain_status', 'eventsvc_service', format('SELECT api.update_blockchain_status(%L, ''synced'', %L)', event_a, pda_b))
      ) AS x(attempt, role, sql) LOOP
        FOREACH m IN ARRAY ARRAY['tenantA', 'jwtA'] LOOP
            st := NULL; msg := NULL; found_id := NULL; holders := NULL; b_pda := NULL;
            BEGIN
                -- B's event is synced with its address, as the blockchain service reports it
                PERFORM api.update_blockchain_status(event_b::uuid, 'synced', pda_b);
                BEGIN
                    IF m = 'tenantA' THEN
                        PERFORM set_config('app.current_tenant_id', tenant_a, true);
                    ELSE
                        PERFORM set_config('request.jwt.claims',
                            json_build_object('role', a.role, 'tenant_id', tenant_a, 'sub', 'hostile-sub')::text, true);
                    END IF;
                    EXECUTE format('SET LOCAL ROLE %I', a.role);
                    EXECUTE a.sql;
                    RESET ROLE;
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
                END;
                RESET ROLE;
                PERFORM set_config('request.jwt.claims', '', true);
                PERFORM set_config('app.current_tenant_id', '', true);
                -- as superuser: who holds the address now, and what does the lookup answer?
                SELECT count(*) INTO holders FROM eventsvc.events WHERE event_pda = pda_b;
                SELECT event_pda INTO b_pda FROM eventsvc.events WHERE id = event_b::uuid;
                BEGIN
                    found_id := api.internal_event_by_pda(pda_b) ->> 'id';
                EXCEPTION WHEN OTHERS THEN
                    found_id := 'error: ' || SQLERRM;
                END;
                RAISE EXCEPTION USING ERRCODE = 'HR000', MESSAGE = 'hostile rollback';
            EXCEPTION WHEN OTHERS THEN
                IF SQLSTATE <> 'HR000' THEN
                    st := SQLSTATE; msg := 'setup: ' || SQLERRM;
                END IF;
            END;
            attempt := a.attempt; role := a.role; mode := m; sqlstate := st; message := msg;
            problem := CASE
                WHEN msg LIKE 'setup: %' THEN 'the probe could not run: ' || msg
                WHEN holders IS DISTINCT FROM 1 THEN format('%s events hold tenant B''s address', holders)
                WHEN b_pda IS DISTINCT FROM pda_b THEN 'tenant B''s event lost its address'
                WHEN found_id IS DISTINCT FROM event_b THEN format('the lookup of B''s address answers %s, not B''s event', found_id)
                WHEN st IS NULL AND a.role <> 'eventsvc_service' THEN 'the attempt was accepted (it changed nothing, but should have been refused)'
                WHEN hostile.bad_code(st, 'api.update_event(uuid,integer,jsonb,uuid,text)'::regprocedure) IS NOT NULL
                    THEN 'error code ' || st || ': ' || hostile.bad_code(st, 'api.update_event(uuid,integer,jsonb,uuid,text)'::regprocedure)
            END;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;
