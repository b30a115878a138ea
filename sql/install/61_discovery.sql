-- Part 61: discovery. Full-text search over name, descriptions, tags, performers
-- and venue name; featured events; a view counter that never touches the event
-- row. Reads are SECURITY DEFINER with the visibility rule of part 60
-- (eventsvc.caller_scope / eventsvc.event_is_visible) applied in the query,
-- because the anonymous role has no tenant and no table rights.
-- See docs/discovery.md "Search", "Featured events", "View counter".

-- The search document lives beside the event, not in it: performers and the venue
-- name come from other tables, and refreshing the document must not bump the
-- event's version nor write an audit entry. It is the only stored copy of the
-- event's words, with the only full-text index. listed (the event is in the public
-- catalogue, tenant activity aside: eventsvc.event_is_visible(NULL, e, true)) and
-- starts_at are copies of the event's, so that a search by words filters and
-- orders its matches without reading an event row per match.
CREATE TABLE eventsvc.event_search_documents (
    tenant_id   uuid NOT NULL,
    event_id    uuid NOT NULL,
    document    tsvector NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    listed      boolean NOT NULL DEFAULT false,
    starts_at   timestamptz,
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
-- The full-text index holds the listed documents only: the public's search (the
-- hot one) visits only documents it may show. A tenant's own search reads the
-- tenant's events and their documents by key instead.
CREATE INDEX idx_event_search_documents_gin ON eventsvc.event_search_documents USING gin (document) WHERE listed;

