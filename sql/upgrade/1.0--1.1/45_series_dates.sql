-- Part 45 (series): dates of a recurring schedule sold separately (docs/series.md).
-- An occurrence (eventsvc.event_occurrences) is one date of a recurring schedule put
-- on sale; opening it copies the schedule's active sections (the templates) into date
-- sections, event_capacity rows with occurrence_id and template_id, each with its own
-- seats, counter, counter rows and holds. The hold path reads a date section's
-- occurrence with the section (src/capacity/reserve.c) and refuses a template of a
-- recurring schedule; the sell-out of a date is decided in src/capacity/thresholds.c.

CREATE INDEX idx_event_capacity_occurrence ON eventsvc.event_capacity (tenant_id, occurrence_id)
    WHERE occurrence_id IS NOT NULL;
CREATE TRIGGER event_occurrences_version BEFORE UPDATE ON eventsvc.event_occurrences
    FOR EACH ROW EXECUTE FUNCTION eventsvc.version_trigger();
-- The hold path keeps copies of a date's status and start and of a schedule's being
-- recurring (part 42): changing them raises the reference generation.
CREATE TRIGGER event_occurrences_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON eventsvc.event_occurrences FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER event_schedules_reference AFTER INSERT OR UPDATE OF is_recurring, recurrence_rule OR DELETE OR TRUNCATE
    ON eventsvc.event_schedules FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
ALTER TABLE eventsvc.event_occurrences ENABLE ALWAYS TRIGGER event_occurrences_reference;
ALTER TABLE eventsvc.event_schedules ENABLE ALWAYS TRIGGER event_schedules_reference;
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_occurrences', '');

-- A date and its sections, as every function below answers.
CREATE FUNCTION eventsvc.occurrence_json(p_tenant_id uuid, p_occurrence_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT to_jsonb(o) - 'tenant_id'
           || jsonb_build_object('sections', coalesce((
                  SELECT jsonb_agg(jsonb_build_object('id', c.id, 'section_name', c.section_name,
                                                      'template_id', c.template_id,
                                                      'total_capacity', c.total_capacity,
                                                      'is_active', c.is_active, 'version', c.version)
                                   ORDER BY c.section_name)
                    FROM eventsvc.event_capacity c
                   WHERE c.tenant_id = o.tenant_id AND c.occurrence_id = o.id), '[]'::jsonb))
      FROM eventsvc.event_occurrences o
     WHERE o.tenant_id = p_tenant_id AND o.id = p_occurrence_id
$$;

-- One outbox message about a date, in the caller's transaction (docs/outbox.md).
CREATE FUNCTION eventsvc.emit_occurrence(o eventsvc.event_occurrences, p_routing_key text, p_data jsonb)
RETURNS void LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT eventsvc.outbox_emit(o.tenant_id, o.event_id, 'tickettoken_events', p_routing_key,
        jsonb_build_object('event_id', o.event_id, 'occurrence_id', o.id, 'schedule_id', o.schedule_id,
                           'starts_at', o.starts_at, 'ends_at', o.ends_at, 'status', o.status,
                           'actor', eventsvc.current_actor()) || coalesce(p_data, '{}'::jsonb));
$$;

-- The caller's date, locked for a change; PT404 when it is not the caller's, PT409
-- when it is cancelled (a cancelled date does not change any more).
CREATE FUNCTION eventsvc.occurrence_for_change(p_occurrence_id uuid) RETURNS eventsvc.event_occurrences
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o eventsvc.event_occurrences;
BEGIN
    SELECT * INTO o FROM eventsvc.event_occurrences x
     WHERE x.tenant_id = eventsvc.current_tenant_id() AND x.id = p_occurrence_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found', format('occurrence %s not found', coalesce(p_occurrence_id::text, 'null')),
            NULL, 'List the dates on sale with GET /occurrences?event_id=eq.<event>.');
    END IF;
    IF o.status = 'CANCELLED' THEN
        PERFORM eventsvc.raise_error('conflict', format('occurrence %s is cancelled', o.id));
    END IF;
    RETURN o;
END
$$;

