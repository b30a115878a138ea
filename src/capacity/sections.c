/*
 * sections.c: the capacity sections themselves. The BEFORE trigger checks a
 * section's figures, its row configuration and that the event's active
 * sections fit the venue; and the delete guard keeps sections with holds.
 * (eventsvc.check_capacity, which recomputes a section from its hold rows, is
 * in capacity_check.c.)
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_section_validate_trigger);
PG_FUNCTION_INFO_V1(evs_section_delete_trigger);

static int32
tup_int(HeapTuple tup, TupleDesc desc, const char *name, int32 dflt)
{
	Datum		v;

	return evs_tup_get(tup, desc, name, &v) ? DatumGetInt32(v) : dflt;
}

static void
section_invalid(const char *msg)
{
	ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("invalid section: %s", msg)));
}

/*
 * Seats a row configuration describes: {"rows": R, "seats_per_row": S} gives
 * R*S; {"rows": [n1, n2, ...]} or [{"seats": n}, ...] gives the sum; -1 when
 * the shape is not one of these.
 */
static int64
row_config_seats(Datum row_config)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;
	int			rc;
	Datum		r;

	if (plan == NULL)
	{
		Oid			t[1] = {JSONBOID};

		plan = evs_spi_prepare_kept(
			"SELECT CASE"
			" WHEN jsonb_typeof($1->'rows') = 'number' AND jsonb_typeof($1->'seats_per_row') = 'number'"
			"  AND ($1->>'rows') ~ '^[0-9]{1,9}$' AND ($1->>'seats_per_row') ~ '^[0-9]{1,9}$'"
			"  AND ($1->>'rows')::int8 >= 1 AND ($1->>'seats_per_row')::int8 >= 1"
			"  THEN ($1->>'rows')::int8 * ($1->>'seats_per_row')::int8"
			" WHEN jsonb_typeof($1->'rows') = 'array' AND jsonb_array_length($1->'rows') > 0"
			"  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements($1->'rows') x"
			"   WHERE coalesce(CASE jsonb_typeof(x) WHEN 'number' THEN x::text ELSE x->>'seats' END, '')"
			"         !~ '^[0-9]{1,9}$')"
			"  THEN (SELECT sum(CASE jsonb_typeof(x) WHEN 'number' THEN x::text ELSE x->>'seats' END::int8)::int8"
			"        FROM jsonb_array_elements($1->'rows') x)"
			" ELSE -1 END", 1, t);
	}
	rc = SPI_execute_plan(plan, &row_config, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "row configuration check failed: %s", SPI_result_code_string(rc));
	r = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? -1 : DatumGetInt64(r);
}

/*
 * Takes n seats of a section for a cut of its total or its deletion: from its
 * shared counter when it has a valid one (nobody waits), else on the row-lock
 * path (the section's seat lock until commit, its counter rows, the seats in
 * flight on a counter being rebuilt). False when they are not free; *free
 * then says how many are.
 */
static bool
section_take_seats(Datum tenant, Datum id, int64 total, int64 n, int64 *free)
{
	EvsEscrowEntry e;
	bool		counter = evs_escrow_find(tenant, id, &e);

	for (int attempt = 0; attempt < 2; attempt++)
	{
		int64		pending,
					held,
					sold;

		if (counter)
		{
			EvsTake		t = evs_escrow_take(&e, tenant, id, n, free);

			if (t != EVS_TAKE_NO_COUNTER)
				return t == EVS_TAKE_OK;
		}
		pending = evs_seats_lock(tenant, id);
		/* a counter valid now (it cannot become valid while this holds the seat lock) decides */
		if (attempt == 0 && evs_escrow_find(tenant, id, &e) && evs_escrow_free(&e, free))
		{
			counter = true;
			continue;
		}
		evs_section_seats(tenant, id, &held, &sold);
		*free = total - held - sold - pending;
		return *free >= n;
	}
	return false;
}

/*
 * An UPDATE of a section: a new total_capacity goes through the seat counter
 * (a cut takes the seats now, refused with PT409 and the numbers when they are
 * held, sold or being reserved; a rise goes to the section's waitlist first,
 * the rest is given at commit). On the row-lock
 * path the row lock this UPDATE holds keeps reservations out while the rows
 * are counted. When the seats or the activity change, the row's counter
 * columns are rewritten from the live rows. Returns the tuple to store.
 */
