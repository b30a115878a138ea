-- Proxy part 20: routing a call. Every api function here is a thin plpgsql
-- wrapper (made by eventsvc.sync_api) that asks eventsvc.route() where the call
-- goes, calls the shard's entry function through PL/Proxy (cluster
-- eventsvc_shards, one SQL/MED user mapping per API role), and hands the rows that
-- come back to eventsvc.answer(), which raises a shard's error again with the same
-- code, message, detail and hint, or returns the result.

-- Where a call goes: the tenant it is routed by (NULL when none), the logical
-- partition (NULL when it runs on every shard), the context the shard becomes the
-- caller from, and the route.
CREATE TYPE eventsvc.call_route AS (
    tenant     uuid,
    partition  integer,
    ctx        jsonb,
    route      text,
    everywhere boolean
);

-- One row of an entry function's answer (eventsvc.shard_generate_entries on a shard).
CREATE TYPE eventsvc.remote_row AS (evs_error jsonb, evs_result jsonb, evs_last boolean);

-- The lock a tenant's calls share and its move takes alone (eventsvc.move_tenant):
-- a call waits while its tenant moves, then reads the directory again.
-- (No SET clause, so that queries inline it.)
CREATE FUNCTION eventsvc.tenant_lock_key(p_tenant uuid) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT pg_catalog.hashtext(p_tenant::text) $$;

