-- as: anon
-- runs: 300
-- what: public_events next page by keyset cursor (starts_at, id), limit 20
\set d random(1, 300)
SELECT coalesce(json_agg(t), '[]') FROM (
    SELECT * FROM api.public_events
     WHERE starts_at >= now() + :d * interval '1 day'
       AND (starts_at > now() + :d * interval '1 day'
            OR (starts_at = now() + :d * interval '1 day' AND id > '80000000-0000-4000-8000-000000000000'))
     ORDER BY starts_at, id LIMIT 20) t;
