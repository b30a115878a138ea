-- Proxy part 50: moving a tenant to another shard (docs/scale-out.md "Moving a
-- tenant"). Superuser, outside a transaction block: CALL eventsvc.move_tenant(...).
--
--   1. The tenant's calls through the proxy wait (the move holds the tenant's lock
--      that every routed call shares, eventsvc.route); calls in flight finish first.
--   2. Copy: every row of the tenant is read on the source in one snapshot and
--      written on the target with triggers off (the rows move, they do not change),
--      ids kept; the target's id counters move past them, the tenant is placed in a
--      partition of the target, and the copy is compared with the source (per
--      table: row count and md5 of the rows).
--   3. The source deletes the tenant's rows and compares what it deleted with what
--      was copied: a row written on the source since the copy began (its worker,
--      a cron job) makes them differ, and the whole move is rolled back.
--   4. The target commits, then the source; the directory switches to the target;
--      the seat counters of the tenant's sections are reset on both shards.
--   5. The lock is released: the waiting calls go to the target.
-- (Not two-phase commit: a transaction that changed tenants or events may not be
-- prepared on a shard, which keeps per-session copies of those rows.) A move that
-- stopped between the commits (the proxy or a shard went away) is finished or undone
-- by eventsvc.move_recover(): while the source still holds the tenant, the target's
-- copy is removed; once only the target does, the directory follows it.

