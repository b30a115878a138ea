/*
 * hold_result.c: the hold calls of the api (reserve_capacity, confirm_hold,
 * release_hold, extend_hold, start_payment, confirm_payment) return a row of
 * api.holds, a declared type that PostgREST's OpenAPI and typed clients see
 * (PostgREST sends it as the same JSON object). The hold code makes the hold
 * as jsonb (what the entry points of 1.0 still return, and what idempotent
 * replays store); the row is made from it here, column by column by name,
 * without SPI: changed_at, reason and renewals as the view computes them.
 * test/holds_results.sql checks each call's row against the view's row.
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_sql_reserve_capacity_row);
PG_FUNCTION_INFO_V1(evs_sql_confirm_hold_row);
PG_FUNCTION_INFO_V1(evs_sql_release_hold_row);
PG_FUNCTION_INFO_V1(evs_sql_extend_hold_row);
PG_FUNCTION_INFO_V1(evs_sql_start_payment_row);
PG_FUNCTION_INFO_V1(evs_sql_confirm_payment_row);

/* How a column of the result is made from the hold's jsonb. */
typedef enum ColumnKind
{
	COL_PLAIN,					/* the key of the same name */
	COL_JSONB,					/* the key of the same name, kept as jsonb */
	COL_CHANGED_AT,				/* greatest of the hold's times */
	COL_REASON,					/* state_reason, else what state and phase say */
	COL_RENEWALS				/* renewals, 0 when none */
} ColumnKind;

/*
 * The result type's columns and how each is made, kept for the backend's life:
 * a call builds it once, later calls (every execution of a prepared statement
 * is a new call site) check only that the type is still the same
 * (the type cache's identifier of its tuple descriptor changes with it).
 */
typedef struct HoldShape
{
	MemoryContext cxt;			/* everything below */
	Oid			typid;
	uint64		desc_id;		/* TypeCacheEntry.tupDesc_identifier */
	int			natts;
	TupleDesc	desc;
	ColumnKind *kind;
	FmgrInfo   *input;
	Oid		   *ioparam;
} HoldShape;

static HoldShape *kept_shape = NULL;

/* The times whose latest is changed_at (api.holds). */
static const char *const change_times[] = {
	"created_at", "payment_started_at", "confirmed_at", "released_at", "revived_at", "state_changed_at"
};

