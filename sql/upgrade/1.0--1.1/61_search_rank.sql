-- The relevance a search orders by: exactly ts_rank_cd(document, query), the same
-- real for every document and query, computed in C without ts_rank_cd's 32 kB work
-- area per call for a query of one word (the hot case); any other query is ranked
-- by ts_rank_cd itself (src/discovery/search_rank.c, docs/discovery.md "Search").
CREATE FUNCTION eventsvc.search_rank(document tsvector, query tsquery) RETURNS real
    AS 'MODULE_PATHNAME', 'evs_sql_search_rank' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.search_rank(tsvector, tsquery) IS
    'ts_rank_cd(document, query) with the default weights and no normalization, the same value; cheaper for a one-word query. api.search_events orders by it.';
REVOKE ALL ON FUNCTION eventsvc.search_rank(tsvector, tsquery) FROM PUBLIC;

-- search_events orders by it: the same results in the same order.
CREATE OR REPLACE FUNCTION api.search_events(q text DEFAULT NULL, category text DEFAULT NULL,
                                  starts_from timestamptz DEFAULT NULL, starts_before timestamptz DEFAULT NULL,
                                  venue_id uuid DEFAULT NULL, min_price bigint DEFAULT NULL,
                                  max_price bigint DEFAULT NULL, is_virtual boolean DEFAULT NULL,
                                  page_limit integer DEFAULT 20, page_offset integer DEFAULT 0,
                                  tenant_id uuid DEFAULT NULL)
RETURNS SETOF eventsvc.event_card
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning     -- websearch_to_tsquery's NOTICE on a query of stop characters
    SET plan_cache_mode = force_custom_plan
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

    IF query IS NOT NULL AND scope IS NULL AND cats IS NULL AND search_events.venue_id IS NULL
       AND search_events.is_virtual IS NULL AND search_events.min_price IS NULL AND search_events.max_price IS NULL
    THEN
        -- The public catalogue by words (and dates, tenant): the matching documents
        -- alone, filtered and ranked on their own rows.
        RETURN QUERY
        WITH hits AS (
            SELECT d.tenant_id, d.event_id, d.starts_at, eventsvc.search_rank(d.document, query) AS rank
              FROM eventsvc.event_search_documents d
              JOIN eventsvc.tenants t ON t.id = d.tenant_id
             WHERE d.document @@ query AND d.listed AND t.is_active
               AND (search_events.starts_from IS NULL OR d.starts_at >= search_events.starts_from)
               AND (search_events.starts_before IS NULL OR d.starts_at < search_events.starts_before)
               AND (search_events.tenant_id IS NULL OR d.tenant_id = search_events.tenant_id)
             ORDER BY 4 DESC, d.starts_at NULLS LAST, d.event_id
             LIMIT page_limit OFFSET page_offset)
        SELECT card.* FROM hits h CROSS JOIN LATERAL eventsvc.event_card_of(h.tenant_id, h.event_id, h.rank) card
         ORDER BY h.rank DESC, h.starts_at NULLS LAST, h.event_id;
        RETURN;
    END IF;

    -- Everything else: the events the caller may see that pass the filters, with
    -- their documents when there are words (else no document is read and the
    -- order is the start time): the planner starts from whichever side is narrower.
    RETURN QUERY
    WITH hits AS (
        SELECT e.tenant_id, e.id, e.starts_at,
               CASE WHEN query IS NULL THEN 0::real ELSE eventsvc.search_rank(d.document, query) END AS rank
          FROM eventsvc.events e
          JOIN eventsvc.tenants t ON t.id = e.tenant_id
         CROSS JOIN LATERAL eventsvc.event_matches_filters(e, cats, search_events.venue_id, search_events.is_virtual,
                                                           search_events.min_price, search_events.max_price) f
          LEFT JOIN eventsvc.event_search_documents d
                 ON query IS NOT NULL AND d.tenant_id = e.tenant_id AND d.event_id = e.id
                    AND (scope IS NOT NULL OR d.listed)     -- the public's: the full-text index may serve
         WHERE eventsvc.event_is_visible(scope, e, t.is_active)
           AND (query IS NULL OR d.document @@ query)
           AND (search_events.starts_from IS NULL OR e.starts_at >= search_events.starts_from)
           AND (search_events.starts_before IS NULL OR e.starts_at < search_events.starts_before)
           AND (search_events.tenant_id IS NULL OR e.tenant_id = search_events.tenant_id)
         ORDER BY 4 DESC, e.starts_at NULLS LAST, e.id
         LIMIT page_limit OFFSET page_offset)
    SELECT card.* FROM hits h CROSS JOIN LATERAL eventsvc.event_card_of(h.tenant_id, h.id, h.rank) card
     ORDER BY h.rank DESC, h.starts_at NULLS LAST, h.id;
END
$$;
