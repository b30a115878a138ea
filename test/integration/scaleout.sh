#!/usr/bin/env bash
# scaleout: the proxy (eventsvc_proxy, PL/Proxy) in front of two eventsvc shards, each
# a throwaway cluster (test/lib/scaleout.sh), and real PostgREST in front of the proxy
# with the same postgrest.conf. Shows:
#   - each tenant's rows on exactly one shard, the one its directory entry names;
#   - one shard entry per api function and view and one proxy function per api
#     function with the identical signature, computed from the catalogs (and a new
#     api function picked up by the generators without a change to them); the
#     computed relationships (embedding) made on the proxy over its own views;
#   - cross-tenant calls refused (with committed calls: tenant B's rows unchanged),
#     forged call contexts refused by the shard, a misrouted call refused (PT421);
#   - pooled shard connections keep no setting between calls and survive errors
#     (which come back without PL/Proxy's "REMOTE ERROR" prefix);
#   - the last seats raced over HTTP through the proxy: no oversell;
#   - a tenant moved between shards under load: every acknowledged sale there, no key
#     collision, its outbox still in order, seat counters right on both shards;
#   - ids unique across servers; reference data identical (and repaired); worker
#     status and health aggregated; the public catalogue read with filters and order
#     pushed down to the shards; the autocommit contract and dry runs (docs/api.md);
#   - every route over HTTP answering as on one server (test/integration/http_routes.sh
#     through the proxy, docs/api.md unchanged), the rate limits applied by the shards
#     (test/integration/http_rate_limits.sh through the proxy) and the hostile-input suite
#     (test/integration/hostile_inputs.sh) through the proxy.
set -uo pipefail
ROOT=$EVS_SRC
. "$ROOT/test/lib/cluster.sh"
. "$ROOT/test/lib/scaleout.sh"
. "$ROOT/test/lib/postgrest.sh"
fails=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1: expected '$3', got '$2'"; fi; }
W=$EVS_WORK/scaleout
mkdir -p "$W"
[ "$(id -u)" = 0 ] && chown postgres "$W"

evs_scaleout_start "$W/clusters" || { notok "start the proxy and two shards"; exit 1; }
cleanup() { evs_pgrst_stop; evs_scaleout_stop; }
trap cleanup EXIT
DB=scaleout
evs_scaleout_db "$DB" && evs_scaleout_join "$DB" || { notok "proxy and shards for $DB"; exit 1; }
ok "proxy and shards s1, s2 up: $(px $DB -c "SELECT string_agg(name || ' ' || array_length(partitions, 1) || ' partitions, id slot ' || slot, '; ' ORDER BY name) FROM eventsvc.shards")"

# ---------------------------------------------------------------- tenants and data
A=aaaaaaaa-1111-4111-8111-111111111111     # on s1
B=bbbbbbbb-2222-4222-8222-222222222222     # on s2
M=cccccccc-3333-4333-8333-333333333333     # on s1, moves to s2 under load and back
px $DB -c "SELECT eventsvc.create_tenant('Alpha', 'alpha', '$A', 's1'), eventsvc.create_tenant('Beta', 'beta', '$B', 's2'),
                  eventsvc.create_tenant('Mover', 'mover', '$M', 's1')" >/dev/null || notok "tenants created through the proxy"
s1 $DB -c "INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES ('$A', '$A', 'Alpha Hall', 100000), ('$M', '$M', 'Mover Dome', 100000)"
s2 $DB -c "INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES ('$B', '$B', 'Beta Hall', 100000)"
# as a tenant admin through the proxy: "call ROLE TENANT SQL..." prints the last result
call() { local role=$1 tenant=$2; shift 2; px $DB -c "SET ROLE $role" -c "SET app.current_tenant_id = '$tenant'" "$@"; }
event() { # tenant name seats -> "event section"
    call eventsvc_admin "$1" -c "SELECT e ->> 'id', e -> 'sections' -> 0 ->> 'id' FROM (SELECT api.create_event(venue_id => '$1',
        name => '$2', starts_at => date_trunc('hour', now()) + interval '30 days', ends_at => date_trunc('hour', now()) + interval '30 days 2 hours',
        sections => '[{\"section_name\": \"Floor\", \"total_capacity\": $3}]') AS e) x" -F ' '
}
read -r EA SA <<<"$(event $A 'Alpha Night' 5)"
read -r EB SB <<<"$(event $B 'Beta Night' 100)"
read -r EM SM <<<"$(event $M 'Mover Night' 100000)"
for x in "$A $EA" "$B $EB" "$M $EM"; do
    set -- $x
    call eventsvc_admin "$1" -c "SELECT api.publish_event('$2')" -c "SELECT api.transition_event('$2', 'ON_SALE')" >/dev/null
