/*
 * escrow.c: per-section seat counters in shared memory, so that concurrent
 * reservations on one hot section never queue on a row lock. A reservation
 * takes seats with a compare-and-swap that never goes below zero; the seats go
 * back if its (sub)transaction aborts. A release gives seats back only once its
 * transaction commits. A counter is (re)built from committed hold rows under a
 * heavyweight lock. docs/capacity.md explains the rules; the comments below say
 * which race each step closes.
 */
#include "core/core.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_sql_escrow_state);
PG_FUNCTION_INFO_V1(evs_sql_escrow_reset);

/* advisory lock class of the rebuild lock (pg_locks shows it as objsubid) */
#define EVS_LOCK_ESCROW_BUILD 0x4556
/* how long a rebuild waits for reservations in flight before giving up (real time) */
#define ESCROW_WAIT_MS 10000

/*
 * The holds table's OID is part of the key: after DROP and CREATE EXTENSION
 * (or a restore into a new database that reuses an OID) the same section ids
 * get fresh counters instead of stale ones. Old entries just sit unused.
 * The tenant is part of it too: a section's key is (tenant_id, id), so a row
 * of another tenant that carries the same id must never share its counter.
 */
typedef struct EscrowKey
{
	Oid			dbid;
	Oid			holds_rel;
	pg_uuid_t	tenant;
	pg_uuid_t	section;
} EscrowKey;

struct EvsEscrowEntry
{
	EscrowKey	key;
	pg_atomic_uint64 available;	/* seats free for new holds */
	pg_atomic_uint32 inflight;	/* records of open transactions on this entry */
	pg_atomic_uint32 generation; /* bumped by every rebuild */
	pg_atomic_uint32 valid;		/* 0: rebuild before use */
	pg_atomic_uint64 changes;	/* bumped by every record and every settlement: readers detect movement */
};

typedef struct EscrowShared
{
	LWLock	   *lock;			/* guards the hash table's shape, not the counters */
	/*
	 * A rebuild waits here until the records of other transactions on its
	 * counter are gone. Ending a record broadcasts only while someone waits
	 * (rebuilds are rare; every reservation ends a record).
	 */
	ConditionVariable drained;
	pg_atomic_uint32 waiters;
} EscrowShared;

typedef enum RecordKind
{
	RECORD_TAKE,				/* seats taken: give back on abort */
	RECORD_GIVE					/* seats released: give back on commit */
} RecordKind;

/* What this backend's open transaction did to counters (TopTransactionContext). */
typedef struct EscrowRecord
{
	EvsEscrowEntry *entry;
	uint32		generation;
	RecordKind	kind;
	int64		n;
	SubTransactionId subid;
} EscrowRecord;

typedef struct LocalEntry
{
	EscrowKey	key;
	EvsEscrowEntry *entry;
} LocalEntry;

/* setting: eventsvc.escrow_max_sections (evs_escrow_init) */
static int	evs_escrow_max_sections = 10000;

static EscrowShared *escrow_shared = NULL;
static HTAB *escrow_hash = NULL;
static HTAB *local_entries = NULL;	/* key -> entry pointer; entries never move */
static bool callbacks_registered = false;

static EscrowRecord *records = NULL;
static int	nrecords = 0;
static int	maxrecords = 0;

static Size
escrow_shmem_size(void)
{
	return sizeof(EscrowShared);
}

/* the hash table of counters beside the struct, and the table's lock */
static void
escrow_shmem_request(void)
{
	RequestAddinShmemSpace(hash_estimate_size(evs_escrow_max_sections, sizeof(EvsEscrowEntry)));
	RequestNamedLWLockTranche("eventsvc_escrow", 1);
}

