\set s 0
SELECT bench.naive_reserve(:s, 1, 'c' || :client_id);
