/*
 * waitlist.c: a section's waitlist. Customers join for a number of seats
 * (one entry per customer and section); seats that come back to the section
 * (seat_return.c) are handed to the entry at the head of the queue in the
 * transaction that freed them, never through the open pool, so nobody can
 * buy them in between. The order is strict: the head entry gathers seats in
 * a hold of its own (phase WAITLIST, no expiry: EVS_NO_EXPIRY) until it has all it asked
 * for; then that hold is its offer (phase OFFERED) with the offer window and
 * a waitlist.offer message, and the next entry is the head. An offer confirmed
 * converts the entry; declined (released) or expired (the sweep), its seats
 * come back and go to the next entry. While anyone waits, seats found free in
 * the open pool are drawn into the queue too.
 *
 * Locks, in this order: the section's waitlist lock (an advisory lock:
 * exclusive for a join, shared for a return), then its waitlist_sections row
 * (FOR UPDATE: one hand-out at a time), then entries and holds. A return
 * takes the shared lock after its hold rows changed; the only holds a
 * hand-out changes are gathering holds, which only leave_waitlist ends (a
 * release of one is refused), and leave takes the waitlist lock first.
 * docs/holds.md "Waitlist".
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"

#define EVS_LOCK_WAITLIST 0x455A	/* advisory lock class: a section's waitlist */
/*
 * A hold that gathers seats for an entry has no expiry of its own: the latest
 * timestamp that still subtracts from another (the sweep computes with
 * expiries; 'infinity' would not). It never enters a sweep's range.
 */
#define EVS_NO_EXPIRY "9999-12-31 23:59:59+00"

int			evs_offer_window_seconds = 1800;

/* Called from evs_capacity_init. */
void
evs_waitlist_init(void)
{
	DefineCustomIntVariable("eventsvc.offer_window_seconds",
							"How long a waitlist offer lasts before it passes to the next entry (a tenant may set its own).",
							NULL, &evs_offer_window_seconds, 1800, 1, 604800,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

/* The section's waitlist lock: exclusive for a join, shared for a return or a leave (until commit). */
void
evs_waitlist_lock(const EvsSeatKey *key, bool exclusive)
{
	LOCKTAG		tag;

	evs_uuid_locktag(&tag, key->section, EVS_LOCK_WAITLIST);
	(void) LockAcquire(&tag, exclusive ? ExclusiveLock : ShareLock, false, false);
}

/* Runs one statement of this file (kept plans, by address of the SQL text) and checks its result. */
static void
run(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect)
{
	int			rc;

	if (*plan == NULL)
		*plan = evs_spi_prepare_kept(sql, nargs, types);
	rc = SPI_execute_plan(*plan, values, nulls, false, 0);
	if (rc != expect)
		elog(ERROR, "waitlist statement failed (%s): %s", SPI_result_code_string(rc), sql);
}

/* A hold write of this file: through the hold store's gate (the DML guard lets it pass). */
static void
run_hold(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect)
{
	int			rc;

	if (*plan == NULL)
		*plan = evs_spi_prepare_kept(sql, nargs, types);
	rc = evs_hold_write(*plan, values, nulls, 0);
	if (rc != expect)
		elog(ERROR, "waitlist hold statement failed (%s): %s", SPI_result_code_string(rc), sql);
}

static Datum
col(int n, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, n, isnull);
}

/* The section's waitlist row, locked, and its event's status; false when it has none. */
static bool
section_row_locked(const EvsSeatKey *key, Datum *event_id, int32 *waiting, char **event_status)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	run(&plan, "SELECT w.event_id, w.waiting, e.status::text, e.deleted_at IS NOT NULL"
		" FROM eventsvc.waitlist_sections w JOIN eventsvc.events e ON e.tenant_id = w.tenant_id AND e.id = w.event_id"
		" WHERE w.tenant_id = $1 AND w.capacity_id = $2 FOR UPDATE OF w",
		2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {key->tenant, key->section}, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;
	*event_id = datumCopy(evs_get_notnull(0, 1, "the waitlist's event"), false, UUID_LEN);
	*waiting = DatumGetInt32(col(2, &isnull));
	*event_status = DatumGetBool(col(4, &isnull)) ? "DELETED"
		: evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, "the event's status");
	return true;
}

