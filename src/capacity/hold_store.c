/*
 * hold_store.c: the hold rows. Every statement that changes them runs through
 * evs_hold_write, which the DML guard trigger lets pass (and nothing else);
 * the new hold row of a reservation is written without the SQL
 * executor. An INSERT through SPI spends more time starting and stopping the
 * executor and re-reading the table's CHECK constraints from the catalog text
 * than writing the row; this writes the heap tuple and its index entries
 * directly, as the executor would:
 *
 *   - every CHECK and NOT NULL constraint of the table is evaluated on the row
 *     (ExecConstraints, same errors) before it is written; the planned CHECK
 *     expressions are kept until the table's definition or any function
 *     changes (relcache and pg_proc invalidations);
 *   - the unique primary key is checked by the index insert;
 *   - a read-only transaction is refused as the executor refuses it (25006);
 *   - only when the table still has the shape this file knows: a plain table
 *     whose columns are exactly the ones below with their types, and no INSERT
 *     trigger but the statement-level guard (which exists to stop writers
 *     other than this code). Anything else (a trigger or a column added by an
 *     operator, a partitioned table) sends the row through an ordinary
 *     INSERT instead (insert_sql).
 *
 * Row-level security is not consulted: the row carries the caller's tenant,
 * which is what the policy checks. docs/capacity.md, "The hold row".
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodes.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_hold_guard_trigger);

/* Hold rows change only while this is true (the DML guard trigger). */
bool		evs_hold_writer_active = false;

/* Statements that write hold rows run through here: the guard trigger lets them pass. */
int
evs_hold_write(SPIPlanPtr plan, Datum *values, const char *nulls, long limit)
{
	int			rc;

	evs_sweep_note_writer();
	evs_hold_writer_active = true;
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, values, nulls, false, limit);
	}
	PG_FINALLY();
	{
		evs_hold_writer_active = false;
	}
	PG_END_TRY();
	return rc;
}

/* ---- the DML guard: hold rows change only through the hold functions ---- */

/* Statement and row trigger on capacity_holds: refuses writes that do not come through evs_hold_write. */
Datum
evs_hold_guard_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "evs_hold_guard_trigger must be called as a trigger");
	if (!evs_hold_writer_active || TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("holds change only through the eventsvc hold functions"),
				 errdetail("Direct INSERT, UPDATE, DELETE and TRUNCATE on eventsvc.capacity_holds would "
						   "bypass the seat counters."),
				 errhint("Use api.reserve_capacity, api.confirm_hold, api.release_hold, api.extend_hold "
						 "or api.expire_holds. Restoring a dump? Run pg_restore as a superuser with "
						 "PGOPTIONS='-c session_replication_role=replica' (README \"Backup and restore\").")));
	if (TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		return PointerGetDatum(NULL);
	return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple);
}

enum
{
	C_TENANT, C_ID, C_EVENT, C_CAPACITY, C_PRICING, C_HOLDER, C_QUANTITY, C_STATE, C_CURRENCY,
	C_UNIT_PRICE, C_LOCKED, C_EXPIRES, C_CREATED, C_CONFIRMED, C_RELEASED,
	/* 1.1: the hold's life after the reservation (part 44); a 1.0 table lacks them */
	C_PHASE, C_STATE_REASON, C_PAYMENT_REF, C_PAYMENT_STARTED, C_RENEWALS, C_REVIVED, C_STATE_CHANGED,
	C_REFUNDED, C_WAITLIST_ENTRY,
	NCOLUMNS
};
#define NREQUIRED (C_RELEASED + 1)	/* columns every version of the table has */

static const struct
{
	const char *name;
	Oid			type;			/* InvalidOid: an enum (hold_state, hold_phase) */
}			columns[NCOLUMNS] = {
	{"tenant_id", UUIDOID}, {"id", UUIDOID}, {"event_id", UUIDOID}, {"capacity_id", UUIDOID},
	{"pricing_id", UUIDOID}, {"holder_id", TEXTOID}, {"quantity", INT4OID}, {"state", InvalidOid},
	{"currency", BPCHAROID}, {"unit_price", INT8OID}, {"locked_price", JSONBOID},
	{"expires_at", TIMESTAMPTZOID}, {"created_at", TIMESTAMPTZOID}, {"confirmed_at", TIMESTAMPTZOID},
	{"released_at", TIMESTAMPTZOID},
	{"phase", InvalidOid}, {"state_reason", TEXTOID}, {"payment_ref", TEXTOID},
	{"payment_started_at", TIMESTAMPTZOID}, {"renewals", INT4OID}, {"revived_at", TIMESTAMPTZOID},
	{"state_changed_at", TIMESTAMPTZOID}, {"refunded_quantity", INT4OID}, {"waitlist_entry_id", UUIDOID},
};

