/*
 * capacity_check.c: whether a section's figures tell the truth.
 * eventsvc.check_capacity(section) recomputes one section from its hold rows
 * and compares the shared counter and the counter rows with them; the
 * scheduled drift check (eventsvc.check_capacity_drift, run by the worker or
 * pg_cron) does the same for the sections that changed recently, keeps what it
 * finds in eventsvc.capacity_drift_findings (api.capacity_drift) and emits
 * capacity.drift_detected when drift persists across two checks.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
#include "capacity/capacity.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_sql_check_capacity);
PG_FUNCTION_INFO_V1(evs_sql_check_capacity_drift);

/*
 * How long a check looks for a moment when no other transaction has records
 * on the counter (real time), before it answers "busy".
 */
#define CHECK_WAIT_MS 200
/* The drift check's defaults: sections with holds live or expired in the last 10 minutes, 500 per run. */
#define DRIFT_WINDOW_SECONDS 600
#define DRIFT_MAX_SECTIONS 500
/* Consecutive checks that must find drift before it is reported. */
#define DRIFT_REPORT_AFTER 2

/* What one check of a section found. */
typedef struct CapacityCheck
{
	int64		total;			/* the section's seats */
	int64		held;			/* seats of ACTIVE holds (the hold rows) */
	int64		sold;			/* seats of CONFIRMED holds */
	bool		have;			/* a valid shared counter was compared */
	int64		counter;		/* its free seats (with this transaction's own gives) */
	int			others;			/* other transactions' records on it */
	bool		exact;			/* the comparison is exact (else busy) */
	bool		counters;		/* the counter rows exist (a 1.1 schema) */
	int64		rows_held;
	int64		rows_sold;
	int64		rows_mismatch;	/* currencies whose counter rows differ from the holds */
	int64		money_mismatch; /* currencies whose money differs from the purchases and refunds */
} CapacityCheck;

/*
 * Checks one section (SPI connected, as a role that sees its rows; the
 * section is known to exist in `tenant`). build: a stale counter is built
 * first, as a reservation would, and the section row's counter columns are
 * refreshed (a change of the row: its version moves); otherwise only a valid
 * counter is compared and the row is left alone.
 *
 * The counter and the rows are read at different instants, so a comparison is
 * only exact when nothing settled in between: the counter is read before and
 * after the rows, and the two readings must be the same (no record appended
 * or settled: `changes`), with no other transaction's records on it. Then
 * every transaction that committed before the rows were read had settled on
 * the counter before the first reading, and none was in flight. This
 * transaction's own records are known: seats it gives back at commit are
 * added to the counter's side. Otherwise it reads again, for up to
 * CHECK_WAIT_MS, and then answers busy rather than a guess.
 */
