/*
 * section_counters.c: the counter rows (eventsvc.section_counters) and the
 * event customers (eventsvc.event_customers). Every hold change adds what it
 * did to the counter rows in its own transaction: seats held and sold,
 * revenue, hold counts, first-time customers and buyers, per section and
 * currency. So a section's seats are one read of a few rows, whatever the
 * number of its holds, and under MVCC the rows and the holds always agree in
 * any one snapshot.
 *
 * Each backend writes its own stripe (its backend slot), so two writers never
 * wait on each other's counter row and the update is a HOT update of a row
 * nobody else locks. Readers sum the stripes of a section.
 *
 * A library built to serve 1.0 (the schema before counter rows) writes none
 * and sums the holds, as that version did.
 * docs/capacity.md "Counter rows".
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
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/executor.h"
#include "executor/spi.h"
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
	"buying_customers"
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

/*
 * Whether the schema this library serves has counter rows: they came with
 * 1.1. (A database still at 1.0 is refused before any of this runs, see
 * core/version.c; a library built to serve 1.0 writes none.)
 */
bool
evs_counters_ready(void)
{
	return strcmp(evs_library_version, "1.0") != 0;
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

/*
 * Adds `c` to this backend's stripe of (tenant, section, currency): the row
 * written directly when it exists (the common case), else inserted through
 * SQL. Latest snapshot: under REPEATABLE READ this backend's earlier
 * transactions may have written the stripe after the snapshot was taken.
 * Later statements of the transaction see the change. SPI connected.
 */
void
evs_counters_add(Datum tenant, Datum section, const char *currency, const EvsCounterChange *c)
{
	static SPIPlanPtr insert_plan = NULL;
	Relation	rel;
	bool		done = false;
	Datum		v[13];
	int			rc;

	if (!evs_counters_ready())
		return;
	if (currency == NULL)
		currency = "";
	PreventCommandIfReadOnly("UPDATE");
	rel = table_open(evs_relation_oid("section_counters"), RowExclusiveLock);
	if (columns_resolve(rel))
		done = stripe_update_direct(rel, tenant, section, currency, c);
	table_close(rel, NoLock);
	if (done)
	{
		CommandCounterIncrement();
		return;
	}
	if (insert_plan == NULL)
	{
		Oid			t[13] = {UUIDOID, UUIDOID, TEXTOID, INT4OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
		INT8OID, INT8OID, INT8OID, INT8OID};

		insert_plan = evs_spi_prepare_kept(
			"INSERT INTO eventsvc.section_counters AS k (tenant_id, capacity_id, currency, stripe, held, sold, revenue,"
			" holds, holds_confirmed, holds_expired, holds_released, customers, buying_customers)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
			" ON CONFLICT (tenant_id, capacity_id, currency, stripe) DO UPDATE SET held = k.held + excluded.held,"
			" sold = k.sold + excluded.sold, revenue = k.revenue + excluded.revenue, holds = k.holds + excluded.holds,"
			" holds_confirmed = k.holds_confirmed + excluded.holds_confirmed,"
			" holds_expired = k.holds_expired + excluded.holds_expired,"
			" holds_released = k.holds_released + excluded.holds_released,"
			" customers = k.customers + excluded.customers, buying_customers = k.buying_customers + excluded.buying_customers",
			13, t);
	}
	v[0] = tenant;
	v[1] = section;
	v[2] = CStringGetTextDatum(currency);
	v[3] = Int32GetDatum(evs_counters_stripe());
	v[4] = Int64GetDatum(c->held);
	v[5] = Int64GetDatum(c->sold);
	v[6] = Int64GetDatum(c->revenue);
	v[7] = Int64GetDatum(c->holds);
	v[8] = Int64GetDatum(c->confirmed);
	v[9] = Int64GetDatum(c->expired);
	v[10] = Int64GetDatum(c->released);
	v[11] = Int64GetDatum(c->customers);
	v[12] = Int64GetDatum(c->buying);
	rc = SPI_execute_snapshot(insert_plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, false, false, 1);
	if (rc != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "counter row insert failed: %s", SPI_result_code_string(rc));
}

/*
 * The statement that changes many holds at once (the sweep, a reservation
 * reclaiming overdue holds, an event's cancellation): `update` is an UPDATE of
 * capacity_holds aliased h (without RETURNING), `counted` the hold count
 * column its new state adds to. The statement returns one row per section:
 * tenant_id, capacity_id, seats freed, holds changed; with counter rows it
 * also takes the seats off their `held` in the same statement, on stripe
 * $`stripe_param`. Returned text is palloc'd.
 */
char *
evs_counters_bulk_sql(const char *update, const char *counted, int stripe_param)
{
	const char *counters =
		", k AS (INSERT INTO eventsvc.section_counters AS k (tenant_id, capacity_id, currency, stripe, held, %s)"
		"  SELECT tenant_id, capacity_id, currency, $%d, -seats, n FROM g"
		"  ON CONFLICT (tenant_id, capacity_id, currency, stripe) DO UPDATE"
		"  SET held = k.held + excluded.held, %s = k.%s + excluded.%s)";

	return psprintf("WITH u AS (%s RETURNING h.tenant_id, h.capacity_id, h.currency, h.quantity),"
					" g AS (SELECT tenant_id, capacity_id, coalesce(currency, '') AS currency,"
					"  sum(quantity)::int8 AS seats, count(*)::int8 AS n FROM u GROUP BY 1, 2, 3)%s"
					" SELECT tenant_id, capacity_id, sum(seats)::int8, sum(n)::int8 FROM g GROUP BY 1, 2",
					update,
					evs_counters_ready() ? psprintf(counters, counted, stripe_param, counted, counted, counted) : "");
}

/*
 * Seats held (ACTIVE) and sold (CONFIRMED) in a section: the sums of its
 * counter rows, or of its holds in a database without them. Latest snapshot
 * (a REPEATABLE READ transaction counts what is committed now) with this
 * transaction's own changes. SPI connected.
 */
void
evs_section_seats(Datum tenant, Datum section, int64 *held, int64 *sold)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	bool		ready = evs_counters_ready();
	Datum		v[2] = {tenant, section};
	bool		isnull;
	int			rc;

	if (plans[ready] == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plans[ready] = evs_spi_prepare_kept(ready
			? "SELECT coalesce(sum(held), 0)::int8, coalesce(sum(sold), 0)::int8 FROM eventsvc.section_counters"
			  " WHERE tenant_id = $1 AND capacity_id = $2"
			: "SELECT coalesce(sum(quantity) FILTER (WHERE state = 'ACTIVE'), 0)::int8,"
			  " coalesce(sum(quantity) FILTER (WHERE state = 'CONFIRMED'), 0)::int8"
			  " FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND capacity_id = $2"
			  " AND state IN " EVS_SEAT_STATES, 2, t);
	}
	rc = SPI_execute_snapshot(plans[ready], v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "section seat count failed: %s", SPI_result_code_string(rc));
	*held = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*sold = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

/* Seats held or sold in a section (see evs_section_seats). */
int64
evs_section_held_latest(Datum tenant, Datum section)
{
	int64		held,
				sold;

	evs_section_seats(tenant, section, &held, &sold);
	return held + sold;
}

/* The event_customers row of (tenant, event, holder) through its key, latest snapshot: found, and bought. */
static bool
customer_row(Datum tenant, Datum event_id, const char *holder, bool *bought)
{
	static const char *const columns[] = {"bought"};
	ScanKeyData key[3];
	Datum		values[1];
	bool		nulls[1];

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_UUID_EQ, tenant);
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_UUID_EQ, event_id);
	ScanKeyEntryInitialize(&key[2], 0, 3, BTEqualStrategyNumber, InvalidOid, DEFAULT_COLLATION_OID,
						   F_TEXTEQ, CStringGetTextDatum(holder));
	if (!evs_row_by_key("event_customers", "event_customers_pkey", 3, key, GetLatestSnapshot(),
						1, columns, values, nulls))
		return false;
	*bought = !nulls[0] && DatumGetBool(values[0]);
	return true;
}

