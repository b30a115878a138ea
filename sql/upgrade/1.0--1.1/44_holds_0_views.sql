-- api.holds is defined by part 44 now, with the columns it adds (a fresh install
-- creates it there too): the 1.0 view goes first.
DROP VIEW api.holds;
