-- test/lib/table_checksums.sql: one line per eventsvc table, "table rows md5", and per
-- sequence "sequence last_value is_called". Two databases with equal lines hold the same
-- rows. Left out of the comparison: updated_at of the derived tables (rebuilt at restore
-- time), the search document's copies of its event (listed, starts_at: added by 1.1)
-- and the events' derived search vector (1.0 only), and created_at of the install's
-- seeded categories (seeded again by CREATE EXTENSION). Null columns are left out, so a
-- row gains nothing from a column an upgrade adds (new columns are null on old rows).
-- With -v category_ids_moved=1 (an upgrade from 1.0, which gives the seeded
-- categories fixed ids) the category ids and the events' references to them too.
-- With -v added_columns='{"table": ["column", ...]}' (the columns an upgrade added, with
-- their defaults on old rows) those columns too: a kept row keeps the columns it had.
\pset format unaligned
\pset tuples_only on
\pset footer off
\if :{?added_columns}
\else
\set added_columns '{}'
\endif
SELECT format('SELECT %L || '' '' || count(*) || '' '' || coalesce(md5(string_agg(r, E''\n'' ORDER BY r)), ''-'') '
              'FROM (SELECT (jsonb_strip_nulls(to_jsonb(t)) %s)::text AS r FROM %s t) s',
              c.oid::regclass,
              CASE WHEN c.relname = 'event_search_documents' THEN '- ''updated_at'' - ''listed'' - ''starts_at'''
                   WHEN c.relname = 'event_rating_summaries' THEN '- ''updated_at'''
                   WHEN c.relname = 'event_categories' AND :{?category_ids_moved}
                   THEN '- ''id'' - ''parent_id'' - CASE WHEN t.slug IN (''music'', ''sports'', ''theater'', ''comedy'', '
                        '''arts'', ''conference'', ''workshop'', ''festival'', ''family'', ''nightlife'', ''other'', ''rock'', '
                        '''jazz'', ''classical'', ''electronic'', ''football'', ''basketball'') THEN ''created_at'' ELSE '''' END'
                   WHEN c.relname = 'event_categories'
                   THEN '- CASE WHEN t.id BETWEEN ''ca7e9000-0000-4000-8000-000000000000'' AND ''ca7e9000-0000-4000-8000-0000000000ff'' THEN ''created_at'' ELSE '''' END'
                   WHEN c.relname = 'events' AND :{?category_ids_moved} THEN '- ''primary_category_id'' - ''search_vector'''
                   WHEN c.relname = 'events' THEN '- ''search_vector'''
                   ELSE '' END
              || coalesce(' - ' || quote_literal((SELECT array_agg(a) FROM jsonb_array_elements_text(
                                                       (:'added_columns')::jsonb -> c.relname::text) a)) || '::text[]', ''),
              c.oid::regclass)
  FROM pg_class c WHERE c.relnamespace = 'eventsvc'::regnamespace AND c.relkind = 'r'
 ORDER BY c.relname \gexec
SELECT format('SELECT %L || '' '' || last_value || '' '' || is_called FROM %s', c.oid::regclass, c.oid::regclass)
  FROM pg_class c WHERE c.relnamespace = 'eventsvc'::regnamespace AND c.relkind = 'S' ORDER BY c.relname \gexec
