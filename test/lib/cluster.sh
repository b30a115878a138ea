# test/lib/cluster.sh: throwaway PostgreSQL 15 clusters for tests, benches and the demo.
# Sourced, not run. Everything lives under one temp directory; nothing touches
# the machine's own clusters. As root, the server runs as the "postgres" OS user.
#
#   evs_tree  ROOT        copy Debian's PostgreSQL 15 into ROOT and install eventsvc
#                         and the eventsvc_proxy package there (a private, relocatable
#                         tree: parallel runs never clash)
#   evs_start DATA [BIN]  initdb + start with eventsvc (and pg_cron) preloaded;
#                         exports PGHOST PGPORT PGUSER
#   evs_stop  DATA [BIN]  stop it (immediate)

EVS_SYSBIN=/usr/lib/postgresql/15/bin

evs_as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

evs_free_port() {
    python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# evs_tree ROOT SRC: relocatable copy of PostgreSQL 15 with eventsvc built from SRC installed in it.
evs_tree() {
    local root=$1 src=$2
    mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql"
    cp -a /usr/lib/postgresql/15 "$root/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/"
    make -s -C "$src" >"$root/build.log" 2>&1 || { cat "$root/build.log"; return 1; }
    if grep -E 'warning:|error:' "$root/build.log"; then
        echo "build printed warnings; eventsvc builds clean with -Wall -Wextra" >&2
        return 1
    fi
    make -s -C "$src" install DESTDIR="$root" >>"$root/build.log" 2>&1 || { cat "$root/build.log"; return 1; }
    # the proxy package (proxy/, docs/scale-out.md): SQL only
    make -s -C "$src/proxy" install DESTDIR="$root" >>"$root/build.log" 2>&1 || { cat "$root/build.log"; return 1; }
    EVS_BIN="$root/usr/lib/postgresql/15/bin"
    export EVS_BIN
}

# evs_start DATA [BIN] [extra postgresql.conf lines...]
evs_start() {
    local data=$1 bin=${2:-${EVS_BIN:-$EVS_SYSBIN}}
    shift 2 || shift $#
    local sock port
    sock="$(dirname "$data")/sock"
    port=$(evs_free_port)
    mkdir -p "$data" "$sock"
    touch "$data.log"
    if [ "$(id -u)" = 0 ]; then chown postgres "$data" "$sock" "$data.log"; chmod 755 "$(dirname "$data")"; fi
    evs_as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$data.initdb.log" 2>&1 \
        || { cat "$data.initdb.log"; return 1; }
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
port = $port
shared_preload_libraries = 'pg_cron,eventsvc'
cron.database_name = 'eventsvc_cron'
max_prepared_transactions = 10
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%a '
CONF
    local line
    for line in "$@"; do echo "$line" >>"$data/postgresql.conf"; done
    evs_as_owner "$bin/pg_ctl" -D "$data" -l "$data.log" -w -t 60 start >/dev/null \
        || { tail -50 "$data.log"; return 1; }
    export PGHOST=$sock PGPORT=$port PGUSER=postgres
}

evs_stop() {
    local data=$1 bin=${2:-${EVS_BIN:-$EVS_SYSBIN}}
    [ -f "$data/postmaster.pid" ] && evs_as_owner "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
}

# A fresh database with eventsvc (and pgTAP when asked) created in it.
evs_createdb() {
    local db=$1; shift
    psql -X -q -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
    local ext
    for ext in "$@"; do psql -X -q -d "$db" -c "CREATE EXTENSION $ext CASCADE" >/dev/null; done
}
