-- eventsvc.raise_error: the one way the SQL of eventsvc raises an error, with the
-- SQLSTATE of a catalogue entry (docs/errors.md). Created before the fragments that
-- change functions to call it.
CREATE FUNCTION eventsvc.raise_error(kind text, message text, detail text DEFAULT NULL, hint text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    code text := CASE kind
        WHEN 'validation' THEN '22023'
        WHEN 'overflow' THEN '22003'
        WHEN 'invariant' THEN '23514'
        WHEN 'forbidden' THEN '42501'
        WHEN 'token_revoked' THEN 'PT401'
        WHEN 'token_rejected' THEN 'PT401'
        WHEN 'not_found' THEN 'PT404'
        WHEN 'conflict' THEN 'PT409'
        WHEN 'illegal_transition' THEN 'PT409'
        WHEN 'sold_out' THEN 'PT409'
        WHEN 'gone' THEN 'PT410'
        WHEN 'too_large' THEN 'PT413'
        WHEN 'misdirected' THEN 'PT421'
        WHEN 'idempotency_mismatch' THEN 'PT422'
        WHEN 'confirmation_required' THEN 'PT428'
        WHEN 'quota_exceeded' THEN 'PT429'
        WHEN 'unavailable' THEN 'PT503'
        WHEN 'internal' THEN 'XX000'
    END;
    msg text := coalesce(message, kind || ' error');
BEGIN
    IF code IS NULL THEN
        PERFORM eventsvc.raise_error('validation',
            format('error kind %s is not in the error catalogue', coalesce(quote_literal(kind), 'null')),
            NULL, 'The kinds are the names in docs/errors.md without EVS_ERR_, in lower case.');
    END IF;
    -- (a RAISE option may not be NULL)
    IF detail IS NULL AND hint IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code;
    ELSIF hint IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, DETAIL = detail;
    ELSIF detail IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, HINT = hint;
    ELSE
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, DETAIL = detail, HINT = hint;
    END IF;
END
$$;
COMMENT ON FUNCTION eventsvc.raise_error(text, text, text, text) IS
    'Raises message with the SQLSTATE of catalogue entry kind (docs/errors.md), with detail and hint when not NULL.';
REVOKE ALL ON FUNCTION eventsvc.raise_error(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.raise_error(text, text, text, text)
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
