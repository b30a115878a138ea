-- Proxy part 40: administering the shards and the tenant directory. Superuser only.
-- The proxy reaches a shard for administration with dblink as its admin_user.

-- How the proxy reaches shard p_shard for administration.
CREATE FUNCTION eventsvc.shard_admin_conninfo(p_shard text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sh eventsvc.shards;
BEGIN
    SELECT * INTO sh FROM eventsvc.shards x WHERE x.name = p_shard;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found', format('no shard named %s', p_shard));
    END IF;
    RETURN format('host=%s port=%s dbname=%s user=%s application_name=eventsvc_proxy', sh.host, sh.port, sh.dbname, sh.admin_user);
END
$$;

-- Every shard's own description (eventsvc.shard_describe there), read through
-- the anonymous role's user mapping when a superuser asks (superusers have none).
CREATE FUNCTION eventsvc.describe_shards() RETURNS SETOF jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    as_anon boolean := (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user);
    d jsonb[];
BEGIN
    IF as_anon THEN
        PERFORM set_config('role', 'eventsvc_anon', true);
    END IF;
    d := ARRAY(SELECT x FROM eventsvc.shard_describe() x);
    IF as_anon THEN
        PERFORM set_config('role', 'none', true);
    END IF;
    RETURN QUERY SELECT * FROM unnest(d);
END
$$;

-- Run one statement on a shard as its admin user, in its own transaction there.
CREATE FUNCTION eventsvc.shard_exec(p_shard text, p_sql text) RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT public.dblink_exec(eventsvc.shard_admin_conninfo(p_shard), p_sql)
$$;

-- Run one query returning one jsonb value on a shard as its admin user.
CREATE FUNCTION eventsvc.shard_query(p_shard text, p_sql text) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT x.v FROM public.dblink(eventsvc.shard_admin_conninfo(p_shard), p_sql) AS x(v jsonb)
$$;

-- (Re)build how the proxy reaches the shards: the PL/Proxy cluster eventsvc_shards
-- (one connection string per logical partition, pointing at its shard; one user
-- mapping per API role, to that role's login on the shards) and one postgres_fdw
-- server per shard for the public catalogue. The cluster exists once every
-- partition has a shard.
CREATE FUNCTION eventsvc.rebuild_cluster() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer := (SELECT c.partition_count FROM eventsvc.cluster_config c);
    sh eventsvc.shards;
    opts text;
    m record;
    verb text;
BEGIN
    IF n IS NULL OR EXISTS (SELECT 1 FROM generate_series(0, n - 1) p
                             WHERE NOT EXISTS (SELECT 1 FROM eventsvc.shards x WHERE p = ANY (x.partitions))) THEN
        RETURN jsonb_build_object('complete', false);
    END IF;
    verb := CASE WHEN EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = 'eventsvc_shards') THEN 'SET ' ELSE '' END;
    SELECT string_agg(format('%sp%s %L', verb, p, format('host=%s port=%s dbname=%s', x.host, x.port, x.dbname)), ', ' ORDER BY p)
      INTO opts
      FROM generate_series(0, n - 1) p JOIN eventsvc.shards x ON p = ANY (x.partitions);
    IF verb = '' THEN
        EXECUTE format('CREATE SERVER eventsvc_shards FOREIGN DATA WRAPPER plproxy OPTIONS (connection_lifetime %L, %s)',
                       '1800', opts);
    ELSE
        EXECUTE format('ALTER SERVER eventsvc_shards OPTIONS (%s)', opts);
    END IF;
    FOR m IN SELECT * FROM (VALUES ('eventsvc_anon', 'eventsvc_proxy_anon'), ('eventsvc_user', 'eventsvc_proxy_user'),
                                   ('eventsvc_admin', 'eventsvc_proxy_admin'), ('eventsvc_service', 'eventsvc_proxy_service'),
                                   ('eventsvc_worker', 'eventsvc_proxy_worker')) AS x(api_role, login) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_user_mappings u WHERE u.srvname = 'eventsvc_shards' AND u.usename = m.api_role) THEN
            EXECUTE format('CREATE USER MAPPING FOR %I SERVER eventsvc_shards OPTIONS (user %L)', m.api_role, m.login);
        END IF;
    END LOOP;
    GRANT USAGE ON FOREIGN SERVER eventsvc_shards TO eventsvc_anon, eventsvc_user, eventsvc_admin, eventsvc_service, eventsvc_worker;

    FOR sh IN SELECT * FROM eventsvc.shards LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = 'eventsvc_fdw_' || sh.name) THEN
            EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L, fetch_size %L)',
                           'eventsvc_fdw_' || sh.name, sh.host, sh.port::text, sh.dbname, '200');
            -- the public catalogue is public: anyone reading it here reads it as the
            -- anonymous role's login on the shard
            EXECUTE format('CREATE USER MAPPING FOR PUBLIC SERVER %I OPTIONS (user %L, password_required %L)',
                           'eventsvc_fdw_' || sh.name, 'eventsvc_proxy_anon', 'false');
        END IF;
    END LOOP;
    RETURN jsonb_build_object('complete', true, 'partitions', n, 'shards', (SELECT count(*) FROM eventsvc.shards));
