-- Event validations at their exact boundaries (2 hours, 365 days, 100 %), by the
-- testable clock; venue, overlap, slug and capacity rules; and a failed create
-- leaves no row behind anywhere.
BEGIN;
SELECT plan(51);

SELECT eventsvc.create_tenant('Val Tenant', 'val-tenant', '61111111-1111-4111-8111-111111111111');
SELECT eventsvc.create_tenant('Other Tenant', 'other-tenant', '62222222-2222-4222-8222-222222222222');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone, is_active) VALUES
    ('61111111-1111-4111-8111-111111111111', '6aaaaaaa-0000-4000-8000-000000000001', 'Main Hall', 1000, 'Europe/Berlin', true),
    ('61111111-1111-4111-8111-111111111111', '6aaaaaaa-0000-4000-8000-000000000002', 'Closed Hall', 1000, 'UTC', false),
    ('62222222-2222-4222-8222-222222222222', '6bbbbbbb-0000-4000-8000-000000000001', 'Their Hall', 1000, 'UTC', true);

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '61111111-1111-4111-8111-111111111111';

-- ---- the start window: at least 2 hours, at most 365 days ahead (now() = eventsvc.now() here)
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Two hours',
    now() + interval '2 hours', now() + interval '3 hours')$$, 'starts exactly 2 hours ahead: accepted');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Too soon',
    now() + interval '2 hours' - interval '1 microsecond', now() + interval '3 hours')$$,
    '22023', 'starts_at: must be at least 2 hours from now', '1 microsecond short of 2 hours: refused');
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'A year',
    now() + interval '365 days', now() + interval '365 days 1 hour')$$, 'starts exactly 365 days ahead: accepted');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Too far',
    now() + interval '365 days 1 microsecond', now() + interval '365 days 2 hours')$$,
    '22023', 'starts_at: must be at most 365 days from now', '1 microsecond past 365 days: refused');

-- Moving the clock one hour ahead moves the boundary with it.
RESET ROLE;
SET LOCAL eventsvc.clock_offset_seconds = 3600;
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Clock moved',
    now() + interval '3 hours' - interval '1 microsecond', now() + interval '4 hours')$$,
    '22023', 'starts_at: must be at least 2 hours from now', 'clock +1 h: 3 hours minus 1 µs is too soon');
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Clock moved',
    now() + interval '3 hours', now() + interval '4 hours')$$, 'clock +1 h: exactly 3 hours ahead is accepted');
RESET ROLE;
SET LOCAL eventsvc.clock_offset_seconds = 0;
SET LOCAL ROLE eventsvc_user;

-- ---- dates and doors
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Zero length',
    now() + interval '10 days', now() + interval '10 days')$$,
    '22023', 'ends_at: must be after starts_at', 'ends_at equal to starts_at: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'No end', now() + interval '10 days')$$,
    '22023', 'ends_at: is required for a single event', 'a single event needs ends_at');
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Doors at start',
    now() + interval '11 days', now() + interval '11 days 1 hour', doors_open => now() + interval '11 days')$$,
    'doors_open equal to starts_at: accepted');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Late doors',
    now() + interval '12 days', now() + interval '12 days 1 hour',
    doors_open => now() + interval '12 days 1 microsecond')$$,
    '22023', 'doors_open: must be at or before starts_at', 'doors 1 µs after the start: refused');

-- ---- time zones
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Mars',
    now() + interval '13 days', now() + interval '13 days 1 hour', timezone => 'Mars/Olympus_Mons')$$,
    '22023', 'timezone: "Mars/Olympus_Mons" is not an IANA time zone name', 'unknown zone refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Posix',
    now() + interval '13 days', now() + interval '13 days 1 hour', timezone => 'XYZ5')$$,
    '22023', 'timezone: "XYZ5" is not an IANA time zone name', 'POSIX rule string refused');
SELECT is(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Offset zone',
    now() + interval '13 days', now() + interval '13 days 1 hour', timezone => 'Etc/GMT+5') ->> 'timezone',
    'Etc/GMT+5', 'Etc/GMT+5 (a zone file with digits) accepted');
SELECT is(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Venue zone',
    now() + interval '14 days', now() + interval '14 days 1 hour') ->> 'timezone',
    'Europe/Berlin', 'no zone given: the venue''s zone');

-- ---- royalty percentages: each 0..100, together at most 100
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'All artist',
    now() + interval '15 days', now() + interval '15 days 1 hour', artist_percentage => 100, venue_percentage => 0)$$,
    'artist 100 % + venue 0 %: accepted');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Over',
    now() + interval '16 days', now() + interval '16 days 1 hour', artist_percentage => 100.01)$$,
    '22023', 'artist_percentage: must be between 0 and 100, got 100.01', 'artist 100.01 %: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Negative',
    now() + interval '16 days', now() + interval '16 days 1 hour', venue_percentage => -1)$$,
    '22023', 'venue_percentage: must be between 0 and 100, got -1', 'venue -1 %: refused');
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Split',
    now() + interval '17 days', now() + interval '17 days 1 hour', artist_percentage => 60, venue_percentage => 40)$$,
    'artist 60 % + venue 40 % = 100 %: accepted');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Split over',
    now() + interval '18 days', now() + interval '18 days 1 hour', artist_percentage => 60, venue_percentage => 40.01)$$,
    '22023', 'artist_percentage + venue_percentage: must be at most 100, got 100.01', 'sum 100.01 %: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Fraction',
    now() + interval '18 days', now() + interval '18 days 1 hour', artist_percentage => 33.333)$$,
    '22023', 'artist_percentage: at most 2 decimal places, got 33.333', 'three decimals: refused');

