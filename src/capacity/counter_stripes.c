/*
 * counter_stripes.c: writing the counter rows (section_counters.c says what
 * they are). Each backend adds to its own stripe of a section and currency,
 * directly (no executor, no SQL), at the address of the version it wrote
 * last; a statement's changes are noted and written once, at the end of the
 * statement, before anything in the transaction reads the counter rows, or
 * at pre-commit. docs/capacity.md "Counter rows".
 */
#include "core/core.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/backendid.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"

/* The counted columns, in the order of EvsCounterChange. */
static const char *const counted[] = {
	"held", "sold", "revenue", "holds", "holds_confirmed", "holds_expired", "holds_released", "customers",
	"buying_customers", "purchases", "bought", "charged", "gross", "discounts", "fees", "tax", "refunded_seats",
	"refunded"
};
#define NCOUNTED lengthof(counted)
#define CURRENCY_MAX 8			/* ISO codes have 3 letters; longer ones are not kept below */

/*
 * Where this backend's stripe rows are: the address of the version it wrote
 * last, per (section, currency). Many changes of one section in one
 * transaction would otherwise find their row through an ever longer chain of
 * versions that nobody can prune yet. A kept address is used only after the
 * row there is checked to be visible, the latest version, and the same key.
 */
typedef struct StripeKey
{
	Oid			relid;
	pg_uuid_t	tenant;
	pg_uuid_t	section;
	char		currency[CURRENCY_MAX];
} StripeKey;

typedef struct StripeEntry
{
	StripeKey	key;
	ItemPointerData tid;
} StripeEntry;

static HTAB *stripe_rows = NULL;
#define STRIPE_ROWS_MAX 4096	/* kept addresses; past that the table starts over */

/* The table's column numbers by name, per relation (a changed table is read again). */
static Oid	columns_relid = InvalidOid;
static AttrNumber key_attnum[4];	/* tenant_id, capacity_id, currency, stripe */
static AttrNumber counted_attnum[NCOUNTED];
static bool columns_known = false;

static void
columns_forget(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == columns_relid)
	{
		columns_known = false;
		if (stripe_rows != NULL)
		{
			hash_destroy(stripe_rows);
			stripe_rows = NULL;
		}
	}
}

/* This backend's stripe: its slot, unique among live backends (0 is the rebuild's). */
int32
evs_counters_stripe(void)
{
	return MyBackendId > 0 ? (int32) MyBackendId : 0;
}

/* The columns by name; false when the table is not the shape this file writes (then SPI does). */
static bool
columns_resolve(Relation rel)
{
	static const char *const keys[] = {"tenant_id", "capacity_id", "currency", "stripe"};
	static const Oid key_types[] = {UUIDOID, UUIDOID, TEXTOID, INT4OID};
	static bool callback = false;
	TupleDesc	desc = RelationGetDescr(rel);

	if (columns_known && columns_relid == RelationGetRelid(rel))
		return true;
	if (!callback)
	{
		CacheRegisterRelcacheCallback(columns_forget, (Datum) 0);
		callback = true;
	}
	columns_relid = RelationGetRelid(rel);
	for (int i = 0; i < 4; i++)
	{
		key_attnum[i] = SPI_fnumber(desc, keys[i]);
		if (key_attnum[i] <= 0 || TupleDescAttr(desc, key_attnum[i] - 1)->atttypid != key_types[i])
			return false;
	}
	for (int i = 0; i < (int) NCOUNTED; i++)
	{
		counted_attnum[i] = SPI_fnumber(desc, counted[i]);
		if (counted_attnum[i] <= 0 || TupleDescAttr(desc, counted_attnum[i] - 1)->atttypid != INT8OID)
			return false;
	}
	/* a trigger added by an operator would be skipped by a direct write */
	if (rel->trigdesc != NULL || rel->rd_rel->relkind != RELKIND_RELATION)
		return false;
	columns_known = true;
	return true;
}