done
HB=$(call eventsvc_user $B -c "SELECT to_jsonb(api.reserve_capacity('$SB', 2)) ->> 'id'")
[ -n "$EA" ] && [ -n "$EB" ] && [ -n "$EM" ] && [ -n "$HB" ] && ok "events on sale for three tenants, made through the proxy" \
    || notok "seed through the proxy: '$EA' '$EB' '$EM' '$HB'"

# ---------------------------------------------------------------- placement
# Rows of tenant $2 in every tenant table of shard $1.
rows_of() {
    "$1" $DB -c "SELECT coalesce(sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s WHERE %I = %L',
                                     t.rel, t.tenant_column, '$2'), false, true, '')))[1]::text::bigint), 0)
                   FROM eventsvc.shard_tenant_tables() t"
}
placement_ok() {
    local bad='' t s rows on
    while IFS='|' read -r t s; do
        for on in s1 s2; do
            rows=$(rows_of $on "$t")
            if [ "$on" = "$s" ] && [ "$rows" -lt 1 ]; then bad+=" $t has no rows on $on;"; fi
            if [ "$on" != "$s" ] && [ "$rows" != 0 ]; then bad+=" $t has $rows rows on $on;"; fi
        done
    done < <(px $DB -c "SELECT id, eventsvc.shard_of(partition) FROM eventsvc.tenants ORDER BY id")
    echo "$bad"
}
bad=$(placement_ok)
[ -z "$bad" ] && ok "each tenant's rows are on exactly one shard, the one its directory entry names" || notok "placement:$bad"

# ---------------------------------------------------------------- generated from the catalogs
missing=$(s1 $DB -c "SELECT string_agg(x, ' ') FROM (
    SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS x FROM pg_proc p
     WHERE p.pronamespace = 'api'::regnamespace AND p.prokind = 'f' AND NOT eventsvc.is_api_relationship(p.oid)
    EXCEPT
    SELECT e.proname || '(' || regexp_replace(pg_get_function_identity_arguments(e.oid),
                                              '^evs_tenant uuid, evs_partition integer, evs_ctx jsonb(, )?', '') || ')'
      FROM pg_proc e WHERE e.pronamespace = 'eventsvc_shard'::regnamespace
    UNION ALL
    SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'r')
       AND to_regprocedure(format('eventsvc_shard.%I(uuid, integer, jsonb)', c.relname || '__rows')) IS NULL) m")
n_tenant=$(s1 $DB -c "SELECT count(*) FROM jsonb_array_elements(eventsvc.shard_api_catalog() -> 'functions') f WHERE f ->> 'route' = 'tenant'")
n_api=$(s1 $DB -c "SELECT count(*) FROM pg_proc WHERE pronamespace = 'api'::regnamespace")
[ -z "$missing" ] && [ "$n_tenant" -gt 25 ] && ok "every api function ($n_api, $n_tenant of them routed by tenant) and view has a shard entry with its arguments" \
    || notok "api functions or views without an entry: $missing"
# The proxy's api: the same signatures, volatility, strictness and grants as a shard's;
# the same views with the same columns and grants.
cat >"$W/surface.sql" <<'SQL'
SELECT 'f ' || p.proname || '(' || pg_get_function_arguments(p.oid) || ') -> ' || pg_get_function_result(p.oid)
       || ' ' || p.provolatile::text || p.proisstrict::text || ' ' || (SELECT string_agg(r, ',' ORDER BY r)
          FROM unnest(ARRAY['eventsvc_anon', 'eventsvc_user', 'eventsvc_admin', 'eventsvc_service', 'eventsvc_worker']) r
         WHERE has_function_privilege(r, p.oid, 'EXECUTE'))
  FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace
