-- Part 63: api.set_event_metadata runs with the schema owner's rights and names the caller's tenant.

CREATE OR REPLACE FUNCTION api.set_event_metadata(event_id uuid, performers jsonb DEFAULT NULL, headliner text DEFAULT NULL,
                                       supporting_acts text[] DEFAULT NULL, production_company text DEFAULT NULL,
                                       sponsors jsonb DEFAULT NULL, custom_fields jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid;
    rec    eventsvc.event_metadata;
BEGIN
    -- the size quotas first, before any work (docs/tenancy.md "Quotas")
    PERFORM eventsvc.check_document_size('performers', performers);
    PERFORM eventsvc.check_document_size('sponsors', sponsors);
    PERFORM eventsvc.check_document_size('custom_fields', custom_fields);
    PERFORM eventsvc.check_text_size('headliner', headliner);
    PERFORM eventsvc.check_text_size('production_company', production_company);
    SELECT e.tenant_id INTO tenant FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = set_event_metadata.event_id AND e.deleted_at IS NULL;
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
