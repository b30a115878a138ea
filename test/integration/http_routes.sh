#!/usr/bin/env bash
# http_routes: every route of the api schema through real PostgREST with curl:
# success, bad input, another tenant, wrong role, stale version, idempotent retry.
# The documented requests (doc "...") form docs/api.md: this test regenerates it
# and fails when the committed docs/api.md differs (EVS_API_DOC_OUT=path writes it).
# test/integration/scaleout.sh runs it again through the proxy in front of two
# shards (EVS_HTTP_THROUGH_PROXY=1): every answer must be the same.
# A section runs when its route is installed, so the test covers what exists.
set -uo pipefail
ROOT=${EVS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/postgrest.sh"
. "$ROOT/test/http/lib.sh"
http_seeded_pgrst eventsvc_http_routes || exit 1
HTTP_TRANSCRIPT=$EVS_WORK/http_routes/transcript.jsonl
HTTP_REQUEST_LOG=$EVS_WORK/http_routes/requests.log
: >"$HTTP_TRANSCRIPT"; : >"$HTTP_REQUEST_LOG"

A=11111111-1111-4111-8111-111111111111
B=22222222-2222-4222-8222-222222222222
ROCK=aaaaaaaa-0000-4000-8000-0000000000e1
JAZZ=aaaaaaaa-0000-4000-8000-0000000000e2
GALA=aaaaaaaa-0000-4000-8000-0000000000e3
DRAFT=aaaaaaaa-0000-4000-8000-0000000000e4
ACME_VENUE=aaaaaaaa-0000-4000-8000-000000000001
OPERA=bbbbbbbb-0000-4000-8000-0000000000e1
ACME_USER=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"alice\"}")
ACME_ADMIN=$(evs_jwt "{\"role\":\"eventsvc_admin\",\"tenant_id\":\"$A\",\"sub\":\"ada\"}")
GLOBEX_USER=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$B\",\"sub\":\"bob\"}")
SERVICE=$(evs_jwt '{"role":"eventsvc_service","sub":"auth-service","scope":"platform"}')
ACME_SERVICE=$(evs_jwt "{\"role\":\"eventsvc_service\",\"tenant_id\":\"$A\",\"sub\":\"blockchain-service\"}")
SERVICE_A=$(evs_jwt "{\"role\":\"eventsvc_service\",\"tenant_id\":\"$A\",\"sub\":\"payment-service\"}")

have() { [ -n "$(sql "SELECT 1 FROM pg_proc WHERE pronamespace = 'api'::regnamespace AND proname = '$1'
                       UNION ALL SELECT 1 FROM pg_class WHERE relnamespace = 'api'::regnamespace AND relname = '$1'")" ]; }
skip() { echo "# skip: $1 is not installed"; }

# ---------------------------------------------------------------- public catalogue
echo "# public catalogue"
doc "Public catalogue › List published events (anonymous)"
req GET '/public_events?select=id,name,status,starts_at,venue_name&order=starts_at&limit=2' - "" -H 'Prefer: count=exact'
expect_status 206 "anonymous lists the catalogue, a page of an exact count"
expect_jq 'length == 2 and .[0].name == "Acme Rock Night"' "ordered by start"
doc "Public catalogue › One event as an object"
req GET "/public_events?id=eq.$OPERA&select=name,slug,status,venue_name,tags" - "" -H 'Accept: application/vnd.pgrst.object+json'
expect_status 200 "one event as an object"
expect_jq '.slug == "globex-opera"' "the object is the event"
req GET "/public_events?id=eq.$DRAFT" - "" -H 'Accept: application/vnd.pgrst.object+json'
expect_error 406 PGRST116 "a draft is not public: no object"

