-- Part 62: rich content that the original kept in MongoDB: long descriptions per
-- locale, ordered FAQs, reviews with moderation, and a rating summary kept by
-- trigger so the average and count are read without scanning the reviews.
-- Writes run with the schema owner's rights and name the caller's tenant; public
-- reads are SECURITY DEFINER behind eventsvc.visible_event_tenant. See docs/discovery.md "Rich content".

-- One row per event: maintained by the review trigger below, never written by
-- clients. Only approved reviews count.
CREATE TABLE eventsvc.event_rating_summaries (
    tenant_id      uuid NOT NULL,
    event_id       uuid NOT NULL,
    review_count   integer NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    rating_sum     bigint NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    stars          integer[] NOT NULL DEFAULT '{0,0,0,0,0}' CHECK (cardinality(stars) = 5),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE,
    CHECK (rating_sum BETWEEN review_count AND 5 * review_count)
);
ALTER TABLE eventsvc.event_rating_summaries ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_rating_summaries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.event_rating_summaries TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));

-- Who changed which content, when, and what: the content's counterpart of
-- event_audit_log (whose rows describe the event row itself). Written only by the
-- trigger below, so no code path skips it; tenant users and admins read their
-- tenant's rows (RLS).
CREATE TABLE eventsvc.content_audit_log (
    tenant_id      uuid NOT NULL REFERENCES eventsvc.tenants (id),
    id             bigint GENERATED ALWAYS AS IDENTITY,
    event_id       uuid NOT NULL,
    content        text NOT NULL CHECK (content IN ('event_content', 'event_faqs', 'event_reviews', 'event_metadata')),
    action         text NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    row_key        text NOT NULL,
    actor_id       text,
    actor_role     text NOT NULL,
    changed_fields jsonb NOT NULL DEFAULT '{}',
    txid           bigint NOT NULL DEFAULT txid_current(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_content_audit_event ON eventsvc.content_audit_log (tenant_id, event_id, id);
ALTER TABLE eventsvc.content_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.content_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.content_audit_log TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));

CREATE FUNCTION eventsvc.session_role() RETURNS text
    AS 'MODULE_PATHNAME', 'evs_sql_session_role' LANGUAGE C STABLE PARALLEL SAFE;

-- Changed fields as {"field": {"old": ..., "new": ...}}; the whole row (minus the
-- tenant) for an insert or a delete. updated_at says nothing the row does not.
CREATE FUNCTION eventsvc.content_audit_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) - 'tenant_id' - 'updated_at' END;
    n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) - 'tenant_id' - 'updated_at' END;
    r jsonb := coalesce(n, o);
    changes jsonb;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('old', o -> k, 'new', n -> k)), '{}')
          INTO changes
          FROM jsonb_object_keys(n) k
         WHERE (o -> k) IS DISTINCT FROM (n -> k);
        IF changes = '{}' THEN
            RETURN NULL;
        END IF;
    ELSE
        changes := r;
    END IF;
    INSERT INTO eventsvc.content_audit_log (tenant_id, event_id, content, action, row_key, actor_id, actor_role,
                                            changed_fields)
    VALUES (coalesce(NEW.tenant_id, OLD.tenant_id), (r ->> 'event_id')::uuid, TG_TABLE_NAME, TG_OP,
            coalesce(r ->> 'id', r ->> 'locale'), eventsvc.current_actor(), eventsvc.session_role(), changes);
    RETURN NULL;
END
$$;
CREATE TRIGGER event_content_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_content
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_audit_trigger();
CREATE TRIGGER event_faqs_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_faqs
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_audit_trigger();
CREATE TRIGGER event_reviews_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_reviews
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_audit_trigger();

-- The rules of content for every writer, the API or direct SQL, in C
-- (src/discovery/content_rules.c): reviews are written by their author only (user_id
-- is the caller), only a tenant admin moderates, and a review is deleted only by its
-- author or a tenant admin; highlights and media are short lists of short strings and
-- https links (no javascript: or data: URLs, no megabyte strings); an event has at most
-- 100 FAQs.
CREATE FUNCTION eventsvc.content_rules_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_content_rules_trigger' LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION eventsvc.content_rules_trigger() IS
    'BEFORE triggers of event_content, event_faqs and event_reviews: the content rules every writer meets (docs/discovery.md).';
CREATE TRIGGER event_reviews_rules BEFORE INSERT OR UPDATE OR DELETE ON eventsvc.event_reviews
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_rules_trigger();
CREATE TRIGGER event_content_rules BEFORE INSERT OR UPDATE ON eventsvc.event_content
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_rules_trigger();
CREATE TRIGGER event_faqs_rules BEFORE INSERT OR UPDATE ON eventsvc.event_faqs
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_rules_trigger();

