-- as: tenant0
-- runs: 300
-- what: reserve_capacity on a fresh section (F, no holds)
SELECT (api.reserve_capacity('5ca1e000-0000-4000-8000-0000000000cf', 1)).id IS NOT NULL;