/* Adds to the promoter's figures of the section (waitlist_sections). */
void
evs_waitlist_count(const EvsSeatKey *key, int32 waiting, int64 wanted, int64 gathered, int32 offers_out, int64 offers_made,
			int64 conversions, int64 lapsed, int64 left)
{
	static SPIPlanPtr plan = NULL;

	run(&plan, "UPDATE eventsvc.waitlist_sections SET waiting = waiting + $3, seats_wanted = seats_wanted + $4,"
		" seats_gathered = seats_gathered + $5, offers_out = offers_out + $6, offers_made = offers_made + $7,"
		" conversions = conversions + $8, lapsed = lapsed + $9, left_queue = left_queue + $10, updated_at = now()"
		" WHERE tenant_id = $1 AND capacity_id = $2",
		10, (Oid[]) {UUIDOID, UUIDOID, INT4OID, INT8OID, INT8OID, INT4OID, INT8OID, INT8OID, INT8OID, INT8OID},
		(Datum[]) {key->tenant, key->section, Int32GetDatum(waiting), Int64GetDatum(wanted), Int64GetDatum(gathered),
			Int32GetDatum(offers_out), Int64GetDatum(offers_made), Int64GetDatum(conversions), Int64GetDatum(lapsed),
		Int64GetDatum(left)}, NULL, SPI_OK_UPDATE);
}

/*
 * Offers that ended without this file hearing of it (the sweep expired
 * them): their entries lapse (or convert, when the hold was sold).
 */
static void
reconcile(const EvsSeatKey *key)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	run(&plan, "WITH ended AS (UPDATE eventsvc.waitlist_entries e"
		"   SET state = CASE WHEN h.state IN ('CONFIRMED', 'REFUNDED') THEN 'CONVERTED' ELSE 'LAPSED' END"
		"         ::eventsvc.waitlist_state, ended_at = eventsvc.now()"
		"  FROM eventsvc.capacity_holds h"
		"  WHERE e.tenant_id = $1 AND e.capacity_id = $2 AND e.state = 'OFFERED'"
		"    AND h.tenant_id = e.tenant_id AND h.id = e.hold_id AND h.state <> 'ACTIVE' RETURNING e.state)"
		" SELECT count(*) FILTER (WHERE state = 'CONVERTED'), count(*) FILTER (WHERE state = 'LAPSED') FROM ended",
		2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {key->tenant, key->section}, NULL, SPI_OK_SELECT);
	{
		int64		converted = DatumGetInt64(col(1, &isnull));
		int64		lapsed = DatumGetInt64(col(2, &isnull));

		if (converted + lapsed > 0)
			evs_waitlist_count(key, 0, 0, 0, (int32) -(converted + lapsed), 0, converted, lapsed, 0);
	}
}

/* The event is cancelled (or deleted): every live entry of the section is closed. */
static void
close_waitlist(const EvsSeatKey *key)
{
	static SPIPlanPtr plan = NULL;

	run(&plan, "WITH c AS (UPDATE eventsvc.waitlist_entries SET state = 'CLOSED', ended_at = eventsvc.now()"
		"  WHERE tenant_id = $1 AND capacity_id = $2 AND state IN ('WAITING', 'OFFERED') RETURNING 1)"
		" UPDATE eventsvc.waitlist_sections SET waiting = 0, seats_wanted = 0, seats_gathered = 0, offers_out = 0,"
		"  updated_at = now() WHERE tenant_id = $1 AND capacity_id = $2",
		2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {key->tenant, key->section}, NULL, SPI_OK_UPDATE);
}

