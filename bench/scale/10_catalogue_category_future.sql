-- as: anon
-- runs: 300
-- what: public_events category=eq.X, starts_at=gt.now, order=starts_at,id, limit 20
\set c random(1, 17)
SELECT coalesce(json_agg(t), '[]') FROM (
    SELECT * FROM api.public_events
     WHERE category = (ARRAY['arts','basketball','classical','comedy','conference','electronic','family','festival','football','jazz','music','nightlife','other','rock','sports','theater','workshop'])[:c] AND starts_at > now()
     ORDER BY starts_at, id LIMIT 20) t;