UNION ALL
SELECT 'v ' || c.relname || ' ' || (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
       || ' ' || (SELECT string_agg(r, ',' ORDER BY r)
          FROM unnest(ARRAY['eventsvc_anon', 'eventsvc_user', 'eventsvc_admin', 'eventsvc_service', 'eventsvc_worker']) r
         WHERE has_table_privilege(r, c.oid, 'SELECT'))
  FROM pg_class c WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'r')
ORDER BY 1;
SQL
s1 $DB -f "$W/surface.sql" >"$W/surface_shard.txt"
px $DB -f "$W/surface.sql" >"$W/surface_proxy.txt"
if [ "$(wc -l <"$W/surface_shard.txt")" -gt 50 ] && diff -u "$W/surface_shard.txt" "$W/surface_proxy.txt" >"$W/surface.diff"; then
    ok "the proxy's api has every shard function and view with the identical signature, columns and grants ($(wc -l <"$W/surface_proxy.txt") objects)"
else
    notok "the proxy's api differs from the shards' (- shard, + proxy):"; head -20 "$W/surface.diff"
fi
# Computed relationships (embedding): made on the proxy from the shards' SQL, over the
# proxy's views; each tenant sees its own rows embedded, through its own shard.
check "embedding through the proxy: tenant A's event with its section (computed relationship)" \
    "$(call eventsvc_user $A -c "SELECT e.name || ': ' || string_agg(s.section_name || ' ' || s.total_capacity, ', ') FROM api.events e, api.event_sections(e) s WHERE e.id = '$EA' GROUP BY e.name")" \
    "Alpha Night: Floor 5"
check "and tenant B's hold with its event (to-one), from the other shard" \
    "$(call eventsvc_user $B -c "SELECT string_agg(e.name, ',') FROM api.holds h, api.events(h) e WHERE h.id = '$HB'")" "Beta Night"
check "tenant B embeds none of tenant A's sections" \
    "$(call eventsvc_user $B -c "SELECT count(*) FROM api.events e, api.event_sections(e) s WHERE e.id = '$EA'")" 0
# A function someone adds later: the shards' generator (run at the end of every install and
# upgrade script) and the proxy's sync pick it up with no change to either.
for s in s1 s2; do
    $s $DB -c "CREATE FUNCTION api.zz_probe(event_id uuid) RETURNS text LANGUAGE sql STABLE
                   SET search_path = pg_catalog, pg_temp AS 'SELECT e.name FROM eventsvc.events e WHERE e.id = event_id'" \
           -c "REVOKE ALL ON FUNCTION api.zz_probe(uuid) FROM PUBLIC" -c "GRANT EXECUTE ON FUNCTION api.zz_probe(uuid) TO eventsvc_user" \
           -c "SELECT eventsvc.shard_generate_entries()" >/dev/null
done
changed=$(px $DB -c "SELECT eventsvc.sync_api() ->> 'changed'")
check "a new api function on the shards changes the api the proxy builds" "$changed" true
check "the new function answers through the proxy for its tenant" "$(call eventsvc_user $A -c "SELECT api.zz_probe('$EA')")" "Alpha Night"
check "and routes by tenant: another tenant's caller reaches its own shard, where RLS hides the row" "$(call eventsvc_user $B -c "SELECT coalesce(api.zz_probe('$EA'), 'none')")" none
for s in s1 s2; do $s $DB -c "DROP FUNCTION api.zz_probe(uuid)" -c "SELECT eventsvc.shard_generate_entries()" >/dev/null; done
px $DB -c "SELECT eventsvc.sync_api()" >/dev/null
check "and a function dropped on the shards leaves the proxy too" "$(px $DB -c "SELECT to_regprocedure('api.zz_probe(uuid)') IS NULL")" t

