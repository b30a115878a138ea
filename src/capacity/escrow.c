/*
 * escrow.c: per-section seat counters in shared memory, so that concurrent
 * reservations on one hot section never queue on a row lock. A reservation
 * takes seats with a compare-and-swap that never goes below zero; the seats go
 * back if its (sub)transaction aborts. A release gives seats back only once its
 * transaction commits. Every change is recorded in this backend's list before
 * a counter moves, and settled by the transaction callbacks. The slots
 * themselves are in escrow_slots.c, their builds in escrow_build.c.
 * docs/capacity.md explains the rules; the comments below say which race each
 * step closes.
 */
#include "core/core.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "capacity/escrow_slots.h"

typedef enum RecordKind
{
	RECORD_TAKE,				/* seats taken: give back on abort */
	RECORD_GIVE,				/* seats released: give back on commit */
	RECORD_BUCKET				/* a give on a section without a slot: counted in its bucket */
} RecordKind;

/* What this backend's open transaction did to counters (TopTransactionContext). */
typedef struct EscrowRecord
{
	EscrowSlot *slot;			/* NULL for RECORD_BUCKET */
	int			bucket;
	uint32		generation;
	RecordKind	kind;
	int64		n;
	SubTransactionId subid;
} EscrowRecord;

static bool callbacks_registered = false;

static EscrowRecord *records = NULL;
static int	nrecords = 0;
static int	maxrecords = 0;

/*
 * This transaction's registered gives, one per section and subtransaction:
 * the record that gives the seats back at commit (-1: the bucket or the seat
 * lock registered it, nothing to give at commit). TopTransactionContext.
 */
typedef struct GiveRegistration
{
	pg_uuid_t	tenant;
	pg_uuid_t	section;
	SubTransactionId subid;
	int			record;
} GiveRegistration;

static GiveRegistration *gives = NULL;
static int	ngives = 0;
static int	maxgives = 0;


/* The slot was used now (a write only when the second changed: its cache line stays shared). */
void
evs_escrow_touch(EscrowSlot *s)
{
	uint32		now = (uint32) (GetCurrentTimestamp() / USECS_PER_SEC);

	if (pg_atomic_read_u32(&s->last_used) != now)
		pg_atomic_write_u32(&s->last_used, now);
}

/* ---- the backend's records and the transaction callbacks ---- */

/*
 * A record leaves its slot's (or bucket's) in-flight count. The fetch-and-sub
 * is a full barrier and a waiting build raises `waiters` (another full
 * barrier) before it reads the count: either it sees the record gone, or this
 * sees it waiting and wakes it. Only atomics, a spinlock and a latch: safe in
 * a commit callback.
 */
static void
record_end(EscrowRecord *r)
{
	if (r->kind == RECORD_BUCKET)
		pg_atomic_fetch_sub_u32(&evs_escrow_shared->givers[r->bucket], 1);
	else
	{
		/* bumped before in_flight drops: a reader that sees in_flight 0 after this sees the bump */
		pg_atomic_fetch_add_u64(&r->slot->changes, 1);
		pg_atomic_fetch_sub_u32(&r->slot->inflight, 1);
	}
	if (pg_atomic_read_u32(&evs_escrow_shared->waiters) > 0)
		ConditionVariableBroadcast(&evs_escrow_shared->drained);
}

static void
settle_record(EscrowRecord *r, bool committed)
{
	EscrowSlot *s = r->slot;

	if (r->kind != RECORD_BUCKET)
	{
		/*
		 * A record of an older generation belongs to a counter that has since
		 * been built again from rows; applying it would count the seats twice.
		 */
		if (r->generation == pg_atomic_read_u32(&s->generation))
		{
			if ((r->kind == RECORD_TAKE && !committed) || (r->kind == RECORD_GIVE && committed))
				pg_atomic_fetch_add_u64(&s->available, (uint64) r->n);
		}
		if (r->kind == RECORD_TAKE)
			pg_atomic_fetch_sub_u64(&s->pending_take, (uint64) r->n);
	}
	record_end(r);
}