CREATE PROCEDURE eventsvc.move_tenant(p_tenant uuid, p_to text, p_batch integer DEFAULT 1000)
LANGUAGE plpgsql AS $$
-- (a procedure that commits cannot have a SET clause: every name is qualified)
DECLARE
    t eventsvc.tenants;
    src eventsvc.shards;
    dst eventsvc.shards;
    part integer;
    move_id bigint;
    copied jsonb;
    found_here jsonb;
    released jsonb;
    tbl record;
    batch jsonb;
    k integer;
    moved bigint := 0;
    sections text;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        PERFORM eventsvc.raise_error('forbidden', 'eventsvc.move_tenant is for superusers');
    END IF;
    SELECT * INTO t FROM eventsvc.tenants d WHERE d.id = p_tenant;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found', pg_catalog.format('tenant %s is not in the directory', p_tenant));
    END IF;
    SELECT * INTO src FROM eventsvc.shards s WHERE t.partition = ANY (s.partitions);
    SELECT * INTO dst FROM eventsvc.shards s WHERE s.name = p_to;
    IF dst.name IS NULL THEN
        PERFORM eventsvc.raise_error('not_found', pg_catalog.format('no shard named %s', p_to));
    END IF;
    IF dst.name = src.name THEN
        PERFORM eventsvc.raise_error('conflict', pg_catalog.format('tenant %s already lives on shard %s', p_tenant, p_to));
    END IF;
    part := eventsvc.partition_for(p_tenant, dst.name);
    INSERT INTO eventsvc.tenant_moves (tenant_id, from_shard, to_shard, to_partition)
    VALUES (p_tenant, src.name, dst.name, part) RETURNING id INTO move_id;
    COMMIT;     -- the journal outlives whatever happens below

    BEGIN
        -- 1. from here on the tenant's calls wait; the ones in flight finish first
        PERFORM pg_catalog.pg_advisory_xact_lock(1163285332, eventsvc.tenant_lock_key(p_tenant));
        PERFORM public.dblink_connect('evs_move_read', eventsvc.shard_admin_conninfo(src.name));
        PERFORM public.dblink_connect('evs_move_drop', eventsvc.shard_admin_conninfo(src.name));
        PERFORM public.dblink_connect('evs_move_write', eventsvc.shard_admin_conninfo(dst.name));

        -- 2. copy, in one snapshot of the source
        PERFORM public.dblink_exec('evs_move_read', 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        SELECT x.d INTO copied FROM public.dblink('evs_move_read',
            pg_catalog.format('SELECT eventsvc.shard_tenant_digest(%L)', p_tenant)) AS x(d jsonb);
        SELECT x.d INTO found_here FROM public.dblink('evs_move_write',
            pg_catalog.format('SELECT eventsvc.shard_tenant_digest(%L)', p_tenant)) AS x(d jsonb);
        IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(found_here) e WHERE (e.value ->> 'rows')::bigint > 0) THEN
            PERFORM eventsvc.raise_error('conflict', pg_catalog.format('shard %s already holds rows of tenant %s', dst.name, p_tenant),
                NULL, 'A move that stopped half way? See eventsvc.tenant_moves and eventsvc.move_recover().');
        END IF;
        PERFORM public.dblink_exec('evs_move_write', 'BEGIN');
        PERFORM public.dblink_exec('evs_move_write', 'SET LOCAL session_replication_role = replica');
        FOR tbl IN SELECT * FROM public.dblink('evs_move_read',
                       'SELECT rel::text, tenant_column, columns FROM eventsvc.shard_tenant_tables() WHERE NOT derived')
                       AS x(rel text, tenant_column text, columns text) LOOP
            PERFORM public.dblink_open('evs_move_read', 'evs_move_rows',
                pg_catalog.format('SELECT to_jsonb(x)::text FROM (SELECT %s FROM %s r WHERE r.%I = %L) x',
                                  tbl.columns, tbl.rel, tbl.tenant_column, p_tenant));
            LOOP
                SELECT pg_catalog.jsonb_agg(x.r::jsonb), pg_catalog.count(*) INTO batch, k
                  FROM public.dblink_fetch('evs_move_read', 'evs_move_rows', p_batch) AS x(r text);
                EXIT WHEN k = 0;
                PERFORM public.dblink_exec('evs_move_write', pg_catalog.format(
                    'INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM pg_catalog.jsonb_populate_recordset(NULL::%s, %L::jsonb)',
                    tbl.rel, tbl.columns, tbl.columns, tbl.rel, batch));
                moved := moved + k;
                EXIT WHEN k < p_batch;
            END LOOP;
            PERFORM public.dblink_close('evs_move_read', 'evs_move_rows');
        END LOOP;
        PERFORM x.v FROM public.dblink('evs_move_write',
            pg_catalog.format('SELECT eventsvc.shard_adopt_tenant(%L, %s)::text', p_tenant, part)) AS x(v text);
        SELECT x.d INTO found_here FROM public.dblink('evs_move_write',
            pg_catalog.format('SELECT eventsvc.shard_tenant_digest(%L)', p_tenant)) AS x(d jsonb);
        IF found_here IS DISTINCT FROM copied THEN
            PERFORM eventsvc.raise_error('internal',
                pg_catalog.format('the copy of tenant %s on shard %s differs from its rows on shard %s', p_tenant, dst.name, src.name),
                pg_catalog.format('Copied %s; written %s.', copied, found_here));
        END IF;
        SELECT x.s INTO sections FROM public.dblink('evs_move_read',
            pg_catalog.format('SELECT coalesce(array_agg(id), ''{}'')::text FROM eventsvc.event_capacity WHERE tenant_id = %L', p_tenant))
            AS x(s text);

        -- 3. the source lets go of exactly what was copied
        PERFORM public.dblink_exec('evs_move_drop', 'BEGIN');
        PERFORM public.dblink_exec('evs_move_drop', 'SET LOCAL session_replication_role = replica');
        SELECT x.d INTO released FROM public.dblink('evs_move_drop',
            pg_catalog.format('SELECT eventsvc.shard_tenant_digest(%L, true)', p_tenant)) AS x(d jsonb);
        IF released IS DISTINCT FROM copied THEN
            PERFORM eventsvc.raise_error('conflict',
                pg_catalog.format('rows of tenant %s changed on shard %s while they were copied', p_tenant, src.name),
                pg_catalog.format('Copied %s; found at the end %s.', copied, released), 'Nothing moved; run the move again.');
        END IF;

        -- 4. the target commits first: until the source does, both hold the tenant
        --    and the source (where the directory points) is the one that counts
        PERFORM public.dblink_exec('evs_move_write', 'COMMIT');
    EXCEPTION WHEN OTHERS THEN
        -- nothing was committed anywhere: undo both sides and say why
        PERFORM eventsvc.move_abandon(move_id, SQLERRM);
        RAISE;
    END;
    PERFORM public.dblink_exec('evs_move_drop', 'COMMIT');
    UPDATE eventsvc.tenants SET partition = part, updated_at = pg_catalog.now() WHERE id = p_tenant;
    PERFORM public.dblink_exec('evs_move_read', 'COMMIT');
    -- the shared-memory seat counters of the tenant's sections start again from the rows
    PERFORM x.v FROM public.dblink('evs_move_drop',
        pg_catalog.format('SELECT eventsvc.shard_reset_counters(%L)::text', sections)) AS x(v text);
    PERFORM x.v FROM public.dblink('evs_move_write',
        pg_catalog.format('SELECT eventsvc.shard_reset_counters(%L)::text', sections)) AS x(v text);
    PERFORM public.dblink_disconnect(c) FROM pg_catalog.unnest(public.dblink_get_connections()) c
      WHERE c IN ('evs_move_read', 'evs_move_drop', 'evs_move_write');
    UPDATE eventsvc.tenant_moves
       SET state = 'done', rows_moved = moved, finished_at = pg_catalog.now(),
           detail = pg_catalog.jsonb_build_object('tables', copied, 'to_partition', part)
     WHERE id = move_id;
    COMMIT;     -- 5. the waiting calls go to the target
