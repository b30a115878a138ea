-- Part 31: the lifecycle writers run with the schema owner's rights (tenant roles have no
-- write right on the tables any more, part 99); their C code names the caller's tenant in
-- every statement.
ALTER FUNCTION eventsvc.event_create(jsonb, text) SECURITY DEFINER;
ALTER FUNCTION api.update_event(uuid, integer, jsonb, uuid, text) SECURITY DEFINER;
ALTER FUNCTION api.delete_event(uuid, text) SECURITY DEFINER;
ALTER FUNCTION api.publish_event(uuid, text) SECURITY DEFINER;
ALTER FUNCTION api.transition_event(uuid, text, text, text) SECURITY DEFINER;
ALTER FUNCTION api.postpone_event(uuid, text, text) SECURITY DEFINER;
ALTER FUNCTION api.reschedule_event(uuid, timestamptz, timestamptz, timestamptz, text, uuid, text) SECURITY DEFINER;
ALTER FUNCTION api.cancel_event(uuid, text, text) SECURITY DEFINER;