END
$$;

-- Add a shard that runs eventsvc (CREATE EXTENSION done, the server reachable as
-- p_admin_user from here): it gets the next free id slot and owns p_partitions of
-- the p_partition_count logical partitions (fixed by the first shard). Its reference
-- data becomes the first shard's. When every partition has a shard the cluster is
-- built, and the api schema made again if it was made before.
CREATE FUNCTION eventsvc.add_shard(p_name text, p_host text, p_port integer, p_dbname text, p_partitions integer[],
                                   p_partition_count integer DEFAULT NULL, p_admin_user text DEFAULT 'postgres')
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer := (SELECT c.partition_count FROM eventsvc.cluster_config c);
    free_slot integer;
    sh eventsvc.shards;
    first_shard text := (SELECT x.name FROM eventsvc.shards x ORDER BY x.added_at, x.name LIMIT 1);
    built jsonb;
BEGIN
    IF n IS NULL THEN
        IF p_partition_count IS NULL THEN
            PERFORM eventsvc.raise_error('validation', 'the first shard sets the partition count', NULL,
                'Pass p_partition_count, a power of two such as 64.');
        END IF;
        INSERT INTO eventsvc.cluster_config (partition_count) VALUES (p_partition_count);
        n := p_partition_count;
    ELSIF p_partition_count IS DISTINCT FROM n AND p_partition_count IS NOT NULL THEN
        PERFORM eventsvc.raise_error('validation', format('the shards have %s partitions, not %s', n, p_partition_count));
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_partitions) p WHERE p IS NULL OR p < 0 OR p >= n) THEN
        PERFORM eventsvc.raise_error('validation', format('partitions are numbered from 0 to %s', n - 1));
    END IF;
    IF EXISTS (SELECT 1 FROM eventsvc.shards x WHERE x.partitions && p_partitions) THEN
        PERFORM eventsvc.raise_error('conflict', 'a partition can live on one shard only',
            format('Partitions %s already have a shard.',
                   ARRAY(SELECT unnest(p_partitions) INTERSECT SELECT unnest(x.partitions) FROM eventsvc.shards x ORDER BY 1)));
    END IF;
    SELECT min(g) INTO free_slot FROM generate_series(0, 1023) g WHERE g NOT IN (SELECT x.slot FROM eventsvc.shards x);
    INSERT INTO eventsvc.shards (name, slot, host, port, dbname, admin_user, partitions)
    VALUES (p_name, free_slot, p_host, p_port, p_dbname, p_admin_user,
            (SELECT array_agg(DISTINCT p ORDER BY p) FROM unnest(p_partitions) p))
    RETURNING * INTO sh;
    PERFORM eventsvc.shard_query(sh.name, format('SELECT eventsvc.shard_setup(%L, %s, %s, %L)', sh.name, sh.slot, n, sh.partitions));
    IF first_shard IS NOT NULL THEN
        PERFORM eventsvc.sync_reference(first_shard, sh.name);
    END IF;
    built := eventsvc.rebuild_cluster();
    IF (built ->> 'complete')::boolean AND (SELECT c.api_catalog FROM eventsvc.cluster_config c) IS NOT NULL THEN
        PERFORM eventsvc.sync_api(true);
    END IF;
    RETURN to_jsonb(sh) || jsonb_build_object('cluster', built);