static void
check_section(Datum tenant, Datum section, bool build, CapacityCheck *c)
{
	Datum		v[2] = {tenant, section};
	Oid			t[2] = {UUIDOID, UUIDOID};
	EvsEscrowEntry e;
	static SPIPlanPtr checks[2] = {NULL, NULL};
	bool		counters = evs_counters_ready();
	int			rc;
	bool		isnull;
	TimestampTz deadline;

	memset(c, 0, sizeof(*c));
	c->counter = -1;
	c->exact = true;
	c->counters = counters;
	/* a counter to compare with */
	if (build)
		c->have = evs_escrow_section(tenant, section, &e) && evs_escrow_ready(&e, tenant, section);
	else
	{
		int64		free_now;

		c->have = evs_escrow_find(tenant, section, &e) && evs_escrow_free(&e, &free_now);
	}

	/*
	 * One snapshot for the holds and the counter rows: per currency, what the
	 * holds add up to against what the counter rows say (both change in the
	 * same transactions, so any difference is drift).
	 */
#define CHECK_HOLDS \
	"WITH h AS (SELECT coalesce(currency, '')::text AS currency," \
	"  coalesce(sum(quantity) FILTER (WHERE state = 'ACTIVE'), 0)::int8 AS held," \
	"  coalesce(sum(quantity) FILTER (WHERE state = 'CONFIRMED'), 0)::int8 AS sold," \
	"  coalesce(sum(quantity::int8 * unit_price) FILTER (WHERE state = 'CONFIRMED'), 0)::int8 AS revenue," \
	"  count(*)::int8 AS holds, count(*) FILTER (WHERE state = 'CONFIRMED')::int8 AS confirmed," \
	"  count(*) FILTER (WHERE state = 'EXPIRED')::int8 AS expired," \
	"  count(*) FILTER (WHERE state = 'RELEASED')::int8 AS released"
	if (checks[counters] == NULL)
		checks[counters] = evs_spi_prepare_kept(counters
			? CHECK_HOLDS ", " EVS_SQL_HOLD_MONEY
			  "  FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND capacity_id = $2 GROUP BY 1),"
			  " r AS (SELECT coalesce(currency, '')::text AS currency, " EVS_SQL_REFUND_MONEY
			  "  FROM eventsvc.hold_refunds WHERE tenant_id = $1 AND capacity_id = $2 GROUP BY 1),"
			  /* what the counter rows should say, per currency: the holds' seats and money, less the refunds */
			  " w AS (SELECT currency, coalesce(h.held, 0) AS held, coalesce(h.sold, 0) AS sold,"
			  "  coalesce(h.revenue, 0) AS revenue, coalesce(h.holds, 0) AS holds, coalesce(h.confirmed, 0) AS confirmed,"
			  "  coalesce(h.expired, 0) AS expired, coalesce(h.released, 0) AS released, " EVS_SQL_MONEY_KEPT
			  "  FROM h FULL JOIN r USING (currency)),"
			  " k AS (SELECT currency, sum(held)::int8 AS held, sum(sold)::int8 AS sold,"
			  "  sum(revenue)::int8 AS revenue, sum(holds)::int8 AS holds, sum(holds_confirmed)::int8 AS confirmed,"
			  "  sum(holds_expired)::int8 AS expired, sum(holds_released)::int8 AS released,"
			  "  sum(purchases)::int8 AS purchases, sum(bought)::int8 AS bought, sum(charged)::int8 AS charged,"
			  "  sum(gross)::int8 AS gross, sum(discounts)::int8 AS discounts, sum(fees)::int8 AS fees,"
			  "  sum(tax)::int8 AS tax, sum(refunded_seats)::int8 AS refunded_seats, sum(refunded)::int8 AS refunded"
			  "  FROM eventsvc.section_counters WHERE tenant_id = $1 AND capacity_id = $2 GROUP BY 1),"
			  /* per currency, both sides (a side without the currency counts zeros) */
			  " z AS (SELECT (coalesce(w.held, 0), coalesce(w.sold, 0), coalesce(w.revenue, 0),"
			  " coalesce(w.holds, 0), coalesce(w.confirmed, 0), coalesce(w.expired, 0),"
			  " coalesce(w.released, 0)) IS DISTINCT FROM (coalesce(k.held, 0), coalesce(k.sold, 0),"
			  " coalesce(k.revenue, 0), coalesce(k.holds, 0), coalesce(k.confirmed, 0),"
			  " coalesce(k.expired, 0), coalesce(k.released, 0)) AS seats_differ, (coalesce(w.purchases,"
			  " 0), coalesce(w.bought, 0), coalesce(w.charged, 0), coalesce(w.gross, 0),"
			  " coalesce(w.discounts, 0), coalesce(w.fees, 0), coalesce(w.tax, 0),"
			  " coalesce(w.refunded_seats, 0), coalesce(w.refunded, 0)) IS DISTINCT FROM"
			  " (coalesce(k.purchases, 0), coalesce(k.bought, 0), coalesce(k.charged, 0),"
			  " coalesce(k.gross, 0), coalesce(k.discounts, 0), coalesce(k.fees, 0), coalesce(k.tax, 0),"
			  " coalesce(k.refunded_seats, 0), coalesce(k.refunded, 0)) AS money_differ FROM w FULL JOIN k"
			  " USING (currency))"
			  " SELECT s.total_capacity::int8, (SELECT coalesce(sum(held), 0)::int8 FROM h),"
			  "  (SELECT coalesce(sum(sold), 0)::int8 FROM h), (SELECT coalesce(sum(held), 0)::int8 FROM k),"
			  "  (SELECT coalesce(sum(sold), 0)::int8 FROM k),"
			  "  (SELECT count(*) FROM z WHERE seats_differ), (SELECT count(*) FROM z WHERE money_differ)"
			  " FROM eventsvc.event_capacity s WHERE s.tenant_id = $1 AND s.id = $2"
			: CHECK_HOLDS " FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND capacity_id = $2 GROUP BY 1)"
			  " SELECT s.total_capacity::int8, (SELECT coalesce(sum(held), 0)::int8 FROM h),"
			  "  (SELECT coalesce(sum(sold), 0)::int8 FROM h), NULL::int8, NULL::int8, NULL::int8, NULL::int8"
			  " FROM eventsvc.event_capacity s WHERE s.tenant_id = $1 AND s.id = $2", 2, t);
	/* this transaction's own changes are in the counter rows it compares */
	evs_counters_flush();
	deadline = GetCurrentTimestamp() + (TimestampTz) CHECK_WAIT_MS * 1000;
	for (;;)
	{
		EvsEscrowReading before,
					after;

		if (c->have)
			evs_escrow_read(&e, &before);
		rc = SPI_execute_snapshot(checks[counters], v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "capacity check failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 0)
			ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("section %s not found", evs_uuid_text(section))));
		c->total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		c->held = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		c->sold = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		if (counters)
		{
			c->rows_held = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
			c->rows_sold = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
			c->rows_mismatch = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull));
			c->money_mismatch = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &isnull));
		}
		SPI_freetuptable(SPI_tuptable);
		if (!c->have)
			break;
		evs_escrow_read(&e, &after);
		c->others = after.others;
		c->counter = after.available;
		c->exact = before.stable && after.stable && before.changes == after.changes && after.valid &&
			after.others == 0;
		if (c->exact)
		{
			c->counter += after.own_pending;
			break;
		}
		if (GetCurrentTimestamp() >= deadline)
			break;
		CHECK_FOR_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	if (!build)
		return;
	rc = SPI_execute_with_args("UPDATE eventsvc.event_capacity SET available_capacity = greatest($3::int8, 0)::int4,"
							   " reserved_capacity = $4::int4, sold_count = $5::int4"
							   " WHERE tenant_id = $1 AND id = $2 AND (available_capacity, reserved_capacity, sold_count)"
							   "  IS DISTINCT FROM (greatest($3::int8, 0)::int4, $4::int4, $5::int4)",
							   5, (Oid[]) {UUIDOID, UUIDOID, INT8OID, INT8OID, INT8OID},
							   (Datum[]) {tenant, section, Int64GetDatum(c->total - c->held - c->sold),
							   Int64GetDatum(c->held), Int64GetDatum(c->sold)}, NULL, false, 1);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "counter refresh failed: %s", SPI_result_code_string(rc));
}

