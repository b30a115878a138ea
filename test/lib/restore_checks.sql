-- test/lib/restore_checks.sql: what must still work on a database made by
-- test/lib/restore_seed.sql after a restore or an upgrade. Prints "name=value" lines;
-- the caller compares them with test/lib/restore_checks.expected. Each call runs as a
-- tenant user through the API; an error prints its SQLSTATE.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
\pset footer off
-- runs one statement, returns its first column as text, or the SQLSTATE it raised
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE sql INTO r;
    RETURN coalesce(r, 'null');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

SELECT id AS floor, event_id AS rock FROM eventsvc.event_capacity WHERE section_name = 'Floor' \gset
SELECT id AS balcony FROM eventsvc.event_capacity WHERE section_name = 'Balcony' \gset
SELECT id AS stalls FROM eventsvc.event_capacity WHERE section_name = 'Stalls' \gset
SELECT id AS h2 FROM eventsvc.capacity_holds WHERE holder_id = 'buyer-2' \gset
SELECT max(id) AS audit_max FROM eventsvc.event_audit_log \gset
SELECT max(id) AS outbox_max FROM eventsvc.outbox \gset
SELECT max(id) AS content_audit_max FROM eventsvc.content_audit_log \gset
SELECT max(sequence) AS rock_seq FROM eventsvc.outbox WHERE aggregate_id = :'rock' \gset

SET ROLE eventsvc_user;
SET app.current_tenant_id = 'a5eed000-0000-4000-8000-000000000001';
SET app.current_user_id = 'after-1';
-- the shared seat counters: exactly the seats the restored holds leave
SELECT 'floor_take_remaining=' || pg_temp.try(format($q$SELECT to_jsonb(api.reserve_capacity(%L, 94)) ->> 'quantity'$q$, :'floor'));
SELECT 'floor_one_more=' || pg_temp.try(format($q$SELECT to_jsonb(api.reserve_capacity(%L, 1)) ->> 'quantity'$q$, :'floor'));
SELECT 'balcony_take_remaining=' || pg_temp.try(format($q$SELECT to_jsonb(api.reserve_capacity(%L, 9)) ->> 'quantity'$q$, :'balcony'));
SELECT 'balcony_one_more=' || pg_temp.try(format($q$SELECT to_jsonb(api.reserve_capacity(%L, 1)) ->> 'quantity'$q$, :'balcony'));
-- a hold that was active in the dump is confirmed after it
SET app.current_user_id = 'buyer-2';
SELECT 'confirm_restored_hold=' || pg_temp.try(format($q$SELECT to_jsonb(api.confirm_hold(%L)) ->> 'state'$q$, :'h2'));
SELECT 'floor_sold=' || sold || ' reserved=' || reserved || ' available=' || available
  FROM api.section_availability WHERE capacity_id = :'floor';
-- new writes: events, audit, outbox (per-event sequence goes on), content audit
SET app.current_user_id = 'after-1';
SELECT 'new_event=' || pg_temp.try($q$SELECT to_jsonb(api.create_event(venue_id => 'a5eed000-0000-4000-8000-0000000000a1',
        name => 'After Restore Show', starts_at => now() + interval '90 days', ends_at => now() + interval '90 days 2 hours',
        sections => '[{"section_name": "Pit", "total_capacity": 10}]')) ->> 'status'$q$);
SELECT 'draft_update=' || pg_temp.try($q$SELECT to_jsonb(api.update_event(e.id, e.version, '{"short_description": "Now with breaks"}'))
        ->> 'short_description' FROM api.events e WHERE e.name = 'Seed Weekly Class'$q$);
SELECT 'rock_faqs=' || pg_temp.try(format($q$SELECT to_jsonb(api.set_event_faqs(%L, '[{"question": "Parking?", "answer": "No"}]')) IS NOT NULL$q$, :'rock'));
-- derived tables came back: search by a performer, the rating summary
SELECT 'search_performer=' || pg_temp.try($q$SELECT string_agg(name, ',') FROM api.search_events(q => 'amplifiers')$q$);
SELECT 'rating=' || pg_temp.try(format($q$SELECT (to_jsonb(api.event_rating(%L)) ->> 'count') || '/' || (to_jsonb(api.event_rating(%L)) ->> 'average')$q$, :'rock', :'rock'));
RESET ROLE;

SET ROLE eventsvc_user;
SET app.current_tenant_id = 'b5eed000-0000-4000-8000-000000000001';
SET app.current_user_id = 'after-2';
SELECT 'stalls_take_remaining=' || pg_temp.try(format($q$SELECT to_jsonb(api.reserve_capacity(%L, 17)) ->> 'quantity'$q$, :'stalls'));
SELECT 'stalls_one_more=' || pg_temp.try(format($q$SELECT to_jsonb(api.reserve_capacity(%L, 1)) ->> 'quantity'$q$, :'stalls'));
SELECT 'tenant_isolation=' || count(*) FROM api.events;
RESET ROLE;

SET ROLE eventsvc_service;
SELECT 'revoked_token=' || pg_temp.try($q$SELECT to_jsonb(api.token_status('seed-jti-1')) ->> 'revoked'$q$);
RESET ROLE;

