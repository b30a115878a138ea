#!/usr/bin/env bash
# health_probes: what an orchestrator and an operator see. With the worker running for this
# database and the broker unreachable, GET /rpc/health_ready through real PostgREST
# answers 503 with the checks as a JSON object, and a run of probes writes no ERROR
# line to the server log. Probed from another database, the worker is reported as
# serving its own database, and that other database is not ready. The worker logs a
# line with its settings when it starts and one when it stops, and broker_error
# carries the socket's own error.
set -uo pipefail
. "$EVS_SRC/test/stubs/worker_env.sh"
. "$EVS_SRC/test/lib/postgrest.sh"
. "$EVS_SRC/test/http/lib.sh"
cleanup() { evs_pgrst_stop; worker_env_cleanup; }
trap cleanup EXIT

WDB=evs_health
OTHER=evs_health_other
evs_createdb "$WDB" eventsvc
evs_createdb "$OTHER" eventsvc
# Nothing listens on this port: the broker is down from the start.
DOWN_PORT=$(evs_free_port)
worker_set eventsvc.database "$WDB" eventsvc.amqp_port "$DOWN_PORT" eventsvc.amqp_timeout_ms 500
L_START=$(wc -l <"$EVS_DATA.log")
worker_restart || exit 1
check "the worker runs for $WDB with the broker down" \
    wait_sql "SELECT running || ' ' || database || ' ' || broker_connected FROM api.worker_status" "true $WDB false" 20
check "broker_error carries the socket's own error (connection refused)" \
    wait_sql "SELECT broker_error LIKE '%cannot connect to 127.0.0.1:$DOWN_PORT%Connection refused%' FROM api.worker_status" t 10
started=$(tail -n +"$((L_START + 1))" "$EVS_DATA.log" | grep 'eventsvc worker started' | tail -1)
check "the worker logs a line when it starts, with its settings" \
    bash -c "grep -q 'database \"$WDB\", library [0-9.]*; amqp_host=127.0.0.1 amqp_port=$DOWN_PORT amqp_vhost=/ amqp_user=guest' <<<'$started' \
             && grep -q 'outbox_batch_size=[0-9]* ' <<<'$started' && ! grep -q 'amqp_password=' <<<'$started'"
echo "  $started" | cut -c1-300

evs_pgrst_setup "$EVS_WORK/health_probes" || exit 1
evs_pgrst_start "$WDB" || exit 1

L0=$(wc -l <"$EVS_DATA.log")
for i in 1 2 3 4 5; do
    req GET '/rpc/health_ready'
    [ "$STATUS" = 503 ] || break
done
expect_status 503 "readiness with the broker down: HTTP 503 (five probes)"
expect_jq 'type == "object" and .status == "unavailable" and .ready == false' "the body is the checks object, not an error"
expect_jq '.checks.broker.ok == false and .checks.worker.ok == true and .checks.worker.database == "'"$WDB"'"' \
    "the broker check fails, the worker check holds"
expect_jq '.checks.schema.ok == true and .checks.outbox.ok == true' "schema and outbox checks hold"
req GET '/rpc/health_live'
expect_status 200 "liveness answers 200 meanwhile"
sleep 0.5
tail -n +"$((L0 + 1))" "$EVS_DATA.log" >"$EVS_WORK/health_probes/log_segment"
if grep -q 'ERROR' "$EVS_WORK/health_probes/log_segment"; then
    _fail "the probes wrote ERROR lines to the server log:"
    grep -A3 'ERROR' "$EVS_WORK/health_probes/log_segment" | head -20
else
    _ok "no ERROR line in the server log after $(wc -l <"$EVS_WORK/health_probes/log_segment") new log lines and 6 probes"
fi

# From another database of the same cluster: the worker serves $WDB, not this one.
WDB=$OTHER
check "probed from another database, the worker names its own database" \
    wait_sql "SELECT running || ' ' || database FROM api.worker_status" "true evs_health" 2
check "another database is not ready: no worker delivers its outbox" \
    wait_sql "SELECT (h #>> '{checks,worker,ok}') || ' ' || (h #>> '{checks,worker,database}') || ' ' || (h ->> 'ready')
                FROM eventsvc.health_checks() h" "false evs_health false" 2

# A restart stops the worker: it says so, with what it did.
WDB=evs_health
L_STOP=$(wc -l <"$EVS_DATA.log")
worker_restart || exit 1
check "the worker logs a line when it stops" \
    bash -c "tail -n +$((L_STOP + 1)) '$EVS_DATA.log' | grep -q 'eventsvc worker stopped (pid [0-9]*, database \"$WDB\")'"
check "and a start line again" \
    bash -c "for i in \$(seq 1 50); do tail -n +$((L_STOP + 1)) '$EVS_DATA.log' | grep -q 'eventsvc worker started: database \"$WDB\"' && exit 0; sleep 0.2; done; exit 1"

[ "$HTTP_FAILS" = 0 ] && exit $WFAIL
exit 1
