-- as: anon
-- runs: 300
-- what: featured_events(20, tenant_id => X), anonymous
\set t random(1, :tenants - 1)
SELECT count(*) FROM api.featured_events(20, md5('tenant' || :t)::uuid);
