/*
 * postponement.c: each holder's choice when an event with sold seats is
 * postponed or rescheduled, or one date of a series with sold seats is moved
 * (the purchases of that date only: a window of kind MOVED with its
 * occurrence_id; everything below serves both). The change opens a decision window
 * (eventsvc.postponements: the event's window setting, else the tenant's,
 * else eventsvc.postponement_window_seconds) with one row per purchase
 * (eventsvc.postponement_decisions) and one outbox message per holder. The
 * holder, or the tenant's service, decides keep or refund
 * (api.decide_postponement) while the window is open; when it closes
 * (api.close_postponement_windows: the worker or pg_cron, on eventsvc.now())
 * the undecided purchases follow the default (the event's, else the
 * tenant's, else keep). A refund is the organiser's refund through the one
 * refund path (seats back through the one return path); the worker pays it
 * with the refund's stable idempotency key (worker/postponement_pay.c) and
 * records done or failed; an admin retries failed ones
 * (api.retry_postponement_refunds). Cancelling a date while its window is
 * open closes the window with the cancellation's refunds
 * (evs_postponement_date_cancelled; its decisions locked before its holds,
 * evs_postponement_date_lock, and a decision of a moved date takes the date's
 * row first, so none of them waits in a cycle). docs/lifecycle.md "Postponement",
 * docs/series.md "Moving a date: each holder keeps or refunds".
 */
#include "core/core.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_sql_decide_postponement);
PG_FUNCTION_INFO_V1(evs_sql_close_postponement_windows);
PG_FUNCTION_INFO_V1(evs_sql_set_postponement_settings);
PG_FUNCTION_INFO_V1(evs_sql_retry_postponement_refunds);

#define WINDOW_MIN_SECONDS 60
#define WINDOW_MAX_SECONDS (90 * 86400)		/* 90 days */
#define CLOSE_DEFAULT_LIMIT 1000			/* decisions settled per call of the sweep */
/* the reason of a refund: [moved date][by default] */
static const char *const refund_reasons[2][2] = {
	{"the event was postponed and the holder chose a refund",
	"the event was postponed; the decision window closed and the default is a refund"},
	{"the date was moved and the holder chose a refund",
	"the date was moved; the decision window closed and the default is a refund"}};
#define REFUND_REASON(kind, by_default) refund_reasons[strcmp((kind), "MOVED") == 0][(by_default)]

static int	evs_postponement_window_seconds = 7 * 86400;