/* After a crash the postmaster runs this again: every counter starts unbuilt. */
static void
escrow_shmem_attach(void *ptr, bool found)
{
	HASHCTL		info;

	escrow_shared = ptr;
	if (!found)
	{
		escrow_shared->lock = &(GetNamedLWLockTranche("eventsvc_escrow"))->lock;
		ConditionVariableInit(&escrow_shared->drained);
		pg_atomic_init_u32(&escrow_shared->waiters, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(EscrowKey);
	info.entrysize = sizeof(EvsEscrowEntry);
	escrow_hash = ShmemInitHash("eventsvc escrow sections",
								evs_escrow_max_sections, evs_escrow_max_sections,
								&info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* Called from evs_capacity_init: the table's size and, when preloaded, its shared memory. */
void
evs_escrow_init(void)
{
	/* PGC_POSTMASTER settings can only be defined while preloading (else FATAL). */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("eventsvc.escrow_max_sections",
								"Sections that can have a shared-memory seat counter (0 disables them).",
								"Sections beyond this use row locks. Needs a restart.",
								&evs_escrow_max_sections, 10000, 0, 10000000,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade && evs_escrow_max_sections > 0)
		evs_shmem_register("eventsvc escrow", escrow_shmem_size, escrow_shmem_request, escrow_shmem_attach);
}

/* ---- the backend's records and the transaction callbacks ---- */

/*
 * A record of this backend leaves the counter's in-flight count. The
 * fetch-and-subtract is a full barrier and a waiting rebuild raises `waiters`
 * (another full barrier) before it reads the count: either it sees this
 * record gone, or this sees it waiting and wakes it. Only atomics, a spinlock
 * and a latch: safe in a commit callback.
 */
static void
inflight_end(EvsEscrowEntry *e)
{
	pg_atomic_fetch_sub_u32(&e->inflight, 1);
	if (pg_atomic_read_u32(&escrow_shared->waiters) > 0)
		ConditionVariableBroadcast(&escrow_shared->drained);
}

static void
undo_record(EscrowRecord *r, bool committed)
{
	EvsEscrowEntry *e = r->entry;

	/*
	 * A record of an older generation belongs to a counter that has since been
	 * rebuilt from rows; applying it would count the seats twice.
	 */
	if (r->generation == pg_atomic_read_u32(&e->generation))
	{
		if ((r->kind == RECORD_TAKE && !committed) || (r->kind == RECORD_GIVE && committed))
			pg_atomic_fetch_add_u64(&e->available, (uint64) r->n);
	}
	/* bumped before in_flight drops: a reader that sees in_flight 0 after this sees the bump */
	pg_atomic_fetch_add_u64(&e->changes, 1);
	inflight_end(e);
}

static void
escrow_xact_callback(XactEvent event, void *arg)
{
	int			i;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			/*
			 * No callback ever fires for a prepared transaction: its seats
			 * would leak or double. Every record comes with a hold write, and
			 * sweep_horizon.c refuses PREPARE after any hold write.
			 */
			Assert(nrecords == 0 || evs_sweep_wrote_holds());
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* Only atomics here: an error after commit would be a PANIC. */
			for (i = 0; i < nrecords; i++)
				undo_record(&records[i], event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT);
			records = NULL;		/* freed with TopTransactionContext */
			nrecords = maxrecords = 0;
			evs_hold_writer_active = false;
			break;
		default:
			break;
	}
}

static void
escrow_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	int			i;

	/* A subtransaction's records are always the tail of the list. */
	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			while (nrecords > 0 && records[nrecords - 1].subid >= mySubid)
			{
				undo_record(&records[nrecords - 1], false);
				nrecords--;
			}
			evs_hold_writer_active = false;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			/* The parent inherits the child's records, as namespace.c does. */
			for (i = nrecords - 1; i >= 0 && records[i].subid >= mySubid; i--)
				records[i].subid = parentSubid;
			break;
		default:
			break;
	}
}

/*
 * Appends a record and counts it in flight. The record exists before the
 * counter moves, so no error can leave seats taken without a record.
 */
static EscrowRecord *
record_append(EvsEscrowEntry *e, RecordKind kind, int64 n)
{
	EscrowRecord *r;

	if (nrecords == maxrecords)
	{
		int			newmax = maxrecords == 0 ? 16 : maxrecords * 2;

		if (records == NULL)
			records = MemoryContextAlloc(TopTransactionContext, newmax * sizeof(EscrowRecord));
		else
			records = repalloc(records, newmax * sizeof(EscrowRecord));
		maxrecords = newmax;
	}
	r = &records[nrecords];
	r->entry = e;
	r->kind = kind;
	r->n = n;
	r->subid = GetCurrentSubTransactionId();
	pg_atomic_fetch_add_u32(&e->inflight, 1);
	pg_atomic_fetch_add_u64(&e->changes, 1);
	r->generation = pg_atomic_read_u32(&e->generation);
	nrecords++;
	return r;
}

static void
record_pop(void)
{
	Assert(nrecords > 0);
	nrecords--;
	pg_atomic_fetch_add_u64(&records[nrecords].entry->changes, 1);
	inflight_end(records[nrecords].entry);
}

static int
own_records(EvsEscrowEntry *e)
{
	int			n = 0;

	for (int i = 0; i < nrecords; i++)
		if (records[i].entry == e)
			n++;
	return n;
}

/* ---- finding and building entries ---- */

static void
escrow_locktag(LOCKTAG *tag, EvsEscrowEntry *e)
{
	uint32		hi,
				lo;

	memcpy(&hi, e->key.section.data, 4);
	memcpy(&lo, e->key.section.data + 4, 4);
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, hi, lo, EVS_LOCK_ESCROW_BUILD);
}

