-- Part 90: logical backups (README "Backup and restore", docs/operations.md "Dump and
-- restore"). pg_dump leaves out the rows of an extension's tables unless they are
-- marked here; each marked table's rows go into the dump (after CREATE EXTENSION in
-- the restore), each marked sequence its current value.
--
-- A restore runs as a superuser with session_replication_role = replica
--   PGOPTIONS='-c session_replication_role=replica' pg_restore -d NEWDB dump.pgc
-- so that eventsvc's triggers let the restored rows through unchanged: no guard
-- refuses the hold rows, no audit entry is added for a restored event, no rule is
-- re-checked against today's clock. Triggers marked ENABLE ALWAYS still run: the
-- reference generation (part 42) and the derived tables below, which are not
-- dumped but rebuilt row by row as their sources are restored. The shared seat
-- counters are keyed by database and rebuilt from the restored hold rows on first use.

-- Rows that are data. Reference tables seeded by the install script dump only the
-- rows added afterwards (the restore's CREATE EXTENSION seeds the others).
SELECT pg_catalog.pg_extension_config_dump('eventsvc.currencies',
    'WHERE code NOT IN (''USD'', ''EUR'', ''GBP'', ''CAD'', ''AUD'', ''CHF'', ''MXN'', ''BRL'', ''SEK'', '
    '''JPY'', ''KRW'', ''ISK'', ''KWD'', ''BHD'', ''JOD'')');
-- the seeded categories have the ids ca7e9000-0000-4000-8000-0000000000xx (part 10)
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_categories',
    'WHERE NOT (id BETWEEN ''ca7e9000-0000-4000-8000-000000000000'' AND ''ca7e9000-0000-4000-8000-0000000000ff'')');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.venues', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.events', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_schedules', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_capacity', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_pricing', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_metadata', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_cancellation_reports', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.cancellation_steps', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.idempotency_keys', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.confirmation_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.capacity_holds', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.outbox_sequences', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_content', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_faqs', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_reviews', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_capacity_thresholds', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_reminders_sent', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_view_counts', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.content_audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.revoked_tokens', '');
-- Identity sequences: restored ids continue where the dumped database stopped.
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.content_audit_log_id_seq', '');

-- Derived tables: functions of other tables, so not dumped; their triggers run in
-- replica mode too, so a restore rebuilds them as the rows they derive from arrive.
ALTER TABLE eventsvc.events ENABLE ALWAYS TRIGGER events_search_document;
ALTER TABLE eventsvc.event_metadata ENABLE ALWAYS TRIGGER event_metadata_search_document;
ALTER TABLE eventsvc.venues ENABLE ALWAYS TRIGGER venues_search_document;
ALTER TABLE eventsvc.event_reviews ENABLE ALWAYS TRIGGER event_reviews_summary;
ALTER TABLE eventsvc.events ENABLE ALWAYS TRIGGER events_public_catalogue;
ALTER TABLE eventsvc.tenants ENABLE ALWAYS TRIGGER tenants_public_catalogue;
ALTER TABLE eventsvc.venues ENABLE ALWAYS TRIGGER venues_public_catalogue;
ALTER TABLE eventsvc.event_categories ENABLE ALWAYS TRIGGER event_categories_public_catalogue;

-- Which tables are which, for operators and tests: every table of the schema is
-- dumped or derived (test/integration/dump_restore.sh fails on a table that is neither).
CREATE FUNCTION eventsvc.derived_tables() RETURNS SETOF regclass
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT t::regclass FROM unnest(ARRAY['eventsvc.event_search_documents', 'eventsvc.event_rating_summaries',
                                         'api.public_events']) AS t
$$;
COMMENT ON FUNCTION eventsvc.derived_tables() IS
    'Tables rebuilt from other tables (not in a dump): search documents, rating summaries and the public catalogue.';

-- Rebuilds the derived tables from their sources and makes the shared seat counters
-- and the sweep's horizon of this database start again from the rows. Not needed
-- after a full restore; for a data-only restore with --disable-triggers (which also
-- turns off the ENABLE ALWAYS triggers) and for repairs. Superuser only.
CREATE FUNCTION eventsvc.rebuild_derived() RETURNS jsonb
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

-- Rows of these tables come only from eventsvc's own triggers (the audit trails).
-- A client's INSERT or COPY is refused: in a plain pg_restore (without replica mode)
-- this is the loud error that says how to restore, instead of audit entries that
-- no change produced. The triggers write from inside a trigger (depth 2 or more).
CREATE FUNCTION eventsvc.trigger_written_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        PERFORM eventsvc.raise_error('forbidden',
            format('rows of %s.%s are written only by eventsvc''s triggers', TG_TABLE_SCHEMA, TG_TABLE_NAME),
            'A direct INSERT or COPY would add audit entries that no change produced.',
            'Restoring a dump? Run pg_restore as a superuser with '
            'PGOPTIONS=''-c session_replication_role=replica'' (README "Backup and restore").');
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION eventsvc.trigger_written_guard(), eventsvc.rebuild_derived(), eventsvc.derived_tables() FROM PUBLIC;
CREATE TRIGGER event_audit_log_written_by_trigger BEFORE INSERT ON eventsvc.event_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.trigger_written_guard();
CREATE TRIGGER content_audit_log_written_by_trigger BEFORE INSERT ON eventsvc.content_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.trigger_written_guard();

-- The category tree refers to its own table. As a foreign key, pg_dump would warn on
-- every dump of an extension table that refers to itself ("circular foreign-key
-- constraints"); the same rule is kept by this trigger: a parent exists (and is
-- locked against deletion until the writer commits), a category with children is
-- not deleted and keeps its id.
CREATE FUNCTION eventsvc.category_parent_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND (TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id) THEN
        PERFORM 1 FROM eventsvc.event_categories c WHERE c.parent_id = OLD.id FOR KEY SHARE;
        IF FOUND THEN
            PERFORM eventsvc.raise_error('conflict', format('category %s has subcategories', OLD.slug), NULL,
                'Move or delete the subcategories first, or deactivate the category (is_active = false).');
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.parent_id IS NOT NULL THEN
        PERFORM 1 FROM eventsvc.event_categories c WHERE c.id = NEW.parent_id FOR KEY SHARE;
        IF NOT FOUND THEN
            PERFORM eventsvc.raise_error('validation', format('parent category %s does not exist', NEW.parent_id),
                NULL, 'parent_id names another category (GET /categories).');
        END IF;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION eventsvc.category_parent_trigger() FROM PUBLIC;
CREATE TRIGGER event_categories_parent BEFORE INSERT OR UPDATE OF id, parent_id OR DELETE ON eventsvc.event_categories
    FOR EACH ROW EXECUTE FUNCTION eventsvc.category_parent_trigger();