# ---------------------------------------------------------------- cross-tenant, forged, misrouted
b_digest() { s2 $DB -c "SELECT eventsvc.shard_tenant_digest('$B')"; }
HB_PRICE=$(call eventsvc_admin $B -c "SELECT api.create_pricing(event_id => '$EB', name => 'GA', base_price => 1000, capacity_id => '$SB') ->> 'id'")
before=$(b_digest)
refused=0; tried=0
for q in "SELECT api.get_event('$EB')" "SELECT api.update_event('$EB', 1, '{\"name\": \"Hijack\"}')" \
         "SELECT api.cancel_event('$EB', 'hijack')" "SELECT to_jsonb(api.reserve_capacity('$SB', 1))" \
         "SELECT to_jsonb(api.confirm_hold('$HB'))" "SELECT to_jsonb(api.release_hold('$HB'))" "SELECT to_jsonb(api.extend_hold('$HB', 60))" \
         "SELECT api.update_section('$SB', 1, '{\"total_capacity\": 1}')" "SELECT api.set_event_content('$EB', 'en', 'hijack')" \
         "SELECT api.update_pricing('$HB_PRICE', 1, '{\"base_price\": 1}')" "SELECT api.create_schedule('$EB', now() + interval '40 days', now() + interval '41 days')" \
         "SELECT api.delete_event('$EB')" "SELECT api.set_event_metadata('$EB', headliner => 'hijack')"; do
    tried=$((tried + 1))
    out=$(call eventsvc_admin $A -c "\\set VERBOSITY verbose" -c "$q" 2>&1)
    grep -q 'ERROR:  PT404:' <<<"$out" && refused=$((refused + 1)) || echo "# not refused with PT404: $q -> $out"
done
check "tenant A's admin, through the proxy, is refused every action on tenant B's objects (PT404)" "$refused/$tried" "$tried/$tried"
check "and tenant B's rows are unchanged after those committed calls" "$(b_digest)" "$before"
PB=$(px $DB -c "SELECT partition FROM eventsvc.tenants WHERE id = '$B'")
PA=$(px $DB -c "SELECT partition FROM eventsvc.tenants WHERE id = '$A'")
entry() { # login, tenant, partition, ctx -> error code or "ok"
    psql -X -q -At -h "$EVS_S2_HOST" -p "$EVS_S2_PORT" -U "$1" -d $DB \
         -c "SELECT coalesce(evs_error ->> 'code', 'ok') FROM eventsvc_shard.get_event($2, $3, '$4', '$EB') WHERE evs_last" 2>&1
}
check "the shard entry answers the proxy's user login for B's own user" \
    "$(entry eventsvc_proxy_user "'$B'" $PB "{\"role\": \"eventsvc_user\", \"route\": \"tenant\", \"settings\": {\"app.current_tenant_id\": \"$B\"}}")" ok
check "a forged context asking for more than the login's role is refused (42501)" \
    "$(entry eventsvc_proxy_user "'$B'" $PB "{\"role\": \"eventsvc_admin\", \"route\": \"tenant\", \"settings\": {\"app.current_tenant_id\": \"$B\"}}")" 42501
check "a context naming another tenant than the one routed by is refused (PT421)" \
    "$(entry eventsvc_proxy_user "'$B'" $PB "{\"role\": \"eventsvc_user\", \"route\": \"tenant\", \"settings\": {\"app.current_tenant_id\": \"$A\"}}")" PT421
out=$(s2 $DB -c "SET ROLE eventsvc_user" -c "SELECT 1 FROM eventsvc_shard.get_event(NULL, 0, '{}', '$EB')" 2>&1)
grep -q 'permission denied' <<<"$out" && ok "only the proxy's login roles may call the entry functions" || notok "an API role called an entry: $out"
# a stale directory: the proxy sends tenant A to s2, which refuses it
px $DB -c "UPDATE eventsvc.tenants SET partition = $PB WHERE id = '$A'"
out=$(call eventsvc_user $A -c "\\set VERBOSITY verbose" -c "SELECT api.get_event('$EA')" 2>&1)
px $DB -c "UPDATE eventsvc.tenants SET partition = $PA WHERE id = '$A'"
grep -q "ERROR:  PT421: tenant $A does not live on shard s2" <<<"$out" && ok "a misrouted call is refused by the shard it reached (PT421)" \
    || notok "misrouted call: $out"

