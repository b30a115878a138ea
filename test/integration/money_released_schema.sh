#!/usr/bin/env bash
# A database still on the released 1.0 schema runs this library until the DBA runs
# ALTER EXTENSION eventsvc UPDATE: its tiers (no tax mode columns) keep pricing, holds
# keep locking prices, tiers can still be written. After the update, in the same
# session, a tier made tax-included is priced as one (docs/money.md).
set -uo pipefail
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; fails=$((fails + 1)); }

psql -X -q -d postgres -c "CREATE DATABASE money_released" || exit 1
out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d money_released 2>&1 <<'SQL'
CREATE EXTENSION eventsvc VERSION '1.0' CASCADE;
SELECT eventsvc.create_tenant('Old Hall', 'old-hall', '6b6b6b6b-6b6b-46b6-86b6-6b6b6b6b6b6b') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('6b6b6b6b-6b6b-46b6-86b6-6b6b6b6b6b6b', '6b6b6b6b-0000-4000-8000-00000000000a', 'Old Hall', 100);
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('6b6b6b6b-6b6b-46b6-86b6-6b6b6b6b6b6b', '6b6b6b6b-0000-4000-8000-0000000000e1',
     '6b6b6b6b-0000-4000-8000-00000000000a', 'Old Night', 'old-night', 'ON_SALE');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('6b6b6b6b-6b6b-46b6-86b6-6b6b6b6b6b6b', '6b6b6b6b-0000-4000-8000-0000000000c1',
        '6b6b6b6b-0000-4000-8000-0000000000e1', 'Floor', 50, 50);
SET app.current_tenant_id = '6b6b6b6b-6b6b-46b6-86b6-6b6b6b6b6b6b';
SET app.current_user_id = 'old-admin';
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'eventsvc';
SELECT (api.create_pricing('6b6b6b6b-0000-4000-8000-0000000000e1', 'Old tier', 2500, currency => 'EUR',
                           tax_rate => 0.19)) ->> 'id' AS tier \gset
SELECT 'calc ' || (p ->> 'total') || ' ' || (p ->> 'tax') || ' ' || (p ->> 'tax_included') || ' ' || (p ->> 'rounding_mode')
  FROM api.calculate_price(:'tier', 2) p;
SELECT 'hold ' || (h -> 'locked_price' ->> 'total')
  FROM api.reserve_capacity('6b6b6b6b-0000-4000-8000-0000000000c1', 2, :'tier', holder_id => 'old') h;
SELECT 'active ' || (api.active_pricing('6b6b6b6b-0000-4000-8000-0000000000c1') ->> 'tax_included');
ALTER EXTENSION eventsvc UPDATE;
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'eventsvc';
SELECT 'update ' || (api.update_pricing(:'tier', 1, '{"tax_included": true}') ->> 'tax_included');
SELECT 'calc ' || (p ->> 'total') || ' ' || (p ->> 'tax') || ' ' || (p ->> 'tax_included') || ' ' || (p ->> 'rounding_mode')
  FROM api.calculate_price(:'tier', 2) p;
SELECT 'hold ' || (h -> 'locked_price' ->> 'total') || ' ' || (h -> 'locked_price' ->> 'tax')
  FROM api.reserve_capacity('6b6b6b6b-0000-4000-8000-0000000000c1', 2, :'tier', holder_id => 'new') h;
SELECT 'kept ' || (locked_price ->> 'total') FROM eventsvc.capacity_holds WHERE holder_id = 'old';
SQL
)
st=$?
echo "$out" | sed 's/^/# /'
[ "$st" = 0 ] && ok "the session ran through" || nok "the session failed (exit $st)"
expect() { grep -qxF "$1" <<<"$out" && ok "$2" || nok "$2: expected '$1'"; }
expect "version 1.0" "the database starts on the released 1.0 schema"
expect "calc 5950 950 false half_even" "1.0: a tier is priced tax-exclusive, half-even (19 % on top of 2 x 25.00)"
expect "hold 5950" "1.0: a reservation locks that price"
expect "active false" "1.0: active_pricing answers, tax not included"
expect "version 1.1" "ALTER EXTENSION eventsvc UPDATE in the same session"
expect "update true" "1.1: update_pricing sets tax_included"
expect "calc 5000 798 true half_even" "1.1: the same session prices the tier tax-included: 50.00 with 7.98 inside"
expect "hold 5000 798" "1.1: and reservations lock it so"
expect "kept 5950" "the hold taken before the update keeps its price"
[ "$fails" = 0 ]
