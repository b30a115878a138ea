-- Part 44: holds that know about payment, their history and their archive
-- (docs/holds.md "A hold's life", "Payment", "Retention and archive").
--
-- A hold's state says what its seats are: ACTIVE (held), CONFIRMED (sold), or it
-- ended (RELEASED, EXPIRED; REFUND_REQUIRED: paid too late to be sold; REFUNDED:
-- every seat refunded). Its phase says where a live hold is in its life: NULL (a
-- reservation), PAYMENT (the payment service is taking the money), WAITLIST (seats
-- gathered for a waitlist entry), OFFERED (a waitlist offer); an ended hold keeps
-- the phase it ended in. Only ACTIVE and CONFIRMED take seats, as in 1.0, so every
-- count of seats (counters, check_capacity, availability) is unchanged.
--
-- The new enum values are not used by any statement of this script: values added
-- by ALTER TYPE ... ADD VALUE cannot be used before the transaction that added
-- them commits, and ALTER EXTENSION ... UPDATE is one transaction. The C code uses
-- them; views compare state as text.
ALTER TYPE eventsvc.hold_state ADD VALUE 'REFUND_REQUIRED';
ALTER TYPE eventsvc.hold_state ADD VALUE 'REFUNDED';
CREATE TYPE eventsvc.hold_phase AS ENUM ('PAYMENT', 'WAITLIST', 'OFFERED');