/* Called from evs_capacity_init: the cluster's decision window. */
void
evs_postponement_init(void)
{
	DefineCustomIntVariable("eventsvc.postponement_window_seconds",
							"How long holders of a postponed or rescheduled event have to keep or refund their seats, "
							"unless the tenant or the event sets its own.",
							NULL, &evs_postponement_window_seconds, 7 * 86400, WINDOW_MIN_SECONDS, WINDOW_MAX_SECONDS,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

/*
 * The event changed to POSTPONED or RESCHEDULED (`kind`), or with
 * `occurrence` (not 0) that date of a series was MOVED: the purchases (the
 * date's only, for a date) get a decision window, or, when one is open (a
 * reschedule after the postponement, a second move of the date), the window
 * lasts at least a full window from now and purchases not in it yet join; a
 * second move also asks again the holders who chose keep (they kept their
 * seats for a start that no longer holds; refunds stay final). One
 * postponement.choice message per holder, with the holder's purchases and the
 * window. Returns the window ({postponement_id, closes_at, default_choice,
 * purchases, holders}), or NULL when there is no purchase. As the owner; SPI
 * connected.
 */
Jsonb *
evs_postponement_open(Datum tenant, Datum event_id, Datum occurrence, const char *kind)
{
	EvsRoleSwitch ctx;
	EvsArgs		a = {0};
	Jsonb	   *opened;
	Jsonb	   *window;
	JsonbValue *pid;
	JsonbValue *extended;
	int			rc;
	uint64		n;
	SPITupleTable *holders;

	if (!evs_holds_schema_ready())
		return NULL;
	evs_become_owner(&ctx);
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, event_id, false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(kind), false);
	evs_arg(&a, INT4OID, Int32GetDatum(evs_postponement_window_seconds), false);
	evs_arg(&a, UUIDOID, occurrence, occurrence == (Datum) 0);
	/*
	 * A purchase of the window: one of the event, or of the date's sections
	 * (read through the date's sections, not the event's every purchase).
	 */
#define EVENT_SCOPE(h) " " h ".tenant_id = $1 AND " h ".event_id = $2 AND " h ".state = 'CONFIRMED'"
#define DATE_SCOPE(h) " " h ".tenant_id = $1 AND " h ".capacity_id IN (SELECT c.id FROM eventsvc.event_capacity c" \
	"  WHERE c.tenant_id = $1 AND c.occurrence_id = $5) AND " h ".event_id = $2 AND " h ".state = 'CONFIRMED'"
#define OPEN_SQL(scope) \
		"WITH s AS (SELECT coalesce((SELECT window_seconds FROM eventsvc.postponement_settings" \
		"   WHERE tenant_id = $1 AND event_id = $2), (SELECT window_seconds FROM eventsvc.postponement_settings" \
		"   WHERE tenant_id = $1 AND event_id IS NULL), $4) AS w," \
		"  coalesce((SELECT default_choice FROM eventsvc.postponement_settings WHERE tenant_id = $1 AND event_id = $2)," \
		"   (SELECT default_choice FROM eventsvc.postponement_settings WHERE tenant_id = $1 AND event_id IS NULL)," \
		"   'keep') AS d)," \
		" open AS (SELECT p.id FROM eventsvc.postponements p WHERE p.tenant_id = $1 AND p.event_id = $2" \
		"   AND p.occurrence_id IS NOT DISTINCT FROM $5 AND p.closed_at IS NULL)," \
		" extended AS (UPDATE eventsvc.postponements p SET kind = $3," \
		"   closes_at = greatest(p.closes_at, eventsvc.now() + make_interval(secs => s.w))" \
		"   FROM s WHERE p.id IN (SELECT id FROM open) AND p.tenant_id = $1 RETURNING p.id)," \
		" created AS (INSERT INTO eventsvc.postponements (tenant_id, event_id, kind, opened_at, closes_at, default_choice," \
		"   occurrence_id)" \
		"   SELECT $1, $2, $3, eventsvc.now(), eventsvc.now() + make_interval(secs => s.w), s.d, $5 FROM s" \
		"   WHERE NOT EXISTS (SELECT 1 FROM open)" \
		"     AND EXISTS (SELECT 1 FROM eventsvc.capacity_holds h WHERE" scope("h") ")" \
		"   RETURNING id)" \
		" SELECT jsonb_build_object('id', id, 'extended', e)" \
		"  FROM (SELECT id, true AS e FROM extended UNION ALL SELECT id, false FROM created) x"
#define DECISIONS_SQL(scope) \
		"INSERT INTO eventsvc.postponement_decisions (tenant_id, postponement_id, hold_id, event_id, holder_id," \
		" quantity, currency, occurrence_id)" \
		" SELECT $1, $6, h.id, h.event_id, h.holder_id, h.quantity, h.currency, $5 FROM eventsvc.capacity_holds h" \
		" WHERE" scope("h") " ON CONFLICT (tenant_id, postponement_id, hold_id) DO NOTHING"
	opened = evs_query_jsonb(occurrence != (Datum) 0 ? OPEN_SQL(DATE_SCOPE) : OPEN_SQL(EVENT_SCOPE), &a);
	if (opened == NULL)
	{
		evs_switch_back(&ctx);
		return NULL;
	}
	pid = evs_jsonb_get(opened, "id");
	extended = evs_jsonb_get(opened, "extended");
	evs_arg(&a, UUIDOID, DirectFunctionCall1(uuid_in, CStringGetDatum(pnstrdup(pid->val.string.val,
																			 pid->val.string.len))), false);
	/* a date moved again: who kept the seats for the previous start chooses again */
	if (occurrence != (Datum) 0 && extended->type == jbvBool && extended->val.boolean)
		evs_exec("UPDATE eventsvc.postponement_decisions SET choice = NULL, source = NULL, decided_by = NULL,"
				 " decided_at = NULL WHERE tenant_id = $1 AND postponement_id = $6 AND choice = 'keep'", &a, SPI_OK_UPDATE);
	evs_exec(occurrence != (Datum) 0 ? DECISIONS_SQL(DATE_SCOPE) : DECISIONS_SQL(EVENT_SCOPE), &a, SPI_OK_INSERT);
#undef DECISIONS_SQL
#undef OPEN_SQL
#undef DATE_SCOPE
#undef EVENT_SCOPE

	/* one message per holder: the holder's purchases of this window and how to answer */
	rc = SPI_execute_with_args(
		"SELECT d.holder_id, jsonb_build_object('postponement_id', p.id, 'kind', p.kind, 'holder_id', d.holder_id,"
		" 'closes_at', p.closes_at, 'default_choice', p.default_choice,"
		" 'starts_at', CASE WHEN $5::uuid IS NULL"
		"   THEN (SELECT e.starts_at FROM eventsvc.events e WHERE e.tenant_id = $1 AND e.id = $2)"
		"   ELSE (SELECT o.starts_at FROM eventsvc.event_occurrences o WHERE o.tenant_id = $1 AND o.id = $5) END,"
		" 'purchases', jsonb_agg(jsonb_build_object('hold_id', d.hold_id, 'quantity', d.quantity,"
		"   'choice', d.choice) ORDER BY d.hold_id))"
		"  || CASE WHEN $5::uuid IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('occurrence_id', $5::uuid) END"
		" FROM eventsvc.postponement_decisions d JOIN eventsvc.postponements p"
		"   ON p.tenant_id = d.tenant_id AND p.id = d.postponement_id"
		" WHERE d.tenant_id = $1 AND d.postponement_id = $6 GROUP BY d.holder_id, p.tenant_id, p.id ORDER BY d.holder_id",
		a.n, a.types, a.values, a.nulls, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "postponement holders failed: %s", SPI_result_code_string(rc));
	holders = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		Jsonb	   *data = DatumGetJsonbPCopy(evs_getbinval_notnull(holders->vals[i], holders->tupdesc, 2, "the holder's message"));

		CHECK_FOR_INTERRUPTS();
		(void) evs_outbox_emit_key(tenant, event_id, EVS_RK_POSTPONEMENT_CHOICE, data);
	}
	window = evs_query_jsonb_notnull("SELECT jsonb_build_object('postponement_id', p.id, 'closes_at', p.closes_at,"
							 " 'default_choice', p.default_choice, 'purchases', count(d.hold_id),"
							 " 'holders', count(DISTINCT d.holder_id))"
							 " FROM eventsvc.postponements p LEFT JOIN eventsvc.postponement_decisions d"
							 "   ON d.tenant_id = p.tenant_id AND d.postponement_id = p.id"
							 " WHERE p.tenant_id = $1 AND p.id = $6 AND $5::uuid IS NOT DISTINCT FROM p.occurrence_id"
							 " GROUP BY p.tenant_id, p.id", &a, "the decision window");
	evs_switch_back(&ctx);
	return window;
}