# ---------------------------------------------------------------- events (lifecycle)
D1=$(date -u -d '+30 days' +%Y-%m-%d)
D2=$(date -u -d '+60 days' +%Y-%m-%d)
CREATE_BODY="{\"venue_id\":\"$ACME_VENUE\",\"name\":\"Summer Stage\",\"short_description\":\"Open air\",\"starts_at\":\"${D1}T20:00:00Z\",\"ends_at\":\"${D1}T23:00:00Z\",\"tags\":[\"outdoor\"],\"sections\":[{\"section_name\":\"Floor\",\"total_capacity\":100}]}"
if have create_event; then
    echo "# events"
    doc "Events › Create an event (with a section), idempotent by header"
    req POST '/rpc/create_event' ACME_USER "$CREATE_BODY" -H 'Idempotency-Key: create-summer-stage'
    expect_status 200 "a tenant user creates an event"
    expect_jq '.status == "DRAFT" and .version == 1 and .created_by == "alice" and (.sections | length) == 1' "a DRAFT at version 1, with its section"
    EV=$(printf '%s' "$BODY" | jq -r .id)
    SECTION=$(printf '%s' "$BODY" | jq -r '.sections[0].id')
    doc "Events › Retry with the same Idempotency-Key: the same answer, nothing new" =id =name =status =version =starts_at =ends_at
    req POST '/rpc/create_event' ACME_USER "$CREATE_BODY" -H 'Idempotency-Key: create-summer-stage'
    expect_status 200 "the retry succeeds"
    expect_jq ".id == \"$EV\"" "and returns the first event"
    [ "$(acme_sql "SELECT count(*) FROM eventsvc.events WHERE name = 'Summer Stage'")" = 1 ] \
        && _ok "one event, not two" || _fail "the retry created a second event"
    doc "Events › The same key with a different request is a 422"
    req POST '/rpc/create_event' ACME_USER "${CREATE_BODY/Summer Stage/Winter Stage}" -H 'Idempotency-Key: create-summer-stage'
    expect_error 422 PT422 "a key reused for another request"
    doc "Events › Invalid input is a 400 naming the field"
    req POST '/rpc/create_event' ACME_USER "{\"venue_id\":\"$ACME_VENUE\",\"name\":\"Backwards\",\"starts_at\":\"${D1}T23:00:00Z\",\"ends_at\":\"${D1}T20:00:00Z\"}"
    expect_error 400 22023 "ends before it starts"
    req POST '/rpc/create_event' ACME_USER "{\"venue_id\":\"$ACME_VENUE\",\"name\":\"\"}"
    expect_error 400 22023 "an empty name"
    req POST '/rpc/create_event' ACME_USER "{\"venue_id\":\"$ACME_VENUE\",\"name\":\"Overlap\",\"starts_at\":\"${D1}T21:00:00Z\",\"ends_at\":\"${D1}T22:00:00Z\"}"
    expect_error 409 PT409 "an event overlapping another at the same venue"
    req POST '/rpc/create_event' ACME_USER "{\"venue_id\":\"$ACME_VENUE\",\"name\":\"No such arg\",\"colour\":\"red\"}"
    expect_status 404 "an unknown parameter names no function (PGRST202)"
    req POST '/rpc/create_event' GLOBEX_USER "${CREATE_BODY/Summer Stage/Stolen Venue}"
    expect_jq '.code == "PT404" or .code == "22023"' "another tenant's venue is refused"
    req POST '/rpc/create_event' - "$CREATE_BODY"
    expect_error 401 42501 "anonymous may not create events"
    req POST '/rpc/create_event' ACME_SERVICE "$CREATE_BODY"
    expect_error 403 42501 "the service role may not create events"

    doc "Events › Get one event" =id =name =status =version =starts_at =ends_at
    req GET "/rpc/get_event?event_id=$ROCK" ACME_USER
    expect_status 200 "get an event"
    expect_jq '.name == "Acme Rock Night" and .artist_wallet == "wallet-secret"' "the tenant sees every field of its event"
    doc "Events › Another tenant's event is a 404"
    req GET "/rpc/get_event?event_id=$ROCK" GLOBEX_USER
    expect_error 404 PT404 "another tenant's event"
    doc "Events › List events (view: filters, order, exact count)"
    req GET '/events?select=id,name,status,version&status=in.(DRAFT,ON_SALE)&order=starts_at.desc' ACME_USER "" -H 'Prefer: count=exact'
    expect_status 200 "the tenant's events"
    expect_jq '[.[].name] == ["Acme Draft Show","Acme Private Gala","Acme Rock Night","Summer Stage"]' "filtered and ordered, this tenant only"
    req GET '/events?select=id' GLOBEX_USER
    expect_jq "[.[].id] == [\"$OPERA\"]" "the other tenant sees only its own"
    req GET '/events?select=id' -
    expect_error 401 42501 "anonymous may not list tenant events"
    doc "Events › List events (function, paginated)"
    req GET '/rpc/list_events?status=ON_SALE&page_size=1' ACME_USER
    expect_status 200 "list_events"
    doc "Events › Views are read-only: change events through the functions"
    req PATCH "/events?id=eq.$EV" ACME_USER '{"name":"Renamed"}'
    expect_error 403 42501 "PATCH on the view is refused"
    # the other direct writes a tenant could try (docs/tenancy.md "Trust model"): none reaches a table
    req PATCH "/events?id=eq.$EV" ACME_ADMIN '{"status":"ON_SALE","event_pda":"TakeOverPda1111111111111111111111111111111"}'
    expect_error 403 42501 "an admin's PATCH of status and on-chain address is refused too"
    req DELETE "/events?id=eq.$EV" ACME_ADMIN
    expect_error 403 42501 "DELETE on the view is refused"
    req POST '/events' ACME_USER "{\"name\":\"Direct\",\"slug\":\"direct\",\"status\":\"ON_SALE\"}"
    expect_error 403 42501 "POST (an insert, on sale) on the view is refused"
    req PATCH "/event_sections?id=eq.$SECTION" ACME_USER '{"total_capacity":1}'
    expect_error 403 42501 "PATCH on the sections view is refused"
    got=$(acme_sql "SELECT name || '/' || status || '/' || coalesce(event_pda, '-') || '/' || (SELECT count(*) FROM eventsvc.events WHERE slug = 'direct')
                      || '/' || (SELECT total_capacity FROM eventsvc.event_capacity WHERE id = '$SECTION')
                      FROM eventsvc.events WHERE id = '$EV'")
    if [ "$got" = "Summer Stage/DRAFT/-/0/100" ]; then _ok "the event and its section are as they were"
    else _fail "a refused direct write changed something: $got"; fi

    if have update_event; then
        doc "Events › Update with the version you read" =id =short_description =version =updated_by
        req POST '/rpc/update_event' ACME_USER "{\"event_id\":\"$EV\",\"expected_version\":1,\"changes\":{\"short_description\":\"Open air, two stages\"}}"
        expect_status 200 "update with the current version"
        expect_jq '.version == 2 and .short_description == "Open air, two stages"' "version 2"
        doc "Events › A stale version is a 409"
        req POST '/rpc/update_event' ACME_USER "{\"event_id\":\"$EV\",\"expected_version\":1,\"changes\":{\"name\":\"Lost update\"}}"
        expect_error 409 PT409 "a stale version"
        req POST '/rpc/update_event' GLOBEX_USER "{\"event_id\":\"$EV\",\"expected_version\":2,\"changes\":{\"name\":\"Hijack\"}}"
        expect_error 404 PT404 "another tenant cannot update"
        req POST '/rpc/update_event' ACME_USER "{\"event_id\":\"$EV\",\"expected_version\":2,\"changes\":{\"artist_percentage\":80,\"venue_percentage\":30}}"
        expect_error 400 22023 "royalty split over 100%"
    fi
    doc "Events › Publish" =id =name =status =version =starts_at =ends_at
    req POST '/rpc/publish_event' ACME_USER "{\"event_id\":\"$EV\"}"
    expect_status 200 "publish"
    expect_jq '.status == "PUBLISHED"' "PUBLISHED"
    doc "Events › An illegal transition is a 409 listing the allowed ones"
    req POST '/rpc/transition_event' ACME_USER "{\"event_id\":\"$EV\",\"status\":\"COMPLETED\"}"
    expect_error 409 PT409 "PUBLISHED -> COMPLETED"
    req POST '/rpc/transition_event' ACME_USER "{\"event_id\":\"$EV\",\"status\":\"PARTY\"}"
    expect_error 400 22023 "an unknown status"
    doc "Events › Open sales" =id =name =status =version =starts_at =ends_at
    req POST '/rpc/transition_event' ACME_USER "{\"event_id\":\"$EV\",\"status\":\"ON_SALE\"}" -H 'Idempotency-Key: open-sales-summer'
    expect_jq '.status == "ON_SALE"' "ON_SALE"
    req POST '/rpc/transition_event' ACME_USER "{\"event_id\":\"$EV\",\"status\":\"ON_SALE\"}" -H 'Idempotency-Key: open-sales-summer'
    expect_status 200 "retrying a transition with its key replays the answer instead of failing"
    req GET "/public_events?id=eq.$EV&select=name,status"
    expect_jq '.[0].status == "ON_SALE"' "now in the public catalogue"

    # ------------------------------------------------------------ sections, pricing, holds
    if have create_pricing; then
        echo "# capacity and pricing"
        doc "Capacity › Add a section"
        req POST '/rpc/create_section' ACME_USER "{\"event_id\":\"$EV\",\"section_name\":\"Balcony\",\"total_capacity\":4,\"maximum_purchase\":4}"
        expect_status 200 "a section"
        BALCONY=$(printf '%s' "$BODY" | jq -r .id)
        req POST '/rpc/create_section' ACME_USER "{\"event_id\":\"$EV\",\"section_name\":\"Pit\",\"total_capacity\":-1}"
        expect_error 400 22023 "a negative capacity"
        req POST '/rpc/create_section' GLOBEX_USER "{\"event_id\":\"$EV\",\"section_name\":\"Mine\",\"total_capacity\":1}"
        # Another tenant's event is "not found" (PT404), never a foreign-key conflict.
        [ "$STATUS" = 404 ] && _ok "another tenant's event gets no section (404)" || _nok "another tenant's event gets no section (got $STATUS)"
        doc "Capacity › Add a price tier (minor units)"
        req POST '/rpc/create_pricing' ACME_USER "{\"event_id\":\"$EV\",\"name\":\"General\",\"capacity_id\":\"$SECTION\",\"currency\":\"USD\",\"base_price\":4500,\"service_fee\":250,\"tax_rate\":0.0825}"
        expect_status 200 "a price tier"
        PRICING=$(printf '%s' "$BODY" | jq -r .id)
        req POST '/rpc/create_pricing' ACME_USER "{\"event_id\":\"$EV\",\"name\":\"Bad\",\"currency\":\"XXX\",\"base_price\":100}"
        expect_jq '.code == "22023" or .code == "23503"' "an unknown currency is refused"
        req POST '/rpc/create_pricing' ACME_USER "{\"event_id\":\"$EV\",\"name\":\"Huge\",\"base_price\":9223372036854775807,\"service_fee\":1}"
        HUGE=$(printf '%s' "$BODY" | jq -r '.id // empty')
        if [ -n "$HUGE" ]; then
            doc "Capacity › A total beyond 64-bit minor units is an error, never a wrapped number"
            req GET "/rpc/calculate_price?pricing_id=$HUGE&quantity=2" ACME_USER
            expect_error 400 22003 "overflow"
        else
            expect_jq '.code | startswith("22")' "an amount at the int64 limit is refused"
        fi
        doc "Capacity › Price of 3 tickets"
        req GET "/rpc/calculate_price?pricing_id=$PRICING&quantity=3" ACME_USER
        expect_status 200 "calculate_price"
        expect_jq '.total == 15426 and .tax == 1176 and .currency == "USD"' "exact integer arithmetic: 3 x 45.00 + fees + 8.25% tax"
        req GET "/rpc/calculate_price?pricing_id=$PRICING&quantity=0" ACME_USER
        expect_error 400 22023 "quantity 0"
        doc "Capacity › Section availability"
        req GET "/section_availability?event_id=eq.$EV&select=section_name,total_capacity,available,reserved,sold&order=section_name" ACME_USER
        expect_status 200 "availability"
        doc "Capacity › Sections the drift check found drifting (none)"
        req GET "/capacity_drift?select=section_name,checks,counter_drift,rows_agree,reported_at" ACME_USER
        expect_status 200 "drift findings"
        expect_jq 'length == 0' "no section of the tenant drifts"
        # a finding of each tenant, as the drift check writes them: each tenant reads its own only
        acme_sql "INSERT INTO eventsvc.capacity_drift_findings (tenant_id, capacity_id, event_id, first_seen_at,
                    last_checked_at, checks, total_capacity, held, sold, counter, counter_drift, rows_drift, rows_agree)
                  VALUES ('$A', '$BALCONY', '$EV', now(), now(), 2, 4, 1, 0, 4, 1, 0, true),
                         ('$B', '$BALCONY', '$EV', now(), now(), 1, 4, 1, 0, 4, 1, 0, true)" >/dev/null
        req GET "/capacity_drift?select=capacity_id,section_name,checks,counter_drift,oversold" ACME_USER
        expect_jq "length == 1 and .[0].capacity_id == \"$BALCONY\" and .[0].section_name == \"Balcony\" and .[0].checks == 2 and .[0].counter_drift == 1 and .[0].oversold == false" \
            "the tenant reads its own finding, with its section's name"
        req GET "/capacity_drift?select=capacity_id" -
        expect_error 401 42501 "anonymous may not read drift findings"
        acme_sql "DELETE FROM eventsvc.capacity_drift_findings WHERE capacity_id = '$BALCONY'" >/dev/null
        doc "Capacity › Sections of an event (view)"
        req GET "/event_sections?event_id=eq.$EV&select=id,section_name,total_capacity,version&order=section_name" ACME_USER
        expect_jq 'length == 2' "two sections"
        doc "Capacity › Change a section with the version you read"
        req POST '/rpc/update_section' ACME_USER "{\"capacity_id\":\"$BALCONY\",\"expected_version\":1,\"changes\":{\"total_capacity\":6}}"
        expect_jq '.total_capacity == 6 and .version == 2' "section resized"
        req POST '/rpc/update_section' ACME_USER "{\"capacity_id\":\"$BALCONY\",\"expected_version\":1,\"changes\":{\"total_capacity\":8}}"
        expect_error 409 PT409 "stale section version"
        req POST '/rpc/update_section' ACME_USER "{\"capacity_id\":\"$BALCONY\",\"expected_version\":2,\"changes\":{\"colour\":\"red\"}}"
        expect_error 400 22023 "an unknown field"
        doc "Capacity › Price tiers of an event (view)"
        req GET "/event_pricing_tiers?event_id=eq.$EV&select=name,currency,base_price,service_fee,tax_rate,version&order=name" ACME_USER
        expect_status 200 "tiers"
        doc "Capacity › Change a tier with the version you read"
        req POST '/rpc/update_pricing' ACME_USER "{\"pricing_id\":\"$PRICING\",\"expected_version\":1,\"changes\":{\"service_fee\":300}}"
        expect_jq '.service_fee == 300 and .version == 2' "fee changed"
        req POST '/rpc/update_pricing' ACME_USER "{\"pricing_id\":\"$PRICING\",\"expected_version\":1,\"changes\":{\"service_fee\":1}}"
        expect_error 409 PT409 "stale tier version"
        req POST '/rpc/update_pricing' ACME_USER "{\"pricing_id\":\"$PRICING\",\"expected_version\":2,\"changes\":{\"service_fee\":250}}"
        expect_status 200 "fee back to 2.50"
        doc "Capacity › The tier selling a section now"
        req GET "/rpc/active_pricing?capacity_id=$SECTION" ACME_USER
        expect_status 200 "active pricing"
        req POST '/rpc/create_pricing' ACME_USER "{\"event_id\":\"$EV\",\"name\":\"Dynamic\",\"capacity_id\":\"$BALCONY\",\"base_price\":5000,\"is_dynamic\":true,\"min_price\":4000,\"max_price\":9000}"
        expect_status 200 "a dynamic tier"
        DYN=$(printf '%s' "$BODY" | jq -r .id)
        doc "Capacity › Move a dynamic price"
        req POST '/rpc/update_dynamic_price' ACME_USER "{\"pricing_id\":\"$DYN\",\"price\":7500,\"expected_version\":1}"
        expect_jq '.current_price == 7500' "dynamic price moved"
        doc "Capacity › A dynamic price outside its range is a 400"
        req POST '/rpc/update_dynamic_price' ACME_USER "{\"pricing_id\":\"$DYN\",\"price\":12000,\"expected_version\":2}"
        expect_error 400 22023 "above max_price"
        req POST '/rpc/update_dynamic_price' GLOBEX_USER "{\"pricing_id\":\"$DYN\",\"price\":5000,\"expected_version\":2}"
        expect_error 404 PT404 "another tenant's tier"
        doc "Capacity › A tier whose price includes tax (docs/money.md)" =id =base_price =currency =tax_rate =tax_included =fees_taxable =rounding_mode =fee_percentage
        req POST '/rpc/create_pricing' ACME_USER "{\"event_id\":\"$EV\",\"name\":\"Balcony incl. VAT\",\"capacity_id\":\"$BALCONY\",\"currency\":\"EUR\",\"base_price\":2500,\"tax_rate\":0.19,\"tax_included\":true,\"fee_percentage\":10}"
        expect_jq '.tax_included == true and .fees_taxable == true and .rounding_mode == "half_even"' "a tax-included tier"
        INCL=$(printf '%s' "$BODY" | jq -r .id)
        doc "Capacity › Price of 2 tickets including tax: the displayed 2 x 25.00 + 10 % fee, tax inside"
        req GET "/rpc/calculate_price?pricing_id=$INCL&quantity=2" ACME_USER
        expect_jq '.total == 5500 and .tax == 878 and .net == 4622 and .subtotal == 5500' "tax included: 55.00 charged, 8.78 tax inside"
        doc "Capacity › An unknown rounding mode is a 400"
        req POST '/rpc/create_pricing' ACME_USER "{\"event_id\":\"$EV\",\"name\":\"Odd\",\"base_price\":100,\"rounding_mode\":\"nearest\"}"
        expect_error 400 22023 "an unknown rounding mode"
    fi
    if have reserve_capacity; then
        doc "Holds › Reserve seats"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":2,\"pricing_id\":\"$PRICING\"}"
        expect_status 200 "reserve 2 seats"
        expect_jq '.state == "ACTIVE" and .quantity == 2 and .locked_price.total == 10284' "an active hold with its locked price"
        HOLD=$(printf '%s' "$BODY" | jq -r .id)
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":1}" -H 'Idempotency-Key: hold-front-row'
        expect_status 200 "reserve with a key"
        KEYED=$(printf '%s' "$BODY" | jq -r .id)
        doc "Holds › A retried reservation with the same Idempotency-Key returns the first hold (no more seats)" =id =quantity =state
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":1}" -H 'Idempotency-Key: hold-front-row'
        expect_jq ".id == \"$KEYED\"" "the retry returns the first hold"
        if [ "$(acme_sql "SELECT count(*) FROM eventsvc.capacity_holds WHERE holder_id = (SELECT holder_id FROM eventsvc.capacity_holds WHERE id = '$KEYED') AND quantity = 1 AND state = 'ACTIVE'")" = 1 ]; then
            _ok "one hold for the two keyed calls"
        else
            _fail "one hold for the two keyed calls"
        fi
        req POST '/rpc/release_hold' ACME_USER "{\"hold_id\":\"$KEYED\"}"
        expect_status 200 "release the keyed hold"
        doc "Holds › Not enough seats is a 409"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":100}"
        expect_error 409 PT409 "more seats than remain"
        doc "Holds › More seats than one hold may have (the tenant's quota) is a 429"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":500}"
        expect_error 429 PT429 "over the seats-per-hold quota"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":0}"
        expect_error 400 22023 "quantity 0"
        req POST '/rpc/reserve_capacity' GLOBEX_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":1}"
        expect_error 404 PT404 "another tenant's section"
        req POST '/rpc/reserve_capacity' - "{\"capacity_id\":\"$SECTION\",\"quantity\":1}"
        expect_error 401 42501 "anonymous may not hold seats"
        req GET "/rpc/reserve_capacity?capacity_id=$SECTION&quantity=1" ACME_USER
        expect_error 405 25006 "a writer through GET is refused"
        doc "Holds › Extend a hold"
        req POST '/rpc/extend_hold' ACME_USER "{\"hold_id\":\"$HOLD\",\"seconds\":300}"
        expect_status 200 "extend"
        doc "Holds › Confirm a hold (seats sold)"
        req POST '/rpc/confirm_hold' ACME_USER "{\"hold_id\":\"$HOLD\"}"
        expect_jq '.state == "CONFIRMED"' "confirmed"
        req POST '/rpc/confirm_hold' GLOBEX_USER "{\"hold_id\":\"$HOLD\"}"
        expect_error 404 PT404 "another tenant's hold"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":1}"
        HOLD2=$(printf '%s' "$BODY" | jq -r .id)
        doc "Holds › Release a hold"
        req POST '/rpc/release_hold' ACME_USER "{\"hold_id\":\"$HOLD2\"}"
        expect_jq '.state == "RELEASED"' "released"
        doc "Holds › A released hold is gone: 410"
        req POST '/rpc/confirm_hold' ACME_USER "{\"hold_id\":\"$HOLD2\"}"
        expect_error 410 PT410 "confirming a released hold"
        doc "Holds › My holds"
        req GET "/holds?event_id=eq.$EV&select=quantity,state&order=created_at" ACME_USER
        expect_jq '[.[].state] == ["CONFIRMED","RELEASED","RELEASED"]' "the holds of this event"
        req GET "/section_availability?capacity_id=eq.$SECTION&select=total_capacity,available,reserved,sold" ACME_USER
        expect_jq '.[0] | .total_capacity == 100 and .sold == 2 and .reserved == 0 and .available == 98' "counters match the holds"
        doc "Holds › Expire overdue holds (service role, also run by the worker)"
        req POST '/rpc/expire_holds' SERVICE '{"max_rows":100}'
        expect_status 200 "expire_holds"
        req POST '/rpc/expire_holds' ACME_USER '{"max_rows":100}'
        expect_error 403 42501 "a tenant user may not sweep holds"
        if have event_availability; then
            doc "Capacity › Availability of an event"
            req GET "/event_availability?event_id=eq.$EV&select=sections,total_capacity,available,reserved,sold" ACME_USER
            expect_jq '.[0].sections == 2' "two sections"
        fi
        if have event_customer_analytics; then
            doc "Capacity › Customer analytics of an event" 
            req GET "/event_customer_analytics?event_id=eq.$EV" ACME_USER
            expect_status 200 "customer analytics"
        fi
        if have event_revenue; then
            doc "Capacity › Revenue of an event: what was charged, from the locked price lines"
            req GET "/event_revenue?event_id=eq.$EV&select=currency,tickets_sold,charged,refunded,gross,discounts,fees,tax,net" ACME_USER
            expect_jq '.[0].tickets_sold == 2' "two tickets sold"
            LOCKED=$(acme_sql "SELECT sum((locked_price->>'total')::bigint) FROM eventsvc.capacity_holds WHERE event_id = '$EV' AND state = 'CONFIRMED'")
            expect_jq ".[0].net == $LOCKED and .[0].charged == $LOCKED and .[0].refunded == 0" "net = the locked totals of the purchases ($LOCKED)"
            expect_jq '.[0] | .gross - .discounts + .fees + .tax == .net' "gross - discounts + fees + tax = net"
        fi
        if have section_revenue; then
            doc "Capacity › Revenue of each section"
            req GET "/section_revenue?event_id=eq.$EV&select=capacity_id,currency,tickets_sold,net" ACME_USER
            expect_jq "length == 1 and .[0].capacity_id == \"$SECTION\" and .[0].net == $LOCKED" "per section"
        fi
    fi

    # ------------------------------------------------------------ holds: per-customer limits
    if have set_customer_limit; then
        echo "# per-customer limits"
        doc "Limits › A tenant admin limits the seats one customer may hold or buy for an event"
        req POST '/rpc/set_customer_limit' ACME_ADMIN "{\"event_id\":\"$EV\",\"max_seats\":4}"
        expect_jq '.limit_in_force == 4 and .source == "event"' "4 seats per customer"
        req POST '/rpc/set_customer_limit' ACME_USER "{\"event_id\":\"$EV\",\"max_seats\":40}"
        expect_error 403 42501 "a tenant user may not set limits"
        req POST '/rpc/set_customer_limit' ACME_ADMIN "{\"event_id\":\"$EV\",\"max_seats\":0}"
        expect_error 400 22023 "a limit of 0"
        req POST '/rpc/set_customer_limit' GLOBEX_USER "{\"event_id\":\"$EV\",\"max_seats\":1}"
        expect_error 403 42501 "another tenant's user"
        doc "Limits › How many more seats the caller may take"
        req GET "/rpc/seat_allowance?event_id=$EV" ACME_USER
        expect_jq '.limit == 4 and .seats == 2 and .remaining == 2 and .source == "event"' "2 held or bought, 2 more"
        doc "Limits › Past the limit: a 409 that says how many more"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":3}"
        expect_error 409 PT409 "3 more seats would pass the limit"
        expect_jq '.details == "Ask for at most 2 more."' "the refusal says how many more"
        req GET '/customer_limits?select=event_id,max_seats_per_customer' ACME_USER
        expect_jq "length == 1 and .[0].max_seats_per_customer == 4" "the tenant's limits (view)"
        req GET '/customer_limits?select=event_id' GLOBEX_USER
        expect_jq 'length == 0' "another tenant sees none"
        doc "Limits › The tenant's default for its events (and the other hold settings)"
        req POST '/rpc/set_hold_settings' ACME_ADMIN '{"changes":{"max_seats_per_customer":10}}'
        expect_jq '.max_seats_per_customer.value == 10 and .max_seats_per_customer.source == "tenant"' "a tenant default of 10"
        req POST '/rpc/set_hold_settings' ACME_ADMIN '{"changes":{"max_seats_per_customer":-1}}'
        expect_error 400 22023 "a negative limit"
        req POST '/rpc/set_customer_limit' ACME_ADMIN "{\"event_id\":\"$EV\",\"max_seats\":null}"
        expect_jq '.limit_in_force == 10' "without its own limit the event gets the tenant's default"
        doc "Limits › The hold settings in force"
        req GET '/rpc/hold_settings' ACME_USER
        expect_jq '.max_seats_per_customer.value == 10' "read back"
        req POST '/rpc/set_hold_settings' ACME_ADMIN '{"changes":{"max_seats_per_customer":null}}'
        expect_jq '.max_seats_per_customer.source == "cluster"' "back to the cluster setting"
    else skip set_customer_limit; fi

    # ------------------------------------------------------------ holds: payment
    if have start_payment; then
        echo "# payment"
        PAYMENTS=$(evs_jwt "{\"role\":\"eventsvc_service\",\"tenant_id\":\"$A\",\"sub\":\"payment-service\"}")
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":1,\"pricing_id\":\"$PRICING\"}"
        PAYHOLD=$(printf '%s' "$BODY" | jq -r .id)
        doc "Payment › Start the payment: the hold's expiry moves to the payment window" =id =state =phase =payment_ref
        req POST '/rpc/start_payment' ACME_USER "{\"hold_id\":\"$PAYHOLD\",\"payment_ref\":\"pi_3Kx81\"}"
        expect_jq '.phase == "PAYMENT" and .payment_ref == "pi_3Kx81"' "in its payment phase"
        doc "Payment › A second payment for the same hold is a 409"
        req POST '/rpc/start_payment' ACME_USER "{\"hold_id\":\"$PAYHOLD\",\"payment_ref\":\"pi_other\"}"
        expect_error 409 PT409 "once per hold"
        req POST '/rpc/start_payment' GLOBEX_USER "{\"hold_id\":\"$PAYHOLD\",\"payment_ref\":\"pi_3Kx81\"}"
        expect_error 404 PT404 "another tenant's hold"
        req POST '/rpc/start_payment' ACME_USER "{\"hold_id\":\"$PAYHOLD\",\"payment_ref\":\"\"}"
        expect_error 400 22023 "an empty payment reference"
        doc "Payment › Only the payment service (or a tenant admin) reports the result"
        req POST '/rpc/confirm_payment' ACME_USER "{\"hold_id\":\"$PAYHOLD\",\"payment_ref\":\"pi_3Kx81\"}"
        expect_error 403 42501 "the buyer cannot confirm its own payment"
        doc "Payment › The payment service confirms the payment: sold at the locked price" =id =state =phase =payment_ref =revived_at
        req POST '/rpc/confirm_payment' PAYMENTS "{\"hold_id\":\"$PAYHOLD\",\"payment_ref\":\"pi_3Kx81\"}"
        expect_jq '.state == "CONFIRMED" and .revived_at == null' "confirmed"
        req POST '/rpc/confirm_payment' PAYMENTS "{\"hold_id\":\"$PAYHOLD\",\"payment_ref\":\"pi_wrong\"}"
        expect_error 409 PT409 "another payment's result"
        doc "Payment › The history of a hold" hold
        req GET "/rpc/hold_history?hold_id=$PAYHOLD" ACME_USER
        expect_jq '[.history[].action] == ["reserved","payment_started","payment_confirmed"]' "reserved, payment started, confirmed"
        req GET "/rpc/hold_history?hold_id=$PAYHOLD" GLOBEX_USER
        expect_error 404 PT404 "another tenant's hold history"
        doc "Payment › Ended holds stay visible with when and why" changed_at
        req GET "/holds?event_id=eq.$EV&state=eq.RELEASED&select=state,reason,changed_at&limit=1" ACME_USER
        expect_jq '.[0].reason == "released"' "a released hold and why"
    else skip start_payment; fi

    # ------------------------------------------------------------ holds: refunds and exchanges
    if have refund_purchase; then
        echo "# refunds"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":3,\"pricing_id\":\"$PRICING\"}"
        BOUGHT=$(printf '%s' "$BODY" | jq -r .id)
        BOUGHT_TOTAL=$(printf '%s' "$BODY" | jq -r .locked_price.total)
        req POST '/rpc/confirm_hold' ACME_USER "{\"hold_id\":\"$BOUGHT\"}"
        doc "Refunds › A buyer cannot refund its own purchase"
        req POST '/rpc/refund_purchase' ACME_USER "{\"hold_id\":\"$BOUGHT\",\"reason\":\"changed my mind\"}"
        expect_error 403 42501 "a tenant user may not refund"
        doc "Refunds › A tenant admin refunds one seat of a purchase (idempotent by header)" id idempotency_key created_at hold_id event_id capacity_id
        req POST '/rpc/refund_purchase' ACME_ADMIN "{\"hold_id\":\"$BOUGHT\",\"reason\":\"seat broken\",\"quantity\":1}" -H 'Idempotency-Key: refund-seat-1'
        expect_jq '.quantity == 1 and .seq == 1 and (.amount | type) == "number"' "one seat refunded"
        FIRST=$(printf '%s' "$BODY" | jq -r .amount)
        req POST '/rpc/refund_purchase' ACME_ADMIN "{\"hold_id\":\"$BOUGHT\",\"reason\":\"seat broken\",\"quantity\":1}" -H 'Idempotency-Key: refund-seat-1'
        expect_jq '.seq == 1' "a retry with the same key returns the first refund"
        [ "$(acme_sql "SELECT count(*) FROM eventsvc.hold_refunds WHERE hold_id = '$BOUGHT'")" = 1 ] \
            && _ok "one refund for the two keyed calls" || _fail "the retry refunded again"
        req POST '/rpc/refund_purchase' ACME_ADMIN "{\"hold_id\":\"$BOUGHT\",\"reason\":\"too many\",\"quantity\":5}"
        expect_error 400 22023 "more seats than are left"
        req POST '/rpc/refund_purchase' GLOBEX_USER "{\"hold_id\":\"$BOUGHT\",\"reason\":\"x\"}"
        expect_error 404 PT404 "another tenant's purchase is not found"
        doc "Refunds › The service refunds the rest: the refunds add up to what was charged" id idempotency_key created_at hold_id event_id capacity_id
        req POST '/rpc/refund_purchase' SERVICE_A "{\"hold_id\":\"$BOUGHT\",\"reason\":\"event moved\"}"
        expect_jq ".quantity == 2 and .amount + $FIRST == $BOUGHT_TOTAL" "the rest of the purchase"
        req POST '/rpc/refund_purchase' SERVICE_A "{\"hold_id\":\"$BOUGHT\",\"reason\":\"again\"}"
        expect_error 409 PT409 "nothing left to refund"
        doc "Refunds › The refunds of a purchase" created_at
        req GET "/hold_refunds?hold_id=eq.$BOUGHT&select=seq,quantity,amount,currency,reason&order=seq" ACME_USER
        expect_jq 'length == 2 and .[0].reason == "seat broken"' "both refunds"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":2}"
        SWAP=$(printf '%s' "$BODY" | jq -r .id)
        req POST '/rpc/confirm_hold' ACME_USER "{\"hold_id\":\"$SWAP\"}"
        doc "Refunds › Exchange a seat for another section, in one transaction" refund hold
        req POST '/rpc/exchange_purchase' ACME_ADMIN "{\"hold_id\":\"$SWAP\",\"capacity_id\":\"$BALCONY\",\"reason\":\"a better view\",\"quantity\":1}"
        expect_jq '.refund.quantity == 1 and .hold.capacity_id == "'"$BALCONY"'" and .hold.holder_id == "alice"' "one seat refunded, one held in the balcony"
        req POST '/rpc/exchange_purchase' ACME_ADMIN "{\"hold_id\":\"$SWAP\",\"capacity_id\":\"$BALCONY\",\"reason\":\"more\",\"quantity\":1,\"pricing_id\":\"$PRICING\"}"
        expect_error 400 22023 "a tier of another section: nothing is exchanged"
        [ "$(acme_sql "SELECT quantity FROM eventsvc.capacity_holds WHERE id = '$SWAP'")" = 1 ] \
            && _ok "the refused exchange refunded nothing" || _fail "the refused exchange refunded a seat"
    else skip refund_purchase; fi

    # ------------------------------------------------------------ holds: the waitlist
    if have join_waitlist; then
        echo "# waitlist"
        CARL=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"carl\"}")
        DORA=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"dora\"}")
        req POST '/rpc/create_section' ACME_USER "{\"event_id\":\"$EV\",\"section_name\":\"Box\",\"total_capacity\":1}"
        BOX=$(printf '%s' "$BODY" | jq -r .id)
        doc "Waitlist › While seats are free, reserve them: 409"
        req POST '/rpc/join_waitlist' CARL "{\"capacity_id\":\"$BOX\",\"quantity\":1}"
        expect_error 409 PT409 "a free seat is reserved, not waited for"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$BOX\",\"quantity\":1}"
        BOXHOLD=$(printf '%s' "$BODY" | jq -r .id)
        doc "Waitlist › Join the waitlist of a full section" id joined_at hold_id capacity_id event_id
        req POST '/rpc/join_waitlist' CARL "{\"capacity_id\":\"$BOX\",\"quantity\":1}"
        expect_jq '.state == "WAITING" and .rank == 1 and .holder_id == "carl"' "carl waits, first"
        CARLENTRY=$(printf '%s' "$BODY" | jq -r .id)
        req POST '/rpc/join_waitlist' CARL "{\"capacity_id\":\"$BOX\",\"quantity\":1}"
        expect_error 409 PT409 "one entry per customer and section"
        req POST '/rpc/join_waitlist' CARL "{\"capacity_id\":\"$BOX\",\"quantity\":0}"
        expect_error 400 22023 "quantity 0"
        req POST '/rpc/join_waitlist' GLOBEX_USER "{\"capacity_id\":\"$BOX\",\"quantity\":1}"
        expect_error 404 PT404 "another tenant's section"
        req POST '/rpc/join_waitlist' DORA "{\"capacity_id\":\"$BOX\",\"quantity\":1}"
        DORAENTRY=$(printf '%s' "$BODY" | jq -r .id)
        doc "Waitlist › My place in the queue" id joined_at hold_id capacity_id event_id
        req GET "/rpc/waitlist_position?capacity_id=$BOX" DORA
        expect_jq '.rank == 2 and .waiting == 2' "dora is second of two"
        req GET "/rpc/waitlist_position?capacity_id=$BOX" ACME_USER
        expect_error 404 PT404 "alice is not on it"
        req POST '/rpc/reserve_capacity' ACME_ADMIN "{\"capacity_id\":\"$BOX\",\"quantity\":1}"
        expect_error 409 PT409 "nobody else can buy meanwhile"
        req POST '/rpc/release_hold' ACME_USER "{\"hold_id\":\"$BOXHOLD\"}"
        expect_status 200 "alice gives her seat back"
        doc "Waitlist › The seat came back: an offer for the first in line" id joined_at hold_id capacity_id event_id offered_at offer_expires_at
        req GET "/rpc/waitlist_position?capacity_id=$BOX" CARL
        expect_jq '.state == "OFFERED" and .gathered == 1' "carl has an offer"
        OFFER=$(printf '%s' "$BODY" | jq -r .hold_id)
        req POST '/rpc/reserve_capacity' ACME_ADMIN "{\"capacity_id\":\"$BOX\",\"quantity\":1}"
        expect_error 409 PT409 "the offered seat is not for sale to others"
        doc "Waitlist › The offer is a hold: confirm it" =id =state =phase =waitlist_entry_id
        req POST '/rpc/confirm_hold' CARL "{\"hold_id\":\"$OFFER\"}"
        expect_jq '.state == "CONFIRMED" and .phase == "OFFERED"' "carl bought the seat"
        doc "Waitlist › Leave the waitlist" id joined_at hold_id capacity_id event_id ended_at
        req POST '/rpc/leave_waitlist' DORA "{\"entry_id\":\"$DORAENTRY\"}"
        expect_jq '.state == "LEFT"' "dora leaves"
        req POST '/rpc/leave_waitlist' DORA "{\"entry_id\":\"$DORAENTRY\"}"
        expect_error 409 PT409 "gone already"
        req POST '/rpc/leave_waitlist' GLOBEX_USER "{\"entry_id\":\"$CARLENTRY\"}"
        expect_error 404 PT404 "another tenant's entry"
        doc "Waitlist › The promoter's view of a section's waitlist" updated_at capacity_id event_id
        req GET "/waitlist_sections?capacity_id=eq.$BOX&select=waiting,seats_wanted,offers_out,offers_made,conversions,lapsed,left_queue" ACME_ADMIN
        expect_jq '.[0] == {"waiting":0,"seats_wanted":0,"offers_out":0,"offers_made":1,"conversions":1,"lapsed":0,"left_queue":1}' "one offer made, converted; one left"
        req GET "/waitlist_entries?capacity_id=eq.$BOX&select=holder_id,state&order=position" ACME_ADMIN
        expect_jq '[.[].state] == ["CONVERTED","LEFT"]' "the entries"
    else skip join_waitlist; fi

    # ------------------------------------------------------------ holds: refund policies
    if have set_refund_policy; then
        echo "# refund policies"
        GLOBEX_ADMIN=$(evs_jwt "{\"role\":\"eventsvc_admin\",\"tenant_id\":\"$B\",\"sub\":\"bea\"}")
        doc "Refund policies › Only a tenant admin sets the refund policy"
        req POST '/rpc/set_refund_policy' ACME_USER '{"policy":{"full_refund_days":60,"late_refund_percent":50,"fees_refundable":false}}'
        expect_error 403 42501 "a tenant user may not set the refund policy"
        doc "Refund policies › A tier's own policy: full until 60 days before, then 50 %, fees kept" updated_at updated_by id
        req POST '/rpc/set_refund_policy' ACME_ADMIN "{\"pricing_id\":\"$PRICING\",\"policy\":{\"full_refund_days\":60,\"late_refund_percent\":50,\"fees_refundable\":false}}"
        expect_jq '.policy.full_refund_days == 60 and .policy.late_refund_percent == 50 and .policy.fees_refundable == false' "the tier's policy"
        req POST '/rpc/set_refund_policy' ACME_ADMIN '{"policy":{"full_refund_days":60,"late_refund_percent":50.001}}'
        expect_error 400 22023 "a percentage with three decimals is refused"
        req POST '/rpc/set_refund_policy' ACME_ADMIN '{"policy":{"full_refund_days":60,"late_refund_percent":50,"refund_window":3}}'
        expect_error 400 22023 "an unknown key is refused"
        req POST '/rpc/set_refund_policy' GLOBEX_ADMIN "{\"pricing_id\":\"$PRICING\",\"policy\":{\"full_refund_days\":1,\"late_refund_percent\":0}}"
        expect_error 404 PT404 "another tenant's tier is not found"
        req GET "/refund_policies?select=pricing_id,full_refund_days,late_refund_percent,fees_refundable" ACME_USER
        expect_jq 'length == 1 and .[0].pricing_id == "'"$PRICING"'"' "the tenant's policies"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$SECTION\",\"quantity\":1,\"pricing_id\":\"$PRICING\"}"
        UNDER=$(printf '%s' "$BODY" | jq -r .id)
        req POST '/rpc/confirm_hold' ACME_USER "{\"hold_id\":\"$UNDER\"}"
        doc "Refund policies › The policy a purchase was sold under" captured_at policy_id
        req GET "/purchase_refund_policies?hold_id=eq.$UNDER&select=source,full_refund_days,late_refund_percent,fees_refundable,captured_at,policy_id" ACME_USER
        expect_jq 'length == 1 and .[0].source == "tier" and .[0].full_refund_days == 60' "the snapshot"
        req POST '/rpc/set_refund_policy' ACME_ADMIN "{\"pricing_id\":\"$PRICING\",\"policy\":null}"
        expect_jq '.policy == null' "the tier's policy removed"
        doc "Refund policies › A refund follows the policy the purchase was sold under, not today's" id idempotency_key created_at hold_id event_id capacity_id
        req POST '/rpc/refund_purchase' ACME_ADMIN "{\"hold_id\":\"$UNDER\",\"reason\":\"cannot come\"}"
        # 45.00 + 2.50 fee + 8.25 % tax = 51.42; 30 days before: late, the fee kept, 50 % of 48.92
        expect_jq '.amount == 2446 and .lines.total == 5142 and .lines.policy.late == true and .lines.policy.fees_kept == 250' "late: 50 % of the total without the fee"
    else skip set_refund_policy; fi

    # ------------------------------------------------------------ the rest of the lifecycle
    if have set_postponement_settings; then
        doc "Postponement › A tenant admin sets the decision window and the default for the undecided" updated_at updated_by
        req POST '/rpc/set_postponement_settings' ACME_ADMIN '{"settings":{"window_seconds":86400,"default_choice":"keep"}}'
        expect_jq '.settings.window_seconds == 86400 and .settings.default_choice == "keep"' "the tenant's settings"
        req POST '/rpc/set_postponement_settings' ACME_USER '{"settings":{"window_seconds":86400}}'
        expect_error 403 42501 "a tenant user may not"
        req POST '/rpc/set_postponement_settings' ACME_ADMIN '{"settings":{"window_seconds":5}}'
        expect_error 400 22023 "a window under a minute"
    fi
    if have postpone_event; then
        doc "Events › Postpone" =id =name =status =version =starts_at =ends_at
        req POST '/rpc/postpone_event' ACME_USER "{\"event_id\":\"$EV\",\"reason\":\"Storm warning\"}"
        expect_jq '.status == "POSTPONED"' "POSTPONED"
        if have decide_postponement; then
            doc "Postponement › Each purchase of a postponed event waits for its holder's choice" decided_at closes_at purchase_id postponement_id event_id
            req GET "/postponement_decisions?event_id=eq.$EV&holder_id=eq.alice&currency=not.is.null&select=purchase_id,holder_id,quantity,currency,choice,refund_state&order=quantity.desc&limit=1" ACME_USER
            expect_jq 'length >= 1 and .[0].choice == null' "undecided purchases of alice"
            KEEP=$(printf '%s' "$BODY" | jq -r '.[0].purchase_id')
            req POST '/rpc/decide_postponement' GLOBEX_USER "{\"purchase_id\":\"$KEEP\",\"choice\":\"keep\"}"
            expect_error 404 PT404 "another tenant's purchase"
            req POST '/rpc/decide_postponement' ACME_USER "{\"purchase_id\":\"$KEEP\",\"choice\":\"later\"}"
            expect_error 400 22023 "keep or refund only"
            doc "Postponement › The holder keeps the seats for the new date" decided_at closes_at hold_id postponement_id event_id
            req POST '/rpc/decide_postponement' ACME_USER "{\"purchase_id\":\"$KEEP\",\"choice\":\"keep\"}"
            expect_jq '.choice == "keep" and .source == "holder"' "kept"
            req POST '/rpc/decide_postponement' ACME_USER "{\"purchase_id\":\"$KEEP\",\"choice\":\"refund\"}"
            expect_error 409 PT409 "a decision is final"
            doc "Postponement › The event's report" postponement_id event_id opened_at closes_at closed_at
            req GET "/rpc/postponement_report?event_id=$EV" ACME_USER
            expect_jq '.kept >= 1 and .by_source.holder >= 1 and .kind == "POSTPONED"' "the report counts the kept purchase"
            req POST '/rpc/retry_postponement_refunds' ACME_USER "{\"event_id\":\"$EV\"}"
            expect_error 403 42501 "only an admin retries refunds"
            req POST '/rpc/retry_postponement_refunds' ACME_ADMIN "{\"event_id\":\"$EV\"}"
            expect_jq '. == 0' "nothing failed: nothing to retry"
            req POST '/rpc/retry_cancellation_refunds' ACME_USER "{\"event_id\":\"$EV\"}"
            expect_error 403 42501 "only an admin retries cancellation refunds"
            req POST '/rpc/retry_cancellation_refunds' ACME_ADMIN "{\"event_id\":\"$EV\"}"
            expect_jq '. == 0' "no cancellation refund failed: nothing to retry"
            doc "Postponement › The sweep that closes decision windows (worker, pg_cron or a service)"
            req POST '/rpc/close_postponement_windows' SERVICE '{}'
            expect_jq '. == 0' "no window has closed yet"
        fi
        RESCHEDULE="{\"event_id\":\"$EV\",\"starts_at\":\"${D2}T20:00:00Z\",\"ends_at\":\"${D2}T23:00:00Z\",\"status\":\"ON_SALE\"}"
        doc "Events › New dates after tickets were sold need a tenant admin"
        req POST '/rpc/reschedule_event' ACME_USER "$RESCHEDULE"
        expect_error 403 42501 "a tenant user may not move dates after sales"
        doc "Events › The admin first gets a confirmation token for exactly this change"
        req POST '/rpc/reschedule_event' ACME_ADMIN "$RESCHEDULE"
        expect_jq '.status == "confirmation_required" and (.token | length) == 36' "a confirmation token"
        CONFIRM=$(printf '%s' "$BODY" | jq -r .token)
        req POST '/rpc/reschedule_event' ACME_ADMIN "{\"event_id\":\"$EV\",\"starts_at\":\"${D2}T21:00:00Z\",\"ends_at\":\"${D2}T23:00:00Z\",\"status\":\"ON_SALE\",\"confirmation_token\":\"$CONFIRM\"}"
        expect_error 428 PT428 "the token does not confirm a different change"
        doc "Events › ...and confirms with it" =id =name =status =version =starts_at =ends_at
        req POST '/rpc/reschedule_event' ACME_ADMIN "${RESCHEDULE%\}},\"confirmation_token\":\"$CONFIRM\"}"
        expect_status 200 "reschedule confirmed"
        expect_jq '.status == "ON_SALE"' "back on sale at the new date"
        req POST '/rpc/postpone_event' ACME_USER "{\"event_id\":\"$EV\",\"reason\":\"Storm again\"}"
        expect_jq '.status == "POSTPONED"' "postponed again"
        doc "Events › A confirmation token confirms once: 428"
        req POST '/rpc/reschedule_event' ACME_ADMIN "${RESCHEDULE%\}},\"confirmation_token\":\"$CONFIRM\"}"
        expect_error 428 PT428 "a token confirms once"
    fi
    if have cancel_event; then
        req POST '/rpc/delete_event' ACME_USER "{\"event_id\":\"$EV\"}"
        expect_error 409 PT409 "an event with sold tickets, not cancelled, cannot be deleted"
        doc "Events › Cancelling an event with sold seats needs a tenant admin: 403"
        req POST '/rpc/cancel_event' ACME_USER "{\"event_id\":\"$EV\",\"reason\":\"Headliner ill\"}"
        expect_error 403 42501 "a tenant user cannot cancel an event with sold seats"
        doc "Events › An event with purchases is not cancelled without a preview's code"
        req POST '/rpc/cancel_event' ACME_ADMIN "{\"event_id\":\"$EV\",\"reason\":\"Headliner ill\"}"
        expect_error 428 PT428 "cancelling an event with purchases needs a preview's code"
        doc "Events › Preview the cancellation: what it would do, nothing done, a code valid 5 minutes" =event_id =status =confirmation_code =expires_at =purchase_count =seats_to_refund =refund_totals =sections_to_close =listings_to_withdraw =messages =saga_steps
        req POST '/rpc/preview_cancellation' ACME_ADMIN "{\"event_id\":\"$EV\"}"
        expect_jq '(.confirmation_code | length) == 36 and .purchase_count >= 1 and (.refund_totals | length) >= 1' "a preview with a code"
        CODE=$(printf '%s' "$BODY" | jq -r .confirmation_code)
        PREVIEWED=$(printf '%s' "$BODY" | jq -c '[.purchases[] | {hold_id, amount}] | sort_by(.hold_id)')
        req POST '/rpc/confirm_cancellation' GLOBEX_USER "{\"event_id\":\"$EV\",\"confirmation_code\":\"$CODE\",\"reason\":\"x\"}"
        expect_error 404 PT404 "another tenant's event"
        doc "Events › Cancel with the preview's code (the worker then runs the refund saga)" =id =status =version =cancelled_at =cancellation_reason =cancelled_by =cancellation
        req POST '/rpc/confirm_cancellation' ACME_ADMIN "{\"event_id\":\"$EV\",\"confirmation_code\":\"$CODE\",\"reason\":\"Headliner ill\"}" -H 'Idempotency-Key: cancel-summer-stage'
        expect_jq '.status == "CANCELLED" and .cancellation.purchases_refunded >= 1' "CANCELLED, its purchases refunded"
        req POST '/rpc/confirm_cancellation' ACME_ADMIN "{\"event_id\":\"$EV\",\"confirmation_code\":\"$CODE\",\"reason\":\"Headliner ill\"}" -H 'Idempotency-Key: cancel-summer-stage'
        expect_status 200 "retrying the cancellation with its key replays the answer"
        req GET "/hold_refunds?event_id=eq.$EV&reason=eq.Headliner%20ill&select=hold_id,amount&order=hold_id" ACME_ADMIN
        [ "$(printf '%s' "$BODY" | jq -c 'sort_by(.hold_id)')" = "$PREVIEWED" ] \
            && _ok "the refunds made are the previewed ones" || _fail "the refunds differ from the preview: $BODY vs $PREVIEWED"
        req POST '/rpc/cancel_event' ACME_ADMIN "{\"event_id\":\"$EV\",\"reason\":\"again\"}"
        expect_error 409 PT409 "cancelling twice without the key is a conflict"
        req POST '/rpc/cancel_event' ACME_USER "{\"event_id\":\"$DRAFT\",\"reason\":\"\"}"
        expect_error 400 22023 "a reason is required"
        doc "Events › Cancellation report"
        req GET "/event_cancellation_reports?event_id=eq.$EV&select=status,reason,holds_released" ACME_USER
        expect_jq 'length == 1 and .[0].reason == "Headliner ill"' "one report"
        req GET "/public_events?id=eq.$EV"
        expect_jq 'length == 0' "a cancelled event leaves the catalogue"
    fi
    if have delete_event; then
        doc "Events › Delete a draft (soft)"
        req POST '/rpc/delete_event' ACME_USER "{\"event_id\":\"$DRAFT\"}"
        expect_status 200 "delete a draft"
        req GET "/rpc/get_event?event_id=$DRAFT" ACME_USER
        expect_error 404 PT404 "a deleted event is not found"
        req POST '/rpc/delete_event' GLOBEX_USER "{\"event_id\":\"$ROCK\"}"
        expect_error 404 PT404 "another tenant cannot delete"
    fi
