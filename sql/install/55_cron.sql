-- Part 55: periodic jobs for pg_cron (docs/operations.md "Without the worker").
-- The job bodies are plain functions, usable from any scheduler; the jobs run
-- as the DBA who scheduled them. eventsvc.schedule_cron_jobs() installs them.

-- One reminder per event and start time: a rescheduled event gets a new one.
CREATE TABLE eventsvc.event_reminders_sent (
    tenant_id  uuid NOT NULL,
    event_id   uuid NOT NULL,
    starts_at  timestamptz NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id, starts_at),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
-- Tenant data like every other table: RLS forced; no API role has a policy or a
-- grant, only the jobs below (run by the DBA) touch it.
ALTER TABLE eventsvc.event_reminders_sent ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_reminders_sent FORCE ROW LEVEL SECURITY;

-- Expired holds, in bounded batches with a commit after each (a procedure, so
-- no batch waits for the others and a long backlog never holds locks for long).
-- (No SET search_path here: a procedure with a SET clause cannot COMMIT; every
-- name inside is schema-qualified instead.)
CREATE PROCEDURE eventsvc.cron_expire_holds(p_batch integer DEFAULT 5000)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    LOOP
        n := api.expire_holds(p_batch);
        COMMIT;
        EXIT WHEN n < p_batch;
    END LOOP;
END
$$;

-- event.reminder for every live event starting within p_window from now,
-- once per event and start time. Returns the reminders written to the outbox.
CREATE FUNCTION eventsvc.cron_send_reminders(p_window interval DEFAULT '24 hours')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    WITH due AS (
        SELECT e.tenant_id, e.id, e.name, e.starts_at, e.ends_at, e.venue_id, e.timezone, e.status
          FROM eventsvc.events e
         WHERE e.deleted_at IS NULL
           AND e.status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT')
           AND e.starts_at > eventsvc.now() AND e.starts_at <= eventsvc.now() + p_window),
    ins AS (
        INSERT INTO eventsvc.event_reminders_sent (tenant_id, event_id, starts_at, sent_at)
        SELECT due.tenant_id, due.id, due.starts_at, eventsvc.now() FROM due
        ON CONFLICT DO NOTHING
        RETURNING tenant_id, event_id)
    SELECT pg_catalog.count(eventsvc.outbox_emit(due.tenant_id, due.id, 'tickettoken_events', 'event.reminder',
               pg_catalog.jsonb_build_object('event_id', due.id, 'name', due.name, 'starts_at', due.starts_at,
                   'ends_at', due.ends_at, 'venue_id', due.venue_id, 'timezone', due.timezone,
                   'status', due.status, 'window', p_window::text)))
      INTO n
      FROM due JOIN ins ON ins.tenant_id = due.tenant_id AND ins.event_id = due.id;
    RETURN n;
END
$$;

-- Expired idempotency keys and confirmation tokens, and published outbox rows
-- older than p_outbox_retention (dead rows stay until requeued or deleted by hand).
CREATE FUNCTION eventsvc.cron_purge(p_outbox_retention interval DEFAULT '7 days')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k bigint;
    t bigint;
    o bigint;
BEGIN
    DELETE FROM eventsvc.idempotency_keys WHERE expires_at <= eventsvc.now();
    GET DIAGNOSTICS k = ROW_COUNT;
    DELETE FROM eventsvc.confirmation_tokens WHERE expires_at <= eventsvc.now();
    GET DIAGNOSTICS t = ROW_COUNT;
    DELETE FROM eventsvc.outbox
     WHERE state = 'published' AND published_at < pg_catalog.now() - p_outbox_retention;
    GET DIAGNOSTICS o = ROW_COUNT;
    RETURN pg_catalog.jsonb_build_object('idempotency_keys', k, 'confirmation_tokens', t, 'outbox_published', o);
END
$$;

