-- Part 50: the background worker's SQL surface (docs/operations.md).
-- The worker runs every statement as eventsvc_worker, a role with no table
-- rights and no RLS policy; it reaches the outbox only through these
-- SECURITY DEFINER functions, each granted to eventsvc_worker alone.
-- Leases and backoff use the real clock (now()), not eventsvc.now(): they
-- measure the worker's own progress, not business time.

-- Room on each page for a second version of every row, so that claiming a row
-- (lease columns only, no indexed column) is a HOT update: no index entries.
-- Measured on 50,000 rows claimed and settled 1,000 at a time: the claims took
-- 3.3 s at fillfactor 70 (27 % of them HOT) and 2.0 s at 40 (all HOT).
ALTER TABLE eventsvc.outbox SET (fillfactor = 40);

-- Failed rows and the status view look these up without scanning published rows.
CREATE INDEX idx_outbox_dead ON eventsvc.outbox (id) WHERE state = 'dead';

-- The order probe of relay_claim uses this index only: its predicate and the
-- probe's are written "state < 'published'" (the enum's order: pending,
-- published, dead), which the pending indexes' predicate does not match, so a
-- planner misled by stale statistics cannot walk the id-ordered pending index
-- for every probe instead (measured: 0.4 ms per probe, 100 ms per claim).
CREATE INDEX idx_outbox_unfinished ON eventsvc.outbox (tenant_id, aggregate_id, id)
    WHERE state < 'published';

