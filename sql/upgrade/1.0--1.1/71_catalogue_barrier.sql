-- Part 71: the public catalogue is a security barrier: a caller's condition never
-- runs before the catalogue's own WHERE clause.
ALTER VIEW api.public_events SET (security_barrier = true);
