-- Part 46: the waitlist of a section (docs/holds.md "Waitlist"). A customer joins for
-- a number of seats; seats that come back to the section go to the entry at the head
-- of the queue (strict order of joining) in the transaction that frees them, gathered
-- in a hold of theirs (phase WAITLIST, expiring 9999-12-31: never) until it has all it asked for; then
-- the hold is an offer (phase OFFERED) with its own window and a waitlist.offer
-- message. An offer not confirmed in time expires and its seats go to the next entry.
-- Everything runs in C (src/capacity/waitlist.c); the tables are written only there.

CREATE TYPE eventsvc.waitlist_state AS ENUM ('WAITING', 'OFFERED', 'CONVERTED', 'LAPSED', 'LEFT', 'CLOSED');

CREATE TABLE eventsvc.waitlist_entries (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id         uuid NOT NULL,
    capacity_id      uuid NOT NULL,
    pricing_id       uuid,
    holder_id        text NOT NULL CHECK (length(holder_id) BETWEEN 1 AND 200),
    quantity         integer NOT NULL CHECK (quantity > 0),
    position         bigint NOT NULL CHECK (position > 0),   -- order of joining within the section
    state            eventsvc.waitlist_state NOT NULL DEFAULT 'WAITING',
    gathered         integer NOT NULL DEFAULT 0 CHECK (gathered >= 0 AND gathered <= quantity),
    hold_id          uuid,                                    -- the hold that gathers, then offers, its seats
    joined_at        timestamptz NOT NULL DEFAULT now(),
    offered_at       timestamptz,
    offer_expires_at timestamptz,
    ended_at         timestamptz,
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE eventsvc.waitlist_entries IS
    'Waitlist entries: a customer waiting for quantity seats of a section, in order of position; gathered seats are held in hold_id.';
-- one live entry per customer and section; the queue in order; offers out; a customer's entries of an
-- event; a section's entries, live and ended (api.waitlist_entries?capacity_id=eq.X); a buyer's own
-- entries, whatever it reads them by (api.waitlist_entries as a tenant user)
CREATE UNIQUE INDEX waitlist_entries_live ON eventsvc.waitlist_entries (tenant_id, capacity_id, holder_id)
    WHERE state IN ('WAITING', 'OFFERED');
CREATE INDEX waitlist_entries_queue ON eventsvc.waitlist_entries (tenant_id, capacity_id, position)
    WHERE state = 'WAITING';
CREATE INDEX waitlist_entries_offered ON eventsvc.waitlist_entries (tenant_id, capacity_id) WHERE state = 'OFFERED';
CREATE INDEX waitlist_entries_holder ON eventsvc.waitlist_entries (tenant_id, event_id, holder_id);
CREATE INDEX waitlist_entries_section ON eventsvc.waitlist_entries (tenant_id, capacity_id, position);
CREATE INDEX waitlist_entries_buyer ON eventsvc.waitlist_entries (tenant_id, holder_id);

-- One row per section that ever had a waitlist: the queue's next position and what a
-- promoter reads (kept by the same transactions as the entries), and the row a return
-- of seats locks while it hands them out.
CREATE TABLE eventsvc.waitlist_sections (
    tenant_id     uuid NOT NULL,
    capacity_id   uuid NOT NULL,
    event_id      uuid NOT NULL,
    next_position bigint NOT NULL DEFAULT 1,
    waiting       integer NOT NULL DEFAULT 0 CHECK (waiting >= 0),       -- entries waiting (gathering included)
    seats_wanted  bigint NOT NULL DEFAULT 0 CHECK (seats_wanted >= 0),   -- seats they asked for
    seats_gathered bigint NOT NULL DEFAULT 0 CHECK (seats_gathered >= 0), -- of which set aside already
    offers_out    integer NOT NULL DEFAULT 0 CHECK (offers_out >= 0),
    offers_made   bigint NOT NULL DEFAULT 0,
    conversions   bigint NOT NULL DEFAULT 0,
    lapsed        bigint NOT NULL DEFAULT 0,
    left_queue    bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, capacity_id)
);
COMMENT ON TABLE eventsvc.waitlist_sections IS
    'Per section with a waitlist: next position, entries waiting, seats wanted and gathered, offers out, offers made, conversions, lapsed and left.';
-- sections whose waiting entries still lack seats: the expiry sweep draws free seats into their queue
CREATE INDEX waitlist_sections_short ON eventsvc.waitlist_sections (tenant_id, capacity_id)
    WHERE seats_wanted > seats_gathered;

ALTER TABLE eventsvc.waitlist_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.waitlist_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.waitlist_entries TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
ALTER TABLE eventsvc.waitlist_sections ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.waitlist_sections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.waitlist_sections TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
SELECT pg_catalog.pg_extension_config_dump('eventsvc.waitlist_entries', '');
SELECT pg_catalog.pg_extension_config_dump('eventsvc.waitlist_sections', '');

-- An offer window a tenant may set for itself (part 43).
ALTER TABLE eventsvc.tenant_hold_settings
    ADD COLUMN offer_window_seconds integer CHECK (offer_window_seconds BETWEEN 1 AND 604800);

