-- A cancellation's refunds paid once, by the saga's refund_payments step (one call per
-- refund, with its own key: sql/install/52_saga.sql), and the saga's retry delay from
-- eventsvc.retry_delay (29_retry_delay.sql), which the postponement refunds use too.

-- saga_step_calls returns each call's own key: a new return type.
DROP FUNCTION eventsvc.saga_step_calls(uuid, uuid, smallint, integer);

-- A call of a step answered (done or refused): calls_done moves forward only (a refund
-- sent again by api.retry_cancellation_refunds lies behind it), and the call leaves
-- result.retry.
CREATE FUNCTION eventsvc.saga_call_answered(p_result jsonb, p_call_no integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.jsonb_build_object('calls_done',
               GREATEST(coalesce((p_result ->> 'calls_done')::integer, 0), p_call_no))
        || CASE WHEN p_result ? 'retry' THEN pg_catalog.jsonb_build_object('retry',
               (SELECT coalesce(pg_catalog.jsonb_agg(r.v), '[]') FROM pg_catalog.jsonb_array_elements(p_result -> 'retry') r(v)
                 WHERE r.v <> pg_catalog.to_jsonb(p_call_no)))
           ELSE '{}' END
$$;
REVOKE ALL ON FUNCTION eventsvc.saga_call_answered(jsonb, integer) FROM PUBLIC;

-- The HTTP calls of a step not yet done: (call_no, service, method, path, body, and the
-- call's own Idempotency-Key, NULL for the step's key).
CREATE FUNCTION eventsvc.saga_step_calls(p_tenant_id uuid, p_report_id uuid, p_step_no smallint,
                                         p_batch integer)
RETURNS TABLE (call_no integer, service text, method text, path text, body text, idempotency_key text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st record;
    rep record;
    tickets jsonb;
    done integer;
BEGIN
    SELECT c.* INTO st FROM eventsvc.cancellation_steps c
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no;
    SELECT r.* INTO rep FROM eventsvc.event_cancellation_reports r
     WHERE r.tenant_id = p_tenant_id AND r.id = p_report_id;
    done := coalesce((st.result ->> 'calls_done')::integer, 0);
    SELECT c.result -> 'tickets' INTO tickets FROM eventsvc.cancellation_steps c
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step = 'fetch_tickets'
       AND c.state = 'done';
    tickets := coalesce(tickets, '[]');

    IF st.step = 'fetch_tickets' THEN
        RETURN QUERY SELECT 1, 'ticket', 'GET',
            format('/internal/events/%s/tickets?tenantId=%s', rep.event_id, rep.tenant_id), NULL::text, NULL::text
         WHERE done < 1;
    ELSIF st.step = 'cancel_tickets' THEN
        RETURN QUERY
        SELECT b.n::integer, 'ticket', 'POST', '/internal/tickets/cancel-batch',
               pg_catalog.jsonb_build_object('eventId', rep.event_id, 'tenantId', rep.tenant_id,
                   'reason', rep.reason, 'ticketIds', b.ids)::text, NULL::text
          FROM (SELECT ((t.ord - 1) / p_batch) + 1 AS n, pg_catalog.jsonb_agg(t.v -> 'id' ORDER BY t.ord) AS ids
                  FROM pg_catalog.jsonb_array_elements(tickets) WITH ORDINALITY AS t(v, ord)
                 GROUP BY 1) b
         WHERE b.n > done
         ORDER BY b.n;
    ELSIF st.step = 'refund_payments' AND pg_catalog.jsonb_typeof(rep.report -> 'refunds') = 'array' THEN
        -- the refunds the cancellation made, in the report's order: one call each, with its key
        RETURN QUERY
        SELECT x.ord::integer, 'payment', 'POST', '/internal/refunds/bulk',
               eventsvc.refund_call_body(rep.tenant_id, (x.v ->> 'refund_id')::uuid, x.v ->> 'holder_id', rep.reason),
               x.v ->> 'idempotency_key'
          FROM pg_catalog.jsonb_array_elements(rep.report -> 'refunds') WITH ORDINALITY AS x(v, ord)
         -- and the refused ones an admin sends again (api.retry_cancellation_refunds)
         WHERE x.ord > done OR coalesce(st.result -> 'retry', '[]') @> pg_catalog.to_jsonb(x.ord::integer)
         ORDER BY x.ord;
    ELSIF st.step = 'refund_payments' THEN
        RETURN QUERY SELECT 1, 'payment', 'POST', '/internal/refunds/bulk',
            pg_catalog.jsonb_build_object('eventId', rep.event_id, 'tenantId', rep.tenant_id,
                'reason', rep.reason,
                'ticketIds', (SELECT coalesce(pg_catalog.jsonb_agg(t.v -> 'id'), '[]') FROM pg_catalog.jsonb_array_elements(tickets) t(v)))::text,
            NULL::text
         WHERE done < 1;
    ELSIF st.step = 'cancel_listings' THEN
        RETURN QUERY SELECT 1, 'marketplace', 'POST',
            format('/internal/events/%s/cancel-listings', rep.event_id),
            pg_catalog.jsonb_build_object('tenantId', rep.tenant_id, 'reason', rep.reason,
                'notifySellers', true)::text, NULL::text
         WHERE done < 1;
    ELSIF st.step = 'notify_holders' THEN
        RETURN QUERY SELECT 1, 'notification', 'POST', '/internal/notifications/batch',
            pg_catalog.jsonb_build_object('type', 'event.cancelled', 'eventId', rep.event_id,
                'tenantId', rep.tenant_id,
                'recipients', (SELECT coalesce(pg_catalog.jsonb_agg(DISTINCT t.v -> 'userId'), '[]')
                                 FROM pg_catalog.jsonb_array_elements(tickets) t(v) WHERE t.v ? 'userId'),
                'data', pg_catalog.jsonb_build_object('reason', rep.reason))::text, NULL::text
         WHERE done < 1 AND pg_catalog.jsonb_array_length(tickets) > 0;
    END IF;
END
$$;

-- A call with its own key (one refund) that the service refused for good: recorded in
-- result.refused, and the step goes on to its next call.
CREATE FUNCTION eventsvc.saga_call_refused(p_tenant_id uuid, p_report_id uuid, p_step_no smallint,
                                           p_call_no integer, p_idempotency_key text, p_error text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE eventsvc.cancellation_steps c
       SET result = coalesce(c.result, '{}') || eventsvc.saga_call_answered(c.result, p_call_no)
               || pg_catalog.jsonb_build_object(
               'refused', coalesce(c.result -> 'refused', '[]') || pg_catalog.jsonb_build_array(
                   pg_catalog.jsonb_build_object('call_no', p_call_no, 'idempotency_key', p_idempotency_key,
                       'error', pg_catalog.left(p_error, 300)))),
           updated_at = pg_catalog.now()
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no
$$;

-- Every call of the step answered: done, or failed when the service refused some of
-- them (result.refused, named in last_error).
CREATE OR REPLACE FUNCTION eventsvc.saga_step_done(p_tenant_id uuid, p_report_id uuid, p_step_no smallint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE eventsvc.cancellation_steps c
       SET state = CASE WHEN c.result ? 'refused' THEN 'failed' ELSE 'done' END,
           attempts = c.attempts + 1,
           last_error = CASE WHEN c.result ? 'refused' THEN pg_catalog.left(pg_catalog.format(
               'refused %s of the calls: %s', pg_catalog.jsonb_array_length(c.result -> 'refused'),
               (SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s)', f ->> 'idempotency_key', f ->> 'error'), '; '
                                             ORDER BY (f ->> 'call_no')::integer)
                  FROM pg_catalog.jsonb_array_elements(c.result -> 'refused') f)), 1000) END,
           result = coalesce(c.result, '{}') || pg_catalog.jsonb_build_object('count', coalesce((c.result ->> 'count')::bigint, 0)),
           updated_at = pg_catalog.now()
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no;
    PERFORM eventsvc.saga_finish_if_complete(p_tenant_id, p_report_id);
END
$$;

-- A failed attempt: retry after a full-jitter exponential delay (eventsvc.retry_delay), or record the
-- step as failed (permanent error, or attempts exhausted) and go on.
CREATE OR REPLACE FUNCTION eventsvc.saga_step_failed(p_tenant_id uuid, p_report_id uuid, p_step_no smallint,
                                          p_error text, p_permanent boolean, p_max_attempts integer,
                                          p_base_ms integer, p_max_ms integer)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_state text;
BEGIN
    UPDATE eventsvc.cancellation_steps c
       SET attempts = c.attempts + 1,
           state = CASE WHEN p_permanent OR c.attempts + 1 >= p_max_attempts THEN 'failed' ELSE 'pending' END,
           next_attempt_at = pg_catalog.now() + eventsvc.retry_delay(c.attempts, p_base_ms, p_max_ms),
           last_error = pg_catalog.left(p_error, 1000),
           updated_at = pg_catalog.now()
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no
    RETURNING c.state INTO new_state;
    IF new_state = 'failed' THEN
        PERFORM eventsvc.saga_finish_if_complete(p_tenant_id, p_report_id);
    END IF;
    RETURN new_state;
END
$$;

REVOKE ALL ON FUNCTION eventsvc.saga_step_calls(uuid, uuid, smallint, integer),
    eventsvc.saga_call_refused(uuid, uuid, smallint, integer, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.saga_step_calls(uuid, uuid, smallint, integer),
    eventsvc.saga_call_refused(uuid, uuid, smallint, integer, text, text) TO eventsvc_worker;

-- saga_call_done as 1.1 has it: raises through eventsvc.raise_error, and a refund sent
-- again lies behind calls_done (the answered call moves it forward only).
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
       SET result = coalesce(c.result, '{}') || eventsvc.saga_call_answered(c.result, p_call_no)
               || pg_catalog.jsonb_build_object('count', coalesce((c.result ->> 'count')::bigint, 0) + n),
           updated_at = pg_catalog.now()
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no;
END
$$;

-- A tenant admin sends again the cancellation refunds the payment service refused (or
-- that a step out of attempts never sent), under the same keys.
CREATE FUNCTION api.retry_cancellation_refunds(event_id uuid) RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_retry_cancellation_refunds'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.retry_cancellation_refunds(uuid) IS
    'Tenant admin: the refunds of the event''s cancellation that the payment service refused, or that were never sent because the refund step ran out of attempts, are sent again by the saga with the same idempotency keys (the payment service never pays one twice); returns how many.';
REVOKE ALL ON FUNCTION api.retry_cancellation_refunds(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.retry_cancellation_refunds(uuid) TO eventsvc_user;
