-- Part 71: the public catalogue, what anyone may see without signing in: PUBLIC,
-- non-deleted events in a published state of active tenants, with their public
-- columns only (the same rule as eventsvc.event_is_visible(NULL, e) in part 60).
--
-- Every event has its venue (a foreign key): the venue is a LEFT JOIN only so
-- that a query that does not ask for venue_name (a count) does not read it.
--
-- This view is deliberately NOT security_invoker: the anonymous role has no tenant
-- and no right on eventsvc.events, so the view reads as its owner (the extension
-- owner, a superuser, which RLS does not apply to) and its WHERE clause is the
-- whole access rule. Every column added here is published to the world: no
-- wallets, royalty splits, chain data, stream URLs, authors or versions.
-- security_barrier: the WHERE clause runs before any condition a caller adds, so a
-- caller's function (cheap, and leaky: RAISE NOTICE of its arguments) never sees a
-- row the catalogue hides (test/security_catalogue_barrier.sql).
CREATE VIEW api.public_events WITH (security_barrier = true) AS
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
  JOIN eventsvc.tenants t ON t.id = e.tenant_id AND t.is_active
  LEFT JOIN eventsvc.venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
  LEFT JOIN eventsvc.event_categories c ON c.id = e.primary_category_id
 WHERE e.visibility = 'PUBLIC'
   AND e.deleted_at IS NULL
   AND e.status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT',
                    'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');
COMMENT ON VIEW api.public_events IS
    'Public catalogue (GET /public_events): published, PUBLIC, non-deleted events of every tenant; filter by tenant_id.';

GRANT SELECT ON api.public_events TO eventsvc_anon, eventsvc_user, eventsvc_service;

-- The catalogue's indexes: across tenants, only the events the public may see
-- (their predicate is the view's WHERE clause, and eventsvc.event_is_visible's
-- for the public, so both imply it). Each serves one family of filters in start
-- order, with id as the tie-break of keyset pages (docs/performance.md):
--   ?order=starts_at,id&starts_at=gte.X            by date (and every page after the first)
--   ?primary_category_id=eq.X&order=starts_at,id    by category
--   ?tags=cs.{X}                                    by tag
--   ?is_featured=is.true&order=featured_order,...   featured (api.featured_events too)
-- A tenant's storefront (tenant_id=eq.X) uses idx_events_starts_at.
CREATE INDEX idx_events_catalogue_starts ON eventsvc.events (starts_at, id)
    WHERE visibility = 'PUBLIC' AND deleted_at IS NULL
      AND status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT', 'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');
CREATE INDEX idx_events_catalogue_category ON eventsvc.events (primary_category_id, starts_at, id)
    WHERE visibility = 'PUBLIC' AND deleted_at IS NULL
      AND status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT', 'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');
CREATE INDEX idx_events_catalogue_tags ON eventsvc.events USING gin (tags)
    WHERE visibility = 'PUBLIC' AND deleted_at IS NULL
      AND status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT', 'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');
CREATE INDEX idx_events_catalogue_featured ON eventsvc.events (featured_order, starts_at, id)
    WHERE is_featured AND visibility = 'PUBLIC' AND deleted_at IS NULL
      AND status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT', 'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');
