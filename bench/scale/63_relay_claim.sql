-- as: owner
-- runs: 100
-- what: relay_claim(100) beside 100k published messages (rolled back)
BEGIN;
SELECT count(*) FROM eventsvc.relay_claim(1, 100, 30);
ROLLBACK;