static void
escrow_xact_callback(XactEvent event, void *arg)
{
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
			for (int i = 0; i < nrecords; i++)
				settle_record(&records[i], event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT);
			records = NULL;		/* freed with TopTransactionContext */
			nrecords = maxrecords = 0;
			gives = NULL;
			ngives = maxgives = 0;
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
	/* A subtransaction's records are always the tail of the list. */
	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			while (nrecords > 0 && records[nrecords - 1].subid >= mySubid)
			{
				settle_record(&records[nrecords - 1], false);
				nrecords--;
			}
			while (ngives > 0 && gives[ngives - 1].subid >= mySubid)
				ngives--;
			evs_hold_writer_active = false;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			/* The parent inherits the child's records, as namespace.c does. */
			for (int i = nrecords - 1; i >= 0 && records[i].subid >= mySubid; i--)
				records[i].subid = parentSubid;
			for (int i = ngives - 1; i >= 0 && gives[i].subid >= mySubid; i--)
				gives[i].subid = parentSubid;
			break;
		default:
			break;
	}
}

static void
register_callbacks(void)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(escrow_xact_callback, NULL);
		RegisterSubXactCallback(escrow_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

/*
 * Appends a record and counts it in flight (full barriers: the count is
 * visible before the caller looks at the slot's state). The record exists
 * before any counter moves, so no error can leave seats taken without one.
 */
static int
record_append(EscrowSlot *s, int bucket, RecordKind kind, int64 n)
{
	EscrowRecord *r;

	register_callbacks();
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
	r->slot = s;
	r->bucket = bucket;
	r->kind = kind;
	r->n = n;
	r->subid = GetCurrentSubTransactionId();
	if (kind == RECORD_BUCKET)
		pg_atomic_fetch_add_u32(&evs_escrow_shared->givers[bucket], 1);
	else
	{
		pg_atomic_fetch_add_u32(&s->inflight, 1);
		pg_atomic_fetch_add_u64(&s->changes, 1);
		r->generation = pg_atomic_read_u32(&s->generation);
	}
	return nrecords++;
}

/* Drops the last record, which changed no counter. */
static void
record_pop(void)
{
	Assert(nrecords > 0);
	nrecords--;
	record_end(&records[nrecords]);
}

/* This transaction's records on the slot. */
int
evs_escrow_own_records(EscrowSlot *s)
{
	int			n = 0;

	for (int i = 0; i < nrecords; i++)
		if (records[i].slot == s)
			n++;
	return n;
}

/* This transaction's gives counted in the bucket. */
int
evs_escrow_own_bucket_records(int bucket)
{
	int			n = 0;

	for (int i = 0; i < nrecords; i++)
		if (records[i].kind == RECORD_BUCKET && records[i].bucket == bucket)
			n++;
	return n;
}

/* Seats of this transaction's takes (or gives) on the slot, still to settle. */
int64
evs_escrow_own_pending(EscrowSlot *s, bool gives)
{
	RecordKind	what = gives ? RECORD_GIVE : RECORD_TAKE;
	int64		n = 0;

	for (int i = 0; i < nrecords; i++)
		if (records[i].slot == s && records[i].kind == what)
			n += records[i].n;
	return n;
}

/*
 * A build of the slot made by this transaction: its own records move to the
 * new generation (a take is given back if it rolls back, a give applied if it
 * commits: the build counted neither as settled).
 */
void
evs_escrow_adopt_records(EscrowSlot *s, uint32 generation)
{
	for (int i = 0; i < nrecords; i++)
		if (records[i].slot == s)
			records[i].generation = generation;
}

/* ---- taking and giving ---- */

EvsTake
evs_escrow_take(EvsEscrowEntry *e, Datum tenant, Datum section, int64 n, int64 *remaining)
{
	Assert(n > 0);
	for (int attempt = 0; attempt < 3; attempt++)
	{
		EscrowSlot *s = &evs_escrow_slots[e->slot];
		uint64		cur;

		(void) record_append(s, -1, RECORD_TAKE, n);
		/* in flight before looking at the slot: a build or a take-over either sees us or we see it */
		if (!evs_escrow_handle_holds(e) || pg_atomic_read_u32(&s->state) != SLOT_VALID)
		{
			record_pop();
			if (!evs_escrow_handle_holds(e))
			{
				/* the slot changed hands since this backend last looked: look again */
				if (!evs_escrow_section(tenant, section, e))
					return EVS_TAKE_NO_COUNTER;
				continue;
			}
			if (!evs_escrow_build(e, tenant, section) && pg_atomic_read_u32(&s->state) != SLOT_VALID)
				return EVS_TAKE_NO_COUNTER;
			continue;
		}
		cur = pg_atomic_read_u64(&s->available);
		for (;;)
		{
			if (cur < (uint64) n)
			{
				record_pop();
				*remaining = (int64) cur;
				return EVS_TAKE_SHORT;
			}
			/* on failure cur receives the current value */
			if (pg_atomic_compare_exchange_u64(&s->available, &cur, cur - (uint64) n))
				break;
		}
		pg_atomic_fetch_add_u64(&s->pending_take, (uint64) n);
		evs_escrow_touch(s);
		*remaining = (int64) (cur - (uint64) n);
		return EVS_TAKE_OK;
	}
	return EVS_TAKE_NO_COUNTER;
}

static GiveRegistration *
give_registration(Datum tenant, Datum section)
{
	SubTransactionId subid = GetCurrentSubTransactionId();

	for (int i = ngives - 1; i >= 0; i--)
		if (gives[i].subid == subid && memcmp(&gives[i].section, DatumGetUUIDP(section), sizeof(pg_uuid_t)) == 0 &&
			memcmp(&gives[i].tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t)) == 0)
			return &gives[i];
	return NULL;
}