# ---------------------------------------------------------------- pooled connections
pid0=$(psql -X -q -At -h "$EVS_PX_HOST" -p "$EVS_PX_PORT" -U postgres -d $DB -c "SET ROLE eventsvc_user" -c "SELECT eventsvc.shard_session($PA) ->> 'pid'" \
         -c "BEGIN" -c "SET LOCAL request.jwt.claims = '{\"role\": \"eventsvc_user\", \"tenant_id\": \"$A\", \"sub\": \"alice\"}'" \
         -c "SET LOCAL request.headers = '{\"idempotency-key\": \"pool-probe\"}'" \
         -c "SELECT api.get_event('$EA') ->> 'name'" -c "COMMIT" \
         -c "\\set VERBOSITY verbose" -c "SET app.current_tenant_id = '$A'" -c "SELECT api.get_event('$EB')" \
         -c "SELECT eventsvc.shard_session($PA)" 2>"$W/pool.err")
first=$(sed -n 1p <<<"$pid0"); after=$(sed -n '$p' <<<"$pid0")
check "the pooled shard connection is the same after a call and after an error (no reconnect)" "$(jq -r .pid <<<"$after")" "$first"
check "and carries no setting, role or claims between calls" \
    "$(jq -c '[.current_user, .settings["request.jwt.claims"], .settings["request.headers"], .settings["app.current_tenant_id"], .settings["app.current_user_id"], .settings.role]' <<<"$after")" \
    '["eventsvc_proxy_user","","","",null,"none"]'
grep -q "^ERROR:  PT404: event $EB not found" "$W/pool.err" && ! grep -q 'REMOTE ERROR' "$W/pool.err" \
    && ok "a shard's error comes back with its own code and message, no \"REMOTE ERROR\" prefix" || notok "error through the proxy: $(cat "$W/pool.err")"

# ---------------------------------------------------------------- autocommit contract, dry run
h=$(call eventsvc_user $A -c "BEGIN" -c "SELECT to_jsonb(api.reserve_capacity('$SA', 1)) ->> 'id'" -c "ROLLBACK")
check "autocommit: a routed call is its own shard transaction, a ROLLBACK on the proxy keeps it (docs/api.md)" \
    "$(s1 $DB -c "SELECT state FROM eventsvc.capacity_holds WHERE id = '$h'")" ACTIVE
call eventsvc_user $A -c "SELECT to_jsonb(api.release_hold('$h'))" >/dev/null
h=$(call eventsvc_user $A -c "SET eventsvc_proxy.dry_run = on" -c "SELECT to_jsonb(api.reserve_capacity('$SA', 1)) ->> 'id'")
[ -n "$h" ] && [ "$(s1 $DB -c "SELECT count(*) FROM eventsvc.capacity_holds WHERE id = '$h'")" = 0 ] \
    && ok "a dry run answers and leaves nothing on the shard" || notok "dry run: hold '$h'"

# ---------------------------------------------------------------- last seats over HTTP
evs_pgrst_setup "$W/http" >/dev/null || notok "PostgREST setup"
PGHOST=$EVS_PX_HOST PGPORT=$EVS_PX_PORT evs_pgrst_start $DB || notok "PostgREST in front of the proxy, with postgrest.conf"
TOKEN_A=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"racer\"}")
seq 1 20 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST "$PGRST_URL/rpc/reserve_capacity" \
    -H "Authorization: Bearer $TOKEN_A" -H 'Content-Type: application/json' \
    -d "{\"capacity_id\": \"$SA\", \"quantity\": 1}" >"$W/race.txt"
won=$(grep -c '^200$' "$W/race.txt"); lost=$(grep -c '^409$' "$W/race.txt")
check "20 buyers race for the last seats of a 5-seat section through PostgREST and the proxy: 5 holds, 15 sold out (409)" "$won $lost" "5 15"
capacity() { # shard tenant section -> "drift sold held"
    "$1" $DB -c "SET app.current_tenant_id = '$2'" -c "SELECT concat_ws(' ', c ->> 'drift', c ->> 'sold', c ->> 'held') FROM eventsvc.check_capacity('$3') c"
}
check "the shard holds exactly those 5 seats and its seat counter agrees with the hold rows" "$(capacity s1 $A $SA)" "0 0 5"
evs_pgrst_stop

