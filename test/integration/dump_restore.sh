#!/usr/bin/env bash
# dump_restore: a logical backup restores a working system. A database with tenants,
# events, sections, tiers, active and confirmed holds, outbox and audit rows, content,
# reviews and schedules (test/lib/restore_seed.sql) is dumped with pg_dump -Fc and
# restored the documented way (README "Backup and restore") into a fresh database of
# the same cluster and into a fresh cluster. Every table comes back row for row
# (counts and checksums, test/lib/table_checksums.sql), sequences go on, the shared seat
# counters are exact (the remaining seats can be reserved, one more is refused) and new
# writes work (test/lib/restore_checks.sql). A plain pg_restore without replica mode
# fails loudly and says how to restore; a data-only restore with triggers disabled is
# completed by eventsvc.rebuild_derived().
set -uo pipefail
. "$EVS_SRC/test/lib/cluster.sh"
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; fails=$((fails + 1)); }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
W=$EVS_WORK/dump_restore
mkdir -p "$W"; [ "$(id -u)" = 0 ] && chown postgres "$W"
SUMS=$EVS_SRC/test/lib/table_checksums.sql
CHECKS=$EVS_SRC/test/lib/restore_checks.sql

same_rows() { # what, sums file A, sums file B
    if diff -u "$2" "$3" >"$W/sums.diff"; then
        ok "$1: all $(grep -vc '_seq ' "$2") tables and $(grep -c '_seq ' "$2") sequences equal (row counts and checksums)"
    else
        head -40 "$W/sums.diff"; nok "$1: tables differ (diff above: - source, + restored)"
    fi
}
behaves() { # what, database
    q -d "$2" -f "$CHECKS" >"$W/checks_$2.txt" 2>&1
    if diff -u "$EVS_SRC/test/lib/restore_checks.expected" "$W/checks_$2.txt" >"$W/checks.diff"; then
        ok "$1: seats exact (remaining reserved, one more refused), restored holds confirm, new writes keep their keys apart"
    else
        cat "$W/checks.diff"; nok "$1: behaviour after restore (diff above: - expected, + got)"
    fi
}

# --- the source database
q -d postgres -c "CREATE DATABASE dr_source"
q -d dr_source -c "CREATE EXTENSION eventsvc CASCADE" 2>/dev/null
q -d dr_source -f "$EVS_SRC/test/lib/restore_seed.sql" >/dev/null || { nok "seeding the source database"; exit 1; }
q -d dr_source -f "$SUMS" >"$W/sums_source.txt"
[ "$(grep -c '^eventsvc\.capacity_holds 5 ' "$W/sums_source.txt")" = 1 ] && [ "$(grep -c '^eventsvc\.outbox 0 ' "$W/sums_source.txt")" = 0 ] \
    && ok "the source has holds, outbox, audit, content, schedules ($(awk '{s += $2} END {print s}' "$W/sums_source.txt") rows)" \
    || nok "the source database is not seeded as expected"

