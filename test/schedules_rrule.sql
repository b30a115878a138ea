-- Schedules, pgTAP: RRULE expansion keeps local wall time across DST in two zones,
-- the supported parts expand as RFC 5545 says, bad rules are 22023 errors naming
-- the bad part, expansion is bounded, and the schedule API (create, update with
-- expected_version, occurrences) validates, derives recurrence_end and scopes reads.
BEGIN;
SELECT plan(77);
GRANT ALL ON ALL TABLES IN SCHEMA pg_temp TO PUBLIC;
GRANT ALL ON ALL SEQUENCES IN SCHEMA pg_temp TO PUBLIC;

-- ---------------------------------------------------------------- DST, two zones
-- New York: DST starts 2026-03-08, ends 2026-11-01. Weekly on Friday at 20:00.
SELECT is(
    (SELECT array_agg(DISTINCT to_char(starts_at AT TIME ZONE 'America/New_York', 'Dy HH24:MI'))
       FROM eventsvc.expand_rrule('FREQ=WEEKLY;BYDAY=FR;COUNT=40', '2026-02-27 20:00', 'America/New_York', '3 hours')),
    ARRAY['Fri 20:00'], 'New York: 40 weekly Friday shows all start at 20:00 local');
SELECT results_eq(
    $$SELECT starts_at FROM eventsvc.expand_rrule('FREQ=WEEKLY;BYDAY=FR;COUNT=40', '2026-02-27 20:00',
                                                   'America/New_York', '3 hours')
       WHERE starts_at::date IN ('2026-02-28', '2026-03-07', '2026-03-14', '2026-10-31', '2026-11-07')$$,
    $$VALUES ('2026-02-28 01:00+00'::timestamptz), ('2026-03-07 01:00+00'), ('2026-03-14 00:00+00'),
             ('2026-10-31 00:00+00'), ('2026-11-07 01:00+00')$$,
    'New York: UTC start moves from 01:00 to 00:00 after March 8 and back after November 1');
SELECT is(
    (SELECT array_agg(DISTINCT ends_at - starts_at)
       FROM eventsvc.expand_rrule('FREQ=WEEKLY;BYDAY=FR;COUNT=40', '2026-02-27 20:00', 'America/New_York', '3 hours')),
    ARRAY[interval '3 hours'], 'every occurrence lasts the duration');
-- Berlin: DST starts 2026-03-29, ends 2026-10-25. Weekly on Saturday at 20:00.
SELECT is(
    (SELECT array_agg(DISTINCT to_char(starts_at AT TIME ZONE 'Europe/Berlin', 'Dy HH24:MI'))
       FROM eventsvc.expand_rrule('FREQ=WEEKLY;COUNT=40', '2026-03-21 20:00', 'Europe/Berlin', '2 hours')),
    ARRAY['Sat 20:00'], 'Berlin: 40 weekly Saturday shows all start at 20:00 local');
SELECT results_eq(
    $$SELECT starts_at FROM eventsvc.expand_rrule('FREQ=WEEKLY;COUNT=40', '2026-03-21 20:00', 'Europe/Berlin', '2 hours')
       WHERE starts_at::date IN ('2026-03-21', '2026-03-28', '2026-04-04', '2026-10-24', '2026-10-31')$$,
    $$VALUES ('2026-03-21 19:00+00'::timestamptz), ('2026-03-28 19:00+00'), ('2026-04-04 18:00+00'),
             ('2026-10-24 18:00+00'), ('2026-10-31 19:00+00')$$,
    'Berlin: UTC start moves from 19:00 to 18:00 after March 29 and back after October 25');
SELECT is(
    (SELECT count(*)::int FROM eventsvc.expand_rrule('FREQ=DAILY;COUNT=3', '2026-03-07 02:30', 'America/New_York', '1 hour')
      WHERE to_char(starts_at AT TIME ZONE 'America/New_York', 'HH24:MI') = '03:30'),
    1, 'a wall time in the spring-forward gap (02:30 on March 8) moves one hour forward, as PostgreSQL does');

-- ---------------------------------------------------------------- the parts
SELECT results_eq(
    $$SELECT (starts_at AT TIME ZONE 'UTC')::date FROM eventsvc.expand_rrule('FREQ=DAILY;INTERVAL=3;COUNT=4', '2026-01-30 10:00', 'UTC', '1 hour')$$,
    $$VALUES ('2026-01-30'::date), ('2026-02-02'), ('2026-02-05'), ('2026-02-08')$$, 'DAILY with INTERVAL=3');