# ---------------------------------------------------------------- a tenant moves under load
: >"$W/move.ok"; : >"$W/move.err"
buyer() { # n: 25 sales, each a hold then its confirmation, through the proxy as tenant M's users
    local n=$1 i h
    for i in $(seq 1 25); do
        h=$(px $DB -c "SET ROLE eventsvc_user" -c "SET app.current_tenant_id = '$M'" -c "SET app.current_user_id = 'buyer-$n'" \
                   -c "SELECT to_jsonb(api.reserve_capacity('$SM', 1)) ->> 'id'" 2>>"$W/move.err") || continue
        px $DB -c "SET ROLE eventsvc_user" -c "SET app.current_tenant_id = '$M'" -c "SET app.current_user_id = 'buyer-$n'" \
               -c "SELECT to_jsonb(api.confirm_hold('$h')) ->> 'state'" 2>>"$W/move.err" | grep -q CONFIRMED && echo "$h" >>"$W/move.ok"
    done
}
for n in 1 2 3 4; do buyer $n & done
sleep 0.5
moved_at=$(date +%s.%N)
px $DB -c "CALL eventsvc.move_tenant('$M', 's2')" 2>>"$W/move.err" || notok "move_tenant under load: $(cat "$W/move.err")"
wait
sold=$(wc -l <"$W/move.ok")
check "the tenant moved to s2 while 4 buyers kept buying: every sale acknowledged (100 of 100), no error" \
    "$sold $(wc -c <"$W/move.err")" "100 0"
check "the move finished" "$(px $DB -c "SELECT state || ' ' || eventsvc.shard_of(t.partition) FROM eventsvc.tenant_moves m JOIN eventsvc.tenants t ON t.id = m.tenant_id ORDER BY m.id DESC LIMIT 1")" "done s2"
window=$(px $DB -c "SELECT started_at || ',' || finished_at FROM eventsvc.tenant_moves ORDER BY id DESC LIMIT 1")
check "sales were made both before the move began and after it ended" \
    "$(s2 $DB -c "SELECT count(*) FILTER (WHERE created_at < '${window%,*}') > 0 AND count(*) FILTER (WHERE created_at > '${window#*,}') > 0
                  FROM eventsvc.capacity_holds WHERE tenant_id = '$M'")" t
