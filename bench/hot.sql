\set s 0
SELECT (api.reserve_capacity(('00000000-0000-4000-8000-' || lpad(:s::text, 12, '0'))::uuid, 1, '0b0b0b0b-0000-4000-8000-0000000000f1', 'c' || :client_id)).id IS NOT NULL;