END
$$;
COMMENT ON FUNCTION eventsvc.add_shard(text, text, integer, text, integer[], integer, text) IS
    'Superuser: add an eventsvc server as a shard owning some logical partitions (docs/scale-out.md).';

-- The shard whose partitions hold p_partition.
CREATE FUNCTION eventsvc.shard_of(p_partition integer) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.name FROM eventsvc.shards s WHERE p_partition = ANY (s.partitions)
$$;

-- The partition a tenant gets on a shard (by its hash among the shard's partitions),
-- or over all partitions when no shard is named.
CREATE FUNCTION eventsvc.partition_for(p_tenant uuid, p_shard text) RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN p_shard IS NULL
                THEN hashtext(p_tenant::text) & (c.partition_count - 1)
                ELSE (SELECT s.partitions[1 + abs(hashtext(p_tenant::text) % cardinality(s.partitions))]
                        FROM eventsvc.shards s WHERE s.name = p_shard) END
      FROM eventsvc.cluster_config c
$$;

-- A new tenant: in the directory, and on the shard of its partition (by its hash,
-- or on p_shard). As eventsvc.create_tenant on a single server.
CREATE FUNCTION eventsvc.create_tenant(p_name text, p_slug text, p_id uuid DEFAULT gen_random_uuid(),
                                       p_shard text DEFAULT NULL)
RETURNS uuid LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part integer := eventsvc.partition_for(p_id, p_shard);
BEGIN
    IF part IS NULL THEN
        PERFORM eventsvc.raise_error('unavailable', 'no shard to place the tenant on', NULL,
            'Add shards first (eventsvc.add_shard), or name an existing shard.');
    END IF;
    INSERT INTO eventsvc.tenants (id, name, slug, partition) VALUES (p_id, p_name, p_slug, part);
    PERFORM eventsvc.shard_exec(eventsvc.shard_of(part),
        format('SELECT eventsvc.create_tenant(%L, %L, %L); INSERT INTO eventsvc.shard_placement (tenant_id, partition) VALUES (%L, %s)',
               p_name, p_slug, p_id, p_id, part));
    RETURN p_id;
END
$$;

-- Tenants that already live on a shard (a server that ran alone before it joined,
-- or rows loaded there directly): each gets a partition of that shard if it has
-- none, and an entry in the directory. Returns how many.
CREATE FUNCTION eventsvc.register_tenants(p_shard text) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
    part integer;
    n integer := 0;
BEGIN
    FOR t IN SELECT * FROM jsonb_to_recordset(eventsvc.shard_query(p_shard,
                 'SELECT coalesce(jsonb_agg(jsonb_build_object(''id'', t.id, ''name'', t.name, ''slug'', t.slug, ''is_active'', t.is_active, '
                 '''partition'', pl.partition)), ''[]'') FROM eventsvc.tenants t LEFT JOIN eventsvc.shard_placement pl ON pl.tenant_id = t.id'))
             AS x(id uuid, name text, slug text, is_active boolean, partition integer) LOOP
        part := coalesce(t.partition, eventsvc.partition_for(t.id, p_shard));
        IF t.partition IS NULL THEN
            PERFORM eventsvc.shard_exec(p_shard, format('INSERT INTO eventsvc.shard_placement (tenant_id, partition) VALUES (%L, %s)', t.id, part));
        END IF;
        INSERT INTO eventsvc.tenants AS d (id, name, slug, is_active, partition)
        VALUES (t.id, t.name, t.slug, t.is_active, part)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, slug = excluded.slug, is_active = excluded.is_active,
                                       partition = excluded.partition, updated_at = now();
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- Activate or deactivate a tenant, on its shard and in the directory.
CREATE FUNCTION eventsvc.set_tenant_active(p_id uuid, p_active boolean) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t eventsvc.tenants;
BEGIN
    UPDATE eventsvc.tenants SET is_active = p_active, updated_at = now() WHERE id = p_id RETURNING * INTO t;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found', format('tenant %s is not in the directory', p_id));
    END IF;
    PERFORM eventsvc.shard_exec(eventsvc.shard_of(t.partition),
        format('UPDATE eventsvc.tenants SET is_active = %L, updated_at = now() WHERE id = %L', p_active, p_id));
END
$$;

-- ---------------------------------------------------------------- reference data
-- Currencies and categories must be the same rows, ids included, on every shard:
-- events refer to categories by id, and a tenant keeps those ids when it moves.

-- Each shard's reference fingerprint and whether it matches the others.
CREATE FUNCTION eventsvc.reference_check() RETURNS TABLE (shard text, fingerprint text, same boolean)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d jsonb[] := ARRAY(SELECT eventsvc.describe_shards());
BEGIN
    RETURN QUERY
    SELECT x ->> 'name', x ->> 'reference',
           (SELECT count(DISTINCT y ->> 'reference') FROM unnest(d) y) = 1
      FROM unnest(d) x ORDER BY 1;
END
$$;
COMMENT ON FUNCTION eventsvc.reference_check() IS
    'Superuser: every shard''s fingerprint of its reference data (currencies, categories) and whether all agree.';

-- Make p_to's reference data p_from's (every other shard's when p_to is NULL):
-- rows inserted or updated by key, and rows p_from does not have deleted unless an
-- event still uses them (then it refuses and says which).
CREATE FUNCTION eventsvc.sync_reference(p_from text, p_to text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    currencies jsonb := eventsvc.shard_query(p_from, 'SELECT coalesce(jsonb_agg(c), ''[]'') FROM eventsvc.currencies c');
    categories jsonb := eventsvc.shard_query(p_from, 'SELECT coalesce(jsonb_agg(c), ''[]'') FROM eventsvc.event_categories c');
    target text;
    n integer := 0;
BEGIN
    FOR target IN SELECT s.name FROM eventsvc.shards s WHERE s.name <> p_from AND (p_to IS NULL OR s.name = p_to) ORDER BY 1 LOOP
        PERFORM eventsvc.shard_exec(target, format($r$
            SET session_replication_role = replica;
            INSERT INTO eventsvc.currencies AS c SELECT * FROM jsonb_populate_recordset(NULL::eventsvc.currencies, %1$L)
                ON CONFLICT (code) DO UPDATE SET minor_unit = excluded.minor_unit, name = excluded.name;
            DELETE FROM eventsvc.currencies c WHERE c.code NOT IN (SELECT x.code FROM jsonb_populate_recordset(NULL::eventsvc.currencies, %1$L) x);
            DO $d$
            DECLARE
                used text;
            BEGIN
                SELECT string_agg(c.slug, ', ') INTO used FROM eventsvc.event_categories c
                 WHERE c.id NOT IN (SELECT x.id FROM jsonb_populate_recordset(NULL::eventsvc.event_categories, %2$L) x)
                   AND EXISTS (SELECT 1 FROM eventsvc.events e WHERE e.primary_category_id = c.id);
                IF used IS NOT NULL THEN
                    PERFORM eventsvc.raise_error('conflict',
                        format('categories %%s are used by events here but are not the reference shard''s', used), NULL,
                        'Give those events the reference shard''s categories first.');
                END IF;
            END
            $d$;
            DELETE FROM eventsvc.event_categories c
             WHERE c.id NOT IN (SELECT x.id FROM jsonb_populate_recordset(NULL::eventsvc.event_categories, %2$L) x);
            INSERT INTO eventsvc.event_categories AS c SELECT * FROM jsonb_populate_recordset(NULL::eventsvc.event_categories, %2$L)
                ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name, slug = excluded.slug,
                    description = excluded.description, icon = excluded.icon, color = excluded.color,
                    display_order = excluded.display_order, is_active = excluded.is_active, created_at = excluded.created_at;
            RESET session_replication_role;$r$, currencies, categories));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION eventsvc.sync_reference(text, text) IS
    'Superuser: make the reference data (currencies, categories) of the other shards that of p_from, ids included.';

-- Each shard as it describes itself: partitions, tenants, version, reference and
-- api fingerprints, readiness (its worker included).
CREATE FUNCTION eventsvc.shard_status() RETURNS TABLE (shard text, status jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT d ->> 'name', d FROM eventsvc.describe_shards() d ORDER BY 1
$$;
COMMENT ON FUNCTION eventsvc.shard_status() IS
    'Each shard''s own description: partitions, tenants, eventsvc version, fingerprints, health (worker, outbox, broker).';