confirmed=$(s2 $DB -c "SELECT count(*) FROM eventsvc.capacity_holds WHERE tenant_id = '$M' AND state = 'CONFIRMED'
                       AND id = ANY ('{$(paste -sd, "$W/move.ok")}'::uuid[])")
check "every acknowledged sale is a confirmed hold on s2, once" "$confirmed" 100
check "tenant M has no row left on s1" "$(rows_of s1 $M)" 0
bad=$(placement_ok)
[ -z "$bad" ] && ok "each tenant's rows are still on exactly one shard" || notok "placement after the move:$bad"
check "the seat counter on s2 agrees with the hold rows" "$(capacity s2 $M $SM)" "0 100 0"
order=$(s2 $DB -c "SELECT count(*) FROM (SELECT aggregate_id, sequence, row_number() OVER (PARTITION BY aggregate_id ORDER BY id) AS by_id,
                                            row_number() OVER (PARTITION BY aggregate_id ORDER BY sequence) AS by_seq
                                       FROM eventsvc.outbox WHERE tenant_id = '$M') x WHERE by_id <> by_seq")
check "its outbox rows, old and new, are in per-event order by id on s2" "$order" 0
call eventsvc_admin $M -c "SELECT api.transition_event('$EM', 'SALES_PAUSED')" -c "SELECT api.transition_event('$EM', 'ON_SALE')" >/dev/null
slot1=$(px $DB -c "SELECT slot FROM eventsvc.shards WHERE name = 's1'")
slot2=$(px $DB -c "SELECT slot FROM eventsvc.shards WHERE name = 's2'")
check "its rows written on s2 after the move have s2's ids, above every id it brought from s1" \
    "$(s2 $DB -c "SELECT count(*) FILTER (WHERE id % 1024 = $slot2) > 0 AND coalesce(min(id) FILTER (WHERE id % 1024 = $slot2), 0)
                                                                         > max(id) FILTER (WHERE id % 1024 = $slot1)
                  FROM eventsvc.outbox WHERE tenant_id = '$M'")" t
ids="SELECT 'outbox ' || id FROM eventsvc.outbox UNION ALL SELECT 'audit ' || id FROM eventsvc.event_audit_log
      UNION ALL SELECT 'content ' || id FROM eventsvc.content_audit_log"
dups=$( { s1 $DB -c "$ids"; s2 $DB -c "$ids"; } | sort | uniq -d | wc -l)
check "no outbox or audit id is used on both shards" "$dups" 0
# back to s1: its old seat counters for these sections were reset by the first move
px $DB -c "CALL eventsvc.move_tenant('$M', 's1')" || notok "move back"
h=$(call eventsvc_user $M -c "SELECT to_jsonb(api.reserve_capacity('$SM', 3)) ->> 'id'")
check "moved back to s1: its seat counter there starts from the rows (100 sold, 3 held), not from before it left" \
    "$(capacity s1 $M $SM)" "0 100 3"

# ---------------------------------------------------------------- reference data, status, catalogue
check "reference data is identical on both shards" "$(px $DB -c "SELECT bool_and(same) FROM eventsvc.reference_check()")" t
s2 $DB -c "UPDATE eventsvc.event_categories SET name = 'Musik' WHERE slug = 'music'"
check "a category changed on one shard is caught by the check and by readiness" \
    "$(px $DB -c "SELECT bool_and(same) FROM eventsvc.reference_check()") $(px $DB -c "SELECT eventsvc.readiness() #>> '{checks,reference,ok}'")" "f false"
px $DB -c "SELECT eventsvc.sync_reference('s1')" >/dev/null
check "and repaired from the first shard" "$(px $DB -c "SELECT bool_and(same) FROM eventsvc.reference_check()")" t
proxy_pending=$(px $DB -c "SET ROLE eventsvc_service" -c "SELECT outbox_pending || ' ' || (SELECT count(*) FROM api.worker_status) FROM api.worker_status")
shard_pending=$(( $(s1 $DB -c "SET ROLE eventsvc_service" -c "SELECT outbox_pending FROM api.worker_status") + $(s2 $DB -c "SET ROLE eventsvc_service" -c "SELECT outbox_pending FROM api.worker_status") ))
check "api.worker_status through the proxy is one row summing the shards' workers" "$proxy_pending" "$shard_pending 1"
plan=$(px $DB -c "SET ROLE eventsvc_anon" -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM api.public_events WHERE tenant_id = '$B' ORDER BY starts_at LIMIT 5")
if [ "$(grep -c 'Remote SQL: .*WHERE ((tenant_id = .*ORDER BY starts_at' <<<"$plan")" = 2 ]; then
    ok "the public catalogue is read from both shards with the filter and the order sent to them"
else
    notok "public catalogue plan: $plan"
fi
check "and answers across shards in one order" \
    "$(px $DB -c "SET ROLE eventsvc_anon" -c "SELECT string_agg(name, ', ' ORDER BY starts_at, name) FROM api.public_events")" \
    "$(px $DB -c "SET ROLE eventsvc_anon" -c "SELECT string_agg(name, ', ') FROM (SELECT name FROM api.public_events ORDER BY starts_at, name) x")"

# ---------------------------------------------------------------- the suites, through the proxy
suite() { # script variable what: test/integration/<script> through the proxy
    echo "# test/integration/$1 through the proxy"
    if env "$2=1" bash "$ROOT/test/integration/$1" >"$W/$1.out" 2>&1; then
        ok "$3"
    else
        grep -A4 '^not ok' "$W/$1.out" | head -40
        notok "$1 through the proxy"
    fi
}
suite http_routes.sh EVS_HTTP_THROUGH_PROXY "every api route over HTTP through the proxy answers as on one server (docs/api.md unchanged)"
suite http_rate_limits.sh EVS_HTTP_THROUGH_PROXY "rate limits through the proxy: a tenant over its limit gets 429 with Retry-After, the other tenant passes, an anonymous address is limited"
suite hostile_inputs.sh EVS_HOSTILE_THROUGH_PROXY "the hostile-input suite passes through the proxy, each call answered as the shard answers it directly"

[ "$fails" = 0 ]
