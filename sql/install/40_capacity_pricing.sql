-- Part 40: capacity sections, holds and pricing tiers (docs/capacity.md, docs/money.md).
-- The rules live in C triggers so every writer meets them; the api functions are
-- thin. Hold rows change only through the C hold functions (seat counters).
-- Tenant roles have no write right on sections and tiers (part 99): the writers
-- below run with the schema owner's rights and name the caller's tenant in every row
-- they write or change (eventsvc.current_tenant_id(); the keys and foreign keys all
-- carry the tenant).

-- ---------------------------------------------------------------- triggers

CREATE FUNCTION eventsvc.pricing_validate_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_pricing_validate_trigger' LANGUAGE C;
CREATE TRIGGER event_pricing_validate BEFORE INSERT OR UPDATE ON eventsvc.event_pricing
    FOR EACH ROW EXECUTE FUNCTION eventsvc.pricing_validate_trigger();

CREATE FUNCTION eventsvc.section_validate_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_section_validate_trigger' LANGUAGE C;
CREATE TRIGGER event_capacity_validate BEFORE INSERT OR UPDATE ON eventsvc.event_capacity
    FOR EACH ROW EXECUTE FUNCTION eventsvc.section_validate_trigger();

-- Hold rows have no foreign keys (part 20): deletes of sections are guarded below
-- through the seat counter, of tiers by the trigger after it.
CREATE FUNCTION eventsvc.section_delete_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_section_delete_trigger' LANGUAGE C;
CREATE TRIGGER event_capacity_delete_guard BEFORE DELETE ON eventsvc.event_capacity
    FOR EACH ROW EXECUTE FUNCTION eventsvc.section_delete_trigger();

CREATE FUNCTION eventsvc.pricing_delete_trigger() RETURNS trigger
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
CREATE TRIGGER event_pricing_delete_guard BEFORE DELETE ON eventsvc.event_pricing
    FOR EACH ROW EXECUTE FUNCTION eventsvc.pricing_delete_trigger();

-- Direct DML on holds would bypass the seat counters: refused for everyone.
-- Once per statement: the sweep changes 100 000 rows in one statement.
CREATE FUNCTION eventsvc.hold_guard_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_hold_guard_trigger' LANGUAGE C;
CREATE TRIGGER capacity_holds_guard BEFORE INSERT OR UPDATE OR DELETE ON eventsvc.capacity_holds
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.hold_guard_trigger();
CREATE TRIGGER capacity_holds_guard_truncate BEFORE TRUNCATE ON eventsvc.capacity_holds
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.hold_guard_trigger();

-- ---------------------------------------------------------------- money and pricing

-- api.calculate_price returns a row of api.price_line: part 40_typed_price.sql.

