-- Part 40: the section and tier writers run with the schema owner's rights (tenant roles have
-- no write right on sections and tiers any more); the rows they write carry the caller's tenant.
ALTER FUNCTION api.create_pricing(uuid, text, bigint, text, uuid, text, text, bigint, bigint, numeric, boolean,
                                  bigint, bigint, bigint, timestamptz, bigint, timestamptz, integer, numeric,
                                  timestamptz, timestamptz, integer, integer, integer) SECURITY DEFINER;
ALTER FUNCTION api.update_pricing(uuid, integer, jsonb) SECURITY DEFINER;
ALTER FUNCTION api.create_section(uuid, text, integer, text, text, uuid, integer, integer, jsonb, jsonb) SECURITY DEFINER;
ALTER FUNCTION api.update_section(uuid, integer, jsonb) SECURITY DEFINER;
-- their helpers are reached through them only
REVOKE EXECUTE ON FUNCTION eventsvc.check_changes(jsonb, text[], text, text),
                           eventsvc.apply_changes(text, uuid, integer, jsonb) FROM eventsvc_user;