-- Put one date of a recurring schedule on sale: the date must be one the rule gives
-- (api.event_occurrences lists them) and not have started; every active section of
-- the schedule becomes a date section with the template's seats, or the seats named
-- for it in capacities ({"Stalls": 150}; 0 opens the section with no seats).
CREATE FUNCTION api.open_occurrence(schedule_id uuid, starts_at timestamptz, capacities jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant  uuid := eventsvc.current_tenant_id();   -- none set: 42501 before anything else
    replay  jsonb;
    s       eventsvc.event_schedules;
    status  text;
    d_start timestamptz;
    d_end   timestamptz;
    o       eventsvc.event_occurrences;
    bad     text;
BEGIN
    -- a retry with the same Idempotency-Key header gets the first answer back (part 25)
    replay := eventsvc.idempotency_replay('open_occurrence', jsonb_build_object(
        'schedule_id', schedule_id, 'starts_at', starts_at, 'capacities', capacities));
    IF replay IS NOT NULL THEN
        RETURN replay;
    END IF;
    IF open_occurrence.schedule_id IS NULL OR open_occurrence.starts_at IS NULL THEN
        PERFORM eventsvc.raise_error('validation', 'schedule_id and starts_at are required');
    END IF;
    IF capacities IS NOT NULL AND jsonb_typeof(capacities) <> 'object' THEN
        PERFORM eventsvc.raise_error('validation', 'capacities must be an object of section names and seats',
            NULL, 'For example {"Stalls": 150, "Balcony": 0}.');
    END IF;
    -- the schedule stays as it is until this commits (its rule decides the date)
    SELECT * INTO s FROM eventsvc.event_schedules x
     WHERE x.tenant_id = tenant AND x.id = open_occurrence.schedule_id FOR SHARE;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found',
            format('schedule %s not found', open_occurrence.schedule_id));
    END IF;
    SELECT e.status::text INTO status FROM eventsvc.events e
     WHERE e.tenant_id = s.tenant_id AND e.id = s.event_id AND e.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found', format('event %s not found', s.event_id));
    END IF;
    IF status IN ('CANCELLED', 'COMPLETED') THEN
        PERFORM eventsvc.raise_error('conflict', format('event %s is %s: no date can go on sale', s.event_id, status));
    END IF;
    IF NOT s.is_recurring THEN
        PERFORM eventsvc.raise_error('conflict',
            format('schedule %s is not recurring: its sections sell as one date', s.id),
            NULL, 'Reserve the schedule''s sections directly; dates are opened on recurring schedules.');
    END IF;
    SELECT x.starts_at, x.ends_at INTO d_start, d_end
      FROM eventsvc.expand_rrule(s.recurrence_rule, s.starts_at AT TIME ZONE s.timezone, s.timezone,
                                 (s.ends_at AT TIME ZONE s.timezone) - (s.starts_at AT TIME ZONE s.timezone),
                                 10000, least(open_occurrence.starts_at, '294276-12-31 23:59:59+00')
                                        + interval '1 microsecond') x
     WHERE x.starts_at = open_occurrence.starts_at;
    IF d_start IS NULL THEN
        PERFORM eventsvc.raise_error('validation',
            format('%s is not a date of schedule %s', open_occurrence.starts_at, s.id),
            format('The schedule repeats %s from %s (%s).', s.recurrence_rule, s.starts_at, s.timezone),
            format('List its dates with GET /rpc/event_occurrences?event_id=%s.', s.event_id));
    END IF;
    IF d_start <= eventsvc.now() THEN
        PERFORM eventsvc.raise_error('conflict', format('the date %s has started: it cannot go on sale', d_start));
    END IF;
    SELECT string_agg(format('%s', k.key), ', ' ORDER BY k.key) INTO bad
      FROM jsonb_each(coalesce(capacities, '{}'::jsonb)) k
     WHERE NOT EXISTS (SELECT 1 FROM eventsvc.event_capacity t
                        WHERE t.tenant_id = s.tenant_id AND t.schedule_id = s.id AND t.occurrence_id IS NULL
                          AND t.is_active AND t.section_name = k.key);
    IF bad IS NOT NULL THEN
        PERFORM eventsvc.raise_error('validation', format('capacities names sections the schedule does not have: %s', bad),
            NULL, 'Name the active sections bound to the schedule (api.event_sections with its schedule_id).');
    END IF;
    SELECT string_agg(format('%s', k.key), ', ' ORDER BY k.key) INTO bad
      FROM jsonb_each(coalesce(capacities, '{}'::jsonb)) k
     WHERE jsonb_typeof(k.value) <> 'number' OR k.value::numeric < 0 OR k.value::numeric > 2147483647
        OR k.value::numeric <> trunc(k.value::numeric);
    IF bad IS NOT NULL THEN
        PERFORM eventsvc.raise_error('validation', format('seats must be whole numbers from 0 up: %s', bad));
    END IF;
    INSERT INTO eventsvc.event_occurrences AS x (tenant_id, event_id, schedule_id, original_starts_at, starts_at, ends_at)
    VALUES (s.tenant_id, s.event_id, s.id, d_start, d_start, d_end)
    ON CONFLICT ON CONSTRAINT event_occurrences_date_key DO NOTHING
    RETURNING * INTO o;
    IF o.id IS NULL THEN
        PERFORM eventsvc.raise_error('conflict', format('the date %s of schedule %s is already open', d_start, s.id),
            NULL, 'Change its sections with api.update_section, or close it with api.close_occurrence.');
    END IF;
    INSERT INTO eventsvc.event_capacity (tenant_id, event_id, schedule_id, section_name, section_code, tier,
                                         total_capacity, available_capacity, minimum_purchase, maximum_purchase,
                                         row_config, seat_map, occurrence_id, template_id)
    SELECT t.tenant_id, t.event_id, t.schedule_id, t.section_name, t.section_code, t.tier, n.seats, n.seats,
           t.minimum_purchase, t.maximum_purchase,
           CASE WHEN n.seats = t.total_capacity THEN t.row_config END, t.seat_map, o.id, t.id
      FROM eventsvc.event_capacity t
     CROSS JOIN LATERAL (SELECT coalesce((capacities ->> t.section_name)::numeric::integer, t.total_capacity) AS seats) n
     WHERE t.tenant_id = s.tenant_id AND t.schedule_id = s.id AND t.occurrence_id IS NULL AND t.is_active;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('conflict', format('schedule %s has no active sections to sell per date', s.id),
            NULL, 'Create the sections with api.create_section naming the schedule_id first.');
    END IF;
    PERFORM eventsvc.emit_occurrence(o, 'event.occurrence.updated', jsonb_build_object('action', 'opened'));
    RETURN eventsvc.idempotency_store('open_occurrence', eventsvc.occurrence_json(o.tenant_id, o.id));
