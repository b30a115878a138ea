#!/usr/bin/env bash
# rate_limit_slots: the rate limits' table of buckets is bounded (a cluster of its own
# with eventsvc.rate_limit_slots = 16). Eight tenants empty their buckets; then 500
# anonymous requests from 500 made-up addresses flood the table. The table never holds
# more than its 16 slots and the overflow bucket, and no tenant's bucket was pushed out
# by the flood: every tenant is still refused (a new bucket would start full and pass).
set -uo pipefail
ROOT=${EVS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/cluster.sh"
DIR=${EVS_WORK:?}/rate_limit_slots
saved_host=${PGHOST:-} saved_port=${PGPORT:-}
evs_start "$DIR/data" "$EVS_BIN" "eventsvc.rate_limit_slots = 16" || exit 1
trap 'evs_stop "$DIR/data"' EXIT
fails=0
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }

q -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null 2>&1 || { echo "not ok - eventsvc installs"; exit 1; }
[ "$(q -c 'SHOW eventsvc.rate_limit_slots')" = 16 ] && echo "ok - 16 slots" || { echo "not ok - 16 slots"; fails=$((fails + 1)); }
q >/dev/null <<'SQL'
SELECT eventsvc.create_tenant('Slot ' || i, 'slot-' || i, format('5107%s-0000-4000-8000-000000000000', lpad(i::text, 4, '0'))::uuid)
  FROM generate_series(1, 8) i;
INSERT INTO eventsvc.tenant_rate_limits (tenant_id, requests_per_minute, request_burst)
SELECT id, 1, 2 FROM eventsvc.tenants WHERE slug LIKE 'slot-%';
-- check_request as PostgREST calls it: 'ok' or the body's code
CREATE FUNCTION public.probe(claims text, headers text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', claims, true), set_config('request.path', '/events', true),
            set_config('request.headers', headers, true);
    PERFORM eventsvc.check_request();
    RETURN 'ok';
EXCEPTION WHEN SQLSTATE 'PGRST' THEN
    RETURN SQLERRM::jsonb ->> 'code';
END $$;
GRANT EXECUTE ON FUNCTION public.probe(text, text) TO eventsvc_user, eventsvc_anon;
SQL
tenant_round() { # -> one line: the answers of the 8 tenants
    q <<'SQL'
SET ROLE eventsvc_user;
SELECT string_agg(public.probe(jsonb_build_object('role', 'eventsvc_user', 'sub', 'probe',
                                                  'tenant_id', format('5107%s-0000-4000-8000-000000000000', lpad(i::text, 4, '0')),
                                                  'exp', floor(extract(epoch FROM now())) + 3600)::text, '{}'),
                  ' ' ORDER BY i)
  FROM generate_series(1, 8) i;
SQL
}
tenant_round >/dev/null
tenant_round >/dev/null
got=$(tenant_round)
[ "$got" = "$(printf 'PT429 %.0s' $(seq 1 8) | sed 's/ $//')" ] && echo "ok - each of the 8 tenants used its burst of 2 and is refused" \
    || { echo "not ok - each of the 8 tenants is refused (got: $got)"; fails=$((fails + 1)); }

flood=$(q <<'SQL'
SET ROLE eventsvc_anon;
SELECT count(*) FILTER (WHERE a = 'ok') || ' ' || count(*)
  FROM (SELECT public.probe('{"role": "eventsvc_anon"}', jsonb_build_object('x-forwarded-for', '198.18.' || (i / 250) || '.' || (i % 250))::text) AS a
          FROM generate_series(1, 500) i) r;
SQL
)
set -- $flood
[ "${2:-0}" = 500 ] && [ "${1:-0}" -ge 1 ] && echo "ok - 500 anonymous requests from 500 addresses ($1 passed)" \
    || { echo "not ok - the anonymous flood ran (got: $flood)"; fails=$((fails + 1)); }

n=$(q -c "SELECT count(*) FROM eventsvc.rate_limit_usage()")
[ "$n" -le 17 ] && echo "ok - the table holds $n buckets: at most its 16 slots and the overflow bucket" \
    || { echo "not ok - the table holds $n buckets, more than 17"; fails=$((fails + 1)); }
n=$(q -c "SELECT count(*) FROM eventsvc.rate_limit_usage() WHERE limit_name = 'requests'")
[ "$n" = 8 ] && echo "ok - the 8 tenants' buckets are all still there" \
    || { echo "not ok - the 8 tenants' buckets are all still there (got $n)"; fails=$((fails + 1)); }
got=$(tenant_round)
[ "$got" = "$(printf 'PT429 %.0s' $(seq 1 8) | sed 's/ $//')" ] && echo "ok - after the flood every tenant is still refused: no bucket was pushed out" \
    || { echo "not ok - after the flood every tenant is still refused (got: $got)"; fails=$((fails + 1)); }

if [ -n "$saved_host" ]; then export PGHOST=$saved_host PGPORT=$saved_port; fi
[ "$fails" = 0 ]