static HeapTuple
section_seats_change(TriggerData *td, HeapTuple tup, TupleDesc desc, Datum tenant, Datum id, int32 total)
{
	int32		old_total = tup_int(td->tg_trigtuple, desc, "total_capacity", 0);
	int64		delta = (int64) total - old_total;
	Datum		v;
	bool		was_active = evs_tup_get(td->tg_trigtuple, desc, "is_active", &v) && DatumGetBool(v);
	bool		active = evs_tup_get(tup, desc, "is_active", &v) && DatumGetBool(v);
	int64		held,
				sold;
	int			cols[3];
	Datum		vals[3];
	bool		nulls[3] = {false, false, false};

	if (delta == 0 && was_active == active)
		return tup;
	if (delta < 0)
	{
		int64		remaining;

		if (!section_take_seats(tenant, id, old_total, -delta, &remaining))
		{
			evs_section_seats(tenant, id, &held, &sold);
			ereport(ERROR,
					(errcode(EVS_ERR_CONFLICT),
					 errmsg("cannot cut total_capacity from %d to %d: only " INT64_FORMAT " seats are free",
							old_total, total, Max(remaining, 0)),
					 errdetail(INT64_FORMAT " held, " INT64_FORMAT " sold, " INT64_FORMAT " being reserved or released right now.",
							   held, sold, Max(old_total - remaining - held - sold, 0)),
					 errhint("Seats that are held or sold cannot be removed; the smallest total now is " INT64_FORMAT ".",
							 old_total - Max(remaining, 0))));
		}
	}
	else if (delta > 0)
	{
		EvsSeatKey	key = {.tenant = tenant, .section = id};
		int64		open = delta;

		/* more seats: to the section's waitlist first (as seats that come back), the rest free once this commits */
		evs_seats_give_begin(tenant, id);
		if (active)
			open = evs_waitlist_take_seats(&key, delta);
		if (open > 0)
			evs_seats_give_end(tenant, id, open);
	}
	evs_section_seats(tenant, id, &held, &sold);
	if (held + sold > total)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("cannot cut total_capacity from %d to %d: " INT64_FORMAT " seats are held or sold",
						old_total, total, held + sold),
				 errdetail(INT64_FORMAT " held, " INT64_FORMAT " sold.", held, sold),
				 errhint("Seats that are held or sold cannot be removed; the smallest total now is " INT64_FORMAT ".",
						 held + sold)));
	cols[0] = SPI_fnumber(desc, "available_capacity");
	cols[1] = SPI_fnumber(desc, "reserved_capacity");
	cols[2] = SPI_fnumber(desc, "sold_count");
	/* an inactive section has nothing available, as api.section_availability says */
	vals[0] = Int32GetDatum(active ? (int32) (total - held - sold) : 0);
	vals[1] = Int32GetDatum((int32) held);
	vals[2] = Int32GetDatum((int32) sold);
	/* in the trigger's caller's memory: the SPI context goes at SPI_finish */
	return SPI_copytuple(heap_modify_tuple_by_cols(tup, desc, 3, cols, vals, nulls));
}

/*
 * BEFORE INSERT OR UPDATE on event_capacity: the section rules for every
 * writer, and the seat counter's share of a change of total_capacity (a cut
 * takes seats now, refused when they are held; a rise gives them on commit).
 */
