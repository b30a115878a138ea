-- The seeded categories get the fixed ids a fresh install gives them
-- (ca7e9000-0000-4000-8000-0000000000xx, part 10), so that a dump restores the events
-- that name them. Matched by slug. In replica mode: moving a key is no change of the
-- events that refer to it (no version bump, no audit entry), and the references are
-- moved in the same transaction (no foreign key is checked in between).
SET session_replication_role = replica;
CREATE FUNCTION eventsvc.upgrade_category_ids() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old_ids uuid[];
    new_ids uuid[];
BEGIN
    -- the new id of each seeded slug whose row still has a random one
    SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(('ca7e9000-0000-4000-8000-0000000000' || m.n)::uuid), '{}')
      INTO old_ids, new_ids
      FROM eventsvc.event_categories c
      JOIN (VALUES ('01', 'music'), ('02', 'sports'), ('03', 'theater'), ('04', 'comedy'), ('05', 'arts'),
                   ('06', 'conference'), ('07', 'workshop'), ('08', 'festival'), ('09', 'family'),
                   ('10', 'nightlife'), ('11', 'other'), ('21', 'rock'), ('22', 'jazz'), ('23', 'classical'),
                   ('24', 'electronic'), ('25', 'football'), ('26', 'basketball')) AS m(n, slug) ON m.slug = c.slug
     WHERE c.id <> ('ca7e9000-0000-4000-8000-0000000000' || m.n)::uuid;
    UPDATE eventsvc.events e SET primary_category_id = m.new_id
      FROM unnest(old_ids, new_ids) AS m(old_id, new_id) WHERE e.primary_category_id = m.old_id;
    UPDATE eventsvc.event_categories c SET parent_id = m.new_id
      FROM unnest(old_ids, new_ids) AS m(old_id, new_id) WHERE c.parent_id = m.old_id;
    UPDATE eventsvc.event_categories c SET id = m.new_id
      FROM unnest(old_ids, new_ids) AS m(old_id, new_id) WHERE c.id = m.old_id;
END
$$;
SELECT eventsvc.upgrade_category_ids();
DROP FUNCTION eventsvc.upgrade_category_ids();
RESET session_replication_role;
