-- Part 99: grants, last, so that every object created by earlier parts is covered.
-- Nothing is granted to PUBLIC; each role gets what its job needs.

REVOKE ALL ON ALL TABLES IN SCHEMA eventsvc, api FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA eventsvc, api FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eventsvc, api FROM PUBLIC;

-- Reference data, readable by everyone who can use the API.
GRANT SELECT ON eventsvc.event_categories, eventsvc.currencies
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;

-- Tenant data: RLS decides which rows; these grants decide which commands. Tenant
-- roles (eventsvc_user, eventsvc_admin) read their tenant's rows and write none: every
-- write goes through an api function, which runs with the owner's rights, names the
-- caller's tenant and meets the write rules (parts 32, 40, 62; docs/tenancy.md).
GRANT SELECT ON eventsvc.tenants, eventsvc.venues, eventsvc.events, eventsvc.event_schedules,
                eventsvc.event_capacity, eventsvc.event_pricing, eventsvc.event_metadata,
                eventsvc.event_audit_log, eventsvc.event_cancellation_reports,
                eventsvc.cancellation_steps, eventsvc.capacity_holds, eventsvc.outbox,
                eventsvc.event_content, eventsvc.event_faqs, eventsvc.event_reviews
    TO eventsvc_user, eventsvc_service;
-- The venue read model is venue-service's copy: the service role keeps it current.
GRANT INSERT, UPDATE ON eventsvc.venues TO eventsvc_service;

-- Functions every API role may call (RLS policies and API functions call them).
GRANT EXECUTE ON FUNCTION eventsvc.now(), eventsvc.current_tenant_id(), eventsvc.current_actor(),
                          eventsvc.is_tenant_admin()
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
