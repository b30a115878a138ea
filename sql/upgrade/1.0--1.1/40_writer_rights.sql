-- Part 40: the section and tier writers run with the schema owner's rights (tenant roles have
-- no write right on sections and tiers any more); the rows they write carry the caller's tenant.
ALTER FUNCTION api.update_pricing(uuid, integer, jsonb) SECURITY DEFINER;
ALTER FUNCTION api.update_section(uuid, integer, jsonb) SECURITY DEFINER;
-- their helpers are reached through them only
REVOKE EXECUTE ON FUNCTION eventsvc.check_changes(jsonb, text[], text, text),
                           eventsvc.apply_changes(text, uuid, integer, jsonb) FROM eventsvc_user;

-- (api.create_pricing, with the size quota first, is made by 40_tax_inclusive.sql)

CREATE OR REPLACE FUNCTION api.create_section(
    event_id uuid, section_name text, total_capacity integer,
    section_code text DEFAULT NULL, tier text DEFAULT NULL, schedule_id uuid DEFAULT NULL,
    minimum_purchase integer DEFAULT 1, maximum_purchase integer DEFAULT NULL,
    row_config jsonb DEFAULT NULL, seat_map jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- the size quotas first, before any work (docs/tenancy.md "Quotas")
    SELECT eventsvc.check_document_size('row_config', row_config), eventsvc.check_document_size('seat_map', seat_map),
           eventsvc.check_text_size('section_name', section_name);
    INSERT INTO eventsvc.event_capacity AS c
        (tenant_id, event_id, schedule_id, section_name, section_code, tier, total_capacity,
         available_capacity, minimum_purchase, maximum_purchase, row_config, seat_map)
    VALUES (eventsvc.current_tenant_id(), create_section.event_id, create_section.schedule_id,
            create_section.section_name, create_section.section_code, create_section.tier,
            create_section.total_capacity, greatest(create_section.total_capacity, 0),
            coalesce(create_section.minimum_purchase, 1), create_section.maximum_purchase,
            create_section.row_config, create_section.seat_map)
    RETURNING to_jsonb(c) - 'tenant_id'
$$;
