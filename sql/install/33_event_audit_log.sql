-- Part 33: the events' audit log over HTTP, for the tenant's admin
-- (GET /event_audit_log?event_id=eq.<id>&order=id.desc). Read-only: the rows are
-- written by the audit trigger only (part 28). security_invoker: RLS of
-- eventsvc.event_audit_log keeps each tenant to its own rows; only eventsvc_admin
-- may read the view. Filters are PostgREST's: event_id, action, actor_id,
-- created_at ranges; pages by id (the primary key, tenant first) or by event
-- (idx_event_audit_event). See docs/lifecycle.md "Audit log".
CREATE VIEW api.event_audit_log WITH (security_invoker = true, security_barrier = true) AS
SELECT l.id, l.event_id, l.action, l.actor_id, l.actor_role, l.changed_fields, l.created_at
  FROM eventsvc.event_audit_log l;
COMMENT ON VIEW api.event_audit_log IS
    'Read-only. The audit log of the tenant''s events, for its admin: who changed which fields of which event, when (GET /event_audit_log?event_id=eq.<id>&order=id.desc).';
COMMENT ON COLUMN api.event_audit_log.id IS 'Position in the log: higher is later (page with id=lt.<last id>).';
COMMENT ON COLUMN api.event_audit_log.event_id IS 'The event the entry is about.';
COMMENT ON COLUMN api.event_audit_log.action IS 'INSERT, UPDATE, SOFT_DELETE or DELETE.';
COMMENT ON COLUMN api.event_audit_log.actor_id IS 'Who made the change (the token''s sub, else app.current_user_id).';
COMMENT ON COLUMN api.event_audit_log.actor_role IS 'The database role that made the change.';
COMMENT ON COLUMN api.event_audit_log.changed_fields IS 'Each changed field with its old and new value: {"name": {"old": ..., "new": ...}}.';
COMMENT ON COLUMN api.event_audit_log.created_at IS 'When the change was made.';
REVOKE ALL ON api.event_audit_log FROM PUBLIC;
GRANT SELECT ON api.event_audit_log TO eventsvc_admin;
