/*
 * hold_change.c: the changes of an existing hold: api.confirm_hold (sold at
 * the locked price), api.release_hold (the seats come back at commit) and
 * api.extend_hold (a later expiry, bounded from the hold's creation).
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
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
PG_FUNCTION_INFO_V1(evs_sql_confirm_hold);
PG_FUNCTION_INFO_V1(evs_sql_release_hold);
PG_FUNCTION_INFO_V1(evs_sql_extend_hold);

/* Why a hold could not change: not found, expired, released, already confirmed or refunded. */
void
evs_hold_refused(Datum tenant, Datum hold_id, const char *action)
{
	Datum		v[2] = {tenant, hold_id};
	Oid			t[2] = {UUIDOID, UUIDOID};
	int			rc;
	char	   *state;
	char	   *expires;
	static SPIPlanPtr plan = NULL;

	if (plan == NULL)
		plan = evs_spi_prepare_kept("SELECT state::text, expires_at <= eventsvc.now(), expires_at::text"
									" FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND id = $2", 2, t);
	/* latest snapshot: after waiting for a concurrent change, say what it did */
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("hold not found"),
						errdetail("No hold %s in this tenant.", evs_uuid_text(hold_id))));
	state = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, "the hold's state");
	expires = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, "the hold's expiry");
	if (strcmp(state, "CONFIRMED") == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("cannot %s the hold: it is already confirmed", action),
				 errdetail("Hold %s.", evs_uuid_text(hold_id))));
	if (strcmp(state, "ACTIVE") == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_GONE),
				 errmsg("cannot %s the hold: it has expired", action),
				 errdetail("Hold %s expired at %s.", evs_uuid_text(hold_id), expires),
				 errhint("Reserve the seats again.")));
	if (strcmp(state, "REFUND_REQUIRED") == 0 || strcmp(state, "REFUNDED") == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_GONE),
				 errmsg("cannot %s the hold: %s", action,
						state[6] == '_' ? "its payment came too late and is being refunded" : "it was refunded"),
				 errdetail("Hold %s.", evs_uuid_text(hold_id)),
				 errhint("Reserve the seats again.")));
	ereport(ERROR,
			(errcode(EVS_ERR_GONE),
			 errmsg("cannot %s the hold: it was %s", action,
					strcmp(state, "EXPIRED") == 0 ? "expired" : "released"),
			 errdetail("Hold %s.", evs_uuid_text(hold_id)),
			 errhint("Reserve the seats again.")));
}

/* Only the holder, a service or a tenant admin may act on a hold. */
static void
require_holder(Datum tenant, Datum hold_id)
{
	Datum		v[2] = {tenant, hold_id};
	Oid			t[2] = {UUIDOID, UUIDOID};
	int			rc;
	char	   *holder;

	if (evs_is_service() || evs_is_tenant_admin())
		return;
	/*
	 * Not read-only: a fresh snapshot that also sees a hold made earlier in
	 * this statement (confirm_hold((reserve_capacity(...)->>'id')::uuid)),
	 * which the statement's own snapshot predates.
	 */
	rc = SPI_execute_with_args("SELECT holder_id FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND id = $2",
							   2, t, v, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("hold %s not found", evs_uuid_text(hold_id))));
	holder = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, "the hold's holder");
	/* someone else's hold is reported as missing, never as forbidden: no probing */
	if (strcmp(holder, evs_current_actor()) != 0)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("hold not found"),
						errdetail("No hold %s in this tenant.", evs_uuid_text(hold_id))));
}

/*
 * The start of a confirm or release: the hold id (required), and v[] = tenant,
 * hold, now. A retry with the same Idempotency-Key header (over HTTP) gets the
 * first answer back instead of "already confirmed/released": that answer is
 * returned; NULL means go ahead (and finish *idem with the result).
 */
