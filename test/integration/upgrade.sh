#!/usr/bin/env bash
# Upgrades: every released version installs, and ALTER EXTENSION eventsvc UPDATE from it
# leaves exactly the schema a fresh install of the current version has (every object
# and its definition, test/lib/ext_fingerprint.sql). With data: a database of each
# released version is filled through its API by a library of that version (this
# tree's code built to say so), as a server running that release would have filled it
# (test/lib/restore_seed.sql: tenants, events, sections, tiers, active and confirmed
# holds, outbox, audit, content, schedules). Then the server gets the new library, as
# after installing new binaries: until ALTER EXTENSION eventsvc UPDATE the API refuses
# with PT503 and a hint, and the worker waits without an error; after it, every row is
# kept (test/lib/table_checksums.sql) and the system behaves
# (test/lib/restore_checks.sql: the remaining seats can be reserved and one more is
# refused, a hold active before the update is confirmed after it, new writes keep
# their keys apart), and a session that was refused works without reconnecting.
set -uo pipefail
. "$EVS_SRC/test/lib/cluster.sh"
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; fails=$((fails + 1)); }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$EVS_SRC/eventsvc.control")
psql -X -q -d postgres -c "CREATE DATABASE upg_fresh"
q -d upg_fresh -c "CREATE EXTENSION eventsvc CASCADE" || nok "fresh install of $current"
q -d upg_fresh -f "$EVS_SRC/test/lib/ext_fingerprint.sql" > "$EVS_WORK/fp_fresh.txt"
[ "$(wc -l < "$EVS_WORK/fp_fresh.txt")" -gt 500 ] && ok "the fingerprint of $current has $(wc -l < "$EVS_WORK/fp_fresh.txt") lines" \
    || nok "the fingerprint is too short to mean anything"

