-- Part 47 (new): what one tenant may use of the platform (src/core/quotas.c, docs/tenancy.md
-- "Quotas"). Each quota has a cluster default, the superuser setting
-- eventsvc.quota_<name> (0: no limit), and the platform operator may give a tenant its
-- own limit in eventsvc.tenant_quotas (a NULL column keeps the default). Checked before
-- any work is done: live events at api.create_event, seats per hold and seats and live
-- holds per customer at api.reserve_capacity, the size of each JSON document and text
-- at the entry of the api writer that stores it (the functions of part 26). Over: PT429
-- (a count) or PT413 (a size).

-- One row per tenant with limits of its own; written by the platform operator only.
CREATE TABLE eventsvc.tenant_quotas (
    tenant_id              uuid PRIMARY KEY REFERENCES eventsvc.tenants (id) ON DELETE CASCADE,
    max_events             integer CHECK (max_events >= 0),
    max_seats_per_hold     integer CHECK (max_seats_per_hold >= 0),
    max_seats_per_customer integer CHECK (max_seats_per_customer >= 0),
    max_holds_per_customer integer CHECK (max_holds_per_customer >= 0),
    max_document_bytes     integer CHECK (max_document_bytes >= 0),
    max_text_bytes         integer CHECK (max_text_bytes >= 0),
    max_counter_slots      integer CHECK (max_counter_slots >= 0),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    updated_by             text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE eventsvc.tenant_quotas IS
    'A tenant''s own quotas, set by the platform operator; NULL keeps the cluster default eventsvc.quota_<name> (0: no limit).';
ALTER TABLE eventsvc.tenant_quotas ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.tenant_quotas FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.tenant_quotas TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
-- The reservation path keeps a tenant's row per backend (part 42): a change raises the generation.
CREATE TRIGGER tenant_quotas_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON eventsvc.tenant_quotas FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
ALTER TABLE eventsvc.tenant_quotas ENABLE ALWAYS TRIGGER tenant_quotas_reference;
SELECT pg_catalog.pg_extension_config_dump('eventsvc.tenant_quotas', '');

-- The shared seat counters the caller's tenant holds now (capacity/escrow_slots.c): its
-- use of the quota counter_slots. NULL on a server without the shared counters.
CREATE FUNCTION eventsvc.escrow_tenant_slots() RETURNS integer
    AS 'MODULE_PATHNAME', 'evs_sql_escrow_tenant_slots' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION eventsvc.escrow_tenant_slots() IS
    'The shared seat counters the caller''s tenant holds now in this database (its use of the quota counter_slots); NULL without shared_preload_libraries.';
REVOKE ALL ON FUNCTION eventsvc.escrow_tenant_slots() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.escrow_tenant_slots() TO eventsvc_user, eventsvc_service;

-- Each quota of the caller's tenant with what is in use now. Another quota is one more
-- row of eventsvc.quotas() and one more WHEN below. The figures are read from the
-- tenant's own rows: events through idx_events_tenant_status, holds through the
-- tenant's part of their indexes; the sizes are the largest stored today.
CREATE VIEW api.tenant_usage WITH (security_invoker = true) AS
SELECT q.quota,
       CASE q.quota
           WHEN 'events' THEN
               (SELECT count(*) FROM eventsvc.events e
                 WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.deleted_at IS NULL
                   AND e.status NOT IN ('COMPLETED', 'CANCELLED'))
           WHEN 'seats_per_hold' THEN
               (SELECT max(h.quantity) FROM eventsvc.capacity_holds h
                 WHERE h.tenant_id = eventsvc.current_tenant_id() AND h.state = 'ACTIVE' AND h.expires_at > eventsvc.now())
           WHEN 'seats_per_customer' THEN
               (SELECT max(x.seats) FROM (SELECT sum(h.quantity) AS seats FROM eventsvc.capacity_holds h
                                           WHERE h.tenant_id = eventsvc.current_tenant_id()
                                             AND h.state IN ('ACTIVE', 'CONFIRMED')
                                           GROUP BY h.event_id, h.holder_id) x)
           WHEN 'holds_per_customer' THEN
               (SELECT max(x.holds) FROM (SELECT count(*) AS holds FROM eventsvc.capacity_holds h
                                           WHERE h.tenant_id = eventsvc.current_tenant_id()
                                             AND h.state = 'ACTIVE' AND h.expires_at > eventsvc.now()
                                           GROUP BY h.event_id, h.holder_id) x)
           WHEN 'document_bytes' THEN
               (SELECT max(greatest(pg_column_size(c.highlights), pg_column_size(c.media)))
                  FROM eventsvc.event_content c WHERE c.tenant_id = eventsvc.current_tenant_id())
           WHEN 'text_bytes' THEN
               (SELECT max(octet_length(c.long_description))
                  FROM eventsvc.event_content c WHERE c.tenant_id = eventsvc.current_tenant_id())
           WHEN 'counter_slots' THEN eventsvc.escrow_tenant_slots()
       END::bigint AS used,
       q.quota_limit,
       q.source
  FROM eventsvc.quotas() q
UNION ALL
-- not a quota: the tenant's live holds, for the dashboard
SELECT 'live_holds',
       (SELECT count(*) FROM eventsvc.capacity_holds h
         WHERE h.tenant_id = eventsvc.current_tenant_id() AND h.state = 'ACTIVE' AND h.expires_at > eventsvc.now()),
       NULL, NULL;
COMMENT ON VIEW api.tenant_usage IS
    'Read-only. The caller''s tenant: each quota (0: no limit) with what is in use, and where the limit comes from (GET /tenant_usage).';
COMMENT ON COLUMN api.tenant_usage.quota IS
    'The quota: events, seats_per_hold, seats_per_customer, holds_per_customer, document_bytes, text_bytes, counter_slots; live_holds is a count, not a quota.';
COMMENT ON COLUMN api.tenant_usage.used IS
    'In use now: live events; the largest live hold; the most seats or live holds of one customer for one event; the largest document or text stored; the shared seat counters held.';
COMMENT ON COLUMN api.tenant_usage.quota_limit IS
    'The limit in force (0: no limit, but for counter_slots 0 is none; NULL for live_holds).';
COMMENT ON COLUMN api.tenant_usage.source IS
    'Where the limit comes from: tenant (eventsvc.tenant_quotas) or default (the setting eventsvc.quota_<name>; for counter_slots eventsvc.escrow_sections_per_tenant).';

GRANT SELECT ON eventsvc.tenant_quotas TO eventsvc_user, eventsvc_service;
GRANT SELECT ON api.tenant_usage TO eventsvc_user, eventsvc_service;
-- (a fresh install gives every api view that cannot take writes this trigger in part 79)
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.tenant_usage
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
