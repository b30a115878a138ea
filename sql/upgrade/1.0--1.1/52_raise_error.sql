-- The saga raises through eventsvc.raise_error.

CREATE OR REPLACE FUNCTION eventsvc.saga_call_done(p_tenant_id uuid, p_report_id uuid, p_step_no smallint,
                                        p_call_no integer, p_response text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st record;
    resp jsonb;
    key text;
    n bigint;
BEGIN
    SELECT c.* INTO st FROM eventsvc.cancellation_steps c
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no
       FOR UPDATE;
    BEGIN
        resp := coalesce(nullif(p_response, ''), '{}')::jsonb;
    EXCEPTION WHEN others THEN
        PERFORM eventsvc.raise_error('validation',
            pg_catalog.format('invalid response from the %s step: not JSON', coalesce(st.step::text, 'null')));
    END;
    IF st.step = 'fetch_tickets' THEN
        IF pg_catalog.jsonb_typeof(resp -> 'tickets') IS DISTINCT FROM 'array' THEN
            PERFORM eventsvc.raise_error('validation', 'invalid response from ticket-service: no "tickets" array');
        END IF;
        UPDATE eventsvc.cancellation_steps c
           SET result = pg_catalog.jsonb_build_object('calls_done', p_call_no,
                   'count', pg_catalog.jsonb_array_length(resp -> 'tickets'), 'tickets', resp -> 'tickets'),
               updated_at = pg_catalog.now()
         WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no;
        RETURN;
    END IF;
    key := CASE st.step WHEN 'cancel_tickets' THEN 'cancelled' WHEN 'refund_payments' THEN 'refundsRequested'
                        WHEN 'cancel_listings' THEN 'cancelled' ELSE 'sent' END;
    n := CASE WHEN pg_catalog.jsonb_typeof(resp -> key) = 'number' THEN (resp ->> key)::bigint ELSE 0 END;
    UPDATE eventsvc.cancellation_steps c
       SET result = coalesce(c.result, '{}') || pg_catalog.jsonb_build_object('calls_done', p_call_no,
               'count', coalesce((c.result ->> 'count')::bigint, 0) + n),
           updated_at = pg_catalog.now()
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no;
END
$$;