CREATE FUNCTION api.active_pricing(capacity_id uuid, at timestamptz DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_active_pricing' LANGUAGE C STABLE;
COMMENT ON FUNCTION api.active_pricing(uuid, timestamptz) IS
    'The tier that sells a section at a moment (default now) and its unit price kind: early_bird, last_minute, dynamic or base. NULL when none is on sale.';

CREATE FUNCTION api.update_dynamic_price(pricing_id uuid, price bigint, expected_version integer) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_update_dynamic_price'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.update_dynamic_price(uuid, bigint, integer) IS
    'Moves a dynamic tier''s current price within [min_price, max_price]; versioned; emits pricing.price_changed.';

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

-- The check update_pricing and update_section share: `changes` is a JSON object
-- naming only fields in `allowed` (`what` names the object, `hint_tail` ends the hint).
CREATE FUNCTION eventsvc.check_changes(changes jsonb, allowed text[], what text, hint_tail text)
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
COMMENT ON FUNCTION eventsvc.check_changes(jsonb, text[], text, text) IS
    'Refuses a changes object that is not a JSON object or names a field outside allowed.';

-- api.update_pricing and api.update_section: one body. What differs between them is
-- data: the table, the fields a caller may change (the rest: ids, event, version,
-- timestamps are fixed) and the columns that follow from the changed ones. The row
-- is locked, its version compared, the changes laid over it (an explicit null clears
-- a field) and every changeable column written back.
CREATE FUNCTION eventsvc.apply_changes(target text, id uuid, expected_version integer, changes jsonb)
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
COMMENT ON FUNCTION eventsvc.apply_changes(text, uuid, integer, jsonb) IS
    'The body of api.update_pricing (target pricing) and api.update_section (target section): a versioned change of one row.';

CREATE FUNCTION api.update_pricing(pricing_id uuid, expected_version integer, changes jsonb)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- a retry with the same Idempotency-Key header gets the first answer back (part 25)
    SELECT coalesce(r.replay, eventsvc.idempotency_store('update_pricing',
                                  eventsvc.apply_changes('pricing', pricing_id, expected_version, changes)))
      FROM (SELECT eventsvc.idempotency_replay('update_pricing', jsonb_build_object(
                'pricing_id', pricing_id, 'expected_version', expected_version, 'changes', changes)) AS replay) r
$$;
COMMENT ON FUNCTION api.update_pricing(uuid, integer, jsonb) IS
    'Changes a pricing tier (fields in changes; explicit null clears) if it is still at expected_version.';

-- ---------------------------------------------------------------- sections

CREATE FUNCTION api.create_section(
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

CREATE FUNCTION api.update_section(capacity_id uuid, expected_version integer, changes jsonb)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- a retry with the same Idempotency-Key header gets the first answer back (part 25)
    SELECT coalesce(r.replay, eventsvc.idempotency_store('update_section',
                                  eventsvc.apply_changes('section', capacity_id, expected_version, changes)))
      FROM (SELECT eventsvc.idempotency_replay('update_section', jsonb_build_object(
                'capacity_id', capacity_id, 'expected_version', expected_version, 'changes', changes)) AS replay) r
$$;
COMMENT ON FUNCTION api.update_section(uuid, integer, jsonb) IS
    'Changes a section if it is still at expected_version; total_capacity cannot go below the seats held or sold.';

-- ---------------------------------------------------------------- holds

-- api.reserve_capacity, api.confirm_hold, api.release_hold and api.extend_hold return
-- a row of api.holds: they are in part 46, after the view.

CREATE FUNCTION api.expire_holds(max_rows integer DEFAULT 1000) RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_expire_holds'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.expire_holds(integer) IS
    'Expires up to max_rows overdue holds of every tenant (for pg_cron and the worker); returns how many.';

CREATE FUNCTION eventsvc.sweep_horizon() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'evs_sql_sweep_horizon' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.sweep_horizon() IS
    'Where the next expiry sweep of this database starts reading holds (no ACTIVE hold expires before it); NULL: from the beginning (after a start, or without shared_preload_libraries).';

CREATE FUNCTION eventsvc.release_event_holds(event_id uuid) RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_release_event_holds'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION eventsvc.check_capacity(capacity_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_check_capacity'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION eventsvc.check_capacity(uuid) IS
    'Recomputes a section from its hold rows, compares with its seat counter (drift), refreshes the row counters.';

CREATE FUNCTION eventsvc.escrow_state(capacity_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_escrow_state' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION eventsvc.escrow_reset(capacity_id uuid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'evs_sql_escrow_reset' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Live seats per section in one query: api.section_availability (part 64) reads
-- the hold rows, which are the truth; the row's counters are a refreshed copy.

-- api.holds, the tenant's holds, is in part 44 (it shows the columns added there).

-- ---------------------------------------------------------------- grants

GRANT EXECUTE ON FUNCTION api.active_pricing(uuid, timestamptz)
    TO eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION api.create_pricing, api.update_pricing(uuid, integer, jsonb),
                          api.update_dynamic_price(uuid, bigint, integer),
                          api.create_section, api.update_section(uuid, integer, jsonb)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.expire_holds(integer) TO eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION eventsvc.sweep_horizon() TO eventsvc_admin, eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION eventsvc.release_event_holds(uuid), eventsvc.check_capacity(uuid)
    TO eventsvc_admin, eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.pricing_validate_trigger(), eventsvc.section_validate_trigger(),
                          eventsvc.hold_guard_trigger(), eventsvc.section_delete_trigger(),
                          eventsvc.pricing_delete_trigger()
    TO eventsvc_user, eventsvc_service, eventsvc_worker;
