-- Part 30: the event state machine (src/lifecycle/state_machine.c). One transition table in C;
-- this trigger makes every writer go through it, a DBA's UPDATE included.

CREATE FUNCTION eventsvc.status_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_status_trigger' LANGUAGE C
    SET search_path = pg_catalog, pg_temp;

-- Fires only when status is in the SET list; a status left alone needs no check.
CREATE TRIGGER events_state_machine BEFORE UPDATE OF status ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.status_trigger();

CREATE FUNCTION eventsvc.status_transitions(OUT from_status text, OUT to_status text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'evs_sql_status_transitions' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.status_transitions() IS
    'The edges of the event state machine, read from the C transition table.';

-- The table for clients: GET /event_transitions?from_status=eq.ON_SALE
CREATE VIEW api.event_transitions WITH (security_invoker = true) AS
SELECT from_status, to_status FROM eventsvc.status_transitions();
COMMENT ON VIEW api.event_transitions IS 'Allowed event status changes (from_status -> to_status).';

GRANT EXECUTE ON FUNCTION eventsvc.status_transitions() TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT SELECT ON api.event_transitions TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
