/*
 * reserve.c: api.reserve_capacity, the hold path. A hold is one row
 * (quantity, expiry, holder, locked price); seats are counted by the escrow
 * counters of escrow.c, or, for a section without one, under the section's
 * row lock. The reservation reads top to bottom in reserve_capacity(): checks,
 * per-holder limit, seats, price, row. Sections are checked in sections.c,
 * outbox thresholds live in thresholds.c, bulk release in hold_sweep.c, the
 * row itself in hold_store.c; confirm, release and extend in hold_change.c.
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"
PG_FUNCTION_INFO_V1(evs_sql_reserve_capacity);

#define HOLDER_ID_MAX	200		/* characters of a holder id */

static int	evs_hold_default_seconds = 600;
int			evs_hold_max_seconds = 1800;

/* Called from evs_capacity_init: the settings of a hold's life. */
void
evs_reserve_init(void)
{
	DefineCustomIntVariable("eventsvc.hold_default_seconds",
							"Lifetime of a hold when the request names none.",
							NULL, &evs_hold_default_seconds, 600, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.hold_max_seconds",
							"Longest lifetime of a hold, extensions included, counted from its creation.",
							NULL, &evs_hold_max_seconds, 1800, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

/* ---- the hold path ---- */

typedef struct Section
{
	Datum		event_id;
	int32		total;
	int32		min_purchase;
	int32		max_purchase;	/* 0: none */
	bool		active;
	char	   *event_status;
	bool		event_live;		/* not soft-deleted */
	bool		has_starts_at;
	TimestampTz starts_at;		/* sales stop when the event starts */
	bool		has_window_start;	/* the event's sales window for holds without a tier */
	TimestampTz window_start;
	bool		has_window_end;
	TimestampTz window_end;
	char	   *date_status;	/* a date section: its date's status; NULL otherwise */
	bool		per_date;		/* a template of a recurring schedule: sold per date */
	bool		has_template;	/* a date section: the section it was copied from, and its date */
	Datum		template_id;
	Datum		occurrence_id;	/* 0 when not a date section */
} Section;

/* The column of section_load's row where the tier's columns begin. */
#define SECTION_PRICING_COLUMN 15

/*
 * The section, its event's status and start (a date section's: its date's, its
 * status and id; section_read.c), the event's sales window for the section (for
 * holds without a tier: from the first opening to the last closing of the active
 * tiers that sell it; open when none does) and, when `pricing_id` is given, the
 * tier (columns 15..40; *priced says whether it exists) in one statement: the hold
 * path runs this on every reservation. The row is read with a fresh snapshot (the
 * latest committed state, whatever the isolation level) and the backend keeps a
 * copy until the reference generation moves (refcache.c): a change to any column
 * read here raises it (the triggers of 42_reference_rows.sql list the columns of
 * events and event_capacity: keep them in step).
 */
static void
section_load(Datum tenant, Datum section_id, Datum pricing_id, bool with_pricing, TimestampTz at,
			 Section *s, EvsPricing *p, bool *priced)
{
	static SPIPlanPtr plain_plan = NULL;
	static SPIPlanPtr priced_plan = NULL;	/* evs_pricing_prepare */
	SPIPlanPtr	plan;
	Datum		v[3] = {tenant, section_id, pricing_id};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	int			rc;
	EvsRefKey	key;
	uint64		generation;

	memset(&key, 0, sizeof(key));
	key.kind = with_pricing ? 2 : 1;
	memcpy(key.ids[0], DatumGetUUIDP(tenant)->data, UUID_LEN);
	memcpy(key.ids[1], DatumGetUUIDP(section_id)->data, UUID_LEN);
	if (with_pricing)
		memcpy(key.ids[2], DatumGetUUIDP(pricing_id)->data, UUID_LEN);
	generation = evs_refcache_generation();
	row = evs_refcache_lookup(&key, generation, &desc);
	if (row == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, UUIDOID};

		if (with_pricing)
			plan = evs_pricing_prepare(&priced_plan, priced_plan != NULL ? "" : psprintf("SELECT %s, ", evs_section_read_columns()),
									   priced_plan != NULL ? "" : psprintf("%s LEFT JOIN eventsvc.event_pricing p ON p.tenant_id = s.tenant_id AND p.id = $3"
												" LEFT JOIN eventsvc.currencies c ON c.code = p.currency"
												" WHERE s.tenant_id = $1 AND s.id = $2", evs_section_read_from()), 3, t);
		else
		{
			if (plain_plan == NULL)
				plain_plan = evs_spi_prepare_kept(psprintf("SELECT %s%s WHERE s.tenant_id = $1 AND s.id = $2",
														   evs_section_read_columns(), evs_section_read_from()), 2, t);
			plan = plain_plan;
		}
		rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "section lookup failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(EVS_ERR_NOT_FOUND),
					 errmsg("section %s not found", evs_uuid_text(section_id))));
		row = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		evs_refcache_store(&key, generation, row, desc);
	}
	s->event_id = datumCopy(evs_getbinval_notnull(row, desc, 1, "the section's event"), false, UUID_LEN);
	s->total = DatumGetInt32(SPI_getbinval(row, desc, 2, &isnull));
	s->min_purchase = DatumGetInt32(SPI_getbinval(row, desc, 3, &isnull));
	s->max_purchase = DatumGetInt32(SPI_getbinval(row, desc, 4, &isnull));
	if (isnull)
		s->max_purchase = 0;
	s->active = DatumGetBool(SPI_getbinval(row, desc, 5, &isnull));
	s->event_status = evs_getvalue_notnull(row, desc, 6, "the event's status");
	s->event_live = DatumGetBool(SPI_getbinval(row, desc, 7, &isnull));
	s->starts_at = DatumGetTimestampTz(SPI_getbinval(row, desc, 8, &isnull));
	s->has_starts_at = !isnull;
	s->window_start = DatumGetTimestampTz(SPI_getbinval(row, desc, 9, &isnull));
	s->has_window_start = !isnull;
	s->window_end = DatumGetTimestampTz(SPI_getbinval(row, desc, 10, &isnull));
	s->has_window_end = !isnull;
	(void) SPI_getbinval(row, desc, 11, &isnull);
	s->date_status = isnull ? NULL : SPI_getvalue(row, desc, 11);
	s->per_date = DatumGetBool(SPI_getbinval(row, desc, 12, &isnull));
	s->template_id = SPI_getbinval(row, desc, 13, &isnull);
	if ((s->has_template = !isnull))
		s->template_id = datumCopy(s->template_id, false, UUID_LEN);
	s->occurrence_id = s->has_template ? datumCopy(evs_getbinval_notnull(row, desc, 14, "the date section's date"), false, UUID_LEN) : (Datum) 0;
	*priced = false;
	if (with_pricing)
	{
		(void) SPI_getbinval(row, desc, SECTION_PRICING_COLUMN, &isnull);	/* the tier's id: NULL when there is no such tier */
		if (!isnull)
		{
			evs_pricing_from_row(row, desc, SECTION_PRICING_COLUMN, at, p);
			*priced = true;
		}
	}
}

