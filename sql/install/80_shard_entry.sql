-- Part 80: the shard entry layer (docs/scale-out.md). When one server is not enough,
-- tenants are spread over several eventsvc servers (shards) behind a PL/Proxy proxy
-- (the eventsvc_proxy package in proxy/). This part is what a server needs to be a
-- shard: which logical partitions it owns, which tenants live here (the placement
-- check), ids that stay unique across servers, the proxy's login roles, and one
-- entry function per api function and view, generated from the catalog at the end
-- of the install and upgrade scripts (part 99, eventsvc.shard_generate_entries).
-- The same file is the upgrade fragment sql/upgrade/1.0--1.1/80_shard_entry.sql.

-- ---------------------------------------------------------------- proxy login roles
-- The proxy connects to a shard as one of these, chosen by a PL/Proxy user mapping
-- per API role, so a call made as eventsvc_user on the proxy runs as
-- eventsvc_proxy_user here and can become eventsvc_user and nothing more. They may
-- only call the entry functions; pg_hba.conf should let them in from the proxy's
-- address only (docs/scale-out.md). eventsvc_proxy_anon inherits the anonymous
-- role's rights (the public catalogue, read by the proxy through postgres_fdw);
-- the others have none of their own until an entry function switches role.
DO $roles$
DECLARE
    spec record;
    strong text;
BEGIN
    -- an existing role of these names is reused only without powers that escape RLS
    SELECT string_agg(r.rolname, ', ' ORDER BY r.rolname) INTO strong FROM pg_roles r
     WHERE r.rolname LIKE 'eventsvc\_proxy\_%'
       AND (r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication);
    IF strong IS NOT NULL THEN
        PERFORM eventsvc.raise_error('forbidden', format('roles %s already exist with powers eventsvc does not give them', strong),
            'eventsvc roles must be NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION.',
            'Drop the roles or remove those attributes, then run CREATE EXTENSION again.');
    END IF;
    FOR spec IN SELECT x.*, EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = x.name) AS present
                  FROM (VALUES ('eventsvc_proxy_anon', 'eventsvc_anon', 'INHERIT'),
                               ('eventsvc_proxy_user', 'eventsvc_user', 'NOINHERIT'),
                               ('eventsvc_proxy_admin', 'eventsvc_admin', 'NOINHERIT'),
                               ('eventsvc_proxy_service', 'eventsvc_service', 'NOINHERIT'),
                               ('eventsvc_proxy_worker', 'eventsvc_worker', 'NOINHERIT')) AS x(name, api_role, inherit) LOOP
        IF NOT spec.present THEN
            EXECUTE format('CREATE ROLE %I LOGIN %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
                           spec.name, spec.inherit);
        END IF;
        EXECUTE format('GRANT %I TO %I', spec.api_role, spec.name);
    END LOOP;
END
$roles$;

-- Entry functions only: created by eventsvc.shard_generate_entries(), never by hand.
CREATE SCHEMA eventsvc_shard;
REVOKE ALL ON SCHEMA eventsvc_shard FROM PUBLIC;
COMMENT ON SCHEMA eventsvc_shard IS
    'eventsvc shard entry functions, one per api function and view; called by the proxy''s login roles only';
GRANT USAGE ON SCHEMA eventsvc_shard, eventsvc TO eventsvc_proxy_anon, eventsvc_proxy_user, eventsvc_proxy_admin,
                                                 eventsvc_proxy_service, eventsvc_proxy_worker;

