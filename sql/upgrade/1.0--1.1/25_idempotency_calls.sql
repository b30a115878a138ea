-- Part 25 (continued): the Idempotency-Key of the api functions written in SQL
-- (src/core/idempotency.c; docs/api.md "Idempotency"). Such a function begins with
--     replay := eventsvc.idempotency_replay('<operation>', <its arguments as jsonb>);
--     IF replay IS NOT NULL THEN RETURN replay; END IF;
-- and returns eventsvc.idempotency_store('<operation>', <its result>): a retry with
-- the same key and arguments gets the first result back, the same key with other
-- arguments is PT422, a call without the header does its work as before.
CREATE FUNCTION eventsvc.idempotency_replay(operation text, request jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_idempotency_replay' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.idempotency_replay(text, jsonb) IS
    'With an Idempotency-Key header: the first result of a retried call, or NULL after reserving the key; NULL without the header.';
CREATE FUNCTION eventsvc.idempotency_store(operation text, response jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_idempotency_store' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.idempotency_store(text, jsonb) IS
    'Stores response under the key idempotency_replay reserved in this transaction; returns response.';
REVOKE ALL ON FUNCTION eventsvc.idempotency_replay(text, jsonb), eventsvc.idempotency_store(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.idempotency_replay(text, jsonb), eventsvc.idempotency_store(text, jsonb)
    TO eventsvc_user, eventsvc_service;