/* The head entry's hold is complete: it becomes the offer, with its window, price and message. */
static void
make_offer(const EvsSeatKey *key, Datum event_id, Datum entry_id, Datum hold_id, const char *holder, int32 quantity,
		   bool has_pricing, Datum pricing_id)
{
	static SPIPlanPtr hold_plan = NULL;
	static SPIPlanPtr entry_plan = NULL;
	TimestampTz now = evs_now();
	int			window = evs_hold_setting(key->tenant, EVS_SETTING_OFFER_WINDOW);
	TimestampTz expires = now + (TimestampTz) window * USECS_PER_SEC;
	EvsPricing	p;
	EvsPriceLine line;
	bool		priced = has_pricing && evs_pricing_load(key->tenant, pricing_id, now, &p);
	Datum		locked = (Datum) 0;
	JsonbParseState *st = NULL;
	EvsHold		h;

	if (priced)
	{
		evs_price_line(&p.price, quantity, &line);
		locked = evs_price_line_jsonb(&p.price, &line);
	}
	run_hold(&hold_plan, "UPDATE eventsvc.capacity_holds SET phase = 'OFFERED', expires_at = $3, unit_price = $4,"
			 " locked_price = $5, state_changed_at = $6 WHERE tenant_id = $1 AND id = $2 AND state = 'ACTIVE'",
			 6, (Oid[]) {UUIDOID, UUIDOID, TIMESTAMPTZOID, INT8OID, JSONBOID, TIMESTAMPTZOID},
			 (Datum[]) {key->tenant, hold_id, TimestampTzGetDatum(expires), Int64GetDatum(priced ? p.price.unit_price : 0),
			 locked, TimestampTzGetDatum(now)}, priced ? NULL : "   nn ", SPI_OK_UPDATE);
	evs_sweep_note_expiry(expires);
	run(&entry_plan, "UPDATE eventsvc.waitlist_entries SET state = 'OFFERED', offered_at = $3, offer_expires_at = $4"
		" WHERE tenant_id = $1 AND id = $2",
		4, (Oid[]) {UUIDOID, UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID},
		(Datum[]) {key->tenant, entry_id, TimestampTzGetDatum(now), TimestampTzGetDatum(expires)}, NULL, SPI_OK_UPDATE);
	evs_waitlist_count(key, -1, -quantity, -quantity, 1, 1, 0, 0, 0);

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "entry_id", entry_id);
	evs_jsonb_push_uuid(&st, "hold_id", hold_id);
	evs_jsonb_push_uuid(&st, "event_id", event_id);
	evs_jsonb_push_uuid(&st, "capacity_id", key->section);
	evs_jsonb_push_text(&st, "holder_id", holder);
	evs_jsonb_push_int(&st, "quantity", quantity);
	evs_jsonb_push_time(&st, "expires_at", expires);
	evs_jsonb_push_int(&st, "window_seconds", window);
	evs_jsonb_push_jsonb(&st, "price", priced ? DatumGetJsonbP(locked) : NULL);
	(void) evs_outbox_emit_key(key->tenant, event_id, EVS_RK_WAITLIST_OFFER, evs_jsonb_end(&st));
	if (evs_hold_lock(key->tenant, hold_id, &h))
		evs_hold_audit(&h, "waitlist_offered", quantity, priced ? line.total : -1, NULL);
}

/* The hold's audit trail: `give` seats set aside for the entry (so far `gathered` of `quantity`). */
static void
audit_gathered(const EvsSeatKey *key, Datum hold_id, Datum entry_id, int32 give, int32 gathered, int32 quantity)
{
	EvsHold		h;
	JsonbParseState *st = NULL;

	if (!evs_hold_lock(key->tenant, hold_id, &h))
		return;
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "entry_id", entry_id);
	evs_jsonb_push_int(&st, "gathered", gathered);
	evs_jsonb_push_int(&st, "wanted", quantity);
	evs_hold_audit(&h, "waitlist_gathered", give, -1, evs_jsonb_end(&st));
}

/*
 * Hands `seats` to the queue in order: the head entry gathers them in its
 * hold until it has all it asked for, then gets its offer; the next entry is
 * the head. Returns the seats no entry waits for. The section row is locked.
 */
