-- Part 60: schedules and recurrence. An event has one or more schedules; a
-- recurring one carries an RFC 5545 RRULE expanded in its own time zone by
-- src/discovery/rrule.c, so 20:00 local stays 20:00 local across daylight-saving changes.
-- See docs/discovery.md "Schedules".

CREATE FUNCTION eventsvc.expand_rrule(rule text, dtstart timestamp, tz text, duration interval,
                                      max_count integer DEFAULT 500,
                                      window_end timestamptz DEFAULT NULL)
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz)
    AS 'MODULE_PATHNAME', 'evs_expand_rrule' LANGUAGE C STABLE PARALLEL SAFE ROWS 100;
COMMENT ON FUNCTION eventsvc.expand_rrule(text, timestamp, text, interval, integer, timestamptz) IS
    'Occurrences of an RRULE from dtstart (local wall time in tz), each lasting duration; at most max_count (hard cap 10000), starting before window_end.';

CREATE FUNCTION eventsvc.validate_rrule(rule text) RETURNS void
    AS 'MODULE_PATHNAME', 'evs_validate_rrule' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION eventsvc.check_timezone(tz text) RETURNS text
    AS 'MODULE_PATHNAME', 'evs_sql_check_timezone' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION eventsvc.schedule_recurrence_end(recurrence_rule text, starts_at timestamptz,
                                                 ends_at timestamptz, timezone text)
RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'evs_schedule_recurrence_end' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.schedule_recurrence_end(text, timestamptz, timestamptz, text) IS
    'Checks a recurring schedule; the end of its last occurrence (NULL when open-ended).';

-- The schedule's own checks, whoever writes the row (API or a DBA's UPDATE):
-- a valid zone and rule, and recurrence_end derived from the rule, never typed in.
CREATE FUNCTION eventsvc.schedule_check_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.recurrence_rule = '' THEN
        NEW.recurrence_rule := NULL;
    END IF;
    NEW.is_recurring := NEW.recurrence_rule IS NOT NULL;
    IF NEW.is_recurring THEN
        NEW.recurrence_end := eventsvc.schedule_recurrence_end(NEW.recurrence_rule, NEW.starts_at,
                                                               NEW.ends_at, NEW.timezone);
    ELSE
        PERFORM eventsvc.check_timezone(NEW.timezone);
        NEW.recurrence_end := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER event_schedules_check BEFORE INSERT OR UPDATE ON eventsvc.event_schedules
    FOR EACH ROW EXECUTE FUNCTION eventsvc.schedule_check_trigger();

