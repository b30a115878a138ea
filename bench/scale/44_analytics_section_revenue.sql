-- as: tenant0
-- runs: 50
-- what: section_revenue event_id=eq.A (100,000 holds)
SELECT json_agg(t) FROM (SELECT * FROM api.section_revenue WHERE event_id = '5ca1e000-0000-4000-8000-0000000000ea') t;
