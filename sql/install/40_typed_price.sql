-- Part 40 (typed price): api.calculate_price returns a row of api.price_line, a declared
-- type, so typed clients see the price's shape; over HTTP the answer is the same JSON
-- object as before (the same keys and values). The row is made in C from the price
-- line (src/capacity/hold_result.c). The same file is the upgrade fragment
-- sql/upgrade/1.0--1.1/40_typed_price.sql (after 40_typed_0_price_drop.sql drops the
-- 1.0 function, which returned jsonb). A hold's locked_price stays this object as jsonb.

CREATE TYPE api.price_line AS (
    currency       text,
    minor_unit     integer,
    price_kind     text,
    quantity       integer,
    unit_price     bigint,
    base_total     bigint,
    group_discount bigint,
    service_fee    bigint,
    facility_fee   bigint,
    percentage_fee bigint,
    subtotal       bigint,
    tax_rate       numeric,
    tax_base       bigint,
    tax            bigint,
    net            bigint,
    total          bigint,
    tax_included   boolean,
    fees_taxable   boolean,
    rounding_mode  text,
    fee_percentage numeric,
    rounding       text
);
COMMENT ON TYPE api.price_line IS
    'The exact price of one line (a tier x a quantity), integers in minor units, rounded once per line (docs/money.md); a hold keeps it as locked_price.';
COMMENT ON COLUMN api.price_line.currency IS 'ISO 4217 code of every amount of the line.';
COMMENT ON COLUMN api.price_line.minor_unit IS 'Decimals of the currency: amounts are in 10^-minor_unit of it (cents for USD).';
COMMENT ON COLUMN api.price_line.price_kind IS 'Which price of the tier was in force: base, dynamic, early_bird or last_minute.';
COMMENT ON COLUMN api.price_line.quantity IS 'Tickets in the line.';
COMMENT ON COLUMN api.price_line.unit_price IS 'Price of one ticket as displayed (tax inside when tax_included).';
COMMENT ON COLUMN api.price_line.base_total IS 'unit_price x quantity.';
COMMENT ON COLUMN api.price_line.group_discount IS 'The group discount of the line, 0 under the tier''s group size.';
COMMENT ON COLUMN api.price_line.service_fee IS 'The tier''s service fee x quantity.';
COMMENT ON COLUMN api.price_line.facility_fee IS 'The tier''s facility fee x quantity.';
COMMENT ON COLUMN api.price_line.percentage_fee IS 'The tier''s percentage fee of the tickets after the discount.';
COMMENT ON COLUMN api.price_line.subtotal IS 'Tickets after the discount plus the three fees.';
COMMENT ON COLUMN api.price_line.tax_rate IS 'The tier''s tax rate (0.0825 is 8.25 %).';
COMMENT ON COLUMN api.price_line.tax_base IS 'The net amount the tax is levied on.';
COMMENT ON COLUMN api.price_line.tax IS 'The tax of the line, rounded once.';
COMMENT ON COLUMN api.price_line.net IS 'total - tax.';
COMMENT ON COLUMN api.price_line.total IS 'What the buyer pays for the line.';
COMMENT ON COLUMN api.price_line.tax_included IS 'Whether the displayed prices and fees contain the tax.';
COMMENT ON COLUMN api.price_line.fees_taxable IS 'Whether the fees bear tax like the tickets.';
COMMENT ON COLUMN api.price_line.rounding_mode IS 'How every derived figure is rounded: half_even or half_up.';
COMMENT ON COLUMN api.price_line.fee_percentage IS 'The tier''s percentage fee (10.00 is 10 %).';
COMMENT ON COLUMN api.price_line.rounding IS 'The rounding as a label (as in 1.0): the same mode as rounding_mode.';

CREATE FUNCTION api.calculate_price(pricing_id uuid, quantity integer) RETURNS api.price_line
    AS 'MODULE_PATHNAME', 'evs_sql_calculate_price_row' LANGUAGE C STABLE;
COMMENT ON FUNCTION api.calculate_price(uuid, integer) IS
    'Exact price of quantity tickets of a tier at eventsvc.now() (a row of price_line): integers in minor units, rounded once per line in the tier''s rounding mode; a tax-included tier charges the displayed amounts exactly and shows the tax inside them (docs/money.md).';

REVOKE ALL ON FUNCTION api.calculate_price(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.calculate_price(uuid, integer) TO eventsvc_user, eventsvc_service;
