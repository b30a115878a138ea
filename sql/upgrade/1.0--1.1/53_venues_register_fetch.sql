-- api.register_venue (venues registered over HTTP by the tenant) and eventsvc.venue_fetch_apply (unknown venues fetched from venue-service), part 53.

-- ---------------------------------------------------------------- registration over HTTP
-- A tenant's admin (or a service acting for the tenant) registers a venue
-- (POST /rpc/register_venue): the venue becomes the tenant's at once, with a new
-- id. (A venue venue-service already knows is fetched from it when an event
-- names it: eventsvc.venue_fetch_apply below.) An Idempotency-Key header makes a
-- retry return the first venue.
CREATE FUNCTION api.register_venue(name text, capacity integer, timezone text DEFAULT 'UTC')
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.current_tenant_id();
    replay jsonb;
    v eventsvc.venues;
BEGIN
    replay := eventsvc.idempotency_replay('register_venue', pg_catalog.jsonb_build_object(
        'name', register_venue.name, 'capacity', register_venue.capacity, 'timezone', register_venue.timezone));
    IF replay IS NOT NULL THEN
        RETURN replay;
    END IF;
    IF register_venue.name IS NULL OR pg_catalog.length(pg_catalog.btrim(register_venue.name)) NOT BETWEEN 1 AND 200 THEN
        PERFORM eventsvc.raise_error('validation', 'name: must be 1 to 200 characters');
    END IF;
    IF register_venue.capacity IS NULL OR register_venue.capacity < 0 THEN
        PERFORM eventsvc.raise_error('validation', 'capacity: must be 0 or more',
            pg_catalog.format('Got %s.', coalesce(register_venue.capacity::text, 'null')));
    END IF;
    IF register_venue.timezone IS NULL
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = register_venue.timezone) THEN
        PERFORM eventsvc.raise_error('validation',
            pg_catalog.format('timezone: %s is not a time zone name', coalesce(register_venue.timezone, 'null')),
            NULL, 'Use an IANA name such as Europe/Berlin or UTC.');
    END IF;
    INSERT INTO eventsvc.venues AS x (tenant_id, id, name, capacity, timezone)
    VALUES (tenant, pg_catalog.gen_random_uuid(), pg_catalog.btrim(register_venue.name),
            register_venue.capacity, register_venue.timezone)
    RETURNING * INTO v;
    RETURN eventsvc.idempotency_store('register_venue', pg_catalog.to_jsonb(v) - 'tenant_id');
END
$$;
COMMENT ON FUNCTION api.register_venue(text, integer, text) IS
    'Tenant admin or service: registers a venue of the tenant (name, capacity, IANA time zone); events may use it at once.';
REVOKE ALL ON FUNCTION api.register_venue(text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.register_venue(text, integer, text) TO eventsvc_admin, eventsvc_service;

-- A venue an event named but this database did not know, as venue-service describes
-- it (src/worker/venues.c fetches it at once, outside the failed call): 200
-- {"name", "capacity", "timezone", "isActive"} becomes the tenant's venue. A venue
-- registered meanwhile is left as it is; an answer that does not fit is 22023 and
-- nothing is written; a tenant that is not active gets nothing.
CREATE FUNCTION eventsvc.venue_fetch_apply(p_tenant_id uuid, p_venue_id uuid, p_response text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v jsonb;
    n bigint;
BEGIN
    BEGIN
        v := p_response::jsonb;
    EXCEPTION WHEN others THEN
        PERFORM eventsvc.raise_error('validation', 'venue-service answered with something that is not JSON');
    END;
    IF pg_catalog.jsonb_typeof(v) IS DISTINCT FROM 'object'
       OR pg_catalog.jsonb_typeof(v -> 'name') IS DISTINCT FROM 'string'
       OR pg_catalog.jsonb_typeof(v -> 'capacity') IS DISTINCT FROM 'number'
       OR (v ? 'timezone' AND pg_catalog.jsonb_typeof(v -> 'timezone') <> 'string')
       OR (v ? 'isActive' AND pg_catalog.jsonb_typeof(v -> 'isActive') <> 'boolean') THEN
        PERFORM eventsvc.raise_error('validation', 'venue-service answered with an unexpected venue document');
    END IF;
    INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone, is_active)
    SELECT t.id, p_venue_id, v ->> 'name', (v ->> 'capacity')::integer, coalesce(v ->> 'timezone', 'UTC'),
           coalesce((v ->> 'isActive')::boolean, true)
      FROM eventsvc.tenants t
     WHERE t.id = p_tenant_id AND t.is_active
    ON CONFLICT (tenant_id, id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n = 1;
END
$$;
COMMENT ON FUNCTION eventsvc.venue_fetch_apply(uuid, uuid, text) IS
    'The worker: adds a venue an event named but this database did not know, from venue-service''s answer; true when added.';
REVOKE ALL ON FUNCTION eventsvc.venue_fetch_apply(uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.venue_fetch_apply(uuid, uuid, text) TO eventsvc_worker;
