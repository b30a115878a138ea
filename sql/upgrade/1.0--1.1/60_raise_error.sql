-- Schedules raise through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION eventsvc.visible_event_tenant(p_event_id uuid) RETURNS uuid
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

CREATE OR REPLACE FUNCTION eventsvc.emit_schedule_change(p_schedule_id uuid, p_action text) RETURNS void
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

