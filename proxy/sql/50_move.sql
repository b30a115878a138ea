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
--   4. Both sides are prepared (two-phase commit), then committed, target first;
--      the directory switches to the target; the seat counters of the tenant's
--      sections are reset on both shards.
--   5. The lock is released: the waiting calls go to the target.
-- The shards need max_prepared_transactions > 0. A move that stopped half way
-- (the proxy died) is finished or undone by eventsvc.move_recover().

CREATE PROCEDURE eventsvc.move_tenant(p_tenant uuid, p_to text, p_batch integer DEFAULT 1000)
LANGUAGE plpgsql AS $$
-- (a procedure that commits cannot have a SET clause: every name is qualified)
DECLARE
    t eventsvc.tenants;
    src eventsvc.shards;
    dst eventsvc.shards;
    part integer;
    move_id bigint;
    move_gid text;
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
        RAISE EXCEPTION 'eventsvc.move_tenant is for superusers' USING ERRCODE = '42501';
    END IF;
    SELECT * INTO t FROM eventsvc.tenants d WHERE d.id = p_tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % is not in the directory', p_tenant USING ERRCODE = 'PT404';
    END IF;
    SELECT * INTO src FROM eventsvc.shards s WHERE t.partition = ANY (s.partitions);
    SELECT * INTO dst FROM eventsvc.shards s WHERE s.name = p_to;
    IF dst.name IS NULL THEN
        RAISE EXCEPTION 'no shard named %', p_to USING ERRCODE = 'PT404';
    END IF;
    IF dst.name = src.name THEN
        RAISE EXCEPTION 'tenant % already lives on shard %', p_tenant, p_to USING ERRCODE = 'PT409';
    END IF;
    part := eventsvc.partition_for(p_tenant, dst.name);
    INSERT INTO eventsvc.tenant_moves (tenant_id, from_shard, to_shard, to_partition, gid)
    VALUES (p_tenant, src.name, dst.name, part, 'pending') RETURNING id INTO move_id;
    move_gid := 'eventsvc_move_' || move_id;
    UPDATE eventsvc.tenant_moves m SET gid = move_gid WHERE m.id = move_id;
    COMMIT;     -- the journal outlives whatever happens below

    BEGIN
        -- 1. from here on the tenant's calls wait; the ones in flight finish first
        PERFORM pg_catalog.pg_advisory_xact_lock(1163285332, eventsvc.tenant_lock_key(p_tenant));
        PERFORM public.dblink_connect('evs_move_read', eventsvc.shard_admin_conninfo(src));
        PERFORM public.dblink_connect('evs_move_drop', eventsvc.shard_admin_conninfo(src));
        PERFORM public.dblink_connect('evs_move_write', eventsvc.shard_admin_conninfo(dst));

        -- 2. copy, in one snapshot of the source
        PERFORM public.dblink_exec('evs_move_read', 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        SELECT x.d INTO copied FROM public.dblink('evs_move_read',
            pg_catalog.format('SELECT eventsvc.shard_tenant_digest(%L)', p_tenant)) AS x(d jsonb);
        SELECT x.d INTO found_here FROM public.dblink('evs_move_write',
            pg_catalog.format('SELECT eventsvc.shard_tenant_digest(%L)', p_tenant)) AS x(d jsonb);
        IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(found_here) e WHERE (e.value ->> 'rows')::bigint > 0) THEN
            RAISE EXCEPTION 'shard % already holds rows of tenant %', dst.name, p_tenant USING ERRCODE = 'PT409',
                HINT = 'A move that stopped half way? See eventsvc.tenant_moves and eventsvc.move_recover().';
        END IF;
        PERFORM public.dblink_exec('evs_move_write', 'BEGIN');
        PERFORM public.dblink_exec('evs_move_write', 'SET LOCAL session_replication_role = replica');
        FOR tbl IN SELECT * FROM public.dblink('evs_move_read',
                       'SELECT rel::text, tenant_column, columns FROM eventsvc.shard_tenant_tables()')
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
        PERFORM public.dblink_exec('evs_move_write', pg_catalog.format('SELECT eventsvc.shard_adopt_tenant(%L, %s)', p_tenant, part));
        SELECT x.d INTO found_here FROM public.dblink('evs_move_write',
            pg_catalog.format('SELECT eventsvc.shard_tenant_digest(%L)', p_tenant)) AS x(d jsonb);
        IF found_here IS DISTINCT FROM copied THEN
            RAISE EXCEPTION 'the copy of tenant % on shard % differs from its rows on shard %', p_tenant, dst.name, src.name
                USING ERRCODE = 'XX000', DETAIL = pg_catalog.format('Copied %s; written %s.', copied, found_here);
        END IF;
        SELECT x.s INTO sections FROM public.dblink('evs_move_read',
            pg_catalog.format('SELECT coalesce(array_agg(id), ''{}'')::text FROM eventsvc.event_capacity WHERE tenant_id = %L', p_tenant))
            AS x(s text);

        -- 3. the source lets go of exactly what was copied
        PERFORM public.dblink_exec('evs_move_drop', 'BEGIN');
        PERFORM public.dblink_exec('evs_move_drop', 'SET LOCAL session_replication_role = replica');
        SELECT x.d INTO released FROM public.dblink('evs_move_drop',
            pg_catalog.format('SELECT eventsvc.shard_release_tenant(%L)', p_tenant)) AS x(d jsonb);
        IF released IS DISTINCT FROM copied THEN
            RAISE EXCEPTION 'rows of tenant % changed on shard % while they were copied', p_tenant, src.name
                USING ERRCODE = 'PT409', DETAIL = pg_catalog.format('Copied %s; found at the end %s.', copied, released),
                      HINT = 'Nothing moved; run the move again.';
        END IF;

        -- 4. both sides prepared
        PERFORM public.dblink_exec('evs_move_write', pg_catalog.format('PREPARE TRANSACTION %L', move_gid || '_to'));
        PERFORM public.dblink_exec('evs_move_drop', pg_catalog.format('PREPARE TRANSACTION %L', move_gid || '_from'));
    EXCEPTION WHEN OTHERS THEN
        -- nothing was committed anywhere: undo both sides and say why
        PERFORM eventsvc.move_abandon(move_id, SQLERRM);
        RAISE;
    END;

    -- committed, target first, then the directory switches
    PERFORM public.dblink_exec('evs_move_write', pg_catalog.format('COMMIT PREPARED %L', move_gid || '_to'));
    PERFORM public.dblink_exec('evs_move_drop', pg_catalog.format('COMMIT PREPARED %L', move_gid || '_from'));
    UPDATE eventsvc.tenants SET partition = part, updated_at = pg_catalog.now() WHERE id = p_tenant;
    PERFORM public.dblink_exec('evs_move_read', 'COMMIT');
    -- the shared-memory seat counters of the tenant's sections start again from the rows
    PERFORM public.dblink_exec('evs_move_drop', pg_catalog.format('SELECT eventsvc.shard_reset_counters(%L)', sections));
    PERFORM public.dblink_exec('evs_move_write', pg_catalog.format('SELECT eventsvc.shard_reset_counters(%L)', sections));
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