SELECT results_eq(
    $$SELECT (starts_at AT TIME ZONE 'UTC')::date FROM eventsvc.expand_rrule('FREQ=DAILY;BYDAY=SA,SU;COUNT=4', '2026-01-01 10:00', 'UTC', '1 hour')$$,
    $$VALUES ('2026-01-03'::date), ('2026-01-04'), ('2026-01-10'), ('2026-01-11')$$, 'DAILY limited by BYDAY (weekends)');
SELECT results_eq(
    $$SELECT (starts_at AT TIME ZONE 'UTC')::date FROM eventsvc.expand_rrule('FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=5', '2026-01-06 19:00', 'UTC', '1 hour')$$,
    $$VALUES ('2026-01-06'::date), ('2026-01-08'), ('2026-01-20'), ('2026-01-22'), ('2026-02-03')$$,
    'WEEKLY every other week on Tuesday and Thursday');
SELECT results_eq(
    $$SELECT (starts_at AT TIME ZONE 'UTC')::date FROM eventsvc.expand_rrule('FREQ=MONTHLY;BYDAY=1MO;COUNT=3', '2026-01-01 19:00', 'UTC', '1 hour')$$,
    $$VALUES ('2026-01-05'::date), ('2026-02-02'), ('2026-03-02')$$, 'MONTHLY on the first Monday (1MO)');
SELECT results_eq(
    $$SELECT (starts_at AT TIME ZONE 'UTC')::date FROM eventsvc.expand_rrule('FREQ=MONTHLY;BYDAY=-1FR;COUNT=3', '2026-01-01 19:00', 'UTC', '1 hour')$$,
    $$VALUES ('2026-01-30'::date), ('2026-02-27'), ('2026-03-27')$$, 'MONTHLY on the last Friday (-1FR)');
SELECT results_eq(
    $$SELECT (starts_at AT TIME ZONE 'UTC')::date FROM eventsvc.expand_rrule('FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3', '2026-01-01 19:00', 'UTC', '1 hour')$$,
    $$VALUES ('2026-01-31'::date), ('2026-02-28'), ('2026-03-31')$$, 'MONTHLY on the last day (BYMONTHDAY=-1)');
SELECT results_eq(
    $$SELECT (starts_at AT TIME ZONE 'UTC')::date FROM eventsvc.expand_rrule('FREQ=MONTHLY;COUNT=3', '2026-01-31 19:00', 'UTC', '1 hour')$$,
    $$VALUES ('2026-01-31'::date), ('2026-03-31'), ('2026-05-31')$$, 'MONTHLY on the 31st skips months without one');
SELECT results_eq(
    $$SELECT (starts_at AT TIME ZONE 'UTC')::date FROM eventsvc.expand_rrule('FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13;COUNT=2', '2026-01-01 19:00', 'UTC', '1 hour')$$,
    $$VALUES ('2026-02-13'::date), ('2026-03-13')$$, 'BYDAY and BYMONTHDAY together: Friday the 13th');
SELECT results_eq(
    $$SELECT (starts_at AT TIME ZONE 'UTC')::date FROM eventsvc.expand_rrule('FREQ=MONTHLY;BYMONTHDAY=1,15;INTERVAL=2;COUNT=4', '2026-01-10 19:00', 'UTC', '1 hour')$$,
    $$VALUES ('2026-01-15'::date), ('2026-03-01'), ('2026-03-15'), ('2026-05-01')$$,
    'MONTHLY every other month on the 1st and 15th, none before dtstart');
SELECT is(
    (SELECT count(*)::int FROM eventsvc.expand_rrule('FREQ=DAILY;UNTIL=20260110', '2026-01-01 20:00', 'UTC', '1 hour')),
    10, 'UNTIL as a date includes that whole local day');
SELECT is(
    (SELECT max(starts_at) FROM eventsvc.expand_rrule('FREQ=DAILY;UNTIL=20260105T010000Z', '2026-01-01 20:00', 'America/New_York', '1 hour')),
    '2026-01-05 01:00+00'::timestamptz, 'UNTIL in UTC (Z) is an inclusive instant');
