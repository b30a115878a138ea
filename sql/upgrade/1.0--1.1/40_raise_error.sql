-- Pricing functions raise through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION eventsvc.pricing_delete_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM eventsvc.capacity_holds h
                WHERE h.tenant_id = OLD.tenant_id AND h.pricing_id = OLD.id) THEN
        PERFORM eventsvc.raise_error('conflict', 'cannot delete a pricing tier that holds refer to',
            NULL, 'Deactivate the tier (is_active = false) instead.');
    END IF;
    RETURN OLD;
END
$$;

CREATE OR REPLACE FUNCTION eventsvc.check_changes(changes jsonb, allowed text[], what text, hint_tail text)
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text[];
BEGIN
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        PERFORM eventsvc.raise_error('validation', 'changes must be a JSON object');
    END IF;
    SELECT array_agg(k ORDER BY k) INTO bad FROM jsonb_object_keys(changes) k WHERE k <> ALL (allowed);
    IF bad IS NOT NULL THEN
        PERFORM eventsvc.raise_error('validation',
            format('these %s fields cannot be changed: %s', coalesce(what, 'null'), array_to_string(bad, ', ')),
            NULL, 'Changeable: ' || array_to_string(allowed, ', ') || coalesce(hint_tail, ''));
    END IF;
END
$$;