/* The shared counter's drift: its free seats less what the rows leave free (0 when none was compared). */
static int64
counter_drift(const CapacityCheck *c)
{
	return c->have ? c->counter - (c->total - c->held - c->sold) : 0;
}

/*
 * eventsvc.check_capacity(section): recompute the section from its hold rows
 * (latest committed state), compare with the shared counter and the counter
 * rows, and refresh the row's derived counters. Reports drift; never hides
 * it, never invents it (busy, drift null, when no exact moment came).
 */
Datum
evs_sql_check_capacity(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	Datum		section;
	Datum		v[2];
	Oid			t[2] = {UUIDOID, UUIDOID};
	CapacityCheck c;
	int			rc;
	JsonbParseState *st = NULL;
	Jsonb	   *result;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext spi;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("check_capacity needs capacity_id")));
	tenant = evs_current_tenant();
	section = PG_GETARG_DATUM(0);
	v[0] = tenant;
	v[1] = section;
	evs_spi_connect();

	/*
	 * The section must be the caller's before its counter is touched: building
	 * a counter reads the rows this tenant sees, and another tenant's section
	 * (or an unknown id) must leave shared memory alone.
	 */
	rc = SPI_execute_with_args("SELECT 1 FROM eventsvc.event_capacity WHERE tenant_id = $1 AND id = $2",
							   2, t, v, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "section lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("section %s not found", evs_uuid_text(section))));
	check_section(tenant, section, true, &c);

	spi = MemoryContextSwitchTo(outer);
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "section_id", section);
	evs_jsonb_push_int(&st, "total", c.total);
	evs_jsonb_push_int(&st, "held", c.held);
	evs_jsonb_push_int(&st, "sold", c.sold);
	evs_jsonb_push_int(&st, "available", c.total - c.held - c.sold);
	if (c.have)
		evs_jsonb_push_int(&st, "counter", c.counter);
	else
		evs_jsonb_push_null(&st, "counter");
	evs_jsonb_push_int(&st, "in_flight", c.others);
	evs_jsonb_push_bool(&st, "busy", !c.exact);
	if (c.exact)
		evs_jsonb_push_int(&st, "drift", counter_drift(&c));
	else
		evs_jsonb_push_null(&st, "drift");
	evs_jsonb_push_bool(&st, "oversold", c.held + c.sold > c.total);
	/* the counter rows against the holds: exact in any snapshot */
	if (c.counters)
	{
		evs_jsonb_begin_object(&st, "rows");
		evs_jsonb_push_int(&st, "held", c.rows_held);
		evs_jsonb_push_int(&st, "sold", c.rows_sold);
		evs_jsonb_push_int(&st, "drift", (c.rows_held + c.rows_sold) - (c.held + c.sold));
		evs_jsonb_push_bool(&st, "agree", c.rows_mismatch == 0 && c.money_mismatch == 0);
		/* the money columns against the purchases and refunds (docs/money.md "Revenue") */
		evs_jsonb_push_bool(&st, "revenue_agree", c.money_mismatch == 0);
		(void) evs_jsonb_end(&st);
	}
	else
		evs_jsonb_push_null(&st, "rows");
	result = evs_jsonb_end(&st);
	MemoryContextSwitchTo(spi);
	SPI_finish();
	PG_RETURN_JSONB_P(result);
}