# Every table is either dumped (pg_extension_config_dump) or derived (rebuilt).
missing=$(q -d dr_source -c "SELECT coalesce(string_agg(c.oid::regclass::text, ', '), 'none')
    FROM pg_class c, pg_extension x
    WHERE x.extname = 'eventsvc' AND c.relnamespace = 'eventsvc'::regnamespace AND c.relkind IN ('r', 'p')
      AND NOT c.oid = ANY (x.extconfig) AND c.oid NOT IN (SELECT eventsvc.derived_tables())")
[ "$missing" = none ] && ok "every eventsvc table is in the dump or derived from one that is" \
    || nok "tables neither dumped nor derived: $missing"
dumped_derived=$(q -d dr_source -c "SELECT count(*) FROM eventsvc.derived_tables() d, pg_extension x
    WHERE x.extname = 'eventsvc' AND d = ANY (x.extconfig)")
[ "$dumped_derived" = 0 ] && ok "derived tables are left out of the dump" || nok "a derived table is dumped"

# --- dump
if "$EVS_BIN/pg_dump" -Fc -d dr_source -f "$W/source.pgc" 2>"$W/dump.err" && [ ! -s "$W/dump.err" ]; then
    ok "pg_dump -Fc exits 0 and prints nothing"
else
    cat "$W/dump.err"; nok "pg_dump -Fc exits 0 and prints nothing"
fi

# --- restore into a fresh database of the same cluster, as README says
q -d postgres -c "CREATE DATABASE dr_restored"
if PGOPTIONS='-c session_replication_role=replica' "$EVS_BIN/pg_restore" -d dr_restored "$W/source.pgc" 2>"$W/restore.err" \
   && [ ! -s "$W/restore.err" ]; then
    ok "pg_restore in replica mode into a fresh database exits 0 and prints nothing"
else
    cat "$W/restore.err"; nok "pg_restore in replica mode into a fresh database"
fi
q -d dr_restored -f "$SUMS" >"$W/sums_restored.txt"
same_rows "fresh database" "$W/sums_source.txt" "$W/sums_restored.txt"
# the derived tables match a rebuild from their sources
q -d dr_restored -c "SELECT eventsvc.rebuild_derived()" >/dev/null || nok "rebuild_derived() runs"
q -d dr_restored -f "$SUMS" >"$W/sums_rebuilt.txt"
if diff <(grep -E 'event_search_documents|event_rating_summaries' "$W/sums_restored.txt") \
        <(grep -E 'event_search_documents|event_rating_summaries' "$W/sums_rebuilt.txt") >/dev/null; then
    ok "the derived tables as restored equal a rebuild from their sources"
else
    nok "the derived tables as restored differ from a rebuild"
fi

behaves "fresh database" dr_restored

# --- a plain pg_restore (triggers on) fails loudly and says how to restore
q -d postgres -c "CREATE DATABASE dr_plain"
"$EVS_BIN/pg_restore" -d dr_plain "$W/source.pgc" 2>"$W/plain.err"; rc=$?
if [ "$rc" != 0 ] && grep -q "session_replication_role=replica" "$W/plain.err" \
   && grep -q 'README "Backup and restore"' "$W/plain.err"; then
    ok "a plain pg_restore exits $rc with errors that name the way to restore"
else
    head -20 "$W/plain.err"; nok "a plain pg_restore fails loudly with a hint (exit $rc)"
fi

# --- data-only restore with triggers disabled into a database with the extension: the
# derived tables stay empty until eventsvc.rebuild_derived()
q -d postgres -c "CREATE DATABASE dr_dataonly"
q -d dr_dataonly -c "CREATE EXTENSION eventsvc CASCADE" 2>/dev/null
"$EVS_BIN/pg_restore" --data-only --disable-triggers -d dr_dataonly "$W/source.pgc" 2>"$W/dataonly.err" \
    || { cat "$W/dataonly.err"; nok "data-only restore with --disable-triggers"; }
docs=$(q -d dr_dataonly -c "SELECT count(*) FROM eventsvc.event_search_documents")
q -d dr_dataonly -c "SELECT eventsvc.rebuild_derived()" >/dev/null
q -d dr_dataonly -f "$SUMS" >"$W/sums_dataonly.txt"
[ "$docs" = 0 ] && ok "data-only with --disable-triggers: derived tables empty before the rebuild" \
    || nok "data-only restore: expected no search documents before the rebuild, got $docs"
same_rows "data-only restore + rebuild_derived()" "$W/sums_source.txt" "$W/sums_dataonly.txt"
behaves "data-only restore" dr_dataonly

# --- a fresh cluster (new roles, new shared memory): restore, compare, use
(
    fails=0
    evs_start "$W/cluster2" "$EVS_BIN" >/dev/null || exit 1
    trap 'evs_stop "$W/cluster2"' EXIT
    q -d postgres -c "CREATE DATABASE dr_cluster2"
    if PGOPTIONS='-c session_replication_role=replica' "$EVS_BIN/pg_restore" -d dr_cluster2 "$W/source.pgc" 2>"$W/restore2.err" \
       && [ ! -s "$W/restore2.err" ]; then
        ok "pg_restore in replica mode into a fresh cluster exits 0 and prints nothing"
    else
        cat "$W/restore2.err"; nok "pg_restore into a fresh cluster"
    fi
    q -d dr_cluster2 -f "$SUMS" >"$W/sums_cluster2.txt"
    same_rows "fresh cluster" "$W/sums_source.txt" "$W/sums_cluster2.txt"
    behaves "fresh cluster" dr_cluster2
    exit "$fails"
)
fails=$((fails + $?))

[ "$fails" = 0 ]
