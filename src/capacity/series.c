/*
 * series.c: the lifecycle of one date of a series (docs/series.md).
 * api.cancel_occurrence: the date stops selling at once (CANCELLED), its live
 * holds are released and its waitlists closed, every purchase of the date is
 * refunded in full through the one refund path (payment.refund_requested,
 * one per purchase, with its stable key), and one event.occurrence.cancelled
 * tells the other services, all in the caller's transaction.
 * A decision window of the date still open closes with those refunds
 * (postponement.c). api.move_occurrence: the date gets a new start and end;
 * its sections, holds and purchases stay; its purchases get a keep-or-refund
 * decision window, as a postponed event's (postponement.c, kind MOVED); and
 * event.occurrence.moved tells the other services (and, through them, the
 * holders). The other dates and the event are left as they are.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/timestamp.h"
#include "utils/jsonb.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_sql_cancel_occurrence);
PG_FUNCTION_INFO_V1(evs_sql_move_occurrence);

#define REASON_MAX 1000			/* characters of a reason, as status_reason allows */

/* The reason argument `n`: required when `required`, at most REASON_MAX characters; NULL when absent. */
static char *
checked_reason(FunctionCallInfo fcinfo, int n, bool required)
{
	char	   *reason = PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));

	if (required && (reason == NULL || strspn(reason, " \t\r\n") == strlen(reason)))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("a reason is required to cancel a date"),
				 errhint("The reason goes to the buyers' refunds and to event.occurrence.cancelled.")));
	if (reason != NULL && pg_mbstrlen(reason) > REASON_MAX)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("reason is longer than %d characters", REASON_MAX)));
	return reason;
}

/*
 * The caller's date, locked for its change (a sell-out or a return of seats
 * of the date waits for this); PT404 when it is not the caller's, PT409 when
 * it is cancelled. Row: status, event_id, starts_at, ends_at. SPI connected,
 * as the owner.
 */
static void
date_for_change(Datum tenant, Datum occurrence)
{
	EvsArgs		a = {0};

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, occurrence, false);
	evs_exec("SELECT status, event_id, to_jsonb(starts_at) #>> '{}', to_jsonb(ends_at) #>> '{}' FROM eventsvc.event_occurrences"
			 " WHERE tenant_id = $1 AND id = $2 FOR UPDATE", &a, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_NOT_FOUND),
				 errmsg("occurrence %s not found", evs_uuid_text(occurrence)),
				 errhint("List the dates on sale with GET /occurrences?event_id=eq.<event>.")));
	if (strcmp(TextDatumGetCString(evs_get_notnull(0, 1, "the date's status")), "CANCELLED") == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("occurrence %s is cancelled", evs_uuid_text(occurrence))));
}

/*
 * A retry with the same Idempotency-Key header gets the first answer back
 * (returned); NULL: go ahead. The request is the date, the reason and, for a
 * move, the new times.
 */
static Jsonb *
date_call_begin(EvsIdempotency *idem, const char *operation, Datum occurrence, const char *reason,
				const char *starts_at, const char *ends_at)
{
	JsonbParseState *st = NULL;

	idem->active = false;
	if (!evs_idempotency_header_present())
		return NULL;
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "occurrence_id", occurrence);
	evs_jsonb_push_text(&st, "reason", reason);
	if (starts_at != NULL)
	{
		evs_jsonb_push_text(&st, "starts_at", starts_at);
		evs_jsonb_push_text(&st, "ends_at", ends_at);
	}
	return evs_idempotency_begin(idem, operation, NULL, evs_jsonb_end(&st));
}

/* The date's own fields of a message, from the row its change returned. */
static void
push_date(JsonbParseState **st, Jsonb *row)
{
	static const char *const keys[] = {"event_id", "occurrence_id", "schedule_id", "starts_at", "ends_at", "status"};

	for (int i = 0; i < (int) lengthof(keys); i++)
		evs_jsonb_push_value(st, keys[i], evs_jsonb_get(row, keys[i]));
}

