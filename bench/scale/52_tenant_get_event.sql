-- as: tenant0
-- runs: 300
-- what: get_event(A) + event_sections event_id=eq.A, as tenant 0's user
SELECT api.get_event('5ca1e000-0000-4000-8000-0000000000ea') IS NOT NULL;
SELECT count(*) FROM api.event_sections WHERE event_id = '5ca1e000-0000-4000-8000-0000000000ea';
