/*
 * hold_result.c: the hold calls of the api (reserve_capacity, confirm_hold,
 * release_hold, extend_hold, start_payment, confirm_payment) return a row of
 * api.holds, a declared type that PostgREST's OpenAPI and typed clients see
 * (PostgREST sends it as the same JSON object). The hold code makes the hold
 * as jsonb (what the entry points of 1.0 still return, and what idempotent
 * replays store); the row is made from it here, column by column by name,
 * without SPI: changed_at, reason and renewals as the view computes them.
 * api.reserve_capacity, the hottest call, makes its row from the new hold's
 * C values instead (reserve.c tells them), with nothing to parse back.
 * api.calculate_price returns a row of api.price_line the same way, made from
 * the price line's jsonb (the object a hold keeps as locked_price), and
 * api.seat_allowance a row of api.allowance.
 * test/holds_results.sql checks each call's row against the view's row,
 * test/money_price_line.sql the price line's row against its jsonb.
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
PG_FUNCTION_INFO_V1(evs_sql_calculate_price_row);
PG_FUNCTION_INFO_V1(evs_sql_seat_allowance_row);

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
 * Which value of a new hold a column is (api.reserve_capacity's row is made
 * from the hold's C values, not from its jsonb): NEW_NULL for the columns a
 * new hold has none of.
 */
typedef enum NewHoldField
{
	NEW_NULL,
	NEW_ID,
	NEW_EVENT_ID,
	NEW_CAPACITY_ID,
	NEW_PRICING_ID,
	NEW_HOLDER_ID,
	NEW_QUANTITY,
	NEW_STATE,
	NEW_CURRENCY,
	NEW_UNIT_PRICE,
	NEW_LOCKED_PRICE,
	NEW_EXPIRES_AT,
	NEW_CREATED_AT,				/* and changed_at: a new hold changed when it was made */
	NEW_RENEWALS				/* 0 */
} NewHoldField;

/* The column names of a new hold's values, with the type each must have. */
static const struct
{
	const char *name;
	NewHoldField field;
	Oid			type;			/* InvalidOid: made by the column's input function */
}			new_hold_columns[] = {
	{"id", NEW_ID, UUIDOID}, {"event_id", NEW_EVENT_ID, UUIDOID}, {"capacity_id", NEW_CAPACITY_ID, UUIDOID},
	{"pricing_id", NEW_PRICING_ID, UUIDOID}, {"holder_id", NEW_HOLDER_ID, InvalidOid},
	{"quantity", NEW_QUANTITY, INT4OID}, {"state", NEW_STATE, InvalidOid}, {"currency", NEW_CURRENCY, InvalidOid},
	{"unit_price", NEW_UNIT_PRICE, INT8OID}, {"locked_price", NEW_LOCKED_PRICE, JSONBOID},
	{"expires_at", NEW_EXPIRES_AT, TIMESTAMPTZOID}, {"created_at", NEW_CREATED_AT, TIMESTAMPTZOID},
	{"changed_at", NEW_CREATED_AT, TIMESTAMPTZOID}, {"renewals", NEW_RENEWALS, INT4OID}
};

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
	NewHoldField *new_field;	/* a new hold's value of each column */
	bool		new_direct;		/* every column's type is the one new_hold_columns says */
} HoldShape;

/* One per result type (api.holds, api.price_line, api.allowance): a handful at most. */
#define KEPT_SHAPES 4
static HoldShape *kept_shapes[KEPT_SHAPES];

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
	int			slot = KEPT_SHAPES - 1;

	if (desc == NULL)
		ereport(ERROR,
				(errcode(EVS_ERR_INTERNAL),
				 errmsg("a typed api call must be declared to return a row type")));
	for (int k = 0; k < KEPT_SHAPES; k++)
	{
		if (kept_shapes[k] == NULL || kept_shapes[k]->typid == typid)
		{
			if (kept_shapes[k] != NULL && kept_shapes[k]->desc_id == tc->tupDesc_identifier)
				return kept_shapes[k];
			slot = k;
			break;
		}
	}

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
	shape->new_field = palloc0(sizeof(NewHoldField) * desc->natts);
	shape->new_direct = true;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		const char *name = NameStr(a->attname);
		Oid			func;

		if (a->attisdropped)
			continue;
		for (int c = 0; c < (int) lengthof(new_hold_columns); c++)
			if (strcmp(name, new_hold_columns[c].name) == 0)
			{
				shape->new_field[i] = new_hold_columns[c].field;
				if (new_hold_columns[c].type != InvalidOid && new_hold_columns[c].type != a->atttypid)
					shape->new_direct = false;
			}
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
	if (kept_shapes[slot] != NULL)
		MemoryContextDelete(kept_shapes[slot]->cxt);
	kept_shapes[slot] = shape;
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

