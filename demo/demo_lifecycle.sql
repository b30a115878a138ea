-- Event lifecycle part of the demo (plain table writes until the lifecycle API lands).
INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, starts_at, ends_at)
VALUES (eventsvc.current_tenant_id(), 'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Rock Night', 'acme-rock-night',
        eventsvc.now() + interval '30 days', eventsvc.now() + interval '30 days 3 hours')
RETURNING id, name, status, version;
UPDATE eventsvc.events SET name = 'Acme Rock Night (Live)' WHERE slug = 'acme-rock-night' RETURNING name, version;
UPDATE eventsvc.events SET name = 'stale write', version = 1 WHERE slug = 'acme-rock-night';
