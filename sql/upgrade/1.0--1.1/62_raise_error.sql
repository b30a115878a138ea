-- Content and reviews raise through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION api.event_reviews(event_id uuid, page_limit integer DEFAULT 20, page_offset integer DEFAULT 0)
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
