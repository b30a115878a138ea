-- Part 62: the content writers run with the schema owner's rights and name the caller's
-- tenant; the content rules (reviews, highlights, media, FAQs) are a C trigger for every
-- writer; a review can be deleted by its author or a tenant admin (api.delete_review).

DROP TRIGGER event_reviews_rules ON eventsvc.event_reviews;
DROP FUNCTION eventsvc.review_rules_trigger();

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

CREATE OR REPLACE FUNCTION api.set_event_content(event_id uuid, locale text DEFAULT 'en', long_description text DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION api.set_event_faqs(event_id uuid, faqs jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION api.submit_review(event_id uuid, rating integer, title text DEFAULT NULL, body text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION api.moderate_review(review_id uuid, moderation_state text) RETURNS jsonb
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

REVOKE ALL ON FUNCTION eventsvc.content_rules_trigger(), api.delete_review(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.delete_review(uuid) TO eventsvc_user;
