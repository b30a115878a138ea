-- Part 26: the quotas' functions (src/core/quotas.c; the tenants' own limits: part 47,
-- docs/tenancy.md "Quotas"), before the api writers that check sizes with them.

-- The caller's tenant's quotas in force: the limit (0: none) and where it comes from.
CREATE FUNCTION eventsvc.quotas(OUT quota text, OUT quota_limit integer, OUT source text) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'evs_sql_quotas' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION eventsvc.quotas() IS
    'The quotas in force for the caller''s tenant: events, seats_per_hold, seats_per_customer, holds_per_customer, document_bytes, text_bytes, counter_slots.';

-- The size quotas, for the api writers written in SQL: PT413 when the value is larger.
CREATE FUNCTION eventsvc.check_document_size(field text, value jsonb) RETURNS void
    AS 'MODULE_PATHNAME', 'evs_sql_check_document_size' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION eventsvc.check_text_size(field text, value text) RETURNS void
    AS 'MODULE_PATHNAME', 'evs_sql_check_text_size' LANGUAGE C STABLE PARALLEL RESTRICTED;

-- (part 99 revokes PUBLIC's rights at install; an upgrade runs this fragment without it)
REVOKE ALL ON FUNCTION eventsvc.quotas(), eventsvc.check_document_size(text, jsonb),
                       eventsvc.check_text_size(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.quotas() TO eventsvc_user, eventsvc_service;
