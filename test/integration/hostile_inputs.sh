#!/usr/bin/env bash
# Hostile input and cross-tenant probes over every function of schemas api and eventsvc.
#
# Two tenants (A, B) and an inactive one (C) are seeded through the api functions
# (test/lib/hostile_seed.sql). Then every function some API role may execute is read from
# pg_proc and called, as each of eventsvc_anon/_user/_admin/_service/_worker, with hostile
# arguments one at a time over a plausible tenant-A call: NULLs, empty, 100 kB and unicode
# strings, quotes, '\x00', SQL injection and format strings, integer/bigint/numeric
# extremes, NaN/Infinity, nil/random uuids and tenant B's ids, malformed and huge jsonb,
# timestamps at +-infinity / year 1 / year 9999 (test/lib/hostile_calls.sql). Tenant
# modes: app.current_tenant_id = A, JWT claims of A, no tenant, the inactive tenant, and
# unusable claims while the session setting names A. Each call runs in a subtransaction
# that is always rolled back (test/lib/hostile_driver.sql) and must:
#   - not crash the backend (each call is echoed first; a lost connection names the call)
#   - finish within 5 s (the slowest correct call takes well under 1 s)
#   - fail, if at all, with a SQLSTATE that is not class XX/58 and that PostgREST does not
#     map to a 5xx (08 09 25 2D 38 39 3B 40 53 54 55 57 F0 HV P0xxx-but-P0001 PT5xx), and
#     not with an error of eventsvc's own SQL (42601 42883 42P01 42703 ...)
#   - as tenant A / without a tenant: show no tenant-B data (ids, names) beyond the public
#     catalogue, and without a usable tenant no tenant-A secrets either
#   - not change tenant B's rows (checksum as superuser, before the rollback), not leave a
#     row of tenant A holding one of B's ids, not answer B's id differently from an
#     unknown id (existence oracle)
#   - leave nothing behind the rollback (shared-memory seat counters per call; row counts
#     of every table once at the end)
#   - refuse roles without EXECUTE with 42501; no raw "permission denied for table" from a
#     granted function; no write without a usable tenant.
# Every api view is read the same way, and again with a caller's cheap, leaky function
# in the WHERE clause (it must see no row the view hides). A PDA takeover is tried by
# every path (tenant B's synced on-chain address onto tenant A's event). At the end, as
# superuser: tenant B unchanged, row counts unchanged, every section's seat counter equal to its hold rows. Raw PostgreSQL
# errors that PostgREST answers with 400 are listed as "# note" lines, not failures.
# A new function that is cross-tenant by design goes into hostile.cross_tenant_by_design
# (test/lib/hostile_calls.sql); a new argument name may want a baseline there too.
#
# EVS_HOSTILE_THROUGH_PROXY=1 (test/integration/scaleout.sh): the same data on shard s1
# behind the proxy (test/lib/scaleout.sh), and every api function and view called
# through the proxy (hostile.run): in a transaction there that is rolled back, with
# eventsvc_proxy.dry_run on, so the shard rolls each call back after it answered. The
# checks run on s1 as above; those taken "before the rollback" (tenant B's rows, rows
# written without a tenant) see the shard after it rolled back, and scaleout.sh checks
# the same with committed calls.
set -uo pipefail
LIB="$EVS_SRC/test/lib"
DB=hostile_inputs
if [ "${EVS_HOSTILE_THROUGH_PROXY:-0}" = 1 ]; then
    . "$EVS_SRC/test/lib/cluster.sh"
    . "$LIB/scaleout.sh"
    if [ -z "${EVS_SCALEOUT_DIR:-}" ]; then
        evs_scaleout_start "$EVS_WORK/scaleout_hostile" || exit 1
        trap evs_scaleout_stop EXIT
    fi
    export PGHOST=$EVS_S1_HOST PGPORT=$EVS_S1_PORT
fi
W="$EVS_WORK/hostile"
mkdir -p "$W"
[ "$(id -u)" = 0 ] && chown postgres "$W" 2>/dev/null
fails=0
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); }
t0=$(date +%s)

