/*
 * section_figures.c: a section's live figures for the analytics views
 * (api.section_availability, api.event_availability,
 * api.event_customer_analytics), read from its counter rows instead of its
 * holds. The counter rows count seats held and sold and holds by state; what
 * they cannot know is which ACTIVE holds are overdue right now (expired by
 * the clock, not yet by the sweep: the views count those seats as free, as a
 * reservation does). Those are found from the sweep's read start on: no
 * ACTIVE hold expires before it (sweep_horizon.c), so the section's expiry
 * index is read from there, which is the holds of the last few minutes, not
 * the section's history.
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
#include "utils/timestamp.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_sql_section_figures);

#define FIGURES 9

/*
 * eventsvc.section_figures(tenant_id, capacity_id, count_live): sold, reserved
 * (live ACTIVE seats), holds, holds_confirmed, holds_expired (overdue ACTIVE
 * ones too), holds_released, holds_active (live; NULL unless count_live: the
 * live holds are then read too, else only the overdue ones), customers,
 * buying_customers, in one
 * snapshot taken after the sweep's read start was read (a sweep that commits
 * later cannot have expired a hold this snapshot still sees as ACTIVE below
 * it). Runs as the caller: RLS keeps a tenant to its own rows (another
 * tenant's section reads as zeros). Every operator and function is named with
 * its schema: the plan is made in the caller's search path.
 */
Datum
evs_sql_section_figures(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	TupleDesc	desc;
	Datum		args[5];
	bool		count_live = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	Datum		values[FIGURES];
	bool		nulls[FIGURES];
	uint64		gen;
	TimestampTz from;
	int			rc;
	HeapTuple	tuple;
	int64		held,
				overdue_seats;
	bool		isnull;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "section_figures must return a record");
	desc = BlessTupleDesc(desc);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
	{
		for (int i = 0; i < FIGURES; i++)
			nulls[i] = true;
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
	}
	/* first the read start, then the snapshot */
	from = evs_sweep_start(&gen);
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = TimestampTzGetDatum(from);	/* DT_NOBEGIN: -infinity, every hold */
	args[3] = TimestampTzGetDatum(evs_now());
	args[4] = count_live ? TimestampTzGetDatum(DT_NOEND) : args[3];	/* how far to read */
	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			t[5] = {UUIDOID, UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};

		plan = evs_spi_prepare_kept(
			"SELECT k.sold, k.held, k.holds, k.confirmed, k.expired, k.released, k.customers, k.buying,"
			"  a.live, a.overdue, a.overdue_seats"
			" FROM (SELECT COALESCE(pg_catalog.sum(c.sold), 0)::pg_catalog.int8 AS sold,"
			"   COALESCE(pg_catalog.sum(c.held), 0)::pg_catalog.int8 AS held,"
			"   COALESCE(pg_catalog.sum(c.holds), 0)::pg_catalog.int8 AS holds,"
			"   COALESCE(pg_catalog.sum(c.holds_confirmed), 0)::pg_catalog.int8 AS confirmed,"
			"   COALESCE(pg_catalog.sum(c.holds_expired), 0)::pg_catalog.int8 AS expired,"
			"   COALESCE(pg_catalog.sum(c.holds_released), 0)::pg_catalog.int8 AS released,"
			"   COALESCE(pg_catalog.sum(c.customers), 0)::pg_catalog.int8 AS customers,"
			"   COALESCE(pg_catalog.sum(c.buying_customers), 0)::pg_catalog.int8 AS buying"
			"   FROM eventsvc.section_counters c"
			"  WHERE c.tenant_id OPERATOR(pg_catalog.=) $1 AND c.capacity_id OPERATOR(pg_catalog.=) $2) k,"
			" (SELECT pg_catalog.count(*) FILTER (WHERE h.expires_at OPERATOR(pg_catalog.>) $4) AS live,"
			"   pg_catalog.count(*) FILTER (WHERE h.expires_at OPERATOR(pg_catalog.<=) $4) AS overdue,"
			"   COALESCE(pg_catalog.sum(h.quantity) FILTER (WHERE h.expires_at OPERATOR(pg_catalog.<=) $4), 0)"
			"     ::pg_catalog.int8 AS overdue_seats"
			"   FROM eventsvc.capacity_holds h"
			"  WHERE h.tenant_id OPERATOR(pg_catalog.=) $1 AND h.capacity_id OPERATOR(pg_catalog.=) $2"
			"    AND h.expires_at OPERATOR(pg_catalog.>=) $3 AND h.expires_at OPERATOR(pg_catalog.<=) $5"
			"    AND h.state OPERATOR(pg_catalog.=) 'ACTIVE'::eventsvc.hold_state) a", 5, t);
	}
	/* this transaction's own hold changes are in the counter rows it reads */
	evs_counters_flush();
	rc = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "section figures failed: %s", SPI_result_code_string(rc));
