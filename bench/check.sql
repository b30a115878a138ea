-- The invariant after a run, from the committed rows: no section oversold, the
-- shared counter equal to total - held - sold (nothing is in flight now), and
-- the naive baseline's counters equal to its rows.
SELECT count(*) FILTER (WHERE (r->>'oversold')::boolean) AS oversold_sections,
       count(*) FILTER (WHERE (r->>'drift')::bigint <> 0) AS drifting_sections,
       sum((r->>'held')::bigint) AS seats_held
  FROM eventsvc.event_capacity c, eventsvc.check_capacity(c.id) r
 WHERE c.tenant_id = '0b0b0b0b-0000-4000-8000-000000000000';
SELECT count(*) AS naive_mismatch FROM bench.sections s
 WHERE s.total - s.available <> (SELECT coalesce(sum(quantity), 0) FROM bench.holds h WHERE h.section_id = s.id)
    OR s.available < 0;
