-- as: tenant0
-- runs: 300
-- what: reserve_capacity on a section with 100,000 holds (A)
SELECT (api.reserve_capacity('5ca1e000-0000-4000-8000-0000000000ca', 1)).id IS NOT NULL;
