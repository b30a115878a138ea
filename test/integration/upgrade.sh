#!/usr/bin/env bash
# Upgrades: every released version installs, and ALTER EXTENSION eventsvc UPDATE from it
# leaves exactly the schema a fresh install of the current version has (every object
# and its definition, test/lib/ext_fingerprint.sql), with the data kept.
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

[ "$fails" = 0 ]
