-- Part 63: categories (global, seeded in part 10, hierarchical by parent_id) and
-- event metadata (performers, headliner, supporting acts, production company,
-- sponsors, custom fields). See docs/discovery.md "Categories" and "Metadata".

-- Active categories, for every role (the table is global reference data).
CREATE VIEW api.categories WITH (security_invoker = true) AS
SELECT c.id, c.parent_id, c.name, c.slug, c.description, c.icon, c.color, c.display_order
  FROM eventsvc.event_categories c
 WHERE c.is_active;
COMMENT ON VIEW api.categories IS 'Active event categories (GET /categories); parent_id links a subcategory to its parent.';

-- The category tree, depth-first in display order: depth 0 for roots, path of
-- slugs from the root. A category under an inactive parent is left out with it.
-- Definer only so that the anonymous role needs no right on schema eventsvc; it
-- reads nothing but the global category table.
CREATE FUNCTION api.category_tree()
RETURNS TABLE (id uuid, parent_id uuid, name text, slug text, depth integer, path text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE tree AS (
        SELECT c.id, c.parent_id, c.name, c.slug, 0 AS depth, ARRAY[c.slug] AS path,
               ARRAY[lpad(c.display_order::text, 10, '0') || c.slug] AS sort_key
          FROM eventsvc.event_categories c
         WHERE c.parent_id IS NULL AND c.is_active
        UNION ALL
        SELECT c.id, c.parent_id, c.name, c.slug, t.depth + 1, t.path || c.slug,
               t.sort_key || (lpad(c.display_order::text, 10, '0') || c.slug)
          FROM eventsvc.event_categories c
          JOIN tree t ON c.parent_id = t.id
         WHERE c.is_active AND t.depth < 10)
    SELECT tree.id, tree.parent_id, tree.name, tree.slug, tree.depth, tree.path
      FROM tree ORDER BY tree.sort_key
$$;
COMMENT ON FUNCTION api.category_tree() IS 'Active categories as a tree: depth and slug path, depth-first (GET /rpc/category_tree).';

-- custom_fields limits, checked in C for every writer (src/discovery/discovery.c).
CREATE FUNCTION eventsvc.check_custom_fields(custom_fields jsonb) RETURNS boolean
    AS 'MODULE_PATHNAME', 'evs_sql_check_custom_fields' LANGUAGE C IMMUTABLE PARALLEL SAFE;
ALTER TABLE eventsvc.event_metadata
    ADD CONSTRAINT event_metadata_custom_fields_valid CHECK (eventsvc.check_custom_fields(custom_fields)),
    ADD CONSTRAINT event_metadata_list_sizes CHECK (jsonb_array_length(performers) <= 100
                                                   AND jsonb_array_length(sponsors) <= 100
                                                   AND cardinality(supporting_acts) <= 100),
    ADD CONSTRAINT event_metadata_text_sizes CHECK (length(headliner) <= 300 AND length(production_company) <= 300);

CREATE TRIGGER event_metadata_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_metadata
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_audit_trigger();

-- Each performer and sponsor is a name, or an object with a string "name".
CREATE FUNCTION eventsvc.check_named_list(field text, items jsonb) RETURNS void
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

-- Insert or change an event's metadata; a NULL argument keeps the stored value. Runs
-- with the schema owner's rights (tenant roles have no write right on metadata) and
-- names the caller's tenant.
CREATE FUNCTION api.set_event_metadata(event_id uuid, performers jsonb DEFAULT NULL, headliner text DEFAULT NULL,
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

-- Metadata of a visible event ({} when it has none).
CREATE FUNCTION api.event_metadata(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_metadata.event_id);
BEGIN
    RETURN coalesce((SELECT jsonb_build_object('event_id', m.event_id, 'performers', m.performers,
                                               'headliner', m.headliner, 'supporting_acts', to_jsonb(m.supporting_acts),
                                               'production_company', m.production_company, 'sponsors', m.sponsors,
                                               'custom_fields', m.custom_fields, 'updated_at', m.updated_at)
                       FROM eventsvc.event_metadata m
                      WHERE m.tenant_id = tenant AND m.event_id = event_metadata.event_id),
                    jsonb_build_object('event_id', event_metadata.event_id));
END
$$;

REVOKE ALL ON api.categories FROM PUBLIC;
GRANT SELECT ON api.categories TO eventsvc_anon, eventsvc_user, eventsvc_service;
REVOKE ALL ON FUNCTION api.category_tree(), eventsvc.check_custom_fields(jsonb),
                       eventsvc.check_named_list(text, jsonb),
                       api.set_event_metadata(uuid, jsonb, text, text[], text, jsonb, jsonb),
                       api.event_metadata(uuid)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.category_tree(), api.event_metadata(uuid)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.check_custom_fields(jsonb), eventsvc.check_named_list(text, jsonb)
    TO eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION api.set_event_metadata(uuid, jsonb, text, text[], text, jsonb, jsonb) TO eventsvc_user;