fi

# ---------------------------------------------------------------- internal (service role)
if have internal_event; then
    echo "# internal"
    doc "Internal › Event for another service" =id =tenant_id =name =status =version
    req GET "/rpc/internal_event?event_id=$OPERA" SERVICE
    expect_status 200 "the service reads any tenant's event"
    req GET "/rpc/internal_event?event_id=$OPERA" ACME_USER
    expect_error 403 42501 "a tenant user may not"
    req GET "/rpc/internal_event?event_id=$OPERA" -
    expect_error 401 42501 "anonymous may not"
    if have internal_scan_stats; then
        doc "Internal › Scan statistics"
        req GET "/rpc/internal_scan_stats?event_id=$ROCK" SERVICE
        expect_status 200 "scan stats"
    fi
    if have update_blockchain_status; then
        doc "Internal › Blockchain callback"
        req POST '/rpc/update_blockchain_status' ACME_SERVICE "{\"event_id\":\"$ROCK\",\"status\":\"synced\",\"event_pda\":\"7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU\"}"
        expect_status 200 "the blockchain service reports the sync"
        req POST '/rpc/update_blockchain_status' ACME_SERVICE "{\"event_id\":\"$ROCK\",\"status\":\"synced\",\"event_pda\":\"not base58 0OIl\"}"
        expect_error 400 22023 "a malformed PDA"
        req POST '/rpc/update_blockchain_status' ACME_ADMIN "{\"event_id\":\"$ROCK\",\"status\":\"synced\"}"
        expect_error 403 42501 "a tenant admin may not"
        if have internal_event_by_pda; then
            doc "Internal › Event by its on-chain address" =id =tenant_id =name =event_pda =blockchain_status
            req GET '/rpc/internal_event_by_pda?event_pda=7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU' SERVICE
            expect_jq ".id == \"$ROCK\"" "found by PDA"
        fi
    fi
