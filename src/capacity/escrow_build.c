/*
 * escrow_build.c: a stale slot built from the section's counter rows. A build
 * counts right only when nobody is between a change of the section's holds
 * and its commit, so it waits, together at most eventsvc.escrow_build_wait_ms
 * of real time, for the old generation's records, the gives made while the
 * section had no slot, and the seat lock; else it gives up and the
 * reservation sells on the row-lock path. docs/capacity.md "Building a
 * counter without stalling sales".
 */
#include "core/core.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "capacity/escrow_slots.h"

/* a build that gave up is tried again, waiting, after this many times its wait */
#define BUILD_RETRY_FACTOR 10

/*
 * Waits for `tag` in `mode` (in the lock's queue, so a stream of others
 * cannot pass it), at most `ms`; for the session, so the caller lets go of it
 * when done. False when the time ran out (nothing held then).
 */
static bool
lock_within(LOCKTAG *tag, LOCKMODE mode, long ms)
{
	MemoryContext outer = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool got = false;
	int			saved = LockTimeout;

	if (LockAcquire(tag, mode, true, true) != LOCKACQUIRE_NOT_AVAIL)
		return true;
	if (ms <= 0)
		return false;
	/* a lock timeout is an error: its cleanup needs a subtransaction to roll back */
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(outer);
	PG_TRY();
	{
		LockTimeout = (int) ms;
		(void) LockAcquire(tag, mode, true, false);
		LockTimeout = saved;
		got = true;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(outer);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		LockTimeout = saved;
		MemoryContextSwitchTo(outer);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(outer);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return got;
}


/* The loop of wait_until, prepared to sleep on the condition variable. */
static bool
sleep_until(bool (*done) (EscrowSlot *, int), EscrowSlot *s, int bucket, TimestampTz deadline)
{
	/* prepared before each look at the count: a broadcast in between is not missed */
	ConditionVariablePrepareToSleep(&evs_escrow_shared->drained);
	for (;;)
	{
		long		left;

		if (done(s, bucket))
			return true;
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0)
			return false;
		/* returns on a broadcast or at the timeout; checks for interrupts */
		(void) ConditionVariableTimedSleep(&evs_escrow_shared->drained, left, PG_WAIT_EXTENSION);
	}
}

