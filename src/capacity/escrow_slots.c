/*
 * escrow_slots.c: the table of shared seat counters. A fixed array of slots;
 * a section gets one on its first reservation (a tenant at most its quota
 * counter_slots of them: eventsvc.escrow_sections_per_tenant or the tenant's
 * own, core/quotas.c), and when none is free the
 * least recently used idle slot changes hands. A section without a slot, or
 * whose slot is being built, is sold on the row-lock path under its seat lock
 * (a heavyweight lock held until commit). The superuser's tools look at the
 * table and reset a section's counter. docs/capacity.md "Which sections have a
 * counter".
 */
#include "core/core.h"

#include "access/xlog.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "capacity/escrow_slots.h"

PG_FUNCTION_INFO_V1(evs_sql_escrow_state);
PG_FUNCTION_INFO_V1(evs_sql_escrow_reset);
PG_FUNCTION_INFO_V1(evs_sql_escrow_sections);
PG_FUNCTION_INFO_V1(evs_sql_escrow_tenant_slots);
PG_FUNCTION_INFO_V1(evs_sql_repair_counters);

/* advisory lock class of a section's seat lock (pg_locks shows it as objsubid) */
#define EVS_LOCK_SECTION_SEATS 0x4556
/* a slot unused for this long may change hands */
#define EVICT_IDLE_SECONDS 1
/* slots an assignment looks at for one to take over */
#define VICTIM_PROBES 64
/* a backend that found no slot for a section asks again after this */
#define NO_SLOT_RETRY_MS 1000
/* sections a backend remembers; past that it starts over */
#define LOCAL_ENTRIES_MAX 65536

typedef struct SlotMapEntry
{
	EvsEscrowKey key;
	int			slot;
} SlotMapEntry;

typedef struct TenantShareKey
{
	Oid			dbid;
	pg_uuid_t	tenant;
} TenantShareKey;

typedef struct TenantShare
{
	TenantShareKey key;
	int			slots;
} TenantShare;

/* A backend's memory of a section's slot (slot -1: none, until no_slot_until). */
typedef struct LocalEntry
{
	EvsEscrowKey key;
	int			slot;
	uint32		tag;
	TimestampTz no_slot_until;
} LocalEntry;

/* settings (evs_escrow_init) */
int			evs_escrow_max_sections = 10000;
int			evs_escrow_build_wait_ms = 100;

EscrowShared *evs_escrow_shared = NULL;
EscrowSlot *evs_escrow_slots = NULL;
static HTAB *slot_map = NULL;
static HTAB *tenant_shares = NULL;
static HTAB *local_entries = NULL;

/* ---- shared memory: the shared struct, its free list, then the slots ---- */

static Size
slots_offset(void)
{
	return MAXALIGN(add_size(offsetof(EscrowShared, freelist), mul_size(sizeof(int), evs_escrow_max_sections)));
}

static Size
escrow_shmem_size(void)
{
	return add_size(slots_offset(), mul_size(sizeof(EscrowSlot), evs_escrow_max_sections));
}

/* the two hash tables beside the struct, and the table's lock */
static void
escrow_shmem_request(void)
{
	RequestAddinShmemSpace(hash_estimate_size(evs_escrow_max_sections, sizeof(SlotMapEntry)));
	RequestAddinShmemSpace(hash_estimate_size(evs_escrow_max_sections, sizeof(TenantShare)));
	RequestNamedLWLockTranche("eventsvc_escrow", 1);
}

