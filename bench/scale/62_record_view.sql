-- as: anon
-- runs: 300
-- what: record_view(id), anonymous
\set k random(1, 1000)
SELECT id AS ev FROM scale.sample WHERE k = :k \gset
SELECT api.record_view(:ev) IS NOT NULL;
