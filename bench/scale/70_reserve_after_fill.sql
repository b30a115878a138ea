-- as: tenant0
-- runs: 300
-- what: reserve_capacity on a section created after 20,000 others (C)
SELECT (api.reserve_capacity('5ca1e000-0000-4000-8000-0000000000cc', 1)).id IS NOT NULL;
