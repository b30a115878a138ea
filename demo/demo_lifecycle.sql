-- The event's life: create with sections, price it, publish, put on sale, sell seats
-- (holds), postpone and reschedule, refuse an illegal move, and the outbox it wrote.
SELECT api.create_event(venue_id => 'aaaaaaaa-0000-4000-8000-000000000001', name => 'Acme Rock Night',
       starts_at => date_trunc('hour', now()) + interval '30 days',
       ends_at => date_trunc('hour', now()) + interval '30 days 3 hours',
       metadata => '{"headliner": "The Amplifiers"}',
       sections => '[{"section_name": "Floor", "total_capacity": 1000},
                     {"section_name": "Balcony", "total_capacity": 200}]') ->> 'id' AS ev \gset
SELECT id AS floor FROM api.event_sections WHERE event_id = :'ev' AND section_name = 'Floor' \gset
SELECT api.create_pricing(event_id => :'ev', name => 'Floor GA', base_price => 4950, currency => 'USD',
       capacity_id => :'floor', service_fee => 350, facility_fee => 125, tax_rate => 0.0825) ->> 'id' AS tier \gset
SELECT to_jsonb(api.calculate_price(:'tier', 3)) AS price_for_three;

SELECT api.publish_event(:'ev') ->> 'status' AS status;
SELECT api.transition_event(:'ev', 'ON_SALE') ->> 'status' AS status;

-- Buyers hold seats (one row per hold, its own expiry, the locked price); one confirms, one releases.
SET app.current_user_id = 'buyer-1';
SELECT to_jsonb(api.reserve_capacity(:'floor', 4, pricing_id => :'tier')) AS hold1_json \gset
SELECT :'hold1_json'::jsonb ->> 'id' AS hold1 \gset
SELECT jsonb_pretty(:'hold1_json'::jsonb -> 'locked_price') AS locked_price_of_first_hold;
SELECT to_jsonb(api.confirm_hold(:'hold1')) ->> 'state' AS hold1_state;
SET app.current_user_id = 'buyer-2';
SELECT to_jsonb(api.reserve_capacity(:'floor', 2, pricing_id => :'tier')) ->> 'id' AS hold2 \gset
SELECT to_jsonb(api.release_hold(:'hold2')) ->> 'state' AS hold2_state;
SELECT section_name, total_capacity, sold, reserved, available
  FROM api.section_availability WHERE event_id = :'ev' ORDER BY section_name;
SELECT to_jsonb(api.reserve_capacity(:'floor', 5000));   -- sold out says how many remain
SET app.current_user_id = 'demo-promoter';

-- An illegal transition names both states and the allowed targets.
SELECT api.transition_event(:'ev', 'DRAFT');

-- Postpone, then reschedule a week later. Tickets are sold, so moving the dates is a
-- critical change: a tenant user is refused; a tenant admin gets a confirmation token
-- (5 minutes, single use, bound to this change) and confirms with it.
SELECT api.postpone_event(:'ev', 'Storm warning') ->> 'status' AS status;
\set new_start 'date_trunc(''hour'', now()) + interval ''37 days'''
\set new_end 'date_trunc(''hour'', now()) + interval ''37 days 3 hours'''
SELECT api.reschedule_event(:'ev', :new_start, :new_end, status => 'ON_SALE');
RESET ROLE;
SET ROLE eventsvc_admin;
SET app.current_user_id = 'demo-admin';
SELECT api.reschedule_event(:'ev', :new_start, :new_end, status => 'ON_SALE') AS first_attempt \gset
SELECT :'first_attempt'::jsonb - 'token' AS first_attempt;
SELECT api.reschedule_event(:'ev', :new_start, :new_end, status => 'ON_SALE',
       confirmation_token => (:'first_attempt'::jsonb ->> 'token')::uuid) ->> 'status' AS status;
RESET ROLE;
SET ROLE eventsvc_user;
SET app.current_user_id = 'demo-promoter';

-- Everything that happened is in the outbox, in order, for the worker to deliver.
SELECT sequence, exchange, routing_key, payload->'data'->>'status' AS status
  FROM eventsvc.outbox WHERE aggregate_id = :'ev' ORDER BY sequence;
