-- test/lib/hostile_seed.sql: two active tenants (A, B) with the same shape of data, made
-- through the api functions as each tenant's admin, and an inactive tenant C.
-- Tenant B's names carry the markers "Zebra" (public objects) and "ZebraSecret" (objects
-- nobody else may ever see); hostile.ids records every id. Loaded after hostile_driver.sql.
\set ON_ERROR_STOP 1

-- Run one api call as role r for tenant t (superuser session); the result as jsonb.
CREATE FUNCTION hostile.as_role(r text, t uuid, q text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    res jsonb;
BEGIN
    PERFORM set_config('app.current_tenant_id', t::text, true);
    PERFORM set_config('app.current_user_id', 'seed-' || r, true);
    EXECUTE format('SET LOCAL ROLE %I', r);
    EXECUTE q INTO res;
    EXECUTE 'RESET ROLE';
    RETURN res;
END
$$;

CREATE FUNCTION hostile.seed_tenant(letter text, t uuid, venue uuid, pub text, secret text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    ev jsonb;
    r jsonb;
    e_pub uuid; e_sec uuid; e_can uuid;
    s_floor uuid; s_balc uuid; s_sec uuid;
    p_pub uuid; p_sec uuid;
    h1 uuid; h2 uuid;
    sch uuid; sch2 uuid;
    rev uuid;
    is_b boolean := letter = 'B';
    step text;
BEGIN
    INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES (t, venue, pub || ' Venue', 5000);
    INSERT INTO hostile.ids VALUES ('tenant', letter, t::text, false), ('venue', letter, venue::text, false);

    step := 'public event';
    ev := hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.create_event(venue_id => %L, name => %L, starts_at => eventsvc.now() + interval ''30 days'',
                ends_at => eventsvc.now() + interval ''30 days 3 hours'', description => %L,
                sections => ''[{"section_name":"Floor","total_capacity":100},{"section_name":"Balcony","total_capacity":50}]'',
                idempotency_key => %L)',
        venue, pub || ' Gala', pub || ' public description', 'seed-' || letter || '-pub'));
    e_pub := (ev ->> 'id')::uuid;
    SELECT (x ->> 'id')::uuid INTO s_floor FROM jsonb_array_elements(ev -> 'sections') x WHERE x ->> 'section_name' = 'Floor';
    SELECT (x ->> 'id')::uuid INTO s_balc FROM jsonb_array_elements(ev -> 'sections') x WHERE x ->> 'section_name' = 'Balcony';
    sch := (ev -> 'schedules' -> 0 ->> 'id')::uuid;
    r := hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.create_pricing(event_id => %L, name => %L, base_price => 5000, currency => ''USD'', capacity_id => %L)',
        e_pub, 'GA', s_floor));
    p_pub := (r ->> 'id')::uuid;
    step := 'publish';
    PERFORM hostile.as_role('eventsvc_admin', t, format('SELECT api.publish_event(event_id => %L)', e_pub));
    PERFORM hostile.as_role('eventsvc_admin', t, format('SELECT api.transition_event(event_id => %L, status => ''ON_SALE'')', e_pub));
    step := 'holds';
    r := hostile.as_role('eventsvc_user', t, format(
        'SELECT to_jsonb(api.reserve_capacity(capacity_id => %L, quantity => 2, pricing_id => %L))', s_floor, p_pub));
    h1 := (coalesce(r ->> 'id', r ->> 'hold_id'))::uuid;
    r := hostile.as_role('eventsvc_service', t, format(
        'SELECT to_jsonb(api.reserve_capacity(capacity_id => %L, quantity => 1, pricing_id => %L, holder_id => %L))',
        s_floor, p_pub, secret || '-holder'));
    h2 := (coalesce(r ->> 'id', r ->> 'hold_id'))::uuid;
    PERFORM hostile.as_role('eventsvc_service', t, format('SELECT to_jsonb(api.confirm_hold(hold_id => %L))', h2));
    step := 'schedule';
    r := hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.create_schedule(event_id => %L, starts_at => eventsvc.now() + interval ''31 days'',
                ends_at => eventsvc.now() + interval ''31 days 2 hours'', notes => %L)', e_pub, pub || ' schedule note'));
    sch2 := (r ->> 'id')::uuid;
    step := 'content';
    PERFORM hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.set_event_content(event_id => %L, locale => ''en'', long_description => %L, highlights => ''["one"]'', media => ''[]'')',
        e_pub, pub || ' long text'));
    PERFORM hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.set_event_faqs(event_id => %L, faqs => ''[{"question":"Parking?","answer":"Yes"}]'')', e_pub));
    PERFORM hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.set_event_metadata(event_id => %L, performers => ''["%s Band"]'', headliner => %L)', e_pub, pub, pub || ' Band'));
    PERFORM hostile.as_role('eventsvc_anon', t, format('SELECT api.record_view(event_id => %L)', e_pub));
    step := 'review';
    BEGIN
        r := hostile.as_role('eventsvc_user', t, format(
            'SELECT api.submit_review(event_id => %L, rating => 4, title => %L, body => %L)', e_pub, secret || ' title', secret || ' review body'));
        rev := (r ->> 'id')::uuid;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'seed %: submit_review: %', letter, SQLERRM;
        -- fall back to a row written directly, pending moderation
        INSERT INTO eventsvc.event_reviews (tenant_id, event_id, user_id, rating, title, body)
        VALUES (t, e_pub, 'seed-user', 4, secret || ' title', secret || ' review body') RETURNING id INTO rev;
    END;

    step := 'secret draft event';
    ev := hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.create_event(venue_id => %L, name => %L, starts_at => eventsvc.now() + interval ''40 days'',
                ends_at => eventsvc.now() + interval ''40 days 3 hours'', visibility => ''PRIVATE'',
                sections => ''[{"section_name":"%s Pit","total_capacity":10}]'', idempotency_key => %L)',
        venue, secret || ' Draft', secret, 'seed-' || letter || '-secret'));
    e_sec := (ev ->> 'id')::uuid;
    s_sec := (ev -> 'sections' -> 0 ->> 'id')::uuid;
    r := hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.create_pricing(event_id => %L, name => %L, base_price => 7000, currency => ''USD'', capacity_id => %L)',
        e_sec, secret || ' VIP', s_sec));
    p_sec := (r ->> 'id')::uuid;

    step := 'cancelled event';
    ev := hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.create_event(venue_id => %L, name => %L, starts_at => eventsvc.now() + interval ''50 days'',
                ends_at => eventsvc.now() + interval ''50 days 3 hours'', idempotency_key => %L)',
        venue, pub || ' Cancelled', 'seed-' || letter || '-cancelled'));
    e_can := (ev ->> 'id')::uuid;
    PERFORM hostile.as_role('eventsvc_admin', t, format('SELECT api.publish_event(event_id => %L)', e_can));
    r := hostile.as_role('eventsvc_admin', t, format(
        'SELECT api.cancel_event(event_id => %L, reason => %L, idempotency_key => %L)', e_can, secret || ' reason', 'seed-' || letter || '-cancel'));

    INSERT INTO hostile.ids VALUES
        ('event', letter, e_pub::text, false),
        ('section', letter, s_floor::text, false),
        ('section2', letter, s_balc::text, false),
        ('pricing', letter, p_pub::text, false),
        ('schedule', letter, sch::text, false),
        ('schedule2', letter, sch2::text, false),
        ('hold', letter, h1::text, true),
        ('hold_confirmed', letter, h2::text, true),
        ('review', letter, rev::text, true),
        ('event_secret', letter, e_sec::text, true),
        ('section_secret', letter, s_sec::text, true),
        ('pricing_secret', letter, p_sec::text, true),
        ('event_cancelled', letter, e_can::text, false);
    INSERT INTO hostile.ids
        SELECT 'report', letter, id::text, true FROM eventsvc.event_cancellation_reports WHERE tenant_id = t;
    INSERT INTO hostile.ids
        SELECT 'idempotency', letter, key, true FROM eventsvc.idempotency_keys WHERE tenant_id = t;
EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'seed of tenant % failed at step "%": % (%)', letter, step, SQLERRM, SQLSTATE;
END
$$;

SELECT eventsvc.create_tenant('Alpha Tenant', 'hostile-a', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
SELECT eventsvc.create_tenant('Zebra Tenant', 'hostile-b', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb');
SELECT eventsvc.create_tenant('Dormant Tenant', 'hostile-c', 'cccccccc-cccc-4ccc-8ccc-cccccccccccc');
SELECT hostile.seed_tenant('A', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'a0000000-0000-4000-8000-000000000001', 'Alpha', 'AlphaSecret');
SELECT hostile.seed_tenant('B', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'b0000000-0000-4000-8000-000000000001', 'Zebra', 'ZebraSecret');
INSERT INTO hostile.ids VALUES ('tenant', 'C', 'cccccccc-cccc-4ccc-8ccc-cccccccccccc', false);
UPDATE eventsvc.tenants SET is_active = false WHERE slug = 'hostile-c';
INSERT INTO hostile.markers VALUES ('ZebraSecret', true), ('Zebra', false);
-- Tenant A's secret marker: seen only by tenant A (never with no tenant or with unusable claims).
INSERT INTO hostile.markers_a VALUES ('AlphaSecret');
-- The B tenant id is "public" only in the public catalogue; elsewhere it counts as B data.
