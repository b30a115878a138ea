-- The pre-request check moves to C (src/core/request_check.c): the same checks
-- and errors, without PL/pgSQL, SPI or a parse of the claims per call.
CREATE OR REPLACE FUNCTION eventsvc.check_request() RETURNS void
    AS 'MODULE_PATHNAME', 'evs_sql_check_request' LANGUAGE C STABLE;
-- Its SQL helper has no caller left.
DROP FUNCTION eventsvc.token_is_revoked(text);
