-- as: tenant0
-- runs: 20
-- what: event_customer_analytics event_id=eq.A (100,000 holds)
SELECT json_agg(t) FROM (SELECT * FROM api.event_customer_analytics WHERE event_id = '5ca1e000-0000-4000-8000-0000000000ea') t;
