-- test/lib/hostile_calls.sql: hostile values and the list of calls, read from pg_proc.
-- Loaded after hostile_driver.sql and hostile_seed.sql.
\set ON_ERROR_STOP 1

-- ---------------------------------------------------------------- values
CREATE FUNCTION hostile.nested(depth integer, open_s text, close_s text, leaf text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT repeat(open_s, depth) || leaf || repeat(close_s, depth) $$;

-- every column name of every eventsvc table, for objects with every key
CREATE TEMP VIEW all_columns AS
    SELECT DISTINCT a.attname::text AS col
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'eventsvc'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped;

INSERT INTO hostile.vals (label, typ, val) VALUES
    -- text
    ('t_null', 'text', NULL), ('t_empty', 'text', ''), ('t_space', 'text', '   '),
    ('t_big', 'text', repeat('x', 100000)), ('t_bigu', 'text', repeat('🎫', 25000)),
    ('t_quote', 'text', $q$'"`\'\\"$q$), ('t_nul', 'text', '\x00'), ('t_nulesc', 'text', '\u0000'),
    ('t_inject', 'text', $q$'; DROP TABLE eventsvc.events; --$q$), ('t_inject2', 'text', $q$x' OR '1'='1$q$),
    ('t_inject3', 'text', $q$$$; SELECT pg_sleep(10); $$$q$),
    ('t_fmt', 'text', '%s%n%x%p%%%1$s'), ('t_unicode', 'text', E'Z\u00fcrich \u202e \U0001F3AB \u65e5\u672c \r\n\t'),
    ('t_ctrl', 'text', E'\x01\x1b[31m\x7f'), ('t_json', 'text', '{"a": [1, {"b": null}]}'),
    ('t_neg', 'text', '-1'), ('t_nan', 'text', 'NaN'), ('t_inf', 'text', 'infinity'),
    ('t_path', 'text', '../../../etc/passwd'), ('t_rrule', 'text', 'FREQ=SECONDLY;INTERVAL=1;COUNT=2147483647'),
    ('t_rrule2', 'text', 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30'),
    ('t_tz', 'text', 'Mars/Olympus_Mons'),
    -- integers
    ('i_null', 'integer', NULL), ('i_0', 'integer', '0'), ('i_m1', 'integer', '-1'),
    ('i_max', 'integer', '2147483647'), ('i_min', 'integer', '-2147483648'),
    ('s_null', 'smallint', NULL), ('s_0', 'smallint', '0'), ('s_m1', 'smallint', '-1'),
    ('s_max', 'smallint', '32767'), ('s_min', 'smallint', '-32768'),
    ('b_null', 'bigint', NULL), ('b_0', 'bigint', '0'), ('b_m1', 'bigint', '-1'),
    ('b_max', 'bigint', '9223372036854775807'), ('b_min', 'bigint', '-9223372036854775808'),
    ('b_intmax1', 'bigint', '2147483648'),
    -- numeric and real
    ('n_null', 'numeric', NULL), ('n_0', 'numeric', '0'), ('n_m1', 'numeric', '-1'), ('n_nan', 'numeric', 'NaN'),
    ('n_inf', 'numeric', 'Infinity'), ('n_ninf', 'numeric', '-Infinity'), ('n_huge', 'numeric', '1e130'),
    ('n_tiny', 'numeric', '1e-130'), ('n_prec', 'numeric', '99.99999999999999999999999999'),
    ('r_null', 'real', NULL), ('r_nan', 'real', 'NaN'), ('r_inf', 'real', 'Infinity'), ('r_m1', 'real', '-1'),
    -- boolean
    ('bool_null', 'boolean', NULL), ('bool_t', 'boolean', 'true'), ('bool_f', 'boolean', 'false'),
    -- uuid (the seeded ids are added below)
    ('u_null', 'uuid', NULL), ('u_rand', 'uuid', '5e1f2c3d-4b5a-4c6d-8e7f-901a2b3c4d5e'),
    ('u_nil', 'uuid', '00000000-0000-0000-0000-000000000000'), ('u_max', 'uuid', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
    -- timestamps
    ('ts_null', 'timestamptz', NULL), ('ts_inf', 'timestamptz', 'infinity'), ('ts_ninf', 'timestamptz', '-infinity'),
    ('ts_y1', 'timestamptz', '0001-01-01 00:00:00+00'), ('ts_y9999', 'timestamptz', '9999-12-31 23:59:59+00'),
    ('ts_bc', 'timestamptz', '4713-01-01 00:00:00+00 BC'), ('ts_max', 'timestamptz', '294276-12-31 23:59:59+00'),
    ('ts_epoch', 'timestamptz', '1970-01-01 00:00:00+00'),
    ('tsn_null', 'timestamp', NULL), ('tsn_inf', 'timestamp', 'infinity'), ('tsn_ninf', 'timestamp', '-infinity'),
    ('tsn_y1', 'timestamp', '0001-01-01 00:00:00'), ('tsn_y9999', 'timestamp', '9999-12-31 23:59:59'),
    ('tsn_max', 'timestamp', '294276-12-31 23:59:59'),
    -- intervals
    ('iv_null', 'interval', NULL), ('iv_neg', 'interval', '-1 day'), ('iv_0', 'interval', '0'),
    ('iv_huge', 'interval', '178000000 years'), ('iv_min', 'interval', '-178000000 years'),
    ('iv_tiny', 'interval', '1 microsecond'),
    -- jsonb shapes
    ('j_null', 'jsonb', NULL), ('j_jnull', 'jsonb', 'null'), ('j_obj', 'jsonb', '{}'), ('j_arr', 'jsonb', '[]'),
    ('j_num', 'jsonb', '1'), ('j_str', 'jsonb', '"x"'), ('j_bool', 'jsonb', 'true'),
    ('j_deep', 'jsonb', hostile.nested(5000, '[', ']', '1')),
    ('j_deepobj', 'jsonb', hostile.nested(5000, '{"a":', '}', '1')),
    ('j_hugearr', 'jsonb', (SELECT jsonb_agg(g)::text FROM generate_series(1, 100000) g)),
    ('j_hugeobjs', 'jsonb', (SELECT jsonb_agg(jsonb_build_object('section_name', 's' || g, 'total_capacity', 1,
                                                                  'question', 'q', 'answer', 'a', 'name', 'n' || g))::text
                               FROM generate_series(1, 10000) g)),
    ('j_wrongtypes', 'jsonb', (SELECT jsonb_object_agg(col, jsonb_build_array(1, jsonb_build_object('x', true)))::text FROM all_columns)),
    ('j_allnull', 'jsonb', (SELECT jsonb_object_agg(col, NULL::jsonb)::text FROM all_columns)),
    ('j_allbig', 'jsonb', (SELECT jsonb_object_agg(col, repeat('y', 100000))::text FROM (SELECT col FROM all_columns LIMIT 5) s)),
    ('j_mass', 'jsonb', '{"version": -1, "status": "COMPLETED", "sold_count": -5, "available_capacity": 1000000,
                          "total_capacity": 2147483648, "base_price": 9223372036854775808, "deleted_at": "infinity",
                          "created_by": "x", "starts_at": "infinity", "ends_at": "-infinity", "price": -1,
                          "quantity": 2147483647, "tax_rate": "NaN", "currency": "XXX", "name": ""}'),
    ('j_arr_nulls', 'jsonb', '[null]'), ('j_arr_mixed', 'jsonb', '[1, "a", null, {}, [], true]'),
    ('j_arr_wrong', 'jsonb', '[{"section_name": 123, "total_capacity": "abc", "starts_at": 5, "question": [], "answer": {}, "name": 1}]'),
    ('j_arr_huge_vals', 'jsonb', '[{"section_name": "x", "total_capacity": 2147483648, "starts_at": "infinity", "ends_at": "-infinity", "minimum_purchase": -1, "maximum_purchase": 99999999999}]'),
    ('j_injectkeys', 'jsonb', $j${"'; DROP TABLE eventsvc.events; --": 1, "name\"); DROP": 2, "%s%n": 3}$j$),
    ('j_obj_in_arr', 'jsonb', '{"0": {"section_name": "x", "total_capacity": 1}}'),
    -- arrays
    ('ta_null', 'text[]', NULL), ('ta_empty', 'text[]', '{}'), ('ta_nullel', 'text[]', '{NULL}'),
    ('ta_big', 'text[]', (SELECT array_agg('t' || g)::text FROM generate_series(1, 10000) g)),
    ('ta_bigel', 'text[]', ARRAY[repeat('z', 100000)]::text), ('ta_2d', 'text[]', '{{a,b},{c,d}}'),
    ('ta_inject', 'text[]', ARRAY[$q$'; DROP TABLE eventsvc.events; --$q$, '']::text),
    ('ua_null', 'uuid[]', NULL), ('ua_empty', 'uuid[]', '{}'), ('ua_nullel', 'uuid[]', '{NULL}'),
    ('ua_2d', 'uuid[]', '{{5e1f2c3d-4b5a-4c6d-8e7f-901a2b3c4d5e},{00000000-0000-0000-0000-000000000000}}'),
    ('ba_null', 'bigint[]', NULL), ('ba_empty', 'bigint[]', '{}'), ('ba_nullel', 'bigint[]', '{NULL}'),
    ('ba_ext', 'bigint[]', '{-1,0,9223372036854775807,-9223372036854775808}'), ('ba_2d', 'bigint[]', '{{1},{2}}');

-- seeded ids as uuid values: A:<kind>, B:<kind>, C:tenant; tenant B's idempotency keys as text
INSERT INTO hostile.vals SELECT tenant || ':' || kind, 'uuid', id FROM hostile.ids WHERE kind <> 'idempotency';
INSERT INTO hostile.vals SELECT 'B:idem:' || id, 'text', id FROM hostile.ids WHERE kind = 'idempotency' AND tenant = 'B';
INSERT INTO hostile.vals (label, typ, val)
SELECT 'ua_b', 'uuid[]', array_agg(id)::text FROM hostile.ids WHERE tenant = 'B' AND kind <> 'idempotency';
INSERT INTO hostile.vals (label, typ, val)
SELECT 'ba_b', 'bigint[]', coalesce(array_agg(id)::text, '{}') FROM eventsvc.outbox WHERE tenant_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
-- jsonb naming tenant B's objects under every key a change or a new row could carry
INSERT INTO hostile.vals (label, typ, val)
SELECT 'j_tenantb', 'jsonb'::regtype, jsonb_build_object(
           'tenant_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'tenant'),
           'id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'event_secret'),
           'event_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'event'),
           'venue_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'venue'),
           'capacity_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'section'),
           'schedule_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'schedule'),
           'pricing_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'pricing'),
           'section_name', 'x', 'total_capacity', 1, 'name', 'x', 'question', 'q', 'answer', 'a')::text
UNION ALL
SELECT 'j_tenantb_arr', 'jsonb'::regtype, jsonb_build_array(jsonb_build_object(
           'tenant_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'tenant'),
           'schedule_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'schedule'),
           'capacity_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'section'),
           'event_id', (SELECT id FROM hostile.ids WHERE tenant = 'B' AND kind = 'event'),
           'section_name', 'x', 'total_capacity', 1, 'name', 'x', 'question', 'q', 'answer', 'a',
           'starts_at', (now() + interval '60 days')::text, 'ends_at', (now() + interval '60 days 2 hours')::text))::text;

-- enum values, composite rows
INSERT INTO hostile.vals (label, typ, val)
SELECT 'enum:' || t.oid::regtype::text || ':' || coalesce(e.enumlabel, 'null'), t.oid::regtype, e.enumlabel
  FROM pg_type t LEFT JOIN pg_enum e ON e.enumtypid = t.oid
 WHERE t.typtype = 'e' AND t.typnamespace = 'eventsvc'::regnamespace;
INSERT INTO hostile.vals (label, typ, val)
SELECT 'enum:' || t.oid::regtype::text || ':null', t.oid::regtype, NULL
  FROM pg_type t WHERE t.typtype = 'e' AND t.typnamespace = 'eventsvc'::regnamespace
ON CONFLICT DO NOTHING;
INSERT INTO hostile.vals (label, typ, val) VALUES ('row:events:null', 'eventsvc.events', NULL);
INSERT INTO hostile.vals (label, typ, val)
SELECT 'row:events:' || i.tenant || ':' || i.kind, 'eventsvc.events', e::text
  FROM eventsvc.events e JOIN hostile.ids i ON i.id = e.id::text;
-- rows of the api views that computed relationships take (install part 72): NULL, and a
-- row of each tenant's events (read here as superuser, so tenant B's rows are at hand)
DO $rows$
DECLARE
    v record;
BEGIN
    FOR v IN
        SELECT DISTINCT c.relname, c.reltype::regtype AS typ,
               CASE WHEN c.relname = 'events' THEN 'id' ELSE 'event_id' END AS key
          FROM pg_class c JOIN pg_proc p ON p.pronamespace = 'api'::regnamespace AND p.pronargs = 1
                                        AND p.proargtypes[0] = c.reltype
         WHERE c.relnamespace = 'api'::regnamespace
    LOOP
        INSERT INTO hostile.vals (label, typ, val) VALUES ('row:api.' || v.relname || ':null', v.typ, NULL);
        EXECUTE format($q$INSERT INTO hostile.vals (label, typ, val)
                          SELECT DISTINCT ON (i.tenant) 'row:api.%1$s:' || i.tenant, %2$L::regtype, x::text
                            FROM api.%1$I x JOIN hostile.ids i ON i.id = to_jsonb(x) ->> %3$L AND i.kind LIKE 'event%%'
                           ORDER BY i.tenant, i.kind$q$, v.relname, v.typ, v.key);
    END LOOP;
END
$rows$;

-- baseline values (a plausible valid call of tenant A), by type
INSERT INTO hostile.vals (label, typ, val) VALUES
    ('base:text', 'text', 'hostile'), ('base:name', 'text', 'Hostile Probe'), ('base:tz', 'text', 'UTC'),
    ('base:currency', 'text', 'USD'), ('base:locale', 'text', 'en'), ('base:rrule', 'text', 'FREQ=WEEKLY;COUNT=3'),
    ('base:status', 'text', 'ON_SALE'), ('base:order_by', 'text', 'starts_at'), ('base:moderation', 'text', 'approved'),
    ('base:q', 'text', 'Gala'), ('base:section_name', 'text', 'Probe Section'),
    ('base:integer', 'integer', '1'), ('base:limit', 'integer', '10'), ('base:zero', 'integer', '0'),
    ('base:seconds', 'integer', '60'), ('base:rating', 'integer', '4'), ('base:http_status', 'integer', '200'),
    ('base:smallint', 'smallint', '1'), ('base:bigint', 'bigint', '1000'), ('base:numeric', 'numeric', '10'),
    ('base:real', 'real', '1'), ('base:boolean', 'boolean', 'false'),
    ('base:ts', 'timestamptz', (now() + interval '60 days')::text),
    ('base:ts_end', 'timestamptz', (now() + interval '60 days 2 hours')::text),
    ('base:ts_doors', 'timestamptz', (now() + interval '60 days' - interval '1 hour')::text),
    ('base:ts_now', 'timestamptz', now()::text),
    ('base:ts_later', 'timestamptz', (now() + interval '90 days')::text),
    ('base:tsn', 'timestamp', (now() + interval '60 days')::timestamp::text),
    ('base:interval', 'interval', '1 hour'), ('base:jobj', 'jsonb', '{}'), ('base:jarr', 'jsonb', '[]'),
    ('base:changes', 'jsonb', '{"name": "Hostile Changed"}'),
    ('base:text[]', 'text[]', '{a}'), ('base:uuid[]', 'uuid[]', '{}'), ('base:bigint[]', 'bigint[]', '{}'),
    ('base:category', 'uuid', (SELECT id::text FROM eventsvc.event_categories ORDER BY slug LIMIT 1));

-- The baseline label of an argument, from its name (without a p_ prefix) and type.
CREATE FUNCTION hostile.baseline(argname text, typ regtype) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n text := regexp_replace(coalesce(argname, ''), '^p_', '');
    t text := typ::text;
    lbl text;
BEGIN
    IF t = 'uuid' THEN
        lbl := CASE
            WHEN n IN ('event_id', 'aggregate_id') THEN 'A:event'
            WHEN n = 'venue_id' THEN 'A:venue'
            WHEN n IN ('capacity_id', 'section_id') THEN 'A:section'
            WHEN n = 'pricing_id' THEN 'A:pricing'
            WHEN n = 'hold_id' THEN 'A:hold'
            WHEN n = 'schedule_id' THEN 'A:schedule'
            WHEN n = 'review_id' THEN 'A:review'
            WHEN n = 'report_id' THEN 'A:report'
            WHEN n IN ('tenant_id', 'id', 'scope') THEN 'A:tenant'
            WHEN n = 'category_id' THEN 'base:category'
            ELSE 'u_rand' END;
    ELSIF t = 'text' THEN
        lbl := CASE
            WHEN n IN ('name', 'p_name') THEN 'base:name'
            WHEN n IN ('timezone', 'tz') THEN 'base:tz'
            WHEN n = 'currency' THEN 'base:currency'
            WHEN n = 'locale' THEN 'base:locale'
            WHEN n IN ('recurrence_rule', 'rule') THEN 'base:rrule'
            WHEN n = 'status' THEN 'base:status'
            WHEN n = 'order_by' THEN 'base:order_by'
            WHEN n = 'moderation_state' THEN 'base:moderation'
            WHEN n = 'q' THEN 'base:q'
            WHEN n = 'section_name' THEN 'base:section_name'
            WHEN n IN ('idempotency_key', 'holder_id', 'category', 'visibility', 'event_type', 'tier', 'section_code',
                       'description', 'short_description', 'virtual_event_url', 'image_url', 'event_pda',
                       'artist_wallet', 'notes', 'headliner', 'production_company') THEN 't_null'
            ELSE 'base:text' END;
    ELSIF t = 'integer' THEN
        lbl := CASE
            WHEN n IN ('page_limit', 'page_size', 'max_rows', 'max_count', 'limit', 'batch', 'max_attempts') THEN 'base:limit'
            WHEN n IN ('page_offset') THEN 'base:zero'
            WHEN n IN ('seconds', 'hold_seconds', 'lease_seconds', 'max_age_seconds') THEN 'base:seconds'
            WHEN n = 'rating' THEN 'base:rating'
            WHEN n = 'status' THEN 'base:http_status'
            WHEN n IN ('capacity', 'total_capacity') THEN 'base:limit'
            WHEN n IN ('age_restriction', 'display_order', 'group_size_min', 'max_per_order', 'max_per_customer',
                       'minimum_purchase', 'maximum_purchase') THEN 'i_null'
            ELSE 'base:integer' END;
    ELSIF t = 'timestamp with time zone' THEN
        lbl := CASE
            WHEN n IN ('ends_at', 'starts_before', 'starts_to', 'window_end', 'sales_end_at') THEN 'base:ts_end'
            WHEN n IN ('doors_open', 'doors_open_at') THEN 'base:ts_doors'
            WHEN n IN ('at', 'starts_from') THEN 'base:ts_now'
            WHEN n IN ('expires_at') THEN 'base:ts_later'
            WHEN n IN ('early_bird_ends_at', 'last_minute_starts_at', 'sales_start_at') THEN 'ts_null'
            ELSE 'base:ts' END;
    ELSIF t = 'jsonb' THEN
        lbl := CASE
            WHEN n = 'changes' THEN 'base:changes'
            WHEN n IN ('sections', 'schedules', 'faqs', 'performers', 'sponsors', 'highlights', 'media', 'items') THEN 'base:jarr'
            WHEN n IN ('row_config', 'seat_map') THEN 'j_null'
            ELSE 'base:jobj' END;
    ELSIF t = 'numeric' THEN
        lbl := CASE WHEN n IN ('tax_rate', 'artist_percentage', 'venue_percentage', 'group_discount_percentage') THEN 'n_null'
                    ELSE 'base:numeric' END;
    ELSIF t = 'bigint' THEN
        lbl := CASE WHEN n IN ('service_fee', 'facility_fee', 'min_price', 'max_price', 'early_bird_price', 'last_minute_price')
                    THEN 'b_null' ELSE 'base:bigint' END;
    ELSIF t = 'boolean' THEN lbl := CASE WHEN n = 'is_virtual' THEN 'bool_null' ELSE 'base:boolean' END;
    ELSIF t = 'smallint' THEN lbl := 'base:smallint';
    ELSIF t = 'real' THEN lbl := 'base:real';
    ELSIF t = 'timestamp without time zone' THEN lbl := 'base:tsn';
    ELSIF t = 'interval' THEN lbl := 'base:interval';
    ELSIF t = 'text[]' THEN lbl := 'base:text[]';
    ELSIF t = 'uuid[]' THEN lbl := CASE WHEN n = 'tenants' THEN 'base:uuid[]' ELSE 'base:uuid[]' END;
    ELSIF t = 'bigint[]' THEN lbl := 'base:bigint[]';
    ELSIF t = 'eventsvc.events' THEN lbl := 'row:events:A:event';
    ELSE
        SELECT label INTO lbl FROM hostile.vals v WHERE v.typ = baseline.typ AND v.val IS NOT NULL ORDER BY label LIMIT 1;
        lbl := coalesce(lbl, 'MISSING:' || t);
    END IF;
    RETURN lbl;
END
$$;

-- Tenant B's ids worth trying for an argument: those of the kind its name asks for
-- (all of them when the name says nothing), and always tenant B's id itself.
CREATE FUNCTION hostile.b_labels(argname text) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH k AS (
        SELECT CASE regexp_replace(coalesce(argname, ''), '^p_', '')
                   WHEN 'event_id' THEN '{event,event_secret,event_cancelled}'
                   WHEN 'aggregate_id' THEN '{event,event_secret}'
                   WHEN 'capacity_id' THEN '{section,section2,section_secret}'
                   WHEN 'pricing_id' THEN '{pricing,pricing_secret}'
                   WHEN 'hold_id' THEN '{hold,hold_confirmed}'
                   WHEN 'schedule_id' THEN '{schedule,schedule2}'
                   WHEN 'review_id' THEN '{review}'
                   WHEN 'report_id' THEN '{report}'
                   WHEN 'venue_id' THEN '{venue}'
                   WHEN 'tenant_id' THEN '{tenant}'
                   ELSE NULL END::text[] AS kinds)
    SELECT v.label FROM hostile.vals v, k
     WHERE v.typ = 'uuid'::regtype AND v.label LIKE 'B:%'
       AND (k.kinds IS NULL OR split_part(v.label, ':', 2) = ANY (k.kinds) OR v.label = 'B:tenant')
     ORDER BY 1
$$;

-- hostile labels for an argument (the baseline is left out by the caller)
CREATE FUNCTION hostile.labels_for(typ regtype, argname text) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT label FROM hostile.vals v
     WHERE v.typ = labels_for.typ AND label NOT LIKE 'base:%' AND label NOT LIKE 'A:%' AND label NOT LIKE 'B:%'
       AND label NOT LIKE 'row:events:A:%'
    UNION ALL
    SELECT hostile.b_labels(argname) WHERE typ = 'uuid'::regtype
    UNION ALL
    SELECT label FROM hostile.vals v
     WHERE v.typ = labels_for.typ AND v.typ <> 'uuid'::regtype AND label LIKE 'B:%' AND argname = 'idempotency_key'
     ORDER BY 1
$$;

-- ---------------------------------------------------------------- the functions under test
-- Every plain function of schemas api and eventsvc that some API role may execute,
-- except trigger functions (they refuse to run outside a trigger, docs/errors.md).
CREATE TABLE hostile.targets AS
SELECT p.oid::regprocedure AS fn,
       ARRAY(SELECT unnest(p.proargtypes::oid[])) AS argtypes,
       coalesce(p.proargnames[1:p.pronargs], '{}') AS argnames,
       p.provolatile AS volatility,
       ARRAY(SELECT r FROM unnest(ARRAY['eventsvc_anon', 'eventsvc_user', 'eventsvc_admin', 'eventsvc_service', 'eventsvc_worker']) r
              WHERE has_function_privilege(r, p.oid, 'EXECUTE')) AS roles
  FROM pg_proc p
 WHERE p.pronamespace IN ('api'::regnamespace, 'eventsvc'::regnamespace)
   AND p.prokind = 'f'
   AND p.prorettype <> 'trigger'::regtype
   -- IN arguments only in proargtypes; functions with OUT arguments list them apart
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proargmodes) m WHERE m IN ('v'))
   -- through the proxy (hostile.run): the api, which the proxy serves with the same signatures
   AND (hostile.state_get('via') IS NULL OR p.pronamespace = 'api'::regnamespace);
-- proargnames covers OUT arguments too when proargmodes is set: keep the IN names only
UPDATE hostile.targets t
   SET argnames = ARRAY(SELECT n FROM unnest(p.proargnames, p.proargmodes) AS x(n, m) WHERE m IN ('i', 'b'))
  FROM pg_proc p WHERE p.oid = t.fn AND p.proargmodes IS NOT NULL;
DELETE FROM hostile.targets WHERE roles = '{}';

-- Functions that are cross-tenant by design (docs/discovery.md "Internal lookups",
-- docs/operations.md): the service lookups and the worker's own functions. The tenant-B
-- rules do not apply to them; the crash, code and residue rules do.
INSERT INTO hostile.cross_tenant_by_design
SELECT t.fn, 'service lookup across tenants'
  FROM hostile.targets t
 WHERE t.fn IN ('api.internal_event(uuid)'::regprocedure, 'api.internal_event_by_pda(text)'::regprocedure,
                'api.internal_scan_stats(uuid)'::regprocedure, 'api.update_blockchain_status(uuid,text,text)'::regprocedure)
UNION ALL
SELECT t.fn, 'token revocation of the auth service (not tenant data)'
  FROM hostile.targets t
 WHERE t.fn IN ('api.revoke_token(text,timestamp with time zone)'::regprocedure, 'api.token_status(text)'::regprocedure)
UNION ALL
SELECT t.fn, 'worker or sweep function (all tenants)'
  FROM hostile.targets t
 WHERE t.roles <@ ARRAY['eventsvc_worker', 'eventsvc_service']
   AND t.fn::text ~ '^(eventsvc\.(relay_|saga_|venue_refresh_|worker_|purge_revoked)|api\.expire_holds)'
ON CONFLICT DO NOTHING;


-- Where the generic baseline would stop at the first check, a call that gets further:
-- the draft event for delete/publish, the rows' current versions, changeable fields.
CREATE TABLE hostile.base_override (proname text, argname text, label text, PRIMARY KEY (proname, argname));
INSERT INTO hostile.vals (label, typ, val)
SELECT 'base:version:' || k, 'integer', v::text FROM (
    SELECT 'event' AS k, version AS v FROM eventsvc.events WHERE id = (SELECT id::uuid FROM hostile.ids WHERE kind = 'event' AND tenant = 'A')
    UNION ALL SELECT 'event_secret', version FROM eventsvc.events WHERE id = (SELECT id::uuid FROM hostile.ids WHERE kind = 'event_secret' AND tenant = 'A')
    UNION ALL SELECT 'section', version FROM eventsvc.event_capacity WHERE id = (SELECT id::uuid FROM hostile.ids WHERE kind = 'section' AND tenant = 'A')
    UNION ALL SELECT 'pricing', version FROM eventsvc.event_pricing WHERE id = (SELECT id::uuid FROM hostile.ids WHERE kind = 'pricing' AND tenant = 'A')
    UNION ALL SELECT 'schedule', version FROM eventsvc.event_schedules WHERE id = (SELECT id::uuid FROM hostile.ids WHERE kind = 'schedule' AND tenant = 'A')) x;
INSERT INTO hostile.vals (label, typ, val) VALUES
    ('base:section_changes', 'jsonb', '{"section_name": "Renamed"}'),
    ('base:status_paused', 'text', 'SALES_PAUSED'), ('base:chain_status', 'text', 'pending'),
    ('base:pda', 'text', 'HostPda1111111111111111111111111111'),
    ('base:json_text', 'text', '{}');
INSERT INTO hostile.vals (label, typ, val)
SELECT 'base:event_request', 'jsonb', jsonb_build_object(
           'venue_id', (SELECT id FROM hostile.ids WHERE kind = 'venue' AND tenant = 'A'), 'name', 'Hostile Request',
           'starts_at', now() + interval '60 days', 'ends_at', now() + interval '60 days 2 hours')::text;
INSERT INTO hostile.base_override VALUES
    ('delete_event', 'event_id', 'A:event_secret'), ('publish_event', 'event_id', 'A:event_secret'),
    ('transition_event', 'status', 'base:status_paused'),
    -- (the draft event: an event on sale refuses most changes before looking at them)
    ('update_event', 'event_id', 'A:event_secret'), ('update_event', 'expected_version', 'base:version:event_secret'),
    ('update_section', 'expected_version', 'base:version:section'), ('update_section', 'changes', 'base:section_changes'),
    ('update_pricing', 'expected_version', 'base:version:pricing'),
    ('update_schedule', 'expected_version', 'base:version:schedule'),
    ('delete_schedule', 'expected_version', 'base:version:schedule'),
    ('update_blockchain_status', 'status', 'base:chain_status'),
    ('internal_event_by_pda', 'event_pda', 'base:pda'),
    ('event_create', 'request', 'base:event_request'),
    ('saga_call_done', 'p_response', 'base:json_text'), ('venue_refresh_apply', 'p_response', 'base:json_text');

CREATE FUNCTION hostile.base_args(t hostile.targets) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(coalesce(
               (SELECT o.label FROM hostile.base_override o
                 WHERE o.proname = (SELECT proname FROM pg_proc WHERE oid = t.fn) AND o.argname = t.argnames[i]),
               hostile.baseline(t.argnames[i], t.argtypes[i]::regtype)) ORDER BY i), '{}')
      FROM generate_subscripts(t.argtypes, 1) i
$$;

-- JWT claims PostgREST could pass that name no usable tenant. The session setting names
-- tenant A at the same time: with claims present it must not count (docs/tenancy.md).
INSERT INTO hostile.state (k, v) VALUES
    ('claims:no_tenant', '{"role": "$ROLE", "sub": "hostile"}'),
    ('claims:number', '{"role": "$ROLE", "tenant_id": 123}'),
    ('claims:array', '{"role": "$ROLE", "tenant_id": ["aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"]}'),
    ('claims:object', '{"role": "$ROLE", "tenant_id": {"id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"}}'),
    ('claims:null', '{"role": "$ROLE", "tenant_id": null}'),
    ('claims:inject', $c${"role": "$ROLE", "tenant_id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' OR '1'='1"}$c$),
    ('claims:unknown', '{"role": "$ROLE", "tenant_id": "5e1f2c3d-4b5a-4c6d-8e7f-901a2b3c4d5e"}'),
    ('claims:inactive', '{"role": "$ROLE", "tenant_id": "cccccccc-cccc-4ccc-8ccc-cccccccccccc"}'),
    ('claims:malformed', '{"role": "$ROLE", "tenant_id": '),
    ('claims:huge', '{"role": "$ROLE", "tenant_id": "' || repeat('a', 100000) || '"}');

-- Roles: with EXECUTE, the full set; without, one call that must be refused.
DO $gen$
DECLARE
    t hostile.targets;
    r text;
    base text[];
    a text[];
    i integer;
    lbl text;
    m text;
    n integer;
    primary_role text;
BEGIN
    FOR t IN SELECT * FROM hostile.targets ORDER BY fn::text LOOP
        base := hostile.base_args(t);
        -- Input validation does not depend on the role: the full set of values runs as one
        -- role with EXECUTE; the others get NULLs, the extremes and tenant B's ids.
        primary_role := (SELECT x FROM unnest(ARRAY['eventsvc_user', 'eventsvc_service', 'eventsvc_worker',
                                                    'eventsvc_anon', 'eventsvc_admin']) x
                          WHERE x = ANY (t.roles) LIMIT 1);
        n := coalesce(array_length(t.argtypes, 1), 0);
        FOREACH r IN ARRAY ARRAY['eventsvc_anon', 'eventsvc_user', 'eventsvc_admin', 'eventsvc_service', 'eventsvc_worker'] LOOP
            IF NOT r = ANY (t.roles) THEN
                INSERT INTO hostile.calls (fn, role, mode, args, probe)
                SELECT t.fn, r, 'tenantA', base, 'no EXECUTE: refused';
                CONTINUE;
            END IF;
            -- tenant A through the session setting: the full set
            INSERT INTO hostile.calls (fn, role, mode, args, probe) VALUES (t.fn, r, 'tenantA', base, 'baseline');
            INSERT INTO hostile.calls (fn, role, mode, args, probe)
            SELECT t.fn, r, 'tenantA',
                   coalesce(array_agg((SELECT label FROM hostile.vals v WHERE v.typ = t.argtypes[g]::regtype AND v.val IS NULL
                                        ORDER BY label LIMIT 1) ORDER BY g), '{}'),
                   'all NULL'
              FROM generate_subscripts(t.argtypes, 1) g;
            FOR i IN 1 .. n LOOP
                FOR lbl IN SELECT * FROM hostile.labels_for(t.argtypes[i]::regtype, t.argnames[i]) LOOP
                    -- (an unknown id is tried even where it is the baseline: B's ids are compared with it)
                    CONTINUE WHEN lbl = base[i] AND lbl <> 'u_rand';
                    CONTINUE WHEN r <> primary_role AND lbl NOT LIKE 'B:%' AND lbl NOT IN ('u_rand', 'u_null');
                    a := base; a[i] := lbl;
                    INSERT INTO hostile.calls (fn, role, mode, args, probe, cross_b)
                    VALUES (t.fn, r, 'tenantA', a, format('%s = %s', coalesce(t.argnames[i], '$' || i), lbl),
                            lbl LIKE 'B:%' AND lbl NOT LIKE 'B:idem:%');
                END LOOP;
            END LOOP;
            -- every argument hostile at once: the biggest and the most extreme values
            IF n > 1 AND r = primary_role THEN
                INSERT INTO hostile.calls (fn, role, mode, args, probe)
                SELECT t.fn, r, 'tenantA',
                       array_agg(coalesce((SELECT label FROM hostile.vals v WHERE v.typ = t.argtypes[g]::regtype
                                            AND label IN ('t_big', 'i_max', 'b_max', 's_max', 'n_huge', 'ts_max', 'tsn_max',
                                                          'iv_huge', 'j_hugeobjs', 'ta_big', 'u_max', 'ba_ext', 'r_inf', 'bool_t')
                                            LIMIT 1), base[g]) ORDER BY g),
                       'every argument at its largest'
                  FROM generate_subscripts(t.argtypes, 1) g;
                INSERT INTO hostile.calls (fn, role, mode, args, probe)
                SELECT t.fn, r, 'tenantA',
                       array_agg(coalesce((SELECT label FROM hostile.vals v WHERE v.typ = t.argtypes[g]::regtype
                                            AND label IN ('t_inject', 'i_min', 'b_min', 's_min', 'n_ninf', 'ts_ninf', 'tsn_ninf',
                                                          'iv_min', 'j_wrongtypes', 'ta_2d', 'u_nil', 'ba_2d', 'r_nan', 'bool_f')
                                            LIMIT 1), base[g]) ORDER BY g),
                       'every argument at its most negative / malformed'
                  FROM generate_subscripts(t.argtypes, 1) g;
            END IF;
            -- tenant A through JWT claims, no tenant, the inactive tenant: baseline, NULLs and B's ids
            INSERT INTO hostile.calls (fn, role, mode, args, probe) VALUES (t.fn, r, 'inactive', base, 'baseline');
            FOREACH m IN ARRAY ARRAY['jwtA', 'none'] LOOP
                INSERT INTO hostile.calls (fn, role, mode, args, probe) VALUES (t.fn, r, m, base, 'baseline');
                FOR i IN 1 .. n LOOP
                    CONTINUE WHEN t.argtypes[i] <> 'uuid'::regtype;
                    -- one of tenant B's ids per argument here (tenant A mode tries them all)
                    FOR lbl IN SELECT min(x) FROM hostile.b_labels(t.argnames[i]) x
                                WHERE x <> 'B:tenant' OR t.argnames[i] ~ 'tenant'
                               UNION ALL SELECT 'u_rand' LOOP
                        a := base; a[i] := lbl;
                        INSERT INTO hostile.calls (fn, role, mode, args, probe, cross_b)
                        VALUES (t.fn, r, m, a, format('%s = %s', coalesce(t.argnames[i], '$' || i), lbl), lbl LIKE 'B:%');
                    END LOOP;
                END LOOP;
            END LOOP;
            -- unusable JWT claims (with tenant A in the session setting, which must not count)
            -- (tenant resolution does not depend on the role: a tenant role and the service)
            FOR m IN SELECT k FROM hostile.state WHERE k LIKE 'claims:%' AND r IN ('eventsvc_user', 'eventsvc_service', primary_role)
                       AND (k <> 'claims:huge' OR r = primary_role)
                      ORDER BY k LOOP
                INSERT INTO hostile.calls (fn, role, mode, args, probe) VALUES (t.fn, r, m, base, 'baseline');
            END LOOP;
        END LOOP;
    END LOOP;
END
$gen$;

-- Every section's seat counter against its hold rows, each as its own tenant (this also
-- builds the counters, so the snapshot below covers every section). NULL when all agree.
CREATE FUNCTION hostile.capacity_problems() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    r jsonb;
    bad text;
BEGIN
    FOR c IN SELECT tenant_id, id FROM eventsvc.event_capacity ORDER BY id LOOP
        PERFORM set_config('app.current_tenant_id', c.tenant_id::text, true);
        r := eventsvc.check_capacity(c.id);
        IF coalesce((r ->> 'drift')::bigint, 0) <> 0 OR coalesce((r ->> 'oversold')::boolean, false) THEN
            bad := concat_ws('; ', bad, c.id || ' ' || r::text);
        END IF;
    END LOOP;
    PERFORM set_config('app.current_tenant_id', '', true);
    RETURN bad;
END
$$;
SELECT hostile.capacity_problems();
-- (that refreshed the sections' counter columns, which bumps their version)
UPDATE hostile.vals SET val = (SELECT version::text FROM eventsvc.event_capacity
                                WHERE id = (SELECT id::uuid FROM hostile.ids WHERE kind = 'section' AND tenant = 'A'))
 WHERE label = 'base:version:section';

-- the state every call is compared with
INSERT INTO hostile.state VALUES ('b_checksum', hostile.b_checksum());
INSERT INTO hostile.state VALUES ('b_checksum_noviews', hostile.b_checksum(ARRAY['eventsvc.event_view_counts'::regclass]));
INSERT INTO hostile.state VALUES ('counts', hostile.counts());
INSERT INTO hostile.state VALUES ('escrow', hostile.escrow());
-- Tenant B's counters start unbuilt, as after a restart: whoever touches one first builds
-- it, and a call of tenant A must not build it from what tenant A can see. The snapshot
-- above keeps their right values to compare with once built.
SELECT count(eventsvc.escrow_reset(id)) FROM eventsvc.event_capacity WHERE tenant_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
