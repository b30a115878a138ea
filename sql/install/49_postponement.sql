-- Part 49: postponement with a choice for each holder (docs/lifecycle.md "Postponement",
-- src/capacity/postponement.c, src/worker/postponement_pay.c). When an event with sold
-- seats becomes POSTPONED (or RESCHEDULED), or one date of a series is moved (MOVED: the
-- purchases of that date only, docs/series.md), each purchase gets a decision window; its
-- holder, or the tenant's service, keeps the seats or asks for a refund; when the window
-- closes the undecided follow the default. Refunds are paid by the worker's call to the
-- payment service with the refund's stable idempotency key; failed ones are retried by
-- an admin. api.postponement_report says kept, refunded, pending and failed, by currency.

-- A tenant's (event_id NULL) or an event's decision window and default choice.
CREATE TABLE eventsvc.postponement_settings (
    tenant_id      uuid NOT NULL REFERENCES eventsvc.tenants (id) ON DELETE CASCADE,
    event_id       uuid,
    window_seconds integer CHECK (window_seconds BETWEEN 60 AND 7776000),
    default_choice text CHECK (default_choice IN ('keep', 'refund')),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text,
    CONSTRAINT postponement_settings_one_per_level UNIQUE NULLS NOT DISTINCT (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE eventsvc.postponement_settings IS
    'Decision windows and default choices for postponed events: the tenant''s (event_id NULL) and events'' own.';

-- One decision window per postponement of an event.
CREATE TABLE eventsvc.postponements (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id       uuid NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('POSTPONED', 'RESCHEDULED', 'MOVED')),
    opened_at      timestamptz NOT NULL,
    closes_at      timestamptz NOT NULL,
    default_choice text NOT NULL CHECK (default_choice IN ('keep', 'refund')),
    closed_at      timestamptz,                        -- every purchase decided after closes_at
    occurrence_id  uuid,                               -- MOVED: the date moved; NULL: the whole event
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, occurrence_id) REFERENCES eventsvc.event_occurrences (tenant_id, id) ON DELETE CASCADE,
    CHECK ((kind = 'MOVED') = (occurrence_id IS NOT NULL))
);
-- one open window per event, and one per date
CREATE UNIQUE INDEX postponements_one_open ON eventsvc.postponements (tenant_id, event_id, occurrence_id) NULLS NOT DISTINCT
    WHERE closed_at IS NULL;
CREATE INDEX postponements_due ON eventsvc.postponements (closes_at) WHERE closed_at IS NULL;
COMMENT ON TABLE eventsvc.postponements IS
    'Decision windows of postponed or rescheduled events and of moved dates of a series: when they close and what the undecided get.';

