-- as: anon
-- runs: 300
-- what: featured_events(20), anonymous
SELECT count(*) FROM api.featured_events(20);