-- A move that failed before anything committed: roll back what the shards hold for
-- it (open or prepared) and record why.
CREATE FUNCTION eventsvc.move_abandon(p_move bigint, p_why text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m eventsvc.tenant_moves;
    c text;
BEGIN
    SELECT * INTO m FROM eventsvc.tenant_moves WHERE id = p_move;
    FOR c IN SELECT x FROM unnest(public.dblink_get_connections()) x
              WHERE x IN ('evs_move_read', 'evs_move_drop', 'evs_move_write') LOOP
        BEGIN
            PERFORM public.dblink_exec(c, 'ROLLBACK');
        EXCEPTION WHEN OTHERS THEN
            NULL;   -- the connection is gone, and its transaction with it
        END;
        PERFORM public.dblink_disconnect(c);
    END LOOP;
    PERFORM eventsvc.move_rollback_prepared(m.from_shard, m.gid || '_from');
    PERFORM eventsvc.move_rollback_prepared(m.to_shard, m.gid || '_to');
    UPDATE eventsvc.tenant_moves SET state = 'failed', finished_at = now(),
                                     detail = jsonb_build_object('error', p_why)
     WHERE id = p_move;
END
$$;

CREATE FUNCTION eventsvc.move_rollback_prepared(p_shard text, p_gid text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (eventsvc.shard_query(p_shard, format('SELECT to_jsonb(count(*)) FROM pg_prepared_xacts WHERE gid = %L', p_gid)) #>> '{}')::integer > 0 THEN
        PERFORM eventsvc.shard_exec(p_shard, format('ROLLBACK PREPARED %L', p_gid));
        RETURN true;
    END IF;
    RETURN false;
END
$$;

-- Finish or undo moves that stopped half way (the proxy or a shard went away): a
-- move whose target committed is finished (the source's side committed, the
-- directory switched); one whose target did not is rolled back on both shards.
-- Returns what it did per move.
CREATE FUNCTION eventsvc.move_recover() RETURNS TABLE (move_id bigint, tenant_id uuid, outcome text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m eventsvc.tenant_moves;
    target_has boolean;
    pending_to boolean;
BEGIN
    FOR m IN SELECT * FROM eventsvc.tenant_moves x WHERE x.state IN ('copying', 'prepared') ORDER BY x.id LOOP
        move_id := m.id;
        tenant_id := m.tenant_id;
        pending_to := (eventsvc.shard_query(m.to_shard, format('SELECT to_jsonb(count(*)) FROM pg_prepared_xacts WHERE gid = %L',
                                                               m.gid || '_to')) #>> '{}')::integer > 0;
        target_has := (eventsvc.shard_query(m.to_shard, format('SELECT to_jsonb(count(*)) FROM eventsvc.shard_placement WHERE tenant_id = %L',
                                                               m.tenant_id)) #>> '{}')::integer > 0;
        IF target_has AND NOT pending_to THEN
            IF (eventsvc.shard_query(m.from_shard, format('SELECT to_jsonb(count(*)) FROM pg_prepared_xacts WHERE gid = %L',
                                                          m.gid || '_from')) #>> '{}')::integer > 0 THEN
                PERFORM eventsvc.shard_exec(m.from_shard, format('COMMIT PREPARED %L', m.gid || '_from'));
            END IF;
            UPDATE eventsvc.tenants d SET partition = m.to_partition, updated_at = now() WHERE d.id = m.tenant_id;
            UPDATE eventsvc.tenant_moves x SET state = 'done', finished_at = now() WHERE x.id = m.id;
            outcome := 'finished: the tenant lives on ' || m.to_shard;
        ELSE
            PERFORM eventsvc.move_abandon(m.id, 'rolled back by eventsvc.move_recover()');
            outcome := 'rolled back: the tenant stays on ' || m.from_shard;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION eventsvc.move_recover() IS
    'Superuser: finish (target committed) or roll back (otherwise) tenant moves that stopped half way.';
