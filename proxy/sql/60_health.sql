-- Proxy part 60: health of the whole set. Liveness is a shard's (routed to any of
-- them, so it says the proxy and a shard answer); readiness is every shard ready (its schema, its worker, its outbox, its broker: eventsvc's
-- api.health_ready there), the same reference data and the same api on every
-- shard, and the api here built from that api (eventsvc.sync_api).

-- The api catalog the api schema was built from (definer: API roles have no right
-- on the proxy's tables).
CREATE FUNCTION eventsvc.synced_catalog() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.api_catalog FROM eventsvc.cluster_config c
$$;

-- Every shard's description with its readiness, read once, as the caller (each
-- API role reaches the shards through its own mapping).
CREATE FUNCTION eventsvc.readiness() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    shards jsonb;
    expected text := eventsvc.synced_catalog();
    reference_ok boolean;
    api_ok boolean;
    shards_ok boolean;
BEGIN
    SELECT jsonb_agg(jsonb_build_object('shard', d ->> 'name', 'ready', (d #>> '{health,ready}')::boolean,
                                        'checks', d #> '{health,checks}', 'tenants', d -> 'tenants',
                                        'version', d ->> 'version') ORDER BY d ->> 'name'),
           count(DISTINCT d ->> 'reference') = 1,
           count(DISTINCT d ->> 'catalog') = 1 AND bool_and(d ->> 'catalog' = expected),
           bool_and(coalesce((d #>> '{health,ready}')::boolean, false))
      INTO shards, reference_ok, api_ok, shards_ok
      FROM eventsvc.describe_shards() d;
    RETURN jsonb_build_object(
        'ready', coalesce(shards_ok AND reference_ok AND api_ok, false),
        'checks', jsonb_build_object(
            'shards', jsonb_build_object('ok', coalesce(shards_ok, false), 'each', coalesce(shards, '[]')),
            'reference', jsonb_build_object('ok', coalesce(reference_ok, false)),
            'api', jsonb_build_object('ok', coalesce(api_ok, false), 'synced', expected)),
        'time', now());
END
$$;

CREATE FUNCTION api.health_ready() RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h jsonb := eventsvc.readiness();
BEGIN
    IF NOT (h ->> 'ready')::boolean THEN
        RAISE EXCEPTION 'eventsvc is not ready'
            USING ERRCODE = 'PT503',
                  DETAIL = (h -> 'checks')::text,
                  HINT = 'See the failing checks: each shard''s own (docs/operations.md), the reference data (eventsvc.reference_check()), the api (eventsvc.sync_api()).';
    END IF;
    RETURN h;
END
$$;
COMMENT ON FUNCTION api.health_ready() IS
    'Readiness of every shard (schema, worker, outbox lag, broker), the same reference data and api on all; 503 (PT503) when not (GET /rpc/health_ready).';
