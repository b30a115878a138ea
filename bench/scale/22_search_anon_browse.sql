-- as: anon
-- runs: 300
-- what: search_events(starts_from => now, max_price => 5000), no words, anonymous
SELECT count(*) FROM api.search_events(starts_from => now(), max_price => 5000);