-- Claim up to p_limit deliverable rows: pending, due, not leased, and the first
-- unfinished row of their aggregate (so a row is only ever sent after every
-- earlier row of the same event was published). Leased for p_lease_seconds.
--
-- Written as a loop of small statements on purpose. The statistics of a queue
-- table are nearly always wrong (ANALYZE ran when 0 rows were pending); a
-- single join lets the planner pick nested loops that walk the whole pending
-- index once per row (seconds per claim, measured). Here the head of the queue
-- is read by an ordered scan of the pending index that stops early, and each
-- head row gets one indexed probe for an earlier unfinished row of its event.
CREATE FUNCTION eventsvc.relay_claim(p_worker integer, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (tenant_id uuid, id bigint, message_id uuid, exchange text, routing_key text,
               payload jsonb, created_at timestamptz, sequence bigint, attempts integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET enable_bitmapscan = off SET enable_seqscan = off AS $$
DECLARE
    r record;
    n integer := 0;
    tenants uuid[] := '{}';
    ids bigint[] := '{}';
    seen uuid[] := '{}';
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_lease_seconds IS NULL OR p_lease_seconds < 1 THEN
        PERFORM eventsvc.raise_error('validation', 'relay_claim needs a limit and a lease of at least 1');
    END IF;
    FOR r IN
        SELECT o.tenant_id AS t, o.id AS i, o.aggregate_id AS a
          FROM eventsvc.outbox o
         WHERE o.state = 'pending'
           AND o.next_attempt_at <= pg_catalog.now()
           AND (o.lease_until IS NULL OR o.lease_until < pg_catalog.now())
         ORDER BY o.id
         LIMIT p_limit * 2
           FOR UPDATE SKIP LOCKED
    LOOP
        -- a second row of an event in this head waits for the first
        CONTINUE WHEN r.a = ANY (seen);
        seen := seen || r.a;
        CONTINUE WHEN EXISTS (SELECT 1 FROM eventsvc.outbox e
                               WHERE e.tenant_id = r.t AND e.aggregate_id = r.a
                                 AND e.state < 'published'::eventsvc.outbox_state AND e.id < r.i);
        tenants := tenants || r.t;
        ids := ids || r.i;
        n := n + 1;
        EXIT WHEN n >= p_limit;
    END LOOP;
    IF n = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH u AS (
        UPDATE eventsvc.outbox o
           SET claimed_at = pg_catalog.now(), claimed_by = p_worker,
               lease_until = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds)
          FROM ROWS FROM (pg_catalog.unnest(tenants), pg_catalog.unnest(ids)) AS x(t, i)
         WHERE o.tenant_id = x.t AND o.id = x.i
        RETURNING o.tenant_id, o.id, o.message_id, o.exchange, o.routing_key, o.payload,
                  o.created_at, o.sequence, o.attempts)
    SELECT * FROM u ORDER BY u.id;
END
$$;

-- Settling (below): each row is found by its primary key. The state test is
-- written on state::text so that no partial index (whose row counts the
-- statistics nearly always get wrong) can be chosen for the join; other join
-- methods are off for the same reason (measured: a hash join over every pending
-- row, or 5 s through the wrong index, instead of 15 ms).

-- Confirmed by the broker.
CREATE FUNCTION eventsvc.relay_published(p_tenants uuid[], p_ids bigint[]) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    WITH u AS (
        UPDATE eventsvc.outbox o
           SET state = 'published', published_at = pg_catalog.now(), attempts = o.attempts + 1,
               lease_until = NULL, last_error = NULL
          FROM ROWS FROM (pg_catalog.unnest(p_tenants), pg_catalog.unnest(p_ids)) AS x(t, i)
         WHERE o.tenant_id = x.t AND o.id = x.i AND o.state::text = 'pending'
        RETURNING 1)
    SELECT pg_catalog.count(*)::integer FROM u
$$;

-- Returned (unroutable) or rejected: the row's own fault. Retry after a delay
-- drawn uniformly from [0, min(max, base * 2^attempts)) ("full jitter"), dead
-- once the attempts reach p_max_attempts.
CREATE FUNCTION eventsvc.relay_failed(p_tenants uuid[], p_ids bigint[], p_errors text[],
                                      p_max_attempts integer, p_base_ms integer, p_max_ms integer)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    WITH u AS (
        UPDATE eventsvc.outbox o
           SET attempts = o.attempts + 1,
               state = CASE WHEN o.attempts + 1 >= p_max_attempts THEN 'dead'::eventsvc.outbox_state
                            ELSE 'pending'::eventsvc.outbox_state END,
               next_attempt_at = pg_catalog.now() + pg_catalog.make_interval(secs =>
                   pg_catalog.random() * LEAST(p_max_ms::float8, p_base_ms * pg_catalog.power(2::float8, o.attempts)) / 1000.0),
               lease_until = NULL,
               last_error = x.e
          FROM ROWS FROM (pg_catalog.unnest(p_tenants), pg_catalog.unnest(p_ids), pg_catalog.unnest(p_errors)) AS x(t, i, e)
         WHERE o.tenant_id = x.t AND o.id = x.i AND o.state::text = 'pending'
        RETURNING 1)
    SELECT pg_catalog.count(*)::integer FROM u
$$;

-- No confirm (the broker went away): not the row's fault, so no attempt is
-- counted; the lease is dropped so the row goes out as soon as the broker is back.
CREATE FUNCTION eventsvc.relay_release(p_tenants uuid[], p_ids bigint[]) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    WITH u AS (
        UPDATE eventsvc.outbox o SET lease_until = NULL
          FROM ROWS FROM (pg_catalog.unnest(p_tenants), pg_catalog.unnest(p_ids)) AS x(t, i)
         WHERE o.tenant_id = x.t AND o.id = x.i AND o.state::text = 'pending'
        RETURNING 1)
    SELECT pg_catalog.count(*)::integer FROM u
$$;

-- At worker start: there is one worker per cluster, so leases and running saga
-- steps left by an earlier incarnation (crash, kill -9) are void.
CREATE FUNCTION eventsvc.worker_recover() RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE eventsvc.outbox SET lease_until = NULL WHERE state = 'pending' AND lease_until IS NOT NULL;
    UPDATE eventsvc.cancellation_steps SET state = 'pending' WHERE state = 'running';
$$;

-- Sets the worker's latch when the calling transaction commits (no-op when
-- the worker is not configured).
CREATE FUNCTION eventsvc.wake_worker() RETURNS void
    AS 'MODULE_PATHNAME', 'evs_sql_worker_wake' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Dead rows back to pending with a fresh attempt count, in one call:
