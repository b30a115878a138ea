/*
 * cancellation.c: local cancellation of an event: the status, the holds
 * released and every purchase refunded through the capacity code, every
 * section closed, the cancellation report and its saga steps (run later by
 * saga.c, whose refund_payments step pays each refund listed in the report,
 * once), and the event.cancelled message, all in the caller's transaction.
 * An event with purchases is cancelled only with the confirmation code of a
 * preview (api.preview_cancellation) whose refunds still match: the preview
 * changes nothing but stores its code, and the real run refuses a code whose
 * purchases or amounts have changed since (a sale in between). See
 * docs/lifecycle.md "Cancellation preview".
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "lifecycle/lifecycle_internal.h"
#include "lifecycle/validation.h"
#include "capacity/capacity.h"

PG_FUNCTION_INFO_V1(evs_api_cancel_event);
PG_FUNCTION_INFO_V1(evs_api_preview_cancellation);
PG_FUNCTION_INFO_V1(evs_api_confirm_cancellation);
PG_FUNCTION_INFO_V1(evs_sql_retry_cancellation_refunds);

#define PREVIEW_TTL "5 minutes"
#define PREVIEW_OPERATION "cancel_event"
/* What a preview's code is bound to: the event ($2), the operation and the refund plan's fingerprint ($4). */
#define PREVIEW_HASH "sha256(convert_to($2::text || '|" PREVIEW_OPERATION "|' || $4, 'UTF8'))"

/* The summary of a refund plan that a stale code's error shows: "3 purchases (USD 120.00)". */
static char *
plan_summary(Jsonb *plan)
{
	JsonbValue *totals = evs_jsonb_get(plan, "refund_totals");
	JsonbValue *count = evs_jsonb_get(plan, "purchase_count");
	char	   *t = totals ? JsonbToCString(NULL, totals->val.binary.data, totals->val.binary.len) : "[]";

	return psprintf("%s purchases, refunds by currency %s",
					count ? DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(count->val.numeric))) : "0",
					t);
}

/*
 * The cancellation's gate for its refunds: with no purchases and no code, go
 * on. Otherwise the code must be a live, unused preview of this event by this
 * actor (PT428 if not), and its fingerprint the current plan's (PT409: the
 * preview is stale); the code is then used up.
 */
static void
require_preview(EventRow *ev, Jsonb *plan, bool has_code, Datum code)
{
	EvsArgs		a = {0};
	EvsRoleSwitch ctx;
	JsonbValue *count = evs_jsonb_get(plan, "purchase_count");
	JsonbValue *fp = evs_jsonb_get(plan, "fingerprint");
	bool		isnull;
	Jsonb	   *previewed;
	char	   *fingerprint = pnstrdup(fp->val.string.val, fp->val.string.len);

	if (!has_code)
	{
		if (DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(count->val.numeric))) == 0)
			return;
		ereport(ERROR,
				(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
				 errmsg("cancelling event %s refunds its purchases: confirm it with a preview's code",
						evs_uuid_text(ev->id)),
				 errdetail("It would refund %s.", plan_summary(plan)),
				 errhint("Call api.preview_cancellation(event_id), check what it would do, then "
						 "api.confirm_cancellation(event_id, confirmation_code, reason) within 5 minutes.")));
	}
	evs_arg(&a, UUIDOID, ev->tenant, false);
	evs_arg(&a, UUIDOID, ev->id, false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(fingerprint), false);
	evs_arg(&a, UUIDOID, code, false);
	evs_become_owner(&ctx);
	evs_exec("SELECT event_id = $2, actor_id = $3, change_hash = " PREVIEW_HASH ", expires_at > eventsvc.now(),"
			 " used_at IS NULL, expires_at::text, change, change ->> 'operation' = '" PREVIEW_OPERATION "'"
			 " FROM eventsvc.confirmation_tokens WHERE tenant_id = $1 AND token = $5 FOR UPDATE", &a, SPI_OK_SELECT);
	evs_switch_back(&ctx);
	if (SPI_processed != 1 || !DatumGetBool(evs_get(0, 8, &isnull)) || isnull)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
				 errmsg("confirmation code %s is not a cancellation preview's code", evs_uuid_text(code)),
				 errhint("Call api.preview_cancellation(event_id) for a code.")));
	if (!DatumGetBool(evs_get(0, 5, &isnull)))
		ereport(ERROR,
				(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
				 errmsg("confirmation code %s was already used", evs_uuid_text(code)),
				 errhint("Call api.preview_cancellation(event_id) for a new code.")));
	if (!DatumGetBool(evs_get(0, 4, &isnull)))
		ereport(ERROR,
				(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
				 errmsg("confirmation code %s expired at %s", evs_uuid_text(code), evs_get_text(0, 6)),
				 errhint("A preview's code lives 5 minutes; call api.preview_cancellation(event_id) again.")));
	if (!DatumGetBool(evs_get(0, 1, &isnull)) || !DatumGetBool(evs_get(0, 2, &isnull)))
		ereport(ERROR,
				(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
				 errmsg("confirmation code %s was issued for a different %s", evs_uuid_text(code),
						!DatumGetBool(evs_get(0, 1, &isnull)) ? "event" : "user"),
				 errhint("The user who previews the cancellation confirms it.")));
	previewed = DatumGetJsonbPCopy(evs_get_notnull(0, 7, "the previewed change"));
	if (!DatumGetBool(evs_get(0, 3, &isnull)))
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("the cancellation preview of event %s is stale: its purchases or refunds changed since",
						evs_uuid_text(ev->id)),
				 errdetail("Previewed: %s. Now: %s.", plan_summary(previewed), plan_summary(plan)),
				 errhint("A sale or a refund happened after the preview: call api.preview_cancellation(event_id) "
						 "again and confirm with the new code.")));
	evs_become_owner(&ctx);
	evs_exec("UPDATE eventsvc.confirmation_tokens SET used_at = eventsvc.now() WHERE tenant_id = $1 AND token = $5",
			 &a, SPI_OK_UPDATE);
	evs_switch_back(&ctx);
}

