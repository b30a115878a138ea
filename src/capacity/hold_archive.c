/*
 * hold_archive.c: ended holds stay visible to the tenant (api.holds: state,
 * when, why) for eventsvc.hold_retention_seconds after they ended; then the
 * expiry sweep moves them to eventsvc.capacity_holds_archive. Only RELEASED
 * and EXPIRED holds go: purchases (CONFIRMED, REFUNDED) and holds whose
 * payment must be given back (REFUND_REQUIRED) stay for good.
 *
 * The batch reads the expiry index from a horizon (eventsvc.hold_archive_progress)
 * up to now - retention, so a sweep never reads the history it has passed:
 * below the horizon every hold is archived or kept for good. A hold that
 * cannot go yet (still live, ended less than the retention ago, or locked by
 * a late payment right now) stops the horizon at its expiry. No hold can
 * appear below the horizon later: a new or extended hold expires after now,
 * and the horizon is at most now - retention. docs/holds.md "Retention".
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "capacity/capacity_internal.h"

static int	evs_hold_retention_seconds = 7 * 24 * 3600;

/* Called from evs_capacity_init. */
void
evs_hold_archive_init(void)
{
	DefineCustomIntVariable("eventsvc.hold_retention_seconds",
							"How long released and expired holds stay in eventsvc.capacity_holds (api.holds) "
							"before the expiry sweep archives them.",
							NULL, &evs_hold_retention_seconds, 7 * 24 * 3600, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

static int
tid_cmp(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

/*
 * Moves up to `limit` ended holds past their retention to the archive, across
 * tenants (the caller runs as the owner, SPI connected). Returns how many.
 * A second sweep running at the same moment skips the archive this round.
 */
int64
evs_archive_holds(int limit)
{
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr pick_plan = NULL;
	static SPIPlanPtr move_plan = NULL;
	static SPIPlanPtr save_plan = NULL;
	TimestampTz now = evs_now();
	TimestampTz cut = now - (TimestampTz) evs_hold_retention_seconds * USECS_PER_SEC;
	TimestampTz horizon,
				next;
	Datum		args[3];
	bool		isnull;
	int			rc;
	uint64		npicked;
	int			ncand = 0;
	Datum	   *cand;
	TimestampTz *cand_expiry;
	SPITupleTable *picked;
	int64		moved;

	if (lock_plan == NULL)
	{
		Oid			t[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID};
		Oid			m[4] = {TIDARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID};
		Oid			s[1] = {TIMESTAMPTZOID};

		lock_plan = evs_spi_prepare_kept("SELECT horizon FROM eventsvc.hold_archive_progress FOR UPDATE SKIP LOCKED",
										 0, NULL);
		pick_plan = evs_spi_prepare_kept(
			"SELECT ctid, state::text, released_at <= $2, expires_at FROM eventsvc.capacity_holds"
			" WHERE expires_at >= $1 AND expires_at <= $2 ORDER BY expires_at LIMIT $3", 3, t);
		/* rows a late payment is changing right now are left for the next sweep */
		/* the counter rows count the holds of capacity_holds: the archived ones leave them */
		move_plan = evs_spi_prepare_kept(psprintf(
			"WITH moved AS (DELETE FROM eventsvc.capacity_holds h"
			"   WHERE h.ctid = ANY (ARRAY(SELECT ctid FROM eventsvc.capacity_holds WHERE ctid = ANY ($1)"
			"                             AND state IN ('RELEASED', 'EXPIRED') AND released_at <= $2"
			"                             FOR UPDATE SKIP LOCKED))"
			"     AND h.state IN ('RELEASED', 'EXPIRED') AND h.released_at <= $2"
			"   RETURNING h.*, h.ctid AS old_ctid),"
			" ins AS (INSERT INTO eventsvc.capacity_holds_archive (tenant_id, id, event_id, capacity_id, pricing_id,"
			"   holder_id, quantity, state, currency, unit_price, locked_price, expires_at, created_at, confirmed_at,"
			"   released_at, phase, state_reason, payment_ref, payment_started_at, renewals, revived_at,"
			"   state_changed_at, refunded_quantity, waitlist_entry_id, archived_at)"
			"  SELECT tenant_id, id, event_id, capacity_id, pricing_id, holder_id, quantity, state, currency,"
			"   unit_price, locked_price, expires_at, created_at, confirmed_at, released_at, phase, state_reason,"
			"   payment_ref, payment_started_at, renewals, revived_at, state_changed_at, refunded_quantity,"
			"   waitlist_entry_id, $3 FROM moved)%s"
			" SELECT old_ctid FROM moved",
			evs_counters_ready()
			? ", g AS (SELECT tenant_id, capacity_id, coalesce(currency, '') AS currency, count(*) AS n,"
			"   count(*) FILTER (WHERE state = 'EXPIRED') AS expired, count(*) FILTER (WHERE state = 'RELEASED') AS released"
			"   FROM moved GROUP BY 1, 2, 3),"
			" k AS (INSERT INTO eventsvc.section_counters AS k (tenant_id, capacity_id, currency, stripe, holds,"
			"   holds_expired, holds_released) SELECT tenant_id, capacity_id, currency, $4, -n, -expired, -released FROM g"
			"   ON CONFLICT (tenant_id, capacity_id, currency, stripe) DO UPDATE SET holds = k.holds + excluded.holds,"
			"   holds_expired = k.holds_expired + excluded.holds_expired,"
			"   holds_released = k.holds_released + excluded.holds_released)" : ""), 4, m);
		save_plan = evs_spi_prepare_kept("UPDATE eventsvc.hold_archive_progress SET horizon = $1, updated_at = now()",
										 1, s);
	}
	rc = SPI_execute("INSERT INTO eventsvc.hold_archive_progress DEFAULT VALUES ON CONFLICT DO NOTHING", false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "archive progress write failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_plan(lock_plan, NULL, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "archive progress lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return 0;				/* another sweep is archiving */
	horizon = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (horizon >= cut)
		return 0;

	args[0] = TimestampTzGetDatum(horizon);
	args[1] = TimestampTzGetDatum(cut);
	args[2] = Int32GetDatum(limit);
	rc = SPI_execute_plan(pick_plan, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "archive selection failed: %s", SPI_result_code_string(rc));
	npicked = SPI_processed;
	picked = SPI_tuptable;
	/* read in expiry order: a full batch leaves nothing before its last row unread */
	next = npicked == (uint64) limit
		? DatumGetTimestampTz(SPI_getbinval(picked->vals[npicked - 1], picked->tupdesc, 4, &isnull)) : cut;
	cand = palloc(Max(npicked, 1) * sizeof(Datum));
	cand_expiry = palloc(Max(npicked, 1) * sizeof(TimestampTz));
	for (uint64 i = 0; i < npicked; i++)
	{
		HeapTuple	row = picked->vals[i];
		char	   *state = evs_getvalue_notnull(row, picked->tupdesc, 2, "the hold's state");
		Datum		ended = SPI_getbinval(row, picked->tupdesc, 3, &isnull);
		TimestampTz expiry = DatumGetTimestampTz(SPI_getbinval(row, picked->tupdesc, 4, &isnull));

		if (strcmp(state, "RELEASED") == 0 || strcmp(state, "EXPIRED") == 0)
		{
			if (!isnull && DatumGetBool(ended))
			{
				cand[ncand] = evs_getbinval_notnull(row, picked->tupdesc, 1, "the hold's row id");
				cand_expiry[ncand++] = expiry;
				continue;
			}
		}
		else if (strcmp(state, "ACTIVE") != 0)
			continue;			/* kept for good: passed for good */
		/* still live, or ended too recently: the horizon waits for it */
		if (expiry < next)
			next = expiry;
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	moved = 0;
	if (ncand > 0)
	{
		Datum		margs[4];
		uint64		nmoved;
		ItemPointerData *done;

		margs[0] = PointerGetDatum(construct_array(cand, ncand, TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT));
		margs[1] = TimestampTzGetDatum(cut);
		margs[2] = TimestampTzGetDatum(now);
		margs[3] = Int32GetDatum(evs_counters_stripe());
		rc = evs_hold_write(move_plan, margs, NULL, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "archiving holds failed: %s", SPI_result_code_string(rc));
		nmoved = SPI_processed;
		moved = (int64) nmoved;
		/* a candidate left behind (locked right now) keeps the horizon at it */
		if (nmoved < (uint64) ncand)
		{
			done = palloc(Max(nmoved, 1) * sizeof(ItemPointerData));
			for (uint64 j = 0; j < nmoved; j++)
				done[j] = *(ItemPointer) DatumGetPointer(evs_getbinval_notnull(SPI_tuptable->vals[j], SPI_tuptable->tupdesc,
																			   1, "the archived hold's row id"));
			qsort(done, nmoved, sizeof(ItemPointerData), tid_cmp);
			for (int k = 0; k < ncand; k++)
				if (bsearch(DatumGetPointer(cand[k]), done, nmoved, sizeof(ItemPointerData), tid_cmp) == NULL)
				{
					/* candidates are in expiry order: the first one left is the earliest */
					if (cand_expiry[k] < next)
						next = cand_expiry[k];
					break;
				}
		}
	}
	/* never past the real clock: a test clock ahead must not leave today's holds below the horizon */
	if (next > GetCurrentTransactionStartTimestamp() - (TimestampTz) evs_hold_retention_seconds * USECS_PER_SEC)
		next = GetCurrentTransactionStartTimestamp() - (TimestampTz) evs_hold_retention_seconds * USECS_PER_SEC;
	if (next < horizon)
		next = horizon;
	rc = SPI_execute_plan(save_plan, (Datum[]) {TimestampTzGetDatum(next)}, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "archive progress update failed: %s", SPI_result_code_string(rc));
	return moved;
}