-- ---------------------------------------------------------------- ids across servers
-- The three identity columns count in steps of 1024; each shard starts at its own
-- slot (0..1023, eventsvc.shard_setup), so no two servers ever hand out the same id,
-- and ids of one server still grow, which the outbox relay's per-event order relies
-- on. A tenant that moves brings its rows with their ids, and the target's counters
-- are moved past them (eventsvc.shard_adopt_tenant), so its later rows still sort
-- after its earlier ones. Rows written before 1.1 keep their ids: every key holds
-- tenant_id, so they cannot collide with another tenant's rows anywhere.
-- (An update keeps where each counter stands: eventsvc.shard_setup moves it to the
-- server's slot when the server joins a proxy.)
ALTER TABLE eventsvc.event_audit_log ALTER COLUMN id SET INCREMENT BY 1024 SET MINVALUE 0 SET START WITH 1024;
ALTER TABLE eventsvc.content_audit_log ALTER COLUMN id SET INCREMENT BY 1024 SET MINVALUE 0 SET START WITH 1024;
ALTER TABLE eventsvc.outbox ALTER COLUMN id SET INCREMENT BY 1024 SET MINVALUE 0 SET START WITH 1024;

-- ---------------------------------------------------------------- what this server owns
-- One row when this server is a shard: its name (the proxy's name for it), its id
-- slot, how many logical partitions the whole set has (a power of two: PL/Proxy maps
-- a hash to hash & (count - 1)) and which of them live here.
CREATE TABLE eventsvc.shard_config (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    name            text NOT NULL CHECK (name ~ '^[a-z0-9_]{1,40}$'),
    slot            integer NOT NULL CHECK (slot BETWEEN 0 AND 1023),
    partition_count integer NOT NULL CHECK (partition_count BETWEEN 1 AND 65536
                                            AND partition_count & (partition_count - 1) = 0),
    partitions      integer[] NOT NULL CHECK (cardinality(partitions) >= 1 AND array_position(partitions, NULL) IS NULL),
    configured_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE eventsvc.shard_config IS
    'This server as a shard: name, id slot, partition count and the partitions it owns (eventsvc.shard_setup).';

-- The tenants that live here, each in one logical partition of this server. A call
-- the proxy routes here for any other tenant, or for this tenant under another
-- partition, is refused (PT421): the proxy's directory or cluster is stale.
CREATE TABLE eventsvc.shard_placement (
    tenant_id  uuid PRIMARY KEY REFERENCES eventsvc.tenants (id),
    partition  integer NOT NULL CHECK (partition >= 0),
    placed_at  timestamptz NOT NULL DEFAULT now()
);
-- Tenant data like any other: RLS forced, and no API role has a policy or a grant;
-- the proxy's login roles read it (eventsvc.shard_enter), nobody writes it but
-- superusers (eventsvc.shard_adopt_tenant, the proxy's eventsvc.create_tenant).
ALTER TABLE eventsvc.shard_placement ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.shard_placement FORCE ROW LEVEL SECURITY;
COMMENT ON TABLE eventsvc.shard_placement IS
    'Tenants that live on this shard and their logical partition (the placement check of the entry functions).';
REVOKE ALL ON TABLE eventsvc.shard_config, eventsvc.shard_placement FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('eventsvc.shard_config', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.shard_placement', '');

-- Make this server a shard (or change its partitions). Superuser only. The id
-- counters move to this server's slot, above every id already handed out.
CREATE FUNCTION eventsvc.shard_setup(p_name text, p_slot integer, p_partition_count integer, p_partitions integer[])
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad integer;
    c eventsvc.shard_config;
BEGIN
    SELECT p INTO bad FROM unnest(p_partitions) p WHERE p IS NULL OR p < 0 OR p >= p_partition_count LIMIT 1;
    IF FOUND THEN
        PERFORM eventsvc.raise_error('validation', format('partition %s is not one of 0 to %s', bad, p_partition_count - 1),
            NULL, 'Partitions are numbered from 0 to the partition count minus one.');
    END IF;
    INSERT INTO eventsvc.shard_config AS s (name, slot, partition_count, partitions)
    VALUES (p_name, p_slot, p_partition_count, (SELECT array_agg(DISTINCT p ORDER BY p) FROM unnest(p_partitions) p))
    ON CONFLICT (singleton) DO UPDATE
       SET name = excluded.name, slot = excluded.slot, partition_count = excluded.partition_count,
           partitions = excluded.partitions, configured_at = now()
    RETURNING * INTO c;
    IF EXISTS (SELECT 1 FROM eventsvc.shard_placement pl WHERE NOT pl.partition = ANY (c.partitions)) THEN
        PERFORM eventsvc.raise_error('conflict', 'tenants placed on this server would lose their partition',
            format('Placed in partitions %s; the new set is %s.',
                   (SELECT array_agg(DISTINCT pl.partition ORDER BY pl.partition) FROM eventsvc.shard_placement pl), c.partitions),
            'Move those tenants first (docs/scale-out.md "Moving a tenant").');
    END IF;
    PERFORM eventsvc.shard_align_ids(NULL);
    RETURN to_jsonb(c);
END
$$;
COMMENT ON FUNCTION eventsvc.shard_setup(text, integer, integer, integer[]) IS
    'Superuser: make this server the shard p_name with id slot p_slot, owning p_partitions of p_partition_count.';

-- Move every id counter to this shard's slot, past p_floor and past every id in its
-- table (after a tenant's rows were copied in, their ids are the floor).
CREATE FUNCTION eventsvc.shard_align_ids(p_tenant uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
    slot integer := coalesce((SELECT c.slot FROM eventsvc.shard_config c), 0);
    top bigint;
    cur bigint;
    seq text;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('eventsvc.event_audit_log'::regclass), ('eventsvc.content_audit_log'),
                                   ('eventsvc.outbox')) AS x(rel) LOOP
        seq := pg_get_serial_sequence(t.rel::text, 'id');
        EXECUTE format('SELECT max(id) FROM %s WHERE $1 IS NULL OR tenant_id = $1', t.rel) INTO top USING p_tenant;
        EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1024 END FROM %s', seq) INTO cur;
        top := greatest(coalesce(top, 0), cur);
        -- the next id is the first one above top in this server's residue class
        top := (top - slot) / 1024 * 1024 + slot;
        PERFORM setval(seq, top, true);
    END LOOP;
END
$$;

-- ---------------------------------------------------------------- entering a call
-- The proxy's login roles read which partitions and tenants live here (the
-- placement check below runs as them, before any role switch).
GRANT SELECT ON eventsvc.shard_config, eventsvc.shard_placement
    TO eventsvc_proxy_anon, eventsvc_proxy_user, eventsvc_proxy_admin, eventsvc_proxy_service, eventsvc_proxy_worker;
CREATE POLICY proxy_routing ON eventsvc.shard_placement FOR SELECT
    TO eventsvc_proxy_anon, eventsvc_proxy_user, eventsvc_proxy_admin, eventsvc_proxy_service, eventsvc_proxy_worker
    USING (true);

-- Run first by every entry function, as the proxy's login role. The placement
-- check refuses (PT421) a call the proxy sent to the wrong server: p_tenant is the
-- tenant the proxy routed by (NULL for calls not routed by tenant: the public
-- catalogue, service lookups, reference data), p_partition the partition it
-- addressed (NULL when it ran the call on every shard). Then the call becomes the
-- caller: its API role, its claims and settings, read-only when the caller's
-- transaction is (PostgREST's GET requests), all for this transaction only
-- (PL/Proxy runs each call as its own transaction, so nothing outlives it on the
-- pooled connection). The first call of an HTTP request through the proxy
-- (p_ctx.rate_limits, with request.path) then takes the request's tokens from this
-- shard's buckets, exactly as PostgREST's pre-request check does on one server
-- (eventsvc.check_request: the tenant's requests and reservations, an anonymous
-- client address's requests): over a limit the call is refused before it does any
-- work, and the proxy raises the refusal again (PGRST: HTTP 429 with Retry-After).
-- Invoker rights on purpose: PostgreSQL lets the login role
-- become only the API role it is a member of, whatever the context says. No SET
-- clause: the entry functions that call it fix search_path (every name here is
-- qualified). Returns this shard's name.
CREATE FUNCTION eventsvc.shard_enter(p_tenant uuid, p_partition integer, p_ctx jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    settings jsonb := coalesce(p_ctx -> 'settings', '{}');
    claims jsonb;
    named_text text;
    named uuid;
    c eventsvc.shard_config;
    placed integer;
    s record;
BEGIN
    IF pg_catalog.jsonb_typeof(settings) <> 'object' THEN
        PERFORM eventsvc.raise_error('validation', 'the call context has no settings object');
    END IF;
    SELECT * INTO c FROM eventsvc.shard_config;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('misdirected', 'this server is not configured as a shard', NULL,
            'A superuser runs eventsvc.shard_setup() when the server joins the proxy.');
    END IF;
    IF p_partition IS NOT NULL AND NOT p_partition = ANY (c.partitions) THEN
        PERFORM eventsvc.raise_error('misdirected', pg_catalog.format('partition %s does not live on shard %s', p_partition, c.name),
            pg_catalog.format('Shard %s owns partitions %s of %s.', c.name, c.partitions, c.partition_count),
            'The proxy''s cluster definition is stale: compare eventsvc.shards on the proxy with eventsvc.shard_config here.');
    END IF;
    -- the tenant the call names, read the way eventsvc.current_tenant_id() reads it
    IF coalesce(settings ->> 'request.jwt.claims', '') <> '' THEN
        BEGIN
            claims := (settings ->> 'request.jwt.claims')::jsonb;
        EXCEPTION WHEN OTHERS THEN
            claims := NULL;     -- unreadable claims name no tenant; current_tenant_id() says why
        END;
        IF pg_catalog.jsonb_typeof(claims -> 'tenant_id') = 'string' THEN
            named_text := claims ->> 'tenant_id';
        END IF;
    ELSE
        named_text := settings ->> 'app.current_tenant_id';
    END IF;
    IF named_text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        named := named_text::uuid;
    END IF;
    IF p_tenant IS NOT NULL THEN
        IF named IS DISTINCT FROM p_tenant THEN
            PERFORM eventsvc.raise_error('misdirected',
                pg_catalog.format('the call was routed for tenant %s but names another tenant', p_tenant), NULL,
                'The proxy routes by the tenant of the claims or of app.current_tenant_id; it must pass the same one.');
        END IF;
        SELECT pl.partition INTO placed FROM eventsvc.shard_placement pl WHERE pl.tenant_id = p_tenant;
        IF placed IS NULL OR placed IS DISTINCT FROM p_partition THEN
            PERFORM eventsvc.raise_error('misdirected', pg_catalog.format('tenant %s does not live on shard %s', p_tenant, c.name),
                CASE WHEN placed IS NULL THEN 'No such tenant is placed here.'
                     ELSE pg_catalog.format('It is placed in partition %s here, not %s.', placed, p_partition) END,
                'The proxy''s tenant directory is stale (a tenant move not finished?): check eventsvc.tenants on the proxy.');
        END IF;
    ELSIF p_ctx ->> 'route' = 'tenant' AND named IS NOT NULL
          AND EXISTS (SELECT 1 FROM eventsvc.shard_placement pl WHERE pl.tenant_id = named) THEN
        PERFORM eventsvc.raise_error('misdirected',
            pg_catalog.format('tenant %s lives on shard %s but the proxy did not route the call by it', named, c.name), NULL,
            'The tenant is missing from the proxy''s directory (eventsvc.tenants on the proxy).');
    END IF;

    IF NOT coalesce(p_ctx ->> 'role' IN ('eventsvc_anon', 'eventsvc_user', 'eventsvc_admin', 'eventsvc_service',
                                                    'eventsvc_worker'), false) THEN
        PERFORM eventsvc.raise_error('forbidden', 'the proxy may only act as an eventsvc API role',
            pg_catalog.format('The call context names role %s.', coalesce(p_ctx ->> 'role', 'none')));
    END IF;
    PERFORM pg_catalog.set_config('role', p_ctx ->> 'role', true);
    IF (p_ctx ->> 'read_only')::boolean THEN
        PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
    END IF;
    FOR s IN SELECT * FROM pg_catalog.jsonb_each_text(settings) LOOP
        IF s.key NOT IN ('request.jwt.claims', 'request.headers', 'request.path', 'app.current_tenant_id',
                         'app.current_user_id') THEN
            PERFORM eventsvc.raise_error('forbidden', pg_catalog.format('the proxy may not pass setting %s', s.key));
        END IF;
        IF s.value IS NOT NULL THEN
            PERFORM pg_catalog.set_config(s.key, s.value, true);
        END IF;
    END LOOP;
    IF coalesce((p_ctx ->> 'rate_limits')::boolean, false) THEN
        PERFORM eventsvc.check_request();
    END IF;
    RETURN c.name;
END
$$;

-- ---------------------------------------------------------------- routing decisions
-- How the proxy routes each api function and view; anything not listed here is
-- routed by the caller's tenant. The proxy reads this list with the catalog
-- (eventsvc.shard_api_catalog) and builds its api schema from both. A new function
-- that reads across tenants or looks an event up by id alone needs a row here.
--   tenant     the caller's tenant (claims, else app.current_tenant_id); a call that
--              names no known tenant runs on any shard, which refuses it as it would
--   scope      tenant users and admins, or the service naming a tenant: their
--              tenant; everyone else (anonymous): every shard, the one that finds
--              the event answers
--   catalogue  like scope, and the tenant_id argument narrows to one tenant; else
--              every shard, the pages merged on the proxy
--   event      every shard, the one that finds the event answers (service lookups)
--   all        every shard, the counts summed (sweeps)
--   any        any one shard (reference data, pure functions)
--   proxy      answered by the proxy itself (tokens, health)
--   relationship  (not listed: every computed relationship of part 72) made again on
--              the proxy from its SQL, over the proxy's views; no shard entry
--   views: tenant, any, sum (one row: counts summed, flags and-ed, latest times),
--          catalogue (postgres_fdw over every shard, filters and order pushed down)
-- A catalogue function's pages are merged on the proxy: `merge` names its page
-- arguments, the largest page it accepts, the argument that narrows it to one
-- tenant, the row key and the order of its rows. A new function that reads across
-- tenants gets its line here (CREATE OR REPLACE in its upgrade fragment too).
CREATE FUNCTION eventsvc.shard_routes(OUT kind "char", OUT name text, OUT route text, OUT why text, OUT merge jsonb)
RETURNS SETOF record LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM (VALUES
    ('f'::"char", 'search_events', 'catalogue', 'public catalogue across tenants; a tenant sees its own, tenant_id narrows',
     '{"limit": "page_limit", "offset": "page_offset", "max_limit": 100, "narrow": "tenant_id", "key": "id",
       "order": [["rank", "DESC"], ["starts_at", "NULLS LAST"], ["id", ""]]}'::jsonb),
    ('f', 'featured_events', 'catalogue', 'public catalogue across tenants; a tenant sees its own, tenant_id narrows',
     '{"limit": "page_limit", "max_limit": 100, "narrow": "tenant_id", "key": "id",
       "order": [["featured_order", "NULLS LAST"], ["starts_at", "NULLS LAST"], ["id", ""]]}'),
    ('f', 'event_occurrences', 'scope', 'anonymous read by event id', NULL),
    ('f', 'event_content', 'scope', 'anonymous read by event id', NULL),
    ('f', 'event_metadata', 'scope', 'anonymous read by event id', NULL),
    ('f', 'event_rating', 'scope', 'anonymous read by event id', NULL),
    ('f', 'event_reviews', 'scope', 'anonymous read by event id', NULL),
    ('f', 'event_view_count', 'scope', 'anonymous read by event id', NULL),
    ('f', 'record_view', 'scope', 'anonymous write by event id (counted where the event lives)', NULL),
    ('f', 'internal_event', 'event', 'service lookup by event id across tenants', NULL),
    ('f', 'internal_event_by_pda', 'event', 'service lookup by blockchain PDA across tenants', NULL),
    ('f', 'internal_scan_stats', 'event', 'service lookup by event id across tenants', NULL),
    ('f', 'update_blockchain_status', 'event', 'blockchain callback by event id across tenants', NULL),
    ('f', 'expire_holds', 'all', 'sweeps every tenant', NULL),
    ('f', 'close_postponement_windows', 'all', 'sweeps every tenant', NULL),
    ('f', 'preview_occurrences', 'any', 'pure function of its arguments', NULL),
    ('f', 'category_tree', 'any', 'reference data, identical on every shard', NULL),
    ('f', 'health_live', 'any', 'the proxy and a shard answer', NULL),
    ('f', 'health_ready', 'proxy', 'every shard ready, reference data and api identical', NULL),
    ('f', 'revoke_token', 'proxy', 'tokens are checked by the proxy''s pre-request', NULL),
    ('f', 'token_status', 'proxy', 'tokens are checked by the proxy''s pre-request', NULL),
    ('v', 'categories', 'any', 'reference data, identical on every shard', NULL),
    ('v', 'event_transitions', 'any', 'the state machine, identical on every shard', NULL),
    ('v', 'worker_status', 'sum', 'one worker per shard, summed', NULL),
    ('v', 'public_events', 'catalogue', 'public catalogue across tenants', NULL)
    ) AS r(kind, name, route, why, merge)
$$;
COMMENT ON FUNCTION eventsvc.shard_routes() IS
    'How the proxy routes api functions (kind f) and views (kind v) that are not routed by the caller''s tenant; docs/scale-out.md.';

-- ---------------------------------------------------------------- what the proxy reads
-- The api surface of this server as the proxy needs it to build identical
-- functions and views (under "views": the api's views and its catalogue table): arguments with defaults, results, volatility, grants to the
-- API roles, comments, the route of each, and every eventsvc type and api composite
-- type they use (enums first, then composite types).
CREATE FUNCTION eventsvc.shard_api_catalog() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE roles(r) AS (
        VALUES ('eventsvc_anon'), ('eventsvc_user'), ('eventsvc_admin'), ('eventsvc_service'), ('eventsvc_worker')),
    fns AS (
        SELECT p.*, CASE WHEN eventsvc.is_api_relationship(p.oid) THEN 'relationship' ELSE coalesce(r.route, 'tenant') END AS route,
               r.merge
          FROM pg_proc p
          LEFT JOIN eventsvc.shard_routes() r ON r.kind = 'f' AND r.name = p.proname
         WHERE p.pronamespace = 'api'::regnamespace AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype),
    views AS (
        SELECT c.*, coalesce(r.route, 'tenant') AS route
          FROM pg_class c
          LEFT JOIN eventsvc.shard_routes() r ON r.kind = 'v' AND r.name = c.relname
         WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'm', 'r')),
    -- the types of arguments, results and view columns, and the types inside those
    used(typ) AS (
        SELECT unnest(p.proargtypes::oid[] || p.prorettype || coalesce(p.proallargtypes, '{}')) FROM fns p
        UNION SELECT a.atttypid FROM views v JOIN pg_attribute a ON a.attrelid = v.oid AND a.attnum > 0 AND NOT a.attisdropped
        UNION SELECT inner_type.oid
                FROM used u JOIN pg_type t ON t.oid = u.typ
               CROSS JOIN LATERAL (SELECT t.typelem WHERE t.typelem <> 0
                                   UNION ALL
                                   SELECT a.atttypid FROM pg_attribute a
                                    WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0
                                      AND NOT a.attisdropped) AS inner_type(oid)),
    types AS (
        SELECT t.* FROM pg_type t
         WHERE t.oid IN (SELECT typ FROM used) AND t.typtype IN ('e', 'c')
           AND (t.typnamespace = 'eventsvc'::regnamespace
                -- the api's own composite types (api.price_line), not its views' row types
                OR t.typnamespace = 'api'::regnamespace
                   AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))
    SELECT jsonb_build_object(
        'functions', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'name', p.proname,
            'identity', p.oid::regprocedure::text,
            'arguments', pg_get_function_arguments(p.oid),
            'identity_arguments', pg_get_function_identity_arguments(p.oid),
            'result', pg_get_function_result(p.oid),
            'returns_set', p.proretset,
            'return_type', format_type(p.prorettype, NULL),
            'return_kind', CASE WHEN p.proallargtypes IS NOT NULL AND 'o' = ANY (p.proargmodes)
                                     OR 't' = ANY (p.proargmodes) THEN 'table'
                                WHEN (SELECT typtype FROM pg_type WHERE oid = p.prorettype) = 'c' THEN 'composite'
                                ELSE 'scalar' END,
            'columns', (SELECT coalesce(jsonb_agg(jsonb_build_array(n, format_type(t, NULL)) ORDER BY o), '[]')
                          FROM unnest(p.proargnames, p.proallargtypes, p.proargmodes) WITH ORDINALITY AS x(n, t, m, o)
                         WHERE m IN ('o', 't')),
            'in_arguments', (SELECT coalesce(jsonb_agg(jsonb_build_array(coalesce(n, ''), format_type(t, NULL), m) ORDER BY o), '[]')
                               FROM unnest(coalesce(p.proargnames, array_fill(''::text, ARRAY[cardinality(coalesce(p.proallargtypes, p.proargtypes::oid[]))])),
                                           coalesce(p.proallargtypes, p.proargtypes::oid[]),
                                           coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[cardinality(p.proargtypes::oid[])])))
                                    WITH ORDINALITY AS x(n, t, m, o)
                              WHERE m IN ('i', 'b', 'v')),
            'volatility', p.provolatile,
            'strict', p.proisstrict,
            'grants', (SELECT coalesce(jsonb_agg(r ORDER BY r), '[]') FROM roles WHERE has_function_privilege(r, p.oid, 'EXECUTE')),
            'comment', obj_description(p.oid, 'pg_proc'),
            'route', p.route, 'merge', p.merge,
            'language', (SELECT l.lanname FROM pg_language l WHERE l.oid = p.prolang),
            'rows', CASE WHEN p.proretset THEN p.prorows END,
            'body', CASE WHEN p.route = 'relationship' THEN p.prosrc END) ORDER BY p.oid::regprocedure::text) FROM fns p), '[]'),
        'views', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'name', v.relname,
            'columns', (SELECT jsonb_agg(jsonb_build_array(a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
                          FROM pg_attribute a WHERE a.attrelid = v.oid AND a.attnum > 0 AND NOT a.attisdropped),
            'grants', (SELECT coalesce(jsonb_agg(r ORDER BY r), '[]') FROM roles WHERE has_table_privilege(r, v.oid, 'SELECT')),
            'comment', obj_description(v.oid, 'pg_class'),
            'route', v.route) ORDER BY v.relname) FROM views v), '[]'),
        'types', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'name', t.oid::regtype::text,
            'kind', t.typtype,
            'labels', (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
            'attributes', (SELECT jsonb_agg(jsonb_build_array(a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
                             FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
            ORDER BY t.typtype DESC, t.oid::regtype::text) FROM types t), '[]'))
$$;
COMMENT ON FUNCTION eventsvc.shard_api_catalog() IS
    'The api functions, views and types of this server with their routes, as the proxy reads them to build its api schema.';

-- Reference data must be identical on every shard (ids included: events refer to
-- categories by id, and a tenant that moves keeps them). The proxy compares this
-- on every shard (its health_ready and eventsvc.reference_check()).
CREATE FUNCTION eventsvc.shard_reference_fingerprint() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT md5(coalesce((SELECT string_agg(c::text, E'\n' ORDER BY c.code) FROM eventsvc.currencies c), '') || E'\n--\n' ||
               coalesce((SELECT string_agg((c.id, c.parent_id, c.name, c.slug, c.description, c.icon, c.color,
                                            c.display_order, c.is_active)::text, E'\n' ORDER BY c.id)
                           FROM eventsvc.event_categories c), ''))
$$;

-- What this shard is, in one call: the proxy's sync, health and checks read it
-- (readiness as api.health_ready judges it here, in `health`).
CREATE FUNCTION eventsvc.shard_describe() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'name', c.name, 'slot', c.slot, 'partition_count', c.partition_count, 'partitions', to_jsonb(c.partitions),
        'version', (SELECT x.extversion FROM pg_extension x WHERE x.extname = 'eventsvc'),
        'tenants', (SELECT count(*) FROM eventsvc.shard_placement),
        'reference', eventsvc.shard_reference_fingerprint(),
        'catalog', md5(eventsvc.shard_api_catalog()::text),
        'health', eventsvc.health_checks())
      FROM (SELECT 1) one LEFT JOIN eventsvc.shard_config c ON true
