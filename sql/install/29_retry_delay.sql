-- Part 29: when a failed call to another service is tried again. The worker's calls
-- (the cancellation saga's steps, src/worker/saga.c; the postponement refunds,
-- src/worker/postponement_pay.c) wait a full-jitter exponential delay: a random part of
-- base x 2^(attempts before this one), at most max (the eventsvc.saga_backoff_* settings).

CREATE FUNCTION eventsvc.retry_delay(p_attempts integer, p_base_ms integer, p_max_ms integer)
RETURNS interval
LANGUAGE sql VOLATILE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.make_interval(secs =>
        pg_catalog.random() * LEAST(p_max_ms::float8, p_base_ms * pg_catalog.power(2::float8, p_attempts)) / 1000.0)
$$;
COMMENT ON FUNCTION eventsvc.retry_delay(integer, integer, integer) IS
    'The wait before a failed call to another service is tried again: full jitter, base x 2^attempts, at most max (milliseconds).';
REVOKE ALL ON FUNCTION eventsvc.retry_delay(integer, integer, integer) FROM PUBLIC;
