-- Part 45: refunds of purchases and exchanges (docs/holds.md "Refunds"). A confirmed
-- hold is a purchase; an admin or a service refunds it in full or some of its seats,
-- with a reason. The amount comes from its locked price line (src/capacity/refund.c:
-- each figure is shared out by the seats, cumulatively, so the refunds of all seats of
-- a purchase add up exactly to what was charged); the seats come back through the one
-- return path (the waitlist first); the payment service is asked to refund with a
-- stable idempotency key; the purchase's history shows every refund.

CREATE TABLE eventsvc.hold_refunds (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    hold_id         uuid NOT NULL,
    event_id        uuid NOT NULL,
    capacity_id     uuid NOT NULL,
    seq             integer NOT NULL CHECK (seq >= 1),       -- the purchase's first, second, ... refund
    quantity        integer NOT NULL CHECK (quantity > 0),
    amount          bigint NOT NULL CHECK (amount >= 0),     -- minor units
    currency        char(3),
    lines           jsonb NOT NULL,                          -- each figure's share (refund.c)
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    idempotency_key text NOT NULL,
    payment_ref     text,
    requested_by    text,
    requested_role  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, hold_id, seq)
);
COMMENT ON TABLE eventsvc.hold_refunds IS
    'Refunds of purchases: seats, amount and lines in minor units, reason, who, and the key the payment service deduplicates by.';
ALTER TABLE eventsvc.hold_refunds ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.hold_refunds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.hold_refunds TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
SELECT pg_catalog.pg_extension_config_dump('eventsvc.hold_refunds', '');

CREATE FUNCTION api.refund_purchase(hold_id uuid, reason text, quantity integer DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_refund_purchase'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.refund_purchase(uuid, text, integer) IS
    'Admin or service: refunds a purchase (a confirmed hold) in full or quantity of its seats, with a reason; the seats come back (waitlist first) and payment.refund_requested asks the payment service to pay back.';

CREATE FUNCTION api.exchange_purchase(hold_id uuid, capacity_id uuid, reason text, quantity integer DEFAULT NULL,
                                      pricing_id uuid DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_exchange_purchase'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.exchange_purchase(uuid, uuid, text, integer, uuid) IS
    'Admin or service: a refund of quantity seats of a purchase and a new hold of as many seats in another section (or tier) for the same buyer, in one transaction: both or neither.';

-- A buyer reads the refunds of its own purchases only (part 43); two branches switched
-- once per query, as api.holds (part 44): a buyer's from its own purchases (found by
-- their holder, idx_capacity_holds_buyer), not from every refund of the tenant.
CREATE VIEW api.hold_refunds WITH (security_invoker = true, security_barrier = true) AS
SELECT r.id, r.hold_id, r.event_id, r.capacity_id, r.seq, r.quantity, r.amount, r.currency, r.lines, r.reason,
       r.idempotency_key, r.requested_by, r.created_at
  FROM (SELECT b.* FROM eventsvc.hold_refunds b
         WHERE NOT (SELECT eventsvc.reads_every_holder())
           AND EXISTS (SELECT 1 FROM eventsvc.capacity_holds h
                        WHERE h.tenant_id = b.tenant_id AND h.id = b.hold_id
                          AND h.holder_id = (SELECT eventsvc.current_actor()))
        UNION ALL
        SELECT a.* FROM eventsvc.hold_refunds a
         WHERE (SELECT eventsvc.reads_every_holder())) r;
COMMENT ON COLUMN api.hold_refunds.hold_id IS 'The purchase refunded (api.holds.id).';
COMMENT ON COLUMN api.hold_refunds.seq IS 'The purchase''s first, second, ... refund.';
COMMENT ON COLUMN api.hold_refunds.quantity IS 'Seats refunded.';
COMMENT ON COLUMN api.hold_refunds.amount IS 'Paid back, in the currency''s minor unit: the share of the purchase''s total (docs/holds.md "Refunds").';
COMMENT ON COLUMN api.hold_refunds.lines IS 'Each amount figure of the purchase''s locked line: the share this refund gives back.';
COMMENT ON COLUMN api.hold_refunds.reason IS 'Why the purchase was refunded.';
COMMENT ON COLUMN api.hold_refunds.idempotency_key IS 'The key the payment service deduplicates this refund by: refund:<hold id>:<seq>.';
COMMENT ON COLUMN api.hold_refunds.requested_by IS 'Who asked for the refund (JWT subject or session user).';
COMMENT ON VIEW api.hold_refunds IS 'Refunds of the tenant''s purchases (GET /hold_refunds?hold_id=eq.<id>); a buyer sees the refunds of its own purchases only.';

REVOKE ALL ON FUNCTION api.refund_purchase(uuid, text, integer),
                       api.exchange_purchase(uuid, uuid, text, integer, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.refund_purchase(uuid, text, integer),
                          api.exchange_purchase(uuid, uuid, text, integer, uuid) TO eventsvc_user, eventsvc_service;
GRANT SELECT ON eventsvc.hold_refunds, api.hold_refunds TO eventsvc_user, eventsvc_service;

-- The payment service's request that pays one refund (POST /internal/refunds/bulk with the
-- refund alone): the worker sends it for a cancellation's refunds (the saga's
-- refund_payments step, part 52) and a postponement's (part 49), with the refund's own
-- idempotency key as the Idempotency-Key header.
CREATE FUNCTION eventsvc.refund_call_body(p_tenant_id uuid, p_refund_id uuid, p_holder_id text, p_reason text)
RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.jsonb_build_object('eventId', r.event_id, 'tenantId', r.tenant_id, 'reason', p_reason,
               'ticketIds', '[]'::jsonb,
               'refunds', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('refundId', r.id,
                   'purchaseId', r.hold_id, 'holderId', p_holder_id, 'amount', r.amount, 'currency', r.currency,
                   'idempotencyKey', r.idempotency_key)))::text
      FROM eventsvc.hold_refunds r
     WHERE r.tenant_id = p_tenant_id AND r.id = p_refund_id
$$;
REVOKE ALL ON FUNCTION eventsvc.refund_call_body(uuid, uuid, text, text) FROM PUBLIC;
