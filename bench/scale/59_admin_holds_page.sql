-- as: admin0
-- runs: 300
-- what: holds capacity_id=eq.A, order=expires_at.desc, limit 20, as a tenant admin (100,000 holds)
SELECT coalesce(json_agg(t), '[]') FROM (
    SELECT * FROM api.holds WHERE capacity_id = '5ca1e000-0000-4000-8000-0000000000ca'
     ORDER BY expires_at DESC LIMIT 20) t;