END
$$;
COMMENT ON PROCEDURE eventsvc.move_tenant(uuid, text, integer) IS
    'Superuser: move a tenant and all its rows to shard p_to while its calls wait (docs/scale-out.md "Moving a tenant").';

-- A move that failed before anything committed: roll back what the shards hold
-- open for it and record why (in the journal row, once the caller's transaction
-- commits; eventsvc.move_recover() finds the move either way).
CREATE FUNCTION eventsvc.move_abandon(p_move bigint, p_why text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c text;
BEGIN
    FOR c IN SELECT x FROM unnest(public.dblink_get_connections()) x
              WHERE x IN ('evs_move_read', 'evs_move_drop', 'evs_move_write') LOOP
        BEGIN
            PERFORM public.dblink_exec(c, 'ROLLBACK');
        EXCEPTION WHEN OTHERS THEN
            NULL;   -- the connection is gone, and its transaction with it
        END;
        PERFORM public.dblink_disconnect(c);
    END LOOP;
    UPDATE eventsvc.tenant_moves SET state = 'failed', finished_at = now(),
                                     detail = jsonb_build_object('error', p_why)
     WHERE id = p_move;
END
$$;

-- Finish or undo moves that stopped half way (the proxy or a shard went away
-- between the two commits): while the source still holds the tenant, the target's
-- copy goes (the move is undone); once only the target holds it, the directory
-- follows (the move is finished). Returns what it did per move.
CREATE FUNCTION eventsvc.move_recover() RETURNS TABLE (move_id bigint, tenant_id uuid, outcome text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m eventsvc.tenant_moves;
    on_source boolean;
    on_target boolean;
    placed text := 'SELECT to_jsonb(count(*) > 0) FROM eventsvc.shard_placement WHERE tenant_id = %L';
BEGIN
    FOR m IN SELECT * FROM eventsvc.tenant_moves x WHERE x.state = 'copying' ORDER BY x.id LOOP
        move_id := m.id;
        tenant_id := m.tenant_id;
        on_source := (eventsvc.shard_query(m.from_shard, format(placed, m.tenant_id)) #>> '{}')::boolean;
        on_target := (eventsvc.shard_query(m.to_shard, format(placed, m.tenant_id)) #>> '{}')::boolean;
        IF on_source THEN
            IF on_target THEN
                PERFORM eventsvc.shard_query(m.to_shard, format(
                    'SET session_replication_role = replica; SELECT eventsvc.shard_tenant_digest(%L, true)', m.tenant_id));
            END IF;
            UPDATE eventsvc.tenant_moves x SET state = 'failed', finished_at = now(),
                   detail = jsonb_build_object('recovered', 'undone') WHERE x.id = m.id;
            outcome := 'undone: the tenant stays on ' || m.from_shard;
        ELSIF on_target THEN
            UPDATE eventsvc.tenants d SET partition = m.to_partition, updated_at = now() WHERE d.id = m.tenant_id;
            UPDATE eventsvc.tenant_moves x SET state = 'done', finished_at = now(),
                   detail = jsonb_build_object('recovered', 'finished') WHERE x.id = m.id;
            outcome := 'finished: the tenant lives on ' || m.to_shard;
        ELSE
            outcome := 'the tenant is on neither shard: restore it from a backup';
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION eventsvc.move_recover() IS
    'Superuser: finish or undo tenant moves that stopped between their commits (docs/scale-out.md "Moving a tenant").';
