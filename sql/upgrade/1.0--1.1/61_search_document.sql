-- The search document is the only stored copy of an event's words (the events
-- column goes in 20_event_lookup_indexes.sql) and carries listed and starts_at, so
-- that a search by words filters and ranks on the document alone; the event
-- trigger keeps them. search_events and featured_events are planned per call; the
-- card and the event filters are inlined into their queries (set-returning SQL
-- functions without SET).
ALTER TABLE eventsvc.event_search_documents
    ADD COLUMN listed boolean NOT NULL DEFAULT false,
    ADD COLUMN starts_at timestamptz;
UPDATE eventsvc.event_search_documents d
   SET listed = eventsvc.event_is_visible(NULL, e, true), starts_at = e.starts_at
  FROM eventsvc.events e
 WHERE e.tenant_id = d.tenant_id AND e.id = d.event_id;
-- The full-text index holds the listed documents only: the public's search (the
-- hot one) visits only documents it may show. A tenant's own search reads the
-- tenant's events and their documents by key instead.
DROP INDEX eventsvc.idx_event_search_documents_gin;
CREATE INDEX idx_event_search_documents_gin ON eventsvc.event_search_documents USING gin (document) WHERE listed;

-- The search document of each event, from its sources: its one definition (the
-- trigger's refresh of one event and eventsvc.rebuild_derived() read it).
-- Weights: A name; B short description, tags, performers, headliner, supporting
-- acts; C description and venue name. The text search configuration is 'simple'
-- (no stemming), because events are in many languages.
CREATE VIEW eventsvc.search_document_rows AS
SELECT e.tenant_id,
       e.id AS event_id,
       setweight(to_tsvector('simple', coalesce(e.name, '')), 'A')
       || setweight(to_tsvector('simple', coalesce(e.short_description, '')), 'B')
       || setweight(to_tsvector('simple', coalesce(e.description, '')), 'C')
       || setweight(to_tsvector('simple', array_to_string(e.tags, ' ')), 'B')
       || setweight(to_tsvector('simple', concat_ws(' ', eventsvc.performer_names(m.performers),
                                                    m.headliner,
                                                    array_to_string(m.supporting_acts, ' '))), 'B')
       || setweight(to_tsvector('simple', coalesce(v.name, '')), 'C') AS document,
       eventsvc.event_is_visible(NULL, e, true) AS listed,
       e.starts_at
  FROM eventsvc.events e
  LEFT JOIN eventsvc.event_metadata m ON m.tenant_id = e.tenant_id AND m.event_id = e.id
  LEFT JOIN eventsvc.venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id;

REVOKE ALL ON eventsvc.search_document_rows FROM PUBLIC;

CREATE OR REPLACE FUNCTION eventsvc.refresh_search_document(p_tenant_id uuid, p_event_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO eventsvc.event_search_documents AS d (tenant_id, event_id, document, updated_at, listed, starts_at)
    SELECT r.tenant_id, r.event_id, r.document, now(), r.listed, r.starts_at
      FROM eventsvc.search_document_rows r
     WHERE r.tenant_id = p_tenant_id AND r.event_id = p_event_id
    ON CONFLICT (tenant_id, event_id)
        DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at,
                      listed = excluded.listed, starts_at = excluded.starts_at
$$;

DROP TRIGGER events_search_document ON eventsvc.events;
CREATE TRIGGER events_search_document
    AFTER INSERT OR UPDATE OF name, short_description, description, tags, venue_id,
                              status, visibility, deleted_at, starts_at ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.search_document_trigger();
-- The events the public may see, across tenants (the predicate is the public branch
-- of eventsvc.event_is_visible, part 60, which implies it): search reads them in
-- start order (all, or a category's), featured_events in featured order.
CREATE INDEX idx_events_catalogue_starts ON eventsvc.events (starts_at, id)
    WHERE visibility = 'PUBLIC' AND deleted_at IS NULL
      AND status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT', 'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');
CREATE INDEX idx_events_catalogue_category ON eventsvc.events (primary_category_id, starts_at, id)
    WHERE visibility = 'PUBLIC' AND deleted_at IS NULL
      AND status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT', 'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');
CREATE INDEX idx_events_catalogue_featured ON eventsvc.events (featured_order, starts_at, id)
    WHERE is_featured AND visibility = 'PUBLIC' AND deleted_at IS NULL
      AND status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT', 'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');

DROP FUNCTION eventsvc.event_card_of(uuid, uuid, real);
CREATE FUNCTION eventsvc.event_card_of(p_tenant_id uuid, p_event_id uuid, p_rank real)
RETURNS SETOF eventsvc.event_card
LANGUAGE sql STABLE ROWS 1 AS $$
    SELECT e.id, e.tenant_id, e.name, e.slug, e.short_description, e.status, e.starts_at, e.ends_at,
           e.timezone, e.venue_id, v.name, c.slug, e.is_virtual, e.image_url, e.is_featured,
           e.featured_order, pr.min_price, pr.max_price, pr.currency, p_rank
      FROM eventsvc.events e
      LEFT JOIN eventsvc.venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
      LEFT JOIN eventsvc.event_categories c ON c.id = e.primary_category_id
      LEFT JOIN LATERAL (
            SELECT min(coalesce(p.current_price, p.base_price)) AS min_price,
                   max(coalesce(p.current_price, p.base_price)) AS max_price,
                   min(p.currency)::text AS currency
              FROM eventsvc.event_pricing p
             WHERE p.tenant_id = e.tenant_id AND p.event_id = e.id
               AND p.is_active AND p.is_visible) pr ON true
     WHERE e.tenant_id = p_tenant_id AND e.id = p_event_id
$$;
CREATE FUNCTION eventsvc.event_matches_filters(e eventsvc.events, p_cats uuid[], p_venue_id uuid,
                                               p_is_virtual boolean, p_min_price bigint, p_max_price bigint)
RETURNS SETOF boolean
LANGUAGE sql STABLE ROWS 1 AS $$
    SELECT true
     WHERE (p_cats IS NULL OR e.primary_category_id = ANY (p_cats))
       AND (p_venue_id IS NULL OR e.venue_id = p_venue_id)
       AND (p_is_virtual IS NULL OR e.is_virtual = p_is_virtual)
       AND (p_min_price IS NULL AND p_max_price IS NULL
            OR (SELECT true FROM eventsvc.event_pricing p
                 WHERE p.tenant_id = e.tenant_id AND p.event_id = e.id AND p.is_active AND p.is_visible
                   AND coalesce(p.current_price, p.base_price) >= coalesce(p_min_price, 0)
                   AND (p_max_price IS NULL OR coalesce(p.current_price, p.base_price) <= p_max_price)
                 LIMIT 1))
$$;
REVOKE ALL ON FUNCTION eventsvc.event_card_of(uuid, uuid, real),
                       eventsvc.event_matches_filters(eventsvc.events, uuid[], uuid, boolean, bigint, bigint)
    FROM PUBLIC;

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
            SELECT d.tenant_id, d.event_id, d.starts_at, ts_rank_cd(d.document, query) AS rank
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
               CASE WHEN query IS NULL THEN 0::real ELSE ts_rank_cd(d.document, query) END AS rank
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
CREATE OR REPLACE FUNCTION api.featured_events(page_limit integer DEFAULT 10, tenant_id uuid DEFAULT NULL)
RETURNS SETOF eventsvc.event_card
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan AS $$
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
