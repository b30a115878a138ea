/*
 * event_row.c: what every lifecycle call shares: its start (SPI, arguments),
 * locking the event row, the event document, the outbox message of a change,
 * and a call on one locked event with its idempotency record. Declared in
 * lifecycle_internal.h.
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

/* ---------- a lifecycle call ---------- */

/* SPI_connect for a lifecycle call (and no field prefix left from an earlier call). */
void
lc_begin_spi(void)
{
	evs_spi_connect();
	evs_field_prefix(NULL);		/* an earlier call may have failed inside a list */
}

/* ---------- the event row, its document and its messages ---------- */

/* Lock the event row for this transaction; a deleted or foreign event is "not found". */
void
lc_lock_event(Datum tenant, Datum id, EventRow *ev)
{
	EvsArgs		a = {0};
	bool		isnull;

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, id, false);
	evs_exec("SELECT e.status::text, e.version, e.venue_id, to_jsonb(e) - 'search_vector'"
			" FROM eventsvc.events e WHERE e.tenant_id = $1 AND e.id = $2 AND e.deleted_at IS NULL"
			" FOR UPDATE", &a, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(EVS_ERR_NOT_FOUND),
				 errmsg("event %s not found", evs_uuid_text(id)),
				 errhint("The event does not exist, was deleted, or belongs to another tenant.")));
	ev->tenant = tenant;
	ev->id = id;
	ev->status = TextDatumGetCString(evs_get_notnull(0, 1, "the event's status"));
	ev->version = DatumGetInt32(evs_get(0, 2, &isnull));
	ev->venue_id = evs_get_notnull(0, 3, "the event's venue");
	ev->row = DatumGetJsonbP(evs_get_notnull(0, 4, "the event's row"));
}

/* The event as api functions return it (eventsvc.event_document). */
Jsonb *
lc_event_document(Datum id)
{
	EvsArgs		a = {0};

	evs_arg(&a, UUIDOID, id, false);
	return evs_query_jsonb_notnull("SELECT eventsvc.event_document($1)", &a, "the event's document");
}

/*
 * One outbox message: the event summary (eventsvc.event_message) merged with
 * the routing key's own fields, to the routing key's exchange (outbox.c).
 */
void
lc_emit(Datum tenant, Datum event, const char *routing_key, Jsonb *extra)
{
	EvsArgs		a = {0};
	Jsonb	   *data;
	EvsRoleSwitch ctx;

	evs_arg(&a, UUIDOID, event, false);
	evs_arg(&a, JSONBOID, extra ? JsonbPGetDatum(extra) : (Datum) 0, extra == NULL);
	data = evs_query_jsonb_notnull("SELECT eventsvc.event_message($1) || coalesce($2, '{}')", &a, "the event's message");
	evs_become_owner(&ctx);
	(void) evs_outbox_emit_key(tenant, event, routing_key, data);
	evs_switch_back(&ctx);
}

/* A call on one existing event: replay, or lock it and run `action`; closes SPI. */
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
		return evs_spi_finish_jsonb(replay);
	lc_lock_event(tenant, id, &ev);
	result = action(&ev, context);
	evs_idempotency_finish(&idem, result);
	return evs_spi_finish_jsonb(result);
}

/* ---------- arguments ---------- */

/* {"k1": v1} or {"k1": v1, "k2": v2} (k2 NULL); a NULL value is JSON null. */
Jsonb *
lc_json_pair(const char *k1, const char *v1, const char *k2, const char *v2)
{
	JsonbParseState *st = NULL;

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, k1, v1);
	if (k2 != NULL)
		evs_jsonb_push_text(&st, k2, v2);
	return evs_jsonb_end(&st);
}

/* Argument n as a C string, NULL for SQL NULL. */
char *
lc_opt_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* Argument n, a required uuid named `name`. */
Datum
lc_require_uuid(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: is required", name)));
	return PG_GETARG_DATUM(n);
}
