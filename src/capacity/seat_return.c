/*
 * seat_return.c: the one path by which seats come back to a section: a
 * release, the expiry sweep (an offer that was not taken included), overdue
 * holds reclaimed by a request, a refund, an event's cancellation. The hold
 * rows have already changed (their seats no longer count) when the caller
 * hands the seats here, in the same transaction:
 *
 *   1. the section's waitlist takes them first (waitlist.c): gathered for the
 *      entry at its head, or offered; they never pass through the open pool,
 *      so nobody else can buy them in between;
 *   2. the rest go to the open pool: the section's shared counter at commit
 *      (a section without one counts its rows);
 *   3. a SOLD_OUT event that gets seats back in its open pool is ON_SALE again,
 *      exactly once under races: see back_on_sale.
 *
 * A section is named by EvsSeatKey (tenant, section): a per-date dimension of
 * a later version adds its occurrence to the key, and every path that returns
 * seats passes it through unchanged. docs/holds.md "Seats that come back".
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"

/*
 * The advisory lock of class `lock_class` (pg_locks objsubid) on one event or
 * section: its key is a 64-bit hash of the whole id, so two ids that share
 * their first bytes (as imported or hand-made ids often do) never share a lock
 * and one section's or event's work never waits for another's.
 */
void
evs_uuid_locktag(LOCKTAG *tag, Datum id, uint16 lock_class)
{
	uint64		h = hash_bytes_extended((const unsigned char *) DatumGetUUIDP(id)->data, UUID_LEN, 0);

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) h, (uint32) (h >> 32), lock_class);
}

/*
 * The event's sell-out decision against returns (class EVS_LOCK_SELLOUT):
 * evs_event_soldout_check takes it exclusively before it reads the counters
 * and keeps it until it commits; a return takes it shared after its seats are
 * recorded for the counter.
 */
void
evs_sellout_lock(Datum event_id, bool exclusive)
{
	LOCKTAG		tag;

	evs_uuid_locktag(&tag, event_id, EVS_LOCK_SELLOUT);
	(void) LockAcquire(&tag, exclusive ? ExclusiveLock : ShareLock, false, false);
}

/*
 * Seats came back to the open pool of an event that may be SOLD_OUT: it is
 * ON_SALE again, with one event.updated message. Exactly once: the sell-out
 * decision and this check exclude each other (evs_sellout_lock), and the
 * UPDATE re-reads the status under the event row's lock, so of two returns
 * racing, one changes the status and the other finds it ON_SALE. If the
 * decision is being made right now, this waits for it: either it saw these
 * seats in flight and did not sell out, or it did and committed, and this
 * turns it back. SPI connected.
 */
static void
back_on_sale(Datum tenant, Datum event_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[3] = {tenant, event_id, CStringGetTextDatum(evs_current_actor())};
	int			rc;

	evs_sellout_lock(event_id, false);
	if (plan == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, TEXTOID};

		plan = evs_spi_prepare_kept("UPDATE eventsvc.events SET status = 'ON_SALE', updated_by = $3,"
									" updated_at = eventsvc.now() WHERE tenant_id = $1 AND id = $2 AND status = 'SOLD_OUT'",
									3, t);
	}
	/* latest snapshot: a sell-out committed while this waited for the lock counts */
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, false, true, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "back-on-sale update failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		JsonbParseState *st = NULL;

		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_uuid(&st, "event_id", event_id);
		evs_jsonb_push_text(&st, "status", "ON_SALE");
		evs_jsonb_push_text(&st, "previous_status", "SOLD_OUT");
		evs_jsonb_begin_array(&st, "changed_fields");
		evs_jsonb_push_text(&st, NULL, "status");
		(void) evs_jsonb_end(&st);
		evs_jsonb_begin_object(&st, "previous");
		evs_jsonb_push_text(&st, "status", "SOLD_OUT");
		(void) evs_jsonb_end(&st);
		evs_jsonb_push_text(&st, "reason", "seats came back");
		(void) evs_outbox_emit_key(tenant, event_id, EVS_RK_EVENT_UPDATED, evs_jsonb_end(&st));
	}
}

/*
 * The event of a section and, for a date section, its date (*has_date), or
 * false when the section is gone. SPI connected.
 */
static bool
section_event(const EvsSeatKey *key, Datum *event_id, Datum *occurrence_id, bool *has_date)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[2] = {key->tenant, key->section};
	bool		isnull;
	int			rc;

	if (plan == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept(EVS_SERIES_SQL(
			"SELECT event_id, occurrence_id FROM eventsvc.event_capacity WHERE tenant_id = $1 AND id = $2",
			"SELECT event_id, NULL::uuid FROM eventsvc.event_capacity WHERE tenant_id = $1 AND id = $2"), 2, t);
	}
	rc = SPI_execute_plan(plan, v, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "section lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	*event_id = datumCopy(evs_get_notnull(0, 1, "the section's event"), false, UUID_LEN);
	*occurrence_id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	*has_date = !isnull;
	if (*has_date)
		*occurrence_id = datumCopy(*occurrence_id, false, UUID_LEN);
	return true;
}

/*
 * Seats came back to a date of a series that may be SOLD_OUT: it is ON_SALE
 * again, with one event.occurrence.updated message; exactly once, as for an
 * event (back_on_sale above), under the date's own sell-out lock. SPI connected.
 */
static void
date_back_on_sale(Datum tenant, Datum event_id, Datum occurrence_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[2] = {tenant, occurrence_id};
	int			rc;

	evs_sellout_lock(occurrence_id, false);
	if (plan == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept("UPDATE eventsvc.event_occurrences SET status = 'ON_SALE', updated_at = eventsvc.now()"
									" WHERE tenant_id = $1 AND id = $2 AND status = 'SOLD_OUT'"
									" RETURNING schedule_id, starts_at, ends_at, status", 2, t);
	}
	/* latest snapshot: a sell-out committed while this waited for the lock counts */
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, false, true, 0);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "back-on-sale update failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
		evs_date_status_message(tenant, event_id, occurrence_id, EVS_RK_OCCURRENCE_UPDATED, "back_on_sale",
								"SOLD_OUT", "seats came back");
}

/*
 * `seats` seats of the section came back in this transaction (the rows that
 * held them have changed). They go to the section's waitlist first, the rest
 * to the open pool; an event that was SOLD_OUT is ON_SALE again when its open
 * pool gets seats. Returns the seats that went to the open pool (for a caller
 * that takes some of them itself, as a reservation reclaiming overdue holds
 * does: `keep` of them stay with the caller and are not given to the counter).
 * The caller has obtained the section's counter before changing any row.
 * SPI connected.
 */
int64
evs_seats_returned(const EvsSeatKey *key, int64 seats, int64 keep)
{
	Datum		event_id;
	Datum		occurrence_id;
	bool		has_date;
	int64		open;

	if (seats <= 0)
		return 0;
	/*
	 * A connection of its own: the rows its statements read are freed when
	 * it ends, not when the caller's does (a sweep returns the seats of a
	 * thousand sections in one call, and kept them all until its end).
	 */
	evs_spi_connect();
	open = evs_waitlist_take_seats(key, seats);
	if (open > 0 && open - Min(keep, open) > 0)
		evs_seats_give_end(key->tenant, key->section, open - Min(keep, open));
	if (open > 0 && evs_holds_schema_ready() && open > Min(keep, open) &&
		section_event(key, &event_id, &occurrence_id, &has_date))
	{
		if (has_date)
			date_back_on_sale(key->tenant, event_id, occurrence_id);
		back_on_sale(key->tenant, event_id);
	}
	SPI_finish();
	return Max(open, 0);
}
