#!/usr/bin/env bash
# Shared seat counters are a bounded table with a fair share per tenant. On a
# server with room for 8 counters and 3 per tenant:
#   - a tenant reserving in 5 sections gets 3 counters; its other 2 sections sell
#     on the row-lock path, exactly (filled to the last seat, one more refused);
#   - another tenant still gets its 3: the first cannot take them;
#   - once the first tenant's counters are idle, its new sections take over its own
#     counters, never the other tenant's busy ones;
#   - when the table is full, a new tenant's section takes over an idle counter of
#     whoever used it least recently;
#   - a section that lost its counter and gets one again counts from its rows: no
#     drift anywhere, nothing oversold, the counter rows agree with the holds.
set -uo pipefail
. "$EVS_SRC/test/lib/cluster.sh"
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; fails=$((fails + 1)); }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1: got '$2', want '$3'"; fi; }

DATA=$EVS_WORK/fair/data
evs_start "$DATA" "$EVS_BIN" "eventsvc.escrow_max_sections = 8" "eventsvc.escrow_sections_per_tenant = 3" \
    >/dev/null || { echo "not ok - start a server with 8 counters"; exit 1; }
trap 'evs_stop "$DATA" "$EVS_BIN"' EXIT
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d fair "$@"; }
psql -X -q -d postgres -c "CREATE DATABASE fair"
q -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null 2>&1

# tenants t1..t4, one event each with sections 1..6 of 5 seats:
# tenant t, section s has id f0000000-000t-4000-8000-00000000000s
q >/dev/null <<'SQL'
SELECT eventsvc.create_tenant('Fair ' || t, 'fair-' || t, ('f0000000-0000-4000-8000-00000000000' || t)::uuid)
  FROM generate_series(1, 4) t;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
SELECT ('f0000000-0000-4000-8000-00000000000' || t)::uuid, ('f0000000-000' || t || '-4000-8000-0000000000a1')::uuid, 'Hall', 100
  FROM generate_series(1, 4) t;
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
SELECT ('f0000000-0000-4000-8000-00000000000' || t)::uuid, ('f0000000-000' || t || '-4000-8000-0000000000e1')::uuid,
       ('f0000000-000' || t || '-4000-8000-0000000000a1')::uuid, 'Night', 'night', 'ON_SALE'
  FROM generate_series(1, 4) t;
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
SELECT ('f0000000-0000-4000-8000-00000000000' || t)::uuid, ('f0000000-000' || t || '-4000-8000-00000000000' || s)::uuid,
       ('f0000000-000' || t || '-4000-8000-0000000000e1')::uuid, 'S' || s, 5, 5
  FROM generate_series(1, 4) t, generate_series(1, 6) s;
SQL
sec() { echo "f0000000-000$1-4000-8000-00000000000$2"; }
# reserve t s n: ok or the SQLSTATE
reserve() {
    q -c "SET app.current_tenant_id = 'f0000000-0000-4000-8000-00000000000$1'" -c "DO \$\$ BEGIN
          PERFORM to_jsonb(api.reserve_capacity('$(sec "$1" "$2")', $3, holder_id => 'h$RANDOM'));
          RAISE NOTICE 'result ok'; EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'result %', SQLSTATE; END \$\$" 2>&1 \
        | sed -n 's/.*result //p'
}
state() { q -c "SELECT coalesce(eventsvc.escrow_state('$(sec "$1" "$2")') ->> 'state', 'none')"; }
states() { local t=$1 out="" s; shift; for s in "$@"; do out="$out$(state "$t" "$s") "; done; echo "${out% }"; }

# 1. tenant 1 in five sections: three counters, two row-lock sections
for s in 1 2 3 4 5; do r=$(reserve 1 $s 2); [ "$r" = ok ] || nok "tenant 1 reserves in section $s: $r"; done
expect "tenant 1 holds 3 counters (its share): two of its reserved sections have none" \
    "$(states 1 1 2 3 4 5 | tr ' ' '\n' | sort | uniq -c | awk '{printf "%s %s,", $1, $2}')" "2 none,3 valid,"
none=$(for s in 1 2 3 4 5; do [ "$(state 1 $s)" = none ] && echo $s; done | head -1)
expect "a row-lock section (section $none) sells its last 3 seats" "$(reserve 1 "$none" 3)" ok
expect "and refuses one more (exact without a counter)" "$(reserve 1 "$none" 1)" PT409

# 2. tenant 2 still gets its share
for s in 1 2 3; do r=$(reserve 2 $s 1); [ "$r" = ok ] || nok "tenant 2 reserves in section $s: $r"; done
expect "tenant 2 gets 3 counters although tenant 1 wants more" "$(states 2 1 2 3)" "valid valid valid"

# 3. idle for a while: tenant 1's new section takes over one of its own counters, not tenant 2's
sleep 2
for s in 1 2 3; do reserve 2 $s 1 >/dev/null; done    # tenant 2's counters are in use
expect "tenant 1's section 6 gets a counter" "$(reserve 1 6 2; state 1 6)" "ok
valid"
expect "tenant 2 keeps all three" "$(states 2 1 2 3)" "valid valid valid"
expect "tenant 1 still holds three" "$(q -c "SELECT count(*) FROM unnest(ARRAY[$(for s in 1 2 3 4 5 6; do printf "'%s'," "$(sec 1 $s)"; done | sed 's/,$//')]::uuid[]) x
                                           WHERE eventsvc.escrow_state(x) IS NOT NULL")" 3

# 4. a full table: tenants 3 and 4 take the free slots, then idle ones of anyone
for s in 1 2; do reserve 3 $s 1 >/dev/null; done
expect "the table is full" "$(q -c "SELECT (eventsvc.escrow_sections() ->> 'free')")" 0
sleep 2
expect "tenant 4's section takes over an idle counter" "$(reserve 4 1 1; state 4 1)" "ok
valid"

# 5. a section that lost its counter counts right when it gets one again
sleep 2
for s in 1 2 3 4 5 6; do reserve 1 $s 1 >/dev/null; done
for t in 1 2 3 4; do for s in 1 2 3 4 5 6; do
    left=$(q -c "SET app.current_tenant_id = 'f0000000-0000-4000-8000-00000000000$t'" \
              -c "SELECT available FROM api.section_availability WHERE capacity_id = '$(sec $t $s)'")
    if [ "$left" -gt 0 ]; then r=$(reserve $t $s "$left"); [ "$r" = ok ] || nok "t$t s$s: the last $left seats: $r"; fi
    r=$(reserve $t $s 1); [ "$r" = PT409 ] || nok "t$t s$s: one seat past the last is refused: $r"
done; done
ok "every section sold to its last seat, and not one more"
bad=$(q -c "SELECT string_agg(c.section_name || '@' || c.tenant_id, ', ')
              FROM eventsvc.event_capacity c, LATERAL (SELECT set_config('app.current_tenant_id', c.tenant_id::text, true)) s,
                   LATERAL eventsvc.check_capacity(c.id) r
             WHERE coalesce((r->>'drift')::int, 0) <> 0 OR (r->'rows'->>'drift')::int <> 0 OR NOT (r->'rows'->>'agree')::bool
                OR (r->>'oversold')::bool OR (r->>'held')::int + (r->>'sold')::int <> 5")
expect "every section: all 5 seats taken, no drift, counter rows agree, nothing oversold" "$bad" ""
[ "$fails" = 0 ]
