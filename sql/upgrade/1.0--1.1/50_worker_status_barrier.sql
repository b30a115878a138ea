-- Part 50: api.worker_status runs with its owner's rights, so it is a security barrier.
ALTER VIEW api.worker_status SET (security_barrier = true);
