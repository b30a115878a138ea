/*
 * sweep_horizon.c: where the expiry sweep starts reading.
 *
 * Expiring a hold changes its state only, and no index of capacity_holds
 * covers the state, so the change is a HOT update (about 5x cheaper than one
 * that inserts index entries). The price: the expiry index covers every hold,
 * finished ones too, so a sweep reading "expires_at <= now" from the start
 * would read the whole history every time. The horizon is a time below which
 * no ACTIVE hold can exist; the sweep reads [horizon, now] only.
 *
 * Per database, in shared memory (lost at restart: the first sweep after a
 * start reads from the beginning, once):
 *   horizon   raised by a committed sweep to min(sweep time, oldest open hold
 *             writer's start, first ACTIVE hold it left in its range)
 *   low       lowered by a hold inserted already close to its expiry (a short
 *             hold, or a hold inserted late in an old transaction); reset by a
 *             committed sweep that started after the lowering (generation)
 *   sticky    lowered by a hold that expires before its own transaction began
 *             (only with a negative test clock offset); reset only by a restart
 * The sweep reads from min(horizon, low, sticky). Each backend that writes hold
 * rows publishes its transaction start while the transaction is open, so a
 * sweep knows how old an uncommitted hold can be. docs/capacity.md has the
 * argument why no ACTIVE hold is ever left below the read start.
 */
#include "core/core.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
#include "capacity/capacity_internal.h"

#define HORIZON_DATABASES 16

typedef struct HorizonSlot
{
	Oid			dbid;			/* InvalidOid: free */
	TimestampTz horizon;		/* DT_NOBEGIN: unknown */
	TimestampTz low;			/* DT_NOEND: none */
	uint64		low_gen;		/* bumped by every lowering of low */
	TimestampTz sticky;			/* DT_NOEND: none */
} HorizonSlot;

typedef struct HorizonShared
{
	slock_t		mutex;
	HorizonSlot dbs[HORIZON_DATABASES];
	/* per backend: start of its open transaction that wrote hold rows, 0 when none */
	pg_atomic_uint64 writers[FLEXIBLE_ARRAY_MEMBER];
} HorizonShared;

static HorizonShared *horizon = NULL;
static bool callback_registered = false;

/* this transaction */
static bool wrote_holds = false;
static bool proposed = false;
static TimestampTz proposed_horizon;
static uint64 proposed_gen;

static Size
horizon_size(void)
{
	return add_size(offsetof(HorizonShared, writers),
					mul_size(sizeof(pg_atomic_uint64), MaxBackends + 1));
}

static void
horizon_shmem_attach(void *ptr, bool found)
{
	horizon = ptr;
	if (!found)
	{
		SpinLockInit(&horizon->mutex);
		for (int i = 0; i < HORIZON_DATABASES; i++)
			horizon->dbs[i].dbid = InvalidOid;
		for (int i = 0; i <= MaxBackends; i++)
			pg_atomic_init_u64(&horizon->writers[i], 0);
	}
}

/* Called from evs_capacity_init: when preloaded, the horizon's shared memory. */
void
evs_sweep_horizon_init(void)
{
	if (process_shared_preload_libraries_in_progress)
		evs_shmem_register("eventsvc sweep horizon", horizon_size, NULL, horizon_shmem_attach);
}

static bool
usable(void)
{
	return horizon != NULL && MyBackendId != InvalidBackendId && MyBackendId <= MaxBackends &&
		OidIsValid(MyDatabaseId);
}

/* This database's slot, claimed if needed; NULL when all are taken. Under the mutex. */
static HorizonSlot *
my_slot(void)
{
	HorizonSlot *free_slot = NULL;

	for (int i = 0; i < HORIZON_DATABASES; i++)
	{
		if (horizon->dbs[i].dbid == MyDatabaseId)
			return &horizon->dbs[i];
		if (free_slot == NULL && horizon->dbs[i].dbid == InvalidOid)
			free_slot = &horizon->dbs[i];
	}
	if (free_slot != NULL)
	{
		free_slot->dbid = MyDatabaseId;
		free_slot->horizon = DT_NOBEGIN;
		free_slot->low = DT_NOEND;
		free_slot->low_gen = 0;
		free_slot->sticky = DT_NOEND;
	}
	return free_slot;
}

