# test/http/lib.sh: curl requests and assertions for the http_* integration tests.
# Sourced after test/lib/postgrest.sh. Each request sets STATUS and BODY; the
# assertions print "ok"/"not ok" lines and count failures in HTTP_FAILS.
#
#   req METHOD PATH [TOKEN_NAME] [JSON_BODY] [extra curl args...]
#       TOKEN_NAME names a variable holding a token ("" or "-" for none); it is
#       recorded in the transcript by name so docs show $USER_TOKEN, not a JWT.
#   doc "Group › Title" [KEY...]  the next request is written to the transcript
#       (docs/api.md); response keys named here vary per run and are shown as "…";
#       "=key" names instead show only those fields of a long object
#   expect_status CODE "what"
#   expect_jq 'JQ_BOOLEAN_EXPR' "what"        (evaluated against BODY)
#   expect_error CODE SQLSTATE "what"         status and body.code together

HTTP_FAILS=0
HTTP_CHECKS=0
HTTP_DOC_TITLE=
HTTP_DOC_MASK=()
HTTP_TRANSCRIPT=${HTTP_TRANSCRIPT:-}

_ok()  { HTTP_CHECKS=$((HTTP_CHECKS + 1)); echo "ok - $1"; }
# A failed check that is not about the last request (state read with sql, files).
_fail() { HTTP_CHECKS=$((HTTP_CHECKS + 1)); HTTP_FAILS=$((HTTP_FAILS + 1)); echo "not ok - $1"; }
_nok() {
    HTTP_CHECKS=$((HTTP_CHECKS + 1)); HTTP_FAILS=$((HTTP_FAILS + 1))
    echo "not ok - $1"
    echo "#   request: $REQ_METHOD $REQ_PATH ${REQ_BODY:+body $REQ_BODY}"
    echo "#   got: $STATUS $(printf '%s' "$BODY" | head -c 600)"
}

doc() { HTTP_DOC_TITLE=$1; shift; HTTP_DOC_MASK=("$@"); }

req() {
    local method=$1 path=$2 tokname=${3:-} body=${4:-}
    shift 4 2>/dev/null || shift $#
    local args=(-s -o "$EVS_PGRST_DIR/body" -D "$EVS_PGRST_DIR/headers" -w '%{http_code}' -X "$method")
    local headers=()
    if [ -n "$tokname" ] && [ "$tokname" != - ]; then
        args+=(-H "Authorization: Bearer ${!tokname}")
    fi
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    # extra args are curl header options: -H 'Name: value'
    local a
    for a in "$@"; do [ "$a" != -H ] && headers+=("$a"); done
    REQ_METHOD=$method REQ_PATH=$path REQ_BODY=$body
    STATUS=$(curl "${args[@]}" "$@" "$PGRST_URL$path")
    [ -n "${HTTP_REQUEST_LOG:-}" ] && echo "$method $path $STATUS" >>"$HTTP_REQUEST_LOG"
    BODY=$(cat "$EVS_PGRST_DIR/body")
    RANGE=$(tr -d '\r' <"$EVS_PGRST_DIR/headers" | sed -nE 's/^[Cc]ontent-[Rr]ange: *(.*)$/\1/p')
    if [ -n "$HTTP_DOC_TITLE" ] && [ -n "$HTTP_TRANSCRIPT" ]; then
        jq -cn --arg title "$HTTP_DOC_TITLE" --arg method "$method" --arg path "$path" \
              --arg token "$tokname" --arg body "$body" --arg status "$STATUS" \
              --arg response "$BODY" --arg range "$RANGE" --arg mask "${HTTP_DOC_MASK[*]:-}" --args \
              '{title: $title, method: $method, path: $path, token: $token, body: $body,
                headers: $ARGS.positional, status: ($status | tonumber), response: $response,
                range: (if ($ARGS.positional | map(ascii_downcase) | any(startswith("prefer: count"))) then $range else "" end),
                mask: ($mask | split(" ") | map(select(. != "")))}' \
              "${headers[@]}" >>"$HTTP_TRANSCRIPT"
    fi
    HTTP_DOC_TITLE=
    HTTP_DOC_MASK=()
}