-- Keeps event_rating_summaries equal to the approved reviews. Reviews are not a
-- hot table (one write per user per event), so a PL/pgSQL trigger is enough;
-- the row lock on the summary row serialises concurrent reviews of one event.
CREATE FUNCTION eventsvc.review_summary_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d_count integer := 0;
    d_sum   integer := 0;
    d_stars integer[] := '{0,0,0,0,0}';
    t_id    uuid;
    e_id    uuid;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.moderation_state = 'approved' THEN
        d_count := d_count - 1;
        d_sum := d_sum - OLD.rating;
        d_stars[OLD.rating] := d_stars[OLD.rating] - 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.moderation_state = 'approved' THEN
        d_count := d_count + 1;
        d_sum := d_sum + NEW.rating;
        d_stars[NEW.rating] := d_stars[NEW.rating] + 1;
    END IF;
    IF d_count = 0 AND d_sum = 0 AND d_stars = '{0,0,0,0,0}' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        t_id := OLD.tenant_id; e_id := OLD.event_id;
    ELSE
        t_id := NEW.tenant_id; e_id := NEW.event_id;
    END IF;
    -- the event may be going away (cascade): then there is nothing to keep
    IF NOT EXISTS (SELECT 1 FROM eventsvc.events e WHERE e.tenant_id = t_id AND e.id = e_id) THEN
        RETURN NULL;
    END IF;
    -- an empty row first (a delta row could break the CHECK before ON CONFLICT
    -- applies), then the delta under the row lock
    INSERT INTO eventsvc.event_rating_summaries (tenant_id, event_id) VALUES (t_id, e_id)
    ON CONFLICT ON CONSTRAINT event_rating_summaries_pkey DO NOTHING;
    UPDATE eventsvc.event_rating_summaries s
       SET review_count = s.review_count + d_count,
           rating_sum   = s.rating_sum + d_sum,
           stars        = ARRAY[s.stars[1] + d_stars[1], s.stars[2] + d_stars[2], s.stars[3] + d_stars[3],
                                s.stars[4] + d_stars[4], s.stars[5] + d_stars[5]],
           updated_at   = now()
     WHERE s.tenant_id = t_id AND s.event_id = e_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER event_reviews_summary AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_reviews
    FOR EACH ROW EXECUTE FUNCTION eventsvc.review_summary_trigger();

-- The writers below run with the schema owner's rights (tenant roles have no write
-- right on content, part 99) and name the caller's tenant in every statement.

-- Long description, highlights and media of one locale (insert or replace).
CREATE FUNCTION api.set_event_content(event_id uuid, locale text DEFAULT 'en', long_description text DEFAULT NULL,
                                      highlights jsonb DEFAULT NULL, media jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.event_content;
    tenant uuid;
BEGIN
    -- the size quotas first, before any work (docs/tenancy.md "Quotas")
    PERFORM eventsvc.check_text_size('long_description', long_description);
    PERFORM eventsvc.check_document_size('highlights', highlights);
    PERFORM eventsvc.check_document_size('media', media);
    SELECT e.tenant_id INTO tenant FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = set_event_content.event_id AND e.deleted_at IS NULL;
    IF tenant IS NULL THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(set_event_content.event_id::text, 'null')));
    END IF;
    IF locale IS NULL OR locale !~ '^[a-z]{2}(-[A-Z]{2})?$' THEN
        PERFORM eventsvc.raise_error('validation', format('invalid locale %s', coalesce('"' || locale || '"', 'null')),
            NULL, 'Use a language code with an optional region, e.g. en, de or pt-BR.');
    END IF;
    IF highlights IS NOT NULL AND jsonb_typeof(highlights) <> 'array'
       OR media IS NOT NULL AND jsonb_typeof(media) <> 'array' THEN
        PERFORM eventsvc.raise_error('validation', 'highlights and media must be JSON arrays');
    END IF;
    INSERT INTO eventsvc.event_content AS c (tenant_id, event_id, locale, long_description, highlights, media)
    VALUES (tenant, set_event_content.event_id, set_event_content.locale, set_event_content.long_description,
            coalesce(set_event_content.highlights, '[]'), coalesce(set_event_content.media, '[]'))
    ON CONFLICT ON CONSTRAINT event_content_pkey DO UPDATE
       SET long_description = excluded.long_description,
           highlights = CASE WHEN set_event_content.highlights IS NULL THEN c.highlights ELSE excluded.highlights END,
           media = CASE WHEN set_event_content.media IS NULL THEN c.media ELSE excluded.media END,
           updated_at = now()
    RETURNING * INTO rec;
    RETURN to_jsonb(rec);
END
$$;