fi

# ---------------------------------------------------------------- health
if have health_live; then
    echo "# health"
    doc "Health › Liveness"
    req GET '/rpc/health_live'
    expect_jq '.status == "ok"' "live"
    req GET '/rpc/health_ready'
    expect_status 503 "readiness: not ready while no worker runs for this database"
    expect_jq '.status == "unavailable" and .ready == false and .checks.worker.ok == false and (.checks | type == "object")' \
        "readiness: the checks as a JSON object, not an error"
fi

if have search_events; then
    echo "# discovery"
    doc "Discovery › Search events"
    req GET '/rpc/search_events?q=rock&page_limit=5&select=name,slug,status,venue_name'
    expect_status 200 "anonymous search"
    expect_jq '[.[].slug] == ["acme-rock-night"]' "search finds the public event by word"
    req GET '/rpc/search_events?q=gala'
    expect_jq 'length == 0' "a PRIVATE event is not found by anonymous search"
    req GET '/rpc/search_events?q=gala&select=slug' ACME_USER
    expect_jq '[.[].slug] == ["acme-private-gala"]' "the tenant finds its own private event"
    req GET '/rpc/search_events?q=gala&select=slug' GLOBEX_USER
    expect_jq 'length == 0' "another tenant does not"
    doc "Discovery › Bad search input is a 400"
    req GET '/rpc/search_events?page_limit=0'
    expect_error 400 22023 "page_limit 0"
