-- The service lookups raise through eventsvc.raise_error (the PDA lookup: 65_strict_pda_lookup.sql).

CREATE OR REPLACE FUNCTION api.internal_event(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e eventsvc.events;
BEGIN
    PERFORM eventsvc.require_service('look up events by id across tenants');
    SELECT * INTO e FROM eventsvc.events x WHERE x.id = internal_event.event_id AND x.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(internal_event.event_id::text, 'null')));
    END IF;
    RETURN eventsvc.internal_event_document(e);
END
$$;

CREATE OR REPLACE FUNCTION api.internal_scan_stats(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e eventsvc.events;
    result jsonb;
BEGIN
    PERFORM eventsvc.require_service('read scan stats');
    SELECT * INTO e FROM eventsvc.events x WHERE x.id = internal_scan_stats.event_id AND x.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(internal_scan_stats.event_id::text, 'null')));
    END IF;
    SELECT jsonb_build_object(
               'event_id', e.id, 'tenant_id', e.tenant_id, 'venue_id', e.venue_id, 'name', e.name,
               'status', e.status, 'starts_at', e.starts_at, 'ends_at', e.ends_at, 'doors_open', e.doors_open,
               'sections', count(s.*),
               'total_capacity', coalesce(sum(s.total_capacity), 0),
               'tickets_sold', coalesce(sum(s.sold), 0),
               'reserved', coalesce(sum(s.reserved), 0),
               'available', coalesce(sum(s.available), 0))
      INTO result
      FROM api.section_availability s
     WHERE s.tenant_id = e.tenant_id AND s.event_id = e.id;
    RETURN result;
END
$$;