-- Events whose start has passed go IN_PROGRESS (from ON_SALE, SALES_PAUSED or
-- SOLD_OUT: the state machine's edges), and those whose end has passed go
-- COMPLETED. Each change goes through the state-machine and audit triggers and
-- announces itself with event.updated.
CREATE FUNCTION eventsvc.cron_advance_events()
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    res jsonb;
BEGIN
    WITH c AS (
        SELECT e.tenant_id, e.id, e.status AS prev,
               CASE WHEN e.status = 'IN_PROGRESS' THEN 'COMPLETED' ELSE 'IN_PROGRESS' END::eventsvc.event_status AS target
          FROM eventsvc.events e
         WHERE e.deleted_at IS NULL
           AND ((e.status IN ('ON_SALE', 'SALES_PAUSED', 'SOLD_OUT') AND e.starts_at <= eventsvc.now())
             OR (e.status = 'IN_PROGRESS' AND e.ends_at <= eventsvc.now()))
           FOR UPDATE SKIP LOCKED),
    u AS (
        UPDATE eventsvc.events e
           SET status = c.target, updated_at = eventsvc.now(), updated_by = 'scheduler'
          FROM c
         WHERE e.tenant_id = c.tenant_id AND e.id = c.id
        RETURNING e.tenant_id, e.id, c.prev, c.target)
    SELECT pg_catalog.jsonb_build_object(
               'in_progress', pg_catalog.count(*) FILTER (WHERE u.target = 'IN_PROGRESS'),
               'completed', pg_catalog.count(*) FILTER (WHERE u.target = 'COMPLETED'),
               'messages', pg_catalog.count(eventsvc.outbox_emit(u.tenant_id, u.id, 'tickettoken_events', 'event.updated',
                   pg_catalog.jsonb_build_object('event_id', u.id, 'status', u.target, 'previous_status', u.prev,
                       'changed_by', 'scheduler'))))
      INTO res
      FROM u;
    RETURN res;
END
$$;

-- Install (or replace) the jobs. Call it as a superuser in the database where
-- pg_cron is installed (cron.database_name); p_database is where eventsvc
-- lives (the same database by default). Returns the job names and ids.
CREATE FUNCTION eventsvc.schedule_cron_jobs(
    p_database text DEFAULT pg_catalog.current_database(),
    p_expire_holds text DEFAULT '* * * * *',
    p_reminders text DEFAULT '* * * * *',
    p_reminder_window interval DEFAULT '24 hours',
    p_purge text DEFAULT '17 * * * *',
    p_advance text DEFAULT '* * * * *',
    p_with_expire_holds boolean DEFAULT true)
RETURNS TABLE (job_name text, jobid bigint)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    spec record;
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        -- a conflict: the database is not in a state that allows the action
        PERFORM eventsvc.raise_error('conflict',
            pg_catalog.format('pg_cron is not installed in database "%s"', pg_catalog.current_database()), NULL,
            'Run CREATE EXTENSION pg_cron in the database named by cron.database_name and call this function there.');
    END IF;
    FOR spec IN
        SELECT * FROM (VALUES
            ('eventsvc-expire-holds', p_expire_holds, 'CALL eventsvc.cron_expire_holds()', p_with_expire_holds),
            ('eventsvc-reminders', p_reminders,
             pg_catalog.format('SELECT eventsvc.cron_send_reminders(%L)', p_reminder_window), true),
            ('eventsvc-purge', p_purge, 'SELECT eventsvc.cron_purge()', true),
            ('eventsvc-advance-events', p_advance, 'SELECT eventsvc.cron_advance_events()', true)
        ) AS t(name, schedule, command, wanted)
    LOOP
        EXECUTE 'SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1' USING spec.name;
        CONTINUE WHEN NOT spec.wanted;
        job_name := spec.name;
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)'
            INTO jobid USING spec.name, spec.schedule, spec.command, p_database;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Remove the jobs again.
CREATE FUNCTION eventsvc.unschedule_cron_jobs() RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE 'SELECT count(cron.unschedule(jobid)) FROM cron.job WHERE jobname LIKE ''eventsvc-%''' INTO n;
    RETURN n;
END
$$;

-- The jobs run as the superuser who scheduled them; nothing is granted.
REVOKE ALL ON TABLE eventsvc.event_reminders_sent FROM PUBLIC;
REVOKE ALL ON FUNCTION eventsvc.cron_send_reminders(interval), eventsvc.cron_purge(interval),
    eventsvc.cron_advance_events(), eventsvc.schedule_cron_jobs(text, text, text, interval, text, text, boolean),
    eventsvc.unschedule_cron_jobs() FROM PUBLIC;
REVOKE ALL ON PROCEDURE eventsvc.cron_expire_holds(integer) FROM PUBLIC;