static int64
hand_out(const EvsSeatKey *key, Datum event_id, int64 seats)
{
	static SPIPlanPtr head_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr grow_plan = NULL;
	static SPIPlanPtr entry_plan = NULL;

	while (seats > 0)
	{
		bool		isnull;
		Datum		entry_id,
					hold_id,
					pricing_id;
		bool		has_hold,
					has_pricing;
		char	   *holder;
		char	   *currency;
		int32		quantity,
					gathered,
					give;
		EvsCounterChange change = {0};

		CHECK_FOR_INTERRUPTS();
		run(&head_plan, "SELECT e.id, e.holder_id, e.quantity, e.gathered, e.hold_id, e.pricing_id, p.currency::text"
			" FROM eventsvc.waitlist_entries e LEFT JOIN eventsvc.event_pricing p"
			"   ON p.tenant_id = e.tenant_id AND p.id = e.pricing_id"
			" WHERE e.tenant_id = $1 AND e.capacity_id = $2 AND e.state = 'WAITING'"
			" ORDER BY e.position LIMIT 1 FOR UPDATE OF e",
			2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {key->tenant, key->section}, NULL, SPI_OK_SELECT);
		if (SPI_processed == 0)
			break;
		entry_id = datumCopy(evs_get_notnull(0, 1, "the entry's id"), false, UUID_LEN);
		holder = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, "the entry's holder");
		quantity = DatumGetInt32(col(3, &isnull));
		gathered = DatumGetInt32(col(4, &isnull));
		hold_id = col(5, &isnull);
		has_hold = !isnull;
		hold_id = has_hold ? datumCopy(hold_id, false, UUID_LEN) : (Datum) 0;
		pricing_id = col(6, &isnull);
		has_pricing = !isnull;
		pricing_id = has_pricing ? datumCopy(pricing_id, false, UUID_LEN) : (Datum) 0;
		currency = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7);
		give = (int32) Min((int64) (quantity - gathered), seats);

		if (!has_hold)
		{
			/* the entry's first seats: a hold in its name that waits for the rest */
			hold_id = evs_new_uuid();
			run_hold(&insert_plan,
					 "INSERT INTO eventsvc.capacity_holds (tenant_id, id, event_id, capacity_id, pricing_id, holder_id,"
					 " quantity, currency, expires_at, phase, waitlist_entry_id, state_changed_at)"
					 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bpchar, '" EVS_NO_EXPIRY "', 'WAITLIST', $9, eventsvc.now())",
					 9, (Oid[]) {UUIDOID, UUIDOID, UUIDOID, UUIDOID, UUIDOID, TEXTOID, INT4OID, TEXTOID, UUIDOID},
					 (Datum[]) {key->tenant, hold_id, event_id, key->section, pricing_id, CStringGetTextDatum(holder),
						 Int32GetDatum(give), currency ? CStringGetTextDatum(currency) : (Datum) 0, entry_id},
					 (char[]) {' ', ' ', ' ', ' ', has_pricing ? ' ' : 'n', ' ', ' ', currency ? ' ' : 'n', ' '},
					 SPI_OK_INSERT);
			change.holds = 1;
			change.customers = evs_customer_new(key->tenant, event_id, holder) ? 1 : 0;
		}
		else
			run_hold(&grow_plan, "UPDATE eventsvc.capacity_holds SET quantity = quantity + $3"
					 " WHERE tenant_id = $1 AND id = $2 AND state = 'ACTIVE'",
					 3, (Oid[]) {UUIDOID, UUIDOID, INT4OID}, (Datum[]) {key->tenant, hold_id, Int32GetDatum(give)},
					 NULL, SPI_OK_UPDATE);
		change.held = give;
		evs_counters_add(key->tenant, key->section, currency ? currency : "", &change);
		run(&entry_plan, "UPDATE eventsvc.waitlist_entries SET gathered = gathered + $3, hold_id = $4"
			" WHERE tenant_id = $1 AND id = $2",
			4, (Oid[]) {UUIDOID, UUIDOID, INT4OID, UUIDOID},
			(Datum[]) {key->tenant, entry_id, Int32GetDatum(give), hold_id}, NULL, SPI_OK_UPDATE);
		evs_waitlist_count(key, 0, 0, give, 0, 0, 0, 0, 0);
		audit_gathered(key, hold_id, entry_id, give, gathered + give, quantity);
		seats -= give;
		if (gathered + give == quantity)
			make_offer(key, event_id, entry_id, hold_id, holder, quantity, has_pricing, pricing_id);
	}
	return seats;
}

/* Seats the waiting entries still lack. */
static int64
still_wanted(const EvsSeatKey *key)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	run(&plan, "SELECT seats_wanted - seats_gathered FROM eventsvc.waitlist_sections WHERE tenant_id = $1 AND capacity_id = $2",
		2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {key->tenant, key->section}, NULL, SPI_OK_SELECT);
	return SPI_processed == 1 ? DatumGetInt64(col(1, &isnull)) : 0;
}

/*
 * While entries wait, seats free in the open pool (there before the first
 * entry joined, or back from a reservation that rolled back) go to the queue.
 */