-- keys continue where the dump stopped: new rows got ids above the old ones
SELECT 'audit_ids_continue=' || (min(id) > :audit_max) || ' ' || (count(*) > 0)
  FROM eventsvc.event_audit_log WHERE id > :audit_max OR actor_id LIKE 'after-%';
SELECT 'outbox_ids_continue=' || (min(id) > :outbox_max) || ' ' || (count(*) > 0)
  FROM eventsvc.outbox WHERE id > :outbox_max OR payload::text LIKE '%After Restore Show%';
SELECT 'content_audit_ids_continue=' || (min(id) > :content_audit_max) || ' ' || (count(*) > 0)
  FROM eventsvc.content_audit_log WHERE id > :content_audit_max OR actor_id LIKE 'after-%';
SELECT 'rock_sequence_continues=' || (min(sequence) = :rock_seq + 1) FROM eventsvc.outbox WHERE aggregate_id = :'rock' AND id > :outbox_max;
SELECT 'capacity_check=' || count(*) FILTER (WHERE NOT ok) FROM (
    SELECT s.total_capacity >= coalesce(sum(h.quantity) FILTER (WHERE h.state IN ('ACTIVE', 'CONFIRMED')), 0) AS ok
      FROM eventsvc.event_capacity s LEFT JOIN eventsvc.capacity_holds h ON h.tenant_id = s.tenant_id AND h.capacity_id = s.id
     GROUP BY s.tenant_id, s.id, s.total_capacity) x;
-- the counter rows say what the holds add up to: per section seats held, sold, holds made,
-- revenue; per event the customers and the buying customers
SELECT 'counter_rows_disagree=' || count(*) FILTER (WHERE a IS DISTINCT FROM b) FROM (
    SELECT (SELECT row(coalesce(sum(h.quantity) FILTER (WHERE h.state = 'ACTIVE'), 0)::bigint,
                       coalesce(sum(h.quantity) FILTER (WHERE h.state = 'CONFIRMED'), 0)::bigint, count(*)::bigint,
                       coalesce(sum(h.quantity::bigint * h.unit_price) FILTER (WHERE h.state = 'CONFIRMED'), 0)::bigint)
              FROM eventsvc.capacity_holds h WHERE h.tenant_id = s.tenant_id AND h.capacity_id = s.id) AS a,
           (SELECT row(coalesce(sum(k.held), 0)::bigint, coalesce(sum(k.sold), 0)::bigint, coalesce(sum(k.holds), 0)::bigint,
                       coalesce(sum(k.revenue), 0)::bigint)
              FROM eventsvc.section_counters k WHERE k.tenant_id = s.tenant_id AND k.capacity_id = s.id) AS b
      FROM eventsvc.event_capacity s) x;
SELECT 'customers_disagree=' || count(*) FILTER (WHERE a IS DISTINCT FROM b) FROM (
    SELECT (SELECT row(count(DISTINCT h.holder_id), count(DISTINCT h.holder_id) FILTER (WHERE h.state = 'CONFIRMED'))::text
              FROM eventsvc.capacity_holds h WHERE h.tenant_id = e.tenant_id AND h.event_id = e.id) AS a,
           (SELECT row(coalesce(sum(k.customers), 0), coalesce(sum(k.buying_customers), 0))::text
              FROM eventsvc.section_counters k JOIN eventsvc.event_capacity s ON s.tenant_id = k.tenant_id AND s.id = k.capacity_id
             WHERE s.tenant_id = e.tenant_id AND s.event_id = e.id) AS b
      FROM eventsvc.events e) x;
-- the money of the counter rows: per section the purchases and what they were charged,
-- less what was refunded, as the holds and refunds say (docs/money.md "Revenue")
SELECT 'revenue_rows_disagree=' || count(*) FILTER (WHERE a IS DISTINCT FROM b)
       || ' sections_with_purchases=' || count(*) FILTER (WHERE n > 0) FROM (
    SELECT (SELECT row(count(*)::bigint,
                       coalesce(sum(coalesce((h.locked_price ->> 'total')::bigint, (h.locked_price ->> 'base_total')::bigint,
                                             (CASE WHEN h.state::text = 'REFUNDED' THEN h.refunded_quantity
                                                   ELSE h.quantity + coalesce(h.refunded_quantity, 0) END)::bigint * h.unit_price)),
                                0)::bigint,
                       (SELECT coalesce(sum(r.amount), 0)::bigint FROM eventsvc.hold_refunds r
                         WHERE r.tenant_id = s.tenant_id AND r.capacity_id = s.id))
              FROM eventsvc.capacity_holds h
             WHERE h.tenant_id = s.tenant_id AND h.capacity_id = s.id AND h.state::text IN ('CONFIRMED', 'REFUNDED')) AS a,
           (SELECT row(coalesce(sum(k.purchases), 0)::bigint, coalesce(sum(k.charged), 0)::bigint,
                       coalesce(sum(k.refunded), 0)::bigint)
              FROM eventsvc.section_counters k WHERE k.tenant_id = s.tenant_id AND k.capacity_id = s.id) AS b,
           (SELECT coalesce(sum(k.purchases), 0) FROM eventsvc.section_counters k
             WHERE k.tenant_id = s.tenant_id AND k.capacity_id = s.id) AS n
      FROM eventsvc.event_capacity s) x;
