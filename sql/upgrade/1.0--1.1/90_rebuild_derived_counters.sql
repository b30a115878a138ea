-- Part 90 (1.1): rebuild_derived corrects every section's counter rows in one pass
-- over the holds (eventsvc.repair_counters, part 44) instead of one repair per section.
CREATE FUNCTION eventsvc.repair_counters() RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_repair_counters' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.repair_counters() IS
    'eventsvc.escrow_reset for every section of this database at once: counter rows corrected to their holds in one statement, every shared seat counter of the database forgotten, the sweep horizon and reference copies reset. Returns how many counter rows were corrected. Superuser only.';
REVOKE ALL ON FUNCTION eventsvc.repair_counters() FROM PUBLIC;

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

    -- every section's counter rows in one pass over the holds, every shared counter forgotten
    counters := eventsvc.repair_counters();
    RETURN jsonb_build_object('search_documents', docs, 'rating_summaries', ratings, 'public_events', listed,
                              'counter_rows_corrected', counters);
END
$$;
COMMENT ON FUNCTION eventsvc.rebuild_derived() IS
    'After a data-only restore with triggers disabled, or to repair: rebuilds search documents, rating summaries and the public catalogue, resets this database''s shared seat counters and sweep horizon. Superuser only.';