expect_status() {
    if [ "$STATUS" = "$1" ]; then _ok "$2 ($1)"; else _nok "$2: expected HTTP $1"; fi
}

expect_jq() {
    if printf '%s' "$BODY" | jq -e "$1" >/dev/null 2>&1; then _ok "$2"; else _nok "$2: expected $1"; fi
}

# The PostgREST error shape: {code, message, details, hint}, with the right status.
expect_error() {
    local status=$1 code=$2 what=$3
    if [ "$STATUS" = "$status" ] && printf '%s' "$BODY" | jq -e --arg c "$code" \
        'type == "object" and .code == $c and (.message | type == "string" and length > 0)
         and has("details") and has("hint")' >/dev/null 2>&1; then
        _ok "$what ($status $code)"
    else
        _nok "$what: expected HTTP $status with code $code"
    fi
}

# psql as the superuser on the test database (seeding, checking state behind the API).
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$HTTP_DB" -c "$1"; }
# The same on the server that holds tenant Acme's rows: the test database, or through
# the proxy (EVS_HTTP_THROUGH_PROXY=1) Acme's shard.
acme_sql() {
    if [ -n "${HTTP_ACME_SHARD:-}" ]; then "$HTTP_ACME_SHARD" "$HTTP_DB" -c "$1"; else sql "$1"; fi
}

http_summary() {
    echo "# $HTTP_CHECKS checks, $HTTP_FAILS failed"
    [ "$HTTP_FAILS" = 0 ]
}

# http_seeded_pgrst NAME: a database NAME with eventsvc and test/http/seed.sql, and
# PostgREST in front of it (stopped on exit). Sets HTTP_DB.
# With EVS_HTTP_THROUGH_PROXY=1 the same data lives on two shards behind the proxy
# (test/lib/scaleout.sh: Acme on s1, Globex and Dormant on s2) and PostgREST, with the
# same postgrest.conf, serves the proxy's database; sql() then runs on the proxy and
# acme_sql() on s1.
http_seeded_pgrst() {
    HTTP_DB=$1
    if [ "${EVS_HTTP_THROUGH_PROXY:-0}" = 1 ]; then
        http_seeded_proxy_pgrst
        return
    fi
    psql -X -q -d postgres -c "CREATE DATABASE $HTTP_DB" >/dev/null || return 1
    psql -X -q -d "$HTTP_DB" -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null 2>&1 || return 1
    psql -X -q -v ON_ERROR_STOP=1 -d "$HTTP_DB" -f "$ROOT/test/http/seed.sql" >/dev/null || return 1
    evs_pgrst_setup "$EVS_WORK/${HTTP_DB#eventsvc_}" || return 1
    trap evs_pgrst_stop EXIT
    evs_pgrst_start "$HTTP_DB"
}

http_seeded_proxy_pgrst() {
    . "$ROOT/test/lib/scaleout.sh"
    [ -n "${EVS_SCALEOUT_DIR:-}" ] || { evs_scaleout_start "$EVS_WORK/scaleout_${HTTP_DB#eventsvc_}" || return 1; trap 'evs_pgrst_stop; evs_scaleout_stop' EXIT; }
    evs_scaleout_db "$HTTP_DB" "$ROOT/test/http/seed.sql" || return 1
    evs_scaleout_place "$HTTP_DB" 11111111-1111-4111-8111-111111111111 s1
    evs_scaleout_place "$HTTP_DB" 22222222-2222-4222-8222-222222222222 s2
    evs_scaleout_place "$HTTP_DB" 33333333-3333-4333-8333-333333333333 s2
    evs_scaleout_join "$HTTP_DB" || return 1
    HTTP_ACME_SHARD=s1
    export PGHOST=$EVS_PX_HOST PGPORT=$EVS_PX_PORT
    evs_pgrst_setup "$EVS_WORK/${HTTP_DB#eventsvc_}" || return 1
    [ -n "$(trap -p EXIT)" ] || trap evs_pgrst_stop EXIT
    evs_pgrst_start "$HTTP_DB"
}