static Jsonb *
hold_change_begin(FunctionCallInfo fcinfo, const char *operation, Datum *v, EvsIdempotency *idem)
{
	JsonbParseState *st = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("%s needs hold_id", operation)));
	v[0] = evs_current_tenant();
	v[1] = PG_GETARG_DATUM(0);
	v[2] = TimestampTzGetDatum(evs_now());
	idem->active = false;
	if (!evs_idempotency_header_present())
		return NULL;
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "hold_id", v[1]);
	return evs_idempotency_begin(idem, operation, NULL, evs_jsonb_end(&st));
}

/* api.confirm_hold(hold_id): ACTIVE and unexpired -> CONFIRMED at the locked price. */
Datum
evs_sql_confirm_hold(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[3];
	int			rc;
	bool		isnull;
	Datum		result;
	EvsIdempotency idem;
	Jsonb	   *replay;

	if ((replay = hold_change_begin(fcinfo, "confirm_hold", v, &idem)) != NULL)
		PG_RETURN_JSONB_P(replay);
	evs_spi_connect();
	require_holder(v[0], v[1]);
	/* a sale racing the event's cancellation: before it, or refused after it (hold_life.c) */
	if (evs_hold_sale_begin(v[0], v[1]))
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("the event of this hold was cancelled: the hold can no longer be bought"),
				 errdetail("Hold %s.", evs_uuid_text(v[1])),
				 errhint("Nothing was sold; the cancellation released the event's holds.")));
	if (plan == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, TIMESTAMPTZOID};

		/* The expiry test is in the UPDATE: an expired hold never confirms, swept or not. */
		plan = evs_spi_prepare_kept("UPDATE eventsvc.capacity_holds AS h SET state = 'CONFIRMED', confirmed_at = $3"
							" WHERE tenant_id = $1 AND id = $2 AND state = 'ACTIVE' AND expires_at > $3"
							" RETURNING to_jsonb(h), capacity_id, event_id, quantity, coalesce(currency, ''), unit_price,"
							" holder_id, pricing_id, locked_price", 3, t);
	}
	rc = evs_hold_write(plan, v, NULL, 1);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "hold confirm failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		evs_hold_refused(v[0], v[1], "confirm");
	result = SPI_datumTransfer(evs_get_notnull(0, 1, "the changed hold"), false, -1);
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		section = datumCopy(evs_getbinval_notnull(row, desc, 2, "the hold's section"), false, UUID_LEN);
		Datum		event_id = datumCopy(evs_getbinval_notnull(row, desc, 3, "the hold's event"), false, UUID_LEN);
		int32		quantity = DatumGetInt32(SPI_getbinval(row, desc, 4, &isnull));
		char	   *currency = evs_getvalue_notnull(row, desc, 5, "the hold's currency");
		bool		no_price;
		Datum		unit_price = SPI_getbinval(row, desc, 6, &no_price);
		char	   *holder = evs_getvalue_notnull(row, desc, 7, "the hold's holder");
		EvsCounterChange change = {.held = -quantity, .sold = quantity, .confirmed = 1};
		EvsEscrowEntry e;
		int64		free;
		Datum		pricing_id;
		bool		no_tier;

		/* revenue as the revenue view has always counted it: quantity x locked unit price */
		if (!no_price && pg_mul_s64_overflow((int64) quantity, DatumGetInt64(unit_price), &change.revenue))
			ereport(ERROR,
					(errcode(EVS_ERR_OVERFLOW),
					 errmsg("the hold's line total does not fit in 64-bit minor units")));
		{
			/* a purchase: what it was charged (docs/money.md "Revenue") */
			bool		no_line;
			Datum		line = SPI_getbinval(row, desc, 9, &no_line);

			evs_counters_purchase(no_line ? NULL : DatumGetJsonbP(line), quantity,
								  no_price ? 0 : DatumGetInt64(unit_price), &change);
		}
		/* the refund policy in force is sold with the purchase */
		pricing_id = SPI_getbinval(row, desc, 8, &no_tier);
		evs_refund_policy_capture(v[0], v[1], !no_tier, no_tier ? (Datum) 0 : datumCopy(pricing_id, false, UUID_LEN));
		change.buying = evs_customer_first_purchase(v[0], event_id, holder) ? 1 : 0;
		evs_counters_add(v[0], section, currency, &change);

		/* the last seats of a section were just sold: maybe the whole event is */
		if (!evs_escrow_find(v[0], section, &e) || !evs_escrow_free(&e, &free) || free == 0)
			evs_event_soldout_check(v[0], event_id, section);
		/* a waitlist offer confirmed: its entry is converted */
		evs_hold_changed_waitlist(v[0], DatumGetJsonbP(result), true);
	}
	SPI_finish();
	evs_idempotency_finish(&idem, DatumGetJsonbP(result));
	PG_RETURN_DATUM(result);
}

