-- as: tenant0
-- runs: 300
-- what: reserve_capacity on the fresh section F on the row-lock path (tenant 0 has no counter slots)
SELECT api.reserve_capacity('5ca1e000-0000-4000-8000-0000000000cf', 1) IS NOT NULL;
