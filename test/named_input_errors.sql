-- pgTAP: inputs that used to fail as raw casts now get a named 22023: wrongly
-- typed or unknown event metadata, +-infinity schedule times, and negative
-- limits to the worker's functions. Each refusal leaves nothing behind.
BEGIN;
SELECT plan(13);

SELECT eventsvc.create_tenant('Named Tenant', 'named-tenant', '63333333-3333-4333-8333-333333333333');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone, is_active) VALUES
    ('63333333-3333-4333-8333-333333333333', '6ccccccc-0000-4000-8000-000000000001', 'Named Hall', 1000, 'UTC', true);

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '63333333-3333-4333-8333-333333333333';

SELECT throws_ok($$SELECT api.create_event('6ccccccc-0000-4000-8000-000000000001', 'Typed', now() + interval '1 day',
    now() + interval '1 day 2 hours', metadata => '{"headliner": 5}')$$,
    '22023', 'metadata.headliner: must be a string', 'a number as headliner');
SELECT throws_ok($$SELECT api.create_event('6ccccccc-0000-4000-8000-000000000001', 'Typed', now() + interval '1 day',
    now() + interval '1 day 2 hours', metadata => '{"performers": {"a": 1}}')$$,
    '22023', 'metadata.performers: must be an array', 'an object as performers');
SELECT throws_ok($$SELECT api.create_event('6ccccccc-0000-4000-8000-000000000001', 'Typed', now() + interval '1 day',
    now() + interval '1 day 2 hours', metadata => '{"supporting_acts": ["Opener", [1]]}')$$,
    '22023', 'metadata.supporting_acts: must be an array of strings', 'a nested array among the acts');
SELECT throws_ok($$SELECT api.create_event('6ccccccc-0000-4000-8000-000000000001', 'Typed', now() + interval '1 day',
    now() + interval '1 day 2 hours', metadata => '{"tenant_id": [1, {"x": true}]}')$$,
    '22023', 'metadata.tenant_id: not a metadata field', 'a column that is not metadata');
SELECT throws_ok($$SELECT api.create_event('6ccccccc-0000-4000-8000-000000000001', 'Typed', now() + interval '1 day',
    now() + interval '1 day 2 hours', metadata => '{"custom_fields": []}')$$,
    '22023', 'metadata.custom_fields: must be an object', 'an array as custom fields');
SELECT lives_ok($$SELECT api.create_event('6ccccccc-0000-4000-8000-000000000001', 'Well typed', now() + interval '1 day',
    now() + interval '1 day 2 hours', metadata => '{"headliner": "Band", "supporting_acts": ["Opener"],
    "performers": [{"name": "Band"}], "sponsors": [], "custom_fields": {"k": "v"}, "production_company": null}')$$,
    'well-typed metadata is accepted');
SELECT is((SELECT count(*) FROM eventsvc.events WHERE tenant_id = '63333333-3333-4333-8333-333333333333'),
          1::bigint, 'only the well-typed event exists');

SELECT throws_ok($$SELECT * FROM api.preview_occurrences('FREQ=DAILY;COUNT=3', now(), 'infinity', 'UTC')$$,
    '22023', 'ends_at must be a finite time, not infinity', 'preview: an infinite end');
SELECT throws_ok($$SELECT * FROM api.preview_occurrences('FREQ=DAILY;COUNT=3', '-infinity', now(), 'UTC')$$,
    '22023', 'starts_at must be a finite time, not -infinity', 'preview: an infinite start');
SELECT throws_ok($$SELECT api.create_schedule((SELECT id FROM eventsvc.events WHERE name = 'Well typed'),
    now() + interval '2 days', 'infinity', 'UTC', 'FREQ=WEEKLY;COUNT=2')$$,
    '22023', 'ends_at must be a finite time, not infinity', 'a recurring schedule that never ends its first occurrence');

RESET ROLE;
SET LOCAL ROLE eventsvc_worker;
SELECT throws_ok($$SELECT * FROM eventsvc.relay_claim(1, -1, 60)$$, '22023', NULL, 'relay_claim: a negative limit');
SELECT throws_ok($$SELECT * FROM eventsvc.venue_refresh_due(-5, 10)$$, '22023', NULL, 'venue_refresh_due: a negative age');
SELECT throws_ok($$SELECT * FROM eventsvc.venue_refresh_due(60, -1)$$, '22023', NULL, 'venue_refresh_due: a negative limit');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