/* What a drift check run did. */
typedef struct DriftRun
{
	int64		checked;		/* sections compared exactly */
	int64		busy;			/* sections with transactions in flight all along: left for the next run */
	int64		drifting;		/* sections found drifting */
	int64		reported;		/* capacity.drift_detected messages written */
	int64		cleared;		/* findings of earlier runs that no longer hold */
} DriftRun;

/*
 * One section of a drift run: its finding is written (or cleared) with what
 * the check found, and reported once it has drifted in DRIFT_REPORT_AFTER
 * consecutive checks. A busy check changes nothing.
 */
static void
drift_one(Datum tenant, Datum section, Datum event, DriftRun *run)
{
	CapacityCheck c;
	EvsArgs		a = {0};
	bool		drifting;
	bool		isnull;
	int32		checks;
	bool		reported;

	check_section(tenant, section, false, &c);
	if (!c.exact)
	{
		run->busy++;
		return;
	}
	run->checked++;
	drifting = counter_drift(&c) != 0 || (c.counters && (c.rows_mismatch != 0 || c.money_mismatch != 0)) ||
		c.held + c.sold > c.total;
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, section, false);
	if (!drifting)
	{
		evs_exec("DELETE FROM eventsvc.capacity_drift_findings WHERE tenant_id = $1 AND capacity_id = $2",
				 &a, SPI_OK_DELETE);
		run->cleared += SPI_processed;
		return;
	}
	run->drifting++;
	evs_arg(&a, UUIDOID, event, false);
	evs_arg(&a, INT8OID, Int64GetDatum(c.total), false);
	evs_arg(&a, INT8OID, Int64GetDatum(c.held), false);
	evs_arg(&a, INT8OID, Int64GetDatum(c.sold), false);
	evs_arg(&a, INT8OID, Int64GetDatum(c.counter), !c.have);
	evs_arg(&a, INT8OID, Int64GetDatum(counter_drift(&c)), !c.have);
	evs_arg(&a, INT8OID, Int64GetDatum(c.rows_held + c.rows_sold - c.held - c.sold), !c.counters);
	evs_arg(&a, BOOLOID, BoolGetDatum(c.rows_mismatch == 0 && c.money_mismatch == 0), !c.counters);
	evs_exec("INSERT INTO eventsvc.capacity_drift_findings AS f (tenant_id, capacity_id, event_id, first_seen_at,"
			 "  last_checked_at, checks, total_capacity, held, sold, counter, counter_drift, rows_drift, rows_agree)"
			 " VALUES ($1, $2, $3, eventsvc.now(), eventsvc.now(), 1, $4, $5, $6, $7, $8, $9, $10)"
			 " ON CONFLICT (tenant_id, capacity_id) DO UPDATE SET last_checked_at = excluded.last_checked_at,"
			 "  checks = f.checks + 1, event_id = excluded.event_id, total_capacity = excluded.total_capacity,"
			 "  held = excluded.held, sold = excluded.sold, counter = excluded.counter,"
			 "  counter_drift = excluded.counter_drift, rows_drift = excluded.rows_drift,"
			 "  rows_agree = excluded.rows_agree"
			 " RETURNING checks, reported_at IS NOT NULL", &a, SPI_OK_INSERT_RETURNING);
	checks = DatumGetInt32(evs_get(0, 1, &isnull));
	reported = DatumGetBool(evs_get(0, 2, &isnull));
	SPI_freetuptable(SPI_tuptable);
	if (checks >= DRIFT_REPORT_AFTER && !reported)
	{
		JsonbParseState *st = NULL;
		Jsonb	   *data;
		EvsArgs		b = {0};

		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_uuid(&st, "event_id", event);
		evs_jsonb_push_uuid(&st, "capacity_id", section);
		evs_jsonb_push_int(&st, "total_capacity", c.total);
		evs_jsonb_push_int(&st, "held", c.held);
		evs_jsonb_push_int(&st, "sold", c.sold);
		if (c.have)
		{
			evs_jsonb_push_int(&st, "counter", c.counter);
			evs_jsonb_push_int(&st, "counter_drift", counter_drift(&c));
		}
		else
		{
			evs_jsonb_push_null(&st, "counter");
			evs_jsonb_push_null(&st, "counter_drift");
		}
		if (c.counters)
		{
			evs_jsonb_push_int(&st, "rows_drift", c.rows_held + c.rows_sold - c.held - c.sold);
			evs_jsonb_push_bool(&st, "rows_agree", c.rows_mismatch == 0 && c.money_mismatch == 0);
			evs_jsonb_push_bool(&st, "revenue_agree", c.money_mismatch == 0);
		}
		else
		{
			evs_jsonb_push_null(&st, "rows_drift");
			evs_jsonb_push_null(&st, "rows_agree");
			evs_jsonb_push_null(&st, "revenue_agree");
		}
		evs_jsonb_push_bool(&st, "oversold", c.held + c.sold > c.total);
		evs_jsonb_push_int(&st, "checks", checks);
		data = evs_jsonb_end(&st);
		evs_outbox_emit_key(tenant, event, EVS_RK_CAPACITY_DRIFT, data);
		evs_arg(&b, UUIDOID, tenant, false);
		evs_arg(&b, UUIDOID, section, false);
		evs_exec("UPDATE eventsvc.capacity_drift_findings SET reported_at = eventsvc.now()"
				 " WHERE tenant_id = $1 AND capacity_id = $2", &b, SPI_OK_UPDATE);
		run->reported++;
	}
}

