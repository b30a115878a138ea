-- eventsvc upgrade 1.0 -> 1.1 (ALTER EXTENSION eventsvc UPDATE TO '1.1').
-- The fragments in sql/upgrade/1.0--1.1/ are concatenated in name order, like the
-- install fragments; number them after the install fragment they change (14_..,
-- 40_..). The result must leave exactly the objects a fresh 1.1 install has:
-- test/integration/upgrade.sh compares both catalogues object by object.
-- Functions that exist in 1.0 are changed with CREATE OR REPLACE (safe here: the
-- server refuses to replace an object that is not already a member of eventsvc);
-- new objects are created with plain CREATE, never OR REPLACE / IF NOT EXISTS.
\echo Use "ALTER EXTENSION eventsvc UPDATE" to load this file. \quit