else skip search_events; fi

if have featured_events; then
    acme_sql "UPDATE eventsvc.events SET is_featured = true, featured_order = 1 WHERE id = '$ROCK'"
    doc "Discovery › Featured events"
    req GET '/rpc/featured_events?page_limit=3&select=name,featured_order'
    expect_status 200 "featured events"
    expect_jq '[.[].name] == ["Acme Rock Night"]' "the featured event"
else skip featured_events; fi

if have record_view; then
    doc "Discovery › Count a view"
    req POST '/rpc/record_view' - "{\"event_id\":\"$ROCK\"}"
    expect_status 200 "anonymous records a view of a public event"
    req POST '/rpc/record_view' - "{\"event_id\":\"$DRAFT\"}"
    expect_error 404 PT404 "a draft cannot be viewed by anonymous"
    doc "Discovery › View count"
    req GET "/rpc/event_view_count?event_id=$ROCK"
    expect_jq '. == 1' "one view counted"
else skip record_view; fi

if have categories; then
    doc "Discovery › Categories"
    req GET '/categories?select=slug,name&order=display_order&limit=3'
    expect_status 200 "categories"
    expect_jq '.[0].slug == "music"' "music first"
else skip categories; fi
if have category_tree; then
    req GET '/rpc/category_tree'
    expect_status 200 "category tree"