/*
 * Waits, at most ESCROW_WAIT_MS of real time and interruptibly, until no
 * other transaction has records on the entry (this one's own may stay).
 */
static void
wait_for_records(EvsEscrowEntry *e)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ESCROW_WAIT_MS);

	pg_atomic_fetch_add_u32(&escrow_shared->waiters, 1);
	PG_TRY();
	{
		/* prepared before each look at the count: a broadcast in between is not missed */
		ConditionVariablePrepareToSleep(&escrow_shared->drained);
		while ((int) pg_atomic_read_u32(&e->inflight) > own_records(e))
		{
			long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

			if (left <= 0)
				ereport(ERROR,
						(errcode(EVS_ERR_CONFLICT),
						 errmsg("section counter is being rebuilt while holds are in flight"),
						 errhint("Retry the request.")));
			/* returns on a broadcast or at the timeout; checks for interrupts */
			(void) ConditionVariableTimedSleep(&escrow_shared->drained, left, PG_WAIT_EXTENSION);
		}
	}
	PG_FINALLY();
	{
		ConditionVariableCancelSleep();
		pg_atomic_fetch_sub_u32(&escrow_shared->waiters, 1);
	}
	PG_END_TRY();
}

/*
 * Rebuild from committed rows. Holds the rebuild lock (reservers of an
 * unbuilt entry queue on it), waits until no other transaction has records
 * on the entry (their commits or aborts would otherwise land on the new value),
 * then reads the rows with the latest snapshot, never the transaction's
 * (which would be stale under REPEATABLE READ).
 */
static void
escrow_build(EvsEscrowEntry *e, Datum tenant_id, Datum section_id)
{
	static SPIPlanPtr plan = NULL;
	LOCKTAG		tag;
	int			rc;

	escrow_locktag(&tag, e);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	if (pg_atomic_read_u32(&e->valid))
	{
		LockRelease(&tag, ExclusiveLock, false);
		return;
	}
	wait_for_records(e);

	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			types[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept(
			"SELECT s.total_capacity::int8 - coalesce((SELECT sum(h.quantity) FROM eventsvc.capacity_holds h"
			"  WHERE h.tenant_id = $1 AND h.capacity_id = $2 AND h.state IN ('ACTIVE', 'CONFIRMED')), 0)::int8"
			" FROM eventsvc.event_capacity s WHERE s.tenant_id = $1 AND s.id = $2", 2, types);
	}
	{
		Datum		values[2] = {tenant_id, section_id};
		int64		avail = 0;
		bool		isnull;

		rc = SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
								  true, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "escrow rebuild failed: %s", SPI_result_code_string(rc));
		/*
		 * No such section in this tenant: leave the counter unbuilt. Marking it
		 * valid at 0 would sell nothing from it until the next reset.
		 */
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(EVS_ERR_NOT_FOUND),
					 errmsg("section %s not found",
							evs_uuid_text(section_id))));
		avail = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (avail < 0)
		{
			ereport(WARNING,
					(errmsg("section holds " INT64_FORMAT " seats more than its total", -avail),
					 errhint("Run eventsvc.check_capacity() on the section.")));
			avail = 0;
		}
		pg_atomic_write_u64(&e->available, (uint64) avail);
	}
	SPI_finish();
	pg_atomic_fetch_add_u32(&e->generation, 1);
	pg_atomic_fetch_add_u64(&e->changes, 1);
	pg_write_barrier();
	pg_atomic_write_u32(&e->valid, 1);
	LockRelease(&tag, ExclusiveLock, false);
}