/*
 * Refunds the purchase of a decision that is now refund: the organiser's
 * refund of every seat still sold (seats back through the return path), its
 * row linked to the decision, pending for the worker's payment call. SPI
 * connected, as the owner.
 */
static void
refund_decision(Datum tenant, Datum postponement_id, Datum hold_id, const char *reason)
{
	Jsonb	   *row;
	EvsArgs		a = {0};
	JsonbValue *id;
	EvsHold		h;

	/* refunded meanwhile another way (an admin, the event's cancellation): nothing to pay here */
	if (!evs_hold_lock(tenant, hold_id, &h) || strcmp(h.state, "CONFIRMED") != 0)
	{
		evs_arg(&a, UUIDOID, tenant, false);
		evs_arg(&a, UUIDOID, postponement_id, false);
		evs_arg(&a, UUIDOID, hold_id, false);
		evs_exec("UPDATE eventsvc.postponement_decisions SET last_error = 'the purchase was no longer sold: refunded"
				 " another way' WHERE tenant_id = $1 AND postponement_id = $2 AND hold_id = $3", &a, SPI_OK_UPDATE);
		return;
	}
	row = evs_refund(tenant, hold_id, 0, reason, EVS_REFUND_ORGANISER_CALLED);
	id = evs_jsonb_get(row, "id");
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, postponement_id, false);
	evs_arg(&a, UUIDOID, hold_id, false);
	evs_arg(&a, UUIDOID, DirectFunctionCall1(uuid_in, CStringGetDatum(pnstrdup(id->val.string.val,
																		 id->val.string.len))), false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(row), false);
	/* the payment call is due at once on the real clock, which the worker's retries use too */
	evs_exec("UPDATE eventsvc.postponement_decisions SET refund_id = $4, amount = ($5 ->> 'amount')::bigint,"
			 " idempotency_key = $5 ->> 'idempotency_key', refund_state = 'pending', next_attempt_at = now()"
			 " WHERE tenant_id = $1 AND postponement_id = $2 AND hold_id = $3", &a, SPI_OK_UPDATE);
}