fi

# ---------------------------------------------------------------- content
if have set_event_content; then
    echo "# content"
    doc "Content › Set rich content of an event"
    req POST '/rpc/set_event_content' ACME_USER "{\"event_id\":\"$ROCK\",\"locale\":\"en\",\"long_description\":\"Three bands.\",\"highlights\":[\"Doors 19:00\"]}"
    expect_status 200 "a tenant user sets content"
    req POST '/rpc/set_event_content' GLOBEX_USER "{\"event_id\":\"$ROCK\",\"long_description\":\"hijack\"}"
    expect_error 404 PT404 "another tenant's event is not found"
    req POST '/rpc/set_event_content' - "{\"event_id\":\"$ROCK\",\"long_description\":\"x\"}"
    expect_error 401 42501 "anonymous may not write content"
    doc "Content › Read content"
    req GET "/rpc/event_content?event_id=$ROCK&locale=en"
    expect_status 200 "anonymous reads content of a public event"
else skip set_event_content; fi
if have set_event_faqs; then
    doc "Content › Replace the FAQs"
    req POST '/rpc/set_event_faqs' ACME_USER "{\"event_id\":\"$ROCK\",\"faqs\":[{\"question\":\"Parking?\",\"answer\":\"Yes, lot B.\"}]}"
    expect_status 200 "set FAQs"
    req POST '/rpc/set_event_faqs' ACME_USER "{\"event_id\":\"$ROCK\",\"faqs\":{\"not\":\"a list\"}}"
    expect_error 400 22023 "FAQs must be a list"
fi
if have event_content_locales; then
    echo "# embedding"
    doc "Content › Embedding: an event with its sections, tiers, content and FAQs in one request"
    req GET "/events?id=eq.$ROCK&select=name,status,event_sections(section_name,total_capacity),event_pricing_tiers(name,base_price,currency),event_content_locales(locale,long_description),event_faqs(question,answer)" ACME_USER
    expect_status 200 "embedding through computed relationships"
    expect_jq '.[0].event_content_locales[0].long_description == "Three bands." and .[0].event_faqs[0].question == "Parking?"' \
        "the event's content and FAQs come embedded"
    req GET "/event_content_locales?event_id=eq.$ROCK&select=locale,events(name)" ACME_USER
    expect_jq '.[0].events.name == "Acme Rock Night"' "content embeds its event (to-one)"
    req GET "/event_faqs?event_id=eq.$ROCK&select=question" GLOBEX_USER
    expect_jq 'length == 0' "another tenant sees none of the FAQs"
    req POST "/event_faqs" ACME_USER '{"question":"x"}'
    expect_error 403 42501 "a read-only view refuses writes"
else skip event_content_locales; fi
if have submit_review; then
    doc "Content › Submit a review"
    req POST '/rpc/submit_review' ACME_USER "{\"event_id\":\"$ROCK\",\"rating\":5,\"title\":\"Great\",\"body\":\"Loud and fun.\"}"
    expect_status 200 "a user reviews"
    req POST '/rpc/submit_review' ACME_USER "{\"event_id\":\"$ROCK\",\"rating\":9}"
    expect_error 400 22023 "rating out of range"
    REVIEW=$(acme_sql "SELECT id FROM eventsvc.event_reviews WHERE user_id = 'alice' LIMIT 1")
    if have moderate_review; then
        req POST '/rpc/moderate_review' ACME_USER "{\"review_id\":\"$REVIEW\",\"moderation_state\":\"approved\"}"
        expect_error 403 42501 "only a tenant admin moderates"
        doc "Content › Approve a review (tenant admin)"
        req POST '/rpc/moderate_review' ACME_ADMIN "{\"review_id\":\"$REVIEW\",\"moderation_state\":\"approved\"}"
        expect_jq '.moderation_state == "approved"' "approved"
    fi
    doc "Content › Reviews of an event"
    req GET "/rpc/event_reviews?event_id=$ROCK"
    expect_jq 'length == 1 and .[0].rating == 5' "the approved review is listed"
    doc "Content › Rating summary"
    req GET "/rpc/event_rating?event_id=$ROCK"
    expect_status 200 "rating"
    if have delete_review; then
        ACME_OTHER=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"sub\":\"otto\"}")
        doc "Content › Another user's review cannot be deleted: 403"
        req POST '/rpc/delete_review' ACME_OTHER "{\"review_id\":\"$REVIEW\"}"
        expect_error 403 42501 "only its author or a tenant admin deletes a review"
        doc "Content › Delete a review (its author or a tenant admin)"
        req POST '/rpc/delete_review' ACME_USER "{\"review_id\":\"$REVIEW\"}"
        expect_jq '.deleted == true' "the author deletes the review"
    fi
fi

if have set_event_metadata; then
    doc "Content › Performers and sponsors"
    req POST '/rpc/set_event_metadata' ACME_USER "{\"event_id\":\"$ROCK\",\"headliner\":\"The Amps\",\"performers\":[{\"name\":\"The Amps\"},{\"name\":\"Feedback\"}],\"supporting_acts\":[\"Feedback\"]}"
    expect_status 200 "metadata set"
    req POST '/rpc/set_event_metadata' ACME_USER "{\"event_id\":\"$ROCK\",\"performers\":{\"name\":\"not a list\"}}"
    expect_error 400 22023 "performers must be a list"
    doc "Content › Read performers (anonymous, public event)"
    req GET "/rpc/event_metadata?event_id=$ROCK"
    expect_jq '.headliner == "The Amps"' "metadata"
    req GET '/rpc/search_events?q=feedback&select=slug'
    expect_jq '[.[].slug] == ["acme-rock-night"]' "search finds the event by a performer"
fi

