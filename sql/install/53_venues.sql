-- Part 53: the venues read model, refreshed by the worker from venue-service so
-- that event validation reads a local row and never calls HTTP inside a
-- transaction. Only venues that a live event references are refreshed.

-- Venues due for a refresh: referenced by an event that is not deleted,
-- completed or cancelled, and older than p_max_age_seconds. Oldest first.
CREATE FUNCTION eventsvc.venue_refresh_due(p_max_age_seconds integer, p_limit integer)
RETURNS TABLE (tenant_id uuid, venue_id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_max_age_seconds IS NULL OR p_max_age_seconds < 0 OR p_limit IS NULL OR p_limit < 1 THEN
        PERFORM eventsvc.raise_error('validation',
            'venue_refresh_due needs a max age of at least 0 s and a limit of at least 1');
    END IF;
    RETURN QUERY
    SELECT v.tenant_id, v.id
      FROM eventsvc.venues v
     WHERE v.refreshed_at < pg_catalog.now() - pg_catalog.make_interval(secs => p_max_age_seconds)
       AND EXISTS (SELECT 1 FROM eventsvc.events e
                    WHERE e.tenant_id = v.tenant_id AND e.venue_id = v.id AND e.deleted_at IS NULL
                      AND e.status NOT IN ('COMPLETED', 'CANCELLED'))
     ORDER BY v.refreshed_at
     LIMIT p_limit;
END
$$;

-- Apply venue-service's answer. 200: {"name", "capacity", "timezone", "isActive"}
-- (missing fields keep their value); 404: the venue is gone, so it is marked
-- inactive. Raises 22023 on an answer that does not fit, leaving the row as it was.
CREATE FUNCTION eventsvc.venue_refresh_apply(p_tenant_id uuid, p_venue_id uuid, p_status integer,
                                             p_response text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v jsonb;
BEGIN
    IF p_status = 404 THEN
        UPDATE eventsvc.venues SET is_active = false, refreshed_at = pg_catalog.now()
         WHERE tenant_id = p_tenant_id AND id = p_venue_id;
        RETURN;
    END IF;
    BEGIN
        v := p_response::jsonb;
    EXCEPTION WHEN others THEN
        PERFORM eventsvc.raise_error('validation', 'venue-service answered with something that is not JSON');
    END;
    IF pg_catalog.jsonb_typeof(v) IS DISTINCT FROM 'object'
       OR (v ? 'capacity' AND pg_catalog.jsonb_typeof(v -> 'capacity') <> 'number')
       OR (v ? 'name' AND pg_catalog.jsonb_typeof(v -> 'name') <> 'string') THEN
        PERFORM eventsvc.raise_error('validation', 'venue-service answered with an unexpected venue document');
    END IF;
    UPDATE eventsvc.venues
       SET name = coalesce(v ->> 'name', name),
           capacity = coalesce((v ->> 'capacity')::integer, capacity),
           timezone = coalesce(v ->> 'timezone', timezone),
           is_active = coalesce((v ->> 'isActive')::boolean, is_active),
           refreshed_at = pg_catalog.now()
     WHERE tenant_id = p_tenant_id AND id = p_venue_id;
END
$$;

REVOKE ALL ON FUNCTION eventsvc.venue_refresh_due(integer, integer),
    eventsvc.venue_refresh_apply(uuid, uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.venue_refresh_due(integer, integer),
    eventsvc.venue_refresh_apply(uuid, uuid, integer, text) TO eventsvc_worker;
