-- Part 32: the rules of eventsvc.events that hold for every writer, the API, the
-- worker, the blockchain callback and a DBA alike: a C trigger
-- (src/lifecycle/event_rules.c) and the constraints behind it. The API checks the
-- same rules first with messages that name its parameters. See docs/tenancy.md
-- "Write rules".

CREATE FUNCTION eventsvc.event_rules_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_event_rules_trigger' LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION eventsvc.event_rules_trigger() IS
    'BEFORE INSERT, UPDATE or DELETE on events: the write rules every writer meets (docs/tenancy.md "Write rules").';
CREATE TRIGGER events_write_rules BEFORE INSERT OR UPDATE OR DELETE ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.event_rules_trigger();

-- A section with holds stays with its event: its holds, prices and seat counter
-- belong to that event. Fires only when event_id changes.
CREATE FUNCTION eventsvc.section_event_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_section_event_trigger' LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION eventsvc.section_event_trigger() IS
    'BEFORE UPDATE OF event_id on event_capacity: a section with holds is never moved to another event.';
CREATE TRIGGER event_capacity_keeps_event BEFORE UPDATE OF event_id ON eventsvc.event_capacity
    FOR EACH ROW WHEN (OLD.event_id IS DISTINCT FROM NEW.event_id)
    EXECUTE FUNCTION eventsvc.section_event_trigger();

-- An on-chain address names one event of the whole platform, deleted events
-- included (the account still exists): the trigger reports a clash as PT409, this
-- index is the last line behind it and what makes a PDA lookup one row.
CREATE UNIQUE INDEX events_event_pda_key ON eventsvc.events (event_pda) WHERE event_pda IS NOT NULL;