/*
 * Cancel a locked event (also the CANCELLED target of api.transition_event):
 * returns the event document with a "cancellation" summary.
 */
Jsonb *
lc_cancel_locked(EventRow *ev, const char *reason, bool has_code, Datum code)
{
	EvsArgs		a = {0};
	Jsonb	   *info;
	Jsonb	   *doc;
	Jsonb	   *plan;
	Jsonb	   *refunds;
	JsonbParseState *st = NULL;

	if (reason == NULL || strspn(reason, " \t\r\n") == strlen(reason) || strlen(reason) > 2000)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("reason: is required, 1 to 2000 characters"),
				 errhint("Buyers see the reason in their cancellation notice.")));
	if (strcmp(ev->status, "CANCELLED") == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("event %s is already cancelled", evs_uuid_text(ev->id)),
				 errhint("Retries of one cancellation should send the same idempotency_key to get the first result.")));

	/* who may cancel (after sales: a tenant admin) is said before the code is asked for */
	evs_check_transition(ev->tenant, ev->id, ev->status, "CANCELLED");
	/* sales in flight commit first, later ones are refused (hold_life.c); then the purchases
	 * locked as they are now: what the preview's code must still match */
	evs_event_sales_stop(ev->id);
	plan = evs_event_refund_plan(ev->tenant, ev->id, true);
	require_preview(ev, plan, has_code, code);

	evs_arg(&a, UUIDOID, ev->tenant, false);
	evs_arg(&a, UUIDOID, ev->id, false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(reason), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	evs_exec("UPDATE eventsvc.events SET status = 'CANCELLED', cancelled_at = eventsvc.now(),"
			"  cancellation_reason = $3, cancelled_by = $4, updated_by = $4, updated_at = eventsvc.now()"
			" WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_UPDATE);

	/*
	 * Active holds go back through the capacity code (which keeps the seat
	 * counters right); then every section is closed: nothing is available any
	 * more. The report and its saga steps are written as the owner: API roles
	 * cannot write them.
	 */
	{
		EvsRoleSwitch ctx;
		int64		released = evs_release_event_holds(ev->tenant, ev->id);

		/* every purchase refunded in full, the organiser's refund, under the policy it was sold under */
		refunds = evs_refund_event_purchases(ev->tenant, ev->id, reason);
		evs_arg(&a, INT8OID, Int64GetDatum(released), false);
		evs_arg(&a, JSONBOID, JsonbPGetDatum(refunds), false);
		evs_arg(&a, JSONBOID, JsonbPGetDatum(plan), false);
		evs_exec("UPDATE eventsvc.event_capacity SET available_capacity = 0, is_active = false,"
				"  updated_at = eventsvc.now() WHERE tenant_id = $1 AND event_id = $2", &a, SPI_OK_UPDATE);
		/* the dates of its series end with it (1.1, docs/series.md) */
		if (strcmp(evs_library_version, "1.0") != 0)
			evs_exec("UPDATE eventsvc.event_occurrences SET status = 'CANCELLED', status_reason = $3,"
					 "  updated_at = eventsvc.now() WHERE tenant_id = $1 AND event_id = $2 AND status <> 'CANCELLED'",
					 &a, SPI_OK_UPDATE);
		evs_become_owner(&ctx);
		info = evs_query_jsonb(
			"WITH rep AS (INSERT INTO eventsvc.event_cancellation_reports (tenant_id, event_id, status, reason,"
			"   cancelled_by, holds_released, report, created_at, updated_at)"
			"   VALUES ($1, $2, 'pending', $3, $4, $5, jsonb_build_object('refunds', $6 -> 'refunds',"
			"   'refund_totals', $7 -> 'refund_totals', 'fingerprint', $7 -> 'fingerprint'), eventsvc.now(), eventsvc.now())"
			"   RETURNING id, holds_released),"
			" steps AS (INSERT INTO eventsvc.cancellation_steps (tenant_id, report_id, step_no, step, next_attempt_at, updated_at)"
			"   SELECT $1, rep.id, s.no, s.step, eventsvc.now(), eventsvc.now() FROM rep,"
			"   (VALUES (1, 'fetch_tickets'), (2, 'cancel_tickets'), (3, 'refund_payments'),"
			"           (4, 'cancel_listings'), (5, 'notify_holders')) AS s(no, step) RETURNING 1) "
			"SELECT jsonb_build_object('report_id', rep.id, 'holds_released', rep.holds_released,"
			" 'purchases_refunded', ($6 ->> 'refunded')::int, 'refund_totals', $7 -> 'refund_totals',"
			" 'sections_closed', (SELECT count(*) FROM eventsvc.event_capacity"
			"   WHERE tenant_id = $1 AND event_id = $2 AND NOT is_active),"
			" 'saga_steps', (SELECT count(*) FROM steps)) FROM rep",
			&a);
		evs_switch_back(&ctx);
	}
	if (info == NULL)
		elog(ERROR, "cancellation report of event %s was not written", evs_uuid_text(ev->id));

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "phase", "initiated");
	evs_jsonb_push_text(&st, "previous_status", ev->status);
	evs_jsonb_push_fields(&st, info);
	lc_emit(ev->tenant, ev->id, EVS_RK_EVENT_CANCELLED, evs_jsonb_end(&st));

	/* the event document with the cancellation summary */
	doc = lc_event_document(ev->id);
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_fields(&st, doc);
	evs_jsonb_push_jsonb(&st, "cancellation", info);
	return evs_jsonb_end(&st);
}

