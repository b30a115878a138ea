-- Part 72: per-tenant rate limits of the HTTP surface (src/core/rate_limit.c,
-- docs/postgrest.md "Rate limits"). eventsvc.check_request, PostgREST's
-- pre-request function, takes a token from the buckets of each request in shared
-- memory: a tenant's requests, its reservations, an anonymous client address's
-- requests; an empty bucket refuses the request with HTTP 429 and Retry-After
-- before any work is done. The cluster defaults are the superuser settings
-- eventsvc.rate_limit_*; the platform operator gives a tenant its own limits here.

-- One row per tenant with limits of its own; written by the platform operator only.
-- A NULL column keeps the setting; a burst of 0 means no limit.
CREATE TABLE eventsvc.tenant_rate_limits (
    tenant_id               uuid PRIMARY KEY REFERENCES eventsvc.tenants (id) ON DELETE CASCADE,
    requests_per_minute     integer CHECK (requests_per_minute BETWEEN 0 AND 10000000),
    request_burst           integer CHECK (request_burst BETWEEN 0 AND 10000000),
    reservations_per_minute integer CHECK (reservations_per_minute BETWEEN 0 AND 10000000),
    reservation_burst       integer CHECK (reservation_burst BETWEEN 0 AND 10000000),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    updated_by              text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE eventsvc.tenant_rate_limits IS
    'A tenant''s own rate limits over HTTP, set by the platform operator; NULL keeps the setting eventsvc.rate_limit_<name> (0: no limit).';
ALTER TABLE eventsvc.tenant_rate_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.tenant_rate_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.tenant_rate_limits TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
-- The pre-request check keeps a tenant's row per backend (part 42): a change raises the generation.
CREATE TRIGGER tenant_rate_limits_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON eventsvc.tenant_rate_limits FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
ALTER TABLE eventsvc.tenant_rate_limits ENABLE ALWAYS TRIGGER tenant_rate_limits_reference;
SELECT pg_catalog.pg_extension_config_dump('eventsvc.tenant_rate_limits', '');

-- The buckets with their limits and what is left in them: the caller's tenant's two
-- (requests, reservations), or for the platform operator (a superuser, or the service
-- role with the platform scope and no tenant) every bucket in use, anonymous client
-- addresses included.
CREATE FUNCTION eventsvc.rate_limit_usage(
        OUT limit_name text, OUT tenant_id uuid, OUT client_address text, OUT per_minute integer,
        OUT burst integer, OUT source text, OUT tokens_left integer, OUT allowed bigint,
        OUT refused bigint, OUT last_request_at timestamptz) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'evs_sql_rate_limit_usage' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION eventsvc.rate_limit_usage() IS
    'The rate-limit buckets: the caller''s tenant''s, or every bucket for the platform operator (api.rate_limit_usage).';

CREATE VIEW api.rate_limit_usage WITH (security_invoker = true) AS
SELECT limit_name, tenant_id, client_address, per_minute, burst, source, tokens_left, allowed, refused,
       last_request_at
  FROM eventsvc.rate_limit_usage();
COMMENT ON VIEW api.rate_limit_usage IS
    'Read-only. Rate limits over HTTP with their current use: the caller''s tenant''s requests and reservations; the platform operator (service role with the platform scope) sees every bucket (GET /rate_limit_usage).';
COMMENT ON COLUMN api.rate_limit_usage.limit_name IS
    'requests, reservations (a tenant''s), anonymous_requests (one client address''s), anonymous_overflow (anonymous callers the table had no slot for).';
COMMENT ON COLUMN api.rate_limit_usage.tenant_id IS 'The tenant of the bucket; null for anonymous callers.';
COMMENT ON COLUMN api.rate_limit_usage.client_address IS
    'The anonymous caller''s address (last entry of the client address header; empty when the header was missing).';
COMMENT ON COLUMN api.rate_limit_usage.per_minute IS 'Tokens the bucket gains a minute: requests a minute on average (0: no limit).';
COMMENT ON COLUMN api.rate_limit_usage.burst IS 'Tokens the bucket holds at most: requests at once.';
COMMENT ON COLUMN api.rate_limit_usage.source IS
    'For a tenant''s own rows: tenant (eventsvc.tenant_rate_limits) or default (the settings eventsvc.rate_limit_*).';
COMMENT ON COLUMN api.rate_limit_usage.tokens_left IS 'Requests that would pass now; 0: the next is refused with 429.';
COMMENT ON COLUMN api.rate_limit_usage.allowed IS 'Requests let through since the bucket was made (server start or its slot taken).';
COMMENT ON COLUMN api.rate_limit_usage.refused IS 'Requests refused with 429 since the bucket was made.';
COMMENT ON COLUMN api.rate_limit_usage.last_request_at IS 'When the bucket last saw a request (null: none since server start).';

-- (part 99 revokes PUBLIC's rights at install; an upgrade runs this fragment without it)
REVOKE ALL ON eventsvc.tenant_rate_limits, api.rate_limit_usage FROM PUBLIC;
REVOKE ALL ON FUNCTION eventsvc.rate_limit_usage() FROM PUBLIC;
GRANT SELECT ON eventsvc.tenant_rate_limits TO eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.rate_limit_usage() TO eventsvc_user, eventsvc_service;
GRANT SELECT ON api.rate_limit_usage TO eventsvc_user, eventsvc_service;