SELECT is(
    (SELECT count(*)::int FROM eventsvc.expand_rrule('FREQ=DAILY;UNTIL=20260104T195959', '2026-01-01 20:00', 'America/New_York', '1 hour')),
    3, 'UNTIL without Z is local wall time');
SELECT is(
    (SELECT count(*)::int FROM eventsvc.expand_rrule('rrule:freq=weekly;byday=mo;count=2', '2026-01-01 20:00', 'UTC', '1 hour')),
    2, 'an RRULE: prefix and lower case are accepted');
SELECT is(
    (SELECT ends_at - starts_at FROM eventsvc.expand_rrule('FREQ=DAILY;COUNT=1', '2026-01-01 20:00', 'UTC', '1 day 2 hours')),
    interval '26 hours', 'a duration with days keeps its hours');

-- ---------------------------------------------------------------- bounds
SELECT is((SELECT count(*)::int FROM eventsvc.expand_rrule('FREQ=DAILY', '2026-01-01 20:00', 'UTC', '1 hour')),
          500, 'an open-ended rule stops at max_count (default 500)');
SELECT is((SELECT count(*)::int FROM eventsvc.expand_rrule('FREQ=DAILY', '2026-01-01 20:00', 'UTC', '1 hour', 7)),
          7, 'max_count limits the rows');
SELECT is((SELECT count(*)::int FROM eventsvc.expand_rrule('FREQ=DAILY', '2026-01-01 20:00', 'UTC', '1 hour', 10000, '2026-02-01 00:00+00')),
          31, 'window_end stops an open-ended rule (exclusive)');
SELECT is((SELECT count(*)::int FROM eventsvc.expand_rrule('FREQ=DAILY;COUNT=5', '2026-01-01 20:00', 'UTC', '1 hour', 100)),
          5, 'COUNT stops before max_count');
SELECT throws_ok($$SELECT * FROM eventsvc.expand_rrule('FREQ=DAILY', '2026-01-01 20:00', 'UTC', '1 hour', 10001)$$,
                 '22023', 'invalid max_count 10001: it must be from 1 to 10000', 'max_count above the hard cap is refused');
SELECT is((SELECT count(*)::int FROM eventsvc.expand_rrule('FREQ=MONTHLY;BYMONTHDAY=30;INTERVAL=12', '2026-02-01 20:00', 'UTC', '1 hour')),
          0, 'a rule that never matches ends (period cap), it does not spin');

-- ---------------------------------------------------------------- bad rules
SELECT throws_ok($$SELECT * FROM eventsvc.expand_rrule('FREQ=YEARLY', '2026-01-01 20:00', 'UTC', '1 hour')$$,
                 '22023', 'invalid recurrence rule: FREQ must be DAILY, WEEKLY or MONTHLY', 'FREQ=YEARLY is refused');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('INTERVAL=2')$$, '22023', 'invalid recurrence rule: FREQ is required', 'FREQ is required');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('')$$, '22023', 'invalid recurrence rule: the rule is empty', 'an empty rule');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=WEEKLY;BYDAY=XX')$$, '22023', NULL, 'an unknown weekday');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=WEEKLY;BYSETPOS=1')$$, '22023',
                 'invalid recurrence rule: this part is not supported', 'an unsupported part (BYSETPOS)');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=DAILY;COUNT=2;UNTIL=20260101')$$, '22023',
                 'invalid recurrence rule: COUNT and UNTIL cannot both be given (RFC 5545)', 'COUNT with UNTIL');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=DAILY;INTERVAL=0')$$, '22023',
                 'invalid recurrence rule: INTERVAL must be a whole number from 1 to 1000', 'INTERVAL=0');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=DAILY;COUNT=abc')$$, '22023',
                 'invalid recurrence rule: COUNT must be a whole number from 1 to 1000000', 'COUNT not a number');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=WEEKLY;BYDAY=1MO')$$, '22023',
                 'invalid recurrence rule: a BYDAY ordinal such as 1MO or -1FR is only allowed with FREQ=MONTHLY',
                 'an ordinal BYDAY outside MONTHLY');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=MONTHLY;BYDAY=6MO')$$, '22023',
                 'invalid recurrence rule: BYDAY ordinal must be 1..5 or -5..-1 (as in 2TU or -1FR)', 'ordinal out of range');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=WEEKLY;BYMONTHDAY=1')$$, '22023',
                 'invalid recurrence rule: BYMONTHDAY cannot be used with FREQ=WEEKLY (RFC 5545)', 'BYMONTHDAY with WEEKLY');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=MONTHLY;BYMONTHDAY=32')$$, '22023', NULL, 'BYMONTHDAY=32');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=DAILY;UNTIL=20260230')$$, '22023',
                 'invalid recurrence rule: UNTIL is not a valid date and time', 'UNTIL on February 30');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ=DAILY;FREQ=WEEKLY')$$, '22023',
                 'invalid recurrence rule: a part appears twice', 'a repeated part');
