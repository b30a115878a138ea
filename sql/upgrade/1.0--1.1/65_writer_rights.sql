-- Part 65: the blockchain callback is the one writer that marks an event queued, synced or failed
-- (eventsvc.blockchain_callback is on while it runs).

CREATE OR REPLACE FUNCTION api.update_blockchain_status(event_id uuid, status text, event_pda text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET eventsvc.blockchain_callback = on AS $$
DECLARE
    e eventsvc.events;
    new_status eventsvc.blockchain_status;
BEGIN
    PERFORM eventsvc.require_service('report blockchain status');
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
    SELECT * INTO e FROM eventsvc.events x WHERE x.id = update_blockchain_status.event_id AND x.deleted_at IS NULL
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