-- Route a call (p_route: see eventsvc.shard_routes on a shard; p_narrow: the tenant_id
-- argument of a catalogue function). The tenant is read the way a shard reads it,
-- but nothing is refused here: a call that names no tenant the directory knows runs
-- on some shard, which refuses it exactly as a single server would (the same error
-- at the same point). Only the tenants in the directory are locked and looked up.
-- The context a call carries to the shard, for that call only: the caller's role,
-- the claims PostgREST verified (or a trusted SQL client's tenant and user), the
-- request headers (Idempotency-Key); whether the caller's transaction is read-only
-- (PostgREST runs GET requests so: a writer called by GET fails there as on a single
-- server); whether the call is a dry run (eventsvc_proxy.dry_run = on: the shard rolls
-- the call back after it answered); and whether the call carries the request's rate
-- limits: the first shard call of a PostgREST request (request.path is set) that goes
-- where they apply (a caller with a tenant: the tenant's shard, which also answers the
-- calls any shard answers; another caller: any shard) does, with request.path, and the
-- shard takes the request's tokens from its buckets before the call does any work
-- (eventsvc.shard_enter; docs/scale-out.md "Rate limits"); the request's later calls do
-- not, so a request counts once, as on one server. Nothing else of the session reaches
-- a shard.
-- VOLATILE: after waiting for a move it reads the directory in a fresh snapshot.
-- Invoker (the caller's role decides its scope) and no SET clause: the api wrappers
-- that call it fix search_path (every name here is qualified).
CREATE FUNCTION eventsvc.route(p_route text, p_narrow uuid DEFAULT NULL) RETURNS eventsvc.call_route
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    claims_txt text := nullif(pg_catalog.current_setting('request.jwt.claims', true), '');
    tenant_txt text := nullif(pg_catalog.current_setting('app.current_tenant_id', true), '');
    claims jsonb;
    named text;
    configured boolean;
    by_tenant boolean := false;
    n integer;
    path text := nullif(pg_catalog.current_setting('request.path', true), '');
    home boolean;
    counts boolean;
    r eventsvc.call_route;
BEGIN
    IF claims_txt IS NOT NULL THEN
        BEGIN
            claims := claims_txt::jsonb;
        EXCEPTION WHEN OTHERS THEN
            claims := NULL;     -- unreadable: the shard says why, where a single server would
        END;
        IF pg_catalog.jsonb_typeof(claims -> 'tenant_id') = 'string' THEN
            named := claims ->> 'tenant_id';
        END IF;
        configured := pg_catalog.strpos(claims_txt, '"tenant_id"') > 0;
    ELSE
        named := tenant_txt;
        configured := named IS NOT NULL;
    END IF;

    IF p_route = 'tenant' THEN
        by_tenant := true;
    ELSIF p_route IN ('scope', 'catalogue') THEN
        -- eventsvc.caller_scope() on a shard: tenant users always act for their tenant,
        -- the service when it names one, everyone else sees the public catalogue
        by_tenant := CASE WHEN pg_catalog.pg_has_role(current_user, 'eventsvc_service', 'USAGE') THEN configured
                          ELSE pg_catalog.pg_has_role(current_user, 'eventsvc_user', 'USAGE') END;
    END IF;
    IF by_tenant AND named ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        r.tenant := named::uuid;
    ELSIF NOT by_tenant AND p_route = 'catalogue' THEN
        r.tenant := p_narrow;
    ELSIF p_route = 'any' AND named ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        -- any shard answers alike: the caller's own, which can apply its rate limits
        r.tenant := named::uuid;
    END IF;
    IF r.tenant IS NOT NULL THEN
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(1163285332, eventsvc.tenant_lock_key(r.tenant));
        SELECT d.partition INTO r.partition FROM eventsvc.tenants d WHERE d.id = r.tenant;
    END IF;
    home := r.partition IS NOT NULL AND (by_tenant OR p_route = 'any');
    r.route := CASE WHEN by_tenant THEN 'tenant' ELSE p_route END;
    r.everywhere := NOT by_tenant AND r.partition IS NULL AND p_route IN ('scope', 'catalogue', 'event', 'all', 'sum');
    IF r.partition IS NULL THEN
        r.tenant := NULL;
        IF NOT r.everywhere THEN
            SELECT c.partition_count INTO n FROM eventsvc.cluster_config c;
            IF n IS NULL THEN
                PERFORM eventsvc.raise_error('unavailable', 'this proxy has no shards yet', NULL,
                    'A superuser adds them with eventsvc.add_shard() (docs/scale-out.md).');
            END IF;
            r.partition := pg_catalog.floor(pg_catalog.random() * n)::integer;
        END IF;
    ELSIF NOT by_tenant THEN
        r.tenant := NULL;       -- narrowed to the tenant's shard, not acting for it
    END IF;
    -- the first call of a PostgREST request carries its rate limits (a transaction-local
    -- mark), if it goes where they can be applied: a caller naming a tenant to the
    -- tenant's shard, any other caller anywhere
    counts := path IS NOT NULL
              AND pg_catalog.current_setting('eventsvc_proxy.request_counted', true) IS DISTINCT FROM 'on'
              AND (home OR named IS NULL OR named !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
    IF counts THEN
        PERFORM pg_catalog.set_config('eventsvc_proxy.request_counted', 'on', true);
    END IF;
    r.ctx := pg_catalog.jsonb_build_object(
        'role', current_user, 'route', r.route,
        'dry_run', coalesce(pg_catalog.current_setting('eventsvc_proxy.dry_run', true), '') IN ('on', 'true', '1'),
        'read_only', pg_catalog.current_setting('transaction_read_only') = 'on',
        'rate_limits', counts,
        'settings', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
            'request.jwt.claims', claims_txt,
            'request.headers', nullif(pg_catalog.current_setting('request.headers', true), ''),
            'request.path', path,
            'app.current_tenant_id', tenant_txt,
            'app.current_user_id', nullif(pg_catalog.current_setting('app.current_user_id', true), ''))));
    RETURN r;
END
$$;

-- The routing columns of the directory, readable by the API roles (route runs as
-- the caller): which partition a tenant id lives in, and how many partitions.
GRANT SELECT (id, partition) ON eventsvc.tenants TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT SELECT (partition_count) ON eventsvc.cluster_config TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;

-- Raise a shard's error again: the same SQLSTATE, message, detail and hint, so an
-- HTTP client gets the same JSON as from a single server (and no "REMOTE ERROR").
-- (The one place the proxy raises by hand: the shard chose the code, from its
-- catalogue or PostgreSQL's.)
CREATE FUNCTION eventsvc.raise_remote(p_error jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    code text := coalesce(p_error ->> 'code', 'XX000');
    msg text := coalesce(p_error ->> 'message', 'the shard failed without a message');
    det text := p_error ->> 'detail';
    hnt text := p_error ->> 'hint';
BEGIN
    IF det IS NULL AND hnt IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg;
    ELSIF hnt IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, DETAIL = det;
    ELSIF det IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, HINT = hnt;
    ELSE
        RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, DETAIL = det, HINT = hnt;
    END IF;
END
$$;

-- The answer of a routed call from the rows its shards returned: each shard's
-- rows end with one row marked evs_last carrying its error, if any (and a scalar
-- result). Returns the result as jsonb (a set as an array of rows), or raises:
--   one shard        its error, else its result
--   scope, event     (every shard) the first shard that answered without an error;
--                    when none did, the first error that is not "not found", else
--                    the first "not found"
--   all              (every shard) the first error, else the sum of the results
--   catalogue        (every shard) the first error, else every shard's rows together
-- (No SET clause: called by the api wrappers, which fix search_path.)
CREATE FUNCTION eventsvc.answer(p_route eventsvc.call_route, p_rows eventsvc.remote_row[], p_set boolean)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    x eventsvc.remote_row;
    data jsonb := '[]';
    errors jsonb[] := '{}';
    results jsonb[] := '{}';
    total numeric := 0;
BEGIN
    FOREACH x IN ARRAY coalesce(p_rows, '{}') LOOP
        IF NOT x.evs_last THEN
            data := data || jsonb_build_array(x.evs_result);
            CONTINUE;
        END IF;
        IF x.evs_error IS NOT NULL THEN
            errors := array_append(errors, x.evs_error);
        ELSE
            results := array_append(results, CASE WHEN p_set THEN data ELSE x.evs_result END);
        END IF;
        data := '[]';
    END LOOP;
    IF cardinality(errors) + cardinality(results) = 0 THEN
        PERFORM eventsvc.raise_error('internal', 'no shard answered the call', NULL,
            'Check the proxy''s cluster (eventsvc.shards) and that every shard runs eventsvc with its entry functions.');
    END IF;

    IF NOT p_route.everywhere THEN
        IF cardinality(errors) > 0 THEN
            PERFORM eventsvc.raise_remote(errors[1]);
        END IF;
        RETURN results[1];
    ELSIF p_route.route IN ('scope', 'event') THEN
        IF cardinality(results) > 0 THEN
            RETURN results[1];
        END IF;
        PERFORM eventsvc.raise_remote(coalesce(
            (SELECT e FROM unnest(errors) WITH ORDINALITY u(e, o) WHERE e ->> 'code' <> 'PT404' ORDER BY o LIMIT 1),
            errors[1]));
    END IF;
    IF cardinality(errors) > 0 THEN
        PERFORM eventsvc.raise_remote(errors[1]);
    END IF;
    IF p_route.route = 'all' AND NOT p_set THEN
        SELECT sum((r #>> '{}')::numeric) INTO total FROM unnest(results) r WHERE jsonb_typeof(r) = 'number';
        RETURN to_jsonb(total);
    END IF;
    SELECT coalesce(jsonb_agg(e ORDER BY o, i), '[]') INTO data
      FROM unnest(results) WITH ORDINALITY u(r, o), jsonb_array_elements(r) WITH ORDINALITY v(e, i);
    RETURN data;
END
$$;

-- ---------------------------------------------------------------- shard calls of the proxy itself
-- What every shard says about itself (eventsvc.shard_describe there).
CREATE FUNCTION eventsvc.shard_describe() RETURNS SETOF jsonb
LANGUAGE plproxy AS $$
    CLUSTER 'eventsvc_shards';
    RUN ON ALL;
$$;

-- The api catalog of one shard (they are compared by eventsvc.sync_api).
CREATE FUNCTION eventsvc.shard_api_catalog(p_partition integer) RETURNS jsonb
LANGUAGE plproxy AS $$
    CLUSTER 'eventsvc_shards';
    RUN ON p_partition;
    SELECT eventsvc.shard_api_catalog();
$$;

-- What the proxy's pooled connection to a partition's shard carries between calls
-- (made as the calling API role: the same connection its calls use).
CREATE FUNCTION eventsvc.shard_session(p_partition integer) RETURNS jsonb
LANGUAGE plproxy AS $$
    CLUSTER 'eventsvc_shards';
    RUN ON p_partition;
    SELECT eventsvc.shard_session();
$$;
COMMENT ON FUNCTION eventsvc.shard_session(integer) IS
    'The state of the pooled connection to a partition''s shard, as the calling API role: pid, role, settings (empty between calls).';
