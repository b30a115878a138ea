-- Part 71: the public catalogue, what anyone may see without signing in: PUBLIC,
-- non-deleted events in a published state of active tenants, with their public
-- columns only (the same rule as eventsvc.event_is_visible(NULL, e) in part 60).
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
  JOIN eventsvc.venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
  LEFT JOIN eventsvc.event_categories c ON c.id = e.primary_category_id
 WHERE e.visibility = 'PUBLIC'
   AND e.deleted_at IS NULL
   AND e.status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT',
                    'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');
COMMENT ON VIEW api.public_events IS
    'Public catalogue (GET /public_events): published, PUBLIC, non-deleted events of every tenant; filter by tenant_id.';

GRANT SELECT ON api.public_events TO eventsvc_anon, eventsvc_user, eventsvc_service;
