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
       r.wrote, r.residue, r.output,
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

-- Views of schema api: read as every role that may, in each tenant mode. A view must not
-- show tenant B's rows to tenant A (beyond the public catalogue), nor anything secret
-- without a usable tenant; an error must have an acceptable code.
CREATE FUNCTION hostile.view_probe()
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
    FOR v IN SELECT c.oid::regclass FROM pg_class c WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'm')
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
                    EXECUTE format('SET LOCAL ROLE %I', r);
                    EXECUTE format('SELECT string_agg(left(x::text, 20000), E''\n'') FROM (SELECT * FROM %s LIMIT 1000) x', v) INTO outtxt;
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
