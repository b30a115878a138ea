-- The public catalogue reads the venue with a LEFT JOIN (a count need not read
-- it), and gets its indexes.
CREATE OR REPLACE VIEW api.public_events WITH (security_barrier = true) AS
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
