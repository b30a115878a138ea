-- api_catalog: the shape of the HTTP surface, read from the catalog. PostgREST
-- exposes whatever is in schema api, so these rules are checked on the installed
-- extension rather than trusted: one function per name, named parameters, no grant
-- to PUBLIC, readers STABLE (GET runs read-only) and writers VOLATILE, views that
-- keep the caller's RLS, SECURITY DEFINER only with a fixed search_path.
BEGIN;
SELECT plan(12);

-- Writers by name: an api function whose name starts with one of these verbs changes
-- something and must be VOLATILE (called with POST); every other name is a reader
-- (search_events, event_occurrences, token_status...) and must be STABLE or
-- IMMUTABLE, because PostgREST runs GET in a read-only transaction. A new writer
-- verb is added here when it appears.
CREATE TEMP TABLE writer_rule AS
SELECT '^(create|update|delete|publish|unpublish|transition|postpone|reschedule|cancel|reserve|confirm|'
       'release|extend|revoke|record|set|add|remove|submit|approve|reject|sweep|purge|retry|requeue|'
       'refresh|pause|resume|start|complete|mark|apply|expire|issue|rotate|sync|import|upsert|'
       'generate|archive|restore|register|enqueue|process|run|moderate|blockchain_callback|'
       'refund|exchange|join|leave|close|decide|preview_cancellation|open|reopen|move)(_|$)' AS pattern;

SELECT ok((SELECT count(*) FROM pg_proc WHERE pronamespace = 'api'::regnamespace) > 0,
          'api has functions');

-- Computed relationships (part 72: one argument, the row type of an api view) are not
-- RPCs: PostgREST embeds them by name, and one name serves several sources.
CREATE TEMP VIEW rpc AS
SELECT p.* FROM pg_proc p
 WHERE p.pronamespace = 'api'::regnamespace
   AND NOT eventsvc.is_api_relationship(p.oid);

SELECT is_empty($$
    SELECT proname, count(*) FROM rpc GROUP BY proname HAVING count(*) > 1
$$, 'every api RPC has a unique name (PostgREST cannot choose between overloads)');

SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'api'::regnamespace AND p.pronargs > 0
       AND (p.proargnames IS NULL
            OR EXISTS (SELECT 1 FROM unnest(p.proargnames[1:p.pronargs]) n WHERE n = ''))
$$, 'every api function parameter has a name (they are the JSON keys of the RPC)');

SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'api'::regnamespace
       AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
$$, 'no api function is executable by PUBLIC (a NULL acl means PUBLIC may execute)');

SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = 'api'::regnamespace
       AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0)
$$, 'no api view or table is granted to PUBLIC');

SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace IN ('api'::regnamespace, 'eventsvc'::regnamespace)
       AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a
                    WHERE a.grantee = 'eventsvc_anon'::regrole AND a.privilege_type <> 'SELECT')
$$, 'anonymous may only read, never write');

SELECT is_empty($$
    SELECT p.oid::regprocedure, p.provolatile FROM pg_proc p, writer_rule r
     WHERE p.pronamespace = 'api'::regnamespace AND p.proname !~ r.pattern AND p.provolatile = 'v'
$$, 'api readers (no writer verb) are STABLE or IMMUTABLE: GET runs them in a read-only transaction');

SELECT is_empty($$
    SELECT p.oid::regprocedure, p.provolatile FROM pg_proc p, writer_rule r
     WHERE p.pronamespace = 'api'::regnamespace AND p.proname ~ r.pattern AND p.provolatile <> 'v'
$$, 'api writers (by verb) are VOLATILE: called with POST');

-- Views: security_invoker keeps the caller's RLS. The only definer-rights view is
-- listed here: the worker's status (service role only; counts over all tenants, no
-- tenant rows). The public catalogue is a table of published rows (part 71).
SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
       AND NOT coalesce('security_invoker=true' = ANY (c.reloptions)
                        OR 'security_invoker=on' = ANY (c.reloptions), false)
       AND c.relname NOT IN ('worker_status')
$$, 'every api view is security_invoker except the listed definer views');

SELECT is_empty($$
    SELECT c.oid::regclass, pg_get_userbyid(c.relowner) FROM pg_class c
     WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
       AND c.relowner <> (SELECT extowner FROM pg_extension WHERE extname = 'eventsvc')
$$, 'every api view is owned by the extension owner');

SELECT is_empty($$
    SELECT p.oid::regprocedure, p.proconfig FROM pg_proc p
     WHERE p.pronamespace IN ('api'::regnamespace, 'eventsvc'::regnamespace) AND p.prosecdef
       AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
$$, 'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp');

-- The pre-request hook PostgREST is configured with exists, takes no argument,
-- and every API role may run it (it runs before every request, anonymous too).
SELECT is_empty($$
    SELECT r.rolname FROM pg_roles r
     WHERE r.rolname IN ('eventsvc_anon', 'eventsvc_user', 'eventsvc_admin', 'eventsvc_service')
       AND NOT has_function_privilege(r.rolname, 'eventsvc.check_request()', 'EXECUTE')
$$, 'every API role may run the pre-request check');

SELECT * FROM finish();
ROLLBACK;
