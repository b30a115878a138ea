-- Tax-included and tax-exclusive tiers (docs/money.md): a tier says whether its prices
-- include tax, whether its fees bear tax, how its lines round, and may charge a fee in
-- percent of the tickets. Existing tiers keep their meaning: tax on top, fees taxed,
-- half-even, no percentage fee.

ALTER TABLE eventsvc.event_pricing
    ADD COLUMN tax_included boolean NOT NULL DEFAULT false,
    ADD COLUMN fees_taxable boolean NOT NULL DEFAULT true,
    ADD COLUMN rounding_mode text NOT NULL DEFAULT 'half_even' CONSTRAINT event_pricing_rounding_mode CHECK (rounding_mode IN ('half_even', 'half_up')),
    ADD COLUMN fee_percentage numeric NOT NULL DEFAULT 0.00 CONSTRAINT event_pricing_fee_percentage CHECK (fee_percentage BETWEEN 0 AND 100 AND fee_percentage = round(fee_percentage, 2));

-- the tier view shows the new columns (appended: the view keeps its other columns)
CREATE OR REPLACE VIEW api.event_pricing_tiers WITH (security_invoker = true) AS
SELECT p.id, p.event_id, p.schedule_id, p.capacity_id, p.name, p.description, p.tier, p.currency,
       p.base_price, p.current_price, p.service_fee, p.facility_fee, p.tax_rate, p.is_dynamic,
       p.min_price, p.max_price, p.early_bird_price, p.early_bird_ends_at, p.last_minute_price,
       p.last_minute_starts_at, p.group_size_min, p.group_discount_percentage, p.sales_start_at,
       p.sales_end_at, p.max_per_order, p.max_per_customer, p.is_active, p.is_visible,
       p.display_order, p.version, p.created_at, p.updated_at, p.tax_included, p.fees_taxable,
       p.rounding_mode, p.fee_percentage
  FROM eventsvc.event_pricing p
  JOIN eventsvc.events e ON e.tenant_id = p.tenant_id AND e.id = p.event_id
 WHERE e.deleted_at IS NULL;

-- create_pricing takes the new fields (a new signature: the 1.0 function is dropped)
DROP FUNCTION api.create_pricing(uuid, text, bigint, text, uuid, text, text, bigint, bigint, numeric, boolean,
    bigint, bigint, bigint, timestamptz, bigint, timestamptz, integer, numeric, timestamptz, timestamptz,
    integer, integer, integer);
