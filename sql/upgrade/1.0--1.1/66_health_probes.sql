-- The library's version, which the readiness schema check compares with. Readiness
-- answers 503 through response.status with the checks as a JSON object (no error,
-- nothing in the server log), and counts a worker only when it serves this database.

CREATE FUNCTION eventsvc.library_version() RETURNS text
    AS 'MODULE_PATHNAME', 'evs_sql_library_version' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.library_version() IS
    'Version of the eventsvc library this server runs; the installed extension must be the same (ALTER EXTENSION eventsvc UPDATE).';
REVOKE ALL ON FUNCTION eventsvc.library_version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.library_version() TO eventsvc_admin, eventsvc_service, eventsvc_worker;

CREATE OR REPLACE FUNCTION eventsvc.health_checks() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    installed   text;
    expected    text := eventsvc.library_version();   -- the library this server runs
    worker      record;
    worker_db   text;
    worker_ok   boolean := false;
    broker_ok   boolean := false;
    oldest_age  interval;
    -- pg_settings gives the value in seconds (current_setting would say '1min')
    max_lag     integer := coalesce((SELECT s.setting::integer FROM pg_settings s
                                      WHERE s.name = 'eventsvc.ready_max_outbox_lag_seconds'), 60);
    lag_ok      boolean;
    ready       boolean;
BEGIN
    SELECT x.extversion INTO installed FROM pg_extension x WHERE x.extname = 'eventsvc';

    -- One worker serves one database of the cluster (eventsvc.database): a worker
    -- running for another database does not deliver this database's outbox.
    SELECT s.running, s.database, s.broker_connected INTO worker FROM eventsvc.worker_shmem_status() s;
    worker_db := nullif(worker.database, '');
    worker_ok := coalesce(worker.running, false) AND worker_db IS NOT DISTINCT FROM current_database();
    broker_ok := worker_ok AND coalesce(worker.broker_connected, false);

    SELECT now() - min(o.created_at) INTO oldest_age FROM eventsvc.outbox o WHERE o.state = 'pending';
    lag_ok := oldest_age IS NULL OR oldest_age <= make_interval(secs => max_lag);
    ready := installed IS NOT DISTINCT FROM expected AND worker_ok AND lag_ok AND broker_ok;

    RETURN jsonb_build_object(
        'status', CASE WHEN ready THEN 'ok' ELSE 'unavailable' END,
        'ready', ready,
        'checks', jsonb_build_object(
            'schema', jsonb_build_object('ok', installed IS NOT DISTINCT FROM expected,
                                         'installed', installed, 'expected', expected),
            'worker', jsonb_build_object('ok', worker_ok, 'database', worker_db),
            'outbox', jsonb_build_object('ok', lag_ok,
                                         'oldest_pending_seconds', floor(extract(epoch FROM coalesce(oldest_age, interval '0'))),
                                         'max_lag_seconds', max_lag),
            'broker', jsonb_build_object('ok', broker_ok)),
        'time', now());
END
$$;

-- Not ready answers HTTP 503 through response.status (PostgREST reads it after the
-- call) with the checks as the body; SQL callers read "ready" in the result.
CREATE OR REPLACE FUNCTION api.health_ready() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h jsonb := eventsvc.health_checks();
BEGIN
    IF NOT (h ->> 'ready')::boolean THEN
        PERFORM pg_catalog.set_config('response.status', '503', true);
    END IF;
    RETURN h;
END
$$;
COMMENT ON FUNCTION api.health_ready() IS
    'Readiness: schema version, worker running for this database, outbox lag under eventsvc.ready_max_outbox_lag_seconds, broker reachable. Always the checks as a JSON object; HTTP 503 when not ready (GET /rpc/health_ready).';

