-- The public catalogue is a derived table too (part 71): listed with the others
-- and rebuilt with them; the search documents are rebuilt in one statement from
-- their definition (eventsvc.search_document_rows, part 61).
CREATE OR REPLACE FUNCTION eventsvc.derived_tables() RETURNS SETOF regclass
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT t::regclass FROM unnest(ARRAY['eventsvc.event_search_documents', 'eventsvc.event_rating_summaries',
                                         'api.public_events']) AS t
$$;
COMMENT ON FUNCTION eventsvc.derived_tables() IS
    'Tables rebuilt from other tables (not in a dump): search documents, rating summaries and the public catalogue.';

CREATE OR REPLACE FUNCTION eventsvc.rebuild_derived() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    docs     bigint;
    ratings  bigint;
    listed   bigint;
    counters bigint;
BEGIN
    DELETE FROM eventsvc.event_search_documents;
    INSERT INTO eventsvc.event_search_documents (tenant_id, event_id, document, updated_at, listed, starts_at)
    SELECT r.tenant_id, r.event_id, r.document, now(), r.listed, r.starts_at FROM eventsvc.search_document_rows r;
    GET DIAGNOSTICS docs = ROW_COUNT;

    DELETE FROM eventsvc.event_rating_summaries;
    INSERT INTO eventsvc.event_rating_summaries (tenant_id, event_id, review_count, rating_sum, stars)
    SELECT r.tenant_id, r.event_id, count(*), sum(r.rating),
           ARRAY[count(*) FILTER (WHERE r.rating = 1), count(*) FILTER (WHERE r.rating = 2),
                 count(*) FILTER (WHERE r.rating = 3), count(*) FILTER (WHERE r.rating = 4),
                 count(*) FILTER (WHERE r.rating = 5)]::integer[]
      FROM eventsvc.event_reviews r
     WHERE r.moderation_state = 'approved'
     GROUP BY r.tenant_id, r.event_id;
    GET DIAGNOSTICS ratings = ROW_COUNT;

    DELETE FROM api.public_events;
    INSERT INTO api.public_events SELECT * FROM eventsvc.public_event_rows;
    GET DIAGNOSTICS listed = ROW_COUNT;

    SELECT count(*) FILTER (WHERE eventsvc.escrow_reset(s.id)) INTO counters FROM eventsvc.event_capacity s;
    PERFORM eventsvc.escrow_reset(NULL);    -- the horizon and reference copies even without sections
    RETURN jsonb_build_object('search_documents', docs, 'rating_summaries', ratings, 'public_events', listed,
                              'seat_counters_reset', counters);
END
$$;
COMMENT ON FUNCTION eventsvc.rebuild_derived() IS
    'After a data-only restore with triggers disabled, or to repair: rebuilds search documents, rating summaries and the public catalogue, resets this database''s shared seat counters and sweep horizon. Superuser only.';
