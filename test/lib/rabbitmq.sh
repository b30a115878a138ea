# test/lib/rabbitmq.sh: a private RabbitMQ broker on loopback for tests and benches.
# Sourced, not run. Everything (cookie, mnesia, logs) lives under one directory, the
# ports are free ones picked at start, and epmd gets its own port, so parallel runs
# never share a broker.
#
#   evs_rabbit_start DIR   start and wait; exports RABBIT_PORT RABBIT_DIR
#                          (RABBIT_TLS=1: also RABBIT_TLS_PORT, CA in DIR/tls/ca.pem)
#   evs_rabbit_stop        stop it (and its epmd) and wait until it is gone
#   evs_rabbitmqctl ARGS   rabbitmqctl against this broker
#
# The Debian wrappers in /usr/sbin switch to the rabbitmq user and cannot reach a
# broker started this way, so the scripts in /usr/lib/rabbitmq/bin are used directly.

RABBIT_LIB=/usr/lib/rabbitmq/bin

_evs_rabbit_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

evs_rabbit_env() {
    env HOME="$RABBIT_DIR" \
        RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia" RABBITMQ_LOG_BASE="$RABBIT_DIR/log" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins" \
        RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq" \
        RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$RABBIT_PORT" RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" \
        ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$RABBIT_EPMD_PORT" \
        RABBITMQ_PID_FILE="$RABBIT_DIR/rabbit.pid" "$@"
}

evs_rabbitmqctl() {
    evs_rabbit_env "$RABBIT_LIB/rabbitmqctl" -n rabbit@localhost "$@"
}

# evs_rabbit_start DIR: first start picks ports; a restart (same DIR) keeps them and the data.
evs_rabbit_start() {
    RABBIT_DIR=$1
    mkdir -p "$RABBIT_DIR/mnesia" "$RABBIT_DIR/log"
    if [ -z "${RABBIT_PORT:-}" ] || [ ! -f "$RABBIT_DIR/ports" ]; then
        RABBIT_PORT=$(_evs_rabbit_free_port)
        RABBIT_DIST_PORT=$(_evs_rabbit_free_port)
        RABBIT_EPMD_PORT=$(_evs_rabbit_free_port)
        echo "$RABBIT_PORT $RABBIT_DIST_PORT $RABBIT_EPMD_PORT" >"$RABBIT_DIR/ports"
    else
        read -r RABBIT_PORT RABBIT_DIST_PORT RABBIT_EPMD_PORT <"$RABBIT_DIR/ports"
    fi
    export RABBIT_DIR RABBIT_PORT RABBIT_DIST_PORT RABBIT_EPMD_PORT
    : >"$RABBIT_DIR/enabled_plugins"
    # Small disk-free limit: test machines run with little free space.
    echo "disk_free_limit.absolute = 50MB" >"$RABBIT_DIR/rabbitmq.conf"
    # RABBIT_TLS=1: also a TLS listener (RABBIT_TLS_PORT) with a throwaway CA
    # ($RABBIT_DIR/tls/ca.pem) and a server certificate for "localhost".
    if [ "${RABBIT_TLS:-0}" = 1 ]; then
        local t="$RABBIT_DIR/tls"
        if [ ! -f "$t/server.pem" ]; then
            mkdir -p "$t"
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=eventsvc test CA" \
                -keyout "$t/ca.key" -out "$t/ca.pem" >/dev/null 2>&1 || return 1
            openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$t/server.key" \
                -out "$t/server.csr" >/dev/null 2>&1 || return 1
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$t/ext.cnf"
            openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
                -days 2 -extfile "$t/ext.cnf" -out "$t/server.pem" >/dev/null 2>&1 || return 1
            # a second CA that did not sign anything: for "wrong CA" checks
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
                -keyout "$t/other.key" -out "$t/other.pem" >/dev/null 2>&1 || return 1
            chmod 644 "$t"/*
            echo "$(_evs_rabbit_free_port)" >"$t/port"
        fi
        RABBIT_TLS_PORT=$(cat "$t/port")
        export RABBIT_TLS_PORT
        cat >>"$RABBIT_DIR/rabbitmq.conf" <<CONF
listeners.ssl.default = 127.0.0.1:$RABBIT_TLS_PORT
ssl_options.cacertfile = $t/ca.pem
ssl_options.certfile = $t/server.pem
ssl_options.keyfile = $t/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
    fi
    evs_rabbit_env "$RABBIT_LIB/rabbitmq-server" >"$RABBIT_DIR/server.out" 2>&1 &
    echo $! >"$RABBIT_DIR/server.pid"
    # await_startup fails at once while the node is not yet registered with epmd.
    local i
    for i in $(seq 1 60); do
        evs_rabbitmqctl --timeout 30 await_startup >"$RABBIT_DIR/await.out" 2>&1 && return 0
        kill -0 "$(cat "$RABBIT_DIR/server.pid")" 2>/dev/null || break
        sleep 0.5
    done
    echo "rabbitmq did not start:" >&2; tail -n 30 "$RABBIT_DIR/server.out" "$RABBIT_DIR/await.out" >&2
    return 1
}

evs_rabbit_stop() {
    [ -n "${RABBIT_DIR:-}" ] || return 0
    if [ -f "$RABBIT_DIR/server.pid" ]; then
        evs_rabbitmqctl stop >/dev/null 2>&1 || true
        local pid i
        pid=$(cat "$RABBIT_DIR/server.pid")
        for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        rm -f "$RABBIT_DIR/server.pid"
    fi
    # epmd was started for this broker's own port; stop exactly that one.
    local epid
    for epid in $(pgrep -x epmd 2>/dev/null); do
        # (an epmd of another broker, e.g. the machine's own service, may exit meanwhile)
        if { tr '\0' ' ' <"/proc/$epid/environ"; } 2>/dev/null | grep -q "ERL_EPMD_PORT=$RABBIT_EPMD_PORT "; then
            kill "$epid" 2>/dev/null
        fi
    done
    return 0
}