SELECT throws_ok($$SELECT eventsvc.validate_rrule('FREQ')$$, '22023',
                 'invalid recurrence rule: each part must be NAME=VALUE', 'a part without a value');
SELECT throws_ok($$SELECT * FROM eventsvc.expand_rrule('FREQ=DAILY', '2026-01-01 20:00', 'Mars/Olympus', '1 hour')$$,
                 '22023', 'invalid time zone "Mars/Olympus"', 'an unknown time zone');
SELECT throws_ok($$SELECT * FROM eventsvc.expand_rrule('FREQ=DAILY', '2026-01-01 20:00', 'UTC', '0 hours')$$,
                 '22023', 'invalid occurrence duration: it must be positive', 'a zero duration');
SELECT throws_ok($$SELECT * FROM eventsvc.expand_rrule('FREQ=DAILY', '2026-01-01 20:00', 'UTC', '400 days')$$,
                 '22023', 'invalid occurrence duration: it must be at most 366 days', 'an occurrence longer than a year');
SELECT throws_ok($$SELECT * FROM eventsvc.expand_rrule('FREQ=DAILY', '10000-01-01 20:00', 'UTC', '1 hour')$$,
                 '22023', 'invalid schedule start: it must be a local date and time in the years 1 to 9999',
                 'a start beyond year 9999');
SELECT is((SELECT count(*)::int FROM eventsvc.expand_rrule('FREQ=DAILY', '9999-12-30 20:00', 'UTC', '1 hour')), 2,
          'expansion ends with the year 9999 instead of running out of range');
-- the message names the bad part
SELECT throws_matching($$SELECT eventsvc.validate_rrule('FREQ=WEEKLY;BYDAY=MO,XX')$$, 'BYDAY',
                       'the error names BYDAY');
CREATE TEMP TABLE err (detail text);
DO $$
DECLARE d text;
BEGIN
    PERFORM eventsvc.validate_rrule('FREQ=WEEKLY;BYSETPOS=1');
EXCEPTION WHEN invalid_parameter_value THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    INSERT INTO err VALUES (d);
END $$;
SELECT is((SELECT detail FROM err), 'The rule "FREQ=WEEKLY;BYSETPOS=1" has the bad part "BYSETPOS=1".',
          'the detail quotes the rule and the bad part');

-- ---------------------------------------------------------------- the schedule API
SELECT eventsvc.create_tenant('Sched A', 'sched-a', '61111111-1111-4111-8111-111111111111');
SELECT eventsvc.create_tenant('Sched B', 'sched-b', '62222222-2222-4222-8222-222222222222');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone) VALUES
    ('61111111-1111-4111-8111-111111111111', '6aaaaaaa-0000-4000-8000-000000000001', 'Sched Hall', 500, 'America/New_York'),
    ('62222222-2222-4222-8222-222222222222', '6bbbbbbb-0000-4000-8000-000000000001', 'Other Hall', 500, 'Europe/Berlin');
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, event_type, timezone) VALUES
    ('61111111-1111-4111-8111-111111111111', '6aaaaaaa-0000-4000-8000-0000000000e1', '6aaaaaaa-0000-4000-8000-000000000001',
     'Friday Residency', 'friday-residency', 'ON_SALE', 'recurring', 'America/New_York'),
    ('61111111-1111-4111-8111-111111111111', '6aaaaaaa-0000-4000-8000-0000000000e2', '6aaaaaaa-0000-4000-8000-000000000001',
     'Draft Residency', 'draft-residency', 'DRAFT', 'recurring', 'America/New_York');
RESET eventsvc.import_mode;

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '61111111-1111-4111-8111-111111111111';
CREATE TEMP TABLE sch AS
SELECT api.create_schedule('6aaaaaaa-0000-4000-8000-0000000000e1', '2026-02-27 20:00 America/New_York',
                           '2026-02-27 23:00 America/New_York', recurrence_rule => 'FREQ=WEEKLY;BYDAY=FR;COUNT=10',
                           doors_open_at => '2026-02-27 19:00 America/New_York') AS doc;
