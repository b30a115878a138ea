-- as: tenant
-- runs: 300
-- what: list_events(status => ON_SALE), as a tenant user
\set t 1 + 50 * random(0, greatest(:tenants / 50, 1) - 1) + random(0, least(48, :tenants - 2))
BEGIN;
SELECT set_config('app.current_tenant_id', md5('tenant' || :t)::uuid::text, true);
SELECT api.list_events(status => 'ON_SALE') -> 'total';
END;