/* A decision's row as the api shows it. SPI connected. */
static Jsonb *
decision_row(Datum tenant, Datum postponement_id, Datum hold_id)
{
	EvsArgs		a = {0};

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, postponement_id, false);
	evs_arg(&a, UUIDOID, hold_id, false);
	return evs_query_jsonb("SELECT to_jsonb(d) - 'tenant_id' || jsonb_build_object('closes_at', p.closes_at)"
						   " FROM eventsvc.postponement_decisions d JOIN eventsvc.postponements p"
						   "   ON p.tenant_id = d.tenant_id AND p.id = d.postponement_id"
						   " WHERE d.tenant_id = $1 AND d.postponement_id = $2 AND d.hold_id = $3", &a);
}

/*
 * api.decide_postponement(purchase_id, choice): the holder, or the tenant's
 * service, keeps the seats for the new date or asks for a refund while the
 * window is open. The same choice again returns the decision; another is PT409.
 */
Datum
evs_sql_decide_postponement(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	Datum		hold_id;
	char	   *choice;
	char	   *holder;
	char	   *decided;
	char	   *kind;
	Datum		postponement_id;
	bool		open;
	bool		isnull;
	EvsArgs		a = {0};
	EvsRoleSwitch ctx;
	Jsonb	   *result;
	bool		service = evs_is_service();

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("purchase_id: is required")));
	choice = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strcmp(choice, "keep") != 0 && strcmp(choice, "refund") != 0)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("choice: must be keep or refund"),
						errhint("keep: the seats stay for the new date; refund: the purchase is refunded.")));
	tenant = evs_current_tenant();
	hold_id = PG_GETARG_DATUM(0);
	evs_spi_connect();
	evs_become_owner(&ctx);
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, hold_id, false);

	/*
	 * A moved date's window: the date's row first (key share), which a
	 * cancellation or another move of the date locks before anything of the
	 * date. A decision and those wait for each other, never in a cycle (the
	 * cancellation's refunds lock the holds and decisions a decision locks);
	 * and a keep decided while the date moves again is asked again by the
	 * move, which sees it committed.
	 */
	evs_exec("SELECT 1 FROM eventsvc.event_occurrences o WHERE o.tenant_id = $1 AND o.id ="
			 " (SELECT p.occurrence_id FROM eventsvc.postponement_decisions d JOIN eventsvc.postponements p"
			 "   ON p.tenant_id = d.tenant_id AND p.id = d.postponement_id"
			 "  WHERE d.tenant_id = $1 AND d.hold_id = $2 ORDER BY p.opened_at DESC LIMIT 1) FOR KEY SHARE",
			 &a, SPI_OK_SELECT);
	evs_exec("SELECT d.postponement_id, d.holder_id, d.choice, p.closes_at > eventsvc.now(), p.closes_at::text, p.kind"
			 " FROM eventsvc.postponement_decisions d JOIN eventsvc.postponements p"
			 "   ON p.tenant_id = d.tenant_id AND p.id = d.postponement_id"
			 " WHERE d.tenant_id = $1 AND d.hold_id = $2 ORDER BY p.opened_at DESC LIMIT 1 FOR UPDATE OF d",
			 &a, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("no postponement decision for purchase %s",
														  evs_uuid_text(hold_id)),
						errdetail("The purchase does not exist in this tenant, or neither its event was postponed "
								  "nor its date moved after it was sold.")));
	postponement_id = datumCopy(evs_get_notnull(0, 1, "the decision's postponement"), false, UUID_LEN);
	holder = TextDatumGetCString(evs_get_notnull(0, 2, "the decision's holder"));
	decided = evs_get_text(0, 3);
	open = DatumGetBool(evs_get(0, 4, &isnull));
	kind = TextDatumGetCString(evs_get_notnull(0, 6, "the window's kind"));
	if (!service && strcmp(holder, evs_current_actor()) != 0)
		ereport(ERROR, (errcode(EVS_ERR_FORBIDDEN),
						errmsg("only the holder of the purchase or the tenant's service may decide"),
						errhint("The holder is the purchase's holder_id (the token's sub).")));
	if (decided != NULL)
	{
		if (strcmp(decided, choice) != 0)
			ereport(ERROR, (errcode(EVS_ERR_CONFLICT),
							errmsg("the purchase's decision is already %s", decided),
							errdetail("A decision is final: a refund cannot be undone, a kept seat is sold.")));
	}
	else
	{
		if (!open)
			ereport(ERROR, (errcode(EVS_ERR_GONE),
							errmsg("the decision window closed at %s", evs_get_text(0, 5)),
							errhint("Undecided purchases follow the window's default when it closes.")));
		evs_arg(&a, UUIDOID, postponement_id, false);
		evs_arg(&a, TEXTOID, CStringGetTextDatum(choice), false);
		evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
		evs_arg(&a, TEXTOID, CStringGetTextDatum(service ? "service" : "holder"), false);
		evs_exec("UPDATE eventsvc.postponement_decisions SET choice = $4, decided_by = $5, source = $6,"
				 " decided_at = eventsvc.now() WHERE tenant_id = $1 AND postponement_id = $3 AND hold_id = $2",
				 &a, SPI_OK_UPDATE);
		if (strcmp(choice, "refund") == 0)
			refund_decision(tenant, postponement_id, hold_id, REFUND_REASON(kind, false));
	}
	result = decision_row(tenant, postponement_id, hold_id);
	evs_switch_back(&ctx);
	PG_RETURN_DATUM(evs_spi_finish_jsonb(result));
}