-- What a rule would produce, before a schedule is saved (for editors' previews).
CREATE TYPE eventsvc.occurrence AS (starts_at timestamptz, ends_at timestamptz);
CREATE FUNCTION eventsvc.require_finite(t timestamptz, name text) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'evs_sql_require_finite' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.require_finite(timestamptz, text) IS
    'Returns t, or fails with 22023 naming the argument when t is +-infinity.';

CREATE FUNCTION api.preview_occurrences(recurrence_rule text, starts_at timestamptz, ends_at timestamptz,
                                        timezone text, max_count integer DEFAULT 20)
RETURNS SETOF eventsvc.occurrence
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT x.starts_at, x.ends_at
      FROM eventsvc.expand_rrule(recurrence_rule,
                                 eventsvc.require_finite(starts_at, 'starts_at') AT TIME ZONE eventsvc.check_timezone(timezone),
                                 timezone,
                                 (eventsvc.require_finite(ends_at, 'ends_at') AT TIME ZONE timezone)
                                   - (starts_at AT TIME ZONE timezone),
                                 max_count) x
$$;
COMMENT ON FUNCTION api.preview_occurrences(text, timestamptz, timestamptz, text, integer) IS
    'The first max_count occurrences a recurrence rule would give a schedule (GET /rpc/preview_occurrences); nothing is stored.';

-- The one place that says which events the caller may see in discovery reads:
-- the caller's tenant in full, or else the public catalogue of active tenants.
CREATE FUNCTION eventsvc.caller_scope() RETURNS uuid
    AS 'MODULE_PATHNAME', 'evs_sql_caller_scope' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION eventsvc.caller_scope() IS
    'Tenant whose rows the caller sees in full (tenant users; service/superuser naming a tenant), NULL for the public catalogue only.';

-- A plain expression (no SET clause, no sub-select) so the planner inlines it
-- into the callers' queries and can use their indexes. The caller joins the
-- event's tenant and passes its is_active.
CREATE FUNCTION eventsvc.event_is_visible(scope uuid, e eventsvc.events, tenant_active boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN scope IS NOT NULL THEN e.tenant_id = scope AND e.deleted_at IS NULL
        ELSE e.visibility = 'PUBLIC'
             AND e.deleted_at IS NULL
             AND e.status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT',
                              'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED')
             AND tenant_active
    END
$$;

-- Raises PT404 unless the event exists and the caller may see it; returns its tenant.
CREATE FUNCTION eventsvc.visible_event_tenant(p_event_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scope  uuid := eventsvc.caller_scope();
    tenant uuid;
BEGIN
    SELECT e.tenant_id INTO tenant
      FROM eventsvc.events e JOIN eventsvc.tenants t ON t.id = e.tenant_id
     WHERE e.id = p_event_id AND eventsvc.event_is_visible(scope, e, t.is_active);
    IF tenant IS NULL THEN
        PERFORM eventsvc.raise_error('not_found', format('event %s not found', coalesce(p_event_id::text, 'null')),
            NULL, 'Check the event id; events of other tenants and unpublished events are not visible.');
    END IF;
    RETURN tenant;
END
$$;

-- Downstream services (search, notification, ticket) learn of schedule changes
-- through the outbox, in the caller's transaction: event.updated with the schedule.
-- By id, re-read under the caller's tenant, so a caller cannot describe a row it
-- does not own.
CREATE FUNCTION eventsvc.emit_schedule_change(p_schedule_id uuid, p_action text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s eventsvc.event_schedules;
BEGIN
    SELECT * INTO s FROM eventsvc.event_schedules x
     WHERE x.tenant_id = eventsvc.current_tenant_id() AND x.id = p_schedule_id;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found', format('schedule %s not found', coalesce(p_schedule_id::text, 'null')));
    END IF;
    PERFORM eventsvc.outbox_emit(s.tenant_id, s.event_id, 'tickettoken_events', 'event.updated',
        jsonb_build_object('event_id', s.event_id, 'changed', jsonb_build_array('schedules'),
                           'schedule_action', p_action, 'schedule', to_jsonb(s) - 'tenant_id',
                           'actor', eventsvc.current_actor()));
END
$$;

-- The writers below run with the schema owner's rights (tenant roles have no write
-- right on schedules, part 99) and name the caller's tenant in every statement.

-- Create a schedule for an event of the caller's tenant. starts_at/ends_at are
-- the first occurrence; with a recurrence_rule, later occurrences repeat its
-- local wall time in the schedule's time zone (default: the event's).
CREATE FUNCTION api.create_schedule(event_id uuid, starts_at timestamptz, ends_at timestamptz,
                                    timezone text DEFAULT NULL, recurrence_rule text DEFAULT NULL,
                                    doors_open_at timestamptz DEFAULT NULL, notes text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    replay jsonb;
    ev  eventsvc.events;
    rec eventsvc.event_schedules;
BEGIN
    PERFORM eventsvc.check_text_size('notes', notes);   -- the size quotas first
    PERFORM eventsvc.check_text_size('recurrence_rule', recurrence_rule);
    -- a retry with the same Idempotency-Key header gets the first answer back (part 25)
    replay := eventsvc.idempotency_replay('create_schedule', jsonb_build_object(
        'event_id', event_id, 'starts_at', starts_at, 'ends_at', ends_at, 'timezone', timezone,
        'recurrence_rule', recurrence_rule, 'doors_open_at', doors_open_at, 'notes', notes));
    IF replay IS NOT NULL THEN
        RETURN replay;
    END IF;
    SELECT * INTO ev FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = create_schedule.event_id AND e.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(create_schedule.event_id::text, 'null')));
    END IF;
    IF ev.status IN ('CANCELLED', 'COMPLETED') THEN
        PERFORM eventsvc.raise_error('conflict', format('event %s is %s: it cannot get new schedules', ev.id, ev.status));
    END IF;
    IF create_schedule.starts_at IS NULL OR create_schedule.ends_at IS NULL THEN
        PERFORM eventsvc.raise_error('validation', 'starts_at and ends_at are required');
    END IF;
    IF create_schedule.ends_at <= create_schedule.starts_at THEN
        PERFORM eventsvc.raise_error('validation', 'invalid schedule: ends_at must be after starts_at',
            format('starts_at %s, ends_at %s.', create_schedule.starts_at, create_schedule.ends_at));
    END IF;
    INSERT INTO eventsvc.event_schedules (tenant_id, event_id, starts_at, ends_at, doors_open_at,
                                          timezone, recurrence_rule, notes)
    VALUES (ev.tenant_id, ev.id, create_schedule.starts_at, create_schedule.ends_at,
            create_schedule.doors_open_at, coalesce(create_schedule.timezone, ev.timezone),
            nullif(create_schedule.recurrence_rule, ''), create_schedule.notes)
    RETURNING * INTO rec;
    PERFORM eventsvc.emit_schedule_change(rec.id, 'created');
    RETURN eventsvc.idempotency_store('create_schedule', to_jsonb(rec));