$$;

-- What a pooled proxy connection carries between calls: the backend, the role in
-- use and the settings a call may set (all empty between calls). For operators and
-- the scale-out test.
CREATE FUNCTION eventsvc.shard_session() RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'pid', pg_backend_pid(), 'session_user', session_user, 'current_user', current_user,
        'settings', jsonb_build_object(
            'request.jwt.claims', current_setting('request.jwt.claims', true),
            'request.headers', current_setting('request.headers', true),
            'app.current_tenant_id', current_setting('app.current_tenant_id', true),
            'app.current_user_id', current_setting('app.current_user_id', true),
            'role', current_setting('role')))
$$;

-- ---------------------------------------------------------------- the generator
-- One entry function per api function (computed relationships aside: the proxy makes
-- those from their SQL) and view (or table), eventsvc_shard.<name>
-- (views: <name>__rows), with the api function's arguments after three of its own: the
-- tenant the proxy routed by, the partition it addressed and the call context
-- (role, claims and settings, route, dry_run). It checks the placement, becomes the
-- caller (eventsvc.shard_enter), calls the api function and returns rows of
-- (evs_error, evs_result, evs_last): the result as jsonb (one row per result row
-- for sets and views), then a last row carrying the error, if any, as data:
-- {code, message, detail, hint}. A remote error would make PL/Proxy drop its
-- connection to the shard; an error returned as data keeps it, and the proxy
-- raises it again with the same code, message, detail and hint. With dry_run the
-- call is rolled back here after it answered.
-- Every entry is dropped and made again, so a changed api function gets a matching
-- entry; part 99 runs this at the end of the install and of every upgrade script.
CREATE FUNCTION eventsvc.shard_generate_entries() RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $gen$
DECLARE
    f record;
    v record;
    a record;
    args text;
    call_args text;
    call_stmt text;
    n integer := 0;
    members boolean := false;
    handler constant text := $h$
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS evs_code = RETURNED_SQLSTATE, evs_message = MESSAGE_TEXT,
                                evs_detail = PG_EXCEPTION_DETAIL, evs_hint = PG_EXCEPTION_HINT;
        IF NOT evs_dry_run THEN
            evs_result := NULL;
            evs_error := jsonb_build_object('code', evs_code, 'message', evs_message,
                                            'detail', nullif(evs_detail, ''), 'hint', nullif(evs_hint, ''));
        END IF;
    END;
    evs_last := true;
    RETURN NEXT;