# ---------------------------------------------------------------- schedules
if have create_schedule; then
    echo "# schedules"
    doc "Schedules › Add a recurring schedule"
    req POST '/rpc/create_schedule' ACME_USER "{\"event_id\":\"$ROCK\",\"starts_at\":\"2030-03-01T20:00:00-05:00\",\"ends_at\":\"2030-03-01T23:00:00-05:00\",\"timezone\":\"America/New_York\",\"recurrence_rule\":\"FREQ=WEEKLY;COUNT=3\"}"
    expect_status 200 "a tenant user adds a schedule"
    SCHED=$(printf '%s' "$BODY" | jq -r .id)
    SCHED_VERSION=$(printf '%s' "$BODY" | jq -r .version)
    req POST '/rpc/create_schedule' ACME_USER "{\"event_id\":\"$ROCK\",\"starts_at\":\"2030-03-01T20:00:00Z\",\"ends_at\":\"2030-03-01T19:00:00Z\"}"
    expect_error 400 22023 "ends before it starts"
    req POST '/rpc/create_schedule' ACME_USER "{\"event_id\":\"$ROCK\",\"starts_at\":\"2030-03-01T20:00:00Z\",\"ends_at\":\"2030-03-01T23:00:00Z\",\"recurrence_rule\":\"FREQ=SOMETIMES\"}"
    expect_error 400 22023 "a bad RRULE"
    req POST '/rpc/create_schedule' GLOBEX_USER "{\"event_id\":\"$ROCK\",\"starts_at\":\"2030-03-01T20:00:00Z\",\"ends_at\":\"2030-03-01T23:00:00Z\"}"
    expect_error 404 PT404 "another tenant's event"
    req POST '/rpc/create_schedule' ACME_USER "{\"event_id\":\"$ROCK\",\"starts_at\":\"yesterday-ish\",\"ends_at\":\"2030-03-01T23:00:00Z\"}"
    expect_error 400 22007 "a malformed timestamp"
    if have preview_occurrences; then
        doc "Schedules › Preview what a rule gives (daylight saving: 20:00 local stays 20:00)"
        req GET '/rpc/preview_occurrences?recurrence_rule=FREQ%3DWEEKLY%3BCOUNT%3D3&starts_at=2030-03-02T20:00:00-05:00&ends_at=2030-03-02T23:00:00-05:00&timezone=America/New_York' ACME_USER
        expect_jq 'length == 3 and .[1].starts_at == "2030-03-10T01:00:00+00:00" and .[2].starts_at == "2030-03-17T00:00:00+00:00"' "20:00 EST, then 20:00 EDT after the change"
        req GET '/rpc/preview_occurrences?recurrence_rule=FREQ%3DWEEKLY%3BCOUNT%3D3&starts_at=2030-03-02T20:00:00Z&ends_at=2030-03-02T23:00:00Z&timezone=Mars/Olympus' ACME_USER
        expect_error 400 22023 "an unknown time zone"
    fi
    doc "Schedules › Schedules of an event (view)"
    req GET "/event_schedules?event_id=eq.$ROCK&select=starts_at,timezone,is_recurring,recurrence_rule,version" ACME_USER
    expect_jq 'length == 1 and .[0].is_recurring' "the recurring schedule"
    doc "Schedules › Occurrences of an event"
    req GET "/rpc/event_occurrences?event_id=$ROCK&starts_from=2030-03-01T00:00:00Z&select=starts_at,timezone" ACME_USER
    expect_status 200 "occurrences"
    expect_jq 'length == 3' "three weekly occurrences"
    if have update_schedule; then
        doc "Schedules › Update with the version you read"
        req POST '/rpc/update_schedule' ACME_USER "{\"schedule_id\":\"$SCHED\",\"expected_version\":$SCHED_VERSION,\"notes\":\"Doors at 19:00\"}"
        expect_status 200 "update with the current version"
        doc "Schedules › A stale version is a 409"
        req POST '/rpc/update_schedule' ACME_USER "{\"schedule_id\":\"$SCHED\",\"expected_version\":$SCHED_VERSION,\"notes\":\"again\"}"
        expect_error 409 PT409 "update with a stale version"
        req POST '/rpc/update_schedule' GLOBEX_USER "{\"schedule_id\":\"$SCHED\",\"expected_version\":2,\"notes\":\"x\"}"
        expect_error 404 PT404 "another tenant's schedule"
    fi
    if have delete_schedule; then
        req POST '/rpc/delete_schedule' GLOBEX_USER "{\"schedule_id\":\"$SCHED\",\"expected_version\":2}"
        expect_error 404 PT404 "another tenant cannot delete the schedule"
        req POST '/rpc/delete_schedule' ACME_USER "{\"schedule_id\":\"$SCHED\",\"expected_version\":1}"
        expect_error 409 PT409 "delete with a stale version"
        doc "Schedules › Delete a schedule"
        req POST '/rpc/delete_schedule' ACME_USER "{\"schedule_id\":\"$SCHED\",\"expected_version\":2}"
        expect_jq '.deleted == true' "deleted"
        req GET "/event_schedules?id=eq.$SCHED" ACME_USER
        expect_jq 'length == 0' "gone"
    fi
else skip create_schedule; fi

# ---------------------------------------------------------------- series: dates sold separately
if have open_occurrence; then
    echo "# series"
    req POST '/rpc/create_schedule' ACME_USER "{\"event_id\":\"$ROCK\",\"starts_at\":\"2030-04-04T20:00:00Z\",\"ends_at\":\"2030-04-04T23:00:00Z\",\"timezone\":\"UTC\",\"recurrence_rule\":\"FREQ=WEEKLY;COUNT=3\"}"
    expect_status 200 "a weekly schedule"
    SERIES=$(printf '%s' "$BODY" | jq -r .id)
    req POST '/rpc/create_section' ACME_USER "{\"event_id\":\"$ROCK\",\"section_name\":\"Weekly Balcony\",\"total_capacity\":2,\"schedule_id\":\"$SERIES\"}"
    expect_status 200 "a section of the weekly schedule (the template of its dates)"
    TEMPLATE=$(printf '%s' "$BODY" | jq -r .id)
    doc "Series › Put one date on sale with seats of its own" created_at updated_at
    req POST '/rpc/open_occurrence' ACME_USER "{\"schedule_id\":\"$SERIES\",\"starts_at\":\"2030-04-04T20:00:00Z\",\"capacities\":{\"Weekly Balcony\":1}}"
    expect_jq '.status == "ON_SALE" and (.sections | length) == 1 and .sections[0].total_capacity == 1' "the first date, one seat"
    DATE1=$(printf '%s' "$BODY" | jq -r '.sections[0].id')
    OCC1=$(printf '%s' "$BODY" | jq -r .id)
    req POST '/rpc/open_occurrence' ACME_USER "{\"schedule_id\":\"$SERIES\",\"starts_at\":\"2030-04-11T20:00:00Z\"}"
    expect_jq '.sections[0].total_capacity == 2' "the second date, the template's two seats"
    DATE2=$(printf '%s' "$BODY" | jq -r '.sections[0].id')
    OCC2=$(printf '%s' "$BODY" | jq -r .id)
    req POST '/rpc/open_occurrence' ACME_USER "{\"schedule_id\":\"$SERIES\",\"starts_at\":\"2030-04-11T20:00:00Z\"}"
    expect_error 409 PT409 "a date is opened once"
    req POST '/rpc/open_occurrence' ACME_USER "{\"schedule_id\":\"$SERIES\",\"starts_at\":\"2030-04-05T20:00:00Z\"}"
    expect_error 400 22023 "a time that is not a date of the rule"
    req POST '/rpc/open_occurrence' GLOBEX_USER "{\"schedule_id\":\"$SERIES\",\"starts_at\":\"2030-04-18T20:00:00Z\"}"
    expect_error 404 PT404 "another tenant's schedule"
    doc "Series › The template itself is not sold"
    req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$TEMPLATE\",\"quantity\":1}"
    expect_error 409 PT409 "a template of a recurring schedule"
    doc "Series › Reserve a seat of one date" id expires_at created_at
    req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$DATE1\",\"quantity\":1}"
    expect_jq '.state == "ACTIVE"' "the first date's seat"
    HOLD1=$(printf '%s' "$BODY" | jq -r .id)
    req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$DATE1\",\"quantity\":1}"
    expect_error 409 PT409 "the first date has no seat left"
    req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$DATE2\",\"quantity\":2}"
    expect_jq '.state == "ACTIVE"' "the second date sells on its own"
    doc "Series › Availability per date"
    req GET "/occurrence_availability?event_id=eq.$ROCK&select=starts_at,status,total_capacity,reserved,sold,available&order=starts_at" ACME_USER
    expect_jq 'length == 2 and .[0].reserved == 1 and .[0].available == 0 and .[1].reserved == 2 and .[1].total_capacity == 2' "each date its own figures"
    req GET "/holds?capacity_id=eq.$DATE2&select=quantity,event_sections(occurrence_id)" ACME_USER
    expect_jq ".[0].event_sections.occurrence_id == \"$OCC2\"" "a hold carries its date through its section"
    doc "Series › Close one date (sales stop, holds and purchases stay)" created_at updated_at
    req POST '/rpc/close_occurrence' ACME_USER "{\"occurrence_id\":\"$OCC1\",\"reason\":\"the hall is booked\"}"
    expect_jq '.status == "CLOSED"' "closed"
    req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$DATE1\",\"quantity\":1}"
    expect_error 409 PT409 "a closed date refuses"
    req POST '/rpc/close_occurrence' GLOBEX_USER "{\"occurrence_id\":\"$OCC1\"}"
    expect_error 404 PT404 "another tenant's date"
    req POST '/rpc/reopen_occurrence' GLOBEX_USER "{\"occurrence_id\":\"$OCC1\"}"
    expect_error 404 PT404 "another tenant cannot reopen the date"
    doc "Series › Dates on sale (view)"
    req GET "/occurrences?event_id=eq.$ROCK&select=starts_at,status,status_reason&order=starts_at" ACME_USER
    expect_jq 'length == 2 and .[0].status == "CLOSED" and .[1].status == "ON_SALE"' "the dates"
    if have cancel_occurrence; then
        req POST '/rpc/cancel_occurrence' ACME_USER "{\"occurrence_id\":\"$OCC2\",\"reason\":\"flood\"}"
        expect_error 403 42501 "a tenant user may not cancel a date"
        if have decide_postponement; then
            req POST '/rpc/confirm_hold' ACME_USER "{\"hold_id\":\"$HOLD1\"}"
            expect_jq '.state == "CONFIRMED"' "the first date's seat sold (a closed date still confirms)"
            doc "Series › Move a date with purchases: each holder keeps or refunds (tenant admin)" closes_at postponement_id previous_starts_at previous_ends_at
            req POST '/rpc/move_occurrence' ACME_ADMIN "{\"occurrence_id\":\"$OCC1\",\"starts_at\":\"2030-04-05T20:00:00Z\",\"ends_at\":\"2030-04-05T23:00:00Z\",\"reason\":\"the band plays Friday\"}"
            expect_jq '.decision_window.purchases == 1 and .decision_window.holders == 1 and .decision_window.default_choice == "keep"' "a window over the date's one purchase"
            req POST '/rpc/decide_postponement' GLOBEX_USER "{\"purchase_id\":\"$HOLD1\",\"choice\":\"refund\"}"
            expect_error 404 PT404 "another tenant's purchase of the date"
            doc "Series › The holder of a moved date's purchase keeps the seat for the new start" decided_at closes_at hold_id postponement_id event_id occurrence_id
            req POST '/rpc/decide_postponement' ACME_USER "{\"purchase_id\":\"$HOLD1\",\"choice\":\"keep\"}"
            expect_jq ".choice == \"keep\" and .source == \"holder\" and .occurrence_id == \"$OCC1\"" "kept"
            doc "Series › A moved date's decision window (report)" postponement_id event_id occurrence_id opened_at closes_at closed_at
            req GET "/rpc/postponement_report?event_id=$ROCK&occurrence_id=$OCC1" ACME_USER
            expect_jq '.kind == "MOVED" and .purchases == 1 and .kept == 1 and .pending == 0' "the date's window, its own purchases"
        fi
        doc "Series › Move one date (seats, holds and purchases stay; tenant admin)"
        req POST '/rpc/move_occurrence' ACME_ADMIN "{\"occurrence_id\":\"$OCC2\",\"starts_at\":\"2030-04-12T20:00:00Z\",\"ends_at\":\"2030-04-12T23:00:00Z\",\"reason\":\"the band plays Friday\"}"
        expect_jq '.starts_at == "2030-04-12T20:00:00+00:00" and .previous_starts_at != null and .seats == 0' "moved a day"
        doc "Series › Cancel one date: holds released, purchases refunded (tenant admin)" refunds
        req POST '/rpc/cancel_occurrence' ACME_ADMIN "{\"occurrence_id\":\"$OCC2\",\"reason\":\"the hall is flooded\"}"
        expect_jq '.status == "CANCELLED" and .holds_released == 1 and .purchases_refunded == 0' "cancelled, its hold released"
        req POST '/rpc/cancel_occurrence' ACME_ADMIN "{\"occurrence_id\":\"$OCC2\",\"reason\":\"again\"}"
        expect_error 409 PT409 "a date is cancelled once"
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$DATE2\",\"quantity\":1}"
        expect_error 409 PT409 "a cancelled date refuses"
    fi
    if have occurrence_revenue; then
        req POST '/rpc/create_pricing' ACME_USER "{\"event_id\":\"$ROCK\",\"name\":\"Weekly Balcony\",\"capacity_id\":\"$TEMPLATE\",\"base_price\":3500,\"service_fee\":150}"
        expect_status 200 "a tier of the template sells each of its dates"
        TIERW=$(printf '%s' "$BODY" | jq -r .id)
        req POST '/rpc/open_occurrence' ACME_USER "{\"schedule_id\":\"$SERIES\",\"starts_at\":\"2030-04-18T20:00:00Z\"}"
        expect_status 200 "the third date"
        DATE3=$(printf '%s' "$BODY" | jq -r '.sections[0].id')
        req POST '/rpc/reserve_capacity' ACME_USER "{\"capacity_id\":\"$DATE3\",\"quantity\":2,\"pricing_id\":\"$TIERW\"}"
        H3=$(printf '%s' "$BODY" | jq -r .id)
        req POST '/rpc/confirm_hold' ACME_USER "{\"hold_id\":\"$H3\"}"
        expect_jq '.state == "CONFIRMED"' "two seats of the third date bought"
        doc "Series › Revenue per date: what each date's purchases were charged, less refunds"
        req GET "/occurrence_revenue?event_id=eq.$ROCK&select=starts_at,status,currency,purchases,tickets_sold,charged,refunded,gross,fees,tax,net&order=starts_at" ACME_USER
        CHARGED3=$(acme_sql "SELECT (locked_price->>'total')::bigint FROM eventsvc.capacity_holds WHERE id = '$H3'")
        expect_jq "length == 1 and .[0].purchases == 1 and .[0].tickets_sold == 2 and .[0].charged == $CHARGED3 and .[0].net == $CHARGED3" \
            "the third date: one purchase, what it was charged ($CHARGED3)"
        expect_jq '.[0] | .gross - 0 + .fees + .tax == .net' "gross + fees + tax = net"
        req GET "/occurrence_revenue?event_id=eq.$ROCK" GLOBEX_USER
        expect_jq 'length == 0' "another tenant reads none of it"
    fi
