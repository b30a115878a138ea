-- Part 65: internal lookups for other platform services (the original's
-- /internal routes): event by id, event by blockchain PDA, scan stats, and the
-- blockchain-service status callback. Service role only: every other role gets
-- 42501, even with EXECUTE (checked in C, src/discovery/discovery.c).
--
-- Scoped by the token: a service token that names a tenant (tenant_id) reaches that
-- tenant's events only (another tenant's event is "not found", like an unknown one);
-- a platform-wide call, where the original's internal routes took an event id (or PDA)
-- from a service that holds no tenant context (ticket scanning, blockchain-service),
-- needs the explicit platform scope (claim "scope": "platform"; SQL: app.scope). The
-- answers carry tenant_id, so the calling service can scope its own work.
-- eventsvc.service_scope (part 70, src/discovery/discovery.c) says which. See docs/tenancy.md
-- "Trust model" and docs/discovery.md "Internal lookups".

CREATE FUNCTION eventsvc.require_service(action text) RETURNS void
    AS 'MODULE_PATHNAME', 'evs_sql_require_service' LANGUAGE C STABLE PARALLEL SAFE;


-- What services see of an event: everything but the search vector.
CREATE FUNCTION eventsvc.internal_event_document(e eventsvc.events) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT to_jsonb(e) - 'search_vector'
$$;

CREATE FUNCTION api.internal_event(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scope uuid := eventsvc.service_scope('look up events by id');
    e eventsvc.events;
BEGIN
    SELECT * INTO e FROM eventsvc.events x
     WHERE x.id = internal_event.event_id AND x.deleted_at IS NULL AND (scope IS NULL OR x.tenant_id = scope);
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(internal_event.event_id::text, 'null')));
    END IF;
    RETURN eventsvc.internal_event_document(e);
END
$$;
COMMENT ON FUNCTION api.internal_event(uuid) IS
    'Service role: an event by id, of the token''s tenant or (platform scope) any, with its tenant_id (GET /rpc/internal_event?event_id=...).';

CREATE FUNCTION api.internal_event_by_pda(event_pda text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scope uuid := eventsvc.service_scope('look up events by blockchain PDA');
    e eventsvc.events;
BEGIN
    IF event_pda IS NULL OR event_pda !~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$' THEN
        PERFORM eventsvc.raise_error('validation', 'event_pda must be a base58 Solana address of 32 to 44 characters');
    END IF;
    -- Exactly one row: a PDA names one on-chain account and belongs to one event
    -- (events_event_pda_key); STRICT still refuses to guess if two rows ever claimed it.
    SELECT * INTO STRICT e FROM eventsvc.events x
     WHERE x.event_pda = internal_event_by_pda.event_pda AND x.deleted_at IS NULL
       AND (scope IS NULL OR x.tenant_id = scope);
    RETURN eventsvc.internal_event_document(e);
EXCEPTION
    WHEN no_data_found THEN
        PERFORM eventsvc.raise_error('not_found', format('no event has PDA %s', event_pda));
        RETURN NULL;
    WHEN too_many_rows THEN
        PERFORM eventsvc.raise_error('conflict', format('more than one event has PDA %s', event_pda),
            NULL, 'An on-chain address belongs to one event; the platform operator must resolve the duplicate.');
        RETURN NULL;
END
$$;
COMMENT ON FUNCTION api.internal_event_by_pda(text) IS
    'Service role: the event whose on-chain account is event_pda (GET /rpc/internal_event_by_pda?event_pda=...).';

-- What the scanning service needs at the door: the event, its times, and how many
-- seats are sold (tickets to expect), reserved and still available, live.
CREATE FUNCTION api.internal_scan_stats(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scope uuid := eventsvc.service_scope('read scan stats');
    e eventsvc.events;
    result jsonb;
BEGIN
    SELECT * INTO e FROM eventsvc.events x
     WHERE x.id = internal_scan_stats.event_id AND x.deleted_at IS NULL AND (scope IS NULL OR x.tenant_id = scope);
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(internal_scan_stats.event_id::text, 'null')));
    END IF;
    SELECT jsonb_build_object(
               'event_id', e.id, 'tenant_id', e.tenant_id, 'venue_id', e.venue_id, 'name', e.name,
               'status', e.status, 'starts_at', e.starts_at, 'ends_at', e.ends_at, 'doors_open', e.doors_open,
               'sections', count(s.*),
               'total_capacity', coalesce(sum(s.total_capacity), 0),
               'tickets_sold', coalesce(sum(s.sold), 0),
               'reserved', coalesce(sum(s.reserved), 0),
               'available', coalesce(sum(s.available), 0))
      INTO result
      FROM api.section_availability s
     WHERE s.tenant_id = e.tenant_id AND s.event_id = e.id;
    RETURN result;
