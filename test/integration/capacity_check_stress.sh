#!/usr/bin/env bash
# check_capacity under load: buyers reserve short holds on three sections, some
# confirm or release them, a sweeper expires the rest every 200 ms, and a checker
# calls eventsvc.check_capacity thousands of times meanwhile. Every answer that
# is not "busy" must show no drift (the counter and the rows are compared only at
# a moment when nothing is in flight); at the end everything settles to no drift.
set -uo pipefail
. "$EVS_SRC/test/lib/cluster.sh"
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; fails=$((fails + 1)); }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d check_stress "$@"; }
SECONDS_TO_RUN=${CHECK_STRESS_SECONDS:-12}

evs_createdb check_stress eventsvc
q <<'SQL'
SET client_min_messages = warning;
SELECT eventsvc.create_tenant('Stress', 'stress', '57e55000-0000-4000-8000-000000000001');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('57e55000-0000-4000-8000-000000000001', '57e55000-0000-4000-8000-0000000000a1', 'Stress Hall', 10000000);
SET eventsvc.import_mode = on;   -- a fixture on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('57e55000-0000-4000-8000-000000000001', '57e55000-0000-4000-8000-0000000000e1',
     '57e55000-0000-4000-8000-0000000000a1', 'Stress Night', 'stress-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
SELECT '57e55000-0000-4000-8000-000000000001', ('57e55000-0000-4000-8000-0000000000c' || s)::uuid,
       '57e55000-0000-4000-8000-0000000000e1', 'S' || s, 1000000, 1000000
  FROM generate_series(1, 3) s;
CREATE TABLE public.check_results (at timestamptz DEFAULT clock_timestamp(), section uuid, r jsonb);

-- A buyer: short holds (1 to 3 s), a third confirmed, a sixth released, one transaction each.
CREATE PROCEDURE public.buy(p_seconds int, p_buyer text) LANGUAGE plpgsql AS $$
DECLARE
    stop timestamptz := clock_timestamp() + make_interval(secs => p_seconds);
    h jsonb;
    r float8;
BEGIN
    PERFORM set_config('app.current_tenant_id', '57e55000-0000-4000-8000-000000000001', false);
    WHILE clock_timestamp() < stop LOOP
        h := to_jsonb(api.reserve_capacity(('57e55000-0000-4000-8000-0000000000c' || (1 + floor(random() * 3))::int)::uuid,
                                  1 + floor(random() * 3)::int, holder_id => p_buyer,
                                  hold_seconds => 1 + floor(random() * 3)::int));
        r := random();
        IF r < 0.33 THEN
            PERFORM to_jsonb(api.confirm_hold((h ->> 'id')::uuid));
        ELSIF r < 0.5 THEN
            PERFORM to_jsonb(api.release_hold((h ->> 'id')::uuid));
        END IF;
        COMMIT;
        PERFORM pg_sleep(0.003);
    END LOOP;
END $$;

-- The sweeper, as the worker runs it: a batch every 200 ms.
CREATE PROCEDURE public.sweep(p_seconds int) LANGUAGE plpgsql AS $$
DECLARE
    stop timestamptz := clock_timestamp() + make_interval(secs => p_seconds);
BEGIN
    WHILE clock_timestamp() < stop LOOP
        PERFORM api.expire_holds(500);
        COMMIT;
        PERFORM pg_sleep(0.2);
    END LOOP;
END $$;

-- The checker: every section in turn, one call per transaction.
CREATE PROCEDURE public.check(p_seconds int) LANGUAGE plpgsql AS $$
DECLARE
    stop timestamptz := clock_timestamp() + make_interval(secs => p_seconds);
    s int := 0;
    sec uuid;
BEGIN
    PERFORM set_config('app.current_tenant_id', '57e55000-0000-4000-8000-000000000001', false);
    WHILE clock_timestamp() < stop LOOP
        s := s % 3 + 1;
        sec := ('57e55000-0000-4000-8000-0000000000c' || s)::uuid;
        INSERT INTO public.check_results (section, r) VALUES (sec, eventsvc.check_capacity(sec));
        COMMIT;
    END LOOP;
END $$;
SQL

for b in 1 2; do q -c "CALL public.buy($SECONDS_TO_RUN, 'buyer$b')" & done
q -c "CALL public.sweep($((SECONDS_TO_RUN + 4)))" &
q -c "CALL public.check($SECONDS_TO_RUN)" || nok "the checker ran without error"
wait

read -r calls exact busy false_drift max_drift < <(q -F ' ' -c "
    SELECT count(*), count(*) FILTER (WHERE NOT (r->>'busy')::bool), count(*) FILTER (WHERE (r->>'busy')::bool),
           count(*) FILTER (WHERE NOT (r->>'busy')::bool AND (r->>'drift')::int <> 0),
           coalesce(max(abs((r->>'drift')::int)), 0)
      FROM public.check_results")
echo "# $calls calls: $exact compared, $busy busy; holds: $(q -c "SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT state, count(*) n FROM eventsvc.capacity_holds GROUP BY 1 ORDER BY 1) x")"
[ "$calls" -ge 1000 ] && ok "$calls check_capacity calls under load" || nok "only $calls check_capacity calls under load (1000 needed)"
[ "$exact" -ge 100 ] && ok "$exact of them compared the counter with the rows" || nok "only $exact calls compared (the rest busy)"
[ "$false_drift" = 0 ] && ok "no compared call reported drift" \
    || nok "$false_drift compared calls reported drift (up to $max_drift seats) that is not there"
[ "$(q -c "SELECT count(*) FROM public.check_results WHERE (r->>'busy')::bool AND r->>'drift' IS NOT NULL")" = 0 ] \
    && ok "a busy answer never gives a drift figure" || nok "a busy answer gave a drift figure"

# Everything settled: the sweep (and this one) expired what was left; no drift anywhere, nothing busy.
q -c "SELECT api.expire_holds(100000)" >/dev/null
settled=$(q -c "SET app.current_tenant_id = '57e55000-0000-4000-8000-000000000001';
    SELECT string_agg((r->>'busy') || '/' || (r->>'drift') || '/' || (r->>'oversold'), ' ' ORDER BY c.id)
      FROM eventsvc.event_capacity c, eventsvc.check_capacity(c.id) r
     WHERE c.tenant_id = '57e55000-0000-4000-8000-000000000001'")
[ "$settled" = "false/0/false false/0/false false/0/false" ] && ok "settled: no drift, nothing oversold" \
    || nok "settled: $settled"
[ "$fails" = 0 ]
