-- Part 71: the public catalogue, what anyone may see without signing in: PUBLIC,
-- non-deleted events in a published state of active tenants, with their public
-- columns only (the same rule as eventsvc.event_is_visible(NULL, e) in part 60).
-- Every column here is published to the world: no wallets, royalty splits, chain
-- data, stream URLs, authors or versions.
--
-- api.public_events is a table that holds exactly those rows, kept by triggers in
-- the transaction that changes their sources. A table and not a view over events:
--   - nothing in it is hidden, so a caller's condition (even a cheap, leaky
--     function of its own) can only ever see published rows, with no security
--     barrier between the caller's query and the rows;
--   - a security-barrier view is planned apart from the query around it, so a
--     page (ORDER BY ... LIMIT 20) sorted every published event first, and a
--     condition that is not leakproof (tags=cs.{X}: array containment) could not
--     use an index: hundreds of milliseconds at 100,000 events, seconds at a
--     million. On the table every filter and order below has its index.
-- The anonymous role reads it with its own SELECT right: no owner rights needed.

-- The rows of the catalogue from their sources: its one definition. Only the
-- triggers and eventsvc.rebuild_derived() read it (not granted to anyone).
CREATE VIEW eventsvc.public_event_rows AS
SELECT e.id,
       e.tenant_id,
       e.venue_id,
       v.name              AS venue_name,
       e.name,
       e.slug,
       e.short_description,
       e.description,
       e.status,
       e.event_type,
       e.primary_category_id,
       c.slug              AS category,
       e.tags,
       e.starts_at,
       e.ends_at,
       e.doors_open,
       e.timezone,
       e.is_virtual,
       e.is_hybrid,
       e.image_url,
       e.is_featured,
       e.featured_order,
       e.age_restriction
  FROM eventsvc.events e
  JOIN eventsvc.tenants t ON t.id = e.tenant_id
  LEFT JOIN eventsvc.venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
  LEFT JOIN eventsvc.event_categories c ON c.id = e.primary_category_id
 WHERE eventsvc.event_is_visible(NULL, e, t.is_active);