END
$$;
COMMENT ON FUNCTION api.internal_scan_stats(uuid) IS
    'Service role: sold/reserved/available seats of an event for the scanning service (GET /rpc/internal_scan_stats?event_id=...).';

-- blockchain-service's callback (PUT /internal/events/{id}/blockchain-status).
-- Idempotent: the same report twice changes nothing the second time. A synced
-- event keeps its PDA: a different one is a conflict, not an overwrite; so is an
-- address another event already holds (events_write_rules, part 32: PT409). It is the
-- one writer that may mark an event queued, synced or failed: while it runs the
-- superuser-only setting eventsvc.blockchain_callback is on (its SET clause), which
-- the write rules ask for.
CREATE FUNCTION api.update_blockchain_status(event_id uuid, status text, event_pda text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET eventsvc.blockchain_callback = on AS $$
DECLARE
    scope uuid := eventsvc.service_scope('report blockchain status');
    e eventsvc.events;
    new_status eventsvc.blockchain_status;
BEGIN
    IF status IS NULL OR status NOT IN ('pending', 'queued', 'synced', 'failed') THEN
        PERFORM eventsvc.raise_error('validation', 'status must be pending, queued, synced or failed',
            format('Got %s.', coalesce(quote_literal(status), 'null')));
    END IF;
    new_status := status::eventsvc.blockchain_status;
    IF event_pda IS NOT NULL AND event_pda !~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$' THEN
        PERFORM eventsvc.raise_error('validation', 'event_pda must be a base58 Solana address of 32 to 44 characters');
    END IF;
    IF new_status = 'synced' AND event_pda IS NULL THEN
        PERFORM eventsvc.raise_error('validation', 'a synced event needs its event_pda');
    END IF;
    SELECT * INTO e FROM eventsvc.events x
     WHERE x.id = update_blockchain_status.event_id AND x.deleted_at IS NULL AND (scope IS NULL OR x.tenant_id = scope)
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(update_blockchain_status.event_id::text, 'null')));
    END IF;
    IF e.blockchain_status = 'synced' AND e.event_pda IS NOT NULL
       AND (new_status <> 'synced' OR event_pda IS DISTINCT FROM e.event_pda) THEN
        PERFORM eventsvc.raise_error('conflict', format('event %s is already synced with PDA %s', e.id, e.event_pda),
            NULL, 'A synced event keeps its on-chain account; fix the blockchain side instead.');
    END IF;
    IF e.blockchain_status IS DISTINCT FROM new_status OR e.event_pda IS DISTINCT FROM coalesce(event_pda, e.event_pda) THEN
        UPDATE eventsvc.events x
           SET blockchain_status = new_status,
               event_pda = coalesce(update_blockchain_status.event_pda, x.event_pda),
               updated_by = eventsvc.current_actor()
         WHERE x.tenant_id = e.tenant_id AND x.id = e.id
        RETURNING * INTO e;
    END IF;
    RETURN jsonb_build_object('event_id', e.id, 'tenant_id', e.tenant_id, 'blockchain_status', e.blockchain_status,
                              'event_pda', e.event_pda, 'version', e.version);
END
$$;
COMMENT ON FUNCTION api.update_blockchain_status(uuid, text, text) IS
    'Service role: blockchain-service reports an event''s on-chain status and PDA (POST /rpc/update_blockchain_status).';

REVOKE ALL ON FUNCTION eventsvc.require_service(text), eventsvc.internal_event_document(eventsvc.events),
                       api.internal_event(uuid), api.internal_event_by_pda(text), api.internal_scan_stats(uuid),
                       api.update_blockchain_status(uuid, text, text)
    FROM PUBLIC;
-- Two locks: only the service role may execute these, and each one checks the
-- caller again (eventsvc.service_scope) in case a grant is ever widened.
GRANT EXECUTE ON FUNCTION api.internal_event(uuid), api.internal_event_by_pda(text), api.internal_scan_stats(uuid),
                          api.update_blockchain_status(uuid, text, text)
    TO eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.require_service(text) TO eventsvc_anon, eventsvc_user, eventsvc_service;
