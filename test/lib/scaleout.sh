# test/lib/scaleout.sh: a proxy and two eventsvc shards in throwaway clusters, for the
# scale-out tests and the bench (docs/scale-out.md). Sourced after test/lib/cluster.sh,
# with EVS_BIN pointing at a tree built by evs_tree (eventsvc and eventsvc_proxy).
#
#   evs_scaleout_start DIR   start three clusters under DIR: shard s1 and shard s2
#                            (eventsvc preloaded, max_prepared_transactions for moves)
#                            and the proxy (no eventsvc library). Exports
#                            EVS_S1_HOST/PORT, EVS_S2_HOST/PORT, EVS_PX_HOST/PORT
#   evs_scaleout_db DB [SEED.sql]
#                            database DB on each shard (eventsvc) and on the proxy
#                            (eventsvc_proxy) with s1 owning partitions 0-31 and s2
#                            32-63 of 64; SEED.sql, when given, is loaded on both
#                            shards before they join (see evs_scaleout_place)
#   evs_scaleout_place DB TENANT SHARD
#                            keep TENANT's seeded rows on SHARD only (the other shard
#                            deletes them); run after seeding, before evs_scaleout_join
#   evs_scaleout_join DB     both shards join the proxy, their tenants enter the
#                            directory, the api is built (eventsvc.sync_api)
#   s1 / s2 / px DB ARGS...  psql -X -q -At -v ON_ERROR_STOP=1 on a shard or the proxy
#   evs_scaleout_stop        stop the three clusters

EVS_SCALEOUT_PARTITIONS=64

evs_scaleout_start() {
    local dir=$1 saved_host=${PGHOST:-} saved_port=${PGPORT:-}
    mkdir -p "$dir"
    EVS_SCALEOUT_DIR=$dir
    evs_start "$dir/s1/data" "$EVS_BIN" "max_prepared_transactions = 20" || return 1
    EVS_S1_HOST=$PGHOST EVS_S1_PORT=$PGPORT
    evs_start "$dir/s2/data" "$EVS_BIN" "max_prepared_transactions = 20" || return 1
    EVS_S2_HOST=$PGHOST EVS_S2_PORT=$PGPORT
    evs_start "$dir/px/data" "$EVS_BIN" "shared_preload_libraries = ''" || return 1
    EVS_PX_HOST=$PGHOST EVS_PX_PORT=$PGPORT
    export EVS_SCALEOUT_DIR EVS_S1_HOST EVS_S1_PORT EVS_S2_HOST EVS_S2_PORT EVS_PX_HOST EVS_PX_PORT
    if [ -n "$saved_host" ]; then export PGHOST=$saved_host PGPORT=$saved_port; fi
}

evs_scaleout_stop() {
    local n
    for n in s1 s2 px; do evs_stop "$EVS_SCALEOUT_DIR/$n/data"; done
}

s1() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -h "$EVS_S1_HOST" -p "$EVS_S1_PORT" -U postgres -d "$db" "$@"; }
s2() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -h "$EVS_S2_HOST" -p "$EVS_S2_PORT" -U postgres -d "$db" "$@"; }
px() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -h "$EVS_PX_HOST" -p "$EVS_PX_PORT" -U postgres -d "$db" "$@"; }

evs_scaleout_db() {
    local db=$1 seed=${2:-} s
    for s in s1 s2; do
        $s postgres -c "CREATE DATABASE $db" >/dev/null || return 1
        $s "$db" -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null 2>&1 || { $s "$db" -c "CREATE EXTENSION eventsvc CASCADE"; return 1; }
        if [ -n "$seed" ]; then $s "$db" -f "$seed" >/dev/null || return 1; fi
    done
    px postgres -c "CREATE DATABASE $db" >/dev/null || return 1
    px "$db" -c "CREATE EXTENSION eventsvc_proxy CASCADE" >/dev/null 2>&1 || { px "$db" -c "CREATE EXTENSION eventsvc_proxy CASCADE"; return 1; }
}

# Delete TENANT's rows from the shard that does not keep it (triggers off: the rows
# are not being cancelled, they were never meant to be there).
evs_scaleout_place() {
    local db=$1 tenant=$2 keep=$3 other
    other=$([ "$keep" = s1 ] && echo s2 || echo s1)
    $other "$db" -v tenant="$tenant" <<'SQL' >/dev/null
SET session_replication_role = replica;
SELECT set_config('scaleout.tenant', :'tenant', false);
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT * FROM eventsvc.shard_tenant_tables() ORDER BY rel = 'eventsvc.tenants'::regclass, rel::text LOOP
        EXECUTE format('DELETE FROM %s WHERE %I = %L', t.rel, t.tenant_column, current_setting('scaleout.tenant'));
    END LOOP;
END $$;
SQL
}

evs_scaleout_join() {
    local db=$1
    px "$db" -c "SELECT eventsvc.add_shard('s1', '$EVS_S1_HOST', $EVS_S1_PORT, '$db',
                        ARRAY(SELECT generate_series(0, $((EVS_SCALEOUT_PARTITIONS / 2 - 1)))), $EVS_SCALEOUT_PARTITIONS)" >/dev/null || return 1
    px "$db" -c "SELECT eventsvc.add_shard('s2', '$EVS_S2_HOST', $EVS_S2_PORT, '$db',
                        ARRAY(SELECT generate_series($((EVS_SCALEOUT_PARTITIONS / 2)), $((EVS_SCALEOUT_PARTITIONS - 1)))))" >/dev/null || return 1
    px "$db" -c "SELECT eventsvc.register_tenants('s1'), eventsvc.register_tenants('s2')" >/dev/null || return 1
    px "$db" -c "SELECT eventsvc.sync_api()" >/dev/null || return 1
}
