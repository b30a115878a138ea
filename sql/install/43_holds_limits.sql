-- Part 43: how many seats one customer may hold or buy, and the tenant's own hold
-- settings (docs/holds.md "Per-customer limits", "Settings"). The customer is the
-- holder of the hold: the token's sub, or a trusted client's app.current_user_id.
-- A reservation's limit is, most specific first: the event's own limit, the
-- tenant's default, the cluster's eventsvc.max_seats_per_holder (0: none); a tier's
-- max_per_customer applies on top to reservations in that tier. Seats are counted
-- across the customer's live and confirmed holds of the event (every tier and no
-- tier) by the reservation path (src/capacity/customer_limit.c).

-- One row per tenant that overrides a cluster setting; NULL keeps the cluster's.
CREATE TABLE eventsvc.tenant_hold_settings (
    tenant_id              uuid PRIMARY KEY REFERENCES eventsvc.tenants (id) ON DELETE CASCADE,
    max_seats_per_customer integer CHECK (max_seats_per_customer BETWEEN 1 AND 1000000),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    updated_by             text
);
COMMENT ON TABLE eventsvc.tenant_hold_settings IS
    'A tenant''s own hold settings; a NULL column keeps the cluster setting (docs/holds.md "Settings").';

-- The per-customer limit of one event, across its tiers and holds without a tier.
CREATE TABLE eventsvc.event_customer_limits (
    tenant_id              uuid NOT NULL,
    event_id               uuid NOT NULL,
    max_seats_per_customer integer NOT NULL CHECK (max_seats_per_customer BETWEEN 1 AND 1000000),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    updated_by             text,
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE eventsvc.event_customer_limits IS
    'Seats one customer may hold or have bought per event, across every tier and holds without a tier.';

-- Who reads every buyer's holds, waitlist entries, refunds and postponement choices in
-- the api views (parts 44, 45, 46, 49): a tenant admin (the promoter) and a service;
-- a tenant user is a buyer and reads only the rows it is the holder of (the token's
-- sub, or a trusted client's app.current_user_id: eventsvc.current_actor()). A plain
-- SQL function, inlined into the views; each view calls it once per query.
CREATE FUNCTION eventsvc.reads_every_holder() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT eventsvc.is_tenant_admin() OR pg_catalog.pg_has_role('eventsvc_service', 'USAGE') $$;
COMMENT ON FUNCTION eventsvc.reads_every_holder() IS
    'Whether the caller reads every buyer''s rows of the api views (a tenant admin or a service), not only its own (a tenant user: a buyer).';

-- Tenant tables: RLS enabled and forced, keyed on the caller's tenant. Rows change only
-- through the api functions below (no write grant to any tenant role).
ALTER TABLE eventsvc.tenant_hold_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.tenant_hold_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.tenant_hold_settings TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
ALTER TABLE eventsvc.event_customer_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_customer_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.event_customer_limits TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));

-- The reservation path keeps both per backend (part 42): a change raises the generation.
CREATE TRIGGER tenant_hold_settings_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON eventsvc.tenant_hold_settings FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER event_customer_limits_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON eventsvc.event_customer_limits FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
ALTER TABLE eventsvc.tenant_hold_settings ENABLE ALWAYS TRIGGER tenant_hold_settings_reference;
ALTER TABLE eventsvc.event_customer_limits ENABLE ALWAYS TRIGGER event_customer_limits_reference;

-- Data: in a logical backup (part 90).
SELECT pg_catalog.pg_extension_config_dump('eventsvc.tenant_hold_settings', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.event_customer_limits', '');

CREATE FUNCTION api.set_customer_limit(event_id uuid, max_seats integer) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_set_customer_limit'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.set_customer_limit(uuid, integer) IS
    'Tenant admin: seats one customer may hold or have bought for the event, across every tier and holds without a tier (NULL: back to the tenant''s default).';

CREATE FUNCTION api.set_hold_settings(changes jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_set_hold_settings'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.set_hold_settings(jsonb) IS
    'Tenant admin: changes the tenant''s hold settings named in changes (a null value goes back to the cluster setting). Returns the settings in force.';

CREATE FUNCTION api.hold_settings() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_hold_settings'
    LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.hold_settings() IS
    'The hold settings in force for the caller''s tenant, and where each comes from (tenant or cluster).';

-- What api.seat_allowance answers: a declared type, so typed clients see its shape
-- (the row is made in C from the answer, src/capacity/hold_result.c).
CREATE TYPE api.allowance AS (
    event_id  uuid,
    holder_id text,
    "limit"   integer,
    remaining bigint,
    seats     bigint,
    source    text
);
COMMENT ON TYPE api.allowance IS 'How many more seats of an event a customer may hold (api.seat_allowance).';
COMMENT ON COLUMN api.allowance.event_id IS 'The event.';
COMMENT ON COLUMN api.allowance.holder_id IS 'The customer: the caller.';
COMMENT ON COLUMN api.allowance."limit" IS 'Seats the customer may have of the event (in the tier, when given); NULL: no limit.';
COMMENT ON COLUMN api.allowance.remaining IS 'How many more the customer may hold now; NULL: no limit.';
COMMENT ON COLUMN api.allowance.seats IS 'Seats the customer holds and has bought of the event.';
COMMENT ON COLUMN api.allowance.source IS 'Where the limit comes from: event, tier, default or none.';

CREATE FUNCTION api.seat_allowance(event_id uuid, pricing_id uuid DEFAULT NULL) RETURNS api.allowance
    AS 'MODULE_PATHNAME', 'evs_sql_seat_allowance_row'
    LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.seat_allowance(uuid, uuid) IS
    'How many more seats of the event (in the tier, when given) the caller may hold (a row of allowance): the limit, what the caller holds and has bought, and the rest.';

CREATE VIEW api.customer_limits WITH (security_invoker = true) AS
SELECT l.event_id, l.max_seats_per_customer, l.updated_at, l.updated_by
  FROM eventsvc.event_customer_limits l;
COMMENT ON VIEW api.customer_limits IS 'The per-customer seat limits of the tenant''s events.';

-- (part 99 revokes PUBLIC's rights at install; an upgrade runs this fragment without it)
REVOKE ALL ON FUNCTION api.set_customer_limit(uuid, integer), api.set_hold_settings(jsonb), api.hold_settings(),
                       api.seat_allowance(uuid, uuid), eventsvc.reads_every_holder() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.reads_every_holder() TO eventsvc_user, eventsvc_service;
GRANT SELECT ON eventsvc.tenant_hold_settings, eventsvc.event_customer_limits TO eventsvc_user, eventsvc_service;
GRANT SELECT ON api.customer_limits TO eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION api.set_customer_limit(uuid, integer), api.set_hold_settings(jsonb)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.hold_settings(), api.seat_allowance(uuid, uuid) TO eventsvc_user, eventsvc_service;
