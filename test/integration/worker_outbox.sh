#!/usr/bin/env bash
# worker_outbox: the eventsvc worker drains the outbox into a real RabbitMQ.
# Shows: prompt wake-up after commit; unroutable rows go dead and one call
# requeues them; every row arrives (with its message id) at least once and in
# order per aggregate; kill -9 of the worker mid-batch loses nothing; a broker
# outage while 1,000 events are written loses nothing and counts no attempt;
# the password never shows in settings views, the status view or the log.
set -uo pipefail
. "$EVS_SRC/test/stubs/worker_env.sh"
trap worker_env_cleanup EXIT

WDB=evs_worker_outbox
T=00000000-0000-4000-8000-0000000000a1
cc -O2 -Wall -o "$EVS_WORK/amqp_tool" "$EVS_SRC/test/stubs/amqp_tool.c" -lrabbitmq || exit 1
AT="$EVS_WORK/amqp_tool"

export RABBIT_TLS=1
evs_rabbit_start "$EVS_WORK/rabbit_outbox" || exit 1
PW="pw-$RANDOM-$RANDOM-secret"
evs_rabbitmqctl add_user evs "$PW" >/dev/null && evs_rabbitmqctl set_permissions -p / evs '.*' '.*' '.*' >/dev/null || exit 1

# the worker starts before CREATE EXTENSION and waits quietly for it
evs_createdb "$WDB"
worker_set eventsvc.database "$WDB" eventsvc.amqp_port "$RABBIT_PORT" eventsvc.amqp_user evs \
    eventsvc.amqp_password "$PW" eventsvc.worker_naptime_ms 10000 eventsvc.outbox_max_attempts 2 \
    eventsvc.outbox_backoff_base_ms 50 eventsvc.outbox_backoff_max_ms 200 eventsvc.outbox_lease_seconds 30 \
    eventsvc.amqp_timeout_ms 2000
L0=$(wc -l <"$EVS_DATA.log")
worker_restart || exit 1

sleep 2
q -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null 2>&1
# (the lines written since the restart; the ones that fail the check are shown)
noise=$(tail -n +"$((L0 + 1))" "$EVS_DATA.log" | grep -E 'ERROR|FATAL' | grep -v 'eventsvc_cron\|pg_cron\|terminating background worker')
check "no worker error while the extension did not exist" test -z "$noise"
[ -n "$noise" ] && echo "$noise" | head -5 | sed 's/^/  log: /'

emit() { # aggregates per_aggregate routing_key: one transaction per round, aggregates interleaved
    q -c "SELECT pg_catalog.count(eventsvc.outbox_emit('$T', ('00000000-0000-4000-8000-' || lpad(a::text, 12, '0'))::uuid,
              CASE WHEN a % 2 = 0 THEN 'tickettoken_events' ELSE 'event-lifecycle' END, '$3',
              jsonb_build_object('round', r, 'a', a)))
            FROM generate_series(1, $2) r, generate_series(1, $1) a" >/dev/null
}
load_drain() { # file -> table got(pos, message_id, type, tenant, seq, mode, ctype)
    q -c "DROP TABLE IF EXISTS got; CREATE TABLE got (pos serial, message_id uuid, type text, tenant text, seq bigint, mode int, ctype text)"
    q -c "\\copy got (message_id, type, tenant, seq, mode, ctype) FROM '$1'"
}

check "worker is running and connected" wait_sql "SELECT state || ' ' || broker_connected FROM api.worker_status" "idle true" 20

# --- dead rows: no queue is bound yet, so every message comes back unroutable
emit 3 1 event.updated
check "unroutable rows go dead after eventsvc.outbox_max_attempts (2)" \
    wait_sql "SELECT count(*) FILTER (WHERE state = 'dead' AND attempts = 2 AND last_error LIKE '%NO_ROUTE%') FROM eventsvc.outbox" 3 15
check "dead rows are visible in api.worker_status" wait_sql "SELECT outbox_dead FROM api.worker_status" 3 5
"$AT" declare "$RABBIT_PORT" q_all || exit 1
check "requeue_dead() requeues every dead row in one call" wait_sql "SELECT eventsvc.requeue_dead()" 3 1
check "requeued rows are published" wait_sql "SELECT count(*) FROM eventsvc.outbox WHERE state = 'published'" 3 10

# --- wake-up: with a 10 s poll interval, a commit is published within a second
t0=$(date +%s%N)
emit 1 1 event.created
if wait_sql "SELECT count(*) FROM eventsvc.outbox WHERE state = 'published'" 4 3; then
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    check "a commit wakes the worker (published in ${ms} ms, poll interval 10 s)" test "$ms" -lt 1500
else
    bad "a commit wakes the worker"
fi

# --- bulk delivery, order per aggregate
emit 40 50 event.updated
check "2,000 more rows published" wait_sql "SELECT count(*) FROM eventsvc.outbox WHERE state <> 'published'" 0 30

# --- kill -9 of the worker mid-batch
q -c "SELECT 1" >/dev/null
emit 100 60 event.updated
for i in $(seq 1 100); do
    n=$(qv "SELECT count(*) FROM eventsvc.outbox WHERE state = 'published'")
    [ "$n" -gt 2104 ] && break
    sleep 0.02
done
WPID=$(worker_pid)
pending_before=$(qv "SELECT count(*) FROM eventsvc.outbox WHERE state = 'pending'")
echo "  killing worker $WPID with $pending_before rows pending"
kill -9 "$WPID"
check "the killed worker had work left (pending $pending_before > 0)" test "$pending_before" -gt 0
sleep 1
for i in $(seq 1 50); do q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
check "after the crash the worker comes back and publishes everything" \
    wait_sql "SELECT count(*) FROM eventsvc.outbox WHERE state <> 'published'" 0 40