void
evs_waitlist_drain(const EvsSeatKey *key, Datum event_id)
{
	int64		wanted = still_wanted(key);
	int64		taken;

	if (wanted <= 0)
		return;
	evs_section_take_up_to(key->tenant, key->section, wanted, &taken);
	if (taken > 0)
		(void) hand_out(key, event_id, taken);
}

/*
 * The expiry sweep's share (hold_sweep.c): a section whose waiting entries
 * still lack seats while its open pool has some (a reservation that rolled
 * back gave them back after the entries joined, or no return has come since)
 * draws them into its queue, at most `limit` sections a run. Only sections
 * with free seats are locked, and none is waited for: a section a join, a
 * leave or a hand-out is working on right now is skipped (each of those draws
 * the free seats itself; the next sweep looks again). Returns the seats
 * handed out. SPI connected, as the owner (across tenants).
 */
int64
evs_waitlist_sweep_draw(int limit)
{
	static SPIPlanPtr short_plan = NULL;
	static SPIPlanPtr row_plan = NULL;
	SPITupleTable *found;
	uint64		n;
	int64		drawn = 0;
	bool		isnull;

	if (!evs_holds_schema_ready())
		return 0;
	run(&short_plan, "SELECT tenant_id, capacity_id FROM eventsvc.waitlist_sections"
		" WHERE seats_wanted > seats_gathered ORDER BY tenant_id, capacity_id LIMIT $1",
		1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(limit)}, NULL, SPI_OK_SELECT);
	n = SPI_processed;
	found = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
	{
		EvsSeatKey	key;
		LOCKTAG		tag;
		Datum		event_id;
		int64		wanted,
					taken;

		CHECK_FOR_INTERRUPTS();
		key.tenant = datumCopy(evs_getbinval_notnull(found->vals[i], found->tupdesc, 1, "the waitlist's tenant"), false, UUID_LEN);
		key.section = datumCopy(evs_getbinval_notnull(found->vals[i], found->tupdesc, 2, "the waitlist's section"), false, UUID_LEN);
		/* the common case, nothing free: no lock at all */
		if (evs_section_free(key.tenant, key.section) <= 0)
			continue;
		evs_uuid_locktag(&tag, key.section, EVS_LOCK_WAITLIST);
		if (LockAcquire(&tag, ShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
			continue;			/* a join is drawing them */
		run(&row_plan, "SELECT w.event_id, w.seats_wanted - w.seats_gathered FROM eventsvc.waitlist_sections w"
			" JOIN eventsvc.events e ON e.tenant_id = w.tenant_id AND e.id = w.event_id"
			" WHERE w.tenant_id = $1 AND w.capacity_id = $2 AND w.waiting > 0"
			"   AND e.status <> 'CANCELLED' AND e.deleted_at IS NULL FOR UPDATE OF w SKIP LOCKED",
			2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {key.tenant, key.section}, NULL, SPI_OK_SELECT);
		if (SPI_processed == 0)
			continue;			/* a hand-out is under way (it draws them), or the event ended */
		event_id = datumCopy(evs_get_notnull(0, 1, "the waitlist's event"), false, UUID_LEN);
		wanted = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		reconcile(&key);
		if (wanted <= 0)
			continue;
		evs_section_take_up_to(key.tenant, key.section, wanted, &taken);
		/* under the section row's lock: the entries take all of them, as in evs_waitlist_drain */
		if (taken > 0)
			drawn += taken - hand_out(&key, event_id, taken);
	}
	return drawn;
}

/*
 * The return path's first step (seat_return.c): `seats` came back to the
 * section in this transaction; the section's waitlist takes what its entries
 * wait for. Returns the seats left for the open pool. SPI connected.
 */
int64
evs_waitlist_take_seats(const EvsSeatKey *key, int64 seats)
{
	Datum		event_id;
	int32		waiting;
	char	   *status;
	int64		left;

	if (!evs_holds_schema_ready())
		return seats;
	evs_waitlist_lock(key, false);
	if (!section_row_locked(key, &event_id, &waiting, &status))
		return seats;
	reconcile(key);
	if (strcmp(status, "CANCELLED") == 0 || strcmp(status, "DELETED") == 0)
	{
		close_waitlist(key);
		return seats;
	}
	if (waiting == 0)
		return seats;
	left = hand_out(key, event_id, seats);
	if (left == 0)
		evs_waitlist_drain(key, event_id);
	return left;
}

/*
 * Ends a waitlist hold (gathering or offered) that its entry gives up: the
 * hold is released with the reason, and its seats come back (to the next
 * entry first). SPI connected, the waitlist lock and section row held.
 */
void
evs_waitlist_release_hold(Datum tenant, Datum hold_id, const char *reason)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;
	EvsSeatKey	key;
	int32		quantity;
	char	   *currency;
	EvsCounterChange change = {0};

	run_hold(&plan, "UPDATE eventsvc.capacity_holds SET state = 'RELEASED', released_at = eventsvc.now(),"
			 " state_reason = $3 WHERE tenant_id = $1 AND id = $2 AND state = 'ACTIVE'"
			 " RETURNING capacity_id, quantity, coalesce(currency, '')",
			 3, (Oid[]) {UUIDOID, UUIDOID, TEXTOID}, (Datum[]) {tenant, hold_id, CStringGetTextDatum(reason)}, NULL,
			 SPI_OK_UPDATE_RETURNING);
	if (SPI_processed == 0)
		return;					/* it ended meanwhile (confirmed or expired): nothing to give back */
	key.tenant = tenant;
	key.section = datumCopy(evs_get_notnull(0, 1, "the hold's section"), false, UUID_LEN);
	quantity = DatumGetInt32(col(2, &isnull));
	currency = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, "the hold's currency");
	change.held = -quantity;
	change.released = 1;
	evs_counters_add(tenant, key.section, currency, &change);
	(void) evs_seats_returned(&key, quantity, 0);
}