#define GUARD_TRIGGER "capacity_holds_guard"

/* What this backend knows about eventsvc.capacity_holds; rebuilt after any change to it. */
typedef struct HoldShape
{
	bool		valid;
	bool		direct;			/* the table has the shape this file writes */
	Oid			relid;
	AttrNumber	attnum[NCOLUMNS];
	Datum		active;			/* the enum value 'ACTIVE' */
	int			ncheck;
	Expr	  **checks;			/* planned, in the order of the relcache's constraint list */
} HoldShape;

static HoldShape shape;
static MemoryContext shape_cxt = NULL;
static bool callback_registered = false;

static void
shape_invalidate(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == shape.relid)
		shape.valid = false;
}

/* a function a CHECK calls was replaced: its planned form may have inlined the old body */
static void
shape_invalidate_functions(Datum arg, int cacheid, uint32 hashvalue)
{
	shape.valid = false;
}

static bool
inserts_fire_other_triggers(Relation rel)
{
	TriggerDesc *td = rel->trigdesc;

	if (td == NULL)
		return false;
	for (int i = 0; i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (t->tgenabled == TRIGGER_DISABLED || !TRIGGER_FOR_INSERT(t->tgtype))
			continue;
		if (strcmp(t->tgname, GUARD_TRIGGER) != 0 || TRIGGER_FOR_ROW(t->tgtype))
			return true;
	}
	return false;
}

static void
shape_build(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleConstr *constr = desc->constr;
	MemoryContext old;

	if (shape_cxt == NULL)
		shape_cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc hold row shape", ALLOCSET_SMALL_SIZES);
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(shape_invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, shape_invalidate_functions, (Datum) 0);
		callback_registered = true;
	}
	MemoryContextReset(shape_cxt);
	memset(&shape, 0, sizeof(shape));
	shape.relid = RelationGetRelid(rel);
	shape.direct = rel->rd_rel->relkind == RELKIND_RELATION && !rel->rd_rel->relispartition &&
		!inserts_fire_other_triggers(rel) && !(constr != NULL && constr->has_generated_stored);

	for (int a = 0; a < desc->natts && shape.direct; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		int			c;

		if (att->attisdropped)
			continue;
		for (c = 0; c < NCOLUMNS; c++)
			if (strcmp(NameStr(att->attname), columns[c].name) == 0)
				break;
		if (c == NCOLUMNS || shape.attnum[c] != 0 ||
			(OidIsValid(columns[c].type) ? att->atttypid != columns[c].type : !type_is_enum(att->atttypid)))
			shape.direct = false;	/* a column this file does not write */
		else
			shape.attnum[c] = att->attnum;
	}
	/* every column of 1.0; those of 1.1 when the table has them (a reservation leaves them NULL) */
	for (int c = 0; c < NREQUIRED; c++)
		if (shape.attnum[c] == 0)
			shape.direct = false;
	if (shape.direct)
	{
		shape.active = DirectFunctionCall2(enum_in, CStringGetDatum("ACTIVE"),
										   ObjectIdGetDatum(TupleDescAttr(desc, shape.attnum[C_STATE] - 1)->atttypid));
		shape.ncheck = constr != NULL ? constr->num_check : 0;
		old = MemoryContextSwitchTo(shape_cxt);
		shape.checks = palloc0(sizeof(Expr *) * Max(shape.ncheck, 1));
		for (int i = 0; i < shape.ncheck; i++)
			shape.checks[i] = expression_planner((Expr *) stringToNode(constr->check[i].ccbin));
		MemoryContextSwitchTo(old);
	}
	shape.valid = true;
}

/* Whether the hold table has the columns of the hold's life after the reservation (1.1); after a write. */
bool
evs_hold_has_life_columns(void)
{
	return shape.valid && shape.attnum[C_PHASE] != 0;
}

