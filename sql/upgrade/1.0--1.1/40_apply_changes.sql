-- api.update_pricing and api.update_section share one body, eventsvc.apply_changes.

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
               'max_per_customer', 'is_active', 'is_visible', 'display_order'],
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
REVOKE ALL ON FUNCTION eventsvc.apply_changes(text, uuid, integer, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.apply_changes(text, uuid, integer, jsonb) TO eventsvc_user;

CREATE OR REPLACE FUNCTION api.update_pricing(pricing_id uuid, expected_version integer, changes jsonb)
RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT eventsvc.apply_changes('pricing', pricing_id, expected_version, changes)
$$;

CREATE OR REPLACE FUNCTION api.update_section(capacity_id uuid, expected_version integer, changes jsonb)
RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT eventsvc.apply_changes('section', capacity_id, expected_version, changes)
$$;