/* The section of a hold, so its counter can be built before the row changes. */
static bool
hold_section(Datum tenant, Datum hold_id, Datum *section)
{
	Datum		v[2] = {tenant, hold_id};
	Oid			t[2] = {UUIDOID, UUIDOID};
	int			rc;

	/* not read-only, as in require_holder: a hold made earlier in this statement counts */
	rc = SPI_execute_with_args("SELECT capacity_id FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND id = $2",
							   2, t, v, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	*section = datumCopy(evs_get_notnull(0, 1, "the hold's section"), false, UUID_LEN);
	return true;
}

/* api.release_hold(hold_id): ACTIVE -> RELEASED; the seats come back at commit. */
Datum
evs_sql_release_hold(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[3];
	Datum		section;
	int			rc;
	bool		isnull;
	Datum		result;
	EvsIdempotency idem;
	Jsonb	   *replay;

	if ((replay = hold_change_begin(fcinfo, "release_hold", v, &idem)) != NULL)
		PG_RETURN_JSONB_P(replay);
	evs_spi_connect();
	require_holder(v[0], v[1]);
	if (!hold_section(v[0], v[1], &section))
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("hold %s not found", evs_uuid_text(v[1]))));
	/* the counter before any row changes (a rebuild counts what this transaction sees) */
	/* registered before the row changes: a counter built meanwhile counts this release right */
	evs_seats_give_begin(v[0], section);
	if (plan == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, TIMESTAMPTZOID};

		plan = evs_spi_prepare_kept("UPDATE eventsvc.capacity_holds AS h SET state = 'RELEASED', released_at = $3"
							" WHERE tenant_id = $1 AND id = $2 AND state = 'ACTIVE'"
							" RETURNING to_jsonb(h), quantity, coalesce(currency, '')", 3, t);
	}
	rc = evs_hold_write(plan, v, NULL, 1);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "hold release failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		evs_hold_refused(v[0], v[1], "release");
	result = SPI_datumTransfer(evs_get_notnull(0, 1, "the changed hold"), false, -1);
	{
		int32		quantity = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		char	   *currency = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, "the hold's currency");
		EvsCounterChange change = {.held = -quantity, .released = 1};
		EvsSeatKey	key = {.tenant = v[0], .section = section};

		/* a waitlist offer declined: its entry lapses (a hold still gathering seats is refused) */
		evs_hold_changed_waitlist(v[0], DatumGetJsonbP(result), false);
		evs_counters_add(v[0], section, currency, &change);
		/* the waitlist first, then the open pool (seat_return.c) */
		(void) evs_seats_returned(&key, quantity, 0);
	}
	SPI_finish();
	evs_idempotency_finish(&idem, DatumGetJsonbP(result));
	PG_RETURN_DATUM(result);
}

/*
 * api.extend_hold(hold_id, seconds): a later expiry. A reservation lives at
 * most eventsvc.hold_max_seconds from its creation; a hold in its payment
 * phase at most eventsvc.hold_max_life_seconds. At most
 * eventsvc.hold_max_renewals extensions per hold; a waitlist offer is not
 * extended (the next entry is waiting for it). A 1.0 database (before ALTER
 * EXTENSION UPDATE) has no renewal count and no phases: only the first limit.
 */