/* Registers the give of a section (see evs_seats_give_begin); the record or -1. */
static int
give_register(Datum tenant, Datum section)
{
	EvsEscrowEntry e;
	EvsEscrowKey key;
	int			bucket;

	evs_escrow_key(&key, tenant, section);
	bucket = evs_escrow_bucket(&key);
	/* counted in the bucket before looking for a slot: a slot assigned meanwhile has its build wait */
	(void) record_append(NULL, bucket, RECORD_BUCKET, 0);
	pg_memory_barrier();
	if (!evs_escrow_find(tenant, section, &e))
		return -1;
	record_pop();
	for (int attempt = 0; attempt < 2; attempt++)
	{
		EscrowSlot *s = &evs_escrow_slots[e.slot];
		int			r = record_append(s, -1, RECORD_GIVE, 0);

		if (evs_escrow_handle_holds(&e) && pg_atomic_read_u32(&s->state) == SLOT_VALID)
		{
			evs_escrow_touch(s);
			return r;
		}
		record_pop();
		if (attempt == 0)
		{
			LOCKTAG		tag;

			/* being built: the build counts after this transaction (it takes the seat lock exclusive) */
			evs_escrow_seats_locktag(&tag, &key);
			(void) LockAcquire(&tag, AccessShareLock, false, false);
			/* built meanwhile (its snapshot did not see this change): give back on the new counter */
			if (!evs_escrow_handle_holds(&e) && !evs_escrow_find(tenant, section, &e))
				return -1;
		}
	}
	return -1;
}

/*
 * Before a change of hold rows that frees seats of a section (a release, an
 * expiry, a refund, a cut of a section's seats reversed...): the change is
 * registered where a build of the section's counter will see it. On a valid
 * counter, a record that gives the seats back at commit; on a section without
 * a slot, its bucket's count of gives in flight; on a counter being built, the
 * seat lock (shared) until this transaction ends. Once per section and
 * subtransaction; evs_seats_give_end adds the seats once the change knows
 * them.
 */