static void
horizon_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			/*
			 * A prepared transaction has no backend to publish its start, and
			 * no callback ever fires for it: the escrow counters' seats would
			 * leak or double.
			 */
			if (wrote_holds)
				ereport(ERROR,
						(errcode(EVS_ERR_CONFLICT),
						 errmsg("cannot PREPARE a transaction that changed holds"),
						 errhint("Commit or roll back hold changes in an ordinary transaction.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* no error is allowed here: a spinlock and plain stores only */
			if (proposed && (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) && usable())
			{
				HorizonSlot *s;

				SpinLockAcquire(&horizon->mutex);
				s = my_slot();
				if (s != NULL)
				{
					if (s->horizon == DT_NOBEGIN || proposed_horizon > s->horizon)
						s->horizon = proposed_horizon;
					if (s->low_gen == proposed_gen)
						s->low = DT_NOEND;
				}
				SpinLockRelease(&horizon->mutex);
			}
			if (wrote_holds && usable())
				pg_atomic_write_u64(&horizon->writers[MyBackendId], 0);
			wrote_holds = proposed = false;
			break;
		default:
			break;
	}
}

/* Whether this transaction has written hold rows (PREPARE is refused then). */
bool
evs_sweep_wrote_holds(void)
{
	return wrote_holds;
}

static void
ensure_callback(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(horizon_xact_callback, NULL);
		callback_registered = true;
	}
}

/*
 * Before this transaction writes a hold row: publish its start, so a sweep
 * running meanwhile does not move the horizon past what it may commit.
 */
void
evs_sweep_note_writer(void)
{
	ensure_callback();
	if (wrote_holds)
		return;
	wrote_holds = true;
	if (!usable())
		return;
	pg_atomic_write_u64(&horizon->writers[MyBackendId], (uint64) GetCurrentTransactionStartTimestamp());
	pg_memory_barrier();
}

/* After inserting a hold that expires at `expires`. */
void
evs_sweep_note_expiry(TimestampTz expires)
{
	HorizonSlot *s;

	if (!usable())
		return;
	if (expires >= GetCurrentTransactionStartTimestamp() &&
		expires >= GetCurrentTimestamp() + USECS_PER_SEC)
		return;
	SpinLockAcquire(&horizon->mutex);
	s = my_slot();
	if (s != NULL)
	{
		if (expires < GetCurrentTransactionStartTimestamp())
		{
			if (expires < s->sticky)
				s->sticky = expires;
		}
		else
		{
			if (expires < s->low)
				s->low = expires;
			s->low_gen++;
		}
	}
	SpinLockRelease(&horizon->mutex);
}

/*
 * Where a sweep starts reading (DT_NOBEGIN: from the beginning), and the
 * generation to hand back to evs_sweep_propose. Read it before anything else.
 */
TimestampTz
evs_sweep_start(uint64 *gen)
{
	HorizonSlot *s;
	TimestampTz from = DT_NOBEGIN;

	*gen = 0;
	if (!usable())
		return DT_NOBEGIN;
	SpinLockAcquire(&horizon->mutex);
	s = my_slot();
	if (s != NULL)
	{
		from = s->horizon;
		if (s->low < from)
			from = s->low;
		if (s->sticky < from)
			from = s->sticky;
		*gen = s->low_gen;
	}
	SpinLockRelease(&horizon->mutex);
	return from;
}

/* The start of the oldest open transaction that wrote holds, in any database (DT_NOEND: none). */
TimestampTz
evs_sweep_oldest_writer(void)
{
	TimestampTz oldest = DT_NOEND;

	if (!usable())
		return DT_NOBEGIN;
	pg_memory_barrier();
	for (int i = 1; i <= MaxBackends; i++)
	{
		uint64		v = pg_atomic_read_u64(&horizon->writers[i]);

		if (v != 0 && (TimestampTz) v < oldest)
			oldest = (TimestampTz) v;
	}
	return oldest;
}

/* A sweep that read from evs_sweep_start(&gen) proposes a new horizon, applied at commit. */
void
evs_sweep_propose(TimestampTz new_horizon, uint64 gen)
{
	ensure_callback();
	if (!usable() || new_horizon == DT_NOBEGIN)
		return;
	proposed = true;
	proposed_horizon = new_horizon;
	proposed_gen = gen;
}

/*
 * Forget this database's horizon: the next sweep reads from the beginning.
 * For hold rows written around the hold functions (a repair in replica mode,
 * a restore), which may expire before it; eventsvc.escrow_reset calls it.
 */
void
evs_sweep_horizon_reset(void)
{
	HorizonSlot *s;

	if (!usable())
		return;
	SpinLockAcquire(&horizon->mutex);
	s = my_slot();
	if (s != NULL)
	{
		/* through "low" too, so that a sweep that started before cannot restore the old start */
		s->horizon = DT_NOBEGIN;
		s->low = DT_NOBEGIN;
		s->low_gen++;
	}
	SpinLockRelease(&horizon->mutex);
}

PG_FUNCTION_INFO_V1(evs_sql_sweep_horizon);

/* eventsvc.sweep_horizon(): this database's read start, NULL when unknown. */
Datum
evs_sql_sweep_horizon(PG_FUNCTION_ARGS)
{
	uint64		gen;
	TimestampTz from = evs_sweep_start(&gen);

	if (from == DT_NOBEGIN)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(from);
}