for f in "$EVS_SRC"/sql/released/eventsvc--*.sql; do
    v=$(basename "$f" .sql); v=${v#eventsvc--}
    [ "$v" = "$current" ] && continue
    db="upg_from_${v//./_}"
    psql -X -q -d postgres -c "CREATE DATABASE $db"
    if q -d "$db" -c "CREATE EXTENSION eventsvc VERSION '$v' CASCADE"; then ok "released $v installs"; else nok "released $v installs"; continue; fi
    if q -d "$db" -c "ALTER EXTENSION eventsvc UPDATE"; then ok "ALTER EXTENSION eventsvc UPDATE from $v"; else nok "ALTER EXTENSION eventsvc UPDATE from $v"; continue; fi
    [ "$(q -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'eventsvc'")" = "$current" ] \
        && ok "$v is now $current" || nok "$v is now $current"
    q -d "$db" -f "$EVS_SRC/test/lib/ext_fingerprint.sql" > "$EVS_WORK/fp_$v.txt"
    if diff -u "$EVS_WORK/fp_fresh.txt" "$EVS_WORK/fp_$v.txt" > "$EVS_WORK/fp_$v.diff"; then
        ok "upgraded from $v: every object equals a fresh $current install"
    else
        head -80 "$EVS_WORK/fp_$v.diff"
        nok "upgraded from $v: schema differs from a fresh $current install (diff above: - fresh, + upgraded)"
    fi
done

# --- with data
LIBDIR=$(dirname "$EVS_BIN")/lib
cp "$LIBDIR/eventsvc.so" "$EVS_WORK/eventsvc_current.so"
restart() { evs_as_owner "$EVS_BIN/pg_ctl" -D "$EVS_DATA" -l "$EVS_DATA.log" -w -t 60 -m fast restart >/dev/null; }
settings=()
cleanup() {
    install -m 0755 "$EVS_WORK/eventsvc_current.so" "$LIBDIR/eventsvc.so"
    for s in "${settings[@]}"; do psql -X -q -d postgres -c "ALTER SYSTEM RESET $s" >/dev/null 2>&1; done
    restart
}
trap cleanup EXIT
wait_for() { # sql expected seconds
    local i got
    for i in $(seq 1 $(($3 * 5))); do got=$(q "${@:4}" -c "$1" 2>/dev/null); [ "$got" = "$2" ] && return 0; sleep 0.2; done
    echo "  (waited $3 s for [$1] = [$2], last [$got])"; return 1
}

for f in "$EVS_SRC"/sql/released/eventsvc--*.sql; do
    v=$(basename "$f" .sql); v=${v#eventsvc--}
    [ "$v" = "$current" ] && continue
    db="upg_data_${v//./_}"
    # the library of release $v: this code, built to serve schema $v
    rm -rf "$EVS_WORK/lib_$v"; cp -a "$EVS_SRC" "$EVS_WORK/lib_$v"; touch "$EVS_WORK/lib_$v/src/core/version.c"
    if ! make -s -C "$EVS_WORK/lib_$v" EXTVERSION="$v" eventsvc.so >"$EVS_WORK/lib_$v.log" 2>&1; then
        cat "$EVS_WORK/lib_$v.log"; nok "$v with data: building a library that serves $v"; continue
    fi
    install -m 0755 "$EVS_WORK/lib_$v/eventsvc.so" "$LIBDIR/eventsvc.so" && restart
    psql -X -q -d postgres -c "CREATE DATABASE $db"
    q -d "$db" -c "CREATE EXTENSION eventsvc VERSION '$v' CASCADE" 2>/dev/null
    [ "$(q -d "$db" -c "CREATE FUNCTION pg_temp.library_version() RETURNS text AS '\$libdir/eventsvc', 'evs_sql_library_version' LANGUAGE C" \
           -c "SELECT pg_temp.library_version()")" = "$v" ] && ok "$v with data: the server runs a library that serves $v" \
        || nok "$v with data: the server runs a library that serves $v"
    if ! q -d "$db" -f "$EVS_SRC/test/lib/restore_seed.sql" >"$EVS_WORK/seed_$v.out" 2>&1; then
        cat "$EVS_WORK/seed_$v.out"; nok "$v with data: seeding through the $v API"; continue
    fi
    ok "$v with data: tenants, events, holds, outbox, audit, content made by the $v library"
    q -d "$db" -f "$EVS_SRC/test/lib/table_checksums.sql" -v category_ids_moved=1 >"$EVS_WORK/sums_before_$v.txt"
    cats="SELECT string_agg(e.name || ':' || coalesce(c.slug, '-') || ':' || coalesce(p.slug, '-'), ', ' ORDER BY e.name)
            FROM eventsvc.events e LEFT JOIN eventsvc.event_categories c ON c.id = e.primary_category_id
            LEFT JOIN eventsvc.event_categories p ON p.id = c.parent_id"
    cats_before=$(q -d "$db" -c "$cats")

    # new binaries: the current library, with the worker configured for this database
    # (and a broker port where nothing listens)
    install -m 0755 "$EVS_WORK/eventsvc_current.so" "$LIBDIR/eventsvc.so"
    for kv in "eventsvc.database=$db" "eventsvc.amqp_port=$(evs_free_port)"; do
        psql -X -q -d postgres -c "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'" >/dev/null; settings+=("${kv%%=*}")
    done
    L0=$(wc -l <"$EVS_DATA.log")
    restart
    wait_for "SELECT state FROM api.worker_status" waiting_for_update 15 -d "$db" \
        && ok "$v with data, new library: the worker waits (state waiting_for_update)" \
        || nok "$v with data, new library: the worker waits for the update"
    sleep 1
    seg=$(tail -n +"$((L0 + 1))" "$EVS_DATA.log")
    grep -q "database \"$db\" has eventsvc $v, this server's library is $current; waiting for ALTER EXTENSION eventsvc UPDATE" <<<"$seg" \
        && ok "$v with data, new library: the worker says once in the log what it waits for" \
        || { echo "$seg" | tail -5; nok "$v with data, new library: a log line saying what the worker waits for"; }
    [ "$(grep -c 'waiting for ALTER EXTENSION' <<<"$seg")" = 1 ] && ! grep -q 'ERROR' <<<"$seg" \
        && ok "$v with data, new library: no ERROR in the log while it waits" \
        || { grep 'ERROR' <<<"$seg" | head -3; nok "$v with data, new library: the waiting worker writes no ERROR"; }
    # a session opened before the update is refused, with the command to run; after the
    # update (from another session) the same session works
    # the update and the rows right after it, in one transaction (the worker starts
    # working at its commit: the cancellation saga of the seed then moves on)
    # (columns the update adds with a default are left out of the comparison, by name)
    columns="SELECT c.relname || '.' || a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              WHERE c.relnamespace = 'eventsvc'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
    columns_before=$(q -d "$db" -c "SELECT coalesce(jsonb_agg(x), '[]') FROM ($columns) s(x)")
    printf '%s\n' 'BEGIN;' 'ALTER EXTENSION eventsvc UPDATE;' \
        "SELECT coalesce(jsonb_object_agg(t, cols), '{}') AS added_columns FROM (SELECT split_part(x, '.', 1) t, jsonb_agg(split_part(x, '.', 2)) cols FROM ($columns) s(x) WHERE NOT '$columns_before'::jsonb ? x GROUP BY 1) a \\gset" \
        "\\i $EVS_SRC/test/lib/table_checksums.sql" 'COMMIT;' >"$EVS_WORK/update_$v.sql"
    refused=$(psql -X -q -At -d "$db" 2>&1 <<SQL
\\set VERBOSITY verbose
SET ROLE eventsvc_user;
SET app.current_tenant_id = 'a5eed000-0000-4000-8000-000000000001';
SELECT count(*) FROM api.holds;
SELECT to_jsonb(api.reserve_capacity((SELECT id FROM api.event_sections WHERE section_name = 'Floor'), 1)) IS NOT NULL AS before_update;
RESET ROLE;
\\! psql -X -q -At -v ON_ERROR_STOP=1 -v category_ids_moved=1 -d $db -f $EVS_WORK/update_$v.sql >$EVS_WORK/sums_after_all_$v.txt
SET ROLE eventsvc_user;
SELECT 'after_update ' || (to_jsonb(api.calculate_price((SELECT id FROM api.event_pricing_tiers WHERE name = 'Floor GA'), 2)) IS NOT NULL);
SQL
)
    grep -q "ERROR:  PT503: eventsvc $v is installed in this database, but the server runs the eventsvc $current library" <<<"$refused" \
        && grep -q "HINT:  Run ALTER EXTENSION eventsvc UPDATE in database \"$db\"" <<<"$refused" \
        && ok "$v with data, new library: the API refuses with PT503 and says to run ALTER EXTENSION eventsvc UPDATE" \
        || { echo "$refused" | head -12; nok "$v with data, new library: the API refuses with a clear error"; }
    grep -qx "after_update true" <<<"$refused" \
        && ok "$v with data: after the update the same session is served (no reconnect)" \
        || { echo "$refused" | tail -5; nok "$v with data: the refused session works after the update"; }
    wait_for "SELECT state <> 'waiting_for_update' FROM api.worker_status" t 15 -d "$db" \
        && grep -q "eventsvc worker: eventsvc $current is installed in database \"$db\"; working" <(tail -n +"$((L0 + 1))" "$EVS_DATA.log") \
        && ok "$v with data: after the update the worker works again, and says so" \
        || nok "$v with data: the worker resumes after the update"
    [ "$(q -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'eventsvc'")" = "$current" ] \
        && ok "$v with data: ALTER EXTENSION eventsvc UPDATE" || nok "$v with data: ALTER EXTENSION eventsvc UPDATE"
    # tables the update creates hold what a fresh install seeds, but for the counter rows and
    # event customers it counts from the holds (restore_checks.sql compares them with the
    # holds); the others keep every row (columns it adds are null)
    q -d upg_fresh -f "$EVS_SRC/test/lib/table_checksums.sql" >"$EVS_WORK/sums_fresh.txt"
    new_tables=$(awk 'FILENAME == ARGV[1] { seen[$1] = 1; next } FILENAME == ARGV[2] { fresh[$1] = $2; next }
                      !($1 in seen) && $1 !~ /_seq$/ && $2 != fresh[$1] \
                      && $1 != "eventsvc.section_counters" && $1 != "eventsvc.event_customers" \
                      { print $1 " (" $2 " rows, fresh " fresh[$1] ")" }' \
                     "$EVS_WORK/sums_before_$v.txt" "$EVS_WORK/sums_fresh.txt" "$EVS_WORK/sums_after_all_$v.txt")
    [ -z "$new_tables" ] && ok "$v with data: the tables the update creates hold what a fresh install has" \
        || nok "$v with data: new tables with other rows than a fresh install: $new_tables"
    awk 'NR == FNR { seen[$1] = 1; next } $1 in seen' "$EVS_WORK/sums_before_$v.txt" "$EVS_WORK/sums_after_all_$v.txt" \
        >"$EVS_WORK/sums_after_$v.txt"
    if diff -u "$EVS_WORK/sums_before_$v.txt" "$EVS_WORK/sums_after_$v.txt" >"$EVS_WORK/sums_$v.diff"; then
        ok "$v with data: every row of $(grep -vc '_seq ' "$EVS_WORK/sums_before_$v.txt") tables kept ($(awk '{s += $2} END {print s}' "$EVS_WORK/sums_before_$v.txt") rows, checksums equal)"
    else
        cat "$EVS_WORK/sums_$v.diff"; nok "$v with data: rows changed by the update (diff above)"
    fi
    [ "$(q -d "$db" -c "$cats")" = "$cats_before" ] && ok "$v with data: events keep their categories ($cats_before)" \
        || nok "$v with data: categories of events changed: $(q -d "$db" -c "$cats") (was $cats_before)"
    seeded=$(q -d "$db" -c "SELECT count(*) FROM eventsvc.event_categories
                             WHERE id BETWEEN 'ca7e9000-0000-4000-8000-000000000000' AND 'ca7e9000-0000-4000-8000-0000000000ff'")
    [ "$seeded" = "$(q -d upg_fresh -c "SELECT count(*) FROM eventsvc.event_categories")" ] \
        && ok "$v with data: the seeded categories have the ids of a fresh install ($seeded)" \
        || nok "$v with data: seeded categories with fixed ids: $seeded"
    q -d "$db" -f "$EVS_SRC/test/lib/restore_checks.sql" >"$EVS_WORK/checks_$v.txt" 2>&1
    if diff -u "$EVS_SRC/test/lib/restore_checks.expected" "$EVS_WORK/checks_$v.txt"; then
        ok "$v with data: after the update seats are exact, holds confirm, new writes work"
    else
        nok "$v with data: behaviour after the update (diff above: - expected, + got)"
    fi
done

[ "$fails" = 0 ]