SELECT is((SELECT doc ->> 'timezone' FROM sch), 'America/New_York', 'the schedule takes the event''s time zone by default');
SELECT is((SELECT (doc ->> 'is_recurring')::boolean FROM sch), true, 'a rule makes the schedule recurring');
SELECT is((SELECT (doc ->> 'recurrence_end')::timestamptz FROM sch), '2026-05-02 03:00+00'::timestamptz,
          'recurrence_end is the end of the 10th occurrence (May 1, 23:00 EDT)');
SELECT is((SELECT count(*)::int FROM api.event_occurrences('6aaaaaaa-0000-4000-8000-0000000000e1')), 10,
          'event_occurrences lists the 10 occurrences');
SELECT results_eq(
    $$SELECT starts_at, doors_open_at FROM api.event_occurrences('6aaaaaaa-0000-4000-8000-0000000000e1',
                                                                 '2026-03-05', '2026-03-15')$$,
    $$VALUES ('2026-03-07 01:00+00'::timestamptz, '2026-03-07 00:00+00'::timestamptz),
             ('2026-03-14 00:00+00', '2026-03-13 23:00+00')$$,
    'occurrences in a window keep 20:00 local and doors one hour before, across the DST change');
SELECT throws_ok($$SELECT api.create_schedule('6aaaaaaa-0000-4000-8000-0000000000e1', '2026-03-01 20:00+00',
                                              '2026-03-01 23:00+00', recurrence_rule => 'FREQ=HOURLY')$$,
                 '22023', 'invalid recurrence rule: FREQ must be DAILY, WEEKLY or MONTHLY', 'create_schedule refuses a bad rule');
SELECT throws_ok($$SELECT api.create_schedule('6aaaaaaa-0000-4000-8000-0000000000e1', '2026-03-01 20:00+00',
                                              '2026-03-01 23:00+00', timezone => 'Nowhere/Land')$$,
                 '22023', 'invalid time zone "Nowhere/Land"', 'create_schedule refuses an unknown zone');
SELECT throws_ok($$SELECT api.create_schedule('6aaaaaaa-0000-4000-8000-0000000000e1', '2026-03-01 20:00+00',
                                              '2026-03-01 19:00+00')$$,
                 '22023', 'invalid schedule: ends_at must be after starts_at', 'create_schedule refuses ends before starts');
SELECT throws_ok($$SELECT api.create_schedule('6aaaaaaa-0000-4000-8000-0000000000e1', '2026-03-02 20:00+00',
                                              '2026-03-02 23:00+00', recurrence_rule => 'FREQ=DAILY;UNTIL=20260301')$$,
                 '22023', 'invalid recurrence rule: it yields no occurrence on or after starts_at',
                 'a rule that ends before it starts is refused');
SELECT throws_ok($$SELECT api.create_schedule('6aaaaaaa-0000-4000-8000-0000000000e1', '2026-03-02 20:00+00',
                                              '2026-03-02 23:00+00', recurrence_rule => 'FREQ=DAILY;COUNT=20000')$$,
                 '22023', 'invalid recurrence rule: it yields more than 10000 occurrences', 'a bounded rule above the hard cap');
SELECT is((SELECT count(*)::int FROM eventsvc.event_schedules), 1, 'refused schedules left no row behind');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox
            WHERE routing_key = 'event.updated' AND payload #>> '{data,schedule_action}' = 'created'
              AND aggregate_id = '6aaaaaaa-0000-4000-8000-0000000000e1'), 1,
          'one event.updated message for the created schedule, none for the refused ones');
SELECT throws_ok($$SELECT api.create_schedule('6bbbbbbb-0000-4000-8000-0000000000e1', '2026-03-01 20:00+00',
                                              '2026-03-01 23:00+00')$$,
                 'PT404', NULL, 'another tenant''s (or a missing) event is not found');

SELECT results_eq($$SELECT starts_at FROM api.preview_occurrences('FREQ=MONTHLY;BYDAY=1SA', '2026-03-07 20:00 Europe/Berlin',
                                                                  '2026-03-07 22:00 Europe/Berlin', 'Europe/Berlin', 3)$$,
                  $$VALUES ('2026-03-07 19:00+00'::timestamptz), ('2026-04-04 18:00+00'), ('2026-05-02 18:00+00')$$,
                  'preview: first Saturdays at 20:00 Berlin time, nothing stored');
