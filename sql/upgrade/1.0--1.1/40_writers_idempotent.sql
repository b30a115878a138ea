-- Idempotency-Key on the tier and section writers (part 25): a retry with the same key
-- and arguments returns the first answer; create_section is PL/pgSQL for that.
CREATE OR REPLACE FUNCTION api.create_pricing(
    event_id uuid, name text, base_price bigint,
    currency text DEFAULT 'USD', capacity_id uuid DEFAULT NULL, tier text DEFAULT NULL,
    description text DEFAULT NULL, service_fee bigint DEFAULT 0, facility_fee bigint DEFAULT 0,
    tax_rate numeric DEFAULT 0, is_dynamic boolean DEFAULT false, min_price bigint DEFAULT NULL,
    max_price bigint DEFAULT NULL, early_bird_price bigint DEFAULT NULL,
    early_bird_ends_at timestamptz DEFAULT NULL, last_minute_price bigint DEFAULT NULL,
    last_minute_starts_at timestamptz DEFAULT NULL, group_size_min integer DEFAULT NULL,
    group_discount_percentage numeric DEFAULT NULL, sales_start_at timestamptz DEFAULT NULL,
    sales_end_at timestamptz DEFAULT NULL, max_per_order integer DEFAULT NULL,
    max_per_customer integer DEFAULT NULL, display_order integer DEFAULT 0,
    tax_included boolean DEFAULT false, fees_taxable boolean DEFAULT true,
    rounding_mode text DEFAULT 'half_even', fee_percentage numeric DEFAULT 0)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r eventsvc.event_pricing;
    replay jsonb;
BEGIN
    PERFORM eventsvc.check_text_size('description', description);   -- the size quota first
    -- A retry with the same Idempotency-Key header gets the first tier back (part 25).
    replay := eventsvc.idempotency_replay('create_pricing', jsonb_build_object(
        'event_id', event_id, 'name', name, 'base_price', base_price, 'currency', currency,
        'capacity_id', capacity_id, 'tier', tier, 'description', description, 'service_fee', service_fee,
        'facility_fee', facility_fee, 'tax_rate', tax_rate, 'is_dynamic', is_dynamic, 'min_price', min_price,
        'max_price', max_price, 'early_bird_price', early_bird_price, 'early_bird_ends_at', early_bird_ends_at,
        'last_minute_price', last_minute_price, 'last_minute_starts_at', last_minute_starts_at,
        'group_size_min', group_size_min, 'group_discount_percentage', group_discount_percentage,
        'sales_start_at', sales_start_at, 'sales_end_at', sales_end_at, 'max_per_order', max_per_order,
        'max_per_customer', max_per_customer, 'display_order', display_order, 'tax_included', tax_included,
        'fees_taxable', fees_taxable, 'rounding_mode', rounding_mode, 'fee_percentage', fee_percentage));
    IF replay IS NOT NULL THEN
        RETURN replay;
    END IF;
    -- Checked here, not only in the trigger: the char(3) column would refuse a long code
    -- with a raw "value too long" before any trigger runs.
    IF create_pricing.currency IS NULL OR create_pricing.currency !~ '^[A-Za-z]{3}$' THEN
        PERFORM eventsvc.raise_error('validation', 'invalid pricing tier: currency must be a 3-letter ISO 4217 code',
            NULL, 'For example USD or EUR.');
    END IF;
    -- Exact decimals only: a rate with more digits than the column keeps is refused, not rounded.
    IF tax_rate IS NOT NULL AND tax_rate <> round(tax_rate, 8) THEN
        PERFORM eventsvc.raise_error('validation', 'invalid pricing tier: tax_rate has more than 8 decimal places');
    END IF;
    IF group_discount_percentage IS NOT NULL AND group_discount_percentage <> round(group_discount_percentage, 2) THEN
        PERFORM eventsvc.raise_error('validation', 'invalid pricing tier: group_discount_percentage has more than 2 decimal places');
    END IF;
    IF tax_rate IS NOT NULL AND (tax_rate < 0 OR tax_rate > 1) THEN
        PERFORM eventsvc.raise_error('validation', 'invalid pricing tier: tax_rate must be between 0 and 1',
            NULL, 'Write 8.25 % as 0.0825.');
    END IF;
    IF group_discount_percentage IS NOT NULL AND (group_discount_percentage < 0 OR group_discount_percentage > 100) THEN
        PERFORM eventsvc.raise_error('validation', 'invalid pricing tier: group_discount_percentage must be between 0 and 100');
    END IF;
    INSERT INTO eventsvc.event_pricing AS p
        (tenant_id, event_id, capacity_id, name, description, tier, currency, base_price,
         service_fee, facility_fee, tax_rate, is_dynamic, min_price, max_price, current_price,
         early_bird_price, early_bird_ends_at, last_minute_price, last_minute_starts_at,
         group_size_min, group_discount_percentage, sales_start_at, sales_end_at,
         max_per_order, max_per_customer, display_order,
         tax_included, fees_taxable, rounding_mode, fee_percentage)
    VALUES (eventsvc.current_tenant_id(), create_pricing.event_id, create_pricing.capacity_id,
            create_pricing.name, create_pricing.description, create_pricing.tier,
            upper(create_pricing.currency), create_pricing.base_price,
            coalesce(create_pricing.service_fee, 0), coalesce(create_pricing.facility_fee, 0),
            coalesce(create_pricing.tax_rate, 0), coalesce(create_pricing.is_dynamic, false),
            create_pricing.min_price, create_pricing.max_price,
            CASE WHEN create_pricing.is_dynamic THEN create_pricing.base_price END,
            create_pricing.early_bird_price, create_pricing.early_bird_ends_at,
            create_pricing.last_minute_price, create_pricing.last_minute_starts_at,
            create_pricing.group_size_min, create_pricing.group_discount_percentage,
            create_pricing.sales_start_at, create_pricing.sales_end_at,
            create_pricing.max_per_order, create_pricing.max_per_customer,
            coalesce(create_pricing.display_order, 0),
            coalesce(create_pricing.tax_included, false), coalesce(create_pricing.fees_taxable, true),
            coalesce(create_pricing.rounding_mode, 'half_even'), coalesce(create_pricing.fee_percentage, 0))
    RETURNING * INTO r;
    RETURN eventsvc.idempotency_store('create_pricing', to_jsonb(r) - 'tenant_id');