-- Replaces an event's FAQs with the given ordered list [{"question": ..., "answer": ...}, ...].
CREATE FUNCTION api.set_event_faqs(event_id uuid, faqs jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid;
    bad    record;
BEGIN
    PERFORM eventsvc.check_document_size('faqs', faqs);   -- the size quota first
    SELECT e.tenant_id INTO tenant FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = set_event_faqs.event_id AND e.deleted_at IS NULL;
    IF tenant IS NULL THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(set_event_faqs.event_id::text, 'null')));
    END IF;
    IF faqs IS NULL OR jsonb_typeof(faqs) <> 'array' OR jsonb_array_length(faqs) > 100 THEN
        PERFORM eventsvc.raise_error('validation', 'faqs must be a JSON array of at most 100 {"question", "answer"} objects');
    END IF;
    SELECT f.ord - 1 AS pos INTO bad FROM jsonb_array_elements(faqs) WITH ORDINALITY AS f(item, ord)
     WHERE jsonb_typeof(f.item) <> 'object' OR jsonb_typeof(f.item -> 'question') IS DISTINCT FROM 'string'
        OR jsonb_typeof(f.item -> 'answer') IS DISTINCT FROM 'string'
     LIMIT 1;
    IF FOUND THEN
        PERFORM eventsvc.raise_error('validation',
            format('faq at position %s needs a string "question" and a string "answer"', bad.pos));
    END IF;
    DELETE FROM eventsvc.event_faqs f WHERE f.tenant_id = tenant AND f.event_id = set_event_faqs.event_id;
    INSERT INTO eventsvc.event_faqs (tenant_id, event_id, position, question, answer)
    SELECT tenant, set_event_faqs.event_id, (f.ord - 1)::integer, f.item ->> 'question', f.item ->> 'answer'
      FROM jsonb_array_elements(faqs) WITH ORDINALITY AS f(item, ord);
    RETURN jsonb_build_object('event_id', set_event_faqs.event_id, 'faqs', jsonb_array_length(faqs));
END
$$;

-- Content for a visible event: the locale asked for, else its language, else 'en',
-- else any; with FAQs in order and the rating summary.
CREATE FUNCTION api.event_content(event_id uuid, locale text DEFAULT 'en') RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_content.event_id);
    c      eventsvc.event_content;
BEGIN
    SELECT * INTO c FROM eventsvc.event_content x
     WHERE x.tenant_id = tenant AND x.event_id = event_content.event_id
     ORDER BY x.locale = event_content.locale DESC, x.locale = split_part(event_content.locale, '-', 1) DESC,
              x.locale = 'en' DESC, x.locale
     LIMIT 1;
    RETURN jsonb_build_object(
        'event_id', event_content.event_id,
        'locale', c.locale,
        'long_description', c.long_description,
        'highlights', coalesce(c.highlights, '[]'),
        'media', coalesce(c.media, '[]'),
        'faqs', coalesce((SELECT jsonb_agg(jsonb_build_object('position', f.position, 'question', f.question,
                                                              'answer', f.answer) ORDER BY f.position)
                            FROM eventsvc.event_faqs f
                           WHERE f.tenant_id = tenant AND f.event_id = event_content.event_id), '[]'),
        'rating', api.event_rating(event_content.event_id));
END
$$;

-- Average rating (exact numeric, 2 decimals) and count of approved reviews: one row read.
CREATE FUNCTION api.event_rating(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_rating.event_id);
    s      eventsvc.event_rating_summaries;
BEGIN
    SELECT * INTO s FROM eventsvc.event_rating_summaries x
     WHERE x.tenant_id = tenant AND x.event_id = event_rating.event_id;
    RETURN jsonb_build_object(
        'count', coalesce(s.review_count, 0),
        'average', CASE WHEN coalesce(s.review_count, 0) = 0 THEN NULL
                        ELSE round(s.rating_sum::numeric / s.review_count, 2) END,
        'stars', jsonb_build_object('1', coalesce(s.stars[1], 0), '2', coalesce(s.stars[2], 0),
                                    '3', coalesce(s.stars[3], 0), '4', coalesce(s.stars[4], 0),
                                    '5', coalesce(s.stars[5], 0)));
END
$$;