/*
 * api.close_postponement_windows(max): for every tenant, the windows that
 * have closed by eventsvc.now(): up to max undecided purchases follow their
 * window's default (refunds made here, paid by the worker), and a window
 * with none left is closed. Returns the decisions made. The worker calls it
 * every round; pg_cron may too.
 */
Datum
evs_sql_close_postponement_windows(PG_FUNCTION_ARGS)
{
	int32		limit = PG_ARGISNULL(0) ? CLOSE_DEFAULT_LIMIT : PG_GETARG_INT32(0);
	EvsRoleSwitch ctx;
	EvsArgs		a = {0};
	SPITupleTable *due;
	uint64		n;

	if (limit < 1)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("max must be at least 1, not %d", limit)));
	if (!evs_holds_schema_ready())
		PG_RETURN_INT64(0);
	evs_spi_connect();
	evs_become_owner(&ctx);
	evs_arg(&a, INT4OID, Int32GetDatum(limit), false);
	evs_exec("UPDATE eventsvc.postponement_decisions d SET choice = p.default_choice, source = 'default',"
			 " decided_by = 'default', decided_at = eventsvc.now()"
			 " FROM eventsvc.postponements p"
			 " WHERE p.tenant_id = d.tenant_id AND p.id = d.postponement_id AND (d.tenant_id, d.postponement_id, d.hold_id) IN"
			 "  (SELECT x.tenant_id, x.postponement_id, x.hold_id FROM eventsvc.postponement_decisions x"
			 "    JOIN eventsvc.postponements q ON q.tenant_id = x.tenant_id AND q.id = x.postponement_id"
			 "   WHERE q.closed_at IS NULL AND q.closes_at <= eventsvc.now() AND x.choice IS NULL"
			 "   ORDER BY q.closes_at, x.hold_id LIMIT $1 FOR UPDATE OF x SKIP LOCKED)"
			 " RETURNING d.tenant_id, d.postponement_id, d.hold_id, d.choice, p.kind", &a, SPI_OK_UPDATE_RETURNING);
	due = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	row = due->vals[i];

		CHECK_FOR_INTERRUPTS();
		if (strcmp(evs_getvalue_notnull(row, due->tupdesc, 4, "the decision's choice"), "refund") == 0)
			refund_decision(evs_getbinval_notnull(row, due->tupdesc, 1, "the decision's tenant"),
							evs_getbinval_notnull(row, due->tupdesc, 2, "the decision's postponement"),
							evs_getbinval_notnull(row, due->tupdesc, 3, "the decision's purchase"),
							REFUND_REASON(evs_getvalue_notnull(row, due->tupdesc, 5, "the window's kind"), true));
	}
	a.n = 0;
	evs_exec("UPDATE eventsvc.postponements p SET closed_at = eventsvc.now()"
			 " WHERE p.closed_at IS NULL AND p.closes_at <= eventsvc.now()"
			 "   AND NOT EXISTS (SELECT 1 FROM eventsvc.postponement_decisions d"
			 "                    WHERE d.tenant_id = p.tenant_id AND d.postponement_id = p.id AND d.choice IS NULL)",
			 &a, SPI_OK_UPDATE);
	evs_switch_back(&ctx);
	SPI_finish();
	PG_RETURN_INT64((int64) n);
}

