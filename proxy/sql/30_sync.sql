-- Proxy part 30: the api schema of the proxy, made from the shards' own catalog.
-- eventsvc.sync_api() reads every shard's api catalog (eventsvc.shard_api_catalog
-- there: arguments with defaults, results, volatility, grants, comments, routes,
-- and the eventsvc types they use), refuses when the shards disagree, and makes
-- here, for each api function, a function with the identical signature that
-- routes the call, for each api view a view with the identical columns, and each
-- computed relationship (embedding) again from its SQL over those views. Run it
-- after adding shards and after every upgrade of the shards; it also picks up api
-- functions and views that did not exist before, with no change to this package.

-- The SQL of one wrapper's call to a shard's entry function.
CREATE FUNCTION eventsvc.remote_call_sql(p_remote text, p_tenant text, p_partition text, p_args text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT format('ARRAY(SELECT x FROM eventsvc_remote.%I(%s, %s, evs_r.ctx%s) x)', p_remote, p_tenant, p_partition, p_args)
$fn$;

-- Whether some shard answered with a full page (p_size rows) in a fan-out round.
CREATE FUNCTION eventsvc.some_page_full(p_rows eventsvc.remote_row[], p_size integer) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    x eventsvc.remote_row;
    n integer := 0;
BEGIN
    FOREACH x IN ARRAY coalesce(p_rows, '{}') LOOP
        IF x.evs_last THEN
            IF n >= p_size THEN
                RETURN true;
            END IF;
            n := 0;
        ELSE
            n := n + 1;
        END IF;
    END LOOP;
    RETURN false;
END
$fn$;

-- "name type, ..." of a catalog list of [name, type] pairs.
CREATE FUNCTION eventsvc.column_list(p_columns jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT string_agg(format('%I %s', c ->> 0, c ->> 1), ', ' ORDER BY o) FROM jsonb_array_elements(p_columns) WITH ORDINALITY x(c, o)
$fn$;

-- Make one generated object and remember how to drop it.
CREATE FUNCTION eventsvc.api_create(p_sql text, p_drop text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    EXECUTE p_sql;
    INSERT INTO eventsvc.api_objects (drop_sql) VALUES (p_drop);
END
$fn$;

-- A PL/Proxy function calling entry p_entry on the shard of the partition it is
-- given, or on every shard (p_all).
CREATE FUNCTION eventsvc.api_remote(p_name text, p_entry text, p_args text, p_all boolean) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    fn text := format('eventsvc_remote.%I(evs_tenant uuid, evs_partition integer, evs_ctx jsonb%s)', p_name, p_args);
BEGIN
    PERFORM eventsvc.api_create(
        format($f$CREATE FUNCTION %s RETURNS SETOF eventsvc.remote_row LANGUAGE plproxy AS $p$
    CLUSTER 'eventsvc_shards';
    RUN ON %s;
    TARGET eventsvc_shard.%I;
$p$$f$, fn, CASE WHEN p_all THEN 'ALL' ELSE 'evs_partition' END, p_entry),
        'DROP FUNCTION IF EXISTS ' || fn);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker', fn);
END
$fn$;

-- Grants of a generated api object to the API roles, as on the shards.
CREATE FUNCTION eventsvc.api_grant(p_what text, p_privilege text, p_roles jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    r text;
BEGIN
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', p_what);
    FOR r IN SELECT jsonb_array_elements_text(p_roles) LOOP
        EXECUTE format('GRANT %s ON %s TO %I', p_privilege, p_what, r);
    END LOOP;
END
$fn$;

-- One api function: the wrapper with the shard's signature, and its PL/Proxy calls.
CREATE FUNCTION eventsvc.api_function(f jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    name text := f ->> 'name';
    route text := f ->> 'route';
    merge jsonb := f -> 'merge';
    fanout boolean := route IN ('scope', 'catalogue', 'event', 'all');
    is_set boolean := (f ->> 'returns_set')::boolean;
    kind text := f ->> 'return_kind';
    rettype text := f ->> 'return_type';
    remote_args text := '';
    call_args text := '';
    paged_args text := '';
    a record;
    narrow text := 'NULL';
    lim text;
    off text;
    fetch_one text;
    fetch_all text;
    result text;
    body text;
    cols text;
    sig text;
BEGIN
    FOR a IN SELECT x.value ->> 0 AS n, x.value ->> 1 AS t, x.ord
               FROM jsonb_array_elements(f -> 'in_arguments') WITH ORDINALITY AS x(value, ord) LOOP
        remote_args := remote_args || format(', %I %s', coalesce(nullif(a.n, ''), 'evs_arg_' || a.ord), a.t);
        call_args := call_args || ', $' || a.ord;
        paged_args := paged_args || CASE WHEN a.n = merge ->> 'offset' THEN ', evs_at'
                                         WHEN a.n = merge ->> 'limit' THEN ', ' || (merge ->> 'max_limit')::integer
                                         ELSE ', $' || a.ord END;
        IF a.n = merge ->> 'narrow' THEN narrow := '$' || a.ord; END IF;
        IF a.n = merge ->> 'limit' THEN lim := '$' || a.ord; END IF;
        IF a.n = merge ->> 'offset' THEN off := '$' || a.ord; END IF;
    END LOOP;
    IF route = 'catalogue' AND lim IS NULL THEN
        PERFORM eventsvc.raise_error('internal', format('api.%s: a catalogue function needs the page limit argument its merge names', name));
    END IF;

    PERFORM eventsvc.api_remote(name, name, remote_args, false);
    IF fanout THEN
        PERFORM eventsvc.api_remote(name || '__all', name, remote_args, true);
    END IF;

    fetch_one := 'evs_rows := ' || eventsvc.remote_call_sql(name, 'evs_r.tenant', 'evs_r.partition', call_args) || ';';
    fetch_all := 'evs_rows := ' || eventsvc.remote_call_sql(name || '__all', 'NULL', 'NULL', call_args) || ';';
    IF route = 'catalogue' AND off IS NOT NULL THEN
        -- A page after the first needs every shard's rows up to its end: after the
        -- caller's own arguments (which the shards check), pages of the largest size
        -- from the start, until they reach it or no shard has more.
        fetch_all := fetch_all || format($c$
        IF coalesce(%2$s, 0) > 0 THEN
            evs_at := 0;
            LOOP
                evs_page := %3$s;
                evs_rows := evs_rows || evs_page;
                evs_at := evs_at + %4$s;
                EXIT WHEN evs_at >= %2$s + coalesce(%1$s, 0) OR NOT eventsvc.some_page_full(evs_page, %4$s);
            END LOOP;
        END IF;$c$, lim, off, eventsvc.remote_call_sql(name || '__all', 'NULL', 'NULL', paged_args),
            (merge ->> 'max_limit')::integer);
    END IF;

    -- the result: jsonb back into the function's own type
    IF NOT is_set THEN
        result := CASE
            WHEN rettype = 'jsonb' THEN 'RETURN eventsvc.answer(evs_r, evs_rows, false);'
            WHEN kind = 'composite' THEN format('RETURN jsonb_populate_record(NULL::%s, eventsvc.answer(evs_r, evs_rows, false));', rettype)
            ELSE format('RETURN (SELECT x.v FROM jsonb_to_record(jsonb_build_object(''v'', eventsvc.answer(evs_r, evs_rows, false))) AS x(v %s));', rettype) END;
    ELSE
        IF kind = 'table' THEN
            cols := eventsvc.column_list(f -> 'columns');
            result := format('SELECT evs_x.* FROM jsonb_to_recordset(eventsvc.answer(evs_r, evs_rows, true)) AS evs_x(%s)', cols);
        ELSIF kind = 'composite' THEN
            result := format('SELECT evs_x.* FROM jsonb_populate_recordset(NULL::%s, eventsvc.answer(evs_r, evs_rows, true)) AS evs_x', rettype);
        ELSE
            result := format('SELECT evs_x.v FROM jsonb_array_elements(eventsvc.answer(evs_r, evs_rows, true)) AS e(j), '
                             'jsonb_to_record(jsonb_build_object(''v'', e.j)) AS evs_x(v %s)', rettype);
        END IF;
        IF route = 'catalogue' THEN
            -- every shard's rows together: once each, in the function's order, the caller's page
            SELECT string_agg(format('evs_y.%I %s', o ->> 0, o ->> 1), ', ') INTO cols FROM jsonb_array_elements(merge -> 'order') o;
            result := format($m$IF evs_r.everywhere THEN
        RETURN QUERY SELECT evs_y.* FROM (SELECT DISTINCT ON (evs_x.%I) evs_x.* FROM (%s) evs_x ORDER BY evs_x.%I) evs_y
                      ORDER BY %s OFFSET %s LIMIT %s;
    ELSE
        RETURN QUERY %s;
    END IF;$m$, merge ->> 'key', result, merge ->> 'key', cols, coalesce('coalesce(' || off || ', 0)', '0'), lim, result);
        ELSE
            result := 'RETURN QUERY ' || result || ';';
        END IF;
        -- (the answer first: a shard's error must be raised even where the caller's
        -- query would not read a row, e.g. LIMIT 0)
        result := 'evs_answer := eventsvc.answer(evs_r, evs_rows, true);' || E'\n    ' || replace(result, 'eventsvc.answer(evs_r, evs_rows, true)', 'evs_answer');
    END IF;

    body := format($b$
DECLARE
    evs_r eventsvc.call_route;
    evs_rows eventsvc.remote_row[];
    evs_page eventsvc.remote_row[];
    evs_answer jsonb;
    evs_at integer;
BEGIN
    evs_r := eventsvc.route(%L, %s);
    IF evs_r.everywhere THEN
        %s
    ELSE
        %s
    END IF;
    %s
END$b$, route, narrow, CASE WHEN fanout THEN fetch_all ELSE 'NULL;' END, fetch_one, result);

    sig := format('api.%I(%s)', name, f ->> 'identity_arguments');
    PERFORM eventsvc.api_create(
        format('CREATE FUNCTION api.%I(%s) RETURNS %s LANGUAGE plpgsql %s %s SET search_path = pg_catalog, pg_temp AS %L',
               name, f ->> 'arguments', f ->> 'result',
               CASE f ->> 'volatility' WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END,
               CASE WHEN (f ->> 'strict')::boolean THEN 'STRICT' ELSE '' END, body),
        'DROP FUNCTION IF EXISTS ' || sig);
    PERFORM eventsvc.api_grant('FUNCTION ' || sig, 'EXECUTE', f -> 'grants');
    EXECUTE format('COMMENT ON FUNCTION %s IS %L', sig, f ->> 'comment');
END
$fn$;

-- One api view: a row type, the PL/Proxy call of the shard's entry, a reader, and
-- the view itself (read-only, like every api view: writes go through functions).
CREATE FUNCTION eventsvc.api_view(v jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    name text := v ->> 'name';
    route text := v ->> 'route';
    rowtype text := format('eventsvc_remote.%I', name || '__row');
    cols text;
    aggs text;
    sh eventsvc.shards;
    parent text := format('eventsvc_remote.%I', name || '__all');
BEGIN
    cols := eventsvc.column_list(v -> 'columns');

    IF route = 'catalogue' THEN
        -- postgres_fdw over every shard's own view: filters, order and limits are
        -- sent to the shards, which answer from their indexes; no shard's whole
        -- catalogue comes to the proxy
        PERFORM eventsvc.api_create(format('CREATE TABLE %s (%s)', parent, cols), 'DROP TABLE IF EXISTS ' || parent || ' CASCADE');
        FOR sh IN SELECT * FROM eventsvc.shards x ORDER BY x.name LOOP
            EXECUTE format('CREATE FOREIGN TABLE eventsvc_remote.%I () INHERITS (%s) SERVER %I OPTIONS (schema_name %L, table_name %L)',
                           name || '__' || sh.name, parent, 'eventsvc_fdw_' || sh.name, 'api', name);
        END LOOP;
        PERFORM eventsvc.api_create(format('CREATE VIEW api.%I AS SELECT * FROM %s', name, parent),
                                    format('DROP VIEW IF EXISTS api.%I', name));
    ELSE
        PERFORM eventsvc.api_create(format('CREATE TYPE %s AS (%s)', rowtype, cols), 'DROP TYPE IF EXISTS ' || rowtype || ' CASCADE');
        PERFORM eventsvc.api_remote(name || '__rows', name || '__rows', '', route = 'sum');
        PERFORM eventsvc.api_create(format($f$CREATE FUNCTION eventsvc_remote.%1$I() RETURNS SETOF %2$s
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $r$
DECLARE
    evs_r eventsvc.call_route := eventsvc.route(%3$L);
    x eventsvc.remote_row;
BEGIN
    FOR x IN SELECT * FROM eventsvc_remote.%4$I(evs_r.tenant, evs_r.partition, evs_r.ctx) LOOP
        IF NOT x.evs_last THEN
            RETURN NEXT jsonb_populate_record(NULL::%2$s, x.evs_result);
        ELSIF x.evs_error IS NOT NULL THEN
            PERFORM eventsvc.raise_remote(x.evs_error);
        END IF;
    END LOOP;
END$r$$f$, name || '__read', rowtype, route, name || '__rows'),
            format('DROP FUNCTION IF EXISTS eventsvc_remote.%I()', name || '__read'));
        EXECUTE format('REVOKE ALL ON FUNCTION eventsvc_remote.%I() FROM PUBLIC', name || '__read');
        EXECUTE format('GRANT EXECUTE ON FUNCTION eventsvc_remote.%I() TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker',
                       name || '__read');
        IF route = 'sum' THEN
            -- one row for all shards: counts summed, flags and-ed, the latest times and
            -- largest ages, texts joined (eventsvc.shard_status has each shard's row)
            SELECT string_agg(format(CASE
                       WHEN c ->> 1 IN ('bigint', 'numeric', 'double precision', 'real') THEN 'sum(x.%1$I)::%2$s AS %1$I'
                       WHEN c ->> 1 = 'boolean' THEN 'bool_and(x.%1$I) AS %1$I'
                       WHEN c ->> 1 IN ('integer', 'smallint') THEN 'min(x.%1$I) AS %1$I'
                       WHEN c ->> 1 IN ('timestamp with time zone', 'timestamp without time zone', 'date', 'interval') THEN 'max(x.%1$I) AS %1$I'
                       WHEN c ->> 1 = 'text' THEN 'string_agg(DISTINCT x.%1$I, ''; '' ORDER BY x.%1$I) AS %1$I'
                       ELSE '(array_agg(x.%1$I))[1] AS %1$I' END, c ->> 0, c ->> 1), ', ') INTO aggs
              FROM jsonb_array_elements(v -> 'columns') c;
            PERFORM eventsvc.api_create(format('CREATE VIEW api.%I AS SELECT %s FROM eventsvc_remote.%I() x', name, aggs, name || '__read'),
                                        format('DROP VIEW IF EXISTS api.%I', name));
        ELSE
            PERFORM eventsvc.api_create(format('CREATE VIEW api.%I AS SELECT * FROM eventsvc_remote.%I()', name, name || '__read'),
                                        format('DROP VIEW IF EXISTS api.%I', name));
        END IF;
        EXECUTE format('CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.%I '
                       'FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write()', name);
    END IF;
    PERFORM eventsvc.api_grant(format('api.%I', name), 'SELECT', v -> 'grants');
    EXECUTE format('COMMENT ON VIEW api.%I IS %L', name, v ->> 'comment');
END
$fn$;

-- One computed relationship (PostgREST embedding, install part 72 on a shard): made
-- again from the shard's SQL, after the views, so that it reads the proxy's views
-- (each reads the caller's rows from the caller's shard, where row-level security
-- applies) with the identical signature, rows estimate, grants and comment.
CREATE FUNCTION eventsvc.api_relationship(f jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    sig text := format('api.%I(%s)', f ->> 'name', f ->> 'identity_arguments');
BEGIN
    IF f ->> 'language' IS DISTINCT FROM 'sql' OR f ->> 'body' IS NULL THEN
        PERFORM eventsvc.raise_error('internal', format('%s: a computed relationship must be a LANGUAGE sql function over api views', sig));
    END IF;
    PERFORM eventsvc.api_create(
        format('CREATE FUNCTION api.%I(%s) RETURNS %s LANGUAGE sql %s %s %s AS %L',
               f ->> 'name', f ->> 'arguments', f ->> 'result',
               CASE f ->> 'volatility' WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END,
               CASE WHEN (f ->> 'strict')::boolean THEN 'STRICT' ELSE '' END,
               CASE WHEN (f ->> 'returns_set')::boolean THEN 'ROWS ' || (f ->> 'rows')::real ELSE '' END,
               f ->> 'body'),
        'DROP FUNCTION IF EXISTS ' || sig);
    PERFORM eventsvc.api_grant('FUNCTION ' || sig, 'EXECUTE', f -> 'grants');
    EXECUTE format('COMMENT ON FUNCTION %s IS %L', sig, f ->> 'comment');
END
$fn$;

-- The types the api uses (enums first, then composite types, each after the types
-- it holds).
CREATE FUNCTION eventsvc.api_types(p_types jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    t jsonb;
    pending jsonb[];
    left_over jsonb[];
BEGIN
    FOR t IN SELECT * FROM jsonb_array_elements(p_types) LOOP
        IF t ->> 'kind' = 'e' THEN
            PERFORM eventsvc.api_create(
                format('CREATE TYPE %s AS ENUM (%s)', t ->> 'name',
                       (SELECT string_agg(quote_literal(l), ', ') FROM jsonb_array_elements_text(t -> 'labels') l)),
                format('DROP TYPE IF EXISTS %s CASCADE', t ->> 'name'));
        ELSE
            pending := pending || t;
        END IF;
    END LOOP;
    WHILE cardinality(pending) > 0 LOOP
        left_over := '{}';
        FOREACH t IN ARRAY pending LOOP
            BEGIN
                PERFORM eventsvc.api_create(
                    format('CREATE TYPE %s AS (%s)', t ->> 'name', eventsvc.column_list(t -> 'attributes')),
                    format('DROP TYPE IF EXISTS %s CASCADE', t ->> 'name'));
            EXCEPTION WHEN undefined_object THEN
                left_over := left_over || t;        -- holds a type not made yet
            END;
        END LOOP;
        IF cardinality(left_over) = cardinality(pending) THEN
            PERFORM eventsvc.raise_error('internal', format('cannot make the api''s composite types %s',
                                                            (SELECT string_agg(x ->> 'name', ', ') FROM unnest(left_over) x)));
        END IF;
        pending := left_over;
    END LOOP;
END
$fn$;

-- Build (or rebuild) the api schema from the shards. Superuser. Returns what it did.
-- p_force rebuilds even when the shards' catalog has not changed.
CREATE FUNCTION eventsvc.sync_api(p_force boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
DECLARE
    shards jsonb;
    catalog jsonb;
    digest text;
    f jsonb;
    v jsonb;
    o record;
    mine text;
    first_partition integer;
    n_functions integer := 0;
    n_views integer := 0;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        PERFORM eventsvc.raise_error('forbidden', 'eventsvc.sync_api() is for superusers');
    END IF;
    first_partition := (SELECT s.partitions[1] FROM eventsvc.shards s ORDER BY s.name LIMIT 1);
    SELECT jsonb_agg(d ORDER BY d ->> 'name') INTO shards FROM eventsvc.describe_shards() d;
    -- (through the anonymous role's mapping: the catalog is no secret)
    PERFORM set_config('role', 'eventsvc_anon', true);
    catalog := eventsvc.shard_api_catalog(first_partition);
    PERFORM set_config('role', 'none', true);

    IF shards IS NULL OR (SELECT count(DISTINCT d ->> 'catalog') FROM jsonb_array_elements(shards) d) <> 1 THEN
        PERFORM eventsvc.raise_error('conflict', 'the shards do not have the same api',
            (SELECT string_agg(format('%s: eventsvc %s, api %s', d ->> 'name', d ->> 'version', d ->> 'catalog'), '; ')
               FROM jsonb_array_elements(shards) d),
            'Upgrade every shard to the same eventsvc version (ALTER EXTENSION eventsvc UPDATE), then sync again.');
    END IF;
    digest := md5(catalog::text);
    IF NOT p_force AND digest IS NOT DISTINCT FROM (SELECT c.api_catalog FROM eventsvc.cluster_config c) THEN
        RETURN jsonb_build_object('changed', false, 'catalog', digest);
    END IF;

    FOR o IN SELECT * FROM eventsvc.api_objects ORDER BY seq DESC LOOP
        EXECUTE o.drop_sql;
    END LOOP;
    DELETE FROM eventsvc.api_objects;

    PERFORM eventsvc.api_types(catalog -> 'types');
    -- the views first: a function may return a view's row (the hold calls return api.holds)
    FOR v IN SELECT * FROM jsonb_array_elements(catalog -> 'views') LOOP
        PERFORM eventsvc.api_view(v);
        n_views := n_views + 1;
    END LOOP;
    FOR f IN SELECT * FROM jsonb_array_elements(catalog -> 'functions') LOOP
        IF f ->> 'route' = 'proxy' THEN
            -- answered here: this package defines it, with the same signature
            SELECT pg_get_function_arguments(p.oid) || ' -> ' || pg_get_function_result(p.oid) INTO mine
              FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace AND p.proname = f ->> 'name';
            IF mine IS DISTINCT FROM (f ->> 'arguments') || ' -> ' || (f ->> 'result') THEN
                PERFORM eventsvc.raise_error('conflict', format('api.%s of the proxy does not match the shards''', f ->> 'name'),
                    format('Proxy: %s; shards: %s -> %s.', coalesce(mine, 'missing'), f ->> 'arguments', f ->> 'result'),
                    'Install the eventsvc_proxy version that goes with the shards'' eventsvc.');
            END IF;
            CONTINUE;
        END IF;
        CONTINUE WHEN f ->> 'route' = 'relationship';      -- below, after every function
        PERFORM eventsvc.api_function(f);
        n_functions := n_functions + 1;
    END LOOP;
    FOR f IN SELECT * FROM jsonb_array_elements(catalog -> 'functions') x WHERE x ->> 'route' = 'relationship' LOOP
        PERFORM eventsvc.api_relationship(f);
        n_functions := n_functions + 1;
    END LOOP;

    UPDATE eventsvc.cluster_config SET api_catalog = digest, synced_at = now();
    NOTIFY pgrst, 'reload schema';
    RETURN jsonb_build_object('changed', true, 'catalog', digest, 'functions', n_functions, 'views', n_views,
                              'shards', (SELECT jsonb_agg(d ->> 'name') FROM jsonb_array_elements(shards) d));
END
$fn$;
COMMENT ON FUNCTION eventsvc.sync_api(boolean) IS
    'Superuser: build the proxy''s api schema from the shards'' catalog (after adding shards or upgrading them).';