-- Performer names from event_metadata.performers: strings, or objects with a "name".
CREATE FUNCTION eventsvc.performer_names(performers jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(CASE jsonb_typeof(p) WHEN 'string' THEN p #>> '{}' ELSE p ->> 'name' END, ' ')
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(performers) = 'array' THEN performers ELSE '[]' END) AS p
$$;

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

CREATE FUNCTION eventsvc.refresh_search_document(p_tenant_id uuid, p_event_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO eventsvc.event_search_documents AS d (tenant_id, event_id, document, updated_at, listed, starts_at)
    SELECT r.tenant_id, r.event_id, r.document, now(), r.listed, r.starts_at
      FROM eventsvc.search_document_rows r
     WHERE r.tenant_id = p_tenant_id AND r.event_id = p_event_id
    ON CONFLICT (tenant_id, event_id)
        DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at,
                      listed = excluded.listed, starts_at = excluded.starts_at
$$;

CREATE FUNCTION eventsvc.search_document_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    IF TG_TABLE_NAME = 'events' THEN
        PERFORM eventsvc.refresh_search_document(NEW.tenant_id, NEW.id);
    ELSIF TG_TABLE_NAME = 'event_metadata' THEN
        IF TG_OP = 'DELETE' THEN
            PERFORM eventsvc.refresh_search_document(OLD.tenant_id, OLD.event_id);
        ELSE
            PERFORM eventsvc.refresh_search_document(NEW.tenant_id, NEW.event_id);
        END IF;
    ELSIF TG_TABLE_NAME = 'venues' THEN
        FOR r IN SELECT e.tenant_id, e.id FROM eventsvc.events e
                  WHERE e.tenant_id = NEW.tenant_id AND e.venue_id = NEW.id LOOP
            PERFORM eventsvc.refresh_search_document(r.tenant_id, r.id);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_search_document
    AFTER INSERT OR UPDATE OF name, short_description, description, tags, venue_id,
                              status, visibility, deleted_at, starts_at ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.search_document_trigger();
CREATE TRIGGER event_metadata_search_document
    AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_metadata
    FOR EACH ROW EXECUTE FUNCTION eventsvc.search_document_trigger();
CREATE TRIGGER venues_search_document
    AFTER UPDATE OF name ON eventsvc.venues
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION eventsvc.search_document_trigger();

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

-- The row every discovery list returns.
CREATE TYPE eventsvc.event_card AS (
    id                uuid,
    tenant_id         uuid,
    name              text,
    slug              text,
    short_description text,
    status            eventsvc.event_status,
    starts_at         timestamptz,
    ends_at           timestamptz,
    timezone          text,
    venue_id          uuid,
    venue_name        text,
    category          text,
    is_virtual        boolean,
    image_url         text,
    is_featured       boolean,
    featured_order    integer,
    min_price         bigint,
    max_price         bigint,
    currency          text,
    rank              real
);

-- One card, for a row already found visible. Prices: lowest and highest active,
-- visible tier (minor units). A set of at most one row, with no SET clause, so
-- that the planner inlines it into its callers' queries, definer functions whose
-- search_path is fixed (like eventsvc.event_is_visible in part 60).
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

-- The search filters on the event row itself (category ids, venue, virtual, a
-- tier price in [min_price, max_price]); a NULL filter matches every event. One
-- row when the event passes, none when it does not: a set-returning SQL function
-- without SET, so that the planner inlines it into its callers' queries (a
-- boolean function with a sub-select would be called row by row instead). The
-- price test is a sub-select with LIMIT 1, not EXISTS: the planner may turn an
-- EXISTS into one hash of every tier of the platform, built before the first
-- event of a page is read (50 ms at 100,000 tiers, measured).
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

-- The relevance a search orders by: exactly ts_rank_cd(document, query), the same
-- real for every document and query, computed in C without ts_rank_cd's 32 kB work
-- area per call for a query of one word (the hot case); any other query is ranked
-- by ts_rank_cd itself (src/discovery/search_rank.c, docs/discovery.md "Search").
CREATE FUNCTION eventsvc.search_rank(document tsvector, query tsquery) RETURNS real
    AS 'MODULE_PATHNAME', 'evs_sql_search_rank' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.search_rank(tsvector, tsquery) IS
    'ts_rank_cd(document, query) with the default weights and no normalization, the same value; cheaper for a one-word query. api.search_events orders by it.';
REVOKE ALL ON FUNCTION eventsvc.search_rank(tsvector, tsquery) FROM PUBLIC;

-- Search. q is a web-search style query ("rock -jazz", "\"blue note\"").
-- category is a slug and includes its subcategories. Prices are minor units
-- compared with each event's own active, visible price tiers (an event matches when
-- one tier lies in [min_price, max_price]). Ordered by rank (ts_rank_cd's value,
-- from eventsvc.search_rank), then start time. page_limit 1..100. tenant_id
-- narrows the public catalogue to one tenant (a tenant's own storefront); it
-- never widens what the caller may see.
--
-- Each call is planned with its own arguments (plan_cache_mode), so the filters
-- left NULL drop out of the plan. The public's search by words alone is read
-- from the documents (full-text index, listed and starts_at on the same row);
-- everything else joins events and documents, and without words reads the events
-- in start order through idx_events_catalogue_starts.
CREATE FUNCTION api.search_events(q text DEFAULT NULL, category text DEFAULT NULL,
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
COMMENT ON FUNCTION api.search_events(text, text, timestamptz, timestamptz, uuid, bigint, bigint, boolean, integer, integer, uuid) IS
    'Full-text event search with filters, ranked; the public sees published PUBLIC events of active tenants, tenant users their whole tenant (GET /rpc/search_events).';

-- Featured events, in featured_order, only those the caller may see. Planned per
-- call (plan_cache_mode): the public's list comes from idx_events_catalogue_featured,
-- a tenant's from idx_events_featured.
CREATE FUNCTION api.featured_events(page_limit integer DEFAULT 10, tenant_id uuid DEFAULT NULL)
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
COMMENT ON FUNCTION api.featured_events(integer, uuid) IS
    'Featured events in featured_order, visible ones only (GET /rpc/featured_events).';

-- View counts: several rows per event (shards) so concurrent viewers rarely wait
-- on the same row; each view is one INSERT ... ON CONFLICT DO UPDATE, atomic, so
-- no increment is lost. The event row is never touched (no version bump, no audit).
CREATE TABLE eventsvc.event_view_counts (
    tenant_id  uuid NOT NULL,
    event_id   uuid NOT NULL,
    shard      smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    views      bigint NOT NULL DEFAULT 0 CHECK (views >= 0),
    PRIMARY KEY (tenant_id, event_id, shard),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);

CREATE FUNCTION api.record_view(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(record_view.event_id);
BEGIN
    -- the backend's pid picks the shard: one session's views stay on one row,
    -- concurrent sessions spread over 16
    INSERT INTO eventsvc.event_view_counts AS c (tenant_id, event_id, shard, views)
    VALUES (tenant, record_view.event_id, (pg_backend_pid() % 16)::smallint, 1)
    ON CONFLICT ON CONSTRAINT event_view_counts_pkey DO UPDATE SET views = c.views + 1;
    RETURN jsonb_build_object('event_id', record_view.event_id, 'recorded', true);
END
$$;
COMMENT ON FUNCTION api.record_view(uuid) IS
    'Count one view of a visible event (POST /rpc/record_view); never rewrites the event row.';

CREATE FUNCTION api.event_view_count(event_id uuid) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_view_count.event_id);
BEGIN
    RETURN (SELECT coalesce(sum(c.views), 0)::bigint FROM eventsvc.event_view_counts c
             WHERE c.tenant_id = tenant AND c.event_id = event_view_count.event_id);
END
$$;

-- New tenant tables: the same RLS as part 28 (forced, one policy on the tenant).
ALTER TABLE eventsvc.event_search_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_search_documents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.event_search_documents TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
ALTER TABLE eventsvc.event_view_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_view_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.event_view_counts TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));

-- Tenant users read their own rows; all writes go through the definer functions above.
GRANT SELECT ON eventsvc.event_search_documents, eventsvc.event_view_counts TO eventsvc_user, eventsvc_service;
REVOKE ALL ON eventsvc.search_document_rows FROM PUBLIC;
REVOKE ALL ON FUNCTION eventsvc.performer_names(jsonb), eventsvc.refresh_search_document(uuid, uuid),
                       eventsvc.search_document_trigger(), eventsvc.event_card_of(uuid, uuid, real),
                       eventsvc.event_matches_filters(eventsvc.events, uuid[], uuid, boolean, bigint, bigint),
                       api.search_events(text, text, timestamptz, timestamptz, uuid, bigint, bigint, boolean, integer, integer, uuid),
                       api.featured_events(integer, uuid), api.record_view(uuid), api.event_view_count(uuid)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.performer_names(jsonb)
    TO eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION api.search_events(text, text, timestamptz, timestamptz, uuid, bigint, bigint, boolean, integer, integer, uuid),
                          api.featured_events(integer, uuid), api.record_view(uuid), api.event_view_count(uuid)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
