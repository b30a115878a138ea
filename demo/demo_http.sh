# demo/demo_http.sh: the same service over HTTP. Sourced by demo/run after demo.sql
# (database "demo", tenants Acme and Globex, venue Acme Arena). Starts real PostgREST
# with the repository's postgrest.conf, signs tokens with a throwaway RSA key, and
# makes a few calls with curl. demo/run's cleanup stops PostgREST ($PGRST_PID).
echo "== HTTP: PostgREST in front of the api schema"
. "$ROOT/test/lib/postgrest.sh"
evs_pgrst_setup "$WORK"
evs_pgrst_start demo
API=$PGRST_URL
ACME_USER=$(evs_jwt '{"role":"eventsvc_user","tenant_id":"11111111-1111-4111-8111-111111111111","sub":"demo-promoter"}')
GLOBEX_USER=$(evs_jwt '{"role":"eventsvc_user","tenant_id":"22222222-2222-4222-8222-222222222222","sub":"globex-staff"}')
echo "PostgREST at $API; tokens: \$ACME_USER, \$GLOBEX_USER (RS256, role + tenant_id claims)"
# Prints the command with the tokens by name, then runs it.
show() {
    local a line=
    for a in "$@"; do
        a=${a//$ACME_USER/\$ACME_USER}; a=${a//$GLOBEX_USER/\$GLOBEX_USER}
        if [[ $a == *'$'* ]]; then line+=" \"$a\""
        elif [[ $a =~ [^A-Za-z0-9_./:=-] ]]; then line+=" '$a'"
        else line+=" $a"; fi
    done
    echo; echo "\$$line"; "$@"; echo
}

DAY=$(date -u -d '+45 days' +%Y-%m-%d)
echo; echo "-- Acme creates an event with a 50-seat section, publishes it and opens sales"
EV_JSON=$(curl -s -X POST "$API/rpc/create_event" -H "Authorization: Bearer $ACME_USER" \
    -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-http-create' \
    -d "{\"venue_id\":\"aaaaaaaa-0000-4000-8000-000000000001\",\"name\":\"HTTP Demo Night\",\"starts_at\":\"${DAY}T20:00:00Z\",\"ends_at\":\"${DAY}T23:00:00Z\",\"sections\":[{\"section_name\":\"Floor\",\"total_capacity\":50}]}")
EV=$(echo "$EV_JSON" | jq -r .id)
SECTION=$(echo "$EV_JSON" | jq -r '.sections[0].id')
echo "$EV_JSON" | jq -c '{id, name, status, version, section: .sections[0].id}'
curl -s -X POST "$API/rpc/publish_event" -H "Authorization: Bearer $ACME_USER" -H 'Content-Type: application/json' \
    -d "{\"event_id\":\"$EV\"}" | jq -c '{status, version}'
curl -s -X POST "$API/rpc/transition_event" -H "Authorization: Bearer $ACME_USER" -H 'Content-Type: application/json' \
    -d "{\"event_id\":\"$EV\",\"status\":\"ON_SALE\"}" | jq -c '{status, version}'

PRICING=$(curl -s -X POST "$API/rpc/create_pricing" -H "Authorization: Bearer $ACME_USER" -H 'Content-Type: application/json' \
    -d "{\"event_id\":\"$EV\",\"name\":\"General\",\"capacity_id\":\"$SECTION\",\"currency\":\"USD\",\"base_price\":4500,\"service_fee\":250,\"tax_rate\":0.0825}" | jq -r .id)
echo "price tier $PRICING: 45.00 USD + 2.50 fee + 8.25% tax, in minor units"

echo; echo "-- Anyone lists the published events (no token)"
show curl -s "$API/public_events?select=name,status,starts_at,venue_name&order=starts_at"

echo "-- A buyer's session reserves 2 seats (a hold with its locked price)"
show curl -s -X POST "$API/rpc/reserve_capacity" -H "Authorization: Bearer $ACME_USER" \
    -H 'Content-Type: application/json' -d "{\"capacity_id\":\"$SECTION\",\"quantity\":2,\"pricing_id\":\"$PRICING\"}"

echo "-- An illegal transition is refused with 409 and the allowed targets"
show curl -s -w '\nHTTP %{http_code}\n' -X POST "$API/rpc/transition_event" -H "Authorization: Bearer $ACME_USER" \
    -H 'Content-Type: application/json' -d "{\"event_id\":\"$EV\",\"status\":\"DRAFT\"}"

echo "-- Another tenant does not even see the event"
show curl -s -w '\nHTTP %{http_code}\n' "$API/rpc/get_event?event_id=$EV" -H "Authorization: Bearer $GLOBEX_USER"

echo "-- No token, no tenant data"
show curl -s -w '\nHTTP %{http_code}\n' "$API/events?select=name"
evs_pgrst_stop
