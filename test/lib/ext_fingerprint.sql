-- test/lib/ext_fingerprint.sql: every object of the eventsvc extension with its full
-- definition, one line each, sorted. Two databases whose fingerprints are equal have the
-- same extension schema: a fresh install and an upgraded one are compared this way.
-- Covers functions (body, language, volatility, security, SET, ACL, comment), tables
-- (columns in order, defaults, identity, constraints, indexes, triggers, RLS, policies,
-- options, ACL, column ACLs and comments), views, sequences, types, schemas and the
-- extension's dump configuration.
\pset format unaligned
\pset tuples_only on
\pset pager off
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'eventsvc'),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
),
rels AS (
    SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
),
lines AS (
    -- functions and procedures
    SELECT 'function ' || p.oid::regprocedure::text || E'\n' ||
           CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE pg_get_functiondef(p.oid) END ||
           ' owner=' || pg_get_userbyid(p.proowner) || ' acl=' || coalesce(p.proacl::text, '-') ||
           ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '-') AS line
    FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
    UNION ALL
    -- relations themselves
    SELECT format('relation %s kind=%s rls=%s force=%s options=%s persistence=%s owner=%s acl=%s replident=%s comment=%s',
                  c.oid::regclass, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
                  coalesce(c.reloptions::text, '-'), c.relpersistence, pg_get_userbyid(c.relowner),
                  coalesce(c.relacl::text, '-'), c.relreplident, coalesce(obj_description(c.oid, 'pg_class'), '-'))
    FROM rels c
    UNION ALL
    -- columns, in order (dropped ones left out)
    SELECT format('column %s #%s %s %s notnull=%s default=%s identity=%s generated=%s collation=%s acl=%s comment=%s',
                  c.oid::regclass,
                  row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
                  a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'), a.attidentity, a.attgenerated,
                  coalesce(co.collname, '-'), coalesce(a.attacl::text, '-'),
                  coalesce(col_description(c.oid, a.attnum), '-'))
    FROM rels c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
    UNION ALL
    SELECT format('constraint %s %s %s deferrable=%s deferred=%s validated=%s comment=%s',
                  con.conrelid::regclass, con.conname, pg_get_constraintdef(con.oid),
                  con.condeferrable, con.condeferred, con.convalidated,
                  coalesce(obj_description(con.oid, 'pg_constraint'), '-'))
    FROM pg_constraint con JOIN rels c ON c.oid = con.conrelid
    UNION ALL
    SELECT format('index %s %s', c.oid::regclass, pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN rels c ON c.oid = i.indrelid
    UNION ALL
    SELECT format('trigger %s %s enabled=%s', c.oid::regclass, pg_get_triggerdef(t.oid), t.tgenabled)
    FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('policy %s %s cmd=%s permissive=%s roles=%s using=%s check=%s',
                  c.oid::regclass, pol.polname, pol.polcmd, pol.polpermissive,
                  (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END, ',' ORDER BY 1)
                     FROM unnest(pol.polroles) r),
                  coalesce(pg_get_expr(pol.polqual, pol.polrelid), '-'),
                  coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '-'))
    FROM pg_policy pol JOIN rels c ON c.oid = pol.polrelid
    UNION ALL
    SELECT format('view %s %s', c.oid::regclass, pg_get_viewdef(c.oid))
    FROM rels c WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('sequence %s start=%s inc=%s min=%s max=%s cycle=%s owned_by=%s',
                  c.oid::regclass, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcycle,
                  coalesce((SELECT d.refobjid::regclass || '.' || a.attname FROM pg_depend d
                            JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '-'))
    FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
    WHERE c.oid IN (SELECT oid FROM rels)
       OR c.oid IN (SELECT d.objid FROM pg_depend d JOIN rels r ON d.refobjid = r.oid
                    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i')
    UNION ALL
    -- types: enums with their labels in order, domains, composite types
    SELECT format('type %s kind=%s labels=%s domain=%s owner=%s acl=%s comment=%s',
                  t.oid::regtype, t.typtype,
                  coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '-'),
                  CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) || ' notnull=' || t.typnotnull ||
                       ' ' || coalesce((SELECT string_agg(pg_get_constraintdef(con.oid), ' ' ORDER BY con.conname)
                                        FROM pg_constraint con WHERE con.contypid = t.oid), '') ELSE '-' END,
                  pg_get_userbyid(t.typowner), coalesce(t.typacl::text, '-'),
                  coalesce(obj_description(t.oid, 'pg_type'), '-'))
    FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
    UNION ALL
    SELECT format('schema %s owner=%s acl=%s comment=%s', n.nspname, pg_get_userbyid(n.nspowner),
                  coalesce(n.nspacl::text, '-'), coalesce(obj_description(n.oid, 'pg_namespace'), '-'))
    FROM pg_namespace n JOIN members m ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid
    UNION ALL
    -- any other kind of member object, by its description only
    SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0)
    FROM members m
    WHERE m.classid NOT IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass, 'pg_namespace'::regclass)
    UNION ALL
    SELECT 'dump config ' || x.rel::regclass || ' where=' || coalesce(nullif(x.cond, ''), '-')
    FROM ext, unnest(ext.extconfig, ext.extcondition) AS x(rel, cond)
    UNION ALL
    -- default privileges and grants on roles the extension creates are outside the catalogue above
    SELECT format('default acl %s %s %s', pg_get_userbyid(d.defaclrole), coalesce(d.defaclnamespace::regnamespace::text, '-'), d.defaclacl)
    FROM pg_default_acl d
)
SELECT line FROM lines ORDER BY line COLLATE "C";