-- The caller's review of an event (one per user: a second submit edits it and
-- sends it back to moderation).
CREATE FUNCTION api.submit_review(event_id uuid, rating integer, title text DEFAULT NULL, body text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid;
    rec    eventsvc.event_reviews;
BEGIN
    PERFORM eventsvc.check_text_size('title', title);   -- the size quotas first
    PERFORM eventsvc.check_text_size('body', body);
    IF rating IS NULL OR rating NOT BETWEEN 1 AND 5 THEN
        PERFORM eventsvc.raise_error('validation', 'rating must be a whole number from 1 to 5',
            format('Got %s.', coalesce(rating::text, 'null')));
    END IF;
    SELECT e.tenant_id INTO tenant FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = submit_review.event_id AND e.deleted_at IS NULL;
    IF tenant IS NULL THEN
        PERFORM eventsvc.raise_error('not_found',
            format('event %s not found', coalesce(submit_review.event_id::text, 'null')));
    END IF;
    INSERT INTO eventsvc.event_reviews AS r (tenant_id, event_id, user_id, rating, title, body)
    VALUES (tenant, submit_review.event_id, eventsvc.current_actor(), submit_review.rating,
            submit_review.title, submit_review.body)
    ON CONFLICT ON CONSTRAINT event_reviews_one_per_user DO UPDATE
       SET rating = excluded.rating, title = excluded.title, body = excluded.body
    RETURNING * INTO rec;
    RETURN to_jsonb(rec);
END
$$;

-- Tenant admin: approve or reject a review.
CREATE FUNCTION api.moderate_review(review_id uuid, moderation_state text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.event_reviews;
BEGIN
    IF NOT eventsvc.is_tenant_admin() THEN
        PERFORM eventsvc.raise_error('forbidden', 'only a tenant admin may moderate reviews',
            NULL, 'Call as a member of role eventsvc_admin.');
    END IF;
    IF moderate_review.moderation_state IS NULL
       OR moderate_review.moderation_state NOT IN ('pending', 'approved', 'rejected') THEN
        PERFORM eventsvc.raise_error('validation', 'moderation_state must be pending, approved or rejected');
    END IF;
    UPDATE eventsvc.event_reviews r SET moderation_state = moderate_review.moderation_state
     WHERE r.tenant_id = eventsvc.current_tenant_id() AND r.id = moderate_review.review_id
    RETURNING * INTO rec;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found', format('review %s not found', coalesce(review_id::text, 'null')));
    END IF;
    RETURN to_jsonb(rec);
END
$$;

-- Delete a review: its author, or a tenant admin (the content rules trigger says
-- which, for this and every other writer).
CREATE FUNCTION api.delete_review(review_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.event_reviews;
BEGIN
    DELETE FROM eventsvc.event_reviews r
     WHERE r.tenant_id = eventsvc.current_tenant_id() AND r.id = delete_review.review_id
    RETURNING * INTO rec;
    IF NOT FOUND THEN
        PERFORM eventsvc.raise_error('not_found', format('review %s not found', coalesce(review_id::text, 'null')));
    END IF;
    RETURN jsonb_build_object('review_id', rec.id, 'event_id', rec.event_id, 'deleted', true);
END
$$;
COMMENT ON FUNCTION api.delete_review(uuid) IS
    'Delete a review: its author or a tenant admin (POST /rpc/delete_review).';

-- Approved reviews of a visible event, newest first. Tenant users of the event's
-- tenant read all states through eventsvc.event_reviews (RLS).
CREATE FUNCTION api.event_reviews(event_id uuid, page_limit integer DEFAULT 20, page_offset integer DEFAULT 0)
RETURNS TABLE (id uuid, user_id text, rating smallint, title text, body text, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_reviews.event_id);
BEGIN
    IF page_limit IS NULL OR page_limit NOT BETWEEN 1 AND 100 OR page_offset IS NULL OR page_offset < 0 THEN
        PERFORM eventsvc.raise_error('validation', 'page_limit must be from 1 to 100 and page_offset at least 0');
    END IF;
    RETURN QUERY
    SELECT r.id, r.user_id, r.rating, r.title, r.body, r.created_at
      FROM eventsvc.event_reviews r
     WHERE r.tenant_id = tenant AND r.event_id = event_reviews.event_id AND r.moderation_state = 'approved'
     ORDER BY r.created_at DESC, r.id
     LIMIT page_limit OFFSET page_offset;
END
$$;

GRANT SELECT ON eventsvc.event_rating_summaries, eventsvc.content_audit_log TO eventsvc_user, eventsvc_service;
REVOKE ALL ON FUNCTION eventsvc.session_role(), eventsvc.content_audit_trigger(), eventsvc.content_rules_trigger(),
                       eventsvc.review_summary_trigger(),
                       api.set_event_content(uuid, text, text, jsonb, jsonb), api.set_event_faqs(uuid, jsonb),
                       api.event_content(uuid, text), api.event_rating(uuid),
                       api.submit_review(uuid, integer, text, text), api.moderate_review(uuid, text),
                       api.delete_review(uuid), api.event_reviews(uuid, integer, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.set_event_content(uuid, text, text, jsonb, jsonb), api.set_event_faqs(uuid, jsonb),
                          api.submit_review(uuid, integer, text, text), api.moderate_review(uuid, text),
                          api.delete_review(uuid)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.event_content(uuid, text), api.event_rating(uuid), api.event_reviews(uuid, integer, integer)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
