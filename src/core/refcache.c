/*
 * refcache.c: a backend's copy of the reference rows the hold path reads on
 * every reservation (the tenant, the section, its event's status, the tier and
 * its currency), kept across transactions while nothing they come from changes.
 *
 * One counter in shared memory, the reference generation, is raised by a
 * statement trigger on every change to those tables (tenants, events,
 * event_capacity, event_pricing, currencies), and again when the changing
 * transaction commits or rolls back (after its commit is visible) and when a
 * subtransaction that changed them rolls back. A backend remembers the
 * generation it read BEFORE taking the fresh snapshot it loaded a row with,
 * and uses the copy only while the generation is still the same:
 *
 *   - a change committed before the generation was read is in the snapshot;
 *   - a change committed after it raises the generation when it commits, so
 *     the copy is dropped at the next use;
 *   - a change of the backend's own transaction raised the generation when
 *     its statement ended, and raises it again when it commits or rolls back.
 *
 * A prepared transaction that changed reference rows would commit without
 * raising it: such a PREPARE is refused. Without shared memory (the library
 * not preloaded) the generation is 0 and nothing is kept. DDL on any relation
 * (a relcache invalidation) drops every copy too. docs/capacity.md,
 * "Reference rows".
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(evs_refcache_trigger);
PG_FUNCTION_INFO_V1(evs_sql_reference_generation);

#define REFCACHE_MAX_ENTRIES 4096

typedef struct RefShared
{
	pg_atomic_uint64 generation;
} RefShared;

typedef struct RefEntry
{
	EvsRefKey	key;
	HeapTuple	tuple;
	TupleDesc	desc;
} RefEntry;

static RefShared *ref_shared = NULL;

static bool callbacks_registered = false;
static bool wrote_reference = false;	/* this transaction changed reference rows */

static MemoryContext cache_cxt = NULL;
static HTAB *cache = NULL;
static uint64 cache_generation = 0;		/* generation the copies are valid for; 0: none */

static Size
ref_shmem_size(void)
{
	return sizeof(RefShared);
}

static void
ref_shmem_attach(void *ptr, bool found)
{
	ref_shared = ptr;
	if (!found)
		pg_atomic_init_u64(&ref_shared->generation, 1);
}

/* Called from evs_core_init: when preloaded, the shared reference generation. */
void
evs_refcache_init(void)
{
	if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade)
		evs_shmem_register("eventsvc reference generation", ref_shmem_size, NULL, ref_shmem_attach);
}

/* The shared reference generation (0: none, nothing is kept); read it before the snapshot. */
uint64
evs_refcache_generation(void)
{
	uint64		g;

	if (ref_shared == NULL)
		return 0;
	g = pg_atomic_read_u64(&ref_shared->generation);
	/* the generation is read before the snapshot the caller then takes */
	pg_memory_barrier();
	return g;
}

static void
bump(void)
{
	if (ref_shared != NULL)
		pg_atomic_fetch_add_u64(&ref_shared->generation, 1);
}

static void
drop_copies(void)
{
	if (cache_cxt != NULL)
		MemoryContextReset(cache_cxt);
	cache = NULL;
	cache_generation = 0;
}

static void
ref_relcache_callback(Datum arg, Oid relid)
{
	/* DDL (a dropped and re-created table, say): copies of its rows are meaningless */
	cache_generation = 0;
}

static void
ref_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			/* COMMIT PREPARED runs no callback of ours: other backends would keep stale copies */
			if (wrote_reference)
				ereport(ERROR,
						(errcode(EVS_ERR_CONFLICT),
						 errmsg("cannot PREPARE a transaction that changed tenants, events, sections, tiers or currencies"),
						 errhint("Commit or roll back such changes in an ordinary transaction.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* an atomic add only: nothing here may fail */
			if (wrote_reference)
				bump();
			wrote_reference = false;
			break;
		default:
			break;
	}
}

static void
ref_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	/* rows the backend's own copies may have come from are gone */
	if (event == SUBXACT_EVENT_ABORT_SUB && wrote_reference)
		bump();
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(ref_xact_callback, NULL);
	RegisterSubXactCallback(ref_subxact_callback, NULL);
	CacheRegisterRelcacheCallback(ref_relcache_callback, (Datum) 0);
	callbacks_registered = true;
}

/*
 * AFTER ... FOR EACH STATEMENT on the reference tables (enabled ALWAYS, so a
 * replica-role session raises it too).
 */
Datum
evs_refcache_trigger(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "evs_refcache_trigger must be called as a trigger");
	register_callbacks();
	wrote_reference = true;
	bump();
	return PointerGetDatum(NULL);
}

/* eventsvc.reference_generation(): for tests and operators; NULL without shared memory. */
Datum
evs_sql_reference_generation(PG_FUNCTION_ARGS)
{
	uint64		g = evs_refcache_generation();

	if (g == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) g);
}

/* The repair tools call this: copies are reloaded from the rows. */
void
evs_refcache_invalidate(void)
{
	bump();
}

/* The kept copy of a reference row loaded under `generation`, or NULL. */
HeapTuple
evs_refcache_lookup(const EvsRefKey *key, uint64 generation, TupleDesc *desc)
{
	RefEntry   *e;

	if (generation == 0)
		return NULL;
	if (generation != cache_generation || cache == NULL)
	{
		HASHCTL		ctl;

		register_callbacks();
		if (cache_cxt == NULL)
			cache_cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc reference rows",
											  ALLOCSET_DEFAULT_SIZES);
		drop_copies();
		ctl.keysize = sizeof(EvsRefKey);
		ctl.entrysize = sizeof(RefEntry);
		ctl.hcxt = cache_cxt;
		cache = hash_create("eventsvc reference rows", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		cache_generation = generation;
		return NULL;
	}
	e = hash_search(cache, key, HASH_FIND, NULL);
	if (e == NULL)
		return NULL;
	*desc = e->desc;
	return e->tuple;
}

/* Keeps a copy of a reference row loaded under `generation`. */
void
evs_refcache_store(const EvsRefKey *key, uint64 generation, HeapTuple tuple, TupleDesc desc)
{
	RefEntry   *e;
	HeapTuple	copy;
	TupleDesc	desc_copy;
	bool		found;
	MemoryContext old;

	/* read under another generation (or none): the next lookup reloads anyway */
	if (generation == 0 || generation != cache_generation || cache == NULL)
		return;
	if (hash_get_num_entries(cache) >= REFCACHE_MAX_ENTRIES)
	{
		cache_generation = 0;	/* start again at the next lookup */
		return;
	}
	/* copies first: an out-of-memory error must not leave a half-filled entry */
	old = MemoryContextSwitchTo(cache_cxt);
	copy = heap_copytuple(tuple);
	desc_copy = CreateTupleDescCopy(desc);
	e = hash_search(cache, key, HASH_ENTER, &found);
	e->tuple = copy;
	e->desc = desc_copy;
	MemoryContextSwitchTo(old);
}
