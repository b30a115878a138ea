-- Discovery raises through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION api.search_events(q text DEFAULT NULL, category text DEFAULT NULL,
                                  starts_from timestamptz DEFAULT NULL, starts_before timestamptz DEFAULT NULL,
                                  venue_id uuid DEFAULT NULL, min_price bigint DEFAULT NULL,
                                  max_price bigint DEFAULT NULL, is_virtual boolean DEFAULT NULL,
                                  page_limit integer DEFAULT 20, page_offset integer DEFAULT 0,
                                  tenant_id uuid DEFAULT NULL)
RETURNS SETOF eventsvc.event_card
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning     -- websearch_to_tsquery's NOTICE on a query of stop characters
AS $$
DECLARE
    scope uuid := eventsvc.caller_scope();
    query tsquery;
    cats  uuid[];
BEGIN
    IF page_limit IS NULL OR page_limit NOT BETWEEN 1 AND 100 THEN
        PERFORM eventsvc.raise_error('validation', 'page_limit must be from 1 to 100',
            format('Got %s.', coalesce(page_limit::text, 'null')));
    END IF;
    IF page_offset IS NULL OR page_offset NOT BETWEEN 0 AND 10000 THEN
        PERFORM eventsvc.raise_error('validation', 'page_offset must be from 0 to 10000',
            format('Got %s.', coalesce(page_offset::text, 'null')), 'Narrow the search instead of paging that deep.');
    END IF;
    IF starts_from IS NOT NULL AND starts_before IS NOT NULL AND starts_before <= starts_from THEN
        PERFORM eventsvc.raise_error('validation', 'starts_before must be after starts_from');
    END IF;
    IF min_price < 0 OR max_price < 0 OR min_price > max_price THEN
        PERFORM eventsvc.raise_error('validation', 'price range must satisfy 0 <= min_price <= max_price (minor units)',
            format('Got min_price %s, max_price %s.',
                   coalesce(min_price::text, 'null'), coalesce(max_price::text, 'null')));
    END IF;
    IF length(q) > 500 THEN
        PERFORM eventsvc.raise_error('validation', 'q is longer than 500 characters');
    END IF;
    IF nullif(btrim(q), '') IS NOT NULL THEN
        query := websearch_to_tsquery('simple', q);
        IF numnode(query) = 0 THEN
            RETURN;     -- only punctuation: nothing can match (and no NOTICE from @@)
        END IF;
    END IF;
    IF category IS NOT NULL THEN
        WITH RECURSIVE tree AS (
            SELECT c.id FROM eventsvc.event_categories c WHERE c.slug = search_events.category AND c.is_active
            UNION ALL
            SELECT c.id FROM eventsvc.event_categories c JOIN tree t ON c.parent_id = t.id WHERE c.is_active)
        SELECT array_agg(id) INTO cats FROM tree;
        IF cats IS NULL THEN
            PERFORM eventsvc.raise_error('validation', format('unknown category "%s"', category),
                NULL, 'Use a slug from api.categories, e.g. music or rock.');
        END IF;
    END IF;

    -- the page first (ids and rank), then the card details for those rows only
    RETURN QUERY
    WITH hits AS (
        SELECT e.tenant_id, e.id, e.starts_at,
               CASE WHEN query IS NULL THEN 0::real ELSE ts_rank_cd(d.document, query) END AS rank
          FROM eventsvc.events e
          JOIN eventsvc.tenants t ON t.id = e.tenant_id
          JOIN eventsvc.event_search_documents d ON d.tenant_id = e.tenant_id AND d.event_id = e.id
         WHERE eventsvc.event_is_visible(scope, e, t.is_active)
           AND (query IS NULL OR d.document @@ query)
           AND (cats IS NULL OR e.primary_category_id = ANY (cats))
           AND (search_events.starts_from IS NULL OR e.starts_at >= search_events.starts_from)
           AND (search_events.starts_before IS NULL OR e.starts_at < search_events.starts_before)
           AND (search_events.venue_id IS NULL OR e.venue_id = search_events.venue_id)
           AND (search_events.tenant_id IS NULL OR e.tenant_id = search_events.tenant_id)
           AND (search_events.is_virtual IS NULL OR e.is_virtual = search_events.is_virtual)
           AND (search_events.min_price IS NULL AND search_events.max_price IS NULL
                OR EXISTS (SELECT 1 FROM eventsvc.event_pricing p
                            WHERE p.tenant_id = e.tenant_id AND p.event_id = e.id AND p.is_active AND p.is_visible
                              AND coalesce(p.current_price, p.base_price) >= coalesce(search_events.min_price, 0)
                              AND (search_events.max_price IS NULL
                                   OR coalesce(p.current_price, p.base_price) <= search_events.max_price)))
         ORDER BY 4 DESC, e.starts_at NULLS LAST, e.id
         LIMIT page_limit OFFSET page_offset)
    SELECT card.* FROM hits h CROSS JOIN LATERAL eventsvc.event_card_of(h.tenant_id, h.id, h.rank) card
     ORDER BY h.rank DESC, h.starts_at NULLS LAST, h.id;
END
$$;

CREATE OR REPLACE FUNCTION api.featured_events(page_limit integer DEFAULT 10, tenant_id uuid DEFAULT NULL)
RETURNS SETOF eventsvc.event_card
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scope uuid := eventsvc.caller_scope();
BEGIN
    IF page_limit IS NULL OR page_limit NOT BETWEEN 1 AND 100 THEN
        PERFORM eventsvc.raise_error('validation', 'page_limit must be from 1 to 100');
    END IF;
    RETURN QUERY
    WITH hits AS (
        SELECT e.tenant_id, e.id, e.featured_order, e.starts_at
          FROM eventsvc.events e
          JOIN eventsvc.tenants t ON t.id = e.tenant_id
         WHERE e.is_featured AND eventsvc.event_is_visible(scope, e, t.is_active)
           AND (featured_events.tenant_id IS NULL OR e.tenant_id = featured_events.tenant_id)
         ORDER BY e.featured_order NULLS LAST, e.starts_at NULLS LAST, e.id
         LIMIT page_limit)
    SELECT card.* FROM hits h CROSS JOIN LATERAL eventsvc.event_card_of(h.tenant_id, h.id, 0) card
     ORDER BY h.featured_order NULLS LAST, h.starts_at NULLS LAST, h.id;
END
$$;