static void
stripe_key(StripeKey *k, Oid relid, Datum tenant, Datum section, const char *currency)
{
	memset(k, 0, sizeof(*k));
	k->relid = relid;
	memcpy(&k->tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
	memcpy(&k->section, DatumGetUUIDP(section), sizeof(pg_uuid_t));
	strlcpy(k->currency, currency, CURRENCY_MAX);
}

static StripeEntry *
stripe_entry(const StripeKey *k, bool create)
{
	bool		found;

	if (stripe_rows == NULL || (create && hash_get_num_entries(stripe_rows) >= STRIPE_ROWS_MAX))
	{
		HASHCTL		info;

		if (stripe_rows != NULL)
			hash_destroy(stripe_rows);
		if (!create)
		{
			stripe_rows = NULL;
			return NULL;
		}
		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(StripeKey);
		info.entrysize = sizeof(StripeEntry);
		info.hcxt = TopMemoryContext;
		stripe_rows = hash_create("eventsvc stripe rows", 64, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	return hash_search(stripe_rows, k, create ? HASH_ENTER : HASH_FIND, &found);
}

/* Whether `tup` is this backend's stripe row of (tenant, section, currency). */
static bool
stripe_row_matches(HeapTuple tup, TupleDesc desc, Datum tenant, Datum section, const char *currency)
{
	bool		isnull;
	Datum		d;

	d = heap_getattr(tup, key_attnum[0], desc, &isnull);
	if (isnull || memcmp(DatumGetUUIDP(d), DatumGetUUIDP(tenant), UUID_LEN) != 0)
		return false;
	d = heap_getattr(tup, key_attnum[1], desc, &isnull);
	if (isnull || memcmp(DatumGetUUIDP(d), DatumGetUUIDP(section), UUID_LEN) != 0)
		return false;
	d = heap_getattr(tup, key_attnum[3], desc, &isnull);
	if (isnull || DatumGetInt32(d) != evs_counters_stripe())
		return false;
	d = heap_getattr(tup, key_attnum[2], desc, &isnull);
	return !isnull && strcmp(TextDatumGetCString(d), currency) == 0;
}

/*
 * The stripe row written directly: the latest version found at its kept
 * address, else through the primary key; the new version replaces it (a HOT
 * update unless the page is full, then the index gets its entry). Only this
 * backend writes its stripe, so the row cannot change under it. False when the
 * stripe has no row yet.
 */
static bool
stripe_update_direct(Relation rel, Datum tenant, Datum section, const char *currency, const EvsCounterChange *c)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Snapshot	snapshot = GetLatestSnapshot();
	StripeKey	k;
	StripeEntry *entry;
	HeapTupleData old;
	HeapTuple	found = NULL;
	HeapTuple	newtup;
	Buffer		buffer = InvalidBuffer;
	Datum	   *values;
	bool	   *nulls;
	const int64 *delta = &c->held;

	stripe_key(&k, RelationGetRelid(rel), tenant, section, currency);
	entry = strlen(currency) < CURRENCY_MAX ? stripe_entry(&k, false) : NULL;
	if (entry != NULL)
	{
		old.t_self = entry->tid;
		if (heap_fetch(rel, snapshot, &old, &buffer, false))
		{
			/* visible to the latest snapshot and not updated since: the latest version */
			if (ItemPointerEquals(&old.t_self, &old.t_data->t_ctid) &&
				stripe_row_matches(&old, desc, tenant, section, currency))
				found = heap_copytuple(&old);
			ReleaseBuffer(buffer);
		}
	}
	if (found == NULL)
	{
		ScanKeyData keys[4];
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&keys[0], key_attnum[0], BTEqualStrategyNumber, F_UUID_EQ, tenant);
		ScanKeyInit(&keys[1], key_attnum[1], BTEqualStrategyNumber, F_UUID_EQ, section);
		ScanKeyEntryInitialize(&keys[2], 0, key_attnum[2], BTEqualStrategyNumber, InvalidOid, DEFAULT_COLLATION_OID,
							   F_TEXTEQ, CStringGetTextDatum(currency));
		ScanKeyInit(&keys[3], key_attnum[3], BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(evs_counters_stripe()));
		scan = systable_beginscan(rel, evs_relation_oid("section_counters_pkey"), true, snapshot, 4, keys);
		tup = systable_getnext(scan);
		if (HeapTupleIsValid(tup))
			found = heap_copytuple(tup);
		systable_endscan(scan);
	}
	if (found == NULL)
		return false;

	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	heap_deform_tuple(found, desc, values, nulls);
	for (int i = 0; i < (int) NCOUNTED; i++)
	{
		int			a = counted_attnum[i] - 1;
		int64		sum;

		if (delta[i] == 0)
			continue;
		if (nulls[a] || pg_add_s64_overflow(DatumGetInt64(values[a]), delta[i], &sum))
			ereport(ERROR,
					(errcode(EVS_ERR_OVERFLOW),
					 errmsg("section counter %s is out of range", counted[i])));
		values[a] = Int64GetDatum(sum);
	}
	newtup = heap_form_tuple(desc, values, nulls);
	simple_heap_update(rel, &found->t_self, newtup);
	if (!HeapTupleIsHeapOnly(newtup))
	{
		/* a new page: the primary key points to the new version too */
		EState	   *estate = CreateExecutorState();
		ResultRelInfo *rri = makeNode(ResultRelInfo);
		TupleTableSlot *slot;

		InitResultRelInfo(rri, rel, 0, NULL, 0);
		ExecOpenIndices(rri, false);
		slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsHeapTuple);
		ExecStoreHeapTuple(newtup, slot, false);
		list_free(ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL));
		ExecResetTupleTable(estate->es_tupleTable, false);
		ExecCloseIndices(rri);
		FreeExecutorState(estate);
	}
	if (strlen(currency) < CURRENCY_MAX)
		stripe_entry(&k, true)->tid = newtup->t_self;
	return true;
}