else skip open_occurrence; fi

# ---------------------------------------------------------------- the tenant admin's box office
if have event_audit_log && [ -n "${EV:-}" ]; then
    echo "# audit log"
    doc "Audit log › What changed in an event, who changed it (tenant admin)"
    req GET "/event_audit_log?event_id=eq.$EV&action=eq.UPDATE&select=action,actor_id,actor_role,changed_fields&order=id.desc&limit=2" ACME_ADMIN
    expect_status 200 "the admin reads the audit log"
    expect_jq 'length == 2 and .[0].action == "UPDATE" and (.[0].changed_fields | type) == "object"' "filtered by event and action, newest first"
    doc "Audit log › A tenant user may not read it"
    req GET "/event_audit_log?limit=1" ACME_USER
    expect_error 403 42501 "a tenant user"
    req GET "/event_audit_log?event_id=eq.$EV" GLOBEX_USER
    expect_error 403 42501 "another tenant's user"
    req DELETE "/event_audit_log?event_id=eq.$EV" ACME_ADMIN
    [ "$STATUS" != 200 ] && [ "$STATUS" != 204 ] && _ok "the log is read-only ($STATUS)" || _fail "the audit log accepted a DELETE"
else skip event_audit_log; fi

if have register_venue; then
    echo "# venues"
    doc "Venues › Register a venue of the tenant (tenant admin), idempotent by header"
    req POST '/rpc/register_venue' ACME_ADMIN '{"name":"Riverside Stage","capacity":1200,"timezone":"Europe/Berlin"}' -H 'Idempotency-Key: venue-riverside'
    expect_jq '.name == "Riverside Stage" and .capacity == 1200 and .is_active == true' "a new venue"
    RIVER=$(printf '%s' "$BODY" | jq -r .id)
    req POST '/rpc/register_venue' ACME_ADMIN '{"name":"Riverside Stage","capacity":1200,"timezone":"Europe/Berlin"}' -H 'Idempotency-Key: venue-riverside'
    expect_jq ".id == \"$RIVER\"" "the retry returns the first venue"
    [ "$(acme_sql "SELECT count(*) FROM eventsvc.venues WHERE name = 'Riverside Stage'")" = 1 ] \
        && _ok "one venue, not two" || _fail "the retry registered a second venue"
    doc "Venues › An unknown time zone is a 400"
    req POST '/rpc/register_venue' ACME_ADMIN '{"name":"Moon Hall","capacity":10,"timezone":"Moon/Base"}'
    expect_error 400 22023 "an unknown time zone"
    req POST '/rpc/register_venue' ACME_USER '{"name":"Clerk Hall","capacity":10}'
    expect_error 403 42501 "a tenant user may not register venues"
else skip register_venue; fi

# ---------------------------------------------------------------- reference and ops
if have event_transitions; then
    doc "Reference › Allowed status transitions"
    req GET '/event_transitions?from_status=eq.ON_SALE&select=to_status&order=to_status'
    expect_status 200 "the transition table"
    expect_jq '[.[].to_status] | index("SOLD_OUT") != null' "ON_SALE -> SOLD_OUT is listed"
else skip event_transitions; fi

if have worker_status; then
    doc "Operations › Worker status (service role)" running
    req GET '/worker_status?select=running,outbox_pending,outbox_dead,sagas_in_flight' SERVICE
    expect_status 200 "the service reads the worker status"
    req GET '/worker_status' ACME_USER
    expect_error 403 42501 "a tenant user may not"
else skip worker_status; fi

# ---------------------------------------------------------------- quotas
if have tenant_usage; then
    doc "Quotas › The tenant's quotas and what is in use" used
    req GET '/tenant_usage?select=quota,used,quota_limit,source&order=quota' ACME_USER
    expect_status 200 "the tenant reads its quotas"
    expect_jq 'map(.quota) | index("events") != null and index("seats_per_hold") != null and index("counter_slots") != null' "events, seats per hold and the counter share are there"
    acme_sql "INSERT INTO eventsvc.tenant_quotas (tenant_id, max_text_bytes) VALUES ('$A', 64)"
    doc "Quotas › A text larger than the tenant's quota is a 413, refused before any work"
    req POST '/rpc/submit_review' ACME_USER "{\"event_id\":\"$ROCK\",\"rating\":4,\"body\":\"$(printf 'x%.0s' $(seq 1 100))\"}"
    expect_error 413 PT413 "a 100-character review body over a 64-byte quota"
    acme_sql "DELETE FROM eventsvc.tenant_quotas WHERE tenant_id = '$A'"
    req GET '/tenant_usage' -
    expect_error 401 42501 "anonymous has no quotas to read"
else skip tenant_usage; fi

if have rate_limit_usage; then
    doc "Operations › A tenant's rate limits and what is left of them (docs/postgrest.md \"Rate limits\")"
    req GET '/rate_limit_usage?select=limit_name,per_minute,burst,source&order=limit_name' ACME_USER
    expect_jq '[.[].limit_name] == ["requests","reservations"] and all(.[]; .source == "default")' \
        "a tenant sees its two buckets, with the default limits"
else skip rate_limit_usage; fi

# ---------------------------------------------------------------- tokens
echo "# tokens"
doc "Tokens › Revoke a token (service role)"
req POST '/rpc/revoke_token' SERVICE '{"jti":"9f0c6a1e-logout","expires_at":"2030-01-01T00:00:00Z"}'
expect_status 200 "revoke"
doc "Tokens › Token status (service role)"
req GET '/rpc/token_status?jti=9f0c6a1e-logout' SERVICE
expect_jq '.revoked == true' "status"
doc "Tokens › Only the service role may revoke"
req POST '/rpc/revoke_token' ACME_ADMIN '{"jti":"x","expires_at":"2030-01-01T00:00:00Z"}'
expect_error 403 42501 "an admin may not revoke"
REVOKED=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"jti\":\"9f0c6a1e-logout\"}")
doc "Tokens › A revoked token is refused"
req GET '/public_events?limit=1' REVOKED
expect_error 401 PT401 "the revoked token"
EXPIRED=$(evs_jwt "{\"role\":\"eventsvc_user\",\"tenant_id\":\"$A\",\"exp\":1000000000}")
doc "Tokens › An expired token is refused"
req GET '/public_events?limit=1' EXPIRED
expect_error 401 PGRST301 "the expired token"

# ---------------------------------------------------------------- coverage
# Every function and view of the api schema was called above at least once.
missing=$(sql "SELECT string_agg(name, ' ' ORDER BY name) FROM (
                 SELECT proname AS name, '/rpc/' || proname AS path FROM pg_proc WHERE pronamespace = 'api'::regnamespace
                    AND NOT (pronargs = 1 AND proargtypes[0] IN (SELECT reltype FROM pg_class WHERE relnamespace = 'api'::regnamespace))
                 UNION SELECT relname, '/' || relname FROM pg_class WHERE relnamespace = 'api'::regnamespace AND relkind = 'v') r
               WHERE r.path NOT IN (SELECT split_part(split_part(l, ' ', 2), '?', 1)
                                      FROM unnest(string_to_array(\$log\$$(cat "$HTTP_REQUEST_LOG")\$log\$, E'\\n')) l)")
if [ -z "$missing" ]; then _ok "every api route was exercised over HTTP"; else _fail "routes never called: $missing"; fi

# ---------------------------------------------------------------- docs/api.md
node "$ROOT/test/http/apidoc.mjs" "$HTTP_TRANSCRIPT" >"$EVS_WORK/http_routes/api.md" || _fail "apidoc.mjs failed"
if [ -n "${EVS_API_DOC_OUT:-}" ]; then
    cp "$EVS_WORK/http_routes/api.md" "$EVS_API_DOC_OUT" && echo "# wrote $EVS_API_DOC_OUT"
elif diff -u "$ROOT/docs/api.md" "$EVS_WORK/http_routes/api.md" >"$EVS_WORK/http_routes/api.diff" 2>&1; then
    _ok "docs/api.md matches this run"
else
    head -60 "$EVS_WORK/http_routes/api.diff"
    _fail "docs/api.md differs from this run (EVS_API_DOC_OUT=\$PWD/docs/api.md test/run http_routes regenerates it)"
fi

http_summary
