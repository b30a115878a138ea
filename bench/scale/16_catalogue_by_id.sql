-- as: anon
-- runs: 300
-- what: public_events id=eq.X (one event page)
\set k random(1, 1000)
SELECT json_agg(t) FROM (SELECT * FROM api.public_events WHERE id = (SELECT id FROM scale.sample WHERE k = :k)) t;
