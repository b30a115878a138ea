-- Part 72: resource embedding for PostgREST clients (supabase-js style), e.g.
--   GET /events?select=*,event_sections(*),event_pricing_tiers(*)
--   GET /holds?select=id,quantity,events(name),event_sections(section_name)
-- The api views leave out tenant_id, and every foreign key of the tables is
-- (tenant_id, ...), so PostgREST sees no relationship between the views. These
-- computed relationships name them: a function of a view's row that returns the
-- related rows of another view (SETOF; ROWS 1 for the to-one side), SQL and
-- STABLE so that PostgreSQL inlines it into PostgREST's query. Row-level security
-- of the views keeps every join inside the caller's tenant. A function's name is
-- the name the client embeds, so one name serves several sources (overloads);
-- PostgREST never calls them over /rpc. docs/postgrest.md "Embedding".

-- Whether an api function is a computed relationship: one argument, the row type of
-- an api view or table. Not an RPC: the shards make no entry for it, and the proxy
-- makes it again from its SQL over its own views (docs/scale-out.md).
CREATE FUNCTION eventsvc.is_api_relationship(p_fn oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT p.pronargs = 1 AND p.proargtypes[0] IN (SELECT c.reltype FROM pg_class c
                                                                     WHERE c.relnamespace = 'api'::regnamespace)
                       FROM pg_proc p WHERE p.oid = p_fn), false)
$$;
REVOKE ALL ON FUNCTION eventsvc.is_api_relationship(oid) FROM PUBLIC;
COMMENT ON FUNCTION eventsvc.is_api_relationship(oid) IS
    'Whether an api function is a computed relationship for PostgREST embedding (one argument, an api row type).';

-- Content of an event as rows, for embedding (writes: api.set_event_content, api.set_event_faqs).
CREATE VIEW api.event_content_locales WITH (security_invoker = true) AS
SELECT c.event_id, c.locale, c.long_description, c.highlights, c.media, c.updated_at
  FROM eventsvc.event_content c
  JOIN eventsvc.events e ON e.tenant_id = c.tenant_id AND e.id = c.event_id
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.event_content_locales IS
    'Rich content of the tenant''s events, one row per locale (embed with events?select=*,event_content_locales(*)).';
COMMENT ON COLUMN api.event_content_locales.locale IS 'Language (ISO 639-1, optionally with a region: de, de-AT).';
COMMENT ON COLUMN api.event_content_locales.long_description IS 'Long description in this language.';
COMMENT ON COLUMN api.event_content_locales.highlights IS 'Highlights (JSON array).';
COMMENT ON COLUMN api.event_content_locales.media IS 'Media: images, videos (JSON array).';

CREATE VIEW api.event_faqs WITH (security_invoker = true) AS
SELECT f.id, f.event_id, f.position, f.question, f.answer, f.created_at
  FROM eventsvc.event_faqs f
  JOIN eventsvc.events e ON e.tenant_id = f.tenant_id AND e.id = f.event_id
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.event_faqs IS
    'Questions and answers of the tenant''s events, in position order (embed with events?select=*,event_faqs(*)).';
COMMENT ON COLUMN api.event_faqs.position IS 'Order of the question (0 first).';
COMMENT ON COLUMN api.event_faqs.question IS 'The question.';
COMMENT ON COLUMN api.event_faqs.answer IS 'The answer.';

-- ---------------------------------------------------------------- an event's rows (to-many)
CREATE FUNCTION api.event_sections(event api.events) RETURNS SETOF api.event_sections
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.event_sections x WHERE x.event_id = event.id $$;
CREATE FUNCTION api.event_schedules(event api.events) RETURNS SETOF api.event_schedules
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.event_schedules x WHERE x.event_id = event.id $$;
CREATE FUNCTION api.event_pricing_tiers(event api.events) RETURNS SETOF api.event_pricing_tiers
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.event_pricing_tiers x WHERE x.event_id = event.id $$;
CREATE FUNCTION api.holds(event api.events) RETURNS SETOF api.holds
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.holds x WHERE x.event_id = event.id $$;
CREATE FUNCTION api.event_content_locales(event api.events) RETURNS SETOF api.event_content_locales
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.event_content_locales x WHERE x.event_id = event.id $$;
CREATE FUNCTION api.event_faqs(event api.events) RETURNS SETOF api.event_faqs
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.event_faqs x WHERE x.event_id = event.id $$;
-- a section's holds and tiers
CREATE FUNCTION api.holds(section api.event_sections) RETURNS SETOF api.holds
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.holds x WHERE x.capacity_id = section.id $$;
CREATE FUNCTION api.event_pricing_tiers(section api.event_sections) RETURNS SETOF api.event_pricing_tiers
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.event_pricing_tiers x WHERE x.capacity_id = section.id $$;

-- ---------------------------------------------------------------- the event of a row (to-one)
CREATE FUNCTION api.events(section api.event_sections) RETURNS SETOF api.events ROWS 1
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.events x WHERE x.id = section.event_id $$;
CREATE FUNCTION api.events(schedule api.event_schedules) RETURNS SETOF api.events ROWS 1
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.events x WHERE x.id = schedule.event_id $$;
CREATE FUNCTION api.events(tier api.event_pricing_tiers) RETURNS SETOF api.events ROWS 1
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.events x WHERE x.id = tier.event_id $$;
CREATE FUNCTION api.events(hold api.holds) RETURNS SETOF api.events ROWS 1
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.events x WHERE x.id = hold.event_id $$;
CREATE FUNCTION api.events(content api.event_content_locales) RETURNS SETOF api.events ROWS 1
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.events x WHERE x.id = content.event_id $$;
CREATE FUNCTION api.events(faq api.event_faqs) RETURNS SETOF api.events ROWS 1
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.events x WHERE x.id = faq.event_id $$;
-- a hold's section and tier
CREATE FUNCTION api.event_sections(hold api.holds) RETURNS SETOF api.event_sections ROWS 1
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.event_sections x WHERE x.id = hold.capacity_id $$;
CREATE FUNCTION api.event_pricing_tiers(hold api.holds) RETURNS SETOF api.event_pricing_tiers ROWS 1
LANGUAGE sql STABLE AS $$ SELECT x.* FROM api.event_pricing_tiers x WHERE x.id = hold.pricing_id $$;

DO $embedding$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = 'api'::regnamespace AND eventsvc.is_api_relationship(p.oid)
    LOOP
        EXECUTE format('COMMENT ON FUNCTION %s IS %L', f,
            format('Embedding: the %s of a row of %s (GET /%s?select=*,%s(*)); not an RPC.',
                   (SELECT p.proname FROM pg_proc p WHERE p.oid = f),
                   (SELECT format_type(p.proargtypes[0], NULL) FROM pg_proc p WHERE p.oid = f),
                   (SELECT c.relname FROM pg_class c JOIN pg_proc p ON c.reltype = p.proargtypes[0] WHERE p.oid = f),
                   (SELECT p.proname FROM pg_proc p WHERE p.oid = f)));
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO eventsvc_user, eventsvc_service', f);
    END LOOP;
END
$embedding$;
GRANT SELECT ON api.event_content_locales, api.event_faqs TO eventsvc_user, eventsvc_service;
-- (a fresh install gives every view PostgreSQL cannot update this trigger in part 79)
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.event_content_locales
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.event_faqs
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