/* Writes the hold directly; false (nothing written) when the table is not in the shape this file knows. */
static bool
insert_direct(const EvsHoldRow *h)
{
	Relation	rel;
	TupleDesc	desc;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	Datum	   *values;
	bool	   *nulls;

	/* what the executor checks before any write: a read-only transaction (a GET through PostgREST, a standby) */
	PreventCommandIfReadOnly("INSERT");
	PreventCommandIfParallelMode("INSERT");

	rel = table_open(shape.valid ? shape.relid : evs_relation_oid("capacity_holds"), RowExclusiveLock);
	/* the lock is held now: the table's definition cannot change under us */
	if (!shape.valid || shape.relid != RelationGetRelid(rel))
		shape_build(rel);
	if (!shape.direct)
	{
		table_close(rel, NoLock);
		return false;
	}
	desc = RelationGetDescr(rel);

	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	values = slot->tts_values;
	nulls = slot->tts_isnull;
	for (int a = 0; a < desc->natts; a++)
		nulls[a] = true;

#define SET(c, v) (values[shape.attnum[c] - 1] = (v), nulls[shape.attnum[c] - 1] = false)
	SET(C_TENANT, h->tenant_id);
	SET(C_ID, h->id);
	SET(C_EVENT, h->event_id);
	SET(C_CAPACITY, h->capacity_id);
	SET(C_HOLDER, CStringGetTextDatum(h->holder_id));
	SET(C_QUANTITY, Int32GetDatum(h->quantity));
	SET(C_STATE, shape.active);
	SET(C_EXPIRES, TimestampTzGetDatum(h->expires_at));
	SET(C_CREATED, TimestampTzGetDatum(h->created_at));
	if (h->priced)
	{
		SET(C_PRICING, h->pricing_id);
		/* char(3), as the column's input would make it (error if the code does not fit) */
		SET(C_CURRENCY, DirectFunctionCall3(bpcharin, CStringGetDatum(h->currency), ObjectIdGetDatum(InvalidOid),
											Int32GetDatum(3 + VARHDRSZ)));
		SET(C_UNIT_PRICE, Int64GetDatum(h->unit_price));
		SET(C_LOCKED, h->locked_price);
	}
#undef SET
	ExecStoreVirtualTuple(slot);

	if (shape.ncheck > 0)
	{
		rri->ri_ConstraintExprs = palloc(sizeof(ExprState *) * shape.ncheck);
		for (int i = 0; i < shape.ncheck; i++)
			rri->ri_ConstraintExprs[i] = ExecInitExpr(shape.checks[i], NULL);
	}
	if (desc->constr != NULL)
		ExecConstraints(rri, slot, estate);

	table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
	if (rri->ri_NumIndices > 0)
		list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL));

	ExecResetTupleTable(estate->es_tupleTable, false);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	/* later statements of this transaction see the row, as after an INSERT */
	CommandCounterIncrement();
	return true;
}

/* The same row through SQL, for a table an operator has changed: triggers fire, defaults apply. */
static void
insert_sql(const EvsHoldRow *h)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[12];
	char		n[12];
	int			rc;

	if (plan == NULL)
	{
		Oid			t[12] = {UUIDOID, UUIDOID, UUIDOID, UUIDOID, TEXTOID, INT4OID, TEXTOID, INT8OID,
		JSONBOID, TIMESTAMPTZOID, UUIDOID, TIMESTAMPTZOID};

		plan = evs_spi_prepare_kept(
			"INSERT INTO eventsvc.capacity_holds (tenant_id, event_id, capacity_id, pricing_id, holder_id,"
			" quantity, currency, unit_price, locked_price, expires_at, id, created_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7::bpchar, $8, $9, $10, $11, $12)", 12, t);
	}
	memset(n, ' ', sizeof(n));
	v[0] = h->tenant_id;
	v[1] = h->event_id;
	v[2] = h->capacity_id;
	v[3] = h->pricing_id;
	v[4] = CStringGetTextDatum(h->holder_id);
	v[5] = Int32GetDatum(h->quantity);
	v[6] = h->priced ? CStringGetTextDatum(h->currency) : (Datum) 0;
	v[7] = Int64GetDatum(h->unit_price);
	v[8] = h->locked_price;
	v[9] = TimestampTzGetDatum(h->expires_at);
	v[10] = h->id;
	v[11] = TimestampTzGetDatum(h->created_at);
	if (!h->priced)
		n[3] = n[6] = n[7] = n[8] = 'n';
	rc = evs_hold_write(plan, v, n, 1);
	if (rc != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "hold insert failed: %s", SPI_result_code_string(rc));
}

/* A reservation's new hold row; SPI must be connected (for the SQL path). */
void
evs_hold_insert(const EvsHoldRow *h)
{
	evs_sweep_note_writer();
	if (!insert_direct(h))
		insert_sql(h);
}
