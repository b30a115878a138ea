-- Lifecycle readers raise through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION api.get_event(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    doc jsonb;
BEGIN
    SELECT eventsvc.event_document(e.id) INTO doc
      FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = get_event.event_id AND e.deleted_at IS NULL;
    IF doc IS NULL THEN
        PERFORM eventsvc.raise_error('not_found', format('event %s not found', coalesce(event_id::text, 'null')),
            NULL, 'The event does not exist, was deleted, or belongs to another tenant.');
    END IF;
    RETURN doc;
END
$$;

CREATE OR REPLACE FUNCTION api.list_events(status text DEFAULT NULL, venue_id uuid DEFAULT NULL,
                                category_id uuid DEFAULT NULL, starts_from timestamptz DEFAULT NULL,
                                starts_to timestamptz DEFAULT NULL, order_by text DEFAULT 'starts_at',
                                descending boolean DEFAULT false, page_size integer DEFAULT 20,
                                page_offset integer DEFAULT 0) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st eventsvc.event_status;
    result jsonb;
BEGIN
    IF status IS NOT NULL THEN
        IF NOT status = ANY (enum_range(NULL::eventsvc.event_status)::text[]) THEN
            PERFORM eventsvc.raise_error('validation', format('status: "%s" is not an event status', status),
                NULL, 'Allowed: ' || array_to_string(enum_range(NULL::eventsvc.event_status)::text[], ', ') || '.');
        END IF;
        st := status::eventsvc.event_status;
    END IF;
    IF order_by NOT IN ('starts_at', 'created_at', 'name') THEN
        PERFORM eventsvc.raise_error('validation', format('order_by: "%s" is not allowed', order_by),
            NULL, 'Allowed: starts_at, created_at, name.');
    END IF;
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 500 THEN
        PERFORM eventsvc.raise_error('validation',
            format('page_size: must be between 1 and 500, got %s', coalesce(page_size::text, 'null')));
    END IF;
    IF page_offset IS NULL OR page_offset < 0 THEN
        PERFORM eventsvc.raise_error('validation',
            format('page_offset: must be 0 or more, got %s', coalesce(page_offset::text, 'null')));
    END IF;

    WITH matching AS (
        SELECT e.*
          FROM eventsvc.events e
         WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.deleted_at IS NULL
           AND (st IS NULL OR e.status = st)
           AND (list_events.venue_id IS NULL OR e.venue_id = list_events.venue_id)
           AND (list_events.category_id IS NULL OR e.primary_category_id IN (
                   SELECT c.id FROM eventsvc.event_categories c
                    WHERE c.id = list_events.category_id OR c.parent_id = list_events.category_id))
           AND (starts_from IS NULL OR e.starts_at >= starts_from)
           AND (starts_to IS NULL OR e.starts_at < starts_to)
    ), page AS (
        SELECT m.* FROM matching m
         ORDER BY CASE WHEN NOT descending AND order_by = 'starts_at' THEN m.starts_at END ASC,
                  CASE WHEN descending AND order_by = 'starts_at' THEN m.starts_at END DESC,
                  CASE WHEN NOT descending AND order_by = 'created_at' THEN m.created_at END ASC,
                  CASE WHEN descending AND order_by = 'created_at' THEN m.created_at END DESC,
                  CASE WHEN NOT descending AND order_by = 'name' THEN m.name END ASC,
                  CASE WHEN descending AND order_by = 'name' THEN m.name END DESC,
                  m.id
         LIMIT page_size OFFSET page_offset
    )
    SELECT jsonb_build_object(
               'total', (SELECT count(*) FROM matching),
               'page_size', page_size, 'page_offset', page_offset,
               'items', coalesce((SELECT jsonb_agg(to_jsonb(p) - 'search_vector' - 'tenant_id'
                                   ORDER BY CASE WHEN NOT descending AND order_by = 'starts_at' THEN p.starts_at END ASC,
                                            CASE WHEN descending AND order_by = 'starts_at' THEN p.starts_at END DESC,
                                            CASE WHEN NOT descending AND order_by = 'created_at' THEN p.created_at END ASC,
                                            CASE WHEN descending AND order_by = 'created_at' THEN p.created_at END DESC,
                                            CASE WHEN NOT descending AND order_by = 'name' THEN p.name END ASC,
                                            CASE WHEN descending AND order_by = 'name' THEN p.name END DESC,
                                            p.id) FROM page p), '[]'))
      INTO result;
    RETURN result;
END
$$;