-- ---- virtual events need a well-formed https URL
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Virtual',
    now() + interval '19 days', now() + interval '19 days 1 hour', is_virtual => true)$$,
    '22023', 'virtual_event_url: a virtual event needs a well-formed https URL', 'virtual without URL: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Virtual',
    now() + interval '19 days', now() + interval '19 days 1 hour', is_virtual => true,
    virtual_event_url => 'http://stream.example.com/x')$$,
    '22023', 'virtual_event_url: a virtual event needs a well-formed https URL, got "http://stream.example.com/x"',
    'virtual with http URL: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Virtual',
    now() + interval '19 days', now() + interval '19 days 1 hour', is_virtual => true,
    virtual_event_url => 'https://localhost/x')$$,
    '22023', 'virtual_event_url: a virtual event needs a well-formed https URL, got "https://localhost/x"',
    'virtual with a dotless host: refused');
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Virtual',
    now() + interval '19 days', now() + interval '19 days 1 hour', is_virtual => true,
    virtual_event_url => 'https://stream.example.com/live/1')$$, 'virtual with https URL: accepted');

-- ---- no overlapping single events at one venue (PT409 before the exclusion constraint)
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Big show',
    now() + interval '20 days', now() + interval '20 days 3 hours')$$, 'first event of the evening');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Clash',
    now() + interval '20 days 1 hour', now() + interval '20 days 2 hours')$$,
    'PT409', 'another event at this venue overlaps: "Big show" (' ||
    (SELECT id FROM api.events WHERE name = 'Big show') || ')', 'overlapping event: PT409 naming the other');
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'After show',
    now() + interval '20 days 3 hours', now() + interval '20 days 4 hours')$$, 'back-to-back event: accepted');
SELECT lives_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Festival',
    now() + interval '20 days', now() + interval '20 days 3 hours', event_type => 'series')$$,
    'a series may share the time (only single events exclude each other)');

-- ---- slugs: lowercase ASCII with dashes, unique per venue
SELECT is(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', '  Jazz -- Night!! ',
    now() + interval '21 days', now() + interval '21 days 1 hour') ->> 'slug', 'jazz-night', 'slug from the name');
SELECT is(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Jazz Night',
    now() + interval '22 days', now() + interval '22 days 1 hour') ->> 'slug', 'jazz-night-2', 'second: -2');
SELECT is(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'JAZZ NIGHT',
    now() + interval '23 days', now() + interval '23 days 1 hour') ->> 'slug', 'jazz-night-3', 'third: -3');
SELECT is(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Café Ölé 2027',
    now() + interval '24 days', now() + interval '24 days 1 hour') ->> 'slug', 'cafe-ole-2027', 'Latin-1 letters transliterated');
SELECT is(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Straße 東京 Œuvre',
    now() + interval '26 days', now() + interval '26 days 1 hour') ->> 'slug', 'strasse-uvre', 'other non-ASCII separates words');
SELECT is(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', '¡¿!',
    now() + interval '25 days', now() + interval '25 days 1 hour') ->> 'slug', 'event', 'nothing left: "event"');

-- ---- the venue: exists for this tenant, active, big enough
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-00000000ffff', 'Nowhere',
    now() + interval '30 days', now() + interval '30 days 1 hour')$$,
    'PT404', 'venue_id: venue 6aaaaaaa-0000-4000-8000-00000000ffff not found', 'unknown venue: PT404');
SELECT throws_ok($$SELECT api.create_event('6bbbbbbb-0000-4000-8000-000000000001', 'Theirs',
    now() + interval '30 days', now() + interval '30 days 1 hour')$$,
    'PT404', 'venue_id: venue 6bbbbbbb-0000-4000-8000-000000000001 not found', 'another tenant''s venue: PT404');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000002', 'Closed',
    now() + interval '30 days', now() + interval '30 days 1 hour')$$,
    '22023', 'venue_id: venue 6aaaaaaa-0000-4000-8000-000000000002 is not active', 'inactive venue: refused');
