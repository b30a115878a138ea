-- Metadata raises through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION eventsvc.check_named_list(field text, items jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    pos bigint;
BEGIN
    IF items IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(items) <> 'array' THEN
        PERFORM eventsvc.raise_error('validation', format('invalid %s: it must be a JSON array', coalesce(field, 'null')));
    END IF;
    SELECT i.ord - 1 INTO pos FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, ord)
     WHERE NOT coalesce(jsonb_typeof(i.item) = 'string' AND length(i.item #>> '{}') BETWEEN 1 AND 300
                        OR jsonb_typeof(i.item) = 'object' AND jsonb_typeof(i.item -> 'name') = 'string'
                           AND length(i.item ->> 'name') BETWEEN 1 AND 300, false)
     LIMIT 1;
    IF pos IS NOT NULL THEN
        PERFORM eventsvc.raise_error('validation',
            format('invalid %s: entry %s must be a name or an object with a "name" of 1 to 300 characters',
                   coalesce(field, 'null'), pos),
            NULL, 'For example ["The Band"] or [{"name": "The Band", "role": "headliner"}].');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION api.set_event_metadata(event_id uuid, performers jsonb DEFAULT NULL, headliner text DEFAULT NULL,
                                       supporting_acts text[] DEFAULT NULL, production_company text DEFAULT NULL,
                                       sponsors jsonb DEFAULT NULL, custom_fields jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid;
    rec    eventsvc.event_metadata;
BEGIN
    SELECT e.tenant_id INTO tenant FROM eventsvc.events e
     WHERE e.id = set_event_metadata.event_id AND e.deleted_at IS NULL;
    IF tenant IS NULL THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(set_event_metadata.event_id::text, 'null')));
    END IF;
    PERFORM eventsvc.check_named_list('performers', performers);
    PERFORM eventsvc.check_named_list('sponsors', sponsors);
    INSERT INTO eventsvc.event_metadata AS m (tenant_id, event_id, performers, headliner, supporting_acts,
                                              production_company, sponsors, custom_fields)
    VALUES (tenant, set_event_metadata.event_id, coalesce(set_event_metadata.performers, '[]'),
            set_event_metadata.headliner, coalesce(set_event_metadata.supporting_acts, '{}'),
            set_event_metadata.production_company, coalesce(set_event_metadata.sponsors, '[]'),
            coalesce(set_event_metadata.custom_fields, '{}'))
    ON CONFLICT ON CONSTRAINT event_metadata_event_key DO UPDATE
       SET performers = coalesce(set_event_metadata.performers, m.performers),
           headliner = coalesce(set_event_metadata.headliner, m.headliner),
           supporting_acts = coalesce(set_event_metadata.supporting_acts, m.supporting_acts),
           production_company = coalesce(set_event_metadata.production_company, m.production_company),
           sponsors = coalesce(set_event_metadata.sponsors, m.sponsors),
           custom_fields = coalesce(set_event_metadata.custom_fields, m.custom_fields),
           updated_at = now()
    RETURNING * INTO rec;
    RETURN to_jsonb(rec);
END
$$;