END
$$;
COMMENT ON FUNCTION api.create_pricing IS 'Creates a pricing tier; amounts in minor units; tax_included: the prices are what the buyer pays, tax inside; the tier rules are in docs/money.md.';

CREATE OR REPLACE FUNCTION api.update_pricing(pricing_id uuid, expected_version integer, changes jsonb)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- a retry with the same Idempotency-Key header gets the first answer back (part 25)
    SELECT coalesce(r.replay, eventsvc.idempotency_store('update_pricing',
                                  eventsvc.apply_changes('pricing', pricing_id, expected_version, changes)))
      FROM (SELECT eventsvc.idempotency_replay('update_pricing', jsonb_build_object(
                'pricing_id', pricing_id, 'expected_version', expected_version, 'changes', changes)) AS replay) r
$$;
COMMENT ON FUNCTION api.update_pricing(uuid, integer, jsonb) IS
    'Changes a pricing tier (fields in changes; explicit null clears) if it is still at expected_version.';

CREATE OR REPLACE FUNCTION api.create_section(
    event_id uuid, section_name text, total_capacity integer,
    section_code text DEFAULT NULL, tier text DEFAULT NULL, schedule_id uuid DEFAULT NULL,
    minimum_purchase integer DEFAULT 1, maximum_purchase integer DEFAULT NULL,
    row_config jsonb DEFAULT NULL, seat_map jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    replay jsonb;
    result jsonb;
BEGIN
    -- the size quotas first, before any work (docs/tenancy.md "Quotas")
    PERFORM eventsvc.check_document_size('row_config', row_config), eventsvc.check_document_size('seat_map', seat_map),
            eventsvc.check_text_size('section_name', section_name);
    -- A retry with the same Idempotency-Key header gets the first section back (part 25).
    replay := eventsvc.idempotency_replay('create_section', jsonb_build_object(
        'event_id', event_id, 'section_name', section_name, 'total_capacity', total_capacity,
        'section_code', section_code, 'tier', tier, 'schedule_id', schedule_id,
        'minimum_purchase', minimum_purchase, 'maximum_purchase', maximum_purchase,
        'row_config', row_config, 'seat_map', seat_map));
    IF replay IS NOT NULL THEN
        RETURN replay;
    END IF;
    INSERT INTO eventsvc.event_capacity AS c
        (tenant_id, event_id, schedule_id, section_name, section_code, tier, total_capacity,
         available_capacity, minimum_purchase, maximum_purchase, row_config, seat_map)
    VALUES (eventsvc.current_tenant_id(), create_section.event_id, create_section.schedule_id,
            create_section.section_name, create_section.section_code, create_section.tier,
            create_section.total_capacity, greatest(create_section.total_capacity, 0),
            coalesce(create_section.minimum_purchase, 1), create_section.maximum_purchase,
            create_section.row_config, create_section.seat_map)
    RETURNING to_jsonb(c) - 'tenant_id' INTO result;
    RETURN eventsvc.idempotency_store('create_section', result);
END
$$;
COMMENT ON FUNCTION api.create_section IS
    'Creates a capacity section; all active sections of an event must fit in the venue.';

CREATE OR REPLACE FUNCTION api.update_section(capacity_id uuid, expected_version integer, changes jsonb)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- a retry with the same Idempotency-Key header gets the first answer back (part 25)
    SELECT coalesce(r.replay, eventsvc.idempotency_store('update_section',
                                  eventsvc.apply_changes('section', capacity_id, expected_version, changes)))
      FROM (SELECT eventsvc.idempotency_replay('update_section', jsonb_build_object(
                'capacity_id', capacity_id, 'expected_version', expected_version, 'changes', changes)) AS replay) r
$$;
COMMENT ON FUNCTION api.update_section(uuid, integer, jsonb) IS
    'Changes a section if it is still at expected_version; total_capacity cannot go below the seats held or sold.';

