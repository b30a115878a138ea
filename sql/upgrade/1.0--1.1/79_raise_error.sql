-- Writes to read-only views are refused through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION eventsvc.refuse_view_write() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventsvc.raise_error('forbidden', format('%s.%s is read-only', TG_TABLE_SCHEMA, TG_TABLE_NAME),
        NULL, 'Change data through the api functions (POST /rpc/...), not through the view.');
END
$$;
