/*
 * cancellation.c: local cancellation of an event: the status, the holds
 * released through the capacity code, every section closed, the cancellation
 * report and its saga steps (run later by saga.c), and the event.cancelled
 * message, all in the caller's transaction. See docs/lifecycle.md.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "lifecycle/lifecycle_internal.h"
#include "lifecycle/validation.h"
#include "capacity/capacity.h"

PG_FUNCTION_INFO_V1(evs_api_cancel_event);

/*
 * Cancel a locked event (also the CANCELLED target of api.transition_event):
 * returns the event document with a "cancellation" summary.
 */
Jsonb *
lc_cancel_locked(EventRow *ev, const char *reason)
{
	EvsArgs		a = {0};
	Jsonb	   *info;
	Jsonb	   *doc;
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

		evs_arg(&a, INT8OID, Int64GetDatum(released), false);
		evs_exec("UPDATE eventsvc.event_capacity SET available_capacity = 0, is_active = false,"
				"  updated_at = eventsvc.now() WHERE tenant_id = $1 AND event_id = $2", &a, SPI_OK_UPDATE);
		evs_become_owner(&ctx);
		info = evs_query_jsonb(
			"WITH rep AS (INSERT INTO eventsvc.event_cancellation_reports (tenant_id, event_id, status, reason,"
			"   cancelled_by, holds_released, created_at, updated_at)"
			"   VALUES ($1, $2, 'pending', $3, $4, $5, eventsvc.now(), eventsvc.now())"
			"   RETURNING id, holds_released),"
			" steps AS (INSERT INTO eventsvc.cancellation_steps (tenant_id, report_id, step_no, step, next_attempt_at, updated_at)"
			"   SELECT $1, rep.id, s.no, s.step, eventsvc.now(), eventsvc.now() FROM rep,"
			"   (VALUES (1, 'fetch_tickets'), (2, 'cancel_tickets'), (3, 'refund_payments'),"
			"           (4, 'cancel_listings'), (5, 'notify_holders')) AS s(no, step) RETURNING 1) "
			"SELECT jsonb_build_object('report_id', rep.id, 'holds_released', rep.holds_released,"
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
	if (doc == NULL)
		return NULL;
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_fields(&st, doc);
	evs_jsonb_push_jsonb(&st, "cancellation", info);
	return evs_jsonb_end(&st);
}

static Jsonb *
cancel_action(EventRow *ev, const void *reason)
{
	return lc_cancel_locked(ev, reason);
}

/* api.cancel_event(event_id, reason, idempotency_key) */
Datum
evs_api_cancel_event(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = lc_require_uuid(fcinfo, 0, "event_id");
	char	   *reason = lc_opt_text(fcinfo, 1);
	Jsonb	   *request;

	lc_begin_spi();
	request = lc_json_pair("event_id", evs_uuid_text(id), "reason", reason);
	return lc_event_call(tenant, id, "cancel_event", lc_opt_text(fcinfo, 2), request,
						 cancel_action, reason);
}