/*
 * api.set_postponement_settings(settings, event_id): a tenant admin sets the
 * tenant's (event_id NULL) or an event's decision window and default choice
 * ({"window_seconds": n, "default_choice": "keep" | "refund"}; a null value
 * goes back to the next level; a null settings removes the row).
 */
Datum
evs_sql_set_postponement_settings(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	bool		ev = !PG_ARGISNULL(1);
	Jsonb	   *settings = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	JsonbValue *w = NULL;
	JsonbValue *d = NULL;
	int32		window = 0;
	const char *choice = NULL;
	EvsArgs		a = {0};
	Jsonb	   *result;

	evs_require_admin("set the postponement settings");
	if (settings != NULL)
	{
		JsonbIterator *it;
		JsonbValue	k;
		JsonbIteratorToken tok;

		if (!JB_ROOT_IS_OBJECT(settings) || JB_ROOT_IS_SCALAR(settings))
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("settings must be a JSON object")));
		it = JsonbIteratorInit(&settings->root);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
			if (tok == WJB_KEY &&
				!(k.val.string.len == 14 && strncmp(k.val.string.val, "window_seconds", 14) == 0) &&
				!(k.val.string.len == 14 && strncmp(k.val.string.val, "default_choice", 14) == 0))
				ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
								errmsg("settings.%.*s: unknown key", Min(k.val.string.len, 64), k.val.string.val),
								errhint("The settings are window_seconds and default_choice.")));
		w = evs_jsonb_get(settings, "window_seconds");
		d = evs_jsonb_get(settings, "default_choice");
		if (w != NULL && w->type != jbvNull)
		{
			if (w->type != jbvNumeric ||
				!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(w->val.numeric),
												  DirectFunctionCall2(numeric_trunc, NumericGetDatum(w->val.numeric),
																	  Int32GetDatum(0)))) ||
				DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(w->val.numeric),
												 DirectFunctionCall1(int4_numeric, Int32GetDatum(WINDOW_MIN_SECONDS)))) ||
				DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(w->val.numeric),
												 DirectFunctionCall1(int4_numeric, Int32GetDatum(WINDOW_MAX_SECONDS)))))
				ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
								errmsg("settings.window_seconds: a whole number of seconds from %d to %d",
									   WINDOW_MIN_SECONDS, WINDOW_MAX_SECONDS)));
			window = DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(w->val.numeric)));
		}
		if (d != NULL && d->type != jbvNull)
		{
			if (d->type != jbvString ||
				!((d->val.string.len == 4 && strncmp(d->val.string.val, "keep", 4) == 0) ||
				  (d->val.string.len == 6 && strncmp(d->val.string.val, "refund", 6) == 0)))
				ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("settings.default_choice: must be keep or refund")));
			choice = pnstrdup(d->val.string.val, d->val.string.len);
		}
	}
	tenant = evs_current_tenant();
	evs_spi_connect();
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, ev ? PG_GETARG_DATUM(1) : (Datum) 0, !ev);
	if (ev)
	{
		evs_exec("SELECT 1 FROM eventsvc.events WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_SELECT);
		if (SPI_processed == 0)
			ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("event %s not found", evs_uuid_text(PG_GETARG_DATUM(1)))));
	}
	if (settings == NULL)
		evs_exec("DELETE FROM eventsvc.postponement_settings WHERE tenant_id = $1 AND event_id IS NOT DISTINCT FROM $2",
				 &a, SPI_OK_DELETE);
	else
	{
		evs_arg(&a, INT4OID, Int32GetDatum(window), window == 0);
		evs_arg(&a, TEXTOID, choice ? CStringGetTextDatum(choice) : (Datum) 0, choice == NULL);
		evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
		evs_exec("INSERT INTO eventsvc.postponement_settings (tenant_id, event_id, window_seconds, default_choice,"
				 " updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, eventsvc.now())"
				 " ON CONFLICT (tenant_id, event_id) DO UPDATE SET window_seconds = $3, default_choice = $4,"
				 " updated_by = $5, updated_at = eventsvc.now()", &a, SPI_OK_INSERT);
		a.n = 2;
	}
	CommandCounterIncrement();
	result = evs_query_jsonb("SELECT jsonb_build_object('event_id', $2::uuid, 'settings', (SELECT to_jsonb(s) - 'tenant_id'"
							 " - 'event_id' FROM eventsvc.postponement_settings s WHERE s.tenant_id = $1"
							 " AND s.event_id IS NOT DISTINCT FROM $2))", &a);
	PG_RETURN_DATUM(evs_spi_finish_jsonb(result));
}

