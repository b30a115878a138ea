-- Part 46: the scheduled drift check (docs/capacity.md "The drift check"). The worker
-- (eventsvc.drift_check_interval_s) or a pg_cron job runs eventsvc.check_capacity_drift():
-- every section with a hold live or expired in the last window is checked exactly, as
-- eventsvc.check_capacity does (the shared counter against the rows, the counter rows
-- against the holds, oversold); what disagrees is kept here, one row per section, until
-- a check finds it right again, and capacity.drift_detected is emitted once the same
-- section has drifted in two consecutive checks. Written only by the check (as the
-- owner); tenants read their own rows through api.capacity_drift.
CREATE TABLE eventsvc.capacity_drift_findings (
    tenant_id        uuid NOT NULL,
    capacity_id      uuid NOT NULL,
    event_id         uuid NOT NULL,
    first_seen_at    timestamptz NOT NULL,     -- the first check of this run of drifting checks
    last_checked_at  timestamptz NOT NULL,
    checks           integer NOT NULL,         -- consecutive checks that found drift
    total_capacity   bigint NOT NULL,
    held             bigint NOT NULL,          -- seats of ACTIVE holds (the hold rows)
    sold             bigint NOT NULL,          -- seats of CONFIRMED holds
    counter          bigint,                   -- the shared counter's free seats; NULL: none compared
    counter_drift    bigint,                   -- counter - (total - held - sold)
    rows_drift       bigint,                   -- counter rows' held + sold - the holds'
    rows_agree       boolean,                  -- every figure of the counter rows matches the holds
    reported_at      timestamptz,              -- when capacity.drift_detected was emitted
    PRIMARY KEY (tenant_id, capacity_id)
);
COMMENT ON TABLE eventsvc.capacity_drift_findings IS
    'Sections whose counter or counter rows disagree with their holds, as the last drift check found them (docs/capacity.md "The drift check").';
ALTER TABLE eventsvc.capacity_drift_findings ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.capacity_drift_findings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.capacity_drift_findings TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
-- Data in a logical backup (a finding and whether it was reported survive a restore).
SELECT pg_catalog.pg_extension_config_dump('eventsvc.capacity_drift_findings', '');
REVOKE ALL ON eventsvc.capacity_drift_findings FROM PUBLIC;
GRANT SELECT ON eventsvc.capacity_drift_findings TO eventsvc_user, eventsvc_service;

-- One drift check run across tenants; the worker calls the same C function.
-- Superuser only (pg_cron: SELECT eventsvc.check_capacity_drift()).
CREATE FUNCTION eventsvc.check_capacity_drift(window_seconds integer DEFAULT 600, max_sections integer DEFAULT 500)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_check_capacity_drift' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.check_capacity_drift(integer, integer) IS
    'Checks the sections with a hold live or expired in the last window_seconds (at most max_sections), keeps what drifts in api.capacity_drift and emits capacity.drift_detected after two drifting checks; returns checked, busy, drifting, reported, cleared. Superuser only.';
REVOKE ALL ON FUNCTION eventsvc.check_capacity_drift(integer, integer) FROM PUBLIC;

CREATE VIEW api.capacity_drift WITH (security_invoker = true) AS
SELECT f.tenant_id, f.event_id, f.capacity_id, c.section_name, f.first_seen_at, f.last_checked_at, f.checks,
       f.total_capacity, f.held, f.sold, f.counter, f.counter_drift, f.rows_drift, f.rows_agree,
       f.held + f.sold > f.total_capacity AS oversold, f.reported_at
  FROM eventsvc.capacity_drift_findings f
  LEFT JOIN eventsvc.event_capacity c ON c.tenant_id = f.tenant_id AND c.id = f.capacity_id;
COMMENT ON VIEW api.capacity_drift IS
    'Sections of the tenant whose seat figures disagree with their holds, as the scheduled drift check found them; a row goes when a check finds the section right again (GET /capacity_drift).';
COMMENT ON COLUMN api.capacity_drift.tenant_id IS 'The tenant (venue operator or promoter) the row belongs to.';
COMMENT ON COLUMN api.capacity_drift.event_id IS 'The event of the section.';
COMMENT ON COLUMN api.capacity_drift.capacity_id IS 'The section (api.event_sections id).';
COMMENT ON COLUMN api.capacity_drift.section_name IS 'Name of the section.';
COMMENT ON COLUMN api.capacity_drift.first_seen_at IS 'When a check first found this drift (the first of the consecutive drifting checks).';
COMMENT ON COLUMN api.capacity_drift.last_checked_at IS 'When the last check that found it ran.';
COMMENT ON COLUMN api.capacity_drift.checks IS 'Consecutive checks that found the section drifting; capacity.drift_detected is emitted at 2.';
COMMENT ON COLUMN api.capacity_drift.total_capacity IS 'The section''s seats at the last check.';
COMMENT ON COLUMN api.capacity_drift.held IS 'Seats of live (ACTIVE) holds, counted from the hold rows.';
COMMENT ON COLUMN api.capacity_drift.sold IS 'Seats of confirmed holds, counted from the hold rows.';
COMMENT ON COLUMN api.capacity_drift.counter IS 'Free seats in the section''s shared counter; null when it had none.';
COMMENT ON COLUMN api.capacity_drift.counter_drift IS 'The counter''s free seats less total - held - sold (0: it agrees; null: no counter).';
COMMENT ON COLUMN api.capacity_drift.rows_drift IS 'Seats held and sold by the counter rows less those of the hold rows.';
COMMENT ON COLUMN api.capacity_drift.rows_agree IS 'Whether every figure of the counter rows (seats, revenue, hold counts per currency) matches the hold rows.';
COMMENT ON COLUMN api.capacity_drift.oversold IS 'Held and sold seats exceed the total.';
COMMENT ON COLUMN api.capacity_drift.reported_at IS 'When capacity.drift_detected was emitted for this drift; null until two checks found it.';
REVOKE ALL ON api.capacity_drift FROM PUBLIC;
GRANT SELECT ON api.capacity_drift TO eventsvc_user, eventsvc_service;
-- Read-only over HTTP as every view that is not automatically updatable (install part 79).
CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON api.capacity_drift
    FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write();
