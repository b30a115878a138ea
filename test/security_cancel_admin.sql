-- Cancelling an event with sold seats refunds every buyer: it takes a tenant admin.
-- A tenant user is refused (42501, HTTP 403) through api.cancel_event, through
-- api.transition_event(..., 'CANCELLED') and through a direct status write, and the
-- refusal leaves nothing behind (status, holds, report, saga, outbox). Without sold
-- seats (holds only) a user may still cancel; an admin cancels either way.
--
-- Run against the code before this change (main at 244c604), tests 1-4 and 7 failed and
-- the run stopped at test 8 ("already cancelled"): a plain tenant user cancelled the
-- event with 3 sold seats in one call, refunds included (report and saga steps queued,
-- event.cancelled emitted), and could also write the status directly.
BEGIN;
SELECT plan(9);

CREATE TEMP TABLE tenants AS SELECT eventsvc.create_tenant('Cancel A', 'cancel-a', 'ca111111-1111-4111-8111-111111111111') AS a;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('ca111111-1111-4111-8111-111111111111', 'ca111111-0000-4000-8000-000000000001', 'Cancel Hall', 1000);

-- Two events on sale with a section each, made by the admin through the API.
CREATE FUNCTION pg_temp.on_sale(name text, days int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    ev jsonb;
BEGIN
    PERFORM set_config('app.current_tenant_id', 'ca111111-1111-4111-8111-111111111111', true);
    SET LOCAL ROLE eventsvc_admin;
    ev := api.create_event(venue_id => 'ca111111-0000-4000-8000-000000000001', name => name,
                           starts_at => eventsvc.now() + make_interval(days => days),
                           ends_at => eventsvc.now() + make_interval(days => days, hours => 3),
                           sections => '[{"section_name": "Floor", "total_capacity": 100}]');
    PERFORM api.publish_event((ev ->> 'id')::uuid);
    PERFORM api.transition_event((ev ->> 'id')::uuid, 'ON_SALE');
    RESET ROLE;
    RETURN jsonb_build_object('event', ev ->> 'id', 'section', ev -> 'sections' -> 0 ->> 'id');
END
$$;
CREATE TEMP TABLE e AS SELECT pg_temp.on_sale('Sold Show', 20) AS sold, pg_temp.on_sale('Held Show', 21) AS held;
GRANT SELECT ON e TO PUBLIC;

-- A buyer holds and buys 3 seats of the first; someone holds 2 of the second.
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = 'ca111111-1111-4111-8111-111111111111';
SET LOCAL app.current_user_id = 'buyer-1';
SELECT to_jsonb(api.reserve_capacity((SELECT (sold ->> 'section')::uuid FROM e), 3)) ->> 'id' AS hold \gset
SELECT to_jsonb(api.confirm_hold(:'hold')) IS NOT NULL AS bought \gset
SELECT to_jsonb(api.reserve_capacity((SELECT (held ->> 'section')::uuid FROM e), 2)) IS NOT NULL AS held \gset

-- ---------------------------------------------------------------- a tenant user
SET LOCAL app.current_user_id = 'staff-1';
SELECT throws_ok(format($$SELECT api.cancel_event(%L, 'Storm')$$, (SELECT sold ->> 'event' FROM e)),
                 '42501', format('event %s has 3 sold tickets; only a tenant admin may cancel it', (SELECT sold ->> 'event' FROM e)),
                 'a tenant user cannot cancel an event with sold seats');
SELECT throws_ok(format($$SELECT api.transition_event(%L, 'CANCELLED', 'Storm')$$, (SELECT sold ->> 'event' FROM e)),
                 '42501', NULL, 'nor through transition_event');
RESET ROLE;
SELECT is((SELECT status::text FROM eventsvc.events WHERE id = (SELECT (sold ->> 'event')::uuid FROM e)), 'ON_SALE',
          'the event is still on sale');
SELECT is((SELECT count(*)::int FROM eventsvc.event_cancellation_reports WHERE event_id = (SELECT (sold ->> 'event')::uuid FROM e))
          + (SELECT count(*)::int FROM eventsvc.outbox WHERE aggregate_id = (SELECT (sold ->> 'event')::uuid FROM e)
                                                        AND routing_key = 'event.cancelled'),
          0, 'no cancellation report, no saga, no event.cancelled message');
SELECT is((SELECT sum(quantity)::int FROM eventsvc.capacity_holds WHERE event_id = (SELECT (sold ->> 'event')::uuid FROM e)
              AND state = 'CONFIRMED'), 3, 'the sold seats are untouched');

-- held but nothing sold: the user may cancel
SET LOCAL ROLE eventsvc_user;
SELECT is(api.cancel_event((SELECT (held ->> 'event')::uuid FROM e), 'Venue flooded') ->> 'status', 'CANCELLED',
          'a tenant user may cancel an event with holds but no sold seats');
RESET ROLE;

-- ---------------------------------------------------------------- the same rule for a direct write
SET LOCAL ROLE eventsvc_user;
SELECT throws_like(format($$UPDATE eventsvc.events SET status = 'CANCELLED', cancelled_at = now() WHERE id = %L$$,
                          (SELECT sold ->> 'event' FROM e)),
                   '%', 'a tenant user''s direct status write to CANCELLED is refused too');
RESET ROLE;

-- ---------------------------------------------------------------- the admin
SET LOCAL ROLE eventsvc_admin;
SELECT is(api.confirm_cancellation((SELECT (sold ->> 'event')::uuid FROM e),
              (api.preview_cancellation((SELECT (sold ->> 'event')::uuid FROM e)) ->> 'confirmation_code')::uuid,
              'Headliner ill') ->> 'status', 'CANCELLED',
          'a tenant admin cancels the event with sold seats (with its preview''s code)');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM eventsvc.cancellation_steps s JOIN eventsvc.event_cancellation_reports r
                ON r.tenant_id = s.tenant_id AND r.id = s.report_id
            WHERE r.event_id = (SELECT (sold ->> 'event')::uuid FROM e)), 5, 'with its refund saga queued');

SELECT * FROM finish();
ROLLBACK;