/* api.cancel_occurrence(occurrence_id, reason): a tenant admin or a service cancels one date. */
Datum
evs_sql_cancel_occurrence(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	Datum		occurrence;
	char	   *reason;
	EvsIdempotency idem;
	EvsRoleSwitch as_owner;
	EvsArgs		a = {0};
	Jsonb	   *row;
	Jsonb	   *refunds;
	Jsonb	   *result;
	JsonbParseState *st = NULL;
	int64		released;
	char	   *previous;
	Datum		event_id;

	tenant = evs_current_tenant();	/* none set: 42501 before anything else */
	if (!evs_is_service())
		evs_require_admin("cancel a date of a series");
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("occurrence_id is required")));
	reason = checked_reason(fcinfo, 1, true);
	occurrence = PG_GETARG_DATUM(0);
	result = date_call_begin(&idem, "cancel_occurrence", occurrence, reason, NULL, NULL);
	if (result != NULL)
		PG_RETURN_JSONB_P(result);

	evs_become_owner(&as_owner);
	evs_spi_connect();
	date_for_change(tenant, occurrence);
	previous = evs_get_text(0, 1);
	event_id = datumCopy(evs_get_notnull(0, 2, "the date's event"), false, UUID_LEN);
	evs_postponement_date_lock(tenant, event_id, occurrence);	/* its decisions before its holds */
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, occurrence, false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(reason), false);
	row = evs_query_jsonb_notnull("UPDATE eventsvc.event_occurrences o SET status = 'CANCELLED', status_reason = $3,"
						  " updated_at = eventsvc.now() WHERE tenant_id = $1 AND id = $2"
						  " RETURNING jsonb_build_object('event_id', o.event_id, 'occurrence_id', o.id,"
						  "  'schedule_id', o.schedule_id, 'starts_at', o.starts_at, 'ends_at', o.ends_at, 'status', o.status)", &a,
								  "the cancelled date");
	row = DatumGetJsonbP(datumCopy(JsonbPGetDatum(row), false, -1));	/* outlives the statement's result */

	/* no more holds, nobody waiting, every purchase paid back */
	released = evs_release_date_holds(tenant, occurrence);
	refunds = evs_refund_date_purchases(tenant, occurrence, reason);
	evs_postponement_date_cancelled(tenant, event_id, occurrence, refunds);

	evs_jsonb_begin_object(&st, NULL);
	push_date(&st, row);
	evs_jsonb_push_text(&st, "previous_status", previous);
	evs_jsonb_push_text(&st, "reason", reason);
	evs_jsonb_push_int(&st, "holds_released", released);
	evs_jsonb_push_value(&st, "purchases_refunded", evs_jsonb_get(refunds, "refunded"));
	evs_jsonb_push_value(&st, "refunds", evs_jsonb_get(refunds, "refunds"));
	evs_jsonb_push_text(&st, "actor", evs_current_actor());
	result = evs_jsonb_end(&st);
	(void) evs_outbox_emit_key(tenant, event_id, EVS_RK_OCCURRENCE_CANCELLED, result);

	result = DatumGetJsonbP(evs_spi_finish_jsonb(result));
	evs_switch_back(&as_owner);
	evs_idempotency_finish(&idem, result);
	PG_RETURN_JSONB_P(result);
}

