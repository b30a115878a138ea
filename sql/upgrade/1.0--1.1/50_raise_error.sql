-- The relay's claim raises through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION eventsvc.relay_claim(p_worker integer, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (tenant_id uuid, id bigint, message_id uuid, exchange text, routing_key text,
               payload jsonb, created_at timestamptz, sequence bigint, attempts integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET enable_bitmapscan = off SET enable_seqscan = off AS $$
DECLARE
    r record;
    n integer := 0;
    tenants uuid[] := '{}';
    ids bigint[] := '{}';
    seen uuid[] := '{}';
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_lease_seconds IS NULL OR p_lease_seconds < 1 THEN
        PERFORM eventsvc.raise_error('validation', 'relay_claim needs a limit and a lease of at least 1');
    END IF;
    FOR r IN
        SELECT o.tenant_id AS t, o.id AS i, o.aggregate_id AS a
          FROM eventsvc.outbox o
         WHERE o.state = 'pending'
           AND o.next_attempt_at <= pg_catalog.now()
           AND (o.lease_until IS NULL OR o.lease_until < pg_catalog.now())
         ORDER BY o.id
         LIMIT p_limit * 2
           FOR UPDATE SKIP LOCKED
    LOOP
        -- a second row of an event in this head waits for the first
        CONTINUE WHEN r.a = ANY (seen);
        seen := seen || r.a;
        CONTINUE WHEN EXISTS (SELECT 1 FROM eventsvc.outbox e
                               WHERE e.tenant_id = r.t AND e.aggregate_id = r.a
                                 AND e.state < 'published'::eventsvc.outbox_state AND e.id < r.i);
        tenants := tenants || r.t;
        ids := ids || r.i;
        n := n + 1;
        EXIT WHEN n >= p_limit;
    END LOOP;
    IF n = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH u AS (
        UPDATE eventsvc.outbox o
           SET claimed_at = pg_catalog.now(), claimed_by = p_worker,
               lease_until = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds)
          FROM ROWS FROM (pg_catalog.unnest(tenants), pg_catalog.unnest(ids)) AS x(t, i)
         WHERE o.tenant_id = x.t AND o.id = x.i
        RETURNING o.tenant_id, o.id, o.message_id, o.exchange, o.routing_key, o.payload,
                  o.created_at, o.sequence, o.attempts)
    SELECT * FROM u ORDER BY u.id;
END
$$;
