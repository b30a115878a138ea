-- as: anon
-- runs: 300
-- what: public_events is_featured=is.true, order=featured_order,starts_at,id, limit 20
SELECT coalesce(json_agg(t), '[]') FROM (
    SELECT * FROM api.public_events
     WHERE is_featured AND starts_at > now()
     ORDER BY featured_order, starts_at, id LIMIT 20) t;