Datum
evs_sql_extend_hold(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_1_0 = NULL;
	Datum		v[7];
	int32		seconds;
	int			rc;
	bool		isnull;
	bool		life = evs_holds_schema_ready();
	Datum		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("extend_hold needs hold_id and seconds")));
	seconds = PG_GETARG_INT32(1);
	if (seconds < 1 || seconds > evs_hold_max_seconds)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("seconds must be between 1 and %d, not %d", evs_hold_max_seconds, seconds)));
	v[0] = evs_current_tenant();
	v[1] = PG_GETARG_DATUM(0);
	v[2] = TimestampTzGetDatum(evs_now());
	v[3] = Int64GetDatum((int64) seconds * USECS_PER_SEC);
	v[4] = Int64GetDatum((int64) evs_hold_max_seconds * USECS_PER_SEC);
	v[5] = Int64GetDatum((int64) evs_hold_max_life_seconds * USECS_PER_SEC);
	v[6] = Int32GetDatum(evs_hold_max_renewals);
	evs_spi_connect();
	require_holder(v[0], v[1]);
	if (!life && plan_1_0 == NULL)
	{
		Oid			t[5] = {UUIDOID, UUIDOID, TIMESTAMPTZOID, INT8OID, INT8OID};

		plan_1_0 = evs_spi_prepare_kept(
			"UPDATE eventsvc.capacity_holds AS h SET expires_at = expires_at + make_interval(secs => $4 / 1e6)"
			" WHERE tenant_id = $1 AND id = $2 AND state = 'ACTIVE' AND expires_at > $3"
			" RETURNING to_jsonb(h), expires_at > created_at + make_interval(secs => $5 / 1e6)", 5, t);
	}
	if (life && plan == NULL)
	{
		Oid			t[7] = {UUIDOID, UUIDOID, TIMESTAMPTZOID, INT8OID, INT8OID, INT8OID, INT4OID};

		/* the phase decides the ceiling: the payment phase may live longer than a reservation */
		plan = evs_spi_prepare_kept(
			"UPDATE eventsvc.capacity_holds AS h SET expires_at = expires_at + make_interval(secs => $4 / 1e6),"
			"  renewals = coalesce(renewals, 0) + 1"
			" WHERE tenant_id = $1 AND id = $2 AND state = 'ACTIVE' AND expires_at > $3"
			"   AND coalesce(renewals, 0) < $7 AND phase IS DISTINCT FROM 'OFFERED' AND phase IS DISTINCT FROM 'WAITLIST'"
			" RETURNING to_jsonb(h), expires_at > created_at + make_interval(secs =>"
			"  CASE WHEN phase = 'PAYMENT' THEN $6 ELSE $5 END / 1e6), phase IS NOT DISTINCT FROM 'PAYMENT'", 7, t);
	}
	rc = evs_hold_write(life ? plan : plan_1_0, v, NULL, 1);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "hold extension failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
	{
		EvsHold		h;

		/* why: the renewals are used up, it is a waitlist offer, or it is no longer live */
		if (life && evs_hold_lock(v[0], v[1], &h) && strcmp(h.state, "ACTIVE") == 0 && !h.expired)
		{
			if (h.phase != NULL && strcmp(h.phase, "PAYMENT") != 0)
				ereport(ERROR,
						(errcode(EVS_ERR_CONFLICT),
						 errmsg("a waitlist offer cannot be extended"),
						 errhint("Confirm it before it expires; the next entry of the waitlist is waiting for it.")));
			ereport(ERROR,
					(errcode(EVS_ERR_CONFLICT),
					 errmsg("the hold was renewed %d times, the most allowed", h.renewals),
					 errdetail("%d of %d renewals used.", h.renewals, evs_hold_max_renewals),
					 errhint("Confirm the hold, or release it and reserve again.")));
		}
		evs_hold_refused(v[0], v[1], "extend");
	}
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
	{
		bool		paying = life && DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));

		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("a hold lives at most %d seconds from its creation",
						paying ? evs_hold_max_life_seconds : evs_hold_max_seconds),
				 errhint("Extend by fewer seconds, or confirm the hold.")));
	}
	result = SPI_datumTransfer(evs_get_notnull(0, 1, "the changed hold"), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
