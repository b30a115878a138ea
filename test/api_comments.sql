-- api_comments: everything PostgREST's OpenAPI describes has a description. Every api
-- function, view, table and view column has a COMMENT (PostgREST shows it as the
-- description), so has every api composite type and its columns (typed clients read
-- them), and every api relation that no API role may write says "Read-only."
-- (PostgREST 12 lists write methods by what PostgreSQL could update, not by rights).
BEGIN;
SELECT plan(6);

SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'api'::regnamespace AND coalesce(obj_description(p.oid, 'pg_proc'), '') = ''
$$, 'every api function has a comment');

SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'm', 'r', 'f', 'p')
       AND coalesce(obj_description(c.oid, 'pg_class'), '') = ''
$$, 'every api view and table has a comment');

SELECT is_empty($$
    SELECT t.oid::regtype FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
     WHERE t.typnamespace = 'api'::regnamespace AND coalesce(obj_description(t.oid, 'pg_type'), '') = ''
$$, 'every api composite type (what a typed call returns) has a comment');

SELECT is_empty($$
    SELECT c.oid::regclass, a.attname FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'm', 'r', 'f', 'p', 'c')
       AND coalesce(col_description(c.oid, a.attnum), '') = ''
$$, 'every column of every api view, table and composite type has a comment');

SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'm', 'r', 'f', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_roles g
                        WHERE g.rolname IN ('eventsvc_anon', 'eventsvc_user', 'eventsvc_admin',
                                            'eventsvc_service', 'eventsvc_worker')
                          AND has_table_privilege(g.oid, c.oid, 'INSERT, UPDATE, DELETE'))
       AND obj_description(c.oid, 'pg_class') NOT LIKE 'Read-only.%'
$$, 'every api relation no API role may write says "Read-only." first');

SELECT ok((SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace) >= 40
          AND (SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v') >= 10,
          'the api schema has its functions and views (the checks above looked at something)');

SELECT * FROM finish();
ROLLBACK;