--   SELECT eventsvc.requeue_dead();                       -- all of them
--   SELECT eventsvc.requeue_dead(p_ids => ARRAY[42, 43]);  -- some rows
--   SELECT eventsvc.requeue_dead(p_routing_key => 'event.reminder', p_tenant_id => '...');
-- For operators only: granted to no role (a superuser may GRANT it to an ops role).
CREATE FUNCTION eventsvc.requeue_dead(p_ids bigint[] DEFAULT NULL, p_routing_key text DEFAULT NULL,
                                      p_tenant_id uuid DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE eventsvc.outbox o
       SET state = 'pending', attempts = 0, next_attempt_at = pg_catalog.now(), lease_until = NULL,
           last_error = 'requeued after: ' || coalesce(o.last_error, '?')
     WHERE o.state = 'dead'
       AND (p_ids IS NULL OR o.id = ANY (p_ids))
       AND (p_routing_key IS NULL OR o.routing_key = p_routing_key)
       AND (p_tenant_id IS NULL OR o.tenant_id = p_tenant_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM eventsvc.wake_worker();
    END IF;
    RETURN n;
END
$$;

-- The worker's shared-memory status (zeros when the worker is not configured).
CREATE FUNCTION eventsvc.worker_shmem_status(
    OUT running boolean, OUT pid integer, OUT state text, OUT database text,
    OUT started_at timestamptz, OUT broker_connected boolean, OUT broker_since timestamptz,
    OUT broker_error text, OUT last_publish_at timestamptz, OUT published_total bigint,
    OUT failed_total bigint, OUT last_sweep_at timestamptz, OUT last_sweep_released bigint,
    OUT last_sweep_ms bigint, OUT swept_total bigint, OUT saga_steps_done bigint,
    OUT last_error text)
    AS 'MODULE_PATHNAME', 'evs_sql_worker_shmem_status' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- What to monitor (docs/operations.md "Monitoring"): one row. Owner rights, so a
-- security_barrier like every owner-rights view of schema api.
CREATE VIEW api.worker_status WITH (security_barrier = true) AS
SELECT s.running, s.pid, s.state, s.database, s.started_at,
       s.broker_connected, s.broker_since, s.broker_error,
       (SELECT pg_catalog.count(*) FROM eventsvc.outbox o WHERE o.state = 'pending') AS outbox_pending,
       pg_catalog.now() - (SELECT o.created_at FROM eventsvc.outbox o WHERE o.state = 'pending'
                            ORDER BY o.id LIMIT 1) AS outbox_oldest_pending_age,
       (SELECT pg_catalog.count(*) FROM eventsvc.outbox o WHERE o.state = 'dead') AS outbox_dead,
       s.last_publish_at, s.published_total, s.failed_total,
       s.last_sweep_at, s.last_sweep_released, s.last_sweep_ms, s.swept_total,
       (SELECT pg_catalog.count(*) FROM eventsvc.event_cancellation_reports r
         WHERE r.status IN ('pending', 'in_progress')) AS sagas_in_flight,
       s.saga_steps_done, s.last_error
  FROM eventsvc.worker_shmem_status() s;
COMMENT ON VIEW api.worker_status IS
    'The eventsvc worker: state, broker connection, outbox backlog and dead rows, last sweep, sagas in flight.';

REVOKE ALL ON FUNCTION eventsvc.relay_claim(integer, integer, integer), eventsvc.relay_published(uuid[], bigint[]),
    eventsvc.relay_failed(uuid[], bigint[], text[], integer, integer, integer),
    eventsvc.relay_release(uuid[], bigint[]), eventsvc.worker_recover(), eventsvc.wake_worker(),
    eventsvc.requeue_dead(bigint[], text, uuid), eventsvc.worker_shmem_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.relay_claim(integer, integer, integer), eventsvc.relay_published(uuid[], bigint[]),
    eventsvc.relay_failed(uuid[], bigint[], text[], integer, integer, integer),
    eventsvc.relay_release(uuid[], bigint[]), eventsvc.worker_recover()
    TO eventsvc_worker;
GRANT EXECUTE ON FUNCTION eventsvc.worker_shmem_status() TO eventsvc_service, eventsvc_worker;
GRANT SELECT ON api.worker_status TO eventsvc_service, eventsvc_worker;
