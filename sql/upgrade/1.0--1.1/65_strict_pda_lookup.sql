-- Part 65: a PDA lookup returns exactly one event (STRICT) or an error.
CREATE OR REPLACE FUNCTION api.internal_event_by_pda(event_pda text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e eventsvc.events;
BEGIN
    PERFORM eventsvc.require_service('look up events by blockchain PDA');
    IF event_pda IS NULL OR event_pda !~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$' THEN
        PERFORM eventsvc.raise_error('validation', 'event_pda must be a base58 Solana address of 32 to 44 characters');
    END IF;
    -- Exactly one row: a PDA names one on-chain account and belongs to one event
    -- (events_event_pda_key); STRICT still refuses to guess if two rows ever claimed it.
    SELECT * INTO STRICT e FROM eventsvc.events x
     WHERE x.event_pda = internal_event_by_pda.event_pda AND x.deleted_at IS NULL;
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