/*
 * api.retry_postponement_refunds(event_id): a tenant admin sends the event's
 * failed postponement refunds again (the same idempotency keys: the payment
 * service never pays one twice). Returns how many.
 */
Datum
evs_sql_retry_postponement_refunds(PG_FUNCTION_ARGS)
{
	EvsArgs		a = {0};
	EvsRoleSwitch ctx;
	uint64		n;

	evs_require_admin("retry failed refunds");
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("event_id: is required")));
	evs_arg(&a, UUIDOID, evs_current_tenant(), false);
	evs_arg(&a, UUIDOID, PG_GETARG_DATUM(0), false);
	evs_spi_connect();
	evs_become_owner(&ctx);
	evs_exec("UPDATE eventsvc.postponement_decisions SET refund_state = 'pending', attempts = 0,"
			 " next_attempt_at = now(), last_error = NULL"
			 " WHERE tenant_id = $1 AND event_id = $2 AND refund_state = 'failed'", &a, SPI_OK_UPDATE);
	n = SPI_processed;
	evs_switch_back(&ctx);
	SPI_finish();
	PG_RETURN_INT64((int64) n);
}

/*
 * One date of a series is being cancelled (series.c, its row locked): the
 * decisions of its open window, if any, are locked now, before any hold of
 * the date, in the order the closing sweep and a holder's decision take them
 * (the decision, then its hold). SPI connected, as the owner.
 */