END$h$;
    head constant text := $h$
DECLARE
    evs_code text;
    evs_message text;
    evs_detail text;
    evs_hint text;
    evs_dry_run boolean := false;
BEGIN
    evs_last := false;
    BEGIN
        PERFORM eventsvc.shard_enter(evs_tenant, evs_partition, evs_ctx);
$h$;
    dry constant text := $h$
        IF (evs_ctx ->> 'dry_run')::boolean THEN
            evs_dry_run := true;
            PERFORM eventsvc.raise_error('internal', 'dry run: the call is rolled back');
        END IF;$h$;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS fn FROM pg_proc p WHERE p.pronamespace = 'eventsvc_shard'::regnamespace LOOP
        BEGIN
            EXECUTE format('DROP FUNCTION %s', f.fn);
        EXCEPTION WHEN dependent_objects_still_exist THEN
            -- run by hand, not by an extension script: the entries stay members of eventsvc
            EXECUTE format('ALTER EXTENSION eventsvc DROP FUNCTION %s', f.fn);
            EXECUTE format('DROP FUNCTION %s', f.fn);
            members := true;
        END;
    END LOOP;

    FOR f IN SELECT p.oid, p.proname, p.proretset, p.prorettype
               FROM pg_proc p
              WHERE p.pronamespace = 'api'::regnamespace AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype
                AND NOT eventsvc.is_api_relationship(p.oid)
              ORDER BY p.oid LOOP
        args := '';
        call_args := '';
        FOR a IN SELECT row_number() OVER (ORDER BY x.o) AS o, coalesce(nullif(x.n, ''), 'evs_arg_' || x.o) AS n, x.t, x.m
                   FROM pg_proc p,
                        unnest(coalesce(p.proargnames, array_fill(''::text, ARRAY[cardinality(coalesce(p.proallargtypes, p.proargtypes::oid[]))])),
                               coalesce(p.proallargtypes, p.proargtypes::oid[]),
                               coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[cardinality(p.proargtypes::oid[])])))
                        WITH ORDINALITY AS x(n, t, m, o)
                  WHERE p.oid = f.oid AND x.m IN ('i', 'b', 'v') ORDER BY x.o LOOP
            IF a.n LIKE 'evs\_%' THEN
                PERFORM eventsvc.raise_error('internal',
                    format('api.%s has an argument named %s: names starting with evs_ belong to the shard entries', f.proname, a.n));
            END IF;
            args := args || format(', %I %s', a.n, format_type(a.t, NULL));
            call_args := call_args || CASE WHEN call_args = '' THEN '' ELSE ', ' END
                         || CASE WHEN a.m = 'v' THEN 'VARIADIC ' ELSE '' END || '$' || (3 + a.o);
        END LOOP;
        IF f.proretset THEN
            call_stmt := format('        RETURN QUERY SELECT NULL::jsonb, to_jsonb(evs_row), false FROM api.%I(%s) AS evs_row;',
                            f.proname, call_args);
        ELSE
            call_stmt := format('        evs_result := to_jsonb(api.%I(%s));', f.proname, call_args);
        END IF;
        EXECUTE format($f$CREATE FUNCTION eventsvc_shard.%I(evs_tenant uuid, evs_partition integer, evs_ctx jsonb%s)
RETURNS TABLE (evs_error jsonb, evs_result jsonb, evs_last boolean)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS %L$f$,
                       f.proname, args, head || call_stmt || dry || handler);
        n := n + 1;
    END LOOP;

    FOR v IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'm', 'r') ORDER BY c.relname LOOP
        EXECUTE format($f$CREATE FUNCTION eventsvc_shard.%I(evs_tenant uuid, evs_partition integer, evs_ctx jsonb)
RETURNS TABLE (evs_error jsonb, evs_result jsonb, evs_last boolean)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS %L$f$,
                       v.relname || '__rows',
                       head || format('        RETURN QUERY SELECT NULL::jsonb, to_jsonb(evs_row), false FROM api.%I AS evs_row;',
                                      v.relname) || handler);
        n := n + 1;
    END LOOP;

    FOR f IN SELECT p.oid::regprocedure AS fn FROM pg_proc p WHERE p.pronamespace = 'eventsvc_shard'::regnamespace LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO eventsvc_proxy_anon, eventsvc_proxy_user, eventsvc_proxy_admin, '
                       'eventsvc_proxy_service, eventsvc_proxy_worker', f.fn);
        EXECUTE format('COMMENT ON FUNCTION %s IS %L', f.fn,
                       'Shard entry for the proxy (generated by eventsvc.shard_generate_entries).');
        IF members THEN
            EXECUTE format('ALTER EXTENSION eventsvc ADD FUNCTION %s', f.fn);
        END IF;
    END LOOP;
    RETURN n;