CREATE FUNCTION api.create_pricing(
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
BEGIN
    PERFORM eventsvc.check_text_size('description', description);   -- the size quota first
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
    RETURN to_jsonb(r) - 'tenant_id';
END
$$;
COMMENT ON FUNCTION api.create_pricing IS 'Creates a pricing tier; amounts in minor units; tax_included: the prices are what the buyer pays, tax inside; the tier rules are in docs/money.md.';
REVOKE ALL ON FUNCTION api.create_pricing FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.create_pricing TO eventsvc_user;

-- update_pricing may change the new fields
CREATE OR REPLACE FUNCTION eventsvc.apply_changes(target text, id uuid, expected_version integer, changes jsonb)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
    cur_version integer;
    rows_found bigint;
    cols text[];
    result jsonb;
BEGIN
    PERFORM eventsvc.check_document_size('changes', changes);   -- the size quota first
    SELECT * INTO t FROM (VALUES
        ('pricing', 'eventsvc.event_pricing'::regclass, 'pricing_id', 'pricing tier', 'tier',
         ARRAY['name', 'description', 'tier', 'capacity_id', 'currency', 'base_price',
               'service_fee', 'facility_fee', 'tax_rate', 'is_dynamic', 'min_price', 'max_price', 'current_price',
               'early_bird_price', 'early_bird_ends_at', 'last_minute_price', 'last_minute_starts_at',
               'group_size_min', 'group_discount_percentage', 'sales_start_at', 'sales_end_at', 'max_per_order',
               'max_per_customer', 'is_active', 'is_visible', 'display_order',
               'tax_included', 'fees_taxable', 'rounding_mode', 'fee_percentage'],
         '', '{"currency": "upper(n.currency)"}'::jsonb),
        -- The row's counters are a refreshed copy (eventsvc.check_capacity); keep them inside the new total.
        ('section', 'eventsvc.event_capacity'::regclass, 'capacity_id', 'section', 'section',
         ARRAY['section_name', 'section_code', 'tier', 'total_capacity',
               'minimum_purchase', 'maximum_purchase', 'row_config', 'seat_map', 'is_active'],
         '. Seat counts follow from the holds.',
         '{"available_capacity": "greatest(n.total_capacity - n.reserved_capacity - n.sold_count, 0)"}'::jsonb)
    ) AS s(target, tbl, id_name, noun, short_noun, allowed, hint_tail, derived)
     WHERE s.target = apply_changes.target;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('validation',
            format('apply_changes: target must be pricing or section, got %s', coalesce(quote_literal(target), 'null')));
    END IF;
    IF id IS NULL OR expected_version IS NULL THEN
        PERFORM eventsvc.raise_error('validation', format('update_%s needs %s and expected_version', t.target, t.id_name));
    END IF;
    PERFORM eventsvc.check_changes(changes, t.allowed, t.target, t.hint_tail);
    -- (jsonb_populate_record into the char(3) column would fail with a raw "value too long")
    IF changes ? 'currency' AND (jsonb_typeof(changes -> 'currency') <> 'string'
                                 OR (changes ->> 'currency') !~ '^[A-Za-z]{3}$') THEN
        PERFORM eventsvc.raise_error('validation', format('invalid %s: currency must be a 3-letter ISO 4217 code', t.noun),
            NULL, 'For example USD or EUR.');
    END IF;
    EXECUTE format('SELECT r.version FROM %s r WHERE r.tenant_id = $1 AND r.id = $2 FOR NO KEY UPDATE', t.tbl)
       INTO cur_version USING eventsvc.current_tenant_id(), id;
    GET DIAGNOSTICS rows_found = ROW_COUNT;
    IF rows_found = 0 THEN
        PERFORM eventsvc.raise_error('not_found', format('%s %s not found', t.noun, id));
    END IF;
    IF cur_version <> expected_version THEN
        PERFORM eventsvc.raise_error('conflict', format('%s was changed by someone else', t.noun),
            format('Expected version %s, current version %s.', expected_version, cur_version),
            format('Reload the %s and try again.', t.short_noun));
    END IF;
    -- every changeable column, then the derived ones, from n: the row with the changes laid over it
    cols := t.allowed || ARRAY(SELECT k FROM jsonb_object_keys(t.derived) k WHERE k <> ALL (t.allowed) ORDER BY k);
    EXECUTE format('UPDATE %s r SET (%s, version, updated_at) = (SELECT %s, $3, now() FROM jsonb_populate_record(r, $4) n)'
                   ' WHERE r.tenant_id = $1 AND r.id = $2 RETURNING to_jsonb(r) - ''tenant_id''',
                   t.tbl,
                   (SELECT string_agg(quote_ident(c), ', ' ORDER BY o) FROM unnest(cols) WITH ORDINALITY AS x(c, o)),
                   (SELECT string_agg(coalesce(t.derived ->> c, 'n.' || quote_ident(c)), ', ' ORDER BY o)
                      FROM unnest(cols) WITH ORDINALITY AS x(c, o)))
       INTO result USING eventsvc.current_tenant_id(), id, expected_version, changes;
    RETURN result;
END
$$;

COMMENT ON FUNCTION api.calculate_price(uuid, integer) IS
    'Exact price of quantity tickets of a tier at eventsvc.now(): integers in minor units, rounded once per line in the tier''s rounding mode; a tax-included tier charges the displayed amounts exactly and shows the tax inside them (docs/money.md).';