static EvsEscrowEntry *
escrow_lookup(Datum tenant_id, Datum section_id, bool create)
{
	EscrowKey	key;
	EvsEscrowEntry *e;
	LocalEntry *cached;
	bool		found;

	if (escrow_hash == NULL || RecoveryInProgress())
		return NULL;
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.holds_rel = evs_relation_oid("capacity_holds");
	memcpy(&key.tenant, DatumGetUUIDP(tenant_id), sizeof(pg_uuid_t));
	memcpy(&key.section, DatumGetUUIDP(section_id), sizeof(pg_uuid_t));

	if (local_entries == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(EscrowKey);
		info.entrysize = sizeof(LocalEntry);
		info.hcxt = TopMemoryContext;
		local_entries = hash_create("eventsvc escrow cache", 256, &info,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	cached = hash_search(local_entries, &key, HASH_FIND, NULL);
	if (cached != NULL)
		return cached->entry;

	LWLockAcquire(escrow_shared->lock, LW_SHARED);
	e = hash_search(escrow_hash, &key, HASH_FIND, NULL);
	LWLockRelease(escrow_shared->lock);
	if (e == NULL && create)
	{
		LWLockAcquire(escrow_shared->lock, LW_EXCLUSIVE);
		e = hash_search(escrow_hash, &key, HASH_ENTER_NULL, &found);
		if (e != NULL && !found)
		{
			pg_atomic_init_u64(&e->available, 0);
			pg_atomic_init_u32(&e->inflight, 0);
			pg_atomic_init_u32(&e->generation, 0);
			pg_atomic_init_u32(&e->valid, 0);
			pg_atomic_init_u64(&e->changes, 0);
		}
		LWLockRelease(escrow_shared->lock);
	}
	if (e == NULL)
		return NULL;			/* table full: this section stays on row locks */
	cached = hash_search(local_entries, &key, HASH_ENTER, NULL);
	cached->entry = e;
	return e;
}

/* The section's shared counter, built if needed; NULL when the section stays on row locks. */
EvsEscrowEntry *
evs_escrow_section(Datum tenant_id, Datum section_id)
{
	EvsEscrowEntry *e = escrow_lookup(tenant_id, section_id, true);

	if (e == NULL)
		return NULL;
	if (!callbacks_registered)
	{
		RegisterXactCallback(escrow_xact_callback, NULL);
		RegisterSubXactCallback(escrow_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (!pg_atomic_read_u32(&e->valid))
		escrow_build(e, tenant_id, section_id);
	return e;
}

/* Takes n seats from the counter (given back if the (sub)transaction aborts); false when short. */
bool
evs_escrow_take(EvsEscrowEntry *e, int64 n, int64 *remaining)
{
	uint64		cur;

	Assert(n > 0);
	record_append(e, RECORD_TAKE, n);
	/* in flight before checking validity: a rebuild either sees us or we see it */
	if (!pg_atomic_read_u32(&e->valid))
	{
		record_pop();
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("section counter is being rebuilt"),
				 errhint("Retry the request.")));
	}
	cur = pg_atomic_read_u64(&e->available);
	for (;;)
	{
		if (cur < (uint64) n)
		{
			record_pop();
			*remaining = (int64) cur;
			return false;
		}
		/* on failure cur receives the current value */
		if (pg_atomic_compare_exchange_u64(&e->available, &cur, cur - (uint64) n))
			break;
	}
	*remaining = (int64) (cur - (uint64) n);
	return true;
}

/* Gives n seats back to the counter when the transaction commits (nothing on abort). */
void
evs_escrow_give_on_commit(EvsEscrowEntry *e, int64 n)
{
	EscrowRecord *last = nrecords > 0 ? &records[nrecords - 1] : NULL;

	Assert(n > 0);
	/* a sweep gives back many holds of one section: fold them into one record */
	if (last && last->entry == e && last->kind == RECORD_GIVE &&
		last->subid == GetCurrentSubTransactionId() &&
		last->generation == pg_atomic_read_u32(&e->generation))
	{
		last->n += n;
		return;
	}
	record_append(e, RECORD_GIVE, n);
}

/* Seats the counter has free now. */
int64
evs_escrow_available(EvsEscrowEntry *e)
{
	return (int64) pg_atomic_read_u64(&e->available);
}

/* Records of open transactions on the counter (drift is meaningful only at 0). */
int
evs_escrow_in_flight(EvsEscrowEntry *e)
{
	return (int) pg_atomic_read_u32(&e->inflight);
}

/*
 * One reading of a counter for a checker. `stable` is false when the counter
 * moved while it was being read. Records of this backend's own transaction
 * are known exactly and reported apart: `own` records, whose seats still to be
 * given back at commit are `own_pending`; `others` = the other transactions'.
 */
void
evs_escrow_read(EvsEscrowEntry *e, EvsEscrowReading *r)
{
	uint64		before,
				after;
	int			own = own_records(e);

	before = pg_atomic_read_u64(&e->changes);
	pg_read_barrier();
	r->valid = pg_atomic_read_u32(&e->valid) != 0;
	r->generation = pg_atomic_read_u32(&e->generation);
	r->in_flight = (int) pg_atomic_read_u32(&e->inflight);
	r->available = (int64) pg_atomic_read_u64(&e->available);
	pg_read_barrier();
	after = pg_atomic_read_u64(&e->changes);
	r->changes = after;
	r->stable = before == after;
	r->others = r->in_flight - own;
	r->own_pending = 0;
	for (int i = 0; i < nrecords; i++)
		if (records[i].entry == e && records[i].kind == RECORD_GIVE &&
			records[i].generation == r->generation)
			r->own_pending += records[i].n;
}

/*
 * The counters of a section id in this database, whatever their tenant (the
 * superuser's tools below name a section only). Fills at most `max`.
 */
static int
escrow_find_all(Datum section_id, EvsEscrowEntry **found, int max)
{
	HASH_SEQ_STATUS scan;
	EvsEscrowEntry *e;
	Oid			holds_rel;
	int			n = 0;

	if (escrow_hash == NULL || RecoveryInProgress())
		return 0;
	holds_rel = evs_relation_oid("capacity_holds");
	LWLockAcquire(escrow_shared->lock, LW_SHARED);
	hash_seq_init(&scan, escrow_hash);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		if (e->key.dbid == MyDatabaseId && e->key.holds_rel == holds_rel &&
			memcmp(&e->key.section, DatumGetUUIDP(section_id), sizeof(pg_uuid_t)) == 0)
		{
			if (n < max)
				found[n] = e;
			n++;
		}
	}
	LWLockRelease(escrow_shared->lock);
	return Min(n, max);
}

/*
 * eventsvc.escrow_state(section): what the shared counter says, for operators
 * and tests (superuser only). NULL when the section has no counter.
 */
Datum
evs_sql_escrow_state(PG_FUNCTION_ARGS)
{
	EvsEscrowEntry *e;
	JsonbParseState *st = NULL;

	if (PG_ARGISNULL(0) || escrow_find_all(PG_GETARG_DATUM(0), &e, 1) == 0)
		PG_RETURN_NULL();
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_bool(&st, "valid", pg_atomic_read_u32(&e->valid) != 0);
	evs_jsonb_push_int(&st, "available", (int64) pg_atomic_read_u64(&e->available));
	evs_jsonb_push_int(&st, "in_flight", pg_atomic_read_u32(&e->inflight));
	evs_jsonb_push_int(&st, "generation", pg_atomic_read_u32(&e->generation));
	PG_RETURN_JSONB_P(evs_jsonb_end(&st));
}

/*
 * eventsvc.escrow_reset(section): forget the counter; the next user rebuilds
 * it from committed rows (after in-flight transactions finish). The repair
 * when check_capacity reports drift (superuser only).
 */
Datum
evs_sql_escrow_reset(PG_FUNCTION_ARGS)
{
	EvsEscrowEntry *found[16];
	int			n;
	LOCKTAG		tag;

	/* rows written around the hold functions may also expire before the sweep's horizon */
	evs_sweep_horizon_reset();
	evs_refcache_invalidate();
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	n = escrow_find_all(PG_GETARG_DATUM(0), found, lengthof(found));
	for (int i = 0; i < n; i++)
	{
		escrow_locktag(&tag, found[i]);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		pg_atomic_write_u32(&found[i]->valid, 0);
		pg_memory_barrier();
		LockRelease(&tag, ExclusiveLock, false);
	}
	PG_RETURN_BOOL(n > 0);
}
