-- Idempotency-Key on the schedule writers (part 25): a retry with the same key and
-- arguments returns the first answer.
CREATE OR REPLACE FUNCTION api.create_schedule(event_id uuid, starts_at timestamptz, ends_at timestamptz,
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

CREATE OR REPLACE FUNCTION api.update_schedule(schedule_id uuid, expected_version integer,
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

CREATE OR REPLACE FUNCTION api.delete_schedule(schedule_id uuid, expected_version integer) RETURNS jsonb
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

