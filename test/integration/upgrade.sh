#!/usr/bin/env bash
# Upgrades: every released version installs, and ALTER EXTENSION eventsvc UPDATE from it
# leaves exactly the schema a fresh install of the current version has (every object
# and its definition, test/lib/ext_fingerprint.sql). With data: a database of each
# released version, filled through its API while the server already runs the new
# library (test/lib/restore_seed.sql: tenants, events, sections, tiers, active and
# confirmed holds, outbox, audit, content, schedules), keeps every row through the
# update (test/lib/table_checksums.sql) and then behaves (test/lib/restore_checks.sql:
# the remaining seats can be reserved and one more is refused, a hold active before
# the update is confirmed after it, new writes keep their keys apart).
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
for f in "$EVS_SRC"/sql/released/eventsvc--*.sql; do
    v=$(basename "$f" .sql); v=${v#eventsvc--}
    [ "$v" = "$current" ] && continue
    db="upg_data_${v//./_}"
    psql -X -q -d postgres -c "CREATE DATABASE $db"
    q -d "$db" -c "CREATE EXTENSION eventsvc VERSION '$v' CASCADE" 2>/dev/null
    if ! q -d "$db" -f "$EVS_SRC/test/lib/restore_seed.sql" >"$EVS_WORK/seed_$v.out" 2>&1; then
        cat "$EVS_WORK/seed_$v.out"; nok "$v with data: seeding through the $v API"; continue
    fi
    q -d "$db" -f "$EVS_SRC/test/lib/table_checksums.sql" -v category_ids_moved=1 >"$EVS_WORK/sums_before_$v.txt"
    cats="SELECT string_agg(e.name || ':' || coalesce(c.slug, '-') || ':' || coalesce(p.slug, '-'), ', ' ORDER BY e.name)
            FROM eventsvc.events e LEFT JOIN eventsvc.event_categories c ON c.id = e.primary_category_id
            LEFT JOIN eventsvc.event_categories p ON p.id = c.parent_id"
    cats_before=$(q -d "$db" -c "$cats")
    if q -d "$db" -c "ALTER EXTENSION eventsvc UPDATE"; then ok "$v with data: ALTER EXTENSION eventsvc UPDATE"
    else nok "$v with data: ALTER EXTENSION eventsvc UPDATE"; continue; fi
    q -d "$db" -f "$EVS_SRC/test/lib/table_checksums.sql" -v category_ids_moved=1 >"$EVS_WORK/sums_after_all_$v.txt"
    # tables the update creates start empty; the others keep every row (columns it adds are null)
    new_tables=$(awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen) && $2 != 0 { print $1 }' \
                     "$EVS_WORK/sums_before_$v.txt" "$EVS_WORK/sums_after_all_$v.txt")
    [ -z "$new_tables" ] && ok "$v with data: the tables the update creates are empty" \
        || nok "$v with data: new tables with rows after the update: $new_tables"
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