void
evs_seats_give_begin(Datum tenant, Datum section)
{
	GiveRegistration *g;

	if (evs_escrow_slots == NULL || RecoveryInProgress() || give_registration(tenant, section) != NULL)
		return;
	register_callbacks();
	if (ngives == maxgives)
	{
		int			newmax = maxgives == 0 ? 8 : maxgives * 2;

		gives = gives == NULL ? MemoryContextAlloc(TopTransactionContext, newmax * sizeof(GiveRegistration))
			: repalloc(gives, newmax * sizeof(GiveRegistration));
		maxgives = newmax;
	}
	g = &gives[ngives];
	memcpy(&g->tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
	memcpy(&g->section, DatumGetUUIDP(section), sizeof(pg_uuid_t));
	g->subid = GetCurrentSubTransactionId();
	g->record = give_register(tenant, section);
	ngives++;
}

/*
 * After the change: n seats of the section go back to its counter when this
 * transaction commits (when it had a valid counter; else the counter rows
 * that the change wrote are what a build counts).
 */
void
evs_seats_give_end(Datum tenant, Datum section, int64 n)
{
	GiveRegistration *g;

	Assert(n >= 0);
	if (evs_escrow_slots == NULL || RecoveryInProgress() || n == 0)
		return;
	/* not registered before the change (a caller that should have): at least a valid counter gets them */
	if ((g = give_registration(tenant, section)) == NULL)
	{
		evs_seats_give_begin(tenant, section);
		g = give_registration(tenant, section);
	}
	if (g != NULL && g->record >= 0)
		records[g->record].n += n;
}

/* Whether the counter is valid, built now if it is stale (within eventsvc.escrow_build_wait_ms). */
bool
evs_escrow_ready(EvsEscrowEntry *e, Datum tenant, Datum section)
{
	if (evs_escrow_handle_holds(e) && pg_atomic_read_u32(&evs_escrow_slots[e->slot].state) == SLOT_VALID)
		return true;
	return evs_escrow_handle_holds(e) && (evs_escrow_build(e, tenant, section) ||
							   pg_atomic_read_u32(&evs_escrow_slots[e->slot].state) == SLOT_VALID);
}

/* The counter's free seats in *free; false when it is not valid (then count the rows). */
bool
evs_escrow_free(EvsEscrowEntry *e, int64 *free)
{
	EscrowSlot *s = &evs_escrow_slots[e->slot];

	if (!evs_escrow_handle_holds(e) || pg_atomic_read_u32(&s->state) != SLOT_VALID)
		return false;
	*free = (int64) pg_atomic_read_u64(&s->available);
	return evs_escrow_handle_holds(e);
}

int
evs_escrow_in_flight(EvsEscrowEntry *e)
{
	return (int) pg_atomic_read_u32(&evs_escrow_slots[e->slot].inflight);
}

/*
 * One reading of a counter for a checker. `stable` is false when the counter
 * moved while it was being read. Records of this backend's own transaction
 * are known exactly and reported apart: seats it still gives back at commit
 * are `own_pending`; `others` = the other transactions' records.
 */
void
evs_escrow_read(EvsEscrowEntry *e, EvsEscrowReading *r)
{
	EscrowSlot *s = &evs_escrow_slots[e->slot];
	uint64		before,
				after;
	int			own = evs_escrow_own_records(s);

	before = pg_atomic_read_u64(&s->changes);
	pg_read_barrier();
	r->valid = pg_atomic_read_u32(&s->state) == SLOT_VALID;
	r->generation = pg_atomic_read_u32(&s->generation);
	r->in_flight = (int) pg_atomic_read_u32(&s->inflight);
	r->available = (int64) pg_atomic_read_u64(&s->available);
	pg_read_barrier();
	after = pg_atomic_read_u64(&s->changes);
	r->changes = after;
	r->stable = before == after && evs_escrow_handle_holds(e);
	r->others = r->in_flight - own;
	r->own_pending = 0;
	for (int i = 0; i < nrecords; i++)
		if (records[i].slot == s && records[i].kind == RECORD_GIVE && records[i].generation == r->generation)
			r->own_pending += records[i].n;
}