-- One row per purchase of a window: the choice, and the refund and its payment.
CREATE TABLE eventsvc.postponement_decisions (
    tenant_id       uuid NOT NULL,
    postponement_id uuid NOT NULL,
    hold_id         uuid NOT NULL,
    event_id        uuid NOT NULL,
    holder_id       text NOT NULL,
    quantity        integer NOT NULL,
    currency        char(3),
    choice          text CHECK (choice IN ('keep', 'refund')),   -- NULL: undecided
    source          text CHECK (source IN ('holder', 'service', 'default', 'cancellation')),
    decided_by      text,
    decided_at      timestamptz,
    refund_id       uuid,                                         -- eventsvc.hold_refunds
    amount          bigint CHECK (amount >= 0),                   -- minor units
    idempotency_key text,
    refund_state    text CHECK (refund_state IN ('pending', 'done', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    paid_at         timestamptz,
    occurrence_id   uuid,                                         -- the purchase's date (a moved date's window)
    PRIMARY KEY (tenant_id, postponement_id, hold_id),
    FOREIGN KEY (tenant_id, postponement_id) REFERENCES eventsvc.postponements (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX postponement_decisions_hold ON eventsvc.postponement_decisions (tenant_id, hold_id);
CREATE INDEX postponement_decisions_event ON eventsvc.postponement_decisions (tenant_id, event_id);
CREATE INDEX postponement_decisions_due ON eventsvc.postponement_decisions (next_attempt_at)
    WHERE refund_state = 'pending';
CREATE INDEX postponement_decisions_undecided ON eventsvc.postponement_decisions (tenant_id, postponement_id)
    WHERE choice IS NULL;
-- a buyer's own decisions, whatever it reads them by (api.postponement_decisions as a tenant user)
CREATE INDEX postponement_decisions_buyer ON eventsvc.postponement_decisions (tenant_id, holder_id);
COMMENT ON TABLE eventsvc.postponement_decisions IS
    'Each purchase of a postponed event or a moved date: keep or refund, who decided, and the refund''s payment (pending, done, failed and why).';

ALTER TABLE eventsvc.postponement_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.postponement_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.postponement_settings TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
ALTER TABLE eventsvc.postponements ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.postponements FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.postponements TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
ALTER TABLE eventsvc.postponement_decisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.postponement_decisions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.postponement_decisions TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
SELECT pg_catalog.pg_extension_config_dump('eventsvc.postponement_settings', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.postponements', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.postponement_decisions', '');

CREATE FUNCTION api.decide_postponement(purchase_id uuid, choice text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_decide_postponement'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.decide_postponement(uuid, text) IS
    'The holder of a purchase of a postponed event or a moved date (or the tenant''s service) keeps the seats for the new date or asks for a refund, while the decision window is open; a decision is final.';

CREATE FUNCTION api.close_postponement_windows(max integer DEFAULT 1000) RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_close_postponement_windows'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.close_postponement_windows(integer) IS
    'Every tenant: the undecided purchases of windows closed by eventsvc.now() follow their default (at most max per call); the worker runs it every round.';

CREATE FUNCTION api.set_postponement_settings(settings jsonb, event_id uuid DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_set_postponement_settings'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.set_postponement_settings(jsonb, uuid) IS
    'Tenant admin: the tenant''s (event_id null) or an event''s decision window and default choice, {"window_seconds": n, "default_choice": "keep" | "refund"}; null removes them.';

CREATE FUNCTION api.retry_postponement_refunds(event_id uuid) RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_retry_postponement_refunds'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.retry_postponement_refunds(uuid) IS
    'Tenant admin: the event''s failed postponement refunds (its dates'' moves included) are sent again, with the same idempotency keys (the payment service never pays one twice).';

-- The report of an event's latest postponement, or with occurrence_id of the latest
-- window of that moved date (runs as the caller: RLS scopes it). Its counts name
-- nobody; its list of failed refunds names their holders, so a buyer sees only its own there.
CREATE FUNCTION api.postponement_report(event_id uuid, occurrence_id uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'event_id', p.event_id, 'occurrence_id', p.occurrence_id, 'postponement_id', p.id, 'kind', p.kind,
        'opened_at', p.opened_at,
        'closes_at', p.closes_at, 'closed_at', p.closed_at, 'default_choice', p.default_choice,
        'purchases', count(d.*),
        'kept', count(*) FILTER (WHERE d.choice = 'keep'),
        'refunded', count(*) FILTER (WHERE d.choice = 'refund'),
        'pending', count(*) FILTER (WHERE d.choice IS NULL),
        'by_source', jsonb_build_object(
            'holder', count(*) FILTER (WHERE d.source = 'holder'),
            'service', count(*) FILTER (WHERE d.source = 'service'),
            'default', count(*) FILTER (WHERE d.source = 'default'),
            'cancellation', count(*) FILTER (WHERE d.source = 'cancellation')),
        'refunds', jsonb_build_object(
            'done', count(*) FILTER (WHERE d.refund_state = 'done'),
            'pending', count(*) FILTER (WHERE d.refund_state = 'pending'),
            'failed', count(*) FILTER (WHERE d.refund_state = 'failed')),
        'by_currency', coalesce((SELECT jsonb_agg(c ORDER BY c ->> 'currency') FROM (
            SELECT jsonb_build_object('currency', x.currency,
                       'kept_seats', coalesce(sum(x.quantity) FILTER (WHERE x.choice = 'keep'), 0),
                       'refunded_seats', coalesce(sum(x.quantity) FILTER (WHERE x.choice = 'refund'), 0),
                       'refunds_done', coalesce(sum(x.amount) FILTER (WHERE x.refund_state = 'done'), 0),
                       'refunds_pending', coalesce(sum(x.amount) FILTER (WHERE x.refund_state = 'pending'), 0),
                       'refunds_failed', coalesce(sum(x.amount) FILTER (WHERE x.refund_state = 'failed'), 0)) AS c
              FROM eventsvc.postponement_decisions x
             WHERE x.tenant_id = p.tenant_id AND x.postponement_id = p.id
             GROUP BY x.currency) cc), '[]'),
        'failed', coalesce(jsonb_agg(jsonb_build_object('purchase_id', d.hold_id, 'holder_id', d.holder_id,
                      'amount', d.amount, 'currency', d.currency, 'attempts', d.attempts, 'error', d.last_error)
                      ORDER BY d.hold_id)
                      -- a buyer (a tenant user) is told of its own failed refunds only (part 43)
                      FILTER (WHERE d.refund_state = 'failed'
                                AND (d.holder_id = eventsvc.current_actor() OR eventsvc.reads_every_holder())), '[]'))
      FROM eventsvc.postponements p
      LEFT JOIN eventsvc.postponement_decisions d ON d.tenant_id = p.tenant_id AND d.postponement_id = p.id
     WHERE p.tenant_id = (SELECT eventsvc.current_tenant_id()) AND p.event_id = postponement_report.event_id
       AND p.id = (SELECT q.id FROM eventsvc.postponements q
                    WHERE q.tenant_id = (SELECT eventsvc.current_tenant_id())
                      AND q.event_id = postponement_report.event_id
                      AND q.occurrence_id IS NOT DISTINCT FROM postponement_report.occurrence_id
                    ORDER BY q.opened_at DESC LIMIT 1)
     GROUP BY p.tenant_id, p.id
$$;
COMMENT ON FUNCTION api.postponement_report(uuid, uuid) IS
    'The event''s latest postponement, or with occurrence_id the latest window of that moved date: purchases kept, refunded and pending, who decided, refunds done, pending and failed (with why), and amounts by currency.';

-- A buyer reads the decisions of its own purchases only (part 43); two branches switched
-- once per query, as api.holds (part 44): a buyer's by its holder.
CREATE VIEW api.postponement_decisions WITH (security_invoker = true, security_barrier = true) AS
SELECT d.postponement_id, d.hold_id AS purchase_id, d.event_id, d.holder_id, d.quantity, d.currency, d.choice,
       d.source, d.decided_by, d.decided_at, d.amount, d.idempotency_key, d.refund_state, d.attempts, d.last_error,
       d.paid_at, d.occurrence_id
  FROM (SELECT b.*, false AS every_holder FROM eventsvc.postponement_decisions b
        UNION ALL
        SELECT a.*, true FROM eventsvc.postponement_decisions a) d
 WHERE CASE WHEN d.every_holder THEN (SELECT eventsvc.reads_every_holder())
            ELSE d.holder_id = (SELECT eventsvc.current_actor()) AND NOT (SELECT eventsvc.reads_every_holder()) END;
COMMENT ON VIEW api.postponement_decisions IS 'Read-only. Each purchase of a postponed event or a moved date: its choice and its refund''s payment; a buyer sees its own purchases only.';
COMMENT ON COLUMN api.postponement_decisions.postponement_id IS 'The decision window.';
COMMENT ON COLUMN api.postponement_decisions.purchase_id IS 'The purchase (api.holds.id).';
COMMENT ON COLUMN api.postponement_decisions.choice IS 'keep, refund, or null while undecided.';
COMMENT ON COLUMN api.postponement_decisions.source IS 'Who decided: holder, service, default (the window closed), or cancellation (the date was cancelled while its window was open: refunded with the date).';
COMMENT ON COLUMN api.postponement_decisions.decided_by IS 'The holder or service that decided (default: the window''s default).';
COMMENT ON COLUMN api.postponement_decisions.decided_at IS 'When the decision was made.';
COMMENT ON COLUMN api.postponement_decisions.refund_state IS 'The refund''s payment: pending, done or failed (last_error says why).';
COMMENT ON COLUMN api.postponement_decisions.attempts IS 'Payment calls that failed so far.';
COMMENT ON COLUMN api.postponement_decisions.last_error IS 'Why the last payment call failed.';
COMMENT ON COLUMN api.postponement_decisions.paid_at IS 'When the payment service accepted the refund.';
COMMENT ON COLUMN api.postponement_decisions.amount IS 'The refund, in the currency''s minor unit (the organiser''s refund under the purchase''s policy).';
COMMENT ON COLUMN api.postponement_decisions.occurrence_id IS 'The date of the purchase when the window is a moved date''s; null for an event''s postponement.';
COMMENT ON COLUMN api.postponement_decisions.idempotency_key IS 'The key the payment service deduplicates the refund by: refund:<purchase>:<n>, the same on every call.';

-- ---------------------------------------------------------------- the worker's payment calls
-- Due refunds, oldest first.
CREATE FUNCTION eventsvc.postponement_refunds_due(p_limit integer)
RETURNS TABLE (tenant_id uuid, postponement_id uuid, hold_id uuid, body text, idempotency_key text, attempts integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT d.tenant_id, d.postponement_id, d.hold_id,
           eventsvc.refund_call_body(d.tenant_id, d.refund_id, d.holder_id,
                                     CASE WHEN d.occurrence_id IS NULL THEN 'the event was postponed' ELSE 'the date was moved' END),
           d.idempotency_key, d.attempts
      FROM eventsvc.postponement_decisions d
     WHERE d.refund_state = 'pending' AND d.next_attempt_at <= pg_catalog.now()
     ORDER BY d.next_attempt_at
     LIMIT p_limit
$$;

-- The payment service accepted the refund (2xx).
CREATE FUNCTION eventsvc.postponement_refund_done(p_tenant_id uuid, p_postponement_id uuid, p_hold_id uuid)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE eventsvc.postponement_decisions d
       SET refund_state = 'done', paid_at = pg_catalog.now(), last_error = NULL
     WHERE d.tenant_id = p_tenant_id AND d.postponement_id = p_postponement_id AND d.hold_id = p_hold_id
       AND d.refund_state = 'pending'
$$;

-- A failed call: retried after the saga's delay (eventsvc.retry_delay), or failed for good
-- (a refusal, or attempts exhausted) until an admin retries it.
CREATE FUNCTION eventsvc.postponement_refund_failed(p_tenant_id uuid, p_postponement_id uuid, p_hold_id uuid,
                                                    p_error text, p_permanent boolean, p_max_attempts integer,
                                                    p_base_ms integer, p_max_ms integer)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE eventsvc.postponement_decisions d
       SET attempts = d.attempts + 1,
           refund_state = CASE WHEN p_permanent OR d.attempts + 1 >= p_max_attempts THEN 'failed' ELSE 'pending' END,
           next_attempt_at = pg_catalog.now() + eventsvc.retry_delay(d.attempts, p_base_ms, p_max_ms),
           last_error = pg_catalog.left(p_error, 1000)
     WHERE d.tenant_id = p_tenant_id AND d.postponement_id = p_postponement_id AND d.hold_id = p_hold_id
       AND d.refund_state = 'pending'
$$;

REVOKE ALL ON FUNCTION api.decide_postponement(uuid, text), api.close_postponement_windows(integer),
    api.set_postponement_settings(jsonb, uuid), api.retry_postponement_refunds(uuid), api.postponement_report(uuid, uuid),
    eventsvc.postponement_refunds_due(integer), eventsvc.postponement_refund_done(uuid, uuid, uuid),
    eventsvc.postponement_refund_failed(uuid, uuid, uuid, text, boolean, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.decide_postponement(uuid, text), api.postponement_report(uuid, uuid)
    TO eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION api.set_postponement_settings(jsonb, uuid), api.retry_postponement_refunds(uuid)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.close_postponement_windows(integer) TO eventsvc_service;
GRANT EXECUTE ON FUNCTION api.close_postponement_windows(integer), eventsvc.postponement_refunds_due(integer),
    eventsvc.postponement_refund_done(uuid, uuid, uuid),
    eventsvc.postponement_refund_failed(uuid, uuid, uuid, text, boolean, integer, integer, integer)
    TO eventsvc_worker;
GRANT SELECT ON eventsvc.postponement_settings, eventsvc.postponements, eventsvc.postponement_decisions,
    api.postponement_decisions TO eventsvc_user, eventsvc_service;
