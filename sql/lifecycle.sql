-- Event lifecycle: create with sections, read, list, update at a version, publish,
-- put on sale, postpone and reschedule, cancel (sections closed, holds released,
-- a pending report with its saga steps), soft delete, and the outbox messages of
-- each step. The DRAFT -> ON_SALE -> POSTPONED -> RESCHEDULED walk is the README demo.
\set VERBOSITY default
SELECT eventsvc.create_tenant('Lifecycle Live', 'lifecycle-live', 'c1111111-1111-4111-8111-111111111111') IS NOT NULL AS tenant;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone) VALUES
    ('c1111111-1111-4111-8111-111111111111', 'caaaaaaa-0000-4000-8000-000000000001', 'Lifecycle Arena', 5000, 'America/New_York');
-- Errors without their random ids, so the expected output is stable.
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
END
$$;
SET ROLE eventsvc_user;
SET app.current_tenant_id = 'c1111111-1111-4111-8111-111111111111';
SET app.current_user_id = 'olivia';

-- Create: the event, its metadata, one schedule from its dates and two sections, in one call.
SELECT r->>'status' AS status, r->>'slug' AS slug, r->>'version' AS version, r->>'capacity' AS capacity,
       r->>'timezone' AS timezone, r->'metadata'->>'headliner' AS headliner,
       jsonb_array_length(r->'schedules') AS schedules,
       (SELECT string_agg(s->>'section_name' || '=' || (s->>'available_capacity'), ', ')
          FROM jsonb_array_elements(r->'sections') s) AS sections
  FROM api.create_event(venue_id => 'caaaaaaa-0000-4000-8000-000000000001', name => 'Summer Rock Festival',
                        starts_at => date_trunc('hour', now()) + interval '30 days',
                        ends_at => date_trunc('hour', now()) + interval '30 days 4 hours',
                        doors_open => date_trunc('hour', now()) + interval '30 days' - interval '1 hour',
                        category_id => (SELECT id FROM eventsvc.event_categories WHERE slug = 'rock'),
                        metadata => '{"headliner": "The Amplifiers", "performers": [{"name": "The Amplifiers"}]}',
                        sections => '[{"section_name": "Floor", "total_capacity": 3000},
                                      {"section_name": "Balcony", "total_capacity": 1500}]') AS r;
SELECT id AS ev FROM api.events WHERE slug = 'summer-rock-festival' \gset

-- Read: one event with everything, the list with filters and a total, the views.
SELECT jsonb_object_keys(api.get_event(:'ev')) AS document_keys ORDER BY 1;
SELECT l->'total' AS total, jsonb_array_length(l->'items') AS on_page
  FROM api.list_events(status => 'DRAFT', category_id => (SELECT id FROM eventsvc.event_categories WHERE slug = 'music')) l;
SELECT (api.list_events(status => 'ON_SALE'))->'total' AS on_sale_total;
SELECT pg_temp.try($$SELECT api.list_events(status => 'LIVE')$$);
SELECT section_name, total_capacity, available_capacity, is_active FROM api.event_sections ORDER BY section_name;

-- Update at the expected version; a stale version is a conflict; status is not a field.
SELECT api.update_event(:'ev', 1, '{"short_description": "Three stages, one night"}') ->> 'version' AS version;
SELECT pg_temp.try(format($$SELECT api.update_event(%L, 1, '{"name": "Old read"}')$$, :'ev'));
SELECT pg_temp.try(format($$SELECT api.update_event(%L, 2, '{"status": "ON_SALE"}')$$, :'ev'));

-- Publish and put on sale, through the state machine; a buyer holds two seats.
SELECT api.publish_event(:'ev') ->> 'status' AS status;
SELECT api.transition_event(:'ev', 'ON_SALE') ->> 'status' AS status;
-- On sale, the presentation changes freely; settled fields do not (docs/lifecycle.md).
SELECT pg_temp.try(format($$SELECT api.update_event(%L, 4, '{"visibility": "PRIVATE", "name": "X"}')$$, :'ev'));
SELECT r->>'name' AS name, r->>'version' AS version FROM api.update_event(:'ev', 4, '{"name": "On sale rename"}') r;
SELECT (to_jsonb(api.reserve_capacity((SELECT id FROM api.event_sections WHERE section_name = 'Floor'), 2,
                             holder_id => 'buyer-7'))) IS NOT NULL AS held;

-- Postpone, then reschedule one week later straight back to ON_SALE.
SELECT api.postpone_event(:'ev', 'Storm warning') ->> 'status' AS status;
SELECT r->>'status' AS status, (r->>'starts_at')::timestamptz - date_trunc('hour', now()) AS starts_in,
       (r->>'starts_at')::timestamptz - (r->>'doors_open')::timestamptz AS doors_before,
       (r->'schedules'->0->>'starts_at')::timestamptz = (r->>'starts_at')::timestamptz AS schedule_moved
  FROM api.reschedule_event(:'ev', date_trunc('hour', now()) + interval '37 days',
                            date_trunc('hour', now()) + interval '37 days 4 hours', status => 'ON_SALE') r;

