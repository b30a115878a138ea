-- Part 66: health checks PostgREST serves to anyone (load balancers, orchestrators).
-- Liveness: the database answers. Readiness: the installed schema is the one this
-- script creates, the worker runs, the outbox is not lagging and the broker was
-- reachable when the worker last tried. Not ready is an error PT503, so HTTP
-- callers get status 503 with the failing checks in the detail.
-- See docs/discovery.md "Health".

CREATE FUNCTION api.health_live() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('status', 'ok', 'time', now())
$$;
COMMENT ON FUNCTION api.health_live() IS 'Liveness: the database answers (GET /rpc/health_live).';

-- The checks as one JSON object; also for dashboards that want to see them all.
-- Definer: reads the outbox and the worker's shared-memory status, which the
-- anonymous role has no right to; it returns only counts, ages and booleans.
CREATE FUNCTION eventsvc.health_checks() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    installed   text;
    expected    text := '1.0';    -- the version this install script belongs to
    worker      record;
    worker_ok   boolean := false;
    broker_ok   boolean := false;
    oldest_age  interval;
    -- pg_settings gives the value in seconds (current_setting would say '1min')
    max_lag     integer := coalesce((SELECT s.setting::integer FROM pg_settings s
                                      WHERE s.name = 'eventsvc.ready_max_outbox_lag_seconds'), 60);
    lag_ok      boolean;
BEGIN
    SELECT x.extversion INTO installed FROM pg_extension x WHERE x.extname = 'eventsvc';

    -- The worker publishes its state in shared memory (part 50); when that
    -- function is missing, fall back to looking for its backend.
    IF to_regprocedure('eventsvc.worker_shmem_status()') IS NOT NULL THEN
        EXECUTE 'SELECT running, broker_connected FROM eventsvc.worker_shmem_status()' INTO worker;
        worker_ok := coalesce(worker.running, false);
        broker_ok := coalesce(worker.broker_connected, false);
    ELSE
        worker_ok := EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.backend_type LIKE 'eventsvc%');
    END IF;

    SELECT now() - min(o.created_at) INTO oldest_age FROM eventsvc.outbox o WHERE o.state = 'pending';
    lag_ok := oldest_age IS NULL OR oldest_age <= make_interval(secs => max_lag);

    RETURN jsonb_build_object(
        'ready', installed IS NOT DISTINCT FROM expected AND worker_ok AND lag_ok AND broker_ok,
        'checks', jsonb_build_object(
            'schema', jsonb_build_object('ok', installed IS NOT DISTINCT FROM expected,
                                         'installed', installed, 'expected', expected),
            'worker', jsonb_build_object('ok', worker_ok),
            'outbox', jsonb_build_object('ok', lag_ok,
                                         'oldest_pending_seconds', floor(extract(epoch FROM coalesce(oldest_age, interval '0'))),
                                         'max_lag_seconds', max_lag),
            'broker', jsonb_build_object('ok', broker_ok)),
        'time', now());
END
$$;

CREATE FUNCTION api.health_ready() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h jsonb := eventsvc.health_checks();
BEGIN
    IF NOT (h ->> 'ready')::boolean THEN
        RAISE EXCEPTION 'eventsvc is not ready'
            USING ERRCODE = 'PT503',
                  DETAIL = (h -> 'checks')::text,
                  HINT = 'See the failing checks; docs/operations.md describes the worker and the broker.';
    END IF;
    RETURN h;
END
$$;
COMMENT ON FUNCTION api.health_ready() IS
    'Readiness: schema version, worker running, outbox lag under eventsvc.ready_max_outbox_lag_seconds, broker reachable; 503 (PT503) when not (GET /rpc/health_ready).';

REVOKE ALL ON FUNCTION api.health_live(), eventsvc.health_checks(), api.health_ready() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.health_live(), eventsvc.health_checks(), api.health_ready()
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