static HoldShape *
hold_shape(FunctionCallInfo fcinfo)
{
	Oid			typid = get_func_rettype(fcinfo->flinfo->fn_oid);
	TypeCacheEntry *tc = lookup_type_cache(typid, TYPECACHE_TUPDESC);
	TupleDesc	desc = tc->tupDesc;
	MemoryContext cxt;
	MemoryContext old;
	HoldShape  *shape;

	if (desc == NULL)
		ereport(ERROR,
				(errcode(EVS_ERR_INTERNAL),
				 errmsg("a hold call must be declared to return a row type")));
	if (kept_shape != NULL && kept_shape->typid == typid && kept_shape->desc_id == tc->tupDesc_identifier)
		return kept_shape;

	cxt = AllocSetContextCreate(CacheMemoryContext, "eventsvc hold row shape", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	shape = palloc0(sizeof(HoldShape));
	shape->cxt = cxt;
	shape->typid = typid;
	shape->desc_id = tc->tupDesc_identifier;
	shape->natts = desc->natts;
	shape->desc = CreateTupleDescCopy(desc);
	shape->kind = palloc0(sizeof(ColumnKind) * desc->natts);
	shape->input = palloc0(sizeof(FmgrInfo) * desc->natts);
	shape->ioparam = palloc0(sizeof(Oid) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		const char *name = NameStr(a->attname);
		Oid			func;

		if (a->attisdropped)
			continue;
		if (strcmp(name, "changed_at") == 0)
			shape->kind[i] = COL_CHANGED_AT;
		else if (strcmp(name, "reason") == 0)
			shape->kind[i] = COL_REASON;
		else if (strcmp(name, "renewals") == 0)
			shape->kind[i] = COL_RENEWALS;
		else if (a->atttypid == JSONBOID)
			shape->kind[i] = COL_JSONB;
		else
			shape->kind[i] = COL_PLAIN;
		getTypeInputInfo(a->atttypid, &func, &shape->ioparam[i]);
		fmgr_info_cxt(func, &shape->input[i], cxt);
	}
	MemoryContextSwitchTo(old);
	if (kept_shape != NULL)
		MemoryContextDelete(kept_shape->cxt);
	kept_shape = shape;
	return shape;
}

/* A value of the hold's jsonb as ->> gives it (NULL for a JSON null or a missing key). */
static char *
scalar_text(Jsonb *hold, const char *key)
{
	return evs_jsonb_text(evs_jsonb_get(hold, key));
}

/* api.holds.reason: what was recorded, else what the state and phase say. */
static const char *
hold_reason(Jsonb *hold)
{
	char	   *recorded = scalar_text(hold, "state_reason");
	char	   *state = scalar_text(hold, "state");
	char	   *phase;

	if (recorded != NULL)
		return recorded;
	if (state == NULL)
		return NULL;
	if (strcmp(state, "EXPIRED") == 0)
	{
		phase = scalar_text(hold, "phase");
		if (phase != NULL && strcmp(phase, "PAYMENT") == 0)
			return "the payment window passed";
		if (phase != NULL && strcmp(phase, "OFFERED") == 0)
			return "the waitlist offer was not taken in time";
		return "the hold's time passed";
	}
	if (strcmp(state, "RELEASED") == 0)
		return "released";
	if (strcmp(state, "CONFIRMED") == 0)
		return "sold";
	if (strcmp(state, "REFUNDED") == 0)
		return "refunded";
	return NULL;
}

/* api.holds.changed_at: the latest of the hold's times. */
static bool
hold_changed_at(Jsonb *hold, TimestampTz *latest)
{
	bool		found = false;

	for (int i = 0; i < (int) lengthof(change_times); i++)
	{
		char	   *s = scalar_text(hold, change_times[i]);
		TimestampTz t;

		if (s == NULL)
			continue;
		t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
													ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		if (!found || t > *latest)
			*latest = t;
		found = true;
	}
	return found;
}

/* The row of the call's result type made from the hold as jsonb. */
static Datum
hold_row(FunctionCallInfo fcinfo, Datum hold_jsonb)
{
	HoldShape  *shape = hold_shape(fcinfo);
	Jsonb	   *hold = DatumGetJsonbP(hold_jsonb);
	Datum	   *values = palloc0(sizeof(Datum) * shape->natts);
	bool	   *nulls = palloc(sizeof(bool) * shape->natts);

	if (!JB_ROOT_IS_OBJECT(hold))
		ereport(ERROR, (errcode(EVS_ERR_INTERNAL), errmsg("a hold call answered with something other than a hold")));
	for (int i = 0; i < shape->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(shape->desc, i);
		const char *name = NameStr(a->attname);
		const char *text = NULL;

		nulls[i] = true;
		if (a->attisdropped)
			continue;
		switch (shape->kind[i])
		{
			case COL_JSONB:
				{
					JsonbValue *v = evs_jsonb_get(hold, name);

					if (v != NULL && v->type != jbvNull)
					{
						values[i] = JsonbPGetDatum(JsonbValueToJsonb(v));
						nulls[i] = false;
					}
					continue;
				}
			case COL_CHANGED_AT:
				{
					TimestampTz t = 0;

					if (hold_changed_at(hold, &t))
					{
						values[i] = TimestampTzGetDatum(t);
						nulls[i] = false;
					}
					continue;
				}
			case COL_REASON:
				text = hold_reason(hold);
				break;
			case COL_RENEWALS:
				text = scalar_text(hold, name);
				if (text == NULL)
					text = "0";
				break;
			case COL_PLAIN:
				text = scalar_text(hold, name);
				break;
		}
		if (text == NULL)
			continue;
		values[i] = InputFunctionCall(&shape->input[i], (char *) text, shape->ioparam[i], a->atttypmod);
		nulls[i] = false;
	}
	return HeapTupleGetDatum(heap_form_tuple(shape->desc, values, nulls));
}

/*
 * The entry point of each hold call: the call itself (its 1.0 entry point,
 * which answers with the hold as jsonb), then the row made from that answer.
 */
#define HOLD_ROW_ENTRY(name) \
Datum \
name##_row(PG_FUNCTION_ARGS) \
{ \
	Datum		hold = name(fcinfo); \
\
	if (fcinfo->isnull) \
		PG_RETURN_NULL(); \
	return hold_row(fcinfo, hold); \
}

HOLD_ROW_ENTRY(evs_sql_reserve_capacity)	/* the new hold */
HOLD_ROW_ENTRY(evs_sql_confirm_hold)	/* the sold hold */
HOLD_ROW_ENTRY(evs_sql_release_hold)	/* the released hold */
HOLD_ROW_ENTRY(evs_sql_extend_hold)	/* the extended hold */
HOLD_ROW_ENTRY(evs_sql_start_payment)	/* the hold in its payment window */
HOLD_ROW_ENTRY(evs_sql_confirm_payment)	/* the paid (or revived, or refund-required) hold */