END
$$;
COMMENT ON FUNCTION api.open_occurrence(uuid, timestamptz, jsonb) IS
    'Put one date of a recurring schedule on sale with seats of its own: every active section of the schedule is copied for the date, with the seats named in capacities ({"Stalls": 150}) or the template''s (POST /rpc/open_occurrence).';

-- Stop (close) or resume (reopen) the sales of one date; holds and purchases stay.
-- A date already so is left as it is (no message); answers the date.
CREATE FUNCTION eventsvc.occurrence_sales(o eventsvc.event_occurrences, p_open boolean, p_reason text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (o.status = 'CLOSED') = p_open THEN
        UPDATE eventsvc.event_occurrences x
           SET status = CASE WHEN p_open THEN 'ON_SALE' ELSE 'CLOSED' END,
               status_reason = CASE WHEN p_open THEN NULL ELSE p_reason END, updated_at = eventsvc.now()
         WHERE x.tenant_id = o.tenant_id AND x.id = o.id
        RETURNING * INTO o;
        PERFORM eventsvc.emit_occurrence(o, 'event.occurrence.updated', jsonb_strip_nulls(jsonb_build_object(
            'action', CASE WHEN p_open THEN 'reopened' ELSE 'closed' END, 'reason', p_reason)));
    END IF;
    RETURN eventsvc.occurrence_json(o.tenant_id, o.id);
END
$$;

CREATE FUNCTION api.close_occurrence(occurrence_id uuid, reason text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.current_tenant_id();   -- none set: 42501 before anything else
    replay jsonb;
BEGIN
    PERFORM eventsvc.check_text_size('reason', reason);
    IF length(reason) > 1000 THEN
        PERFORM eventsvc.raise_error('validation', 'reason is longer than 1000 characters');
    END IF;
    replay := eventsvc.idempotency_replay('close_occurrence', jsonb_build_object('occurrence_id', occurrence_id, 'reason', reason));
    IF replay IS NOT NULL THEN
        RETURN replay;
    END IF;
    RETURN eventsvc.idempotency_store('close_occurrence', eventsvc.occurrence_sales(
        eventsvc.occurrence_for_change(close_occurrence.occurrence_id), false, reason));
END
$$;
COMMENT ON FUNCTION api.close_occurrence(uuid, text) IS
    'Stop selling one date of a series: reservations are refused (409), its holds and purchases stay (POST /rpc/close_occurrence).';

CREATE FUNCTION api.reopen_occurrence(occurrence_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.current_tenant_id();   -- none set: 42501 before anything else
    replay jsonb;
    o eventsvc.event_occurrences;
BEGIN
    replay := eventsvc.idempotency_replay('reopen_occurrence', jsonb_build_object('occurrence_id', occurrence_id));
    IF replay IS NOT NULL THEN
        RETURN replay;
    END IF;
    o := eventsvc.occurrence_for_change(reopen_occurrence.occurrence_id);
    IF o.starts_at <= eventsvc.now() THEN
        PERFORM eventsvc.raise_error('conflict', format('the date %s has started: it cannot go on sale', o.starts_at));
    END IF;
    RETURN eventsvc.idempotency_store('reopen_occurrence', eventsvc.occurrence_sales(o, true, NULL));
END
$$;
COMMENT ON FUNCTION api.reopen_occurrence(uuid) IS
    'Sell a closed date of a series again (POST /rpc/reopen_occurrence).';

-- The lifecycle of one date (src/capacity/series.c): a tenant admin or a service cancels
-- it (holds released, waitlists closed, every purchase refunded in full, one
-- event.occurrence.cancelled) or moves it (sections, holds and purchases stay; one
-- event.occurrence.moved).
CREATE FUNCTION api.cancel_occurrence(occurrence_id uuid, reason text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_cancel_occurrence'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.cancel_occurrence(uuid, text) IS
    'Admin or service: cancel one date of a series with a reason: sales stop, its holds are released, every purchase of the date is refunded in full (payment.refund_requested each), event.occurrence.cancelled; the other dates sell on (POST /rpc/cancel_occurrence).';
CREATE FUNCTION api.move_occurrence(occurrence_id uuid, starts_at timestamptz, ends_at timestamptz,
                                    reason text DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_move_occurrence'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.move_occurrence(uuid, timestamptz, timestamptz, text) IS
    'Admin or service: move one date of a series to a new start and end in the future; its seats, holds and purchases stay; event.occurrence.moved (POST /rpc/move_occurrence).';

-- The dates on sale (or closed, sold out, cancelled) of the tenant's events.
CREATE VIEW api.occurrences WITH (security_invoker = true) AS
SELECT o.id, o.event_id, o.schedule_id, o.original_starts_at, o.starts_at, o.ends_at, o.status,
       o.status_reason, o.version, o.created_at, o.updated_at
  FROM eventsvc.event_occurrences o
  JOIN eventsvc.events e ON e.tenant_id = o.tenant_id AND e.id = o.event_id
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.occurrences IS
    'Dates of recurring schedules on sale with seats of their own (GET /occurrences?event_id=eq.<id>).';

REVOKE ALL ON FUNCTION eventsvc.occurrence_json(uuid, uuid),
                       eventsvc.emit_occurrence(eventsvc.event_occurrences, text, jsonb),
                       eventsvc.occurrence_for_change(uuid),
                       eventsvc.occurrence_sales(eventsvc.event_occurrences, boolean, text),
                       api.open_occurrence(uuid, timestamptz, jsonb), api.close_occurrence(uuid, text),
                       api.reopen_occurrence(uuid), api.cancel_occurrence(uuid, text),
                       api.move_occurrence(uuid, timestamptz, timestamptz, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.open_occurrence(uuid, timestamptz, jsonb), api.close_occurrence(uuid, text),
                          api.reopen_occurrence(uuid)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.cancel_occurrence(uuid, text), api.move_occurrence(uuid, timestamptz, timestamptz, text)
    TO eventsvc_user, eventsvc_service;
GRANT SELECT ON eventsvc.event_occurrences TO eventsvc_user, eventsvc_service;
GRANT SELECT ON api.occurrences TO eventsvc_user, eventsvc_service;