-- New columns at the end, all nullable: a reservation writes none of them (the hold
-- row stays the size it was), and old rows gain nothing. No CHECK on them: the direct
-- write of a reservation evaluates every CHECK of the table (docs/capacity.md "The
-- hold row"); the C functions that set them check their values.
ALTER TABLE eventsvc.capacity_holds
    ADD COLUMN phase              eventsvc.hold_phase,
    ADD COLUMN state_reason       text,
    ADD COLUMN payment_ref        text,
    ADD COLUMN payment_started_at timestamptz,
    ADD COLUMN renewals           integer,
    ADD COLUMN revived_at         timestamptz,
    ADD COLUMN state_changed_at   timestamptz,
    ADD COLUMN refunded_quantity  integer,
    ADD COLUMN waitlist_entry_id  uuid;
COMMENT ON COLUMN eventsvc.capacity_holds.phase IS
    'Where a live hold is: NULL reserved, PAYMENT, WAITLIST (seats gathered for a waitlist entry), OFFERED; an ended hold keeps its last phase.';
COMMENT ON COLUMN eventsvc.capacity_holds.state_reason IS 'Why the hold is in its state, when its state and phase do not say it.';
COMMENT ON COLUMN eventsvc.capacity_holds.renewals IS 'How many times api.extend_hold moved the expiry (NULL: never).';
COMMENT ON COLUMN eventsvc.capacity_holds.state_changed_at IS
    'When a change after the reservation (payment result, refund, waitlist offer) last set the state or phase.';
COMMENT ON COLUMN eventsvc.capacity_holds.refunded_quantity IS
    'Seats of the purchase refunded so far (NULL: none); quantity is what is still sold (part 45).';
COMMENT ON COLUMN eventsvc.capacity_holds.waitlist_entry_id IS
    'The waitlist entry a WAITLIST or OFFERED hold was made for (part 46).';
COMMENT ON COLUMN eventsvc.capacity_holds.revived_at IS
    'When a payment that arrived after the hold''s time confirmed it anyway (its seats were still free).';

-- A payment window a tenant may set for itself (part 43).
ALTER TABLE eventsvc.tenant_hold_settings
    ADD COLUMN payment_window_seconds integer CHECK (payment_window_seconds BETWEEN 1 AND 86400);

-- Every move of seats or money outside the reservation itself, written by the C
-- functions that make it (start_payment, payment results, revivals, refunds, waitlist
-- offers): who, when, what, how many seats, what amount.
CREATE TABLE eventsvc.hold_audit_log (
    tenant_id    uuid NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    hold_id      uuid NOT NULL,
    event_id     uuid NOT NULL,
    capacity_id  uuid NOT NULL,
    action       text NOT NULL CHECK (length(action) BETWEEN 1 AND 60),
    quantity     integer,
    amount       bigint,
    currency     char(3),
    detail       jsonb NOT NULL DEFAULT '{}',
    actor_id     text,
    actor_role   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_hold_audit_hold ON eventsvc.hold_audit_log (tenant_id, hold_id, id);
COMMENT ON TABLE eventsvc.hold_audit_log IS
    'Moves of seats and money after a reservation (payment started, payment results, revivals, refunds, waitlist offers).';

-- Ended holds (RELEASED, EXPIRED) leave capacity_holds once eventsvc.hold_retention_seconds
-- have passed since they ended: the expiry sweep moves them here. Same columns, plus
-- archived_at. Purchases (CONFIRMED, REFUNDED) and REFUND_REQUIRED holds stay.
CREATE TABLE eventsvc.capacity_holds_archive (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL,
    event_id           uuid NOT NULL,
    capacity_id        uuid NOT NULL,
    pricing_id         uuid,
    holder_id          text NOT NULL,
    quantity           integer NOT NULL,
    state              eventsvc.hold_state NOT NULL,
    currency           char(3),
    unit_price         bigint,
    locked_price       jsonb,
    expires_at         timestamptz NOT NULL,
    created_at         timestamptz NOT NULL,
    confirmed_at       timestamptz,
    released_at        timestamptz,
    phase              eventsvc.hold_phase,
    state_reason       text,
    payment_ref        text,
    payment_started_at timestamptz,
    renewals           integer,
    revived_at         timestamptz,
    state_changed_at   timestamptz,
    refunded_quantity  integer,
    waitlist_entry_id  uuid,
    archived_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE eventsvc.capacity_holds_archive IS
    'Released and expired holds past their retention (eventsvc.hold_retention_seconds), moved by the expiry sweep.';

-- Where the archiving sweep reads the expiry index from: below it every hold is
-- archived or kept for good (purchases). One row for the database, written by the
-- first sweep (so a restore brings back the dumped row, not a second one).
CREATE TABLE eventsvc.hold_archive_progress (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    horizon    timestamptz NOT NULL DEFAULT '-infinity',
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE eventsvc.hold_archive_progress IS
    'The archiving sweep''s read start: below horizon no hold is waiting to be archived.';

ALTER TABLE eventsvc.hold_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.hold_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.hold_audit_log TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
ALTER TABLE eventsvc.capacity_holds_archive ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.capacity_holds_archive FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.capacity_holds_archive TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
-- No tenant column: a database-wide row that only the sweep (as the owner) touches.
ALTER TABLE eventsvc.hold_archive_progress ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.hold_archive_progress FORCE ROW LEVEL SECURITY;

-- Data: in a logical backup (part 90).
SELECT pg_catalog.pg_extension_config_dump('eventsvc.hold_audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.hold_audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.capacity_holds_archive', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.hold_archive_progress', '');

-- ---------------------------------------------------------------- payment

-- api.start_payment and api.confirm_payment return a row of api.holds: part 46.

CREATE FUNCTION api.hold_history(hold_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_hold_history'
    LANGUAGE C STABLE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.hold_history(uuid) IS
    'A hold (or purchase) and what happened to it: state, when and why, payment, revival, refunds, in order.';

-- A buyer's holds, whatever the filter it reads them by (a section, an event, a state,
-- none): one more index entry per hold, so that a buyer's read costs its own holds, not
-- the section's or the tenant's (docs/performance.md "A buyer's holds").
CREATE INDEX idx_capacity_holds_buyer ON eventsvc.capacity_holds (tenant_id, holder_id);

-- The tenant's holds, live and ended (until archived), with when and why each ended.
-- (State compared as text: the values added above are not usable in this script.)
-- A buyer (a tenant user) reads its own holds only, the promoter and the services every
-- hold (part 43); security_barrier: a caller's function in a filter never sees the others.
-- The holds are read in two branches, a buyer's and everybody's, told apart by a
-- constant column: the planner folds the filter below into each branch, so that
-- neither carries an OR and each is switched on or off once per query by
-- reads_every_holder() (a one-time filter). A buyer's branch has its holder as an
-- index condition (idx_capacity_holds_buyer, or idx_capacity_holds_holder with an
-- event); the other reads as the indexes serve the request's filters, as before. The
-- request's filters reach both branches (they compare columns with leakproof
-- operators); a non-leakproof one is applied above the barrier, as before.
CREATE VIEW api.holds WITH (security_invoker = true, security_barrier = true) AS
SELECT h.id, h.event_id, h.capacity_id, h.pricing_id, h.holder_id, h.quantity, h.state, h.currency,
       h.unit_price, h.locked_price, h.expires_at, h.created_at, h.confirmed_at, h.released_at,
       h.phase, h.payment_ref, h.payment_started_at, coalesce(h.renewals, 0) AS renewals, h.revived_at,
       h.refunded_quantity, h.waitlist_entry_id,
       greatest(h.created_at, h.payment_started_at, h.confirmed_at, h.released_at, h.revived_at,
                h.state_changed_at) AS changed_at,
       coalesce(h.state_reason,
                CASE h.state::text
                    WHEN 'EXPIRED' THEN CASE h.phase WHEN 'PAYMENT' THEN 'the payment window passed'
                                                     WHEN 'OFFERED' THEN 'the waitlist offer was not taken in time'
                                                     ELSE 'the hold''s time passed' END
                    WHEN 'RELEASED' THEN 'released'
                    WHEN 'CONFIRMED' THEN 'sold'
                    WHEN 'REFUNDED' THEN 'refunded' END) AS reason
  FROM (SELECT b.*, false AS every_holder FROM eventsvc.capacity_holds b
        UNION ALL
        SELECT e.*, true FROM eventsvc.capacity_holds e) h
 WHERE CASE WHEN h.every_holder THEN (SELECT eventsvc.reads_every_holder())
            ELSE h.holder_id = (SELECT eventsvc.current_actor()) AND NOT (SELECT eventsvc.reads_every_holder()) END;
COMMENT ON COLUMN api.holds.reason IS
    'Why the hold is in its state: what was recorded (a revival, a refund, a cancellation), else what its state and phase say.';
COMMENT ON COLUMN api.holds.refunded_quantity IS 'Seats of the purchase refunded so far (NULL: none); quantity is what is still sold.';
COMMENT ON COLUMN api.holds.waitlist_entry_id IS 'The waitlist entry a WAITLIST or OFFERED hold was made for.';
COMMENT ON VIEW api.holds IS
    'Holds of the tenant (one row per hold), live and ended until archived: state, phase, when it last changed (changed_at) and why (reason). A buyer sees its own holds only; a tenant admin and a service see every hold.';

REVOKE ALL ON FUNCTION api.hold_history(uuid) FROM PUBLIC;
REVOKE ALL ON eventsvc.hold_archive_progress FROM PUBLIC;
REVOKE ALL ON SEQUENCE eventsvc.hold_audit_log_id_seq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.hold_history(uuid) TO eventsvc_user, eventsvc_service;
GRANT SELECT ON api.holds TO eventsvc_user, eventsvc_service;
GRANT SELECT ON eventsvc.hold_audit_log, eventsvc.capacity_holds_archive TO eventsvc_user, eventsvc_service;
