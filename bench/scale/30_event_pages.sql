-- as: anon
-- runs: 300
-- what: event_metadata + event_content + event_reviews + event_occurrences + event_view_count of one event, anonymous
\set k random(1, 1000)
SELECT id AS ev FROM scale.sample WHERE k = :k \gset
SELECT api.event_metadata(:ev), api.event_content(:ev), api.event_view_count(:ev);
SELECT count(*) FROM api.event_reviews(:ev);
SELECT count(*) FROM api.event_occurrences(:ev);