wait_ready() {
    local i
    for i in $(seq 1 60); do
        psql -X -q -At -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}

# (a test before this one may have left the server in crash recovery)
wait_ready
psql -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null || { notok "create database"; exit 1; }
q -c "CREATE EXTENSION eventsvc CASCADE" 2>/dev/null || { notok "create extension"; exit 1; }
load() {
    local f
    for f in "$@"; do
        if ! out=$(q -f "$LIB/hostile_$f.sql" 2>&1 >/dev/null); then
            notok "setup test/lib/hostile_$f.sql: $(head -c 2000 <<<"$out")"; exit 1
        fi
    done
}
load driver seed
if [ "${EVS_HOSTILE_THROUGH_PROXY:-0}" = 1 ]; then
    # s1 holds tenants A, B and C; s2 is an empty shard; the proxy sends every call
    s2 postgres -c "CREATE DATABASE $DB" >/dev/null && s2 "$DB" -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null 2>&1 \
        && px postgres -c "CREATE DATABASE $DB" >/dev/null && px "$DB" -c "CREATE EXTENSION eventsvc_proxy CASCADE" >/dev/null 2>&1 \
        && evs_scaleout_join "$DB" && q -c "CREATE EXTENSION dblink" \
        && q -c "INSERT INTO hostile.state VALUES ('via', 'host=$EVS_PX_HOST port=$EVS_PX_PORT dbname=$DB user=postgres')" \
        || { notok "the proxy in front of the seeded shard"; exit 1; }
    ok "through the proxy: $(px "$DB" -c "SELECT count(*) FROM eventsvc.tenants") tenants in its directory, api of $(px "$DB" -c "SELECT count(*) FROM pg_proc WHERE pronamespace = 'api'::regnamespace") functions"
    ports=$(q -c "SELECT hostile.run('SELECT current_setting(''port'')', 'eventsvc_anon') || ' ' || hostile.run('SELECT current_setting(''port'')', 'eventsvc_anon', true)")
    if [ "$ports" = "$EVS_PX_PORT $EVS_S1_PORT" ]; then ok "calls run on the proxy (port ${ports% *}), their direct twins on the shard (port ${ports#* })"
    else notok "calls do not run where they should: $ports"; fi
fi
load calls report
ok "seeded tenants A, B, inactive C; $(q -c "SELECT count(*) FROM hostile.targets") functions, $(q -c "SELECT count(*) FROM hostile.calls") calls"
started=$(q -c "SELECT pg_postmaster_start_time()")

# The detectors themselves must see what they look for (else every check below is vacuous).
selftest=$(q <<'SQL'
BEGIN;
SELECT hostile.leak('x zebrasecret-draft y', '', true, false) IS NOT NULL
   AND hostile.leak((SELECT id FROM hostile.ids WHERE kind = 'hold' AND tenant = 'B'), '', true, false) IS NOT NULL
   AND hostile.leak('Zebra Gala', '', false, false) IS NOT NULL
   AND hostile.leak('Zebra Gala', '', true, false) IS NULL
   AND hostile.leak('AlphaSecret Draft', '', false, true) IS NOT NULL;
UPDATE eventsvc.event_faqs SET answer = answer || '!' WHERE tenant_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
SELECT hostile.b_checksum() <> hostile.state_get('b_checksum');
SET LOCAL session_replication_role = replica;
UPDATE eventsvc.event_capacity SET schedule_id = (SELECT id::uuid FROM hostile.ids WHERE kind = 'schedule' AND tenant = 'B')
 WHERE tenant_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
SELECT hostile.a_xref() IS NOT NULL;
ROLLBACK;
SQL
)
if [ "$selftest" = $'t\nt\nt' ]; then ok "the leak and checksum detectors see planted data"; else notok "detector self-test: $selftest"; fi


