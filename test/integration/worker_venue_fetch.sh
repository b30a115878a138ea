#!/usr/bin/env bash
# worker_venue_fetch: an event that names a venue this database does not know is
# refused (PT404, saying the venue was asked for), and the worker fetches the venue
# from venue-service (the stub, over real HTTP) at once, outside the failed call: the
# retry a moment later succeeds. A venue venue-service does not know stays unknown;
# a venue the tenant registered meanwhile is left as it is.
set -uo pipefail
. "$EVS_SRC/test/stubs/worker_env.sh"
trap worker_env_cleanup EXIT

WDB=evs_worker_venue_fetch
SECRET="s2s-secret-$RANDOM"
SPORT=$(evs_free_port)
REC="$EVS_WORK/stub_venue_requests.jsonl"
: >"$REC"; chmod 666 "$REC"
python3 "$EVS_SRC/test/stubs/services.py" "$SPORT" "$REC" "$SECRET" &
STUB_PID=$!
STUB="http://127.0.0.1:$SPORT"
for i in $(seq 1 50); do curl -s "$STUB/_requests" >/dev/null && break; sleep 0.1; done

evs_createdb "$WDB" eventsvc
worker_set eventsvc.database "$WDB" eventsvc.amqp_port "$(evs_free_port)" eventsvc.worker_naptime_ms 200 \
    eventsvc.service_secret "$SECRET" eventsvc.venue_service_url "$STUB" eventsvc.venue_refresh_seconds 3600 \
    eventsvc.http_timeout_ms 1500
worker_restart || exit 1

TEN=$(qv "SELECT eventsvc.create_tenant('Venue Tenant', 'venue-tenant')")
NEW=5e11e000-0000-4000-8000-00000000c0de
GONE=5e11e000-0000-4000-8000-404404404404
N=0
call() { # tenant venue -> the call's answer or its error, on one line
    N=$((N + 1))
    psql -X -q -At -d "$WDB" -c "SET app.current_tenant_id = '$1'" -c "SET app.current_user_id = 'vera'" \
        -c "SELECT api.create_event(venue_id => '$2', name => 'Show $N',
                starts_at => date_trunc('hour', now()) + make_interval(days => 10 + $N),
                ends_at => date_trunc('hour', now()) + make_interval(days => 10 + $N, hours => 2)) ->> 'venue_id'" 2>&1 | tr '\n' ' '
}
create() { call "$TEN" "$1" | sed 's/ $//'; }
err_detail() { call "$TEN" "$1"; }

out=$(create "$NEW")
case "$out" in *"venue_id: venue $NEW not found"*) ok "an unknown venue is refused (PT404)";; *) bad "an unknown venue is refused: [$out]";; esac
d=$(err_detail 5e11e000-0000-4000-8000-00000000beef)
case "$d" in *"asked from venue-service"*"register the venue with api.register_venue"*) ok "the error says the venue was asked for and what to do";;
    *) bad "the error says what happens: [$d]";; esac
check "the worker fetched it from venue-service outside the failed call" \
    wait_sql "SELECT name || '/' || capacity || '/' || timezone FROM eventsvc.venues WHERE id = '$NEW'" "Stub Arena/5000/UTC" 15
out=$(create "$NEW")
[ "$out" = "$NEW" ] && ok "the retry succeeds" || bad "the retry succeeds: [$out]"
check "venue-service was asked for the tenant's venue, signed" \
    python3 -c "
import json,sys
r=[json.loads(l) for l in open('$REC') if l.strip()]
hits=[x for x in r if x.get('path','').startswith('/internal/venues/$NEW')]
sys.exit(0 if hits else 1)"

out=$(create "$GONE")
case "$out" in *"not found"*) ok "a venue venue-service does not know is refused";; *) bad "unknown everywhere: [$out]";; esac
sleep 2
[ "$(qv "SELECT count(*) FROM eventsvc.venues WHERE id = '$GONE'")" = 0 ] && ok "and stays unknown" || bad "a venue venue-service does not know was added"

# another tenant naming the same id gets its own fetch: venues are per tenant
TEN2=$(qv "SELECT eventsvc.create_tenant('Other Venue Tenant', 'other-venue-tenant')")
call "$TEN2" "$NEW" >/dev/null
check "another tenant's unknown venue is fetched for that tenant" \
    wait_sql "SELECT count(*) FROM eventsvc.venues WHERE id = '$NEW'" 2 15

exit $WFAIL
