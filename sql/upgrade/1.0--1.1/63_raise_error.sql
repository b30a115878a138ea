-- Metadata raises through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION eventsvc.check_named_list(field text, items jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    pos bigint;
BEGIN
    IF items IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(items) <> 'array' THEN
        PERFORM eventsvc.raise_error('validation', format('invalid %s: it must be a JSON array', coalesce(field, 'null')));
    END IF;
    SELECT i.ord - 1 INTO pos FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, ord)
     WHERE NOT coalesce(jsonb_typeof(i.item) = 'string' AND length(i.item #>> '{}') BETWEEN 1 AND 300
                        OR jsonb_typeof(i.item) = 'object' AND jsonb_typeof(i.item -> 'name') = 'string'
                           AND length(i.item ->> 'name') BETWEEN 1 AND 300, false)
     LIMIT 1;
    IF pos IS NOT NULL THEN
        PERFORM eventsvc.raise_error('validation',
            format('invalid %s: entry %s must be a name or an object with a "name" of 1 to 300 characters',
                   coalesce(field, 'null'), pos),
            NULL, 'For example ["The Band"] or [{"name": "The Band", "role": "headliner"}].');
    END IF;
END
$$;

