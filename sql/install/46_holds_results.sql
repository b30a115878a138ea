-- Part 46: the hold calls return a row of api.holds (part 44), a declared type:
-- PostgREST's OpenAPI describes it (definition "holds") and typed clients see the
-- hold's shape; over HTTP the answer is the same JSON object as a GET /holds row.
-- The row is made in C from the hold the call wrote (src/capacity/hold_result.c),
-- with no query of its own. The same file is the upgrade fragment
-- sql/upgrade/1.0--1.1/46_holds_results.sql (after 46_holds_0_results_drop.sql drops
-- the 1.0 functions, which returned jsonb). docs/api.md "Hold calls return api.holds".

-- No SECURITY DEFINER and no SET clause here, on purpose: the C body gives itself
-- the schema owner's rights and pg_catalog as its only search path
-- (evs_enter_as_definer in src/core/tenancy.c), the same as SECURITY DEFINER
-- SET search_path = pg_catalog, pg_temp without the GUC work a SET clause costs
-- on every call (docs/capacity.md, "What a reservation costs").
CREATE FUNCTION api.reserve_capacity(capacity_id uuid, quantity integer, pricing_id uuid DEFAULT NULL,
                                     holder_id text DEFAULT NULL, hold_seconds integer DEFAULT NULL)
RETURNS api.holds AS 'MODULE_PATHNAME', 'evs_sql_reserve_capacity_row'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION api.reserve_capacity(uuid, integer, uuid, text, integer) IS
    'Holds quantity seats of a section for holder_id (default: the caller) until the hold expires, at a locked price; returns the hold (a row of holds). PT409 when sold out (says how many remain).';

CREATE FUNCTION api.confirm_hold(hold_id uuid) RETURNS api.holds
    AS 'MODULE_PATHNAME', 'evs_sql_confirm_hold_row'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.confirm_hold(uuid) IS
    'Turns an active, unexpired hold into sold seats at its locked price; returns the hold (a row of holds). PT410 when it expired or was released.';

CREATE FUNCTION api.release_hold(hold_id uuid) RETURNS api.holds
    AS 'MODULE_PATHNAME', 'evs_sql_release_hold_row'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.release_hold(uuid) IS 'Gives an active hold''s seats back; returns the hold (a row of holds).';

CREATE FUNCTION api.extend_hold(hold_id uuid, seconds integer) RETURNS api.holds
    AS 'MODULE_PATHNAME', 'evs_sql_extend_hold_row'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.extend_hold(uuid, integer) IS
    'Moves an active hold''s expiry later by seconds, at most eventsvc.hold_max_seconds after its creation; returns the hold (a row of holds).';

CREATE FUNCTION api.start_payment(hold_id uuid, payment_ref text) RETURNS api.holds
    AS 'MODULE_PATHNAME', 'evs_sql_start_payment_row'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.start_payment(uuid, text) IS
    'The hold enters its payment phase: its expiry moves to the payment window (once per hold; the same payment_ref again returns the hold unchanged); returns the hold (a row of holds).';

CREATE FUNCTION api.confirm_payment(hold_id uuid, payment_ref text) RETURNS api.holds
    AS 'MODULE_PATHNAME', 'evs_sql_confirm_payment_row'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.confirm_payment(uuid, text) IS
    'Service: the payment of a hold succeeded. In time: CONFIRMED. Too late: CONFIRMED again if its seats can still be taken (revived), else REFUND_REQUIRED with a payment.refund_requested message. Returns the hold (a row of holds).';

REVOKE ALL ON FUNCTION api.reserve_capacity(uuid, integer, uuid, text, integer), api.confirm_hold(uuid),
                       api.release_hold(uuid), api.extend_hold(uuid, integer),
                       api.start_payment(uuid, text), api.confirm_payment(uuid, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.reserve_capacity(uuid, integer, uuid, text, integer), api.confirm_hold(uuid),
                          api.release_hold(uuid), api.extend_hold(uuid, integer),
                          api.start_payment(uuid, text), api.confirm_payment(uuid, text)
    TO eventsvc_user, eventsvc_service;