/*
 * A closed sales window, with both of its ends. timestamptz_to_str() writes
 * into one static buffer: the first date is copied before the second is made.
 */
static void
window_closed(const char *what, bool has_start, TimestampTz start, bool has_end, TimestampTz end)
{
	char	   *from = has_start ? pstrdup(timestamptz_to_str(start)) : "the start";
	char	   *to = has_end ? pstrdup(timestamptz_to_str(end)) : "the event";

	ereport(ERROR,
			(errcode(EVS_ERR_CONFLICT),
			 errmsg("%s", what),
			 errdetail("Sales run from %s to %s.", from, to),
			 errhint("Seats can be held only while a tier that sells the section is on sale.")));
}

static void
sold_out(int32 quantity, int64 remaining)
{
	ereport(ERROR,
			(errcode(EVS_ERR_SOLD_OUT),
			 errmsg("not enough seats: %d requested, " INT64_FORMAT " remaining", quantity, remaining),
			 errdetail(remaining == 0 ? "The section is sold out." : "Ask for at most " INT64_FORMAT " seats.", remaining),
			 errhint("Held seats come back when their holds expire or are released.")));
}

/* The section's total, as committed now; PT404 when it is gone (deleted while this waited). */
static int64
section_total_latest(Datum tenant, Datum section_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[2] = {tenant, section_id};
	bool		isnull;
	int			rc;

	if (plan == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept("SELECT total_capacity::int8 FROM eventsvc.event_capacity"
									" WHERE tenant_id = $1 AND id = $2", 2, t);
	}
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "section lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("section %s not found", evs_uuid_text(section_id))));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Overdue holds of the section expired now, in this transaction, for a
 * request short of seats: their seats come back like any others (a waitlist
 * gets them first); the ones that reach the open pool stay with the caller,
 * which gives back what it does not use (evs_seats_give_end). Returns them.
 */
static int64
reclaim(Datum tenant, Datum section_id)
{
	EvsSeatKey	key = {.tenant = tenant, .section = section_id};

	evs_seats_give_begin(tenant, section_id);
	return evs_seats_returned(&key, evs_reclaim_expired(tenant, section_id), PG_INT64_MAX);
}

/*
 * The row-lock path, for a section without a valid shared counter: under the
 * section's seat lock (held until commit: reservations of this path take
 * turns), the seats free are the total less what its counter rows hold and
 * sell (latest snapshot, a few rows whatever the number of holds) less the
 * seats still in flight on its counter (taken by transactions that began
 * before the counter went stale). Overdue holds are reclaimed when short.
 * False when there are not enough (*remaining: how many there are).
 */
static bool
take_seats_locked(Datum tenant, Datum section_id, int32 quantity, int64 pending, int64 *remaining)
{
	int64		total = section_total_latest(tenant, section_id);

	*remaining = total - evs_section_held_latest(tenant, section_id) - pending;
	if (*remaining < quantity && reclaim(tenant, section_id) > 0)
		*remaining = total - evs_section_held_latest(tenant, section_id) - pending;	/* sees its own expiries */
	if (*remaining < quantity)
	{
		*remaining = *remaining < 0 ? 0 : *remaining;
		return false;
	}
	*remaining -= quantity;
	return true;
}

/*
 * The counter was short: overdue holds are reclaimed (reclaim); their seats
 * go first to this request, the rest back to the counter at commit. 1 when
 * taken, 0 when still short (the reclaimed holds stay expired if the caller
 * goes on: their seats are given back), -1 when the counter went stale
 * meanwhile (the row-lock path counts the rows).
 */
static int
take_short(EvsEscrowEntry *e, Datum tenant, Datum section_id, int32 quantity, int64 *remaining)
{
	int64		freed = reclaim(tenant, section_id);
	int64		use = Min(freed, quantity);
	int64		free;
	EvsTake		t = EVS_TAKE_OK;

	if (*remaining + freed >= quantity && quantity - use > 0)
		t = evs_escrow_take(e, tenant, section_id, quantity - use, remaining);	/* others may have taken them */
	if (*remaining + freed < quantity || t != EVS_TAKE_OK)
	{
		evs_seats_give_end(tenant, section_id, freed);
		*remaining += freed;
		return t == EVS_TAKE_NO_COUNTER ? -1 : 0;
	}
	evs_seats_give_end(tenant, section_id, freed - use);
	*remaining = (evs_escrow_free(e, &free) ? free : 0) + (freed - use);
	return 1;
}

/*
 * Takes `quantity` seats of the section for this transaction: from its shared
 * counter (a compare-and-swap, nobody waits), or on the row-lock path when the
 * section has no valid counter and none could be built within
 * eventsvc.escrow_build_wait_ms. The caller then writes the hold row that
 * holds them. False when there are not enough (*remaining: how many there
 * are); nothing is taken then.
 */
bool
evs_section_take(Datum tenant, Datum section_id, int32 quantity, int64 *remaining)
{
	EvsEscrowEntry e;
	bool		counter = evs_escrow_section(tenant, section_id, &e);

	for (int attempt = 0; attempt < 2; attempt++)
	{
		int64		pending;
		int64		free;

		if (counter)
		{
			EvsTake		t = evs_escrow_take(&e, tenant, section_id, quantity, remaining);

			if (t == EVS_TAKE_OK)
				return true;
			if (t == EVS_TAKE_SHORT)
			{
				int			r = take_short(&e, tenant, section_id, quantity, remaining);

				if (r >= 0)
					return r == 1;
			}
		}
		pending = evs_seats_lock(tenant, section_id);

		/*
		 * With the seat lock held no counter of the section can become valid
		 * (a build waits for the lock). One that is valid already (built while
		 * this waited, or by another backend since this one last looked)
		 * serves the reservation: a row-lock take beside a valid counter would
		 * not be seen by it.
		 */
		if (attempt == 0 && evs_escrow_find(tenant, section_id, &e) && evs_escrow_free(&e, &free))
		{
			counter = true;
			continue;
		}
		return take_seats_locked(tenant, section_id, quantity, pending, remaining);
	}
	return false;
}

/*
 * Seats free in the section's open pool now: its shared counter's, or
 * without a valid one its seats less those held or sold (latest committed
 * rows). SPI connected.
 */
int64
evs_section_free(Datum tenant, Datum section_id)
{
	EvsEscrowEntry e;
	int64		free;

	if (evs_escrow_find(tenant, section_id, &e) && evs_escrow_free(&e, &free))
		return free;
	return Max(section_total_latest(tenant, section_id) - evs_section_held_latest(tenant, section_id), 0);
}

/*
 * Takes as many seats of the open pool as are free, at most `max` (*taken),
 * for holds this transaction writes (the waitlist draws the seats no one took
 * into its queue): from the shared counter when it is valid (given back if
 * the transaction aborts), else under the section's seat lock, as a
 * reservation takes them. No overdue holds are reclaimed here. SPI connected.
 */
void
evs_section_take_up_to(Datum tenant, Datum section_id, int64 max, int64 *taken)
{
	EvsEscrowEntry e;
	int64		free,
				remaining,
				pending;

	*taken = 0;
	for (int attempt = 0; attempt < 2; attempt++)
	{
		if (attempt == 0 ? evs_escrow_section(tenant, section_id, &e) && evs_escrow_ready(&e, tenant, section_id)
			: evs_escrow_find(tenant, section_id, &e))
		{
			while (evs_escrow_free(&e, &free))
			{
				EvsTake		t;

				if (Min(max, free) <= 0)
					return;
				t = evs_escrow_take(&e, tenant, section_id, Min(max, free), &remaining);
				if (t == EVS_TAKE_OK)
				{
					*taken = Min(max, free);
					return;
				}
				if (t == EVS_TAKE_NO_COUNTER)
					break;
				CHECK_FOR_INTERRUPTS();	/* others took some meanwhile: look again */
			}
		}
		if (attempt == 1)
			break;
		/* no valid counter: the seat lock, then a counter that became valid meanwhile serves (as evs_section_take) */
		pending = evs_seats_lock(tenant, section_id);
		if (evs_escrow_find(tenant, section_id, &e) && evs_escrow_free(&e, &free))
			continue;
		*taken = Max(Min(max, section_total_latest(tenant, section_id) -
						 evs_section_held_latest(tenant, section_id) - pending), 0);
		return;
	}
}

/* A fresh version-4 UUID, as gen_random_uuid() makes them. */
Datum
evs_new_uuid(void)
{
	pg_uuid_t  *u = palloc(UUID_LEN);

	if (!pg_strong_random(u->data, UUID_LEN))
		ereport(ERROR, (errcode(EVS_ERR_INTERNAL), errmsg("could not generate a random hold id")));
	u->data[6] = (u->data[6] & 0x0f) | 0x40;
	u->data[8] = (u->data[8] & 0x3f) | 0x80;
	return UUIDPGetDatum(u);
}

/*
 * The new hold as jsonb, the same object to_jsonb() of its row gives, built
 * from the values just inserted (cheaper than reading the row back).
 */
static Datum
hold_jsonb(Datum tenant, Datum id, Datum event_id, Datum section_id, EvsPricing *p, bool priced,
		   const char *holder, int32 quantity, Datum locked, TimestampTz expires, TimestampTz created)
{
	JsonbParseState *st = NULL;

	/*
	 * Keys in jsonb's own order (length, then bytes): its sort then only
	 * checks. The columns of the hold's later life (1.1) are NULL in a new
	 * hold, and present when the table has them.
	 */
	bool		life = evs_hold_has_life_columns();

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "id", evs_uuid_text(id));
	if (life)
		evs_jsonb_push_null(&st, "phase");
	evs_jsonb_push_text(&st, "state", "ACTIVE");
	evs_jsonb_push_text(&st, "currency", priced ? p->price.currency : NULL);
	evs_jsonb_push_text(&st, "event_id", evs_uuid_text(event_id));
	evs_jsonb_push_int(&st, "quantity", quantity);
	if (life)
		evs_jsonb_push_null(&st, "renewals");
	evs_jsonb_push_text(&st, "holder_id", holder);
	evs_jsonb_push_text(&st, "tenant_id", evs_uuid_text(tenant));
	evs_jsonb_push_time(&st, "created_at", created);
	evs_jsonb_push_time(&st, "expires_at", expires);
	evs_jsonb_push_text(&st, "pricing_id", priced ? evs_uuid_text(p->id) : NULL);
	if (life)
		evs_jsonb_push_null(&st, "revived_at");
	if (priced)
		evs_jsonb_push_int(&st, "unit_price", p->price.unit_price);
	else
		evs_jsonb_push_text(&st, "unit_price", NULL);
	evs_jsonb_push_text(&st, "capacity_id", evs_uuid_text(section_id));
	if (life)
		evs_jsonb_push_null(&st, "payment_ref");
	evs_jsonb_push_text(&st, "released_at", NULL);
	evs_jsonb_push_text(&st, "confirmed_at", NULL);
	evs_jsonb_push_jsonb(&st, "locked_price", priced ? DatumGetJsonbP(locked) : NULL);
	if (life)
	{
		evs_jsonb_push_null(&st, "state_reason");
		evs_jsonb_push_null(&st, "state_changed_at");
		evs_jsonb_push_null(&st, "refunded_quantity");
		evs_jsonb_push_null(&st, "waitlist_entry_id");
		evs_jsonb_push_null(&st, "payment_started_at");
	}
	return JsonbPGetDatum(evs_jsonb_end(&st));
}