/*
 * Every waitlist entry of an event (its cancellation), or with `date` of the
 * date sections of one date of a series, ends CLOSED. SPI connected.
 */
void
evs_waitlist_close(Datum tenant, Datum scope_id, bool date)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};

#define CLOSE_WAITLISTS(scope) \
	"WITH c AS (UPDATE eventsvc.waitlist_entries SET state = 'CLOSED', ended_at = eventsvc.now()" \
	"  WHERE tenant_id = $1 AND " scope " AND state IN ('WAITING', 'OFFERED') RETURNING 1)" \
	" UPDATE eventsvc.waitlist_sections SET waiting = 0, seats_wanted = 0, seats_gathered = 0, offers_out = 0," \
	"  updated_at = now() WHERE tenant_id = $1 AND " scope
	if (!evs_holds_schema_ready())
		return;
	run(&plans[date],
		date ? CLOSE_WAITLISTS("capacity_id IN (SELECT s.id FROM eventsvc.event_capacity s"
							   " WHERE s.tenant_id = $1 AND s.occurrence_id = $2)")
		: CLOSE_WAITLISTS("event_id = $2"),
		2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {tenant, scope_id}, NULL, SPI_OK_UPDATE);
}

/*
 * Before a late payment takes the seats of a lapsed offer again (payment.c):
 * the section's waitlist lock and row, in the order every hand-out takes
 * them (before any seat lock), for evs_waitlist_offer_revived. SPI connected.
 */
void
evs_waitlist_section_lock(Datum tenant, Datum section)
{
	EvsSeatKey	key = {.tenant = tenant, .section = section};
	Datum		event_id;
	int32		waiting;
	char	   *status;

	if (!evs_holds_schema_ready())
		return;
	evs_waitlist_lock(&key, false);
	(void) section_row_locked(&key, &event_id, &waiting, &status);
}

/*
 * A waitlist offer that had lapsed (expired or declined) was sold after all:
 * a late payment revived it (payment.c, after evs_waitlist_section_lock). Its
 * entry is converted, and the promoter's figures move it from lapsed to
 * conversions. SPI connected.
 */
void
evs_waitlist_offer_revived(Datum tenant, Datum section, Datum entry_id)
{
	static SPIPlanPtr plan = NULL;
	EvsSeatKey	key = {.tenant = tenant, .section = section};

	if (!evs_holds_schema_ready())
		return;
	run(&plan, "UPDATE eventsvc.waitlist_entries SET state = 'CONVERTED', ended_at = eventsvc.now()"
		" WHERE tenant_id = $1 AND id = $2 AND state = 'LAPSED'",
		2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {tenant, entry_id}, NULL, SPI_OK_UPDATE);
	if (SPI_processed == 1)
		evs_waitlist_count(&key, 0, 0, 0, 0, 0, 1, -1, 0);
}