/* A new stripe row, written directly (only this backend writes its stripe: no other can insert it). */
static void
stripe_insert_direct(Relation rel, Datum tenant, Datum section, const char *currency, const EvsCounterChange *c)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *values = palloc0(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	const int64 *delta = &c->held;
	HeapTuple	tup;
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot;
	StripeKey	k;

	for (int a = 0; a < desc->natts; a++)
		nulls[a] = true;
	values[key_attnum[0] - 1] = tenant;
	values[key_attnum[1] - 1] = section;
	values[key_attnum[2] - 1] = CStringGetTextDatum(currency);
	values[key_attnum[3] - 1] = Int32GetDatum(evs_counters_stripe());
	for (int i = 0; i < 4; i++)
		nulls[key_attnum[i] - 1] = false;
	for (int i = 0; i < (int) NCOUNTED; i++)
	{
		values[counted_attnum[i] - 1] = Int64GetDatum(delta[i]);
		nulls[counted_attnum[i] - 1] = false;
	}
	tup = heap_form_tuple(desc, values, nulls);
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsHeapTuple);
	ExecStoreHeapTuple(tup, slot, false);
	if (desc->constr != NULL)
		ExecConstraints(rri, slot, estate);
	simple_heap_insert(rel, tup);
	ItemPointerCopy(&tup->t_self, &slot->tts_tid);
	/* the primary key checks uniqueness, as an INSERT would */
	list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL));
	ExecResetTupleTable(estate->es_tupleTable, false);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	if (strlen(currency) < CURRENCY_MAX)
	{
		stripe_key(&k, RelationGetRelid(rel), tenant, section, currency);
		stripe_entry(&k, true)->tid = tup->t_self;
	}
}

/*
 * Adds `c` to this backend's stripe of (tenant, section, currency), written
 * directly (no executor, no SQL: this also runs at pre-commit, outside any
 * function's rights and search path). Latest snapshot: under REPEATABLE READ
 * this backend's earlier transactions may have written the stripe after the
 * snapshot was taken.
 */
static void
counters_apply(Datum tenant, Datum section, const char *currency, const EvsCounterChange *c)
{
	Relation	rel;

	rel = table_open(evs_relation_oid("section_counters"), RowExclusiveLock);
	if (!columns_resolve(rel))
		ereport(ERROR,
				(errcode(EVS_ERR_INTERNAL),
				 errmsg("eventsvc.section_counters does not have the columns eventsvc writes"),
				 errhint("Restore the table's definition (ALTER EXTENSION eventsvc UPDATE or a reinstall).")));
	if (!stripe_update_direct(rel, tenant, section, currency, c))
		stripe_insert_direct(rel, tenant, section, currency, c);
	table_close(rel, NoLock);
	CommandCounterIncrement();
}

/*
 * The changes of this transaction not written yet: a reservation adds to a
 * list, written at the end of the statement (at the next change made by a
 * later statement, before anything reads the counter rows, or at pre-commit).
 * So a statement that makes many holds of one section writes its stripe once,
 * instead of a chain of versions that every unique check of the primary key
 * would walk. A subtransaction's changes are the tail of the list: its abort
 * drops them, its commit hands them to the parent (as escrow.c's records).
 */
typedef struct PendingChange
{
	pg_uuid_t	tenant;
	pg_uuid_t	section;
	char		currency[CURRENCY_MAX];
	SubTransactionId subid;
	EvsCounterChange change;
} PendingChange;

static PendingChange *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;
static TimestampTz pending_statement = 0;
static bool pending_callbacks = false;

static void counters_flush(void);