/* After a crash the postmaster runs this again: every slot starts free. */
static void
escrow_shmem_attach(void *ptr, bool found)
{
	HASHCTL		info;

	evs_escrow_shared = ptr;
	evs_escrow_slots = (EscrowSlot *) ((char *) ptr + slots_offset());
	if (!found)
	{
		evs_escrow_shared->lock = &(GetNamedLWLockTranche("eventsvc_escrow"))->lock;
		ConditionVariableInit(&evs_escrow_shared->drained);
		pg_atomic_init_u32(&evs_escrow_shared->waiters, 0);
		evs_escrow_shared->hand = 0;
		evs_escrow_shared->nfree = evs_escrow_max_sections;
		for (int i = 0; i < GIVER_BUCKETS; i++)
			pg_atomic_init_u32(&evs_escrow_shared->givers[i], 0);
		for (int i = 0; i < evs_escrow_max_sections; i++)
		{
			EscrowSlot *s = &evs_escrow_slots[i];

			/* popped from the end: slot 0 first */
			evs_escrow_shared->freelist[i] = evs_escrow_max_sections - 1 - i;
			memset(&s->key, 0, sizeof(s->key));
			pg_atomic_init_u64(&s->available, 0);
			pg_atomic_init_u64(&s->pending_take, 0);
			pg_atomic_init_u64(&s->changes, 0);
			pg_atomic_init_u64(&s->retry_after, 0);
			pg_atomic_init_u32(&s->inflight, 0);
			pg_atomic_init_u32(&s->generation, 0);
			pg_atomic_init_u32(&s->state, SLOT_FREE);
			pg_atomic_init_u32(&s->tag, 0);
			pg_atomic_init_u32(&s->building, 0);
			pg_atomic_init_u32(&s->last_used, 0);
		}
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(EvsEscrowKey);
	info.entrysize = sizeof(SlotMapEntry);
	slot_map = ShmemInitHash("eventsvc escrow sections", evs_escrow_max_sections, evs_escrow_max_sections,
							 &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(TenantShareKey);
	info.entrysize = sizeof(TenantShare);
	tenant_shares = ShmemInitHash("eventsvc escrow tenant shares", evs_escrow_max_sections,
								  evs_escrow_max_sections, &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* Called from evs_capacity_init: the counters' settings and, when preloaded, their shared memory. */
void
evs_escrow_init(void)
{
	/* PGC_POSTMASTER settings can only be defined while preloading (else FATAL). */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("eventsvc.escrow_max_sections",
								"Sections that can have a shared-memory seat counter at once (0 disables them).",
								"Sections beyond this use the row-lock path; idle counters are taken over. "
								"Needs a restart.",
								&evs_escrow_max_sections, 10000, 0, 10000000,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	/* eventsvc.escrow_sections_per_tenant is the default of the quota counter_slots (core/quotas.c) */
	DefineCustomIntVariable("eventsvc.escrow_build_wait_ms",
							"How long a reservation waits, in real time, for a section's counter to be built.",
							"Past it the reservation uses the row-lock path and the build is tried again later.",
							&evs_escrow_build_wait_ms, 100, 0, 10000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade && evs_escrow_max_sections > 0)
		evs_shmem_register("eventsvc escrow", escrow_shmem_size, escrow_shmem_request, escrow_shmem_attach);
}

static uint32
now_seconds(void)
{
	return (uint32) (GetCurrentTimestamp() / USECS_PER_SEC);
}

/* The bucket of a section's key: gives in flight on it while it has no slot. */
int
evs_escrow_bucket(const EvsEscrowKey *key)
{
	return (int) (hash_bytes((const unsigned char *) key, sizeof(*key)) % GIVER_BUCKETS);
}

/* ---- finding and assigning slots ---- */

/* The key of a section's slot: database, holds table, tenant, section. */
void
evs_escrow_key(EvsEscrowKey *key, Datum tenant, Datum section)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
	key->holds_rel = evs_relation_oid("capacity_holds");
	memcpy(&key->tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
	memcpy(&key->section, DatumGetUUIDP(section), sizeof(pg_uuid_t));
}

static LocalEntry *
local_entry(const EvsEscrowKey *key, bool create)
{
	bool		found;
	LocalEntry *l;

	if (local_entries == NULL || (create && hash_get_num_entries(local_entries) >= LOCAL_ENTRIES_MAX))
	{
		HASHCTL		info;

		if (!create)
			return NULL;
		if (local_entries != NULL)
			hash_destroy(local_entries);
		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(EvsEscrowKey);
		info.entrysize = sizeof(LocalEntry);
		info.hcxt = TopMemoryContext;
		local_entries = hash_create("eventsvc escrow sections", 256, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	l = hash_search(local_entries, key, create ? HASH_ENTER : HASH_FIND, &found);
	if (create && !found)
	{
		l->slot = -1;
		l->tag = 0;
		l->no_slot_until = 0;
	}
	return l;
}

/*
 * Lets go of a slot's section, when nobody is using it: false (and the slot
 * left stale: its next user builds it again) when a transaction has records on
 * it. The state first, then the in-flight count again: a transaction that
 * appended a record before looking at the state is seen here, one that appends
 * later sees the slot stale (or another tag) and lets go. Under the lock,
 * exclusive; the caller reuses the slot or puts it on the free list.
 */
static bool
slot_release(EscrowSlot *s)
{
	TenantShareKey tk = {.dbid = s->key.dbid};
	TenantShare *share;

	pg_atomic_write_u32(&s->state, SLOT_STALE);
	pg_memory_barrier();
	if (pg_atomic_read_u32(&s->inflight) != 0 || pg_atomic_read_u32(&s->building) != 0)
		return false;
	pg_atomic_fetch_add_u32(&s->tag, 1);
	(void) hash_search(slot_map, &s->key, HASH_REMOVE, NULL);
	memcpy(&tk.tenant, &s->key.tenant, sizeof(pg_uuid_t));
	share = hash_search(tenant_shares, &tk, HASH_FIND, NULL);
	if (share != NULL && --share->slots <= 0)
		(void) hash_search(tenant_shares, &tk, HASH_REMOVE, NULL);
	return true;
}

/*
 * Takes a slot over for another section: an idle one (no records, no build,
 * unused for a second), of `tenant` only when given. The clock hand looks at
 * up to VICTIM_PROBES slots. Under the lock, exclusive.
 */
static int
take_over_slot(const TenantShareKey *tenant)
{
	uint32		now = now_seconds();

	for (int probe = 0; probe < VICTIM_PROBES && probe < evs_escrow_max_sections; probe++)
	{
		int			i = evs_escrow_shared->hand;
		EscrowSlot *s = &evs_escrow_slots[i];

		evs_escrow_shared->hand = (i + 1) % evs_escrow_max_sections;
		if (pg_atomic_read_u32(&s->state) == SLOT_FREE)
			continue;
		if (tenant != NULL && (s->key.dbid != tenant->dbid ||
							   memcmp(&s->key.tenant, &tenant->tenant, sizeof(pg_uuid_t)) != 0))
			continue;
		if (pg_atomic_read_u32(&s->building) != 0 || pg_atomic_read_u32(&s->inflight) != 0 ||
			now - pg_atomic_read_u32(&s->last_used) < EVICT_IDLE_SECONDS)
			continue;
		if (!slot_release(s))
			continue;
		return i;
	}
	return -1;
}

/*
 * A slot for `key`: a free one, else (with take_over) an idle one taken over;
 * -1 when none. `share` is the tenant's quota counter_slots. Under the lock,
 * exclusive.
 */
static int
assign_slot(const EvsEscrowKey *key, bool take_over, int share_limit)
{
	TenantShareKey tk = {.dbid = key->dbid};
	TenantShare *share;
	SlotMapEntry *m;
	EscrowSlot *s;
	bool		found;
	int			i;

	memcpy(&tk.tenant, &key->tenant, sizeof(pg_uuid_t));
	share = hash_search(tenant_shares, &tk, HASH_FIND, NULL);
	if (share_limit <= 0)
		i = -1;
	else if (share != NULL && share->slots >= share_limit)
		i = take_over ? take_over_slot(&tk) : -1;	/* the share is full: only the tenant's own idle slots */
	else if (evs_escrow_shared->nfree > 0)
		i = evs_escrow_shared->freelist[--evs_escrow_shared->nfree];
	else
		i = take_over ? take_over_slot(NULL) : -1;
	if (i < 0)
		return -1;
	s = &evs_escrow_slots[i];
	m = hash_search(slot_map, key, HASH_ENTER_NULL, &found);
	if (m == NULL)
	{
		/* cannot happen (the map holds as many as there are slots): give the slot back */
		pg_atomic_write_u32(&s->state, SLOT_FREE);
		evs_escrow_shared->freelist[evs_escrow_shared->nfree++] = i;
		return -1;
	}
	m->slot = i;
	s->key = *key;
	pg_atomic_write_u64(&s->retry_after, 0);
	pg_atomic_write_u32(&s->last_used, now_seconds());
	pg_atomic_write_u32(&s->state, SLOT_STALE);
	pg_atomic_fetch_add_u32(&s->tag, 1);
	share = hash_search(tenant_shares, &tk, HASH_ENTER_NULL, &found);
	if (share != NULL)
		share->slots = found ? share->slots + 1 : 1;
	return i;
}

/*
 * The section's slot in `e` (a handle: slot and the tag it had): from this
 * backend's memory, else the shared map; with `assign`, a slot is assigned
 * when it has none. False when it has (or gets) none.
 */
typedef enum AssignMode
{
	ASSIGN_NONE,				/* find only */
	ASSIGN_FREE,				/* a free slot within the tenant's share */
	ASSIGN_ANY					/* also an idle slot taken over */
} AssignMode;

static bool
escrow_lookup(Datum tenant, Datum section, AssignMode assign, EvsEscrowEntry *e)
{
	LocalEntry *l;
	SlotMapEntry *m;
	int			i = -1;

	if (evs_escrow_slots == NULL || RecoveryInProgress())
		return false;
	evs_escrow_key(&e->key, tenant, section);
	l = local_entry(&e->key, false);
	if (l != NULL && l->slot >= 0 && pg_atomic_read_u32(&evs_escrow_slots[l->slot].tag) == l->tag)
	{
		e->slot = l->slot;
		e->tag = l->tag;
		return true;
	}
	LWLockAcquire(evs_escrow_shared->lock, LW_SHARED);
	m = hash_search(slot_map, &e->key, HASH_FIND, NULL);
	if (m != NULL)
	{
		i = m->slot;
		e->tag = pg_atomic_read_u32(&evs_escrow_slots[i].tag);
	}
	LWLockRelease(evs_escrow_shared->lock);
	/* none, and none to be had a moment ago: do not try to assign one again right away */
	if (i < 0 && assign != ASSIGN_NONE && !(l != NULL && l->slot < 0 && GetCurrentTimestamp() < l->no_slot_until))
	{
		/* the tenant's share, read before the lock (a backend-local lookup) */
		int			share_limit = evs_quota(tenant, EVS_QUOTA_COUNTER_SLOTS, NULL);

		LWLockAcquire(evs_escrow_shared->lock, LW_EXCLUSIVE);
		m = hash_search(slot_map, &e->key, HASH_FIND, NULL);
		i = m != NULL ? m->slot : assign_slot(&e->key, assign == ASSIGN_ANY, share_limit);
		if (i >= 0)
			e->tag = pg_atomic_read_u32(&evs_escrow_slots[i].tag);
		LWLockRelease(evs_escrow_shared->lock);
		if (i < 0 && assign == ASSIGN_ANY)
		{
			l = local_entry(&e->key, true);
			l->slot = -1;
			l->no_slot_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), NO_SLOT_RETRY_MS);
			return false;
		}
	}
	if (i < 0)
		return false;
	l = local_entry(&e->key, true);
	l->slot = i;
	l->tag = e->tag;
	e->slot = i;
	return true;
}

bool
evs_escrow_section(Datum tenant, Datum section, EvsEscrowEntry *e)
{
	return escrow_lookup(tenant, section, ASSIGN_ANY, e);
}

bool
evs_escrow_section_if_free(Datum tenant, Datum section, EvsEscrowEntry *e)
{
	return escrow_lookup(tenant, section, ASSIGN_FREE, e);
}

bool
evs_escrow_find(Datum tenant, Datum section, EvsEscrowEntry *e)
{
	return escrow_lookup(tenant, section, ASSIGN_NONE, e);
}

/* ---- the section's seat lock (the row-lock path) ---- */

/* A section's seat lock (the row-lock path orders on it; a build takes it exclusive). */
void
evs_escrow_seats_locktag(LOCKTAG *tag, const EvsEscrowKey *key)
{
	uint32		k1 = hash_bytes((const unsigned char *) &key->tenant, 2 * sizeof(pg_uuid_t));
	uint32		k2;

	memcpy(&k2, key->section.data, sizeof(k2));
	SET_LOCKTAG_ADVISORY(*tag, key->dbid, k1, k2, EVS_LOCK_SECTION_SEATS);
}

/*
 * The row-lock path: takes the section's seat lock until this transaction
 * ends (its reservations on that path queue on it; a counter build waits for
 * them) and returns the seats other transactions took on the section's counter
 * and have not settled (a counter being rebuilt still has takes in flight:
 * they are not in the counter rows yet).
 */
int64
evs_seats_lock(Datum tenant, Datum section)
{
	EvsEscrowKey key;
	LOCKTAG		tag;
	EvsEscrowEntry e;

	if (evs_escrow_slots == NULL || RecoveryInProgress())
	{
		/* no counters at all: the lock alone orders the row-lock path */
		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		memcpy(&key.tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
		memcpy(&key.section, DatumGetUUIDP(section), sizeof(pg_uuid_t));
		evs_escrow_seats_locktag(&tag, &key);
		(void) LockAcquire(&tag, ShareUpdateExclusiveLock, false, false);
		return 0;
	}
	evs_escrow_key(&key, tenant, section);
	evs_escrow_seats_locktag(&tag, &key);
	(void) LockAcquire(&tag, ShareUpdateExclusiveLock, false, false);
	if (!evs_escrow_find(tenant, section, &e))
		return 0;
	return (int64) pg_atomic_read_u64(&evs_escrow_slots[e.slot].pending_take) -
		evs_escrow_own_pending(&evs_escrow_slots[e.slot], false);
}

/* ---- the superuser's tools ---- */

/*
 * The slots of a section id in this database, whatever their tenant (the
 * tools below name a section only), or with section_id 0 every slot of this
 * database. Fills at most `max`. Under the lock.
 */
static int
slots_of_section(Datum section_id, int *found, int max)
{
	HASH_SEQ_STATUS scan;
	SlotMapEntry *m;
	Oid			holds_rel = evs_relation_oid("capacity_holds");
	int			n = 0;

	hash_seq_init(&scan, slot_map);
	while ((m = hash_seq_search(&scan)) != NULL)
	{
		if (m->key.dbid == MyDatabaseId && m->key.holds_rel == holds_rel &&
			(section_id == (Datum) 0 ||
			 memcmp(&m->key.section, DatumGetUUIDP(section_id), sizeof(pg_uuid_t)) == 0) && n < max)
			found[n++] = m->slot;
	}
	return n;
}

/*
 * Forgets the counters of a section id in every tenant, or with section_id 0
 * every counter of this database: an unused slot is free again, one with
 * transactions in flight is made stale (rebuilt from the counter rows by its
 * next user). Returns how many.
 */
static int
forget_counters(Datum section_id)
{
	int		   *found;
	int			n;

	if (evs_escrow_slots == NULL || RecoveryInProgress())
		return 0;
	found = palloc(sizeof(int) * Max(evs_escrow_max_sections, 1));
	LWLockAcquire(evs_escrow_shared->lock, LW_EXCLUSIVE);
	n = slots_of_section(section_id, found, evs_escrow_max_sections);
	for (int i = 0; i < n; i++)
	{
		EscrowSlot *s = &evs_escrow_slots[found[i]];

		pg_atomic_fetch_add_u64(&s->changes, 1);
		pg_atomic_write_u64(&s->retry_after, 0);
		/* unused: forgotten altogether (the slot is free again); in use: stale, rebuilt on next use */
		if (slot_release(s))
		{
			pg_atomic_write_u32(&s->state, SLOT_FREE);
			evs_escrow_shared->freelist[evs_escrow_shared->nfree++] = found[i];
		}
	}
	LWLockRelease(evs_escrow_shared->lock);
	pg_memory_barrier();
	pfree(found);
	return n;
}

static const char *
state_name(uint32 state)
{
	return state == SLOT_VALID ? "valid" : state == SLOT_STALE ? "stale" : "free";
}

/*
 * eventsvc.escrow_state(section): what the shared counter says, for operators
 * and tests (superuser only). NULL when the section has no counter.
 */
Datum
evs_sql_escrow_state(PG_FUNCTION_ARGS)
{
	JsonbParseState *st = NULL;
	int			i;
	EscrowSlot *s;

	if (PG_ARGISNULL(0) || evs_escrow_slots == NULL || RecoveryInProgress())
		PG_RETURN_NULL();
	LWLockAcquire(evs_escrow_shared->lock, LW_SHARED);
	if (slots_of_section(PG_GETARG_DATUM(0), &i, 1) == 0)
	{
		LWLockRelease(evs_escrow_shared->lock);
		PG_RETURN_NULL();
	}
	s = &evs_escrow_slots[i];
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_bool(&st, "valid", pg_atomic_read_u32(&s->state) == SLOT_VALID);
	evs_jsonb_push_text(&st, "state", state_name(pg_atomic_read_u32(&s->state)));
	evs_jsonb_push_int(&st, "available", (int64) pg_atomic_read_u64(&s->available));
	evs_jsonb_push_int(&st, "in_flight", pg_atomic_read_u32(&s->inflight));
	evs_jsonb_push_int(&st, "pending_take", (int64) pg_atomic_read_u64(&s->pending_take));
	evs_jsonb_push_int(&st, "generation", pg_atomic_read_u32(&s->generation));
	evs_jsonb_push_uuid(&st, "tenant_id", UUIDPGetDatum(&s->key.tenant));
	LWLockRelease(evs_escrow_shared->lock);
	PG_RETURN_JSONB_P(evs_jsonb_end(&st));
}

/*
 * eventsvc.escrow_sections(): the counters' table as a whole, for operators:
 * slots in use, free, and held by the most demanding tenants (superuser only).
 */
Datum
evs_sql_escrow_sections(PG_FUNCTION_ARGS)
{
	JsonbParseState *st = NULL;
	int			valid = 0,
				stale = 0;

	if (evs_escrow_slots == NULL)
		PG_RETURN_NULL();
	LWLockAcquire(evs_escrow_shared->lock, LW_SHARED);
	for (int i = 0; i < evs_escrow_max_sections; i++)
	{
		uint32		state = pg_atomic_read_u32(&evs_escrow_slots[i].state);

		valid += state == SLOT_VALID;
		stale += state == SLOT_STALE;
	}
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_int(&st, "max_sections", evs_escrow_max_sections);
	evs_jsonb_push_int(&st, "sections_per_tenant", evs_quota_default(EVS_QUOTA_COUNTER_SLOTS));
	evs_jsonb_push_int(&st, "valid", valid);
	evs_jsonb_push_int(&st, "stale", stale);
	evs_jsonb_push_int(&st, "free", evs_escrow_shared->nfree);
	evs_jsonb_push_int(&st, "tenants", hash_get_num_entries(tenant_shares));
	LWLockRelease(evs_escrow_shared->lock);
	PG_RETURN_JSONB_P(evs_jsonb_end(&st));
}

/*
 * eventsvc.escrow_tenant_slots(): the shared seat counters the caller's tenant
 * holds now in this database (its use of the quota counter_slots, for
 * api.tenant_usage); NULL without shared_preload_libraries.
 */
Datum
evs_sql_escrow_tenant_slots(PG_FUNCTION_ARGS)
{
	TenantShareKey tk = {.dbid = MyDatabaseId};
	TenantShare *share;
	int			slots;

	memcpy(&tk.tenant, DatumGetUUIDP(evs_current_tenant()), sizeof(pg_uuid_t));
	if (evs_escrow_slots == NULL)
		PG_RETURN_NULL();
	LWLockAcquire(evs_escrow_shared->lock, LW_SHARED);
	share = hash_search(tenant_shares, &tk, HASH_FIND, NULL);
	slots = share != NULL ? share->slots : 0;
	LWLockRelease(evs_escrow_shared->lock);
	PG_RETURN_INT32(slots);
}

/*
 * eventsvc.escrow_reset(section): the repair after drift or after hold rows
 * were written around the hold functions. The section's counter rows are
 * corrected to what its holds add up to (one snapshot, the difference added to
 * this backend's stripe: transactions in flight commit their own changes to
 * both, so the difference stays right), and its counters, in every tenant, are
 * forgotten (or, while transactions have records on one, made stale): the next
 * reservation builds one again from the rows, without waiting long for
 * transactions in flight (it uses the row-lock path meanwhile).
 * NULL: only the sweep's horizon and the reference copies. Superuser only.
 */
Datum
evs_sql_escrow_reset(PG_FUNCTION_ARGS)
{
	/* rows written around the hold functions may also expire before the sweep's horizon */
	evs_sweep_horizon_reset();
	evs_refcache_invalidate();
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	evs_counters_repair(PG_GETARG_DATUM(0));
	PG_RETURN_BOOL(forget_counters(PG_GETARG_DATUM(0)) > 0);
}

/*
 * eventsvc.repair_counters(): escrow_reset for every section of this
 * database at once, as rebuild_derived runs it after a restore: the counter
 * rows of every section corrected to what its holds add up to in one
 * statement (one pass over the holds, not one probe per section), every
 * shared counter of the database forgotten, the sweep's horizon and the
 * reference copies reset. Returns how many counter rows were corrected.
 * Superuser only.
 */
Datum
evs_sql_repair_counters(PG_FUNCTION_ARGS)
{
	int64		corrected;

	evs_sweep_horizon_reset();
	evs_refcache_invalidate();
	corrected = evs_counters_repair_all();
	(void) forget_counters((Datum) 0);
	PG_RETURN_INT64(corrected);
}
