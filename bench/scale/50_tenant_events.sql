-- as: tenant
-- runs: 300
-- what: events status=eq.ON_SALE, order=starts_at,id, limit 20, as a tenant user
\set t 1 + 50 * random(0, greatest(:tenants / 50, 1) - 1) + random(0, least(48, :tenants - 2))
BEGIN;
SELECT set_config('app.current_tenant_id', md5('tenant' || :t)::uuid::text, true);
SELECT coalesce(json_agg(t), '[]') FROM (
    SELECT * FROM api.events WHERE status = 'ON_SALE' ORDER BY starts_at, id LIMIT 20) t;
END;
