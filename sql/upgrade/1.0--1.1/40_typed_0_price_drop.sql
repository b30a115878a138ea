-- api.calculate_price of 1.0 returned jsonb; 1.1 declares it to return a row of
-- api.price_line (40_typed_price.sql, the install part itself): a new return type
-- needs the function dropped first.
DROP FUNCTION api.calculate_price(uuid, integer);
