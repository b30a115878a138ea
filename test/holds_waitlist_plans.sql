-- pgTAP: every read path of the waitlist is served by an index of its own, so its
-- cost follows the section's (or the customer's) entries, not the tenant's whole
-- history: the head of a section's queue and a customer's rank (the queue index),
-- offers out of a section (the offers index), what a customer waits for on an event
-- (a customer index: by event and customer, or the buyer's own entries by customer),
-- a section's entries live and ended (the section index).
-- Plans are read with sequential scans off on small data: the question is "can the
-- index serve this query?", not the planner's choice at scale.
BEGIN;
SELECT plan(6);

INSERT INTO eventsvc.waitlist_entries (tenant_id, event_id, capacity_id, holder_id, quantity, position, state)
SELECT ('4747' || lpad((i % 5)::text, 4, '0') || '-4747-4747-8747-474747474747')::uuid,
       ('47470000-0000-4000-8000-' || lpad((i % 20)::text, 12, '0'))::uuid,
       ('47470000-0000-4000-8000-' || lpad((1000 + i % 100)::text, 12, '0'))::uuid,
       'holder-' || i, 1 + i % 3, i,
       (ARRAY['WAITING', 'OFFERED', 'CONVERTED', 'LAPSED', 'LEFT'])[1 + i % 5]::eventsvc.waitlist_state
  FROM generate_series(1, 3000) i;
ANALYZE eventsvc.waitlist_entries;

CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;

SELECT matches(pg_temp.plan_of($$
    SELECT id FROM eventsvc.waitlist_entries
     WHERE tenant_id = '47470001-4747-4747-8747-474747474747' AND capacity_id = '47470000-0000-4000-8000-000000001001'
       AND state = 'WAITING' ORDER BY position LIMIT 1 FOR UPDATE$$),
    'Index Scan using waitlist_entries_queue on waitlist_entries',
    'the head of a section''s queue (a hand-out): the queue index, in order, no sort');
SELECT matches(pg_temp.plan_of($$
    SELECT count(*) FROM eventsvc.waitlist_entries
     WHERE tenant_id = '47470001-4747-4747-8747-474747474747' AND capacity_id = '47470000-0000-4000-8000-000000001001'
       AND state = 'WAITING' AND position < 900$$),
    'Index (Only )?Scan using waitlist_entries_queue on waitlist_entries',
    'a customer''s rank (entries ahead in the queue): the queue index');
SELECT matches(pg_temp.plan_of($$
    SELECT count(*) FROM eventsvc.waitlist_entries
     WHERE tenant_id = '47470001-4747-4747-8747-474747474747' AND capacity_id = '47470000-0000-4000-8000-000000001001'
       AND state = 'OFFERED'$$),
    'Index (Only )?Scan using waitlist_entries_offered on waitlist_entries',
    'offers out of a section (the promoter''s view, settling offers): the offers index');
SELECT matches(pg_temp.plan_of($$
    SELECT coalesce(sum(quantity - gathered), 0) FROM eventsvc.waitlist_entries
     WHERE tenant_id = '47470001-4747-4747-8747-474747474747' AND event_id = '47470000-0000-4000-8000-000000000001'
       AND holder_id = 'holder-1' AND state = 'WAITING'$$),
    'Index Scan using waitlist_entries_(holder|buyer) on waitlist_entries',
    'the seats a customer waits for on an event (the per-customer limit): a customer index (of the event or of the tenant)');
SELECT matches(pg_temp.plan_of($$
    SELECT position FROM eventsvc.waitlist_entries
     WHERE tenant_id = '47470001-4747-4747-8747-474747474747' AND capacity_id = '47470000-0000-4000-8000-000000001001'
       AND holder_id = 'holder-1' AND state IN ('WAITING', 'OFFERED')$$),
    'Index Scan using waitlist_entries_live on waitlist_entries',
    'a customer''s live entry in a section (join, position): the one-live-entry index');
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM eventsvc.waitlist_entries
     WHERE tenant_id = '47470001-4747-4747-8747-474747474747' AND capacity_id = '47470000-0000-4000-8000-000000001001'
     ORDER BY position$$),
    'Index Scan using waitlist_entries_section on waitlist_entries',
    'a section''s entries, live and ended, in order (api.waitlist_entries?capacity_id=eq.X): the section index');

SELECT * FROM finish();
ROLLBACK;
