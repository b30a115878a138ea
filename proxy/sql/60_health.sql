-- Proxy part 60: health of the whole set. Liveness is a shard's (routed to any of
-- them, so it says the proxy and a shard answer); readiness is every shard ready
-- (its schema, its worker, its outbox, its broker: eventsvc's api.health_ready
-- there), the same reference data and the same api on every shard, and the api
-- here built from that api (eventsvc.sync_api).

-- The api catalog the api schema was built from (definer: API roles have no right
-- on the proxy's tables).
CREATE FUNCTION eventsvc.synced_catalog() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.api_catalog FROM eventsvc.cluster_config c
$$;

-- Every shard's description with its readiness, read once, as the caller (each
-- API role reaches the shards through its own mapping). The answer has the shape a
-- shard's api.health_ready has: status, ready, checks (each of the shards' checks,
-- ok when it is ok on every shard; and the proxy's own: the same reference data and
-- the same api on every shard, the api here built from it), time; and each shard's
-- own answer under shards.
CREATE FUNCTION eventsvc.readiness() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d jsonb[] := ARRAY(SELECT eventsvc.describe_shards());
    expected text := eventsvc.synced_catalog();
    checks jsonb;
    ready boolean;
BEGIN
    SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('ok', ok)), '{}') INTO checks
      FROM (SELECT c.key AS k, bool_and(coalesce((c.value ->> 'ok')::boolean, false)) AS ok
              FROM unnest(d) x, jsonb_each(x #> '{health,checks}') c GROUP BY c.key) y;
    checks := checks || jsonb_build_object(
        'reference', jsonb_build_object('ok', (SELECT count(DISTINCT x ->> 'reference') = 1 FROM unnest(d) x)),
        'api', jsonb_build_object('ok', (SELECT count(DISTINCT x ->> 'catalog') = 1 AND bool_and(x ->> 'catalog' = expected)
                                           FROM unnest(d) x), 'synced', expected));
    ready := cardinality(d) > 0 AND (SELECT bool_and(coalesce((x #>> '{health,ready}')::boolean, false)) FROM unnest(d) x)
             AND NOT EXISTS (SELECT 1 FROM jsonb_each(checks) c WHERE NOT (c.value ->> 'ok')::boolean);
    RETURN jsonb_build_object(
        'status', CASE WHEN ready THEN 'ok' ELSE 'unavailable' END,
        'ready', coalesce(ready, false),
        'checks', checks,
        'shards', (SELECT coalesce(jsonb_agg(jsonb_build_object('shard', x ->> 'name', 'tenants', x -> 'tenants',
                                                                'version', x ->> 'version') || (x -> 'health')
                                             ORDER BY x ->> 'name'), '[]') FROM unnest(d) x),
        'time', now());
END
$$;

-- Readiness of the whole set: 503 (through response.status, as on a shard) with the
-- checks as a JSON object while a shard is not ready, or the shards' reference data
-- or api differ, or the api here was not built from theirs.
CREATE FUNCTION api.health_ready() RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h jsonb := eventsvc.readiness();
BEGIN
    IF NOT (h ->> 'ready')::boolean THEN
        PERFORM set_config('response.status', '503', true);
    END IF;
    RETURN h;
END
$$;
COMMENT ON FUNCTION api.health_ready() IS
    'Readiness of every shard (schema, worker, outbox lag, broker), the same reference data and api on all; 503 with the checks when not (GET /rpc/health_ready).';
