/*
 * capacity/escrow_slots.h: what the three files of the shared seat counters
 * share and nothing else uses: the slots (escrow_slots.c: the table, who gets
 * a slot, the seat lock, the tools), their builds (escrow_build.c) and the
 * backend's records on them (escrow.c: takes and gives). docs/capacity.md
 * "Hot sections".
 */
#ifndef EVS_ESCROW_SLOTS_H
#define EVS_ESCROW_SLOTS_H

#include "capacity/capacity_internal.h"

#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/lock.h"
#include "storage/lwlock.h"

/* counts of gives in flight on sections without a slot, by hash of the section */
#define GIVER_BUCKETS 4096

typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_STALE,					/* assigned, to be (re)built before use */
	SLOT_VALID
} SlotState;

typedef struct EscrowSlot
{
	EvsEscrowKey key;			/* written under the lock (exclusive) when the slot changes hands */
	pg_atomic_uint64 available; /* seats free for new holds */
	pg_atomic_uint64 pending_take;	/* seats taken by records still in flight */
	pg_atomic_uint64 changes;	/* bumped by every record and settlement: readers detect movement */
	pg_atomic_uint64 retry_after;	/* a build gave up: none before this (timestamp) */
	pg_atomic_uint32 inflight;	/* records of open transactions on this slot */
	pg_atomic_uint32 generation;	/* bumped by every build */
	pg_atomic_uint32 state;		/* SlotState */
	pg_atomic_uint32 tag;		/* bumped whenever the slot changes hands */
	pg_atomic_uint32 building;	/* one build at a time */
	pg_atomic_uint32 last_used; /* seconds, for eviction */
} EscrowSlot;

typedef struct EscrowShared
{
	LWLock	   *lock;			/* the map, the tenant shares, the free list, slot keys */
	/*
	 * A build waits here until records end. Ending one broadcasts only while
	 * someone waits (builds are rare; every reservation ends a record).
	 */
	ConditionVariable drained;
	pg_atomic_uint32 waiters;
	int			hand;			/* next slot the eviction clock looks at */
	int			nfree;
	pg_atomic_uint32 givers[GIVER_BUCKETS];
	int			freelist[FLEXIBLE_ARRAY_MEMBER];
} EscrowShared;

extern EscrowShared *evs_escrow_shared;
extern EscrowSlot *evs_escrow_slots;	/* evs_escrow_max_sections of them; NULL: no counters here */
extern int	evs_escrow_max_sections;
extern int	evs_escrow_build_wait_ms;

/* Whether the handle still names its slot's section (a slot changes hands; every use checks). */
static inline bool
evs_escrow_handle_holds(const EvsEscrowEntry *e)
{
	return pg_atomic_read_u32(&evs_escrow_slots[e->slot].tag) == e->tag;
}

/* escrow_slots.c */
extern void evs_escrow_key(EvsEscrowKey *key, Datum tenant, Datum section);
extern int	evs_escrow_bucket(const EvsEscrowKey *key);
extern void evs_escrow_seats_locktag(LOCKTAG *tag, const EvsEscrowKey *key);

/* escrow_build.c: builds a stale slot from the counter rows, or gives up within the wait */
extern bool evs_escrow_build(EvsEscrowEntry *e, Datum tenant, Datum section);

/* escrow.c: this backend's records on a slot (or its bucket) */
extern int	evs_escrow_own_records(EscrowSlot *s);
extern int	evs_escrow_own_bucket_records(int bucket);
extern int64 evs_escrow_own_pending(EscrowSlot *s, bool gives);	/* seats of own takes, or of own gives */
extern void evs_escrow_adopt_records(EscrowSlot *s, uint32 generation);	/* own records move to a new build */
extern void evs_escrow_touch(EscrowSlot *s);

#endif