typedef struct CancelRequest
{
	const char *reason;
	bool		has_code;
	Datum		code;
} CancelRequest;

static Jsonb *
cancel_action(EventRow *ev, const void *context)
{
	const CancelRequest *c = context;

	return lc_cancel_locked(ev, c->reason, c->has_code, c->code);
}

/* api.cancel_event(event_id, reason, idempotency_key) */
Datum
evs_api_cancel_event(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = lc_require_uuid(fcinfo, 0, "event_id");
	char	   *reason = lc_opt_text(fcinfo, 1);
	Jsonb	   *request;

	CancelRequest c = {reason, false, (Datum) 0};

	lc_begin_spi();
	request = lc_json_pair("event_id", evs_uuid_text(id), "reason", reason);
	return lc_event_call(tenant, id, "cancel_event", lc_opt_text(fcinfo, 2), request,
						 cancel_action, &c);
}

/* api.confirm_cancellation(event_id, confirmation_code, reason, idempotency_key): the cancellation a preview showed */
Datum
evs_api_confirm_cancellation(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = lc_require_uuid(fcinfo, 0, "event_id");
	Datum		code = lc_require_uuid(fcinfo, 1, "confirmation_code");
	CancelRequest c = {lc_opt_text(fcinfo, 2), true, code};
	JsonbParseState *st = NULL;

	lc_begin_spi();
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "event_id", id);
	evs_jsonb_push_uuid(&st, "confirmation_code", code);
	evs_jsonb_push_text(&st, "reason", c.reason);
	return lc_event_call(tenant, id, "confirm_cancellation", lc_opt_text(fcinfo, 3), evs_jsonb_end(&st),
						 cancel_action, &c);
}