/*
 * api.reserve_capacity(capacity_id, quantity, pricing_id, holder_id, hold_seconds)
 */
static Datum
reserve_capacity(FunctionCallInfo fcinfo, EvsNewHold *made)
{
	Datum		tenant,
				section_id;
	int32		quantity,
				seconds;
	char	   *holder;
	Section		s;
	EvsPricing	p;
	bool		priced = false;
	TimestampTz now = evs_now();
	int64		remaining;
	Datum		locked = (Datum) 0;
	EvsPriceLine line;
	Datum		result;
	MemoryContext outer = CurrentMemoryContext;
	EvsIdempotency idem;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION), errmsg("reserve_capacity needs capacity_id and quantity")));
	section_id = PG_GETARG_DATUM(0);
	quantity = PG_GETARG_INT32(1);
	holder = PG_ARGISNULL(3) ? evs_current_actor() : text_to_cstring(PG_GETARG_TEXT_PP(3));
	/* holding seats in someone else's name (and against their limit) is for services and admins */
	if (!PG_ARGISNULL(3) && strcmp(holder, evs_current_actor()) != 0 &&
		!evs_is_service() && !evs_is_tenant_admin())
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("only a service or a tenant admin may hold seats for another holder"),
				 errhint("Leave holder_id out to hold seats for yourself.")));
	seconds = PG_ARGISNULL(4) ? evs_hold_default_seconds : PG_GETARG_INT32(4);
	if (quantity < 1)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("quantity must be at least 1, not %d", quantity)));
	if (seconds < 1 || seconds > evs_hold_max_seconds)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("hold_seconds must be between 1 and %d, not %d", evs_hold_max_seconds, seconds)));
	if (strlen(holder) < 1 || strlen(holder) > HOLDER_ID_MAX)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
						errmsg("holder_id must have 1 to %d characters", HOLDER_ID_MAX)));
	tenant = evs_current_tenant();
	{
		/* the tenant's quota of seats in one hold (a backend-local lookup) */
		const char *source;
		int32		per_hold = evs_quota(tenant, EVS_QUOTA_SEATS_PER_HOLD, &source);

		if (per_hold > 0 && quantity > per_hold)
			evs_quota_exceeded(EVS_QUOTA_SEATS_PER_HOLD, quantity, per_hold, source,
							   psprintf("a hold of %d seats is more than one hold may have", quantity));
	}

	/* 0. a retry with the same Idempotency-Key header gets the first hold back, not a second */
	idem.active = false;
	if (evs_idempotency_header_present())
	{
		JsonbParseState *st = NULL;
		Jsonb	   *replay;

		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_text(&st, "capacity_id", evs_uuid_text(section_id));
		evs_jsonb_push_int(&st, "quantity", quantity);
		evs_jsonb_push_text(&st, "pricing_id", PG_ARGISNULL(2) ? NULL : evs_uuid_text(PG_GETARG_DATUM(2)));
		evs_jsonb_push_text(&st, "holder_id", holder);
		evs_jsonb_push_int(&st, "hold_seconds", seconds);
		replay = evs_idempotency_begin(&idem, "reserve_capacity", NULL,
									   evs_jsonb_end(&st));
		if (replay != NULL)
			PG_RETURN_JSONB_P(replay);
	}
	evs_spi_connect();

	/* 1. the section sells now */
	section_load(tenant, section_id, PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2), !PG_ARGISNULL(2),
				 now, &s, &p, &priced);
	if (s.event_live && strcmp(s.event_status, "SOLD_OUT") == 0)
		sold_out(quantity, 0);
	if (!s.event_live || strcmp(s.event_status, "ON_SALE") != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("event is not on sale (status %s)", s.event_live ? s.event_status : "deleted"),
				 errhint("Seats can be held only while the event is ON_SALE.")));
	if (!s.active)
		ereport(ERROR, (errcode(EVS_ERR_CONFLICT), errmsg("section is not active")));
	if (evs_series_refusal(s.per_date, s.date_status, section_id))
		sold_out(quantity, 0);
	if (quantity < s.min_purchase || (s.max_purchase > 0 && quantity > s.max_purchase))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("quantity %d is outside the section's purchase limits", quantity),
				 s.max_purchase > 0 ? errdetail("Buy between %d and %d seats.", s.min_purchase, s.max_purchase)
				 : errdetail("Buy at least %d seats.", s.min_purchase)));

	/* 2. the tier: open sales window, per-order limit; without a tier, the event's window */
	if (s.has_starts_at && now >= s.starts_at)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("sales have ended: the %s started at %s", s.date_status != NULL ? "date" : "event",
						timestamptz_to_str(s.starts_at)),
				 errhint("Seats are sold until the event starts.")));
	if (PG_ARGISNULL(2) &&
		((s.has_window_start && now < s.window_start) || (s.has_window_end && now >= s.window_end)))
		window_closed("the event's sales window is closed", s.has_window_start, s.window_start,
					  s.has_window_end, s.window_end);
	if (!PG_ARGISNULL(2))
	{
		if (!priced)
			ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("pricing tier %s not found", evs_uuid_text(PG_GETARG_DATUM(2)))));
		if (!datumIsEqual(p.event_id, s.event_id, false, UUID_LEN) ||
			(p.has_capacity && !datumIsEqual(p.capacity_id, section_id, false, UUID_LEN) &&
			 !(s.has_template && datumIsEqual(p.capacity_id, s.template_id, false, UUID_LEN))))
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("pricing tier does not sell this section")));
		if (!p.is_active)
			ereport(ERROR, (errcode(EVS_ERR_CONFLICT), errmsg("pricing tier is not active")));
		if ((p.has_sales_start && now < p.sales_start_at) || (p.has_sales_end && now >= p.sales_end_at))
			window_closed("the tier's sales window is closed", p.has_sales_start, p.sales_start_at,
						  p.has_sales_end, p.sales_end_at);
		if (p.max_per_order > 0 && quantity > p.max_per_order)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("quantity %d exceeds the tier's limit of %d per order", quantity, p.max_per_order)));
	}

	/* 3. the customer's limit on the event (customer_limit.c) */
	evs_customer_limit_check(tenant, s.event_id, holder, priced ? p.max_per_customer : 0, quantity);

	/* 4. the seats: shared counter, else the section's row lock */
	if (!evs_section_take(tenant, section_id, quantity, &remaining))
		sold_out(quantity, remaining);

	/* 5. the price, locked into the hold */
	if (priced)
	{
		evs_price_line(&p.price, quantity, &line);
		locked = evs_price_line_jsonb(&p.price, &line);
	}

	/* 6. the row (hold_store.c) */
	{
		EvsHoldRow	row = {
			.tenant_id = tenant, .id = evs_new_uuid(), .event_id = s.event_id, .capacity_id = section_id,
			.holder_id = holder, .quantity = quantity, .expires_at = now + (TimestampTz) seconds * USECS_PER_SEC,
			.created_at = GetCurrentTransactionStartTimestamp(),	/* the column default, now() */
			.priced = priced, .pricing_id = priced ? p.id : (Datum) 0,
			.currency = priced ? p.price.currency : NULL, .unit_price = priced ? p.price.unit_price : 0,
		.locked_price = locked};
		MemoryContext spi;
		EvsCounterChange change = {.held = quantity, .holds = 1};

		evs_hold_insert(&row);
		evs_sweep_note_expiry(row.expires_at);
		/* what the hold adds to its section's counter rows, in this transaction */
		change.customers = evs_customer_new(tenant, s.event_id, holder) ? 1 : 0;
		evs_counters_add(tenant, section_id, priced ? p.price.currency : "", &change);
		spi = MemoryContextSwitchTo(outer);
		/* the answer as jsonb: for the 1.0 entry point, and for a key's replays */
		result = (made == NULL || idem.active)
			? hold_jsonb(tenant, row.id, s.event_id, section_id, &p, priced, holder, quantity, locked,
						 row.expires_at, row.created_at)
			: (Datum) 0;
		if (made != NULL)
		{
			/* copied out of SPI memory, which SPI_finish frees */
			made->made = true;
			memcpy(&made->id, DatumGetUUIDP(row.id), UUID_LEN);
			memcpy(&made->event_id, DatumGetUUIDP(s.event_id), UUID_LEN);
			memcpy(&made->capacity_id, DatumGetUUIDP(section_id), UUID_LEN);
			made->priced = priced;
			if (priced)
			{
				memcpy(&made->pricing_id, DatumGetUUIDP(p.id), UUID_LEN);
				memcpy(made->currency, p.price.currency, sizeof(made->currency));
				made->unit_price = p.price.unit_price;
				made->locked_price = DatumGetJsonbPCopy(locked);
			}
			made->holder = holder;
			made->quantity = quantity;
			made->expires_at = row.expires_at;
			made->created_at = row.created_at;
		}
		MemoryContextSwitchTo(spi);
	}

	/* 7. thresholds crossed by this reservation: its section's, the event's or its date's */
	evs_capacity_thresholds(tenant, s.event_id, section_id, s.total, remaining, quantity, s.occurrence_id);
	SPI_finish();
	if (idem.active)
		evs_idempotency_finish(&idem, DatumGetJsonbP(result));
	PG_RETURN_DATUM(result);
}

/*
 * The SQL function is declared without SECURITY DEFINER and its SET clause: the
 * body runs as the schema owner with pg_catalog as its only search path
 * (evs_enter_as_definer), the same for less than a SET clause costs.
 */
Datum
evs_sql_reserve_capacity(PG_FUNCTION_ARGS)
{
	return evs_reserve_capacity_made(fcinfo, NULL);
}

/*
 * The same, telling made (when not NULL) the hold it made (hold_result.c):
 * then the answer is (Datum) 0 unless an Idempotency-Key needs it as jsonb,
 * or is the jsonb of a replay (made->made false).
 */
Datum
evs_reserve_capacity_made(FunctionCallInfo fcinfo, EvsNewHold *made)
{
	EvsRoleSwitch ctx;
	Datum		result;

	evs_enter_as_definer(&ctx);
	result = reserve_capacity(fcinfo, made);
	evs_leave_as_definer(&ctx);
	PG_RETURN_DATUM(result);
}
