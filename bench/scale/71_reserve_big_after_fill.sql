-- as: tenant0
-- runs: 30
-- what: reserve_capacity on a section with 100,000 holds once the shared counters are full (B)
SELECT (api.reserve_capacity('5ca1e000-0000-4000-8000-0000000000cb', 1)).id IS NOT NULL;