END
$$;
COMMENT ON FUNCTION api.create_schedule(uuid, timestamptz, timestamptz, text, text, timestamptz, text) IS
    'Add a schedule (optionally recurring, RFC 5545 RRULE) to an event of the caller''s tenant (POST /rpc/create_schedule).';

-- Update with optimistic locking: expected_version must be the row's current version.
-- A NULL argument leaves the field unchanged; recurrence_rule '' makes it one-off.
CREATE FUNCTION api.update_schedule(schedule_id uuid, expected_version integer,
                                    starts_at timestamptz DEFAULT NULL, ends_at timestamptz DEFAULT NULL,
                                    timezone text DEFAULT NULL, recurrence_rule text DEFAULT NULL,
                                    doors_open_at timestamptz DEFAULT NULL,
                                    status eventsvc.schedule_status DEFAULT NULL, notes text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    replay jsonb;
    rec eventsvc.event_schedules;
BEGIN
    PERFORM eventsvc.check_text_size('notes', notes);   -- the size quotas first
    PERFORM eventsvc.check_text_size('recurrence_rule', recurrence_rule);
    -- a retry with the same Idempotency-Key header gets the first answer back (part 25)
    replay := eventsvc.idempotency_replay('update_schedule', jsonb_build_object(
        'schedule_id', schedule_id, 'expected_version', expected_version, 'starts_at', starts_at,
        'ends_at', ends_at, 'timezone', timezone, 'recurrence_rule', recurrence_rule,
        'doors_open_at', doors_open_at, 'status', status, 'notes', notes));
    IF replay IS NOT NULL THEN
        RETURN replay;
    END IF;
    IF expected_version IS NULL THEN
        PERFORM eventsvc.raise_error('validation', 'expected_version is required',
            NULL, 'Pass the version you read; a stale version is refused (409).');
    END IF;
    UPDATE eventsvc.event_schedules s
       SET starts_at       = coalesce(update_schedule.starts_at, s.starts_at),
           ends_at         = coalesce(update_schedule.ends_at, s.ends_at),
           timezone        = coalesce(update_schedule.timezone, s.timezone),
           recurrence_rule = CASE WHEN update_schedule.recurrence_rule IS NULL THEN s.recurrence_rule
                                  ELSE nullif(update_schedule.recurrence_rule, '') END,
           doors_open_at   = coalesce(update_schedule.doors_open_at, s.doors_open_at),
           status          = coalesce(update_schedule.status, s.status),
           notes           = coalesce(update_schedule.notes, s.notes),
           version         = expected_version
     WHERE s.tenant_id = eventsvc.current_tenant_id() AND s.id = update_schedule.schedule_id
    RETURNING * INTO rec;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found',
            format('schedule %s not found', coalesce(update_schedule.schedule_id::text, 'null')));
    END IF;
    PERFORM eventsvc.emit_schedule_change(rec.id, 'updated');
    RETURN eventsvc.idempotency_store('update_schedule', to_jsonb(rec));
END
$$;
COMMENT ON FUNCTION api.update_schedule(uuid, integer, timestamptz, timestamptz, text, text, timestamptz,
                                        eventsvc.schedule_status, text) IS
    'Change a schedule; expected_version guards against lost updates (409 when stale).';

-- Remove a schedule that nothing sells against: sections or price tiers bound to
-- it must be moved or removed first (a conflict, not a cascade that drops seats).
CREATE FUNCTION api.delete_schedule(schedule_id uuid, expected_version integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    replay jsonb;
    rec eventsvc.event_schedules;
BEGIN
    -- a retry with the same Idempotency-Key header gets the first answer back (part 25)
    replay := eventsvc.idempotency_replay('delete_schedule', jsonb_build_object('schedule_id', schedule_id, 'expected_version', expected_version));
    IF replay IS NOT NULL THEN
        RETURN replay;
    END IF;
    SELECT * INTO rec FROM eventsvc.event_schedules s
     WHERE s.tenant_id = eventsvc.current_tenant_id() AND s.id = delete_schedule.schedule_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found',
            format('schedule %s not found', coalesce(delete_schedule.schedule_id::text, 'null')));
    END IF;
    IF expected_version IS DISTINCT FROM rec.version THEN
        PERFORM eventsvc.raise_error('conflict',
            format('event_schedules row was changed by someone else: expected version %s, current version %s',
                   coalesce(expected_version::text, 'null'), rec.version),
            NULL, 'Read the schedule again and retry with its current version.');
    END IF;
    IF EXISTS (SELECT 1 FROM eventsvc.event_capacity c WHERE c.tenant_id = rec.tenant_id AND c.schedule_id = rec.id)
       OR EXISTS (SELECT 1 FROM eventsvc.event_pricing p WHERE p.tenant_id = rec.tenant_id AND p.schedule_id = rec.id) THEN
        PERFORM eventsvc.raise_error('conflict', format('schedule %s still has sections or price tiers', rec.id),
            NULL, 'Move or remove the sections and price tiers of this schedule first.');
    END IF;
    PERFORM eventsvc.emit_schedule_change(rec.id, 'deleted');
    DELETE FROM eventsvc.event_schedules s WHERE s.tenant_id = rec.tenant_id AND s.id = rec.id;
    RETURN eventsvc.idempotency_store('delete_schedule',
        jsonb_build_object('schedule_id', rec.id, 'event_id', rec.event_id, 'deleted', true));
