-- The cron set-up raises through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION eventsvc.schedule_cron_jobs(
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
