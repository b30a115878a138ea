-- as: buyer0
-- runs: 300
-- what: holds state=eq.CONFIRMED, order=created_at.desc, limit 20, as a buyer of tenant 0 (about 200,000 holds)
SELECT coalesce(json_agg(t), '[]') FROM (
    SELECT * FROM api.holds WHERE state = 'CONFIRMED' ORDER BY created_at DESC LIMIT 20) t;