Datum
evs_section_validate_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		tenant,
				id,
				event_id,
				v;
	int32		total,
				avail,
				reserved,
				sold,
				pending,
				minp,
				maxp;
	bool		active;
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "evs_section_validate_trigger must be a BEFORE ROW trigger");
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	/* the keys are used below (venue check, counter): refuse NULLs before reading them */
	if (!evs_tup_get(tup, desc, "tenant_id", &tenant))
		section_invalid("tenant_id is required (set the tenant of the request)");
	if (!evs_tup_get(tup, desc, "id", &id))
		section_invalid("id is required");
	if (!evs_tup_get(tup, desc, "event_id", &event_id))
		section_invalid("event_id is required");
	if (!evs_tup_get(tup, desc, "section_name", &v))
		section_invalid("section_name is required");
	if (!evs_tup_get(tup, desc, "total_capacity", &v))
		section_invalid("total_capacity is required");
	total = tup_int(tup, desc, "total_capacity", -1);
	if (total < 0)
		section_invalid("total_capacity must be a non-negative number");
	evs_spi_connect();

	/*
	 * A change of seats or activity is decided on the live counts, never on
	 * the row's counter columns (a copy check_capacity refreshes): the
	 * counter takes or gives the difference, and the copy is rewritten from
	 * the rows, so a stale copy can neither refuse a legitimate change nor
	 * let an illegitimate one pass.
	 */
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		tup = section_seats_change(td, tup, desc, tenant, id, total);
	avail = tup_int(tup, desc, "available_capacity", -1);
	reserved = tup_int(tup, desc, "reserved_capacity", 0);
	sold = tup_int(tup, desc, "sold_count", 0);
	pending = tup_int(tup, desc, "pending_count", 0);
	minp = tup_int(tup, desc, "minimum_purchase", 1);
	maxp = tup_int(tup, desc, "maximum_purchase", 0);
	active = evs_tup_get(tup, desc, "is_active", &v) && DatumGetBool(v);

	if (avail < 0 || reserved < 0 || sold < 0 || pending < 0)
		section_invalid("available, reserved, sold and pending counts must be non-negative");
	if ((int64) avail + reserved + sold > total)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid section: available + reserved + sold exceeds total_capacity"),
				 errdetail("%d + %d + %d > %d.", avail, reserved, sold, total)));
	if (minp < 1)
		section_invalid("minimum_purchase must be at least 1");
	if (evs_tup_get(tup, desc, "maximum_purchase", &v) && maxp < minp)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid section: maximum_purchase %d is below minimum_purchase %d", maxp, minp)));

	if (evs_tup_get(tup, desc, "row_config", &v))
	{
		int64		seats = row_config_seats(v);

		if (seats < 0)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("invalid section: row_config is not understood"),
					 errhint("Use {\"rows\": R, \"seats_per_row\": S} or {\"rows\": [n1, n2, ...]} with positive integers.")));
		if (seats != total)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("invalid section: row_config describes " INT64_FORMAT " seats but total_capacity is %d",
							seats, total)));
	}

	/*
	 * All active sections of the event fit in the venue; the event row lock
	 * serialises creators. A date section is counted with its date's sections
	 * only (each date fills the venue on its own), every other section with
	 * the event's other sections that are not date sections (docs/series.md).
	 */
	if (active)
	{
		Datum		occurrence = (Datum) 0;
		bool		dated = evs_holds_schema_ready() && evs_tup_get(tup, desc, "occurrence_id", &occurrence);
		Datum		vals[4] = {tenant, event_id, id, occurrence};
		Oid			types[4] = {UUIDOID, UUIDOID, UUIDOID, UUIDOID};
		bool		isnull;
		int64		venue_cap,
					others;

		rc = SPI_execute_with_args(
			psprintf("SELECT v.capacity::int8, (SELECT coalesce(sum(s.total_capacity), 0)::int8 FROM eventsvc.event_capacity s"
					 "   WHERE s.tenant_id = $1 AND s.event_id = $2 AND s.id <> $3 AND s.is_active%s)"
					 " FROM eventsvc.events e JOIN eventsvc.venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id"
					 " WHERE e.tenant_id = $1 AND e.id = $2 FOR NO KEY UPDATE OF e",
					 EVS_SERIES_SQL(" AND s.occurrence_id IS NOT DISTINCT FROM $4", " AND $4 IS NULL")),
			4, types, vals, dated ? "    " : "   n", false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "venue capacity check failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 1)
		{
			venue_cap = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			others = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
			if (others + total > venue_cap)
				ereport(ERROR,
						(errcode(EVS_ERR_VALIDATION),
						 errmsg("invalid section: the event's sections would exceed the venue's capacity"),
						 errdetail("Other sections hold " INT64_FORMAT " seats, this one %d, the venue " INT64_FORMAT ".",
								   others, total, venue_cap)));
		}
		else
			ereport(ERROR,
					(errcode(EVS_ERR_NOT_FOUND),
					 errmsg("event %s not found", evs_uuid_text(event_id)),
					 errhint("The event does not exist or belongs to another tenant.")));
	}

	SPI_finish();
	return PointerGetDatum(tup);
}

/*
 * BEFORE DELETE on event_capacity (also reached by an event's cascade): hold
 * rows carry no foreign key to their section (a key-share lock per reservation
 * on one hot row would queue every buyer), so this guard keeps them from being
 * orphaned. It takes every seat from the counter first: that fails while any
 * seat is held, sold or being reserved right now, and leaves nothing for a
 * reservation that comes later. Sections with any hold history stay.
 */
Datum
evs_section_delete_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		tenant,
				id;
	int32		total;
	int64		remaining;
	Oid			t[2] = {UUIDOID, UUIDOID};
	Datum		v[2];
	static SPIPlanPtr plan = NULL;
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_DELETE(td->tg_event))
		elog(ERROR, "evs_section_delete_trigger must be a BEFORE DELETE ROW trigger");
	tup = td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	evs_tup_get(tup, desc, "tenant_id", &tenant);
	evs_tup_get(tup, desc, "id", &id);
	total = tup_int(tup, desc, "total_capacity", 0);
	evs_spi_connect();
	if (total > 0 && !section_take_seats(tenant, id, total, total, &remaining))
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("cannot delete a section with held or sold seats"),
				 errdetail("%d of its %d seats are held, sold or being reserved.", (int) (total - remaining), total),
				 errhint("Deactivate the section (is_active = false) instead.")));
	v[0] = tenant;
	v[1] = id;
	if (plan == NULL)
		plan = evs_spi_prepare_kept("SELECT 1 FROM eventsvc.capacity_holds"
									" WHERE tenant_id = $1 AND capacity_id = $2 LIMIT 1", 2, t);
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("cannot delete a section that has holds"),
				 errdetail("Its hold history (released, expired or sold) refers to it."),
				 errhint("Deactivate the section (is_active = false) instead.")));
	SPI_finish();
	return PointerGetDatum(tup);
}