/*
 * Whether this is the holder's first hold of the event (true once per holder
 * and event, whoever races: the primary key decides). Most calls find the row
 * and write nothing. SPI connected.
 */
bool
evs_customer_new(Datum tenant, Datum event_id, const char *holder)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[3] = {tenant, event_id, CStringGetTextDatum(holder)};
	bool		bought;
	int			rc;

	if (!evs_counters_ready() || customer_row(tenant, event_id, holder, &bought))
		return false;
	if (plan == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, TEXTOID};

		plan = evs_spi_prepare_kept("INSERT INTO eventsvc.event_customers (tenant_id, event_id, holder_id)"
									" VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, t);
	}
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, false, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "event customer insert failed: %s", SPI_result_code_string(rc));
	return SPI_processed == 1;
}

/* Whether this confirmation is the holder's first purchase in the event (once per holder and event). SPI connected. */
bool
evs_customer_first_purchase(Datum tenant, Datum event_id, const char *holder)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[3] = {tenant, event_id, CStringGetTextDatum(holder)};
	bool		bought = false;
	int			rc;

	if (!evs_counters_ready() || (customer_row(tenant, event_id, holder, &bought) && bought))
		return false;
	if (plan == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, TEXTOID};

		plan = evs_spi_prepare_kept("INSERT INTO eventsvc.event_customers AS c (tenant_id, event_id, holder_id, bought)"
									" VALUES ($1, $2, $3, true) ON CONFLICT (tenant_id, event_id, holder_id)"
									" DO UPDATE SET bought = true WHERE NOT c.bought", 3, t);
	}
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, false, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "event customer update failed: %s", SPI_result_code_string(rc));
	return SPI_processed == 1;
}