END
$gen$;
COMMENT ON FUNCTION eventsvc.shard_generate_entries() IS
    'Drops and makes again one entry function per api function and view in schema eventsvc_shard (end of every install and upgrade script).';

-- ---------------------------------------------------------------- moving a tenant
-- The copy itself is run by the proxy (eventsvc.move_tenant there, docs/scale-out.md):
-- it reads the tenant's rows here with eventsvc.shard_tenant_tables() and writes
-- them on the target, then these functions finish each side. Superuser only.

-- The tables a tenant's rows live in, in the order a copy writes them (the tenant,
-- its venues and events before the rows that refer to them, so that the triggers
-- that rebuild the derived tables find them), with the columns a copy writes
-- (generated columns are computed again), the column that names the tenant, and
-- whether the table is derived (eventsvc.derived_tables(): not copied, rebuilt on the
-- target by its triggers, which run in replica mode too).
CREATE FUNCTION eventsvc.shard_tenant_tables()
RETURNS TABLE (rel regclass, tenant_column text, columns text, derived boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT t, CASE WHEN t = 'eventsvc.tenants'::regclass THEN 'id' ELSE 'tenant_id' END,
           (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
             WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''),
           t IN (SELECT eventsvc.derived_tables())
      FROM (SELECT eventsvc.tenant_tables() UNION SELECT eventsvc.derived_tables()) AS x(t)
     WHERE t <> 'eventsvc.shard_placement'::regclass
     ORDER BY array_position(ARRAY['eventsvc.tenants', 'eventsvc.venues', 'eventsvc.events']::regclass[], t) NULLS LAST, t::text;
END
$$;

-- On the target, in the transaction that wrote the copied rows: the tenant now
-- lives here, in p_partition, and this server's id counters move past its ids.
CREATE FUNCTION eventsvc.shard_adopt_tenant(p_tenant uuid, p_partition integer) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM eventsvc.shard_config c WHERE p_partition = ANY (c.partitions)) THEN
        PERFORM eventsvc.raise_error('misdirected', format('partition %s does not live on this server', p_partition));
    END IF;
    INSERT INTO eventsvc.shard_placement (tenant_id, partition) VALUES (p_tenant, p_partition);
    PERFORM eventsvc.shard_align_ids(p_tenant);