CREATE FUNCTION api.join_waitlist(capacity_id uuid, quantity integer, pricing_id uuid DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_join_waitlist'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.join_waitlist(uuid, integer, uuid) IS
    'The caller waits for quantity seats of a sold-out section (one entry per customer and section); seats that come back are gathered for the first entry, then offered (waitlist.offer).';

CREATE FUNCTION api.leave_waitlist(entry_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_leave_waitlist'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.leave_waitlist(uuid) IS
    'The entry leaves the waitlist (its holder, a service or a tenant admin); seats gathered or offered for it go to the next entry.';

CREATE FUNCTION api.waitlist_position(capacity_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_waitlist_position'
    LANGUAGE C STABLE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.waitlist_position(uuid) IS
    'The caller''s entry on the section''s waitlist: its position among those waiting, entries ahead, seats gathered, or the offer and its window.';

CREATE VIEW api.waitlist_sections WITH (security_invoker = true) AS
SELECT w.capacity_id, w.event_id, w.waiting, w.seats_wanted, w.seats_gathered,
       w.offers_out - p.ended AS offers_out, w.offers_made, w.conversions + p.converted AS conversions,
       w.lapsed + p.ended - p.converted AS lapsed, w.left_queue, w.updated_at
  FROM eventsvc.waitlist_sections w
  -- offers whose hold was confirmed or ended since the section's last hand-out (waitlist.c)
  CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE h.state::text <> 'ACTIVE') AS ended,
               count(*) FILTER (WHERE h.state::text IN ('CONFIRMED', 'REFUNDED')) AS converted
          FROM eventsvc.waitlist_entries e
          JOIN eventsvc.capacity_holds h ON h.tenant_id = e.tenant_id AND h.id = e.hold_id
         WHERE e.tenant_id = w.tenant_id AND e.capacity_id = w.capacity_id AND e.state = 'OFFERED') p;
COMMENT ON VIEW api.waitlist_sections IS
    'The waitlist of each section for the promoter: entries waiting, seats wanted and gathered, offers out, offers made, conversions, lapsed offers, entries that left (GET /waitlist_sections?event_id=eq.<id>).';
COMMENT ON COLUMN api.waitlist_sections.waiting IS 'Entries waiting (those gathering seats included).';
COMMENT ON COLUMN api.waitlist_sections.seats_wanted IS 'Seats the waiting entries asked for.';
COMMENT ON COLUMN api.waitlist_sections.seats_gathered IS 'Of those, seats already set aside for them.';
COMMENT ON COLUMN api.waitlist_sections.offers_out IS 'Offers made and not yet confirmed, declined or expired.';
COMMENT ON COLUMN api.waitlist_sections.offers_made IS 'Offers made so far.';
COMMENT ON COLUMN api.waitlist_sections.conversions IS 'Offers confirmed (seats sold through the waitlist).';
COMMENT ON COLUMN api.waitlist_sections.lapsed IS 'Offers that expired or were declined; their seats went to the next entry.';
COMMENT ON COLUMN api.waitlist_sections.left_queue IS 'Entries that left the waitlist before an offer.';

-- A buyer reads its own entries only, the promoter and the services every entry (part 43);
-- two branches switched once per query, as api.holds (part 44): a buyer's by its holder.
CREATE VIEW api.waitlist_entries WITH (security_invoker = true, security_barrier = true) AS
SELECT e.id, e.event_id, e.capacity_id, e.pricing_id, e.holder_id, e.quantity, e.position,
       CASE WHEN e.state = 'OFFERED' AND e.hold_state::text IN ('CONFIRMED', 'REFUNDED') THEN 'CONVERTED'
            WHEN e.state = 'OFFERED' AND e.hold_state::text <> 'ACTIVE' THEN 'LAPSED'
            ELSE e.state::text END AS state,
       e.gathered, e.hold_id, e.joined_at, e.offered_at, e.offer_expires_at, e.ended_at
  -- (each branch joins its own hold: a join above both would be planned for the larger)
  FROM (SELECT b.*, h.state AS hold_state FROM eventsvc.waitlist_entries b
          LEFT JOIN eventsvc.capacity_holds h ON h.tenant_id = b.tenant_id AND h.id = b.hold_id
         WHERE b.holder_id = (SELECT eventsvc.current_actor()) AND NOT (SELECT eventsvc.reads_every_holder())
        UNION ALL
        SELECT a.*, h.state FROM eventsvc.waitlist_entries a
          LEFT JOIN eventsvc.capacity_holds h ON h.tenant_id = a.tenant_id AND h.id = a.hold_id
         WHERE (SELECT eventsvc.reads_every_holder())) e;
COMMENT ON VIEW api.waitlist_entries IS 'The tenant''s waitlist entries, live and ended (GET /waitlist_entries?capacity_id=eq.<id>&state=eq.WAITING&order=position); a buyer sees its own entries only.';
COMMENT ON COLUMN api.waitlist_entries.position IS 'Order of joining within the section (gaps where entries left).';
COMMENT ON COLUMN api.waitlist_entries.state IS 'WAITING, OFFERED, CONVERTED (bought), LAPSED (offer expired or declined), LEFT or CLOSED (event cancelled).';
COMMENT ON COLUMN api.waitlist_entries.gathered IS 'Seats set aside for the entry so far (in hold_id).';
COMMENT ON COLUMN api.waitlist_entries.hold_id IS 'The hold that gathers, then offers, the entry''s seats.';
COMMENT ON COLUMN api.waitlist_entries.joined_at IS 'When the entry joined.';
COMMENT ON COLUMN api.waitlist_entries.offered_at IS 'When the offer was made.';
COMMENT ON COLUMN api.waitlist_entries.offer_expires_at IS 'When the offer lapses unless confirmed.';
COMMENT ON COLUMN api.waitlist_entries.ended_at IS 'When the entry ended (bought, lapsed, left or closed).';

REVOKE ALL ON FUNCTION api.join_waitlist(uuid, integer, uuid), api.leave_waitlist(uuid), api.waitlist_position(uuid)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.join_waitlist(uuid, integer, uuid), api.leave_waitlist(uuid), api.waitlist_position(uuid)
    TO eventsvc_user, eventsvc_service;
GRANT SELECT ON eventsvc.waitlist_entries, eventsvc.waitlist_sections, api.waitlist_sections, api.waitlist_entries
    TO eventsvc_user, eventsvc_service;
