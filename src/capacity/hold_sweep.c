/*
 * hold_sweep.c: releasing many holds at once, across tenants for the expiry
 * sweeper (api.expire_holds), per section for a reservation short of seats,
 * and per event for event cancellation. Seats go back to the sections'
 * counters when the transaction commits.
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "storage/itemptr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_sql_expire_holds);
PG_FUNCTION_INFO_V1(evs_sql_release_event_holds);

/* api.expire_holds() without a limit */
#define EXPIRE_HOLDS_DEFAULT_LIMIT	1000
/* holds one reservation short of seats expires at most, of its own section */
#define RECLAIM_MAX_HOLDS			1000
/* rows handled between two checks for a cancel request */
#define ROWS_PER_INTERRUPT_CHECK	1024

static int	evs_sweep_lock_wait_ms = 100;

static int64 give_back_grouped(void);

/* Called from evs_capacity_init: the sweep's lock wait. */
void
evs_hold_sweep_init(void)
{
	DefineCustomIntVariable("eventsvc.sweep_lock_wait_ms",
							"How long the expiry sweep waits for a hold a buyer is changing right now.",
							"Past it the batch skips the locked holds (the next sweep sees how they ended). "
							"0: skip locked holds at once.",
							&evs_sweep_lock_wait_ms, 100, 0, 10000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
}

/*
 * Releases the locked hold rows listed by `pick` (first column tenant, second
 * hold id, third section) and gives their seats back at commit; the counter
 * rows lose them in the same statement. Counters of the sections are obtained
 * before any row changes (a rebuild counts what this transaction sees).
 * Returns the number of holds released.
 */
static int64
release_picked(SPIPlanPtr pick, Datum *pick_args)
{
	static SPIPlanPtr update_plans[2] = {NULL, NULL};
	bool		counters = evs_counters_ready();
	uint64		n,
				i;
	Datum	   *tenants,
			   *ids;
	Datum		uv[4];
	int			rc;
	SPITupleTable *picked;

	rc = SPI_execute_plan(pick, pick_args, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold selection failed: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	if (n == 0)
		return 0;
	picked = SPI_tuptable;
	tenants = palloc(n * sizeof(Datum));
	ids = palloc(n * sizeof(Datum));
	for (i = 0; i < n; i++)
	{
		HeapTuple	row = picked->vals[i];

		tenants[i] = evs_getbinval_notnull(row, picked->tupdesc, 1, "the hold's tenant");
		ids[i] = evs_getbinval_notnull(row, picked->tupdesc, 2, "the hold's id");
		/* cheap after the first hold of a section: a backend-local lookup */
		evs_seats_give_begin(tenants[i], evs_getbinval_notnull(row, picked->tupdesc, 3, "the hold's section"));
		if (i % ROWS_PER_INTERRUPT_CHECK == 0)
			CHECK_FOR_INTERRUPTS();
	}
	uv[0] = PointerGetDatum(construct_array(tenants, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	uv[1] = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	uv[2] = TimestampTzGetDatum(evs_now());
	uv[3] = Int32GetDatum(evs_counters_stripe());
	if (update_plans[counters] == NULL)
	{
		Oid			t[4] = {UUIDARRAYOID, UUIDARRAYOID, TIMESTAMPTZOID, INT4OID};

		/* a 1.1 hold says why it ended (a library built for 1.0 has no column for it) */
		update_plans[counters] = evs_spi_prepare_kept(evs_counters_bulk_sql(
			evs_holds_schema_ready()
			? "UPDATE eventsvc.capacity_holds AS h SET state = 'RELEASED', released_at = $3,"
			"  state_reason = 'the event was cancelled'"
			" FROM unnest($1, $2) AS k(tenant_id, id)"
			" WHERE h.tenant_id = k.tenant_id AND h.id = k.id AND h.state = 'ACTIVE'"
			: "UPDATE eventsvc.capacity_holds AS h SET state = 'RELEASED', released_at = $3"
			" FROM unnest($1, $2) AS k(tenant_id, id)"
			" WHERE h.tenant_id = k.tenant_id AND h.id = k.id AND h.state = 'ACTIVE'",
			"holds_released", 4), 4, t);
	}
	rc = evs_hold_write(update_plans[counters], uv, NULL, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold release failed: %s", SPI_result_code_string(rc));
	return give_back_grouped();
}

/* Returns the seats of the rows a hold-changing statement reported as (tenant, section, seats, holds). */
static int64
give_back_grouped(void)
{
	int64		changed = 0;
	bool		isnull;
	uint64		n = SPI_processed;
	SPITupleTable *groups = SPI_tuptable;
	EvsSeatKey *keys = palloc(Max(n, 1) * sizeof(EvsSeatKey));
	int64	   *seats = palloc(Max(n, 1) * sizeof(int64));

	/* read every group first: the return path runs statements of its own */
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	row = groups->vals[i];

		keys[i].tenant = datumCopy(evs_getbinval_notnull(row, groups->tupdesc, 1, "the holds' tenant"), false, UUID_LEN);
		keys[i].section = datumCopy(evs_getbinval_notnull(row, groups->tupdesc, 2, "the holds' section"), false, UUID_LEN);
		seats[i] = DatumGetInt64(SPI_getbinval(row, groups->tupdesc, 3, &isnull));
		changed += DatumGetInt64(SPI_getbinval(row, groups->tupdesc, 4, &isnull));
	}
	/* each section's seats: its waitlist first, then its open pool (seat_return.c) */
	for (uint64 i = 0; i < n; i++)
		(void) evs_seats_returned(&keys[i], seats[i], 0);
	return changed;
}

/*
 * Runs the expiry UPDATE over the picked row addresses with a short lock
 * wait, in a subtransaction. False when a row stayed locked (nothing changed:
 * the subtransaction rolled back); other errors propagate.
 */
static bool
expire_picked_waiting(SPIPlanPtr plan, Datum *args)
{
	MemoryContext outer = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool done = true;
	int			rc;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(outer);
	PG_TRY();
	{
		int			nest = NewGUCNestLevel();

		(void) set_config_option("lock_timeout", psprintf("%d", evs_sweep_lock_wait_ms), PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		rc = evs_hold_write(plan, args, NULL, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "hold expiry failed: %s", SPI_result_code_string(rc));
		AtEOXact_GUC(true, nest);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(outer);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* end our subtransaction first: a caller's exception block expects its own to be current */
		MemoryContextSwitchTo(outer);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(outer);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		FreeErrorData(edata);
		done = false;
	}
	PG_END_TRY();
	return done;
}

/*
 * Expire up to `limit` holds whose time has passed, across tenants, in the
 * caller's transaction (the worker's sweeper and api.expire_holds call it).
 *  1. Pick the batch, reading only [read start, now] of the expiry index
 *     (sweep_horizon.c), and build the counters of its sections before any
 *     row changes (a rebuild counts what this transaction sees).
 *  2. Expire the picked rows by address (no row can take the address of a
 *     picked one while this transaction runs: VACUUM keeps what it may see).
 *     A state change only, a HOT update, since no index covers the state. A row
 *     being confirmed or released right now is waited for at most
 *     eventsvc.sweep_lock_wait_ms; past that the batch is taken again with FOR UPDATE SKIP
 *     LOCKED, so a buyer's open transaction never stalls the sweep (the next
 *     sweep sees how it ended).
 *  3. Propose the new read start: the first ACTIVE hold left in the range (the
 *     last one picked, when the batch was full and every pick expired), the
 *     oldest open hold writer, or the real clock, whichever is earliest; it
 *     applies when this transaction commits.
 */
int64
evs_expire_holds(int limit)
{
	static SPIPlanPtr pick_plan = NULL;
	static SPIPlanPtr expire_plans[2] = {NULL, NULL};
	static SPIPlanPtr locked_plans[2] = {NULL, NULL};
	static SPIPlanPtr left_plan = NULL;
	bool		counters;
	EvsRoleSwitch as_owner;
	Datum		args[3];
	int			rc;
	int64		n = 0;
	uint64		npicked,
				gen;
	TimestampTz from,
				upto,
				next,
				oldest;
	bool		isnull;

	if (limit < 1)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("expire_holds needs a limit of at least 1")));
	from = evs_sweep_start(&gen);
	oldest = evs_sweep_oldest_writer();
	upto = evs_now();
	/* the sweeper's role has no RLS policy and works across tenants; every statement below filters */
	evs_become_owner(&as_owner);
	evs_spi_connect();
	counters = evs_counters_ready();
	if (expire_plans[counters] == NULL)
	{
		Oid			u[4] = {TIDARRAYOID, TIMESTAMPTZOID, INT4OID, INT4OID};
		/*
		 * The expiry is checked again (a buyer may extend the hold meanwhile),
		 * in a form the expiry index cannot serve: the rows come by address.
		 */
		const char *update =
			"UPDATE eventsvc.capacity_holds AS h SET state = 'EXPIRED', released_at = $2"
			" WHERE h.ctid = ANY (%s) AND h.state = 'ACTIVE' AND h.expires_at - $2 <= interval '0'";

		/* an array the planner cannot size: it reads the rows by address, not by a table scan */
		expire_plans[counters] = evs_spi_prepare_kept(
			evs_counters_bulk_sql(psprintf(update, "ARRAY(SELECT unnest($1))"), "holds_expired", 4), 4, u);
		locked_plans[counters] = evs_spi_prepare_kept(evs_counters_bulk_sql(psprintf(update,
			"ARRAY(SELECT ctid FROM eventsvc.capacity_holds WHERE ctid = ANY ($1) AND state = 'ACTIVE'"
			"  AND expires_at <= $2 LIMIT $3 FOR UPDATE SKIP LOCKED)"), "holds_expired", 4), 4, u);
	}
	if (pick_plan == NULL)
	{
		Oid			t[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID};

		pick_plan = evs_spi_prepare_kept(
			"SELECT ctid, tenant_id, capacity_id, expires_at FROM eventsvc.capacity_holds"
			" WHERE expires_at >= $1 AND expires_at <= $2 AND state = 'ACTIVE'"
			" ORDER BY expires_at LIMIT $3", 3, t);
		left_plan = evs_spi_prepare_kept(
			"SELECT expires_at FROM eventsvc.capacity_holds"
			" WHERE expires_at >= $1 AND expires_at <= $2 AND state = 'ACTIVE'"
			" ORDER BY expires_at LIMIT 1", 2, t);
	}
	args[0] = TimestampTzGetDatum(from);
	args[1] = TimestampTzGetDatum(upto);
	args[2] = Int32GetDatum(limit);
	rc = SPI_execute_plan(pick_plan, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "expired holds query failed: %s", SPI_result_code_string(rc));
	npicked = SPI_processed;
	next = upto;
	if (npicked > 0)
	{
		SPITupleTable *found = SPI_tuptable;
		Datum	   *tids = palloc(npicked * sizeof(Datum));
		Datum	   *tenants = palloc(npicked * sizeof(Datum));
		Datum	   *sections = palloc(npicked * sizeof(Datum));
		int			nsec = 0;
		Datum		uv[4];

		for (uint64 i = 0; i < npicked; i++)
		{
			Datum		tenant = evs_getbinval_notnull(found->vals[i], found->tupdesc, 2, "the hold's tenant");
			Datum		section = evs_getbinval_notnull(found->vals[i], found->tupdesc, 3, "the hold's section");
			bool		seen = false;

			tids[i] = evs_getbinval_notnull(found->vals[i], found->tupdesc, 1, "the hold's row id");
			/* batches are ordered by expiry, so a section's holds mostly come in runs */
			for (int k = nsec - 1; k >= 0 && k >= nsec - 8 && !seen; k--)
				seen = memcmp(DatumGetUUIDP(sections[k]), DatumGetUUIDP(section), UUID_LEN) == 0 &&
					memcmp(DatumGetUUIDP(tenants[k]), DatumGetUUIDP(tenant), UUID_LEN) == 0;
			if (!seen)
			{
				/* a backend-local lookup once the section's counter exists */
				evs_seats_give_begin(tenant, section);
				tenants[nsec] = tenant;
				sections[nsec] = section;
				nsec++;
			}
			if (i % ROWS_PER_INTERRUPT_CHECK == 0)
				CHECK_FOR_INTERRUPTS();
		}
		/* the batch is in expiry order: its last hold bounds what a full batch leaves */
		if (npicked == (uint64) limit)
			next = DatumGetTimestampTz(SPI_getbinval(found->vals[npicked - 1], found->tupdesc, 4, &isnull));
		uv[0] = PointerGetDatum(construct_array(tids, npicked, TIDOID, sizeof(ItemPointerData), false,
												TYPALIGN_SHORT));
		uv[1] = TimestampTzGetDatum(upto);
		uv[2] = Int32GetDatum(limit);
		uv[3] = Int32GetDatum(evs_counters_stripe());
		if (evs_sweep_lock_wait_ms == 0 || !expire_picked_waiting(expire_plans[counters], uv))
		{
			rc = evs_hold_write(locked_plans[counters], uv, NULL, 0);
			if (rc != SPI_OK_SELECT)
				elog(ERROR, "hold expiry failed: %s", SPI_result_code_string(rc));
		}
		n = give_back_grouped();
	}
	/*
	 * What this sweep leaves ACTIVE in its range. When every picked hold was
	 * expired, that is nothing before the last one picked (a full batch) or
	 * nothing at all: the pick read the range in expiry order. Otherwise some
	 * were skipped (locked, or changed meanwhile): look for the first left.
	 */
	if ((uint64) n != npicked)
	{
		rc = SPI_execute_plan(left_plan, args, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "sweep horizon query failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 1)
		{
			TimestampTz first = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
																  &isnull));

			if (first < next)
				next = first;
		}
	}
	if (oldest < next)
		next = oldest;
	/* never past the real clock: a test clock ahead must not skip today's holds */
	if (GetCurrentTransactionStartTimestamp() < next)
		next = GetCurrentTransactionStartTimestamp();
	evs_sweep_propose(next, gen);
	/* ended holds past their retention leave for the archive (1.1) */
	if (evs_holds_schema_ready())
	{
		/* free seats of sections whose waitlist still lacks some go to the queue */
		(void) evs_waitlist_sweep_draw(limit);
		(void) evs_archive_holds(limit);
	}
	SPI_finish();
	evs_switch_back(&as_owner);
	return n;
}

/*
 * Expires, in this transaction, the section's holds that are past their time
 * but not yet swept, and returns their seats. Used when a request would
 * otherwise be refused: a section is sold out only when it truly lacks the
 * seats. Rows a sweeper or a buyer is changing right now are skipped; if this
 * transaction aborts, the holds are simply ACTIVE (and expired) again.
 */
int64
evs_reclaim_expired(Datum tenant, Datum section_id)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	bool		counters = evs_counters_ready();
	uint64		gen;
	Datum		v[5] = {tenant, section_id, TimestampTzGetDatum(evs_now()), TimestampTzGetDatum(evs_sweep_start(&gen)),
	Int32GetDatum(evs_counters_stripe())};
	bool		isnull;
	int64		freed = 0;
	int			rc;

	if (plans[counters] == NULL)
	{
		Oid			t[5] = {UUIDOID, UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID};

		/* the section's slice of the sweep's range (sweep_horizon.c) */
		plans[counters] = evs_spi_prepare_kept(evs_counters_bulk_sql(
			"UPDATE eventsvc.capacity_holds AS h SET state = 'EXPIRED', released_at = $3"
			" WHERE h.ctid = ANY (ARRAY(SELECT ctid FROM eventsvc.capacity_holds"
			"        WHERE tenant_id = $1 AND capacity_id = $2 AND expires_at >= $4 AND expires_at <= $3"
			"          AND state = 'ACTIVE'"
			"        ORDER BY expires_at LIMIT " CppAsString2(RECLAIM_MAX_HOLDS) " FOR UPDATE SKIP LOCKED))"
			" AND h.state = 'ACTIVE'", "holds_expired", 5), 5, t);
	}
	rc = evs_hold_write(plans[counters], v, NULL, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reclaiming expired holds failed: %s", SPI_result_code_string(rc));
	/* one section: at most one row */
	if (SPI_processed == 1)
		freed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	return freed;
}

/*
 * Release every active hold of an event (event cancellation), or with
 * `date` of one date of a series (the holds of its date sections; the date's
 * cancellation, docs/series.md). Returns holds released.
 */
static int64
release_scope_holds(Datum tenant_id, Datum scope_id, bool date)
{
	static SPIPlanPtr picks[2] = {NULL, NULL};
	EvsRoleSwitch as_owner;
	Datum		args[2] = {tenant_id, scope_id};
	int64		n;

	evs_become_owner(&as_owner);
	evs_spi_connect();
	if (picks[date] == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		picks[date] = evs_spi_prepare_kept(date
			? "SELECT tenant_id, id, capacity_id FROM eventsvc.capacity_holds"
			  " WHERE tenant_id = $1 AND capacity_id IN (SELECT s.id FROM eventsvc.event_capacity s"
			  "  WHERE s.tenant_id = $1 AND s.occurrence_id = $2) AND state = 'ACTIVE' FOR UPDATE"
			: "SELECT tenant_id, id, capacity_id FROM eventsvc.capacity_holds"
			  " WHERE tenant_id = $1 AND event_id = $2 AND state = 'ACTIVE' FOR UPDATE", 2, t);
	}
	n = release_picked(picks[date], args);
	/* nobody waits for seats of a cancelled event or date */
	evs_waitlist_close(tenant_id, scope_id, date);
	SPI_finish();
	evs_switch_back(&as_owner);
	return n;
}

/* Release every active hold of an event (event cancellation). Returns holds released. */
int64
evs_release_event_holds(Datum tenant_id, Datum event_id)
{
	return release_scope_holds(tenant_id, event_id, false);
}

/* Release every active hold of one date of a series (its cancellation). Returns holds released. */
int64
evs_release_date_holds(Datum tenant_id, Datum occurrence_id)
{
	return release_scope_holds(tenant_id, occurrence_id, true);
}

/* api.expire_holds(limit): evs_expire_holds for SQL (pg_cron, operators). */
Datum
evs_sql_expire_holds(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(evs_expire_holds(PG_ARGISNULL(0) ? EXPIRE_HOLDS_DEFAULT_LIMIT : PG_GETARG_INT32(0)));
}

/* eventsvc.release_event_holds(event_id): releases the caller's tenant's active holds of an event. */
Datum
evs_sql_release_event_holds(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("release_event_holds needs event_id")));
	PG_RETURN_INT64(evs_release_event_holds(evs_current_tenant(), PG_GETARG_DATUM(0)));
}
