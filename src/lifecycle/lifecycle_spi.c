/*
 * lifecycle_spi.c: the plumbing every lifecycle write shares: running as the
 * schema owner, one-statement SPI calls with a checked result and a kept plan,
 * argument helpers, locking the event row, the event document and the outbox
 * message. Declared in lifecycle_internal.h.
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/uuid.h"
#include "lifecycle/lifecycle_internal.h"
#include "lifecycle/validation.h"

/* ---------- one statement, checked result ---------- */

void
lc_arg(Args *a, Oid type, Datum value, bool isnull)
{
	Assert(a->n < 10);
	a->types[a->n] = type;
	a->values[a->n] = value;
	a->nulls[a->n] = isnull ? 'n' : ' ';
	a->n++;
}

/*
 * Every statement of the lifecycle files is a string literal, so its address names it:
 * the first run prepares and keeps the plan, later runs reuse it (the plan
 * cache replans on schema or role changes). A full cache only costs speed.
 */
#define PLAN_SLOTS 64
static struct
{
	const char *sql;
	SPIPlanPtr	plan;
}			plans[PLAN_SLOTS];
static int	nplans = 0;

static int
run(const char *sql, Args *a)
{
	SPIPlanPtr	plan = NULL;
	int			n = a ? a->n : 0;

	for (int i = 0; i < nplans && plan == NULL; i++)
		if (plans[i].sql == sql)
			plan = plans[i].plan;
	if (plan == NULL && nplans < PLAN_SLOTS)
	{
		plan = SPI_prepare(sql, n, a ? a->types : NULL);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
		plans[nplans].sql = sql;
		plans[nplans].plan = plan;
		nplans++;
	}
	if (plan == NULL)
		return SPI_execute_with_args(sql, n, a ? a->types : NULL, a ? a->values : NULL,
									 a ? a->nulls : NULL, false, 0);
	return SPI_execute_plan(plan, a ? a->values : NULL, a ? a->nulls : NULL, false, 0);
}

void
lc_exec(const char *sql, Args *a, int expect_rc)
{
	int			rc = run(sql, a);

	if (rc != expect_rc)
		elog(ERROR, "lifecycle statement failed (%s): %s", SPI_result_code_string(rc), sql);
}

Datum
lc_get(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

char *
lc_get_text(int row, int col)
{
	bool		isnull;
	Datum		d = lc_get(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* The single jsonb value a query (or INSERT/UPDATE ... RETURNING) returns, or NULL. */
Jsonb *
lc_query_jsonb(const char *sql, Args *a)
{
	bool		isnull;
	Datum		d;

	int			rc = run(sql, a);

	if (rc != SPI_OK_SELECT && rc != SPI_OK_INSERT_RETURNING && rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "lifecycle statement failed (%s): %s", SPI_result_code_string(rc), sql);
	if (SPI_processed != 1)
		return NULL;
	d = lc_get(0, 1, &isnull);
	return isnull ? NULL : DatumGetJsonbP(d);
}

void
lc_begin_spi(void)
{
	int			rc = SPI_connect();

	evs_field_prefix(NULL);		/* an earlier call may have failed inside a list */
	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
}

/* Copy the result out of SPI memory, close SPI and return it. */
Datum
lc_finish_spi(Jsonb *result)
{
	Datum		d = SPI_datumTransfer(JsonbPGetDatum(result), false, -1);

	SPI_finish();
	return d;
}

char *
lc_uuid_text(Datum id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, id));
}

/* ---------- the event row, its document and its messages ---------- */

/* Lock the event row for this transaction; a deleted or foreign event is "not found". */
void
lc_lock_event(Datum tenant, Datum id, EventRow *ev)
{
	Args		a = {0};
	bool		isnull;

	lc_arg(&a, UUIDOID, tenant, false);
	lc_arg(&a, UUIDOID, id, false);
	lc_exec("SELECT e.status::text, e.version, e.venue_id, to_jsonb(e) - 'search_vector'"
			" FROM eventsvc.events e WHERE e.tenant_id = $1 AND e.id = $2 AND e.deleted_at IS NULL"
			" FOR UPDATE", &a, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(EVS_ERR_NOT_FOUND),
				 errmsg("event %s not found", lc_uuid_text(id)),
				 errhint("The event does not exist, was deleted, or belongs to another tenant.")));
	ev->tenant = tenant;
	ev->id = id;
	ev->status = lc_get_text(0, 1);
	ev->version = DatumGetInt32(lc_get(0, 2, &isnull));
	ev->venue_id = lc_get(0, 3, &isnull);
	ev->row = DatumGetJsonbP(lc_get(0, 4, &isnull));
}

Jsonb *
lc_event_document(Datum id)
{
	Args		a = {0};

	lc_arg(&a, UUIDOID, id, false);
	return lc_query_jsonb("SELECT eventsvc.event_document($1)", &a);
}

/*
 * One outbox message: the event summary (eventsvc.event_message) merged with
 * the routing key's own fields. Exchanges are decided in docs/outbox.md.
 */
void
lc_emit(Datum tenant, Datum event, const char *routing_key, Jsonb *extra)
{
	const char *exchange = strcmp(routing_key, "event.blockchain_sync_requested") == 0
		? "event-lifecycle" : "tickettoken_events";
	Args		a = {0};
	Jsonb	   *data;
	EvsOwnerContext ctx;

	lc_arg(&a, UUIDOID, event, false);
	lc_arg(&a, JSONBOID, extra ? jsonb_datum(extra) : (Datum) 0, extra == NULL);
	data = lc_query_jsonb("SELECT eventsvc.event_message($1) || coalesce($2, '{}')", &a);
	evs_become_owner(&ctx);
	(void) evs_outbox_emit(tenant, event, exchange, routing_key, jsonb_datum(data));
	evs_restore_user(&ctx);
}

Datum
lc_event_call(Datum tenant, Datum id, const char *operation, const char *key,
			  Jsonb *request, EventAction action, const void *context)
{
	EventRow	ev;
	EvsIdempotency idem;
	Jsonb	   *replay,
			   *result;

	replay = evs_idempotency_begin(&idem, operation, key, request);
	if (replay)
		return lc_finish_spi(replay);
	lc_lock_event(tenant, id, &ev);
	result = action(&ev, context);
	evs_idempotency_finish(&idem, result);
	return lc_finish_spi(result);
}

/* ---------- arguments ---------- */

/* A key-value pair of jsonb objects: {"k": v}. */
Jsonb *
lc_json_pair(const char *k1, const char *v1, const char *k2, const char *v2)
{
	Args		a = {0};

	lc_arg(&a, TEXTOID, CStringGetTextDatum(k1), false);
	lc_arg(&a, TEXTOID, v1 ? CStringGetTextDatum(v1) : (Datum) 0, v1 == NULL);
	lc_arg(&a, TEXTOID, CStringGetTextDatum(k2 ? k2 : "_"), false);
	lc_arg(&a, TEXTOID, v2 ? CStringGetTextDatum(v2) : (Datum) 0, v2 == NULL);
	return lc_query_jsonb(k2 ? "SELECT jsonb_build_object($1, $2, $3, $4)" : "SELECT jsonb_build_object($1, $2)", &a);
}

char *
lc_opt_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

Datum
lc_require_uuid(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: is required", name)));
	return PG_GETARG_DATUM(n);
}
