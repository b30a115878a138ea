-- Part 31: the event lifecycle API (src/lifecycle/, docs/lifecycle.md).
-- Writers are C functions returning jsonb; readers are views and STABLE functions.
-- Tenant roles have no write right on any table (part 99): the writers run with the
-- schema owner's rights (SECURITY DEFINER, search_path pinned) and every statement
-- they run names the caller's tenant (eventsvc.current_tenant_id()) explicitly; the
-- write rules of part 32 hold for them as for every other writer. Readers run as the
-- caller, so RLS scopes them to the caller's tenant. See docs/tenancy.md.

-- ---------------------------------------------------------------- documents

-- An event with its metadata, schedules, sections and pricing: the result of every
-- lifecycle write and of api.get_event.
CREATE FUNCTION eventsvc.event_document(p_event_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (to_jsonb(e) - 'search_vector' - 'tenant_id') || jsonb_build_object(
        'metadata', (SELECT to_jsonb(m) - 'tenant_id' - 'event_id' - 'id'
                       FROM eventsvc.event_metadata m
                      WHERE m.tenant_id = e.tenant_id AND m.event_id = e.id),
        'schedules', coalesce((SELECT jsonb_agg(to_jsonb(s) - 'tenant_id' - 'event_id' ORDER BY s.starts_at, s.id)
                                 FROM eventsvc.event_schedules s
                                WHERE s.tenant_id = e.tenant_id AND s.event_id = e.id), '[]'),
        'sections', coalesce((SELECT jsonb_agg(to_jsonb(c) - 'tenant_id' - 'event_id' - 'seat_map'
                                               ORDER BY c.section_name)
                                FROM eventsvc.event_capacity c
                               WHERE c.tenant_id = e.tenant_id AND c.event_id = e.id), '[]'),
        'pricing', coalesce((SELECT jsonb_agg(to_jsonb(p) - 'tenant_id' - 'event_id'
                                              ORDER BY p.display_order, p.name)
                               FROM eventsvc.event_pricing p
                              WHERE p.tenant_id = e.tenant_id AND p.event_id = e.id), '[]'))
      FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = p_event_id
$$;

-- The event part of every lifecycle outbox message (docs/outbox.md).
CREATE FUNCTION eventsvc.event_message(p_event_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'event_id', e.id, 'venue_id', e.venue_id, 'name', e.name, 'slug', e.slug,
        'status', e.status, 'visibility', e.visibility, 'event_type', e.event_type,
        'starts_at', e.starts_at, 'ends_at', e.ends_at, 'doors_open', e.doors_open,
        'timezone', e.timezone, 'capacity', e.capacity, 'version', e.version,
        'actor', eventsvc.current_actor())
        || CASE WHEN e.artist_wallet IS NOT NULL OR e.event_pda IS NOT NULL THEN jsonb_build_object(
               'blockchain', jsonb_build_object('artist_wallet', e.artist_wallet,
                   'artist_percentage', e.artist_percentage, 'venue_percentage', e.venue_percentage,
                   'event_pda', e.event_pda, 'blockchain_status', e.blockchain_status))
           ELSE '{}' END
      FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = p_event_id
$$;

-- ---------------------------------------------------------------- writers (C)

CREATE FUNCTION eventsvc.event_create(request jsonb, idempotency_key text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_event_create' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

-- Named parameters are PostgREST's JSON keys: POST /rpc/create_event {"venue_id": ..., "name": ...}.
CREATE FUNCTION api.create_event(
    venue_id          uuid,
    name              text,
    starts_at         timestamptz DEFAULT NULL,
    ends_at           timestamptz DEFAULT NULL,
    doors_open        timestamptz DEFAULT NULL,
    timezone          text DEFAULT NULL,
    description       text DEFAULT NULL,
    short_description text DEFAULT NULL,
    category_id       uuid DEFAULT NULL,
    tags              text[] DEFAULT NULL,
    visibility        text DEFAULT NULL,
    event_type        text DEFAULT NULL,
    capacity          integer DEFAULT NULL,
    is_virtual        boolean DEFAULT NULL,
    is_hybrid         boolean DEFAULT NULL,
    virtual_event_url text DEFAULT NULL,
    image_url         text DEFAULT NULL,
    age_restriction   integer DEFAULT NULL,
    artist_wallet     text DEFAULT NULL,
    artist_percentage numeric DEFAULT NULL,
    venue_percentage  numeric DEFAULT NULL,
    event_pda         text DEFAULT NULL,
    metadata          jsonb DEFAULT NULL,
    schedules         jsonb DEFAULT NULL,
    sections          jsonb DEFAULT NULL,
    idempotency_key   text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT eventsvc.event_create(
        (SELECT coalesce(jsonb_object_agg(f.key, f.value), '{}')
           FROM jsonb_each(jsonb_build_object(
                'venue_id', venue_id, 'name', name, 'starts_at', starts_at, 'ends_at', ends_at,
                'doors_open', doors_open, 'timezone', timezone, 'description', description,
                'short_description', short_description, 'primary_category_id', category_id,
                'tags', tags, 'visibility', visibility, 'event_type', event_type,
                'capacity', capacity, 'is_virtual', is_virtual, 'is_hybrid', is_hybrid,
                'virtual_event_url', virtual_event_url, 'image_url', image_url,
                'age_restriction', age_restriction, 'artist_wallet', artist_wallet,
                'artist_percentage', artist_percentage, 'venue_percentage', venue_percentage,
                'event_pda', event_pda, 'metadata', metadata, 'schedules', schedules,
                'sections', sections)) AS f
          WHERE f.value <> 'null'::jsonb),
        idempotency_key)
$$;
COMMENT ON FUNCTION api.create_event IS
    'Create a DRAFT event with its metadata, schedules and sections in one transaction (docs/lifecycle.md).';

CREATE FUNCTION api.update_event(event_id uuid, expected_version integer, changes jsonb,
                                 confirmation_token uuid DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_update_event' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.update_event IS
    'Change event fields at the expected version; critical changes after sales need an admin confirmation token.';

CREATE FUNCTION api.delete_event(event_id uuid, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_delete_event' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.delete_event IS
    'Soft delete a DRAFT or CANCELLED event (deleted_at, status CANCELLED); sold tickets need a tenant admin.';

CREATE FUNCTION api.publish_event(event_id uuid, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_publish_event' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.publish_event IS 'Move the event to PUBLISHED through the state machine.';

CREATE FUNCTION api.transition_event(event_id uuid, status text, reason text DEFAULT NULL,
                                     idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_transition_event' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.transition_event IS
    'Move the event to any status the state machine allows; CANCELLED runs the full cancellation (reason required).';

CREATE FUNCTION api.postpone_event(event_id uuid, reason text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_postpone_event' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.postpone_event IS 'Move the event to POSTPONED; api.reschedule_event gives it new dates.';

CREATE FUNCTION api.reschedule_event(event_id uuid, starts_at timestamptz, ends_at timestamptz,
                                     doors_open timestamptz DEFAULT NULL, status text DEFAULT 'PUBLISHED',
                                     confirmation_token uuid DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_reschedule_event' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.reschedule_event IS
    'Give a POSTPONED event new dates (RESCHEDULED) and return it to PUBLISHED or ON_SALE.';

CREATE FUNCTION api.cancel_event(event_id uuid, reason text, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_cancel_event' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.cancel_event IS
    'Cancel locally: CANCELLED, sections closed, holds released, a pending cancellation report with its saga steps.';

-- ---------------------------------------------------------------- readers

CREATE FUNCTION api.get_event(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    doc jsonb;
BEGIN
    SELECT eventsvc.event_document(e.id) INTO doc
      FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = get_event.event_id AND e.deleted_at IS NULL;
    IF doc IS NULL THEN
        PERFORM eventsvc.raise_error('not_found', format('event %s not found', coalesce(event_id::text, 'null')),
            NULL, 'The event does not exist, was deleted, or belongs to another tenant.');
    END IF;
    RETURN doc;
END
$$;
COMMENT ON FUNCTION api.get_event IS 'One event with metadata, schedules, sections and pricing.';

-- page_size/page_offset rather than limit/offset: PostgREST keeps those names for its own paging.
CREATE FUNCTION api.list_events(status text DEFAULT NULL, venue_id uuid DEFAULT NULL,
                                category_id uuid DEFAULT NULL, starts_from timestamptz DEFAULT NULL,
                                starts_to timestamptz DEFAULT NULL, order_by text DEFAULT 'starts_at',
                                descending boolean DEFAULT false, page_size integer DEFAULT 20,
                                page_offset integer DEFAULT 0) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st eventsvc.event_status;
    result jsonb;
BEGIN
    IF status IS NOT NULL THEN
        IF NOT status = ANY (enum_range(NULL::eventsvc.event_status)::text[]) THEN
            PERFORM eventsvc.raise_error('validation', format('status: "%s" is not an event status', status),
                NULL, 'Allowed: ' || array_to_string(enum_range(NULL::eventsvc.event_status)::text[], ', ') || '.');
        END IF;
        st := status::eventsvc.event_status;
    END IF;
    IF order_by NOT IN ('starts_at', 'created_at', 'name') THEN
        PERFORM eventsvc.raise_error('validation', format('order_by: "%s" is not allowed', order_by),
            NULL, 'Allowed: starts_at, created_at, name.');
    END IF;
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 500 THEN
        PERFORM eventsvc.raise_error('validation',
            format('page_size: must be between 1 and 500, got %s', coalesce(page_size::text, 'null')));
    END IF;
    IF page_offset IS NULL OR page_offset < 0 THEN
        PERFORM eventsvc.raise_error('validation',
            format('page_offset: must be 0 or more, got %s', coalesce(page_offset::text, 'null')));
    END IF;

    WITH matching AS (
        SELECT e.*
          FROM eventsvc.events e
         WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.deleted_at IS NULL
           AND (st IS NULL OR e.status = st)
           AND (list_events.venue_id IS NULL OR e.venue_id = list_events.venue_id)
           AND (list_events.category_id IS NULL OR e.primary_category_id IN (
                   SELECT c.id FROM eventsvc.event_categories c
                    WHERE c.id = list_events.category_id OR c.parent_id = list_events.category_id))
           AND (starts_from IS NULL OR e.starts_at >= starts_from)
           AND (starts_to IS NULL OR e.starts_at < starts_to)
    ), page AS (
        SELECT m.* FROM matching m
         ORDER BY CASE WHEN NOT descending AND order_by = 'starts_at' THEN m.starts_at END ASC,
                  CASE WHEN descending AND order_by = 'starts_at' THEN m.starts_at END DESC,
                  CASE WHEN NOT descending AND order_by = 'created_at' THEN m.created_at END ASC,
                  CASE WHEN descending AND order_by = 'created_at' THEN m.created_at END DESC,
                  CASE WHEN NOT descending AND order_by = 'name' THEN m.name END ASC,
                  CASE WHEN descending AND order_by = 'name' THEN m.name END DESC,
                  m.id
         LIMIT page_size OFFSET page_offset
    )
    SELECT jsonb_build_object(
               'total', (SELECT count(*) FROM matching),
               'page_size', page_size, 'page_offset', page_offset,
               'items', coalesce((SELECT jsonb_agg(to_jsonb(p) - 'search_vector' - 'tenant_id'
                                   ORDER BY CASE WHEN NOT descending AND order_by = 'starts_at' THEN p.starts_at END ASC,
                                            CASE WHEN descending AND order_by = 'starts_at' THEN p.starts_at END DESC,
                                            CASE WHEN NOT descending AND order_by = 'created_at' THEN p.created_at END ASC,
                                            CASE WHEN descending AND order_by = 'created_at' THEN p.created_at END DESC,
                                            CASE WHEN NOT descending AND order_by = 'name' THEN p.name END ASC,
                                            CASE WHEN descending AND order_by = 'name' THEN p.name END DESC,
                                            p.id) FROM page p), '[]'))
      INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION api.list_events IS
    'Events of the tenant filtered by status, venue, category (with subcategories) and start range; one page plus the total.';

-- Views for PostgREST's own filtering (GET /events?status=eq.ON_SALE&order=starts_at).
-- security_invoker: RLS of the caller applies; deleted events are hidden.
CREATE VIEW api.events WITH (security_invoker = true) AS
SELECT e.id, e.venue_id, e.name, e.slug, e.description, e.short_description, e.status, e.visibility,
       e.event_type, e.primary_category_id, e.tags, e.starts_at, e.ends_at, e.doors_open, e.timezone,
       e.capacity, e.is_virtual, e.is_hybrid, e.virtual_event_url, e.image_url, e.is_featured,
       e.featured_order, e.age_restriction, e.artist_wallet, e.artist_percentage, e.venue_percentage,
       e.event_pda, e.blockchain_status, e.cancelled_at, e.cancellation_reason, e.cancelled_by,
       e.created_by, e.updated_by, e.version, e.created_at, e.updated_at
  FROM eventsvc.events e
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.events IS 'The tenant''s events (not deleted).';

CREATE VIEW api.event_schedules WITH (security_invoker = true) AS
SELECT s.id, s.event_id, s.starts_at, s.ends_at, s.doors_open_at, s.timezone, s.status, s.is_recurring,
       s.recurrence_rule, s.recurrence_end, s.notes, s.version, s.created_at, s.updated_at
  FROM eventsvc.event_schedules s
  JOIN eventsvc.events e ON e.tenant_id = s.tenant_id AND e.id = s.event_id
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.event_schedules IS 'Schedules (dates) of the tenant''s events.';

CREATE VIEW api.event_sections WITH (security_invoker = true) AS
SELECT c.id, c.event_id, c.schedule_id, c.section_name, c.section_code, c.tier, c.total_capacity,
       c.available_capacity, c.reserved_capacity, c.sold_count, c.pending_count, c.minimum_purchase,
       c.maximum_purchase, c.row_config, c.is_active, c.version, c.created_at, c.updated_at,
       c.occurrence_id, c.template_id
  FROM eventsvc.event_capacity c
  JOIN eventsvc.events e ON e.tenant_id = c.tenant_id AND e.id = c.event_id
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.event_sections IS 'Capacity sections of the tenant''s events, with their counters.';

CREATE VIEW api.event_pricing_tiers WITH (security_invoker = true) AS
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
COMMENT ON VIEW api.event_pricing_tiers IS 'Price tiers of the tenant''s events (amounts in minor units).';

CREATE VIEW api.event_cancellation_reports WITH (security_invoker = true) AS
SELECT r.id, r.event_id, r.status, r.reason, r.cancelled_by, r.holds_released, r.tickets_found,
       r.tickets_cancelled, r.refunds_requested, r.listings_cancelled, r.notifications_sent,
       r.failed_steps, r.report, r.created_at, r.updated_at, r.completed_at,
       (SELECT jsonb_agg(jsonb_build_object('step_no', s.step_no, 'step', s.step, 'state', s.state,
                                            'attempts', s.attempts, 'last_error', s.last_error)
                         ORDER BY s.step_no)
          FROM eventsvc.cancellation_steps s
         WHERE s.tenant_id = r.tenant_id AND s.report_id = r.id) AS steps
  FROM eventsvc.event_cancellation_reports r;
COMMENT ON VIEW api.event_cancellation_reports IS 'Cancellation reports and the state of each saga step.';

-- ---------------------------------------------------------------- grants

GRANT EXECUTE ON FUNCTION eventsvc.event_document(uuid), eventsvc.event_message(uuid)
    TO eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.event_create(jsonb, text) TO eventsvc_user;
GRANT EXECUTE ON FUNCTION
    api.create_event(uuid, text, timestamptz, timestamptz, timestamptz, text, text, text, uuid, text[],
                     text, text, integer, boolean, boolean, text, text, integer, text, numeric, numeric,
                     text, jsonb, jsonb, jsonb, text),
    api.update_event(uuid, integer, jsonb, uuid, text),
    api.delete_event(uuid, text),
    api.publish_event(uuid, text),
    api.transition_event(uuid, text, text, text),
    api.postpone_event(uuid, text, text),
    api.reschedule_event(uuid, timestamptz, timestamptz, timestamptz, text, uuid, text),
    api.cancel_event(uuid, text, text)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.get_event(uuid),
    api.list_events(text, uuid, uuid, timestamptz, timestamptz, text, boolean, integer, integer)
    TO eventsvc_user, eventsvc_service;
GRANT SELECT ON api.events, api.event_schedules, api.event_sections, api.event_pricing_tiers,
                api.event_cancellation_reports
    TO eventsvc_user, eventsvc_service;
