-- Part 36: the cancellation preview (docs/lifecycle.md "Cancellation preview",
-- src/lifecycle/cancellation.c). api.preview_cancellation says what cancelling an event
-- would do (holds released, purchases refunded with their amounts by currency, listings
-- withdrawn, messages) and changes nothing but storing its confirmation code (valid 5
-- minutes, in eventsvc.confirmation_tokens); an event with purchases is cancelled only by
-- api.confirm_cancellation with that code, which refuses it when the purchases or their
-- refunds changed since (a sale in between).

CREATE FUNCTION api.preview_cancellation(event_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_api_preview_cancellation'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.preview_cancellation(uuid) IS
    'What cancelling the event would do, nothing done: holds to release, purchases to refund with amounts per their refund policy and totals by currency, listings to withdraw, messages; and a confirmation_code for api.confirm_cancellation, valid 5 minutes.';

CREATE FUNCTION api.confirm_cancellation(event_id uuid, confirmation_code uuid, reason text,
                                         idempotency_key text DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_api_confirm_cancellation'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.confirm_cancellation(uuid, uuid, text, text) IS
    'Cancel the event as its preview showed: PT428 without a live code of the caller''s own preview, PT409 when a sale or refund since made the preview stale. Refunds every purchase (the organiser''s refund).';

REVOKE ALL ON FUNCTION api.preview_cancellation(uuid), api.confirm_cancellation(uuid, uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.preview_cancellation(uuid), api.confirm_cancellation(uuid, uuid, text, text)
    TO eventsvc_user;