CREATE TABLE api.public_events (
    id                  uuid NOT NULL,
    tenant_id           uuid NOT NULL,
    venue_id            uuid NOT NULL,
    venue_name          text,
    name                text NOT NULL,
    slug                text NOT NULL,
    short_description   text,
    description         text,
    status              eventsvc.event_status NOT NULL,
    event_type          eventsvc.event_type NOT NULL,
    primary_category_id uuid,
    category            text,
    tags                text[] NOT NULL,
    starts_at           timestamptz,
    ends_at             timestamptz,
    doors_open          timestamptz,
    timezone            text NOT NULL,
    is_virtual          boolean NOT NULL,
    is_hybrid           boolean NOT NULL,
    image_url           text,
    is_featured         boolean NOT NULL,
    featured_order      integer,
    age_restriction     integer NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE api.public_events IS
    'Public catalogue (GET /public_events): published, PUBLIC, non-deleted events of active tenants, kept by triggers; filter by tenant_id, category, tags, dates; page by (starts_at, id).';

-- Each filter and order of the catalogue has its index, with id as the tie-break
-- of keyset pages (docs/postgrest.md "Paging", docs/performance.md):
--   ?starts_at=gte.X&order=starts_at,id           by date, and every next page
--   ?category=eq.C&order=starts_at,id             by category slug (or primary_category_id=eq.)
--   ?tenant_id=eq.T&order=starts_at,id            a tenant's storefront
--   ?tags=cs.{X}                                  by tag
--   ?is_featured=is.true&order=featured_order,starts_at,id
--   ?id=eq.X                                      one event
CREATE INDEX idx_public_events_starts ON api.public_events (starts_at, id);
CREATE INDEX idx_public_events_category ON api.public_events (category, starts_at, id);
CREATE INDEX idx_public_events_category_id ON api.public_events (primary_category_id, starts_at, id);
CREATE INDEX idx_public_events_tenant ON api.public_events (tenant_id, starts_at, id);
CREATE INDEX idx_public_events_tags ON api.public_events USING gin (tags);
CREATE INDEX idx_public_events_featured ON api.public_events (featured_order, starts_at, id) WHERE is_featured;
CREATE INDEX idx_public_events_id ON api.public_events (id);

-- The catalogue rows of one event (p_event_id) or of a whole tenant (NULL): the
-- rows that should be there are written, the others removed.
CREATE FUNCTION eventsvc.refresh_public_events(p_tenant_id uuid, p_event_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_event_id IS NULL THEN
        DELETE FROM api.public_events p WHERE p.tenant_id = p_tenant_id;
        INSERT INTO api.public_events SELECT * FROM eventsvc.public_event_rows r WHERE r.tenant_id = p_tenant_id
            ON CONFLICT (tenant_id, id) DO NOTHING;     -- a concurrent writer's row is newer
        RETURN;
    END IF;
    INSERT INTO api.public_events AS p
    SELECT * FROM eventsvc.public_event_rows r WHERE r.tenant_id = p_tenant_id AND r.id = p_event_id
    ON CONFLICT (tenant_id, id) DO UPDATE
       SET (venue_id, venue_name, name, slug, short_description, description, status, event_type,
            primary_category_id, category, tags, starts_at, ends_at, doors_open, timezone, is_virtual,
            is_hybrid, image_url, is_featured, featured_order, age_restriction)
         = (excluded.venue_id, excluded.venue_name, excluded.name, excluded.slug, excluded.short_description,
            excluded.description, excluded.status, excluded.event_type, excluded.primary_category_id,
            excluded.category, excluded.tags, excluded.starts_at, excluded.ends_at, excluded.doors_open,
            excluded.timezone, excluded.is_virtual, excluded.is_hybrid, excluded.image_url, excluded.is_featured,
            excluded.featured_order, excluded.age_restriction);
    IF NOT FOUND THEN
        DELETE FROM api.public_events p WHERE p.tenant_id = p_tenant_id AND p.id = p_event_id;
    END IF;
END
$$;

-- Sources: an event written (any column the catalogue shows or decides on), a
-- tenant (de)activated, a venue or a category renamed.
CREATE FUNCTION eventsvc.public_events_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'events' THEN
        IF TG_OP IN ('UPDATE', 'DELETE') AND (TG_OP = 'DELETE' OR (OLD.tenant_id, OLD.id) <> (NEW.tenant_id, NEW.id)) THEN
            DELETE FROM api.public_events p WHERE p.tenant_id = OLD.tenant_id AND p.id = OLD.id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            PERFORM eventsvc.refresh_public_events(NEW.tenant_id, NEW.id);
        END IF;
    ELSIF TG_TABLE_NAME = 'tenants' THEN
        PERFORM eventsvc.refresh_public_events(NEW.id, NULL);
    ELSIF TG_TABLE_NAME = 'venues' THEN
        UPDATE api.public_events p SET venue_name = NEW.name WHERE p.tenant_id = NEW.tenant_id AND p.venue_id = NEW.id;
    ELSIF TG_TABLE_NAME = 'event_categories' THEN
        UPDATE api.public_events p SET category = NEW.slug WHERE p.primary_category_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_public_catalogue
    AFTER INSERT OR DELETE OR UPDATE OF tenant_id, id, venue_id, name, slug, short_description, description, status,
        visibility, event_type, primary_category_id, tags, starts_at, ends_at, doors_open, timezone, is_virtual,
        is_hybrid, image_url, is_featured, featured_order, age_restriction, deleted_at
    ON eventsvc.events FOR EACH ROW EXECUTE FUNCTION eventsvc.public_events_trigger();
CREATE TRIGGER tenants_public_catalogue
    AFTER UPDATE OF is_active ON eventsvc.tenants
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION eventsvc.public_events_trigger();
CREATE TRIGGER venues_public_catalogue
    AFTER UPDATE OF name ON eventsvc.venues
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION eventsvc.public_events_trigger();
CREATE TRIGGER event_categories_public_catalogue
    AFTER UPDATE OF slug ON eventsvc.event_categories
    FOR EACH ROW WHEN (OLD.slug IS DISTINCT FROM NEW.slug)
    EXECUTE FUNCTION eventsvc.public_events_trigger();

REVOKE ALL ON eventsvc.public_event_rows FROM PUBLIC;
REVOKE ALL ON FUNCTION eventsvc.refresh_public_events(uuid, uuid), eventsvc.public_events_trigger() FROM PUBLIC;
REVOKE ALL ON api.public_events FROM PUBLIC;
GRANT SELECT ON api.public_events TO eventsvc_anon, eventsvc_user, eventsvc_service;
