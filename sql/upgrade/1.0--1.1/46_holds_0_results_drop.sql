-- The hold calls of 1.0 returned jsonb; 1.1 declares them to return a row of
-- api.holds (46_holds_results.sql, the install part itself): a new return type
-- needs the function dropped first.
DROP FUNCTION api.reserve_capacity(uuid, integer, uuid, text, integer);
DROP FUNCTION api.confirm_hold(uuid);
DROP FUNCTION api.release_hold(uuid);
DROP FUNCTION api.extend_hold(uuid, integer);