# --- broker outage: stop it, write 1,000 events, start it
evs_rabbit_stop
check "status shows the broker down" wait_sql "SELECT broker_connected FROM api.worker_status" f 15
check "broker_error says why: the socket's own error (connection refused)" \
    wait_sql "SELECT broker_error LIKE '%Connection refused%' FROM api.worker_status" t 15
emit 100 10 event.reminder
sleep 2
check "during the outage the 1,000 rows wait, no attempt counted" \
    wait_sql "SELECT count(*) || ' ' || max(attempts) FROM eventsvc.outbox WHERE state = 'pending'" "1000 0" 2
evs_rabbit_start "$EVS_WORK/rabbit_outbox" || exit 1
check "after the broker is back all 1,000 are published" \
    wait_sql "SELECT count(*) FROM eventsvc.outbox WHERE state <> 'published'" 0 40
check "reconnected: broker_error is cleared" \
    wait_sql "SELECT broker_connected || ' ' || coalesce(broker_error, 'none') FROM api.worker_status" "true none" 5

# --- what arrived
"$AT" drain "$RABBIT_PORT" q_all 1500 >"$EVS_WORK/got.tsv"
load_drain "$EVS_WORK/got.tsv"
total=$(qv "SELECT count(*) FROM eventsvc.outbox")
echo "  outbox rows $total, messages received $(wc -l <"$EVS_WORK/got.tsv")"
check "every outbox row has its own message id (no unique index backs it: docs/outbox.md)" \
    wait_sql "SELECT count(*) - count(DISTINCT message_id) FROM eventsvc.outbox" 0 1
check "every outbox row arrived at least once, by its message id" \
    wait_sql "SELECT count(*) FROM eventsvc.outbox o WHERE NOT EXISTS (SELECT 1 FROM got g WHERE g.message_id = o.message_id)" 0 1
check "nothing arrived that is not in the outbox" \
    wait_sql "SELECT count(*) FROM got g WHERE NOT EXISTS (SELECT 1 FROM eventsvc.outbox o WHERE o.message_id = g.message_id)" 0 1
check "type, tenant and sequence headers, persistent, application/json" \
    wait_sql "SELECT count(*) FROM got g JOIN eventsvc.outbox o USING (message_id)
               WHERE g.type <> o.routing_key OR g.tenant <> o.tenant_id::text OR g.seq <> o.sequence
                  OR g.mode <> 2 OR g.ctype <> 'application/json'" 0 1
check "in order per aggregate (first arrival of each message)" \
    wait_sql "WITH f AS (SELECT DISTINCT ON (g.message_id) g.message_id, g.pos, o.aggregate_id, o.sequence
                           FROM got g JOIN eventsvc.outbox o USING (message_id) ORDER BY g.message_id, g.pos),
                   w AS (SELECT sequence < lag(sequence) OVER (PARTITION BY aggregate_id ORDER BY pos) AS back FROM f)
              SELECT count(*) FILTER (WHERE back) FROM w" 0 1
dups=$(qv "SELECT count(*) - count(DISTINCT message_id) FROM got")
echo "  duplicates delivered (allowed, at-least-once): $dups"

# --- TLS (eventsvc.amqp_tls): a broker certificate from an unknown CA is refused,
# the right CA delivers; switched by reload
before=$(qv "SELECT count(*) FROM eventsvc.outbox WHERE state = 'published'")
worker_set eventsvc.amqp_tls on eventsvc.amqp_host localhost eventsvc.amqp_port "$RABBIT_TLS_PORT" \
    eventsvc.amqp_cacert "$RABBIT_DIR/tls/other.pem"
q -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
emit 5 1 event.tls
sleep 2
check "TLS with a certificate from an unknown CA: not connected, nothing sent" \
    wait_sql "SELECT broker_connected::text || ' ' || (SELECT count(*) FROM eventsvc.outbox WHERE state = 'pending') FROM api.worker_status" "false 5" 3
q -c "SELECT broker_error FROM api.worker_status" | sed 's/^/  broker_error: /'
worker_set eventsvc.amqp_cacert "$RABBIT_DIR/tls/ca.pem"
q -c "SELECT pg_reload_conf()" >/dev/null
check "TLS with the right CA: connected and delivered" \
    wait_sql "SELECT broker_connected::text || ' ' || (SELECT count(*) FROM eventsvc.outbox WHERE state = 'pending') FROM api.worker_status" "true 0" 15
"$AT" drain "$RABBIT_PORT" q_all 1000 >"$EVS_WORK/got_tls.tsv"
check "the 5 messages sent over TLS arrived" test "$(grep -c 'event.tls' "$EVS_WORK/got_tls.tsv")" -ge 5

# --- the password stays secret
check "the password is not in pg_settings or SHOW ALL" \
    wait_sql "SELECT (SELECT count(*) FROM pg_settings WHERE name = 'eventsvc.amqp_password')
                   + (SELECT count(*) FROM (SELECT * FROM pg_show_all_settings()) s WHERE s.name = 'eventsvc.amqp_password')" 0 1
SHOWN=$(psql -X -At -d "$WDB" -c "SET ROLE eventsvc_service" -c "SHOW eventsvc.amqp_password" 2>&1)
check "the password is hidden from non-superusers" bash -c "echo '$SHOWN' | grep -q 'permission denied\|must be superuser' && ! echo '$SHOWN' | grep -q -- '$PW'"
check "the password is not in the status view" \
    wait_sql "SELECT count(*) FROM api.worker_status s WHERE s::text LIKE '%$PW%'" 0 1
check "the password is not in the server log" bash -c "! grep -q -- '$PW' '$EVS_DATA.log'"

exit $WFAIL
