-- Part 32 (new): the write rules of events for every writer, a section with holds stays
-- with its event, and one event per on-chain address.

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

-- (a fresh install revokes PUBLIC's rights on every function in part 99)
REVOKE ALL ON FUNCTION eventsvc.event_rules_trigger(), eventsvc.section_event_trigger() FROM PUBLIC;

-- 1.0 let two events claim one address; the update stops with the list instead of
-- choosing which event keeps it.
DO $pda$
DECLARE
    dups text;
BEGIN
    SELECT string_agg(format('%s (events %s)', d.event_pda, d.ids), '; ') INTO dups
      FROM (SELECT e.event_pda, string_agg(e.tenant_id || '/' || e.id, ', ' ORDER BY e.tenant_id, e.id) AS ids
              FROM eventsvc.events e WHERE e.event_pda IS NOT NULL
             GROUP BY e.event_pda HAVING count(*) > 1) d;
    IF dups IS NOT NULL THEN
        PERFORM eventsvc.raise_error('conflict', 'several events claim the same event_pda; 1.1 allows one event per address',
            'Claimed more than once: ' || dups || '.',
            'Keep the address on the event the blockchain service synced, set event_pda = NULL on the others, then run ALTER EXTENSION eventsvc UPDATE again.');
    END IF;
END
$pda$;
CREATE UNIQUE INDEX events_event_pda_key ON eventsvc.events (event_pda) WHERE event_pda IS NOT NULL;
