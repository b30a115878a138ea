-- Proxy part 99: grants, last. Nothing is granted to PUBLIC; the API roles may call
-- what a routed call needs, superusers administer (add_shard, create_tenant,
-- move_tenant, sync_api, sync_reference).

REVOKE ALL ON ALL TABLES IN SCHEMA eventsvc, api, eventsvc_remote FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA eventsvc, api, eventsvc_remote FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eventsvc, api, eventsvc_remote FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA eventsvc FROM PUBLIC;

GRANT EXECUTE ON FUNCTION eventsvc.now(), eventsvc.current_actor(), eventsvc.current_tenant_id(),
                          eventsvc.route(text, uuid), eventsvc.tenant_lock_key(uuid), eventsvc.raise_remote(jsonb),
                          eventsvc.answer(eventsvc.call_route, eventsvc.remote_row[], boolean),
                          eventsvc.some_page_full(eventsvc.remote_row[], integer),
                          eventsvc.shard_describe(), eventsvc.shard_api_catalog(integer), eventsvc.shard_session(integer),
                          eventsvc.describe_shards(), eventsvc.readiness(), eventsvc.synced_catalog(), eventsvc.refuse_view_write()
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION api.health_ready()
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