/* The row of the call's result type made from its answer as jsonb (a hold, a price line). */
static Datum
hold_row(FunctionCallInfo fcinfo, Datum hold_jsonb)
{
	HoldShape  *shape = hold_shape(fcinfo);
	Jsonb	   *hold = DatumGetJsonbP(hold_jsonb);
	Datum	   *values = palloc0(sizeof(Datum) * shape->natts);
	bool	   *nulls = palloc(sizeof(bool) * shape->natts);

	if (!JB_ROOT_IS_OBJECT(hold))
		ereport(ERROR, (errcode(EVS_ERR_INTERNAL), errmsg("a typed api call answered with something other than an object")));
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

/* The row of api.reserve_capacity's result type made from the hold it just made. */
static Datum
new_hold_row(HoldShape *shape, const EvsNewHold *h)
{
	Datum	   *values = palloc0(sizeof(Datum) * shape->natts);
	bool	   *nulls = palloc(sizeof(bool) * shape->natts);

	for (int i = 0; i < shape->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(shape->desc, i);
		const char *text = NULL;

		nulls[i] = false;
		switch (shape->new_field[i])
		{
			case NEW_NULL:
				nulls[i] = true;
				break;
			case NEW_ID:
				values[i] = UUIDPGetDatum(&h->id);
				break;
			case NEW_EVENT_ID:
				values[i] = UUIDPGetDatum(&h->event_id);
				break;
			case NEW_CAPACITY_ID:
				values[i] = UUIDPGetDatum(&h->capacity_id);
				break;
			case NEW_PRICING_ID:
				values[i] = UUIDPGetDatum(&h->pricing_id);
				nulls[i] = !h->priced;
				break;
			case NEW_HOLDER_ID:
				text = h->holder;
				break;
			case NEW_QUANTITY:
				values[i] = Int32GetDatum(h->quantity);
				break;
			case NEW_STATE:
				text = "ACTIVE";
				break;
			case NEW_CURRENCY:
				text = h->priced ? h->currency : NULL;
				nulls[i] = !h->priced;
				break;
			case NEW_UNIT_PRICE:
				values[i] = Int64GetDatum(h->unit_price);
				nulls[i] = !h->priced;
				break;
			case NEW_LOCKED_PRICE:
				values[i] = h->priced ? JsonbPGetDatum(h->locked_price) : (Datum) 0;
				nulls[i] = !h->priced;
				break;
			case NEW_EXPIRES_AT:
				values[i] = TimestampTzGetDatum(h->expires_at);
				break;
			case NEW_CREATED_AT:
				values[i] = TimestampTzGetDatum(h->created_at);
				break;
			case NEW_RENEWALS:
				values[i] = Int32GetDatum(0);
				break;
		}
		if (text != NULL)
			values[i] = InputFunctionCall(&shape->input[i], (char *) text, shape->ioparam[i], a->atttypmod);
	}
	return HeapTupleGetDatum(heap_form_tuple(shape->desc, values, nulls));
}

/*
 * api.reserve_capacity, the hottest call: the row straight from the hold's C
 * values; a replayed answer (Idempotency-Key), or a result type whose columns
 * are not of the types a new hold has, from the answer's jsonb.
 */
Datum
evs_sql_reserve_capacity_row(PG_FUNCTION_ARGS)
{
	HoldShape  *shape = hold_shape(fcinfo);
	EvsNewHold	made = {0};
	Datum		hold = evs_reserve_capacity_made(fcinfo, shape->new_direct ? &made : NULL);

	if (fcinfo->isnull)
		PG_RETURN_NULL();
	if (made.made)
		return new_hold_row(shape, &made);
	return hold_row(fcinfo, hold);
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

HOLD_ROW_ENTRY(evs_sql_confirm_hold)	/* the sold hold */
HOLD_ROW_ENTRY(evs_sql_release_hold)	/* the released hold */
HOLD_ROW_ENTRY(evs_sql_extend_hold)	/* the extended hold */
HOLD_ROW_ENTRY(evs_sql_start_payment)	/* the hold in its payment window */
HOLD_ROW_ENTRY(evs_sql_confirm_payment)	/* the paid (or revived, or refund-required) hold */

/* api.calculate_price: the price line as a row of api.price_line. */
HOLD_ROW_ENTRY(evs_sql_calculate_price)

/* api.seat_allowance: how many more seats the caller may hold, as a row of api.allowance. */
HOLD_ROW_ENTRY(evs_sql_seat_allowance)