/*
 * api.preview_cancellation(event_id): what cancelling the event would do, and
 * nothing done but the code stored: the holds it would release, each purchase
 * it would refund with its amount (the organiser's refund under the policy the
 * purchase was sold under) and the totals by currency, the sections it would
 * close, the resale listings withdrawn, the messages and calls that follow
 * (each refund paid by one call of the saga's refund_payments step),
 * and a confirmation code for api.confirm_cancellation, valid 5 minutes.
 */
Datum
evs_api_preview_cancellation(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = lc_require_uuid(fcinfo, 0, "event_id");
	EvsArgs		a = {0};
	EvsRoleSwitch ctx;
	char	   *status;
	Jsonb	   *plan;
	Jsonb	   *extra;
	Jsonb	   *code;
	JsonbValue *fp;
	JsonbParseState *st = NULL;

	lc_begin_spi();
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, id, false);
	evs_exec("SELECT status::text FROM eventsvc.events WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
			 &a, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("event %s not found", evs_uuid_text(id))));
	status = TextDatumGetCString(evs_get_notnull(0, 1, "the event's status"));
	if (strcmp(status, "CANCELLED") == 0)
		ereport(ERROR, (errcode(EVS_ERR_CONFLICT), errmsg("event %s is already cancelled", evs_uuid_text(id))));
	evs_check_transition(tenant, id, status, "CANCELLED");

	plan = evs_event_refund_plan(tenant, id, false);
	fp = evs_jsonb_get(plan, "fingerprint");
	extra = evs_query_jsonb_notnull(
		"SELECT jsonb_build_object("
		" 'sections_to_close', (SELECT count(*) FROM eventsvc.event_capacity c WHERE c.tenant_id = $1 AND c.event_id = $2),"
		" 'recipients', (SELECT count(DISTINCT h.holder_id) FROM eventsvc.capacity_holds h"
		"   WHERE h.tenant_id = $1 AND h.event_id = $2 AND h.state IN ('ACTIVE', 'CONFIRMED')))", &a,
		"the cancellation preview's figures");

	/* the code: bound to the event, this actor and the plan's fingerprint (confirmation_tokens) */
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(pnstrdup(fp->val.string.val, fp->val.string.len)), false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(plan), false);
	evs_become_owner(&ctx);
	code = evs_query_jsonb(
		"INSERT INTO eventsvc.confirmation_tokens AS t (tenant_id, event_id, actor_id, change_hash, change,"
		" created_at, expires_at) VALUES ($1, $2, $3, " PREVIEW_HASH ", jsonb_build_object('operation', '"
		PREVIEW_OPERATION "', 'fingerprint', $4, 'purchase_count', $5 -> 'purchase_count', 'refund_totals',"
		" $5 -> 'refund_totals'), eventsvc.now(), eventsvc.now() + interval '" PREVIEW_TTL "')"
		" RETURNING jsonb_build_object('confirmation_code', t.token, 'expires_at', t.expires_at)", &a);
	evs_switch_back(&ctx);
	if (code == NULL)
		elog(ERROR, "cancellation preview code was not stored");

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "event_id", id);
	evs_jsonb_push_text(&st, "status", status);
	evs_jsonb_push_fields(&st, code);
	evs_jsonb_push_fields(&st, plan);
	evs_jsonb_push_fields(&st, extra);
	evs_jsonb_begin_object(&st, "listings_to_withdraw");
	evs_jsonb_push_text(&st, "service", "marketplace");
	evs_jsonb_push_text(&st, "scope", "every resale listing of the event");
	evs_jsonb_push_text(&st, "request", psprintf("POST /internal/events/%s/cancel-listings", evs_uuid_text(id)));
	(void) evs_jsonb_end(&st);
	evs_jsonb_begin_array(&st, "messages");
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "routing_key", EVS_RK_EVENT_CANCELLED);
	evs_jsonb_push_text(&st, "phase", "initiated");
	evs_jsonb_push_int(&st, "count", 1);
	(void) evs_jsonb_end(&st);
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "routing_key", EVS_RK_EVENT_CANCELLED);
	evs_jsonb_push_text(&st, "phase", "settled");
	evs_jsonb_push_int(&st, "count", 1);
	(void) evs_jsonb_end(&st);
	(void) evs_jsonb_end(&st);
	/* the refunds are paid by the saga's refund_payments step: one call per purchase, its own key */
	evs_jsonb_begin_object(&st, "refund_calls");
	evs_jsonb_push_text(&st, "service", "payment");
	evs_jsonb_push_text(&st, "step", "refund_payments");
	evs_jsonb_push_text(&st, "request", "POST /internal/refunds/bulk");
	evs_jsonb_push_value(&st, "count", evs_jsonb_get(plan, "purchase_count"));
	evs_jsonb_push_text(&st, "idempotency_key", "refund:<purchase>:<n>");
	(void) evs_jsonb_end(&st);
	evs_jsonb_begin_array(&st, "saga_steps");
	evs_jsonb_push_text(&st, NULL, "fetch_tickets");
	evs_jsonb_push_text(&st, NULL, "cancel_tickets");
	evs_jsonb_push_text(&st, NULL, "refund_payments");
	evs_jsonb_push_text(&st, NULL, "cancel_listings");
	evs_jsonb_push_text(&st, NULL, "notify_holders");
	(void) evs_jsonb_end(&st);
	PG_RETURN_DATUM(evs_spi_finish_jsonb(evs_jsonb_end(&st)));
}