#define COL(n) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, (n), &isnull))
	held = COL(2);
	overdue_seats = COL(11);
	values[0] = Int64GetDatum(COL(1));				/* sold */
	values[1] = Int64GetDatum(held - overdue_seats);	/* reserved: live ACTIVE seats */
	values[2] = Int64GetDatum(COL(3));				/* holds */
	values[3] = Int64GetDatum(COL(4));				/* holds_confirmed */
	values[4] = Int64GetDatum(COL(5) + COL(10));	/* holds_expired, overdue ones too */
	values[5] = Int64GetDatum(COL(6));				/* holds_released */
	values[6] = Int64GetDatum(COL(9));				/* holds_active: live (when read) */
	values[7] = Int64GetDatum(COL(7));				/* customers */
	values[8] = Int64GetDatum(COL(8));				/* buying_customers */
#undef COL
	for (int i = 0; i < FIGURES; i++)
		nulls[i] = false;
	nulls[6] = !count_live;
	SPI_finish();
	tuple = heap_form_tuple(desc, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

PG_FUNCTION_INFO_V1(evs_sql_section_money);

#define MONEY_FIGURES 11

/*
 * eventsvc.section_money(tenant_id, capacity_id): per currency of the
 * section's purchases (holds without a price left out), what the money
 * columns of its counter rows add up to: purchases, confirmed holds, seats
 * sold, bought and refunded, charged, refunded, and the gross, discounts, fees
 * and tax of the seats still sold (docs/money.md "Revenue"). This
 * transaction's own confirmations and refunds are in it (written first, read
 * with the latest snapshot, as section_figures). Runs as the caller: RLS
 * keeps a tenant to its own rows. Every operator and function is named with
 * its schema: the plan is made in the caller's search path.
 */
Datum
evs_sql_section_money(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		args[2];
	int			rc;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;		/* no section: no rows */
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept(
			"SELECT c.currency::pg_catalog.bpchar(3),"
			"  pg_catalog.sum(c.purchases)::pg_catalog.int8, pg_catalog.sum(c.holds_confirmed)::pg_catalog.int8,"
			"  pg_catalog.sum(c.sold)::pg_catalog.int8, pg_catalog.sum(c.bought)::pg_catalog.int8,"
			"  pg_catalog.sum(c.refunded_seats)::pg_catalog.int8, pg_catalog.sum(c.charged)::pg_catalog.int8,"
			"  pg_catalog.sum(c.refunded)::pg_catalog.int8, pg_catalog.sum(c.gross)::pg_catalog.int8,"
			"  pg_catalog.sum(c.discounts)::pg_catalog.int8, pg_catalog.sum(c.fees)::pg_catalog.int8,"
			"  pg_catalog.sum(c.tax)::pg_catalog.int8"
			" FROM eventsvc.section_counters c"
			" WHERE c.tenant_id OPERATOR(pg_catalog.=) $1 AND c.capacity_id OPERATOR(pg_catalog.=) $2"
			"   AND c.currency OPERATOR(pg_catalog.<>) ''"
			" GROUP BY c.currency HAVING pg_catalog.sum(c.purchases) OPERATOR(pg_catalog.>) 0"
			" ORDER BY c.currency", 2, t);
	}
	/* this transaction's own confirmations and refunds are in the rows it reads */
	evs_counters_flush();
	rc = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "section money failed: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[MONEY_FIGURES + 1];
		bool		nulls[MONEY_FIGURES + 1];

		for (int c = 0; c <= MONEY_FIGURES; c++)
			values[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		/* the tuplestore copies the values: the currency text lives in SPI memory until then */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