/* api.move_occurrence(occurrence_id, starts_at, ends_at, reason): a tenant admin or a service moves one date. */
Datum
evs_sql_move_occurrence(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	Datum		occurrence;
	TimestampTz starts_at;
	TimestampTz ends_at;
	char	   *reason;
	EvsIdempotency idem;
	EvsRoleSwitch as_owner;
	EvsArgs		a = {0};
	EvsArgs		b = {0};
	Jsonb	   *row;
	Jsonb	   *sold;
	Jsonb	   *window;
	Jsonb	   *result;
	JsonbParseState *st = NULL;
	Datum		event_id;
	char	   *previous_start;
	char	   *previous_end;

	tenant = evs_current_tenant();	/* none set: 42501 before anything else */
	if (!evs_is_service())
		evs_require_admin("move a date of a series");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("occurrence_id, starts_at and ends_at are required")));
	starts_at = PG_GETARG_TIMESTAMPTZ(1);
	ends_at = PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(starts_at) || TIMESTAMP_NOT_FINITE(ends_at))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("starts_at and ends_at must be finite times")));
	if (ends_at <= starts_at)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid date: ends_at must be after starts_at")));
	if (starts_at <= evs_now())
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("a date can only move to the future"),
				 errdetail("The new start %s has passed.", timestamptz_to_str(starts_at))));
	reason = checked_reason(fcinfo, 3, false);
	occurrence = PG_GETARG_DATUM(0);
	{
		/* timestamptz_to_str writes into one static buffer: copy the first before the second */
		char	   *new_start = pstrdup(timestamptz_to_str(starts_at));
		char	   *new_end = pstrdup(timestamptz_to_str(ends_at));

		result = date_call_begin(&idem, "move_occurrence", occurrence, reason, new_start, new_end);
	}
	if (result != NULL)
		PG_RETURN_JSONB_P(result);

	evs_become_owner(&as_owner);
	evs_spi_connect();
	date_for_change(tenant, occurrence);
	event_id = datumCopy(evs_get_notnull(0, 2, "the date's event"), false, UUID_LEN);
	previous_start = evs_get_text(0, 3);
	previous_end = evs_get_text(0, 4);
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, occurrence, false);
	evs_arg(&a, TIMESTAMPTZOID, TimestampTzGetDatum(starts_at), false);
	evs_arg(&a, TIMESTAMPTZOID, TimestampTzGetDatum(ends_at), false);
	evs_arg(&a, TEXTOID, reason ? CStringGetTextDatum(reason) : (Datum) 0, reason == NULL);
	row = evs_query_jsonb_notnull("UPDATE eventsvc.event_occurrences o SET starts_at = $3, ends_at = $4,"
						  " status_reason = coalesce($5, o.status_reason), updated_at = eventsvc.now()"
						  " WHERE tenant_id = $1 AND id = $2"
						  " RETURNING jsonb_build_object('event_id', o.event_id, 'occurrence_id', o.id,"
						  "  'schedule_id', o.schedule_id, 'starts_at', o.starts_at, 'ends_at', o.ends_at,"
						  "  'status', o.status)", &a, "the moved date");
	row = DatumGetJsonbP(datumCopy(JsonbPGetDatum(row), false, -1));	/* outlives the statement's result */
	/* who holds seats of the date: the services tell them */
	evs_arg(&b, UUIDOID, tenant, false);
	evs_arg(&b, UUIDOID, occurrence, false);
	sold = evs_query_jsonb_notnull("SELECT jsonb_build_object('purchases', count(*), 'seats', coalesce(sum(h.quantity), 0),"
						   "  'holders', count(DISTINCT h.holder_id))"
						   " FROM eventsvc.capacity_holds h WHERE h.tenant_id = $1 AND h.state = 'CONFIRMED'"
						   "  AND h.capacity_id IN (SELECT s.id FROM eventsvc.event_capacity s"
						   "   WHERE s.tenant_id = $1 AND s.occurrence_id = $2)", &b,
								  "the date's purchases");

	/* each purchase of the date: keep or refund, until the window closes */
	window = evs_postponement_open(tenant, event_id, occurrence, "MOVED");

	evs_jsonb_begin_object(&st, NULL);
	push_date(&st, row);
	evs_jsonb_push_text(&st, "previous_starts_at", previous_start);
	evs_jsonb_push_text(&st, "previous_ends_at", previous_end);
	evs_jsonb_push_text(&st, "reason", reason);
	evs_jsonb_push_value(&st, "purchases", evs_jsonb_get(sold, "purchases"));
	evs_jsonb_push_value(&st, "seats", evs_jsonb_get(sold, "seats"));
	evs_jsonb_push_value(&st, "holders", evs_jsonb_get(sold, "holders"));
	if (window != NULL)
		evs_jsonb_push_jsonb(&st, "decision_window", window);
	else
		evs_jsonb_push_text(&st, "decision_window", NULL);
	evs_jsonb_push_text(&st, "actor", evs_current_actor());
	result = evs_jsonb_end(&st);
	(void) evs_outbox_emit_key(tenant, event_id, EVS_RK_OCCURRENCE_MOVED, result);

	result = DatumGetJsonbP(evs_spi_finish_jsonb(result));
	evs_switch_back(&as_owner);
	evs_idempotency_finish(&idem, result);
	PG_RETURN_JSONB_P(result);
}