SELECT throws_ok($$SELECT * FROM api.preview_occurrences('FREQ=DAILY', now(), now() + interval '1 hour', 'Atlantis/Capital')$$,
                 '22023', 'invalid time zone "Atlantis/Capital"', 'preview: an unknown zone is named');

-- update: optimistic locking, then a one-off schedule
SELECT is((api.update_schedule((SELECT (doc ->> 'id')::uuid FROM sch), 1, recurrence_rule => 'FREQ=WEEKLY;BYDAY=FR;COUNT=4')
           ->> 'recurrence_end')::timestamptz, '2026-03-21 03:00+00'::timestamptz, 'update_schedule re-derives recurrence_end');
SELECT throws_ok(format($$SELECT api.update_schedule(%L, 1, notes => 'stale')$$, (SELECT doc ->> 'id' FROM sch)),
                 'PT409', NULL, 'a stale expected_version is a conflict');
SELECT is((api.update_schedule((SELECT (doc ->> 'id')::uuid FROM sch), 2, recurrence_rule => '') ->> 'is_recurring')::boolean,
          false, 'an empty rule makes the schedule one-off');
SELECT is((SELECT count(*)::int FROM api.event_occurrences('6aaaaaaa-0000-4000-8000-0000000000e1')), 1,
          'a one-off schedule is one occurrence');
SELECT throws_ok($$SELECT api.update_schedule(gen_random_uuid(), 1)$$, 'PT404', NULL, 'unknown schedule');

-- per-schedule capacity: a section can belong to one schedule
SELECT api.create_section('6aaaaaaa-0000-4000-8000-0000000000e1', 'Floor', 100, schedule_id => (doc ->> 'id')::uuid) IS NOT NULL AS section
  FROM sch \gset
SELECT is((SELECT count(*)::int FROM eventsvc.event_capacity c JOIN eventsvc.event_schedules s
             ON s.tenant_id = c.tenant_id AND s.id = c.schedule_id), 1, 'capacity can be per schedule');
SELECT throws_matching(format($$SELECT api.delete_schedule(%L, 3)$$, (SELECT doc ->> 'id' FROM sch)),
                       'still has sections or price tiers', 'a schedule with sections cannot be deleted (PT409)');
SELECT throws_matching(format($$SELECT api.delete_schedule(%L, 1)$$, (SELECT doc ->> 'id' FROM sch)),
                       'expected version 1, current version 3', 'delete_schedule checks expected_version (PT409)');
CREATE TEMP TABLE sch2 AS
SELECT api.create_schedule('6aaaaaaa-0000-4000-8000-0000000000e1', '2026-06-05 20:00 America/New_York',
                           '2026-06-05 23:00 America/New_York') AS doc;
SELECT is(api.delete_schedule((SELECT (doc ->> 'id')::uuid FROM sch2), 1) ->> 'deleted', 'true',
          'a schedule without sections is deleted');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE payload #>> '{data,schedule_action}' = 'deleted'), 1,
          'and downstream services are told');
RESET ROLE;

-- anonymous callers see occurrences of public, published events only
SET LOCAL ROLE eventsvc_anon;
SELECT is((SELECT count(*)::int FROM api.event_occurrences('6aaaaaaa-0000-4000-8000-0000000000e1')), 1,
          'anonymous callers see occurrences of a published event');
SELECT throws_ok($$SELECT * FROM api.event_occurrences('6aaaaaaa-0000-4000-8000-0000000000e2')$$,
                 'PT404', NULL, 'anonymous callers get not found for a draft');
SELECT throws_ok($$SELECT api.create_schedule('6aaaaaaa-0000-4000-8000-0000000000e1', now(), now() + interval '1 hour')$$,
                 '42501', NULL, 'anonymous callers cannot create schedules');
RESET ROLE;

-- a direct write by a DBA goes through the same checks
SELECT throws_ok($$UPDATE eventsvc.event_schedules SET recurrence_rule = 'FREQ=SECONDLY'$$, '22023', NULL,
                 'a direct UPDATE with a bad rule is refused by the trigger');

SELECT * FROM finish();
ROLLBACK;