void
evs_postponement_date_lock(Datum tenant, Datum event_id, Datum occurrence)
{
	EvsArgs		a = {0};

	if (!evs_holds_schema_ready())
		return;
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, event_id, false);
	evs_arg(&a, UUIDOID, occurrence, false);
	evs_exec("SELECT 1 FROM eventsvc.postponement_decisions d JOIN eventsvc.postponements p"
			 "   ON p.tenant_id = d.tenant_id AND p.id = d.postponement_id"
			 " WHERE p.tenant_id = $1 AND p.event_id = $2 AND p.occurrence_id = $3 AND p.closed_at IS NULL"
			 "   AND d.tenant_id = $1 ORDER BY d.hold_id FOR UPDATE OF d", &a, SPI_OK_SELECT);
}

/*
 * One date of a series is cancelled (series.c) while its decision window may
 * be open: the window closes now, and every decision of a purchase the
 * cancellation refunded (`refunds`: its list, {hold_id, refund_id, amount,
 * idempotency_key}) records that refund (choice refund, source cancellation;
 * paid by the cancellation's payment.refund_requested, not by the worker).
 * Refunds chosen before stay as they were: each purchase is refunded once.
 * SPI connected, as the owner.
 */
void
evs_postponement_date_cancelled(Datum tenant, Datum event_id, Datum occurrence, Jsonb *refunds)
{
	EvsArgs		a = {0};

	if (!evs_holds_schema_ready())
		return;
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, occurrence, false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(refunds), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	evs_arg(&a, UUIDOID, event_id, false);	/* the open windows are found by event and date */
	/* the purchases the cancellation refunded */
	evs_exec("UPDATE eventsvc.postponement_decisions d SET choice = 'refund', source = 'cancellation', decided_by = $4,"
			 "  decided_at = eventsvc.now(), refund_id = r.refund_id, amount = r.amount, idempotency_key = r.idempotency_key"
			 " FROM eventsvc.postponements p, (SELECT (x ->> 'hold_id')::uuid AS hold_id, (x ->> 'refund_id')::uuid AS refund_id,"
			 "   (x ->> 'amount')::bigint AS amount, x ->> 'idempotency_key' AS idempotency_key"
			 "  FROM jsonb_array_elements($3 -> 'refunds') x) r"
			 " WHERE p.tenant_id = $1 AND p.event_id = $5 AND p.occurrence_id = $2 AND p.closed_at IS NULL"
			 "   AND d.tenant_id = $1 AND d.postponement_id = p.id AND d.hold_id = r.hold_id", &a, SPI_OK_UPDATE);
	/* undecided ones it did not refund were no longer sold (refunded one at a time before) */
	evs_exec("UPDATE eventsvc.postponement_decisions d SET choice = 'refund', source = 'cancellation', decided_by = $4,"
			 "  decided_at = eventsvc.now(), last_error = 'the purchase was no longer sold: refunded another way'"
			 " FROM eventsvc.postponements p"
			 " WHERE p.tenant_id = $1 AND p.event_id = $5 AND p.occurrence_id = $2 AND p.closed_at IS NULL"
			 "   AND d.tenant_id = $1 AND d.postponement_id = p.id AND d.choice IS NULL",
			 &a, SPI_OK_UPDATE);
	evs_exec("UPDATE eventsvc.postponements p SET closed_at = eventsvc.now(), closes_at = least(p.closes_at, eventsvc.now())"
			 " WHERE p.tenant_id = $1 AND p.event_id = $5 AND p.occurrence_id = $2 AND p.closed_at IS NULL",
			 &a, SPI_OK_UPDATE);
}