static void
pending_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			/* an error here aborts the transaction as any other would */
			counters_flush();
			break;
		case XACT_EVENT_PRE_PREPARE:
			/* hold writers never prepare (sweep_horizon.c refuses): nothing is pending */
			Assert(npending == 0);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			pending = NULL;		/* freed with TopTransactionContext */
			npending = maxpending = 0;
			break;
		default:
			break;
	}
}

static void
pending_subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		while (npending > 0 && pending[npending - 1].subid >= mySubid)
			npending--;
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		for (int i = npending - 1; i >= 0 && pending[i].subid >= mySubid; i--)
			pending[i].subid = parentSubid;
}

/* Writes what is pending, summed per stripe row. */
static void
counters_flush(void)
{
	int			n = npending;

	if (n == 0)
		return;
	npending = 0;				/* an error below aborts the transaction; nothing is written twice */
	for (int i = 0; i < n; i++)
	{
		PendingChange *p = &pending[i];
		EvsCounterChange sum = p->change;
		const int64 *d;
		int64	   *t = &sum.held;

		if (p->subid == InvalidSubTransactionId)
			continue;			/* folded into an earlier one */
		for (int j = i + 1; j < n; j++)
		{
			PendingChange *q = &pending[j];

			if (q->subid != InvalidSubTransactionId && memcmp(&q->tenant, &p->tenant, sizeof(pg_uuid_t)) == 0 &&
				memcmp(&q->section, &p->section, sizeof(pg_uuid_t)) == 0 && strcmp(q->currency, p->currency) == 0)
			{
				d = &q->change.held;
				for (int c = 0; c < (int) NCOUNTED; c++)
					if (pg_add_s64_overflow(t[c], d[c], &t[c]))
						ereport(ERROR, (errcode(EVS_ERR_OVERFLOW), errmsg("section counter %s is out of range", counted[c])));
				q->subid = InvalidSubTransactionId;
			}
		}
		counters_apply(UUIDPGetDatum(&p->tenant), UUIDPGetDatum(&p->section), p->currency, &sum);
	}
}

/* Before the counter rows are read: this transaction's own changes are in them. */
void
evs_counters_flush(void)
{
	counters_flush();
}

/*
 * Adds `c` to this backend's stripe of (tenant, section, currency), at the
 * end of this statement at the latest (see PendingChange); readers of the
 * counter rows in this transaction flush first.
 */
void
evs_counters_add(Datum tenant, Datum section, const char *currency, const EvsCounterChange *c)
{
	PendingChange *p;
	SubTransactionId subid = GetCurrentSubTransactionId();

	if (!evs_counters_ready())
		return;
	if (currency == NULL)
		currency = "";
	PreventCommandIfReadOnly("UPDATE");
	if (strlen(currency) >= CURRENCY_MAX)
	{
		/* not a currency code this table keeps short: written at once */
		counters_flush();
		counters_apply(tenant, section, currency, c);
		return;
	}
	if (!pending_callbacks)
	{
		RegisterXactCallback(pending_xact_callback, NULL);
		RegisterSubXactCallback(pending_subxact_callback, NULL);
		pending_callbacks = true;
	}
	/* a change of an earlier statement is written before this statement's */
	if (npending > 0 && pending_statement != GetCurrentStatementStartTimestamp())
		counters_flush();
	pending_statement = GetCurrentStatementStartTimestamp();
	p = npending > 0 ? &pending[npending - 1] : NULL;
	if (p != NULL && p->subid == subid && memcmp(&p->tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t)) == 0 &&
		memcmp(&p->section, DatumGetUUIDP(section), sizeof(pg_uuid_t)) == 0 && strcmp(p->currency, currency) == 0)
	{
		const int64 *d = &c->held;
		int64	   *t = &p->change.held;

		for (int i = 0; i < (int) NCOUNTED; i++)
			if (pg_add_s64_overflow(t[i], d[i], &t[i]))
				ereport(ERROR, (errcode(EVS_ERR_OVERFLOW), errmsg("section counter %s is out of range", counted[i])));
		return;
	}
	if (npending == maxpending)
	{
		int			newmax = maxpending == 0 ? 16 : maxpending * 2;

		pending = pending == NULL ? MemoryContextAlloc(TopTransactionContext, newmax * sizeof(PendingChange))
			: repalloc(pending, newmax * sizeof(PendingChange));
		maxpending = newmax;
	}
	p = &pending[npending++];
	memcpy(&p->tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
	memcpy(&p->section, DatumGetUUIDP(section), sizeof(pg_uuid_t));
	strlcpy(p->currency, currency, CURRENCY_MAX);
	p->subid = subid;
	p->change = *c;
}
