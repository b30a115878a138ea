-- Part 44 (1.1): a repair names a section by its id alone (eventsvc.escrow_reset): its
-- counter rows in every tenant are found by this index, not by reading the whole key.
CREATE INDEX idx_section_counters_section ON eventsvc.section_counters (capacity_id);
