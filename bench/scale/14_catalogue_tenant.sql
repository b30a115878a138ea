-- as: anon
-- runs: 300
-- what: public_events tenant_id=eq.X, starts_at=gt.now, order=starts_at,id, limit 20
\set t random(1, :tenants - 1)
SELECT coalesce(json_agg(t), '[]') FROM (
    SELECT * FROM api.public_events
     WHERE tenant_id = md5('tenant' || :t)::uuid AND starts_at > now()
     ORDER BY starts_at, id LIMIT 20) t;
