-- test/lib/hostile_driver.sql: the catalog-driven hostile-input driver used by
-- test/integration/hostile_inputs.sh. Loaded as superuser into a scratch database that
-- already has eventsvc and the seed (test/lib/hostile_seed.sql).
--
-- hostile.calls lists every call to make: a function of schema api or eventsvc, the role
-- to run it as, the tenant mode, and one value label per argument. hostile.call(id) runs
-- one call in a subtransaction that is always rolled back, as the given role, and
-- records in hostile.results: the SQLSTATE and message of an error, whether the output
-- or the error text carries tenant B's data, whether tenant B's rows changed (checksum,
-- taken as superuser before the rollback), whether a call without a usable tenant wrote
-- rows, and whether anything outlived the rollback (the shared-memory seat counters;
-- rows cannot, and the script compares every table's row count once at the end).
-- A statement that never returns (timeout, backend crash) leaves no result row; the
-- shell script finds those and records them.

CREATE SCHEMA hostile;

-- Values by label. val NULL means SQL NULL; typ is the argument type it fits.
CREATE TABLE hostile.vals (label text PRIMARY KEY, typ regtype NOT NULL, val text);
-- Ids of the seeded objects: kind (event, section, pricing, hold, schedule, review,
-- venue, report, tenant, ...), tenant letter, and whether the object is not public.
CREATE TABLE hostile.ids (kind text NOT NULL, tenant text NOT NULL, id text NOT NULL, secret boolean NOT NULL);
-- Text markers of tenant B: secret ones must never be seen by anyone but B; public ones
-- only through the public catalogue.
CREATE TABLE hostile.markers (marker text PRIMARY KEY, secret boolean NOT NULL);
-- Tenant A's secret markers: a call with no usable tenant must not see them either.
CREATE TABLE hostile.markers_a (marker text PRIMARY KEY);

CREATE TABLE hostile.calls (
    id      serial PRIMARY KEY,
    fn      regprocedure NOT NULL,
    role    text NOT NULL,
    mode    text NOT NULL,     -- tenantA | jwtA | none | claims:<variant> | inactive
    args    text[] NOT NULL,   -- labels into hostile.vals, one per IN argument
    probe   text NOT NULL,     -- what is being tried, for the report
    cross_b boolean NOT NULL DEFAULT false  -- an argument names one of tenant B's objects
);

CREATE TABLE hostile.results (
    call_id   integer PRIMARY KEY,
    ok        boolean NOT NULL,
    sqlstate  text,
    message   text,
    detail    text,
    hint      text,
    context   text,
    output    text,
    leak      text,        -- the B marker or id found in output / error text
    b_changed boolean,     -- tenant B's rows differ before the rollback
    a_xref    text,        -- a row of tenant A names this id of tenant B (before the rollback)
    wrote     boolean,     -- a successful call changed row counts (before the rollback)
    residue   text,        -- what outlived the rollback
    ms        numeric,
    proxy_differs text     -- through the proxy: how its answer differs from the same call made directly
);

CREATE TABLE hostile.state (k text PRIMARY KEY, v text);

-- Functions exempt from the tenant-B rules because they are cross-tenant by design
-- (documented): the internal service lookups and the worker's relay/saga/sweep
-- functions.
CREATE TABLE hostile.cross_tenant_by_design (fn regprocedure PRIMARY KEY, why text NOT NULL);

-- Checksum of tenant B's rows in every tenant table (as superuser, RLS bypassed).
CREATE FUNCTION hostile.b_checksum(exclude regclass[] DEFAULT '{}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    key text := 'b_checksum_sql:' || exclude::text;
    q text := hostile.state_get(key);
    r text;
BEGIN
    -- one query over every tenant table, built once
    IF q IS NULL THEN
        SELECT 'SELECT concat_ws('';'', ' ||
               string_agg(format('%L || ''='' || (SELECT md5(coalesce(string_agg(r::text, '','' ORDER BY r::text), '''')) FROM %s r WHERE %I = %L)',
                                 t::text, t, CASE WHEN t = 'eventsvc.tenants'::regclass THEN 'id' ELSE 'tenant_id' END,
                                 (SELECT id FROM hostile.ids WHERE kind = 'tenant' AND tenant = 'B')),
                          ', ' ORDER BY t::text) || ')'
          INTO q
          FROM eventsvc.tenant_tables() t
         WHERE NOT t = ANY (exclude);
        INSERT INTO hostile.state VALUES (key, q);
    END IF;
    EXECUTE q INTO r;
    RETURN r;
END
$$;

-- Row counts of every table of schema eventsvc, one string.
CREATE FUNCTION hostile.counts() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    q text;
    r text;
BEGIN
    q := coalesce(hostile.state_get('counts_sql'), '');
    IF q = '' THEN
        SELECT 'SELECT concat_ws('','', ' ||
               string_agg(format('%L || ''='' || (SELECT count(*) FROM %s)', c.oid::regclass::text, c.oid::regclass), ', ' ORDER BY c.oid::regclass::text) ||
               ')'
          INTO q
          FROM pg_class c WHERE c.relnamespace = 'eventsvc'::regnamespace AND c.relkind = 'r';
        INSERT INTO hostile.state VALUES ('counts_sql', q) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
    END IF;
    EXECUTE q INTO r;
    RETURN r;
END
$$;

CREATE FUNCTION hostile.state_get(key text) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT v FROM hostile.state WHERE k = key $$;

-- The shared-memory seat counters of every section: available seats of the built ones.
CREATE FUNCTION hostile.escrow() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(string_agg(c.id::text || '=' || coalesce(s ->> 'available', '-'), ',' ORDER BY c.id), '')
      FROM eventsvc.event_capacity c
      CROSS JOIN LATERAL (SELECT eventsvc.escrow_state(c.id) AS s) x
     WHERE (s ->> 'valid')::boolean
$$;

-- Sections whose built counter differs from the snapshot taken before the calls (a
-- counter that is not built, e.g. after a crash, is rebuilt from the rows on first use).
CREATE FUNCTION hostile.escrow_drift() RETURNS text
LANGUAGE sql VOLATILE AS $$
    WITH was AS (SELECT split_part(x, '=', 1) AS id, split_part(x, '=', 2) AS n
                   FROM unnest(string_to_array(hostile.state_get('escrow'), ',')) x),
         now AS (SELECT split_part(x, '=', 1) AS id, split_part(x, '=', 2) AS n
                   FROM unnest(string_to_array(hostile.escrow(), ',')) x)
    SELECT 'seat counters changed: ' || string_agg(format('%s %s -> %s', was.id, was.n, now.n), ', ')
      FROM was JOIN now USING (id) WHERE was.n <> now.n
$$;

-- Which B marker or id appears in txt but not in the arguments? NULL when none.
-- public_ok: the function is part of the public catalogue, so tenant B's public data
-- may be shown; its secret data never.
CREATE FUNCTION hostile.leak(txt text, argtxt text, public_ok boolean, tenantless boolean) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m record;
BEGIN
    IF txt IS NULL OR txt = '' THEN
        RETURN NULL;
    END IF;
    FOR m IN SELECT marker AS tok, secret FROM hostile.markers
             UNION ALL SELECT id, secret FROM hostile.ids WHERE tenant = 'B'
             UNION ALL SELECT marker, true FROM hostile.markers_a WHERE tenantless
             UNION ALL SELECT id, true FROM hostile.ids WHERE tenant = 'A' AND secret AND tenantless LOOP
        CONTINUE WHEN public_ok AND NOT m.secret;
        CONTINUE WHEN position(lower(m.tok) IN lower(coalesce(argtxt, ''))) > 0;
        IF position(lower(m.tok) IN lower(txt)) > 0 THEN
            RETURN m.tok;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- Which of tenant B's ids does a uuid column of a row of tenant A hold (as superuser)?
-- NULL when none. Such a row refers across tenants. Free text and jsonb documents are
-- not references and are left out; so are the audit trails (they record what was asked).
CREATE FUNCTION hostile.a_xref() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    q text := hostile.state_get('a_xref_sql');
    r text;
BEGIN
    IF q IS NULL THEN
        SELECT 'SELECT (SELECT min(b.id) FROM hostile.ids b WHERE b.tenant = ''B'' AND b.kind <> ''idempotency'' AND b.id IN (' ||
               string_agg(format('SELECT x::text FROM %s r, LATERAL (VALUES %s) v(x) WHERE r.tenant_id = %L', c.oid::regclass,
                                 (SELECT string_agg(format('(r.%I)', a.attname), ', ')
                                    FROM pg_attribute a
                                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                                     AND a.atttypid = 'uuid'::regtype AND a.attname <> 'tenant_id'),
                                 (SELECT id FROM hostile.ids WHERE kind = 'tenant' AND tenant = 'A')),
                          ' UNION ALL ') || '))'
          INTO q
          FROM pg_class c
         WHERE c.oid IN (SELECT t FROM eventsvc.tenant_tables() t)
           AND c.oid NOT IN ('eventsvc.tenants'::regclass, 'eventsvc.event_audit_log'::regclass, 'eventsvc.content_audit_log'::regclass)
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                          AND a.atttypid = 'uuid'::regtype AND a.attname <> 'tenant_id');
        INSERT INTO hostile.state VALUES ('a_xref_sql', q);
    END IF;
    EXECUTE q INTO r;
    RETURN r;
END
$$;

-- Run query q (one text column) as role r with the tenant settings of this
-- transaction. Through the proxy (hostile.state 'via' holds its connection string,
-- test/integration/scaleout.sh) the same settings, role and query go to the proxy in
-- a transaction there that is always rolled back, with eventsvc_proxy.dry_run on: the
-- shard rolls each call back after it answered (a routed call is its own transaction
-- on the shard, docs/api.md). Its error comes back with the same code, message,
-- detail and hint.
CREATE FUNCTION hostile.run(q text, r text, direct boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    via text := hostile.state_get('via');
    out text;
    s record;
BEGIN
    IF via IS NULL OR direct THEN
        EXECUTE format('SET LOCAL ROLE %I', r);
        EXECUTE q INTO out;
        EXECUTE 'RESET ROLE';
        RETURN out;
    END IF;
    IF NOT coalesce('hostile_proxy' = ANY (dblink_get_connections()), false) THEN
        PERFORM dblink_connect('hostile_proxy', via);
        IF to_regproc('hostile.peek_sql') IS NOT NULL THEN
            PERFORM dblink_exec('hostile_proxy', hostile.peek_sql());
        END IF;
    END IF;
    PERFORM dblink_exec('hostile_proxy', 'BEGIN');
    BEGIN
        FOR s IN SELECT n, current_setting(n, true) AS v
                   FROM unnest(ARRAY['app.current_tenant_id', 'app.current_user_id', 'request.jwt.claims']) n LOOP
            IF coalesce(s.v, '') <> '' THEN
                PERFORM dblink_exec('hostile_proxy', format('SET LOCAL %s = %L', s.n, s.v));
            END IF;
        END LOOP;
        PERFORM dblink_exec('hostile_proxy', format('SET LOCAL statement_timeout = %L', current_setting('statement_timeout')));
        PERFORM dblink_exec('hostile_proxy', 'SET LOCAL eventsvc_proxy.dry_run = on');
        PERFORM dblink_exec('hostile_proxy', format('SET LOCAL ROLE %I', r));
        SELECT x INTO out FROM dblink('hostile_proxy', q) AS t(x text);
    EXCEPTION WHEN OTHERS THEN
        PERFORM dblink_exec('hostile_proxy', 'ROLLBACK');
        RAISE;
    END;
    PERFORM dblink_exec('hostile_proxy', 'ROLLBACK');
    RETURN out;
END
$$;

-- The tenant and claims of a call's mode; all LOCAL, undone with the subtransaction.
CREATE FUNCTION hostile.set_mode(c hostile.calls) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tenant_a text := (SELECT id FROM hostile.ids WHERE kind = 'tenant' AND tenant = 'A');
BEGIN
    IF c.mode = 'tenantA' THEN
        PERFORM set_config('app.current_tenant_id', tenant_a, true);
    ELSIF c.mode = 'jwtA' THEN
        PERFORM set_config('request.jwt.claims',
                           json_build_object('role', c.role, 'tenant_id', tenant_a, 'sub', 'hostile-sub')::text, true);
    ELSIF c.mode = 'inactive' THEN
        PERFORM set_config('app.current_tenant_id', (SELECT id FROM hostile.ids WHERE kind = 'tenant' AND tenant = 'C'), true);
    ELSIF c.mode LIKE 'claims:%' THEN
        PERFORM set_config('request.jwt.claims', replace(hostile.state_get(c.mode), '$ROLE', c.role), true);
        -- a tenant in the session setting must not count when claims are present
        PERFORM set_config('app.current_tenant_id', tenant_a, true);
    END IF;
END
$$;

-- Run one call. Never raises (except a statement timeout, which OTHERS does not catch).
CREATE FUNCTION hostile.call(cid integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c        hostile.calls;
    argtypes oid[];
    exprs    text[] := '{}';
    argtxt   text := '';
    v        hostile.vals;
    i        integer;
    q        text;
    outtxt   text;
    st       text;
    msg      text;
    det      text;
    hnt      text;
    ctx      text;
    ok       boolean := false;
    leak     text;
    bchg     boolean;
    xref     text;
    wrote    boolean;
    residue  text := NULL;
    t0       timestamptz := clock_timestamp();
    public_ok boolean;
    by_design boolean;
    b_after  text;
    dst      text;
    dmsg     text;
    differs  text;
    excl     regclass[] := '{}';
BEGIN
    SELECT * INTO c FROM hostile.calls WHERE id = cid;
    SELECT ARRAY(SELECT unnest(p.proargtypes::oid[])) INTO argtypes FROM pg_proc p WHERE p.oid = c.fn;
    FOR i IN 1 .. coalesce(array_length(argtypes, 1), 0) LOOP
        SELECT * INTO v FROM hostile.vals WHERE label = c.args[i];
        IF NOT FOUND THEN
            RAISE EXCEPTION 'hostile: no value %', c.args[i];
        END IF;
        exprs := exprs || (CASE WHEN v.val IS NULL THEN 'NULL' ELSE quote_literal(v.val) END
                           || '::' || format_type(argtypes[i], NULL));
        argtxt := argtxt || coalesce(left(v.val, 1000), '') || ' ';
    END LOOP;
    q := format('SELECT string_agg(left(x::text, 100000), E''\n'') FROM (SELECT %I.%I(%s) AS x LIMIT 200) s',
                (SELECT nspname FROM pg_namespace n JOIN pg_proc p ON p.pronamespace = n.oid WHERE p.oid = c.fn),
                (SELECT proname FROM pg_proc WHERE oid = c.fn),
                array_to_string(exprs, ', '));
    public_ok := has_function_privilege('eventsvc_anon', c.fn, 'EXECUTE');
    by_design := EXISTS (SELECT 1 FROM hostile.cross_tenant_by_design d WHERE d.fn = c.fn);
    -- viewing a public event is counted for whoever views it (public catalogue)
    IF c.fn = 'api.record_view(uuid)'::regprocedure THEN
        excl := ARRAY['eventsvc.event_view_counts'::regclass];
    END IF;

    -- through the proxy: the same call directly on the shard first (rolled back before
    -- the proxy's), whose answer the proxy's must equal
    IF hostile.state_get('via') IS NOT NULL THEN
        BEGIN
            PERFORM hostile.set_mode(c);
            PERFORM hostile.run(q, c.role, true);
            RAISE EXCEPTION USING ERRCODE = 'HR000', MESSAGE = 'hostile rollback';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS dst = RETURNED_SQLSTATE, dmsg = MESSAGE_TEXT;
            IF dst = 'HR000' THEN dst := NULL; dmsg := NULL; END IF;
        END;
    END IF;

    BEGIN
        PERFORM hostile.set_mode(c);
        outtxt := hostile.run(q, c.role);
        ok := true;
        IF (SELECT provolatile FROM pg_proc WHERE oid = c.fn) = 'v' AND c.mode NOT IN ('tenantA', 'jwtA') THEN
            wrote := hostile.counts() IS DISTINCT FROM hostile.state_get('counts');
        END IF;
        -- as superuser, before the rollback: does a row of tenant A now name B's objects?
        -- (only a call that was given one of B's ids can store one)
        IF (SELECT provolatile FROM pg_proc WHERE oid = c.fn) = 'v' AND NOT by_design AND c.mode IN ('tenantA', 'jwtA')
           AND EXISTS (SELECT 1 FROM hostile.ids b WHERE b.tenant = 'B' AND position(b.id IN argtxt) > 0) THEN
            xref := hostile.a_xref();
        END IF;
        -- as superuser, before the rollback: did tenant B's rows change?
        IF NOT by_design THEN
            b_after := hostile.b_checksum(excl);
            bchg := b_after IS DISTINCT FROM
                    hostile.state_get(CASE WHEN excl = '{}' THEN 'b_checksum' ELSE 'b_checksum_noviews' END);
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'HR000', MESSAGE = 'hostile rollback';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                                hnt = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
        IF st = 'HR000' THEN
            st := NULL; msg := NULL; det := NULL; hnt := NULL; ctx := NULL;
        ELSE
            ok := false;
        END IF;
    END;

    IF NOT by_design THEN
        leak := hostile.leak(concat_ws(' ', outtxt, msg, det, hnt), argtxt, public_ok,
                             c.mode NOT IN ('tenantA', 'jwtA'));
    END IF;
    -- Did anything outlive the rollback? Rows cannot (the script compares row counts of
    -- every table once at the end); the shared-memory seat counters could.
    IF (SELECT provolatile FROM pg_proc WHERE oid = c.fn) = 'v' THEN
        residue := hostile.escrow_drift();
        IF residue IS NOT NULL THEN
            -- blame this call only: later calls compare with the state it left
            UPDATE hostile.state SET v = hostile.escrow() WHERE k = 'escrow';
        END IF;
    END IF;

    -- Without a tenant the proxy cannot route a tenant's call and refuses it (42501, "no
    -- tenant is set"); the server itself may refuse the same call by finding nothing
    -- (PT404, or an empty answer, when the row the call names is not there and the
    -- tenant is never asked for). Both refuse and neither shows a row (the leak check
    -- above reads the answer), so that pair is the same answer.
    IF hostile.state_get('via') IS NOT NULL AND (st IS DISTINCT FROM dst OR msg IS DISTINCT FROM dmsg)
       AND NOT (st = '42501' AND msg = 'no tenant is set for this session' AND (dst IS NULL OR dst = 'PT404')) THEN
        differs := format('directly: %s; through the proxy: %s', coalesce(dst || ' ' || dmsg, 'no error'),
                          coalesce(st || ' ' || msg, 'no error'));
    END IF;
    INSERT INTO hostile.results VALUES (cid, ok, st, left(msg, 2000), left(det, 2000), left(hnt, 1000), left(ctx, 2000),
                                        left(outtxt, 2000), leak, bchg, xref, wrote, residue,
                                        round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000, 1), left(differs, 2000));
END
$$;

-- Is this SQLSTATE one PostgREST turns into a 5xx (docs/errors.md / POSTGREST.md), or an
-- internal error class? Returns the reason, NULL when acceptable.
CREATE FUNCTION hostile.bad_code(st text, fn regprocedure) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN st IS NULL THEN NULL
        WHEN st ~ '^(XX|58)' THEN 'internal error class ' || left(st, 2)
        WHEN st ~ '^(08|09|25|2D|38|39|3B|40|54|55|57|F0|HV)' THEN 'maps to HTTP 500'
        WHEN st ~ '^53' THEN 'maps to HTTP 503/500'
        WHEN st ~ '^P0' AND st <> 'P0001' THEN 'maps to HTTP 500'
        WHEN st ~ '^PT5' THEN 'maps to HTTP 5xx'
        -- errors of SQL that eventsvc itself wrote: a broken query, not bad input
        WHEN st IN ('42601', '42883', '42P01', '42703', '42702', '42804', '42P02', '42P08', '42P18', '42725', '42846', '42P10')
            THEN 'internal SQL error (' || st || ')'
        ELSE NULL
    END
$$;

-- The same call as its own top-level transaction, the way PostgREST runs a request: no
-- subtransaction, and always aborted (an error of the call, or the rollback raised after
-- it). hostile.after_toplevel(id), run as the next statement, records what outlived it:
-- a top-level abort takes other paths than a subtransaction abort (transaction callbacks).
CREATE TABLE hostile.toplevel_results (call_id integer PRIMARY KEY, residue text);

CREATE FUNCTION hostile.call_toplevel(cid integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c hostile.calls;
    argtypes oid[];
    exprs text[] := '{}';
    v hostile.vals;
    i integer;
BEGIN
    SELECT * INTO c FROM hostile.calls WHERE id = cid;
    SELECT ARRAY(SELECT unnest(p.proargtypes::oid[])) INTO argtypes FROM pg_proc p WHERE p.oid = c.fn;
    FOR i IN 1 .. coalesce(array_length(argtypes, 1), 0) LOOP
        SELECT * INTO v FROM hostile.vals WHERE label = c.args[i];
        exprs := exprs || (CASE WHEN v.val IS NULL THEN 'NULL' ELSE quote_literal(v.val) END
                           || '::' || format_type(argtypes[i], NULL));
    END LOOP;
    PERFORM set_config('app.current_tenant_id', (SELECT id FROM hostile.ids WHERE kind = 'tenant' AND tenant = 'A'), true);
    PERFORM hostile.run(format('SELECT count(*)::text FROM (SELECT %I.%I(%s)) x',
                               (SELECT nspname FROM pg_namespace n JOIN pg_proc p ON p.pronamespace = n.oid WHERE p.oid = c.fn),
                               (SELECT proname FROM pg_proc WHERE oid = c.fn), array_to_string(exprs, ', ')),
                        c.role);
    RAISE EXCEPTION USING ERRCODE = 'HR000', MESSAGE = 'hostile rollback';
END
$$;

CREATE FUNCTION hostile.after_toplevel(cid integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    residue text;
BEGIN
    IF hostile.counts() IS DISTINCT FROM hostile.state_get('counts') THEN
        residue := 'row counts changed: ' || hostile.counts();
    END IF;
    residue := nullif(concat_ws('; ', residue, hostile.escrow_drift()), '');
    IF residue IS NOT NULL THEN
        UPDATE hostile.state SET v = hostile.escrow() WHERE k = 'escrow';
        UPDATE hostile.state SET v = hostile.counts() WHERE k = 'counts';
    END IF;
    INSERT INTO hostile.toplevel_results VALUES (cid, residue);
END
$$;
