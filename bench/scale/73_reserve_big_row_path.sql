-- as: tenant0
-- runs: 300
-- what: reserve_capacity on section B (100,000 holds) on the row-lock path (tenant 0 has no counter slots)
SELECT api.reserve_capacity('5ca1e000-0000-4000-8000-0000000000cb', 1) IS NOT NULL;