# Run the calls in id order, one statement each, echoing each id first; after a crash,
# resume after the call that was running (the last id echoed).
next=1
last=$(q -c "SELECT max(id) FROM hostile.calls")
crashes=0
while [ "$next" -le "$last" ]; do
    {
        echo "SET statement_timeout = '5s';"
        echo "SET synchronous_commit = on;  -- results written before a crash survive it"
        echo "SET client_min_messages = error;"
        q -c "SELECT format(E'\\\\echo %s\\nSELECT hostile.call(%s);', id, id) FROM hostile.calls WHERE id >= $next ORDER BY id"
    } >"$W/calls.sql"
    psql -X -q -o /dev/null -d "$DB" -f "$W/calls.sql" >"$W/calls.progress" 2>"$W/calls.err"
    rc=$?
    [ "$rc" = 0 ] && break
    crashes=$((crashes + 1))
    wait_ready || { notok "server did not come back after a crash"; exit 1; }
    # the call that was running when the connection was lost
    crashed=$(tail -n 1 "$W/calls.progress")
    [ -z "$crashed" ] && break
    q -c "INSERT INTO hostile.results (call_id, ok, sqlstate, message)
          VALUES ($crashed, false, 'CRASH', 'the backend died (connection lost); see the server log')
          ON CONFLICT (call_id) DO UPDATE SET ok = false, sqlstate = 'CRASH', message = excluded.message"
    next=$((crashed + 1))
    [ "$crashes" -gt 20 ] && { notok "more than 20 crashes; giving up"; break; }
done
# calls without a result that did not crash: cancelled by the statement timeout
q -c "INSERT INTO hostile.results (call_id, ok, sqlstate, message)
      SELECT id, false, '57014', 'no result within statement_timeout 5s' FROM hostile.calls c
       WHERE NOT EXISTS (SELECT 1 FROM hostile.results r WHERE r.call_id = c.id)"
ok "ran $(q -c "SELECT count(*) FROM hostile.results") calls in $(( $(date +%s) - t0 )) s"

# Partial state in a fresh transaction: every writer's baseline and one failing call per
# distinct error, each as its own aborted top-level transaction, then a look at what is
# left (row counts of every table, seat counters).
{
    echo "SET statement_timeout = '5s';"
    echo "SET client_min_messages = error;"
    q -c "SELECT format(E'\\\\echo %s\\nSELECT hostile.call_toplevel(%s);\\nSELECT hostile.after_toplevel(%s);', id, id, id)
            FROM (SELECT DISTINCT ON (c.fn, r.sqlstate) c.id
                    FROM hostile.calls c JOIN hostile.results r ON r.call_id = c.id
                    JOIN pg_proc p ON p.oid = c.fn
                   WHERE c.mode = 'tenantA' AND p.provolatile = 'v' AND r.sqlstate IS DISTINCT FROM 'CRASH'
                     AND r.sqlstate IS DISTINCT FROM '57014' AND c.probe <> 'no EXECUTE: refused'
                   ORDER BY c.fn, r.sqlstate, c.id) x ORDER BY id"
} >"$W/toplevel.sql"
psql -X -q -o /dev/null -d "$DB" -f "$W/toplevel.sql" >"$W/toplevel.progress" 2>"$W/toplevel.err"
rc=$?
if [ "$rc" != 0 ]; then
    wait_ready
    notok "a call run as its own transaction crashed the backend: $(q -c "SELECT hostile.describe($(tail -n 1 "$W/toplevel.progress"))")"
fi
n=$(q -c "SELECT count(*) FROM hostile.toplevel_results")
bad=$(q -c "SELECT string_agg(hostile.describe(call_id) || ': ' || residue, E'\n#   ') FROM hostile.toplevel_results WHERE residue IS NOT NULL")
if [ -z "$bad" ] && [ "$n" -gt 0 ]; then
    ok "$n writer calls as their own aborted transactions left nothing behind"
else
    notok "calls as their own aborted transactions left state behind ($n run):"; echo "#   $bad"
fi