SELECT is(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Full house',
    now() + interval '31 days', now() + interval '31 days 1 hour',
    sections => '[{"section_name": "Floor", "total_capacity": 600}, {"section_name": "Balcony", "total_capacity": 400}]')
    ->> 'capacity', '1000', 'sections filling the venue exactly: accepted, capacity is their sum');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Too full',
    now() + interval '32 days', now() + interval '32 days 1 hour',
    sections => '[{"section_name": "Floor", "total_capacity": 600}, {"section_name": "Balcony", "total_capacity": 401}]')$$,
    '22023', 'sections: 1001 exceeds the venue''s capacity of 1000', 'one seat more than the venue: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Small cap',
    now() + interval '32 days', now() + interval '32 days 1 hour', capacity => 100,
    sections => '[{"section_name": "Floor", "total_capacity": 200}]')$$,
    '22023', 'capacity: 100 is less than the sections'' total 200', 'sections above the event capacity: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Twice',
    now() + interval '32 days', now() + interval '32 days 1 hour',
    sections => '[{"section_name": "Floor", "total_capacity": 1}, {"section_name": "Floor", "total_capacity": 1}]')$$,
    '22023', 'sections[1].section_name: "Floor" is given twice', 'duplicate section name: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Huge',
    now() + interval '32 days', now() + interval '32 days 1 hour',
    sections => (SELECT jsonb_agg(jsonb_build_object('section_name', 's' || g, 'total_capacity', 1))
                   FROM generate_series(1, 201) g))$$,
    '22023', 'sections: 201 given, at most 200 per call', 'more than 200 sections in one call: refused before any work');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Bad section',
    now() + interval '32 days', now() + interval '32 days 1 hour',
    sections => '[{"section_name": "Floor", "total_capacity": 1.5}]')$$,
    '22023', 'sections[0].total_capacity: must be a whole number', 'fractional seats: refused');

-- ---- other fields
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', '   ',
    now() + interval '33 days', now() + interval '33 days 1 hour')$$,
    '22023', 'name: is required and must not be blank', 'blank name: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Vis',
    now() + interval '33 days', now() + interval '33 days 1 hour', visibility => 'SECRET')$$,
    '22023', 'visibility: "SECRET" is not allowed', 'unknown visibility: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Cat',
    now() + interval '33 days', now() + interval '33 days 1 hour', category_id => gen_random_uuid())$$,
    '22023', NULL, 'unknown category: refused');
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Sched',
    now() + interval '33 days', now() + interval '33 days 1 hour',
    schedules => '[{"starts_at": "2030-01-02 10:00+00", "ends_at": "2030-01-02 09:00+00"}]')$$,
    '22023', 'schedules[0].ends_at: must be after starts_at', 'schedule ending before it starts: refused');
SELECT is(jsonb_array_length(api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Two dates',
    now() + interval '34 days', now() + interval '34 days 1 hour', event_type => 'recurring',
    schedules => jsonb_build_array(
        jsonb_build_object('starts_at', now() + interval '34 days', 'ends_at', now() + interval '34 days 1 hour'),
        jsonb_build_object('starts_at', now() + interval '41 days', 'ends_at', now() + interval '41 days 1 hour')))
    -> 'schedules'), 2, 'explicit schedules are stored');

-- ---- a failed create leaves nothing behind: it fails at the sections insert, after the
-- event, metadata and schedule rows were written (min > max purchase breaks a CHECK).
RESET ROLE;
CREATE TEMP TABLE counts_before AS
SELECT (SELECT count(*) FROM eventsvc.events) AS events, (SELECT count(*) FROM eventsvc.event_metadata) AS metadata,
       (SELECT count(*) FROM eventsvc.event_schedules) AS schedules, (SELECT count(*) FROM eventsvc.event_capacity) AS sections,
       (SELECT count(*) FROM eventsvc.outbox) AS outbox, (SELECT count(*) FROM eventsvc.event_audit_log) AS audit,
       (SELECT count(*) FROM eventsvc.idempotency_keys) AS keys;
GRANT SELECT ON counts_before TO eventsvc_user;
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok($$SELECT api.create_event('6aaaaaaa-0000-4000-8000-000000000001', 'Doomed',
    now() + interval '40 days', now() + interval '40 days 1 hour', idempotency_key => 'doomed-1',
    sections => '[{"section_name": "Floor", "total_capacity": 10, "minimum_purchase": 5, "maximum_purchase": 2}]')$$,
    NULL, NULL, 'create failing at its last insert');
RESET ROLE;
SELECT is((SELECT count(*) FROM eventsvc.events WHERE name = 'Doomed'), 0::bigint, 'no event row left');
SELECT results_eq(
    $$SELECT (SELECT count(*) FROM eventsvc.events), (SELECT count(*) FROM eventsvc.event_metadata),
             (SELECT count(*) FROM eventsvc.event_schedules), (SELECT count(*) FROM eventsvc.event_capacity),
             (SELECT count(*) FROM eventsvc.outbox), (SELECT count(*) FROM eventsvc.event_audit_log),
             (SELECT count(*) FROM eventsvc.idempotency_keys)$$,
    $$SELECT * FROM counts_before$$,
    'no metadata, schedule, section, outbox, audit or idempotency row left either');

SELECT * FROM finish();
ROLLBACK;