END
$$;
COMMENT ON FUNCTION api.delete_schedule(uuid, integer) IS
    'Remove a schedule without sections or price tiers; expected_version guards against lost updates.';

-- Occurrences of every schedule of an event whose start lies in
-- [starts_from, starts_before). Open-ended rules are expanded up to starts_before
-- (and never past the hard cap of 10000 per schedule).
CREATE FUNCTION api.event_occurrences(event_id uuid, starts_from timestamptz DEFAULT NULL,
                                      starts_before timestamptz DEFAULT NULL)
RETURNS TABLE (schedule_id uuid, starts_at timestamptz, ends_at timestamptz,
               doors_open_at timestamptz, timezone text, status eventsvc.schedule_status)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_occurrences.event_id);
BEGIN
    RETURN QUERY
    SELECT s.id, o.starts_at, o.ends_at,
           o.starts_at - (s.starts_at - s.doors_open_at), s.timezone, s.status
      FROM eventsvc.event_schedules s
     CROSS JOIN LATERAL (
            SELECT x.starts_at, x.ends_at
              FROM eventsvc.expand_rrule(s.recurrence_rule, s.starts_at AT TIME ZONE s.timezone,
                                         s.timezone,
                                         (s.ends_at AT TIME ZONE s.timezone) - (s.starts_at AT TIME ZONE s.timezone),
                                         10000, event_occurrences.starts_before) x
             WHERE s.is_recurring
            UNION ALL
            SELECT s.starts_at, s.ends_at WHERE NOT s.is_recurring) o
     WHERE s.tenant_id = tenant AND s.event_id = event_occurrences.event_id
       AND (event_occurrences.starts_from IS NULL OR o.starts_at >= event_occurrences.starts_from)
       AND (event_occurrences.starts_before IS NULL OR o.starts_at < event_occurrences.starts_before)
     ORDER BY o.starts_at, s.id;
END
$$;
COMMENT ON FUNCTION api.event_occurrences(uuid, timestamptz, timestamptz) IS
    'Occurrences of an event''s schedules starting in [starts_from, starts_before), for anyone who may see the event.';

REVOKE ALL ON FUNCTION eventsvc.expand_rrule(text, timestamp, text, interval, integer, timestamptz),
                       eventsvc.validate_rrule(text), eventsvc.check_timezone(text),
                       eventsvc.require_finite(timestamptz, text),
                       eventsvc.schedule_recurrence_end(text, timestamptz, timestamptz, text),
                       eventsvc.schedule_check_trigger(), eventsvc.caller_scope(),
                       eventsvc.event_is_visible(uuid, eventsvc.events, boolean),
                       eventsvc.visible_event_tenant(uuid), eventsvc.emit_schedule_change(uuid, text),
                       api.create_schedule(uuid, timestamptz, timestamptz, text, text, timestamptz, text),
                       api.update_schedule(uuid, integer, timestamptz, timestamptz, text, text, timestamptz,
                                           eventsvc.schedule_status, text),
                       api.event_occurrences(uuid, timestamptz, timestamptz), api.delete_schedule(uuid, integer),
                       api.preview_occurrences(text, timestamptz, timestamptz, text, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.expand_rrule(text, timestamp, text, interval, integer, timestamptz),
                          eventsvc.validate_rrule(text), eventsvc.check_timezone(text),
                          eventsvc.require_finite(timestamptz, text),
                          eventsvc.schedule_recurrence_end(text, timestamptz, timestamptz, text),
                          eventsvc.schedule_check_trigger(), eventsvc.caller_scope(),
                          eventsvc.event_is_visible(uuid, eventsvc.events, boolean),
                          eventsvc.visible_event_tenant(uuid)
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION api.create_schedule(uuid, timestamptz, timestamptz, text, text, timestamptz, text),
                          api.preview_occurrences(text, timestamptz, timestamptz, text, integer),
                          api.delete_schedule(uuid, integer),
                          api.update_schedule(uuid, integer, timestamptz, timestamptz, text, text, timestamptz,
                                              eventsvc.schedule_status, text)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.event_occurrences(uuid, timestamptz, timestamptz)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
