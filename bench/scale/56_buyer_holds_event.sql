-- as: buyer0
-- runs: 300
-- what: holds event_id=eq.A, order=expires_at.desc, limit 20, as a buyer with 1 of its 100,000 holds
SELECT coalesce(json_agg(t), '[]') FROM (
    SELECT * FROM api.holds WHERE event_id = '5ca1e000-0000-4000-8000-0000000000ea'
     ORDER BY expires_at DESC LIMIT 20) t;
