#!/usr/bin/env bash
# View counter under concurrency: 8 pgbench clients record views of one event as
# the anonymous role; every view must be counted (no lost increments), the event
# row must stay untouched (version 1, no audit entries), and the counts spread
# over several shard rows. Prints the measured rate.
set -uo pipefail
. "$EVS_SRC/test/lib/cluster.sh"
fails=0
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d disc_views "$@"; }
expect() { # description, got, want
    if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: got '$2', want '$3'"; fails=$((fails + 1)); fi
}

CLIENTS=8 PER_CLIENT=500
EVENT=d1111111-0000-4000-8000-0000000000e1
psql -X -q -d postgres -c "CREATE DATABASE disc_views"
q -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null
q >/dev/null <<SQL
SELECT eventsvc.create_tenant('Views', 'views', 'd1111111-1111-4111-8111-111111111111');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('d1111111-1111-4111-8111-111111111111', 'd1111111-0000-4000-8000-000000000001', 'Views Hall', 100);
SET eventsvc.import_mode = on;   -- a fixture on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('d1111111-1111-4111-8111-111111111111', '$EVENT', 'd1111111-0000-4000-8000-000000000001',
        'Popular Show', 'popular-show', 'ON_SALE');
SQL
audit_before=$(q -c "SELECT count(*) FROM eventsvc.event_audit_log")

cat >"$EVS_WORK/views.sql" <<SQL
SET ROLE eventsvc_anon;
SELECT api.record_view('$EVENT');
SQL
PGBENCH="$EVS_SYSBIN/pgbench"
out=$("$PGBENCH" -n -c "$CLIENTS" -j 2 -t "$PER_CLIENT" -f "$EVS_WORK/views.sql" disc_views 2>&1)
st=$?
expect "pgbench ran without errors" "$st" 0
failed=$(grep -oE 'number of failed transactions: [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
expect "no transaction failed" "${failed:-0}" 0
tps=$(grep -oE 'tps = [0-9.]+ \(without initial connection time\)' <<<"$out" | grep -oE '[0-9.]+' | head -1)
echo "# $CLIENTS clients x $PER_CLIENT views: ${tps:-?} views/s"

expect "every view counted (no lost increments)" \
    "$(q -c "SET ROLE eventsvc_anon" -c "SELECT api.event_view_count('$EVENT')")" $((CLIENTS * PER_CLIENT))
shards=$(q -c "SELECT count(*) FROM eventsvc.event_view_counts WHERE event_id = '$EVENT'")
[ "$shards" -gt 1 ] && echo "ok - views spread over $shards shard rows" || { echo "not ok - one shard row only"; fails=$((fails + 1)); }
expect "the event row was not rewritten (version 1)" "$(q -c "SELECT version FROM eventsvc.events WHERE id = '$EVENT'")" 1
expect "no audit entries for views" "$(q -c "SELECT count(*) FROM eventsvc.event_audit_log")" "$audit_before"

# A concurrent writer of the event is not blocked by the viewers and sees no conflict.
"$PGBENCH" -n -c 4 -j 2 -t 200 -f "$EVS_WORK/views.sql" disc_views >/dev/null 2>&1 &
bench=$!
expect "an event update during the views succeeds" \
    "$(q -c "UPDATE eventsvc.events SET short_description = 'Now with encore' WHERE id = '$EVENT' RETURNING version")" 2
wait "$bench"
expect "views during the update were all counted" \
    "$(q -c "SELECT sum(views) FROM eventsvc.event_view_counts WHERE event_id = '$EVENT'")" $((CLIENTS * PER_CLIENT + 800))

[ "$fails" = 0 ]
