-- Part 48: refund policies (docs/money.md "Refund policies"). A tenant admin sets the
-- tenant's default policy and a tier's own: full refund until N days before the event,
-- then a percentage; fees refundable or not. A purchase stores the policy in force
-- when it is sold (confirm_hold, confirm_payment: src/capacity/refund_policy.c), and
-- every refund of it is computed from that snapshot, never from the current policy.

CREATE TABLE eventsvc.refund_policies (
    tenant_id           uuid NOT NULL REFERENCES eventsvc.tenants (id) ON DELETE CASCADE,
    id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    pricing_id          uuid,                                   -- NULL: the tenant's default
    full_refund_days    integer NOT NULL CHECK (full_refund_days BETWEEN 0 AND 3650),
    late_refund_percent numeric(5,2) NOT NULL CHECK (late_refund_percent BETWEEN 0 AND 100),
    fees_refundable     boolean NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT refund_policies_one_per_level UNIQUE NULLS NOT DISTINCT (tenant_id, pricing_id),
    FOREIGN KEY (tenant_id, pricing_id) REFERENCES eventsvc.event_pricing (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE eventsvc.refund_policies IS
    'Refund policies: the tenant''s default (pricing_id NULL) and tiers'' own; a purchase keeps the one in force when it was sold.';

-- One row per purchase sold under a policy (none: refunded in full).
CREATE TABLE eventsvc.purchase_refund_policies (
    tenant_id           uuid NOT NULL,
    hold_id             uuid NOT NULL,
    policy_id           uuid,
    source              text NOT NULL CHECK (source IN ('tier', 'tenant')),
    full_refund_days    integer NOT NULL CHECK (full_refund_days BETWEEN 0 AND 3650),
    late_refund_percent numeric(5,2) NOT NULL CHECK (late_refund_percent BETWEEN 0 AND 100),
    fees_refundable     boolean NOT NULL,
    captured_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, hold_id)
);
COMMENT ON TABLE eventsvc.purchase_refund_policies IS
    'The refund policy each purchase was sold under (a copy, not a reference: later changes of the policy do not reach it).';

ALTER TABLE eventsvc.refund_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.refund_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.refund_policies TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
ALTER TABLE eventsvc.purchase_refund_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.purchase_refund_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.purchase_refund_policies TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
SELECT pg_catalog.pg_extension_config_dump('eventsvc.refund_policies', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.purchase_refund_policies', '');

CREATE FUNCTION api.set_refund_policy(policy jsonb, pricing_id uuid DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_set_refund_policy'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.set_refund_policy(jsonb, uuid) IS
    'Tenant admin: the tenant''s default refund policy (pricing_id null) or a tier''s own, {"full_refund_days", "late_refund_percent", "fees_refundable"}; null removes it. Purchases keep the policy they were sold under.';

CREATE VIEW api.refund_policies WITH (security_invoker = true) AS
SELECT p.id, p.pricing_id, p.full_refund_days, p.late_refund_percent, p.fees_refundable, p.updated_at, p.updated_by
  FROM eventsvc.refund_policies p;
COMMENT ON VIEW api.refund_policies IS 'Read-only. The tenant''s refund policies: its default (pricing_id null) and tiers'' own.';
COMMENT ON COLUMN api.refund_policies.pricing_id IS 'The tier the policy is for; null: the tenant''s default.';
COMMENT ON COLUMN api.refund_policies.full_refund_days IS 'A refund asked at least this many days (of 24 h) before the event starts is full.';
COMMENT ON COLUMN api.refund_policies.late_refund_percent IS 'The percentage of the refundable amount paid back later than that (0 to 100).';
COMMENT ON COLUMN api.refund_policies.fees_refundable IS 'Whether the service, facility and percentage fees are paid back.';

CREATE VIEW api.purchase_refund_policies WITH (security_invoker = true) AS
SELECT s.hold_id, s.policy_id, s.source, s.full_refund_days, s.late_refund_percent, s.fees_refundable, s.captured_at
  FROM eventsvc.purchase_refund_policies s;
COMMENT ON VIEW api.purchase_refund_policies IS 'Read-only. The refund policy each purchase was sold under; a purchase without a row refunds in full.';
COMMENT ON COLUMN api.purchase_refund_policies.hold_id IS 'The purchase (api.holds.id).';
COMMENT ON COLUMN api.purchase_refund_policies.source IS 'tier: the tier''s own policy; tenant: the tenant''s default.';
COMMENT ON COLUMN api.purchase_refund_policies.captured_at IS 'When the purchase was sold under it.';
COMMENT ON COLUMN api.purchase_refund_policies.policy_id IS 'The policy copied (api.refund_policies.id; it may have changed or gone since).';
COMMENT ON COLUMN api.purchase_refund_policies.full_refund_days IS 'As sold: a refund asked at least this many days (of 24 h) before the event starts is full.';
COMMENT ON COLUMN api.purchase_refund_policies.late_refund_percent IS 'As sold: the percentage of the refundable amount paid back later than that.';
COMMENT ON COLUMN api.purchase_refund_policies.fees_refundable IS 'As sold: whether the fees are paid back.';

REVOKE ALL ON FUNCTION api.set_refund_policy(jsonb, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.set_refund_policy(jsonb, uuid) TO eventsvc_user;
GRANT SELECT ON eventsvc.refund_policies, eventsvc.purchase_refund_policies, api.refund_policies,
                api.purchase_refund_policies TO eventsvc_user, eventsvc_service;
