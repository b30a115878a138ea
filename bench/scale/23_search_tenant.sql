-- as: tenant
-- runs: 300
-- what: search_events(q => a word), as a tenant user
\set w random(1, 20)
\set t 1 + 50 * random(0, greatest(:tenants / 50, 1) - 1) + random(0, least(48, :tenants - 2))
BEGIN;
SELECT set_config('app.current_tenant_id', md5('tenant' || :t)::uuid::text, true);
SELECT count(*) FROM api.search_events(q => (ARRAY['jazz','rock','opera','comedy','football','basketball','symphony','techno','blues','theatre','midnight','golden','electric','summer','neon','festival','tour','gala','velvet','royal'])[:w]);
END;