END
$$;

-- Per table (derived ones left out), the count and an md5 of the tenant's rows: what the mover copies
-- (computed on the source in the snapshot it copies from) and what the target
-- then holds must be the same. With p_delete the rows go, placement first (calls
-- for the tenant are refused from here on), and the summary is of what was
-- deleted: a row written on the source since the copy began makes it differ from
-- the copy's, and the move is rolled back on both sides. Deleting runs with
-- triggers off (session_replication_role = replica, set by the caller): the rows
-- are not being cancelled or audited, they are moving.
CREATE FUNCTION eventsvc.shard_tenant_digest(p_tenant uuid, p_delete boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
    r jsonb := '{}';
    part jsonb;
BEGIN
    IF p_delete THEN
        IF current_setting('session_replication_role') <> 'replica' THEN
            PERFORM eventsvc.raise_error('conflict', 'deleting a tenant''s rows runs with session_replication_role = replica',
                NULL, 'It is a step of the proxy''s eventsvc.move_tenant.');
        END IF;
        DELETE FROM eventsvc.shard_placement WHERE tenant_id = p_tenant;
    END IF;
    -- deleting: the events first (the triggers that rebuild derived rows then find
    -- no event to rebuild them for), the tenant last
    FOR t IN SELECT * FROM eventsvc.shard_tenant_tables()
              ORDER BY CASE WHEN NOT p_delete THEN 0 WHEN rel = 'eventsvc.events'::regclass THEN -1
                            WHEN rel = 'eventsvc.tenants'::regclass THEN 1 ELSE 0 END LOOP
        EXECUTE format(CASE WHEN p_delete THEN 'WITH d AS (DELETE FROM %2$s x WHERE x.%3$I = $1 RETURNING %1$s) '
                            ELSE 'WITH d AS (SELECT %1$s FROM %2$s x WHERE x.%3$I = $1) ' END
                       || 'SELECT jsonb_build_object(''rows'', count(*), ''md5'', md5(coalesce(string_agg(d::text, E''\n'' ORDER BY d::text), ''''))) FROM d',
                       t.columns, t.rel, t.tenant_column)
            INTO part USING p_tenant;
        IF NOT t.derived THEN
            r := r || jsonb_build_object(t.rel::text, part);
        END IF;
    END LOOP;
    RETURN r;
END
$$;

-- After a move commits, on both servers: the shared-memory seat counters of the
-- tenant's sections are dropped (the next reservation rebuilds them from the rows
-- here), and so are the expiry sweep's horizon and every backend's copies of
-- reference rows (eventsvc.escrow_reset does all three). Returns how many sections.
CREATE FUNCTION eventsvc.shard_reset_counters(p_sections uuid[]) RETURNS integer
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT count(*)::integer FROM (SELECT eventsvc.escrow_reset(s) FROM unnest(coalesce(p_sections, '{}')) s) x
$$;

REVOKE ALL ON FUNCTION eventsvc.shard_setup(text, integer, integer, integer[]), eventsvc.shard_align_ids(uuid),
                       eventsvc.shard_enter(uuid, integer, jsonb), eventsvc.shard_routes(), eventsvc.shard_api_catalog(),
                       eventsvc.shard_reference_fingerprint(), eventsvc.shard_describe(),
                       eventsvc.shard_session(), eventsvc.shard_generate_entries(), eventsvc.shard_tenant_tables(),
                       eventsvc.shard_adopt_tenant(uuid, integer), eventsvc.shard_tenant_digest(uuid, boolean), eventsvc.shard_reset_counters(uuid[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.raise_error(text, text, text, text), eventsvc.shard_enter(uuid, integer, jsonb), eventsvc.shard_api_catalog(), eventsvc.shard_reference_fingerprint(), eventsvc.shard_describe(),
                          eventsvc.shard_session()
    TO eventsvc_proxy_anon, eventsvc_proxy_user, eventsvc_proxy_admin, eventsvc_proxy_service, eventsvc_proxy_worker;