now_started=$(q -c "SELECT pg_postmaster_start_time()")
if [ "$crashes" = 0 ] && [ "$started" = "$now_started" ]; then ok "no backend crashed"; else notok "backends crashed $crashes time(s) (postmaster start time $started -> $now_started)"; fi

# One line per function: ok, or every distinct problem with a reproducer.
while IFS=$'\x1f' read -r fn n; do
    ok "$fn: $n calls, no problem"
done < <(q -F $'\x1f' -c "SELECT c.fn, count(*) FROM hostile.calls c
                         WHERE c.fn NOT IN (SELECT fn FROM hostile.problems) GROUP BY c.fn ORDER BY c.fn::text")
while IFS=$'\x1f' read -r fn kind st n roles example msg repro; do
    notok "$fn: $kind [$n calls; roles $roles]"
    echo "#   e.g. $example"
    echo "#   error: ${st:-none} ${msg}"
    echo "#   reproduce: $repro"
done < <(q -F $'\x1f' -c "
    SELECT p.fn, p.kind, coalesce(p.sqlstate, ''), count(*), string_agg(DISTINCT replace(p.role, 'eventsvc_', ''), ','),
           hostile.describe(min(p.id)), replace(left(coalesce(min(p.message), ''), 300), E'\n', ' '),
           replace(left(hostile.repro(min(p.id)), 600), E'\n', ' ')
      FROM hostile.problems p
     GROUP BY p.fn, p.kind, p.sqlstate ORDER BY p.fn::text, p.kind")

# Not failures (PostgREST answers 400), but not from the catalogue of docs/errors.md
# either: raw PostgreSQL errors where eventsvc could say which field is wrong (22023).
while IFS=$'\x1f' read -r fn st n example msg; do
    echo "# note - $fn: $st raw error [$n calls], e.g. $example: $msg"
done < <(q -F $'\x1f' -c "
    SELECT c.fn, r.sqlstate, count(*), min(c.probe), replace(left(min(r.message), 200), E'\n', ' ')
      FROM hostile.results r JOIN hostile.calls c ON c.id = r.call_id
     WHERE r.sqlstate !~ '^(PT|XX|58|57014|CRASH)'
       AND r.sqlstate NOT IN ('22023', '22003', '23514', '42501', '23505', '23503', '23P01')
       AND hostile.bad_code(r.sqlstate, c.fn) IS NULL
       AND c.mode <> 'claims:malformed'
     GROUP BY c.fn, r.sqlstate ORDER BY c.fn::text, r.sqlstate")

# Views of schema api, as every role that may read them, in each tenant mode.
q -c "CREATE TABLE hostile.view_results AS SELECT * FROM hostile.view_probe()"
while IFS=$'\x1f' read -r v n; do
    ok "view $v: $n reads, no problem"
done < <(q -F $'\x1f' -c "SELECT view, count(*) FROM hostile.view_results GROUP BY view
                           HAVING count(problem) = 0 ORDER BY view::text")
while IFS=$'\x1f' read -r v problem roles modes msg; do
    notok "view $v: $problem [roles $roles; modes $modes]"
    echo "#   error: $msg"
done < <(q -F $'\x1f' -c "SELECT view, problem, string_agg(DISTINCT role, ','), string_agg(DISTINCT mode, ','),
                                  left(coalesce(min(sqlstate || ' ' || message), 'none'), 300)
                             FROM hostile.view_results WHERE problem IS NOT NULL GROUP BY view, problem ORDER BY view::text")

# The same reads with a caller's leaky function in the WHERE clause (cheap, and it tells
# every row it is handed): a view must not hand it a row it would not show.
q -c "CREATE TABLE hostile.leaky_view_results AS SELECT * FROM hostile.view_probe(true)"
while IFS=$'\x1f' read -r v n; do
    ok "view $v with a leaky function: $n reads, it saw nothing hidden"
done < <(q -F $'\x1f' -c "SELECT view, count(*) FROM hostile.leaky_view_results GROUP BY view
                           HAVING count(problem) = 0 ORDER BY view::text")
while IFS=$'\x1f' read -r v problem roles modes msg; do
    notok "view $v with a leaky function: $problem [roles $roles; modes $modes]"
    echo "#   error: $msg"
done < <(q -F $'\x1f' -c "SELECT view, problem, string_agg(DISTINCT role, ','), string_agg(DISTINCT mode, ','),
                                  left(coalesce(min(sqlstate || ' ' || message), 'none'), 300)
                             FROM hostile.leaky_view_results WHERE problem IS NOT NULL GROUP BY view, problem ORDER BY view::text")

# PDA takeover: tenant A tries to put tenant B's synced on-chain address on its own event
# by every path; B's address must still name B's event alone.
q -c "CREATE TABLE hostile.pda_results AS SELECT * FROM hostile.pda_takeover()"
while IFS=$'\x1f' read -r attempt role mode st msg problem; do
    notok "PDA takeover through $attempt as $role ($mode): $problem"
    echo "#   error: ${st:-none} $msg"
done < <(q -F $'\x1f' -c "SELECT attempt, role, mode, coalesce(sqlstate, ''), replace(coalesce(message, ''), E'\n', ' '),
                                  problem FROM hostile.pda_results WHERE problem IS NOT NULL")
n=$(q -c "SELECT count(*) FROM hostile.pda_results")
if [ "$n" -gt 0 ] && [ "$(q -c "SELECT count(*) FROM hostile.pda_results WHERE problem IS NOT NULL")" = 0 ]; then
    ok "PDA takeover: $n attempts, tenant B's address still names B's event alone"
fi
[ "$n" -gt 0 ] || notok "PDA takeover: the probe ran no attempt"

# A tenant user acting on another user's hold of the same tenant (the seeded hold belongs
# to "seed-eventsvc_user"; the calls act as "eventsvc_user" or the JWT sub "hostile-sub").
bad=$(q -c "SELECT string_agg(hostile.describe(c.id), '; ') FROM hostile.calls c JOIN hostile.results r ON r.call_id = c.id
             WHERE c.role = 'eventsvc_user' AND c.mode IN ('tenantA', 'jwtA') AND c.probe = 'baseline' AND r.ok
               AND c.fn IN ('api.confirm_hold(uuid)'::regprocedure, 'api.release_hold(uuid)'::regprocedure,
                            'api.extend_hold(uuid,integer)'::regprocedure)")
if [ -z "$bad" ]; then ok "a tenant user cannot confirm, release or extend another user's hold"; else notok "a user acted on another user's hold: $bad"; fi

# A SECURITY DEFINER function without a fixed search_path runs a caller's objects with
# the owner's rights (temp schema tricks): every one must pin pg_catalog, pg_temp.
bad=$(q -c "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
             WHERE p.pronamespace IN ('api'::regnamespace, 'eventsvc'::regnamespace) AND p.prosecdef
               AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)")
if [ -z "$bad" ]; then ok "every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp"; else notok "SECURITY DEFINER without a pinned search_path: $bad"; fi

# Final state, as superuser in a fresh transaction.
if [ "$(q -c "SELECT hostile.b_checksum() = hostile.state_get('b_checksum')")" = t ]; then
    ok "tenant B's rows are unchanged after all calls"
else
    notok "tenant B's rows changed after all calls"
fi
if [ "$(q -c "SELECT hostile.counts() = hostile.state_get('counts')")" = t ]; then
    ok "row counts of every eventsvc table are unchanged (every call was rolled back)"
else
    notok "row counts changed: $(q -c "SELECT hostile.counts()") (was $(q -c "SELECT hostile.state_get('counts')"))"
fi
bad=$(q -c "SELECT hostile.capacity_problems()" 2>&1)
if [ -z "$bad" ]; then ok "every section's seat counter matches its hold rows"; else notok "seat counters drift: $bad"; fi

ok "took $(( $(date +%s) - t0 )) s"
[ "$fails" = 0 ]