/*
 * One drift check across tenants, in the caller's transaction (the worker's
 * unit of work, pg_cron, a DBA): the sections with a hold live or expired in
 * the last window_seconds (the expiry index from now - window: every hold
 * made, extended, confirmed or released since then expires after that), the
 * ones with an open finding first, at most max_sections, most recently active
 * first; then findings of sections no longer there are dropped. Counters are
 * compared, never built. Returns what it did.
 */
Jsonb *
evs_capacity_drift_check(int window_seconds, int max_sections)
{
	static SPIPlanPtr pick = NULL;
	EvsRoleSwitch as_owner;
	DriftRun	run = {0};
	Datum		args[2];
	uint64		n;
	Datum	   *keys;
	int			rc;
	JsonbParseState *st = NULL;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext iter;
	EvsArgs		none = {0};

	if (window_seconds < 1 || max_sections < 1)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("check_capacity_drift needs a window of at least 1 second and at least 1 section"),
				 errdetail("window_seconds %d, max_sections %d.", window_seconds, max_sections)));
	/* across tenants: RLS off, every statement names the tenant */
	evs_become_owner(&as_owner);
	evs_spi_connect();
	if (pick == NULL)
	{
		Oid			t[2] = {TIMESTAMPTZOID, INT4OID};

		pick = evs_spi_prepare_kept(
			"WITH recent AS (SELECT h.tenant_id, h.capacity_id, max(h.expires_at) AS last"
			"   FROM eventsvc.capacity_holds h WHERE h.expires_at >= $1 GROUP BY 1, 2),"
			" candidates AS (SELECT tenant_id, capacity_id, max(last) AS last, bool_or(open) AS open FROM ("
			"   SELECT tenant_id, capacity_id, last, false AS open FROM recent"
			"   UNION ALL SELECT tenant_id, capacity_id, NULL, true FROM eventsvc.capacity_drift_findings) u"
			"   GROUP BY 1, 2)"
			" SELECT c.tenant_id, c.capacity_id, s.event_id FROM candidates c"
			"   JOIN eventsvc.event_capacity s ON s.tenant_id = c.tenant_id AND s.id = c.capacity_id"
			"  ORDER BY c.open DESC, c.last DESC NULLS LAST, c.tenant_id, c.capacity_id LIMIT $2", 2, t);
	}
	args[0] = TimestampTzGetDatum(evs_now() - (TimestampTz) window_seconds * USECS_PER_SEC);
	args[1] = Int32GetDatum(max_sections);
	rc = SPI_execute_plan(pick, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "drift check: picking sections failed: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	/* keep the keys: every check below runs statements of its own */
	keys = MemoryContextAlloc(outer, sizeof(Datum) * 3 * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
		{
			Datum		d = evs_getbinval_notnull(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, k + 1,
											  "a key of the section to check");

			keys[i * 3 + k] = datumCopy(d, false, UUID_LEN);
		}
	SPI_freetuptable(SPI_tuptable);
	iter = AllocSetContextCreate(CurrentMemoryContext, "eventsvc drift check", ALLOCSET_SMALL_SIZES);
	for (uint64 i = 0; i < n; i++)
	{
		MemoryContext spi = MemoryContextSwitchTo(iter);

		CHECK_FOR_INTERRUPTS();
		drift_one(keys[i * 3], keys[i * 3 + 1], keys[i * 3 + 2], &run);
		MemoryContextSwitchTo(spi);
		MemoryContextReset(iter);
	}
	/* findings of sections deleted since */
	evs_exec("DELETE FROM eventsvc.capacity_drift_findings f WHERE NOT EXISTS (SELECT 1 FROM eventsvc.event_capacity s"
			 " WHERE s.tenant_id = f.tenant_id AND s.id = f.capacity_id)", &none, SPI_OK_DELETE);
	run.cleared += SPI_processed;
	SPI_finish();
	evs_switch_back(&as_owner);
	MemoryContextSwitchTo(outer);
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_int(&st, "checked", run.checked);
	evs_jsonb_push_int(&st, "busy", run.busy);
	evs_jsonb_push_int(&st, "drifting", run.drifting);
	evs_jsonb_push_int(&st, "reported", run.reported);
	evs_jsonb_push_int(&st, "cleared", run.cleared);
	return evs_jsonb_end(&st);
}

/* eventsvc.check_capacity_drift(window_seconds, max_sections): one drift check run (superuser, pg_cron). */
Datum
evs_sql_check_capacity_drift(PG_FUNCTION_ARGS)
{
	int			window = PG_ARGISNULL(0) ? DRIFT_WINDOW_SECONDS : PG_GETARG_INT32(0);
	int			max_sections = PG_ARGISNULL(1) ? DRIFT_MAX_SECTIONS : PG_GETARG_INT32(1);

	PG_RETURN_JSONB_P(evs_capacity_drift_check(window, max_sections));
}