-- A DBA cannot skip the machine either.
RESET ROLE;
SELECT pg_temp.try(format($$UPDATE eventsvc.events SET status = 'DRAFT' WHERE id = %L$$, :'ev'));
SET ROLE eventsvc_user;

-- Cancel: CANCELLED with reason, sections closed, the hold released, a pending report
-- with five saga steps. Cancelling again is a conflict (retries use an idempotency key).
SELECT r->>'status' AS status, r->>'cancellation_reason' AS reason, r->>'cancelled_by' AS cancelled_by,
       r->'cancellation'->'holds_released' AS holds_released, r->'cancellation'->'sections_closed' AS sections_closed,
       r->'cancellation'->'saga_steps' AS saga_steps
  FROM api.cancel_event(:'ev', 'Headliner cancelled the tour') r;
SELECT pg_temp.try(format($$SELECT api.cancel_event(%L, 'again')$$, :'ev'));
SELECT section_name, available_capacity, is_active FROM api.event_sections ORDER BY section_name;
SELECT holder_id, quantity, state FROM eventsvc.capacity_holds;
SELECT status, reason, holds_released, jsonb_path_query_array(steps, '$[*].step') AS steps FROM api.event_cancellation_reports;

-- The outbox: one message per change, in order, numbered per event.
SELECT sequence, exchange, routing_key, payload->'data'->>'status' AS status,
       payload->'data'->>'phase' AS phase, payload->'data'->'changed_fields' AS changed
  FROM eventsvc.outbox WHERE aggregate_id = :'ev' ORDER BY sequence;
SELECT jsonb_object_keys(payload) AS envelope_keys FROM eventsvc.outbox
 WHERE aggregate_id = :'ev' AND sequence = 1 ORDER BY 1;

-- Soft delete: a cancelled event may be deleted and disappears from reads.
SELECT r->>'status' AS status, r->>'deleted_at' IS NOT NULL AS deleted FROM api.delete_event(:'ev') r;
SELECT count(*) AS visible FROM api.events WHERE id = :'ev';
SELECT pg_temp.try(format($$SELECT api.get_event(%L)$$, :'ev'));
SELECT routing_key, payload->'data'->>'previous_status' AS previous_status
  FROM eventsvc.outbox WHERE aggregate_id = :'ev' ORDER BY sequence DESC LIMIT 1;

-- A draft is deleted directly; a published event must be cancelled first.
SELECT api.create_event('caaaaaaa-0000-4000-8000-000000000001', 'Draft Only',
                        date_trunc('hour', now()) + interval '50 days', date_trunc('hour', now()) + interval '50 days 2 hours') ->> 'id' AS d \gset
SELECT api.delete_event(:'d') ->> 'status' AS status;
SELECT api.create_event('caaaaaaa-0000-4000-8000-000000000001', 'Published One',
                        date_trunc('hour', now()) + interval '51 days', date_trunc('hour', now()) + interval '51 days 2 hours') ->> 'id' AS p \gset
SELECT api.publish_event(:'p') ->> 'status' AS status;
SELECT pg_temp.try(format($$SELECT api.delete_event(%L)$$, :'p'));

-- Blockchain data asks the blockchain service for a sync, on event-lifecycle.
SELECT api.create_event('caaaaaaa-0000-4000-8000-000000000001', 'Chain Night',
                        date_trunc('hour', now()) + interval '52 days', date_trunc('hour', now()) + interval '52 days 2 hours',
                        artist_wallet => '7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU', artist_percentage => 12.5,
                        venue_percentage => 5) ->> 'blockchain_status' AS blockchain_status;
SELECT exchange, routing_key, payload->'data'->'blockchain'->>'artist_percentage' AS artist_percentage
  FROM eventsvc.outbox o JOIN api.events e ON e.id = o.aggregate_id WHERE e.name = 'Chain Night' ORDER BY sequence;

-- Listing: order, paging and the total; a start range; deleted events never appear.
SELECT api.create_event('caaaaaaa-0000-4000-8000-000000000001', 'Alpha Show',
                        date_trunc('hour', now()) + interval '60 days', date_trunc('hour', now()) + interval '60 days 2 hours') IS NOT NULL AS created;
SELECT l->'total' AS total, jsonb_path_query_array(l->'items', '$[*].name') AS page
  FROM api.list_events(order_by => 'name', page_size => 2, page_offset => 1) l;
SELECT jsonb_path_query_array(l->'items', '$[*].name') AS by_start_desc
  FROM api.list_events(order_by => 'starts_at', descending => true) l;
SELECT jsonb_path_query_array(l->'items', '$[*].name') AS starting_within_55_days
  FROM api.list_events(starts_from => now(), starts_to => now() + interval '55 days') l;
SELECT pg_temp.try($$SELECT api.list_events(page_size => 0)$$);

-- Every status change is in the audit trail with its actor.
SELECT action, actor_id, changed_fields->'status'->>'old' AS old_status, changed_fields->'status'->>'new' AS new_status
  FROM eventsvc.event_audit_log WHERE event_id = :'ev' AND changed_fields ? 'status' ORDER BY id;
RESET ROLE;