/* Waits on the condition variable, at most until `deadline`, until done() says so. */
static bool
wait_until(bool (*done) (EscrowSlot *, int), EscrowSlot *s, int bucket, TimestampTz deadline)
{
	bool		ok;

	pg_atomic_fetch_add_u32(&evs_escrow_shared->waiters, 1);
	PG_TRY();
	{
		ok = sleep_until(done, s, bucket, deadline);
	}
	PG_CATCH();
	{
		ConditionVariableCancelSleep();
		pg_atomic_fetch_sub_u32(&evs_escrow_shared->waiters, 1);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ConditionVariableCancelSleep();
	pg_atomic_fetch_sub_u32(&evs_escrow_shared->waiters, 1);
	return ok;
}

/* only this transaction's own records on the slot are left */
static bool
records_drained(EscrowSlot *s, int bucket)
{
	return (int) pg_atomic_read_u32(&s->inflight) <= evs_escrow_own_records(s);
}

/* only this transaction's own gives are left in the section's bucket */
static bool
givers_drained(EscrowSlot *s, int bucket)
{
	return (int) pg_atomic_read_u32(&evs_escrow_shared->givers[bucket]) <= evs_escrow_own_bucket_records(bucket);
}

/*
 * Builds a stale slot from the section's counter rows, or gives up within
 * eventsvc.escrow_build_wait_ms (real time) and says so. One build at a time;
 * a transaction that holds the section's seat lock itself (it took seats or
 * gave some back while the section had no valid counter) does not build: its
 * own change would not be counted right if it rolled back.
 */
bool
evs_escrow_build(EvsEscrowEntry *e, Datum tenant, Datum section)
{
	static SPIPlanPtr plan = NULL;
	EscrowSlot *s = &evs_escrow_slots[e->slot];
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz deadline;
	LOCKTAG		tag;
	volatile bool locked = false;
	volatile bool built = false;
	bool		mine;

	/* soon after a build gave up, only a build that need not wait is tried */
	deadline = (uint64) start < pg_atomic_read_u64(&s->retry_after) ? start
		: TimestampTzPlusMilliseconds(start, evs_escrow_build_wait_ms);
	evs_escrow_seats_locktag(&tag, &e->key);
	if (LockHeldByMe(&tag, ShareUpdateExclusiveLock) || LockHeldByMe(&tag, AccessShareLock))
		return false;
	/* under the lock (shared): a slot cannot change hands while a build starts on it */
	LWLockAcquire(evs_escrow_shared->lock, LW_SHARED);
	{
		uint32		zero = 0;

		mine = evs_escrow_handle_holds(e) && pg_atomic_read_u32(&s->state) == SLOT_STALE &&
			pg_atomic_compare_exchange_u32(&s->building, &zero, 1);
	}
	LWLockRelease(evs_escrow_shared->lock);
	if (!mine)
		return false;
	PG_TRY();
	{
		/* 1. the counter's own records of its old generation end (this transaction's stay) */
		/* 2. gives made while the section had no slot end */
		/* 3. the seat lock: row-lock path takes and gives made while it was stale end */
		if (wait_until(records_drained, s, 0, deadline) &&
			wait_until(givers_drained, NULL, evs_escrow_bucket(&e->key), deadline) &&
			(locked = lock_within(&tag, AccessExclusiveLock,
								  TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline))))
		{
			Datum		values[2] = {tenant, section};
			int64		avail;
			uint32		generation;
			bool		isnull;
			int			rc;

			/* 4. the counter rows, latest snapshot (never the transaction's: stale under REPEATABLE READ) */
			evs_spi_connect();
			if (plan == NULL)
			{
				Oid			types[2] = {UUIDOID, UUIDOID};

				plan = evs_spi_prepare_kept(evs_counters_ready()
					? "SELECT s.total_capacity::int8 - coalesce((SELECT sum(k.held + k.sold) FROM eventsvc.section_counters k"
					  "  WHERE k.tenant_id = $1 AND k.capacity_id = $2), 0)::int8"
					  " FROM eventsvc.event_capacity s WHERE s.tenant_id = $1 AND s.id = $2"
					: "SELECT s.total_capacity::int8 - coalesce((SELECT sum(h.quantity) FROM eventsvc.capacity_holds h"
					  "  WHERE h.tenant_id = $1 AND h.capacity_id = $2 AND h.state IN " EVS_SEAT_STATES "), 0)::int8"
					  " FROM eventsvc.event_capacity s WHERE s.tenant_id = $1 AND s.id = $2", 2, types);
			}
			rc = SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
			if (rc != SPI_OK_SELECT)
				elog(ERROR, "escrow build failed: %s", SPI_result_code_string(rc));
			/*
			 * No such section in this tenant: leave the counter unbuilt. Marking it
			 * valid at 0 would sell nothing from it until the next reset.
			 */
			if (SPI_processed != 1)
				ereport(ERROR,
						(errcode(EVS_ERR_NOT_FOUND),
						 errmsg("section %s not found", evs_uuid_text(section))));
			avail = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			SPI_finish();
			/*
			 * This transaction's own gives are already free in the rows but free
			 * seats only when it commits: not yet. Its own records move to the
			 * new generation (a take is given back if it rolls back, a give
			 * applied if it commits).
			 */
			avail -= evs_escrow_own_pending(s, true);
			if (avail < 0)
			{
				ereport(WARNING,
						(errmsg("section holds " INT64_FORMAT " seats more than its total", -avail),
						 errhint("Run eventsvc.check_capacity() on the section.")));
				avail = 0;
			}
			pg_atomic_write_u64(&s->available, (uint64) avail);
			generation = pg_atomic_add_fetch_u32(&s->generation, 1);
			evs_escrow_adopt_records(s, generation);
			pg_atomic_fetch_add_u64(&s->changes, 1);
			pg_write_barrier();
			pg_atomic_write_u32(&s->state, SLOT_VALID);
			built = true;
		}
	}
	PG_FINALLY();
	{
		if (locked)
			LockRelease(&tag, AccessExclusiveLock, true);
		if (!built)
			pg_atomic_write_u64(&s->retry_after,
								(uint64) TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																	 evs_escrow_build_wait_ms * BUILD_RETRY_FACTOR));
		pg_atomic_write_u32(&s->building, 0);
	}
	PG_END_TRY();
	return built;
}

