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
 * Per database, in shared memory. A clean shutdown keeps it: the postmaster
 * writes each database's read start to a file as it exits, once the shutdown
 * checkpoint is written, and the next start takes it back if nothing ran in
 * between (the same checkpoint). After a crash, an immediate shutdown or any
 * doubt it is unknown and the first sweep reads from the beginning, once:
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

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "common/file_perm.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
#include "capacity/capacity_internal.h"

#define HORIZON_DATABASES 16

/* The read starts kept across a clean shutdown, in the data directory. */
#define HORIZON_FILE "eventsvc_sweep_horizon"
#define HORIZON_FILE_TMP "eventsvc_sweep_horizon.tmp"
#define HORIZON_FILE_MAGIC 0x45565348	/* "EVSH" */

typedef struct HorizonFile
{
	uint32		magic;
	uint32		count;
	uint64		system_identifier;	/* the cluster's */
	XLogRecPtr	checkpoint;		/* the shutdown checkpoint written before it */
	struct
	{
		Oid			dbid;
		TimestampTz from;
	}			dbs[HORIZON_DATABASES];
	pg_crc32c	crc;			/* of everything above */
} HorizonFile;

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

/*
 * The cluster's control file when it says the cluster was shut down cleanly
 * as a primary and no recovery is asked for; NULL otherwise (palloc'd).
 */
static ControlFileData *
clean_shutdown_control(void)
{
	ControlFileData *volatile control;
	bool		crc_ok;
	struct stat st;

	if (stat(STANDBY_SIGNAL_FILE, &st) == 0 || stat(RECOVERY_SIGNAL_FILE, &st) == 0)
		return NULL;
	/* at the postmaster's start and exit: an unreadable file means "not clean", never an error */
	PG_TRY();
	{
		control = get_controlfile(DataDir, &crc_ok);
	}
	PG_CATCH();
	{
		FlushErrorState();
		control = NULL;
	}
	PG_END_TRY();
	if (control == NULL)
		return NULL;
	if (!crc_ok || control->state != DB_SHUTDOWNED)
	{
		pfree(control);
		return NULL;
	}
	return control;
}

static pg_crc32c
horizon_file_crc(const HorizonFile *f)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, f, offsetof(HorizonFile, crc));
	FIN_CRC32C(crc);
	return crc;
}

/*
 * As the postmaster exits after a clean shutdown (every backend gone, every
 * transaction ended, the shutdown checkpoint written): each database's read
 * start, min(horizon, low, sticky), to the file. Nothing when a start is
 * unknown or the shutdown was not clean. Never an error: a failure only costs
 * the next start one read from the beginning.
 */
static void
horizon_save(int code, Datum arg)
{
	HorizonFile f;
	ControlFileData *control;
	int			fd;

	if (horizon == NULL || (control = clean_shutdown_control()) == NULL)
		return;
	memset(&f, 0, sizeof(f));
	f.magic = HORIZON_FILE_MAGIC;
	f.system_identifier = control->system_identifier;
	f.checkpoint = control->checkPoint;
	for (int i = 0; i < HORIZON_DATABASES; i++)
	{
		HorizonSlot *s = &horizon->dbs[i];
		TimestampTz from = Min(s->horizon, Min(s->low, s->sticky));

		if (s->dbid == InvalidOid || s->horizon == DT_NOBEGIN || from == DT_NOBEGIN)
			continue;
		f.dbs[f.count].dbid = s->dbid;
		f.dbs[f.count].from = from;
		f.count++;
	}
	if (f.count == 0)
		return;
	f.crc = horizon_file_crc(&f);
	fd = open(HORIZON_FILE_TMP, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY, pg_file_create_mode);
	if (fd < 0)
		return;
	if (write(fd, &f, sizeof(f)) != sizeof(f) || pg_fsync(fd) != 0)
	{
		close(fd);
		unlink(HORIZON_FILE_TMP);
		return;
	}
	close(fd);
	if (rename(HORIZON_FILE_TMP, HORIZON_FILE) != 0)
		unlink(HORIZON_FILE_TMP);
}

/*
 * At a start (new shared memory in the postmaster or a single-user backend):
 * the read starts the last clean shutdown kept, if the cluster is still at the
 * checkpoint that shutdown wrote (nothing ran since, no recovery to replay).
 * The file is removed either way, so a crash later never finds it again.
 */
static void
horizon_restore(void)
{
	HorizonFile f;
	ControlFileData *control;
	int			fd;
	bool		ok;

	fd = open(HORIZON_FILE, O_RDONLY | PG_BINARY, 0);
	if (fd < 0)
		return;
	ok = read(fd, &f, sizeof(f)) == sizeof(f);
	close(fd);
	unlink(HORIZON_FILE);
	if (!ok || f.magic != HORIZON_FILE_MAGIC || f.count > HORIZON_DATABASES ||
		!EQ_CRC32C(f.crc, horizon_file_crc(&f)))
		return;
	control = clean_shutdown_control();
	if (control == NULL)
		return;
	if (control->system_identifier == f.system_identifier && control->checkPoint == f.checkpoint)
	{
		for (uint32 i = 0; i < f.count; i++)
		{
			horizon->dbs[i].dbid = f.dbs[i].dbid;
			horizon->dbs[i].horizon = f.dbs[i].from;
		}
		ereport(LOG, (errmsg("eventsvc: the expiry sweep starts where it left off before the shutdown (%u databases)",
							 f.count)));
	}
	pfree(control);
}

static void
horizon_shmem_attach(void *ptr, bool found)
{
	horizon = ptr;
	if (!found)
	{
		SpinLockInit(&horizon->mutex);
		for (int i = 0; i < HORIZON_DATABASES; i++)
		{
			horizon->dbs[i].dbid = InvalidOid;
			horizon->dbs[i].horizon = DT_NOBEGIN;
			horizon->dbs[i].low = DT_NOEND;
			horizon->dbs[i].low_gen = 0;
			horizon->dbs[i].sticky = DT_NOEND;
		}
		for (int i = 0; i <= MaxBackends; i++)
			pg_atomic_init_u64(&horizon->writers[i], 0);
		if (!IsUnderPostmaster)
			horizon_restore();
	}
}

/* Called from evs_capacity_init: when preloaded, the horizon's shared memory. */
void
evs_sweep_horizon_init(void)
{
	if (process_shared_preload_libraries_in_progress)
	{
		evs_shmem_register("eventsvc sweep horizon", horizon_size, NULL, horizon_shmem_attach);
		/* the postmaster keeps the read starts across a clean shutdown */
		if (!IsUnderPostmaster)
			before_shmem_exit(horizon_save, (Datum) 0);
	}
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
