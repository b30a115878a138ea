-- as: service
-- runs: 300
-- what: internal_event(id), service role
\set k random(1, 1000)
SELECT id AS ev FROM scale.sample WHERE k = :k \gset
SELECT api.internal_event(:ev) IS NOT NULL;