/*
 * api.retry_cancellation_refunds(event_id): a tenant admin sends again the
 * refunds of the event's cancellation that the payment service refused, or
 * that were not sent because the step ran out of attempts. The refund step goes
 * back to pending with the refused calls listed in result.retry; the saga calls
 * them (and those never answered) with the same idempotency keys, so the payment
 * service never pays one twice. Returns how many refunds will be called again.
 */
Datum
evs_sql_retry_cancellation_refunds(PG_FUNCTION_ARGS)
{
	EvsArgs		a = {0};
	EvsRoleSwitch ctx;
	int64		n = 0;
	bool		isnull;

	evs_require_admin("retry failed refunds");
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("event_id: is required")));
	evs_arg(&a, UUIDOID, evs_current_tenant(), false);
	evs_arg(&a, UUIDOID, PG_GETARG_DATUM(0), false);
	evs_spi_connect();
	evs_become_owner(&ctx);
	evs_exec("WITH s AS ("
			 " UPDATE eventsvc.cancellation_steps c SET state = 'pending', attempts = 0,"
			 " next_attempt_at = now(), last_error = NULL, updated_at = now(),"
			 " result = (coalesce(c.result, '{}') - 'refused') || jsonb_build_object('retry',"
			 " coalesce(c.result -> 'retry', '[]') || coalesce((SELECT jsonb_agg(f -> 'call_no')"
			 " FROM jsonb_array_elements(c.result -> 'refused') f), '[]'))"
			 " FROM eventsvc.event_cancellation_reports r"
			 " WHERE r.tenant_id = $1 AND r.event_id = $2 AND c.tenant_id = r.tenant_id AND c.report_id = r.id"
			 " AND c.step = 'refund_payments' AND c.state = 'failed'"
			 " AND jsonb_typeof(r.report -> 'refunds') = 'array'"
			 " RETURNING c.report_id, jsonb_array_length(c.result -> 'retry')"
			 " + greatest(jsonb_array_length(r.report -> 'refunds')"
			 " - coalesce((c.result ->> 'calls_done')::integer, 0), 0) AS calls),"
			 " u AS (UPDATE eventsvc.event_cancellation_reports r SET status = 'in_progress',"
			 " completed_at = NULL, updated_at = now() FROM s WHERE r.tenant_id = $1 AND r.id = s.report_id)"
			 " SELECT coalesce(sum(s.calls), 0)::bigint FROM s", &a, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			n = DatumGetInt64(d);
	}
	evs_switch_back(&ctx);
	SPI_finish();
	PG_RETURN_INT64(n);
}
