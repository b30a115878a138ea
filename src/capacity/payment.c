/*
 * payment.c: a hold's payment phase. api.start_payment moves a live hold into
 * its payment phase with the payment window as its expiry (once per hold; the
 * same payment reference again changes nothing). api.confirm_payment is the
 * payment service's result: in time, the hold is sold; too late, it is sold
 * anyway if its seats can still be taken (revived), else it ends as
 * REFUND_REQUIRED and an outbox message asks the payment service to give the
 * money back. Never a silent oversell: a revival takes its seats like a new
 * reservation (counter or row lock), so a seat sold meanwhile is never sold
 * twice. docs/holds.md "Payment".
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_sql_start_payment);
PG_FUNCTION_INFO_V1(evs_sql_confirm_payment);

#define PAYMENT_REF_MAX 200		/* characters of a payment reference */

int			evs_payment_window_seconds = 900;
int			evs_hold_max_renewals = 3;
int			evs_hold_max_life_seconds = 3600;

/* Called from evs_capacity_init: the payment window, the renewal cap and the ceiling on a hold's life. */
void
evs_payment_init(void)
{
	DefineCustomIntVariable("eventsvc.payment_window_seconds",
							"How long a hold in its payment phase lasts from api.start_payment (a tenant may set its own).",
							NULL, &evs_payment_window_seconds, 900, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.hold_max_renewals",
							"How many times api.extend_hold may move a hold's expiry.",
							NULL, &evs_hold_max_renewals, 3, 0, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.hold_max_life_seconds",
							"Longest life of a hold from its creation, payment window and renewals included.",
							NULL, &evs_hold_max_life_seconds, 3600, 1, 604800,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

static void
check_args(FunctionCallInfo fcinfo, const char *function)
{
	char	   *ref;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("%s needs hold_id and payment_ref", function)));
	ref = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strlen(ref) < 1 || strlen(ref) > PAYMENT_REF_MAX)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("payment_ref must have 1 to %d characters", PAYMENT_REF_MAX)));
}

static void
push_hold_keys(JsonbParseState **st, const EvsHold *h)
{
	evs_jsonb_push_uuid(st, "hold_id", h->id);
	evs_jsonb_push_uuid(st, "event_id", h->event_id);
	evs_jsonb_push_uuid(st, "capacity_id", h->capacity_id);
	evs_jsonb_push_text(st, "holder_id", h->holder);
	evs_jsonb_push_int(st, "quantity", h->quantity);
	evs_jsonb_push_text(st, "payment_ref", h->payment_ref);
}

/* The amount a hold was priced at (its locked line's total), 0 without a price. */
int64
evs_hold_total(const EvsHold *h)
{
	JsonbValue *v;

	if (h->locked_price == NULL || (v = evs_jsonb_get(h->locked_price, "total")) == NULL || v->type != jbvNumeric)
		return 0;
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
}

/*
 * api.start_payment(hold_id, payment_ref): a live hold enters its payment
 * phase. Its expiry becomes now + the payment window (the tenant's, else
 * eventsvc.payment_window_seconds), never earlier than it was and never past
 * the hold's ceiling (creation + eventsvc.hold_max_life_seconds). Once per
 * hold: the same reference again returns the hold as it is; another is PT409.
 */
Datum
evs_sql_start_payment(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Datum		tenant;
	EvsHold		h;
	char	   *ref;
	TimestampTz now = evs_now();
	TimestampTz expires,
				ceiling;
	int			window;
	int			rc;
	JsonbParseState *st = NULL;
	Jsonb	   *result;

	check_args(fcinfo, "start_payment");
	ref = text_to_cstring(PG_GETARG_TEXT_PP(1));
	tenant = evs_current_tenant();
	evs_spi_connect();
	if (!evs_hold_lock(tenant, PG_GETARG_DATUM(0), &h))
		evs_hold_not_found(PG_GETARG_DATUM(0));
	evs_hold_require_actor(&h, false, "start a payment");
	if (h.payment_ref != NULL)
	{
		if (strcmp(h.payment_ref, ref) != 0)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFLICT),
					 errmsg("a payment was already started for this hold with another reference"),
					 errdetail("Hold %s is paid once.", evs_uuid_text(h.id)),
					 errhint("Report the result of the first payment, or release the hold and reserve again.")));
		/* the same request again (a retry): the hold as it is */
		PG_RETURN_DATUM(evs_spi_finish_jsonb(evs_hold_row_jsonb(tenant, h.id)));
	}
	if (strcmp(h.state, "ACTIVE") != 0 || h.expired)
		evs_hold_refused(tenant, h.id, "start a payment for");
	if (h.phase != NULL && strcmp(h.phase, "WAITLIST") == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("cannot start a payment: the waitlist has not gathered all the seats of this hold yet"),
				 errhint("Wait for the waitlist offer (waitlist.offer).")));

	window = evs_hold_setting(tenant, EVS_SETTING_PAYMENT_WINDOW);
	expires = now + (TimestampTz) window * USECS_PER_SEC;
	ceiling = h.created_at + (TimestampTz) evs_hold_max_life_seconds * USECS_PER_SEC;
	if (expires > ceiling)
		expires = ceiling;
	if (expires < h.expires_at)
		expires = h.expires_at;
	if (plan == NULL)
	{
		Oid			t[5] = {UUIDOID, UUIDOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};

		plan = evs_spi_prepare_kept("UPDATE eventsvc.capacity_holds SET phase = 'PAYMENT', payment_ref = $3,"
									" payment_started_at = $4, state_changed_at = $4, expires_at = $5"
									" WHERE tenant_id = $1 AND id = $2 AND state = 'ACTIVE'", 5, t);
	}
	rc = evs_hold_write(plan, (Datum[]) {tenant, h.id, CStringGetTextDatum(ref), TimestampTzGetDatum(now),
										 TimestampTzGetDatum(expires)}, NULL, 1);
	if (rc != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "payment start failed: %s", SPI_result_code_string(rc));
	evs_sweep_note_expiry(expires);

	h.payment_ref = ref;
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "payment_ref", ref);
	evs_jsonb_push_time(&st, "expires_at", expires);
	evs_jsonb_push_int(&st, "window_seconds", window);
	evs_jsonb_push_bool(&st, "cut_at_ceiling", expires < now + (TimestampTz) window * USECS_PER_SEC);
	evs_hold_audit(&h, "payment_started", h.quantity, evs_hold_total(&h), evs_jsonb_end(&st));
	result = evs_hold_row_jsonb(tenant, h.id);
	PG_RETURN_DATUM(evs_spi_finish_jsonb(result));
}

/* The hold is sold: CONFIRMED now (revived: its time had passed); the event may be sold out now. */
static void
sell(EvsHold *h, TimestampTz now, const char *revived_reason)
{
	static SPIPlanPtr plan = NULL;
	EvsEscrowEntry e;
	int64		free;
	int			rc;
	JsonbParseState *st = NULL;

	if (plan == NULL)
	{
		Oid			t[5] = {UUIDOID, UUIDOID, TIMESTAMPTZOID, BOOLOID, TEXTOID};

		plan = evs_spi_prepare_kept("UPDATE eventsvc.capacity_holds SET state = 'CONFIRMED', confirmed_at = $3,"
									" state_changed_at = $3, revived_at = CASE WHEN $4 THEN $3 END, state_reason = $5"
									" WHERE tenant_id = $1 AND id = $2", 5, t);
	}
	rc = evs_hold_write(plan, (Datum[]) {h->tenant, h->id, TimestampTzGetDatum(now), BoolGetDatum(revived_reason != NULL),
										 revived_reason ? CStringGetTextDatum(revived_reason) : (Datum) 0},
						revived_reason ? NULL : "    n", 1);
	if (rc != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "payment confirmation failed: %s", SPI_result_code_string(rc));
	evs_hold_counters_move(h, h->state, h->quantity, "CONFIRMED", h->quantity);
	/* the refund policy in force is sold with the purchase */
	evs_refund_policy_capture(h->tenant, h->id, h->has_pricing, h->pricing_id);
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "payment_ref", h->payment_ref);
	if (revived_reason)
		evs_jsonb_push_text(&st, "reason", revived_reason);
	evs_hold_audit(h, revived_reason ? "revived" : "payment_confirmed", h->quantity, evs_hold_total(h),
				   evs_jsonb_end(&st));
	/* a waitlist offer that had lapsed is sold after all: its entry converted */
	if (h->has_entry && strcmp(h->state, "ACTIVE") != 0)
		evs_waitlist_offer_revived(h->tenant, h->capacity_id, h->waitlist_entry_id);
	/* the last seats of a section were just sold: maybe the whole event is */
	if (!evs_escrow_find(h->tenant, h->capacity_id, &e) || !evs_escrow_free(&e, &free) || free == 0)
		evs_event_soldout_check(h->tenant, h->event_id, h->capacity_id);
}

/*
 * The payment came too late and its seats are gone: the hold ends as
 * REFUND_REQUIRED and the payment service is asked to give the money back
 * (payment.refund_requested), with the reason and a key it can deduplicate by.
 */
static void
refund_required(EvsHold *h, TimestampTz now, const char *reason)
{
	static SPIPlanPtr plan = NULL;
	int			rc;
	int64		amount = evs_hold_total(h);
	JsonbParseState *st = NULL;
	Jsonb	   *data;

	if (plan == NULL)
	{
		Oid			t[4] = {UUIDOID, UUIDOID, TIMESTAMPTZOID, TEXTOID};

		plan = evs_spi_prepare_kept("UPDATE eventsvc.capacity_holds SET state = 'REFUND_REQUIRED',"
									" state_changed_at = $3, state_reason = $4 WHERE tenant_id = $1 AND id = $2", 4, t);
	}
	rc = evs_hold_write(plan, (Datum[]) {h->tenant, h->id, TimestampTzGetDatum(now), CStringGetTextDatum(reason)},
						NULL, 1);
	if (rc != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "refund-required update failed: %s", SPI_result_code_string(rc));
	evs_hold_counters_move(h, h->state, h->quantity, "REFUND_REQUIRED", h->quantity);
	evs_jsonb_begin_object(&st, NULL);
	push_hold_keys(&st, h);
	evs_jsonb_push_int(&st, "amount", amount);
	evs_jsonb_push_text(&st, "currency", h->currency);
	evs_jsonb_push_text(&st, "reason", reason);
	evs_jsonb_push_text(&st, "kind", "late_payment");
	evs_jsonb_push_text(&st, "idempotency_key", psprintf("late-payment:%s", evs_uuid_text(h->id)));
	data = evs_jsonb_end(&st);
	(void) evs_outbox_emit_key(h->tenant, h->event_id, EVS_RK_REFUND_REQUESTED, data);
	evs_hold_audit(h, "refund_required", h->quantity, amount, data);
}

/* Why the event or section would not sell the seats again, or NULL when they would. SPI connected. */
static const char *
not_sellable(const EvsHold *h)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[2] = {h->tenant, h->capacity_id};
	int			rc;
	char	   *status;
	bool		isnull;

	if (plan == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept("SELECT e.status::text, s.is_active AND e.deleted_at IS NULL"
									" FROM eventsvc.event_capacity s JOIN eventsvc.events e"
									"   ON e.tenant_id = s.tenant_id AND e.id = s.event_id"
									" WHERE s.tenant_id = $1 AND s.id = $2", 2, t);
	}
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "section lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return "its section no longer exists";
	status = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, "the event's status");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		return "its section no longer sells";
	if (strcmp(status, "SOLD_OUT") == 0)
		return "the event sold out after the hold ended";
	if (strcmp(status, "ON_SALE") != 0)
		return psprintf("the event is no longer on sale (%s)", status);
	return NULL;
}

/*
 * Why a late payment finds none of its hold's seats free: where the section's
 * seats are now (its holds, latest snapshot: sold, held by other buyers, held
 * for its waitlist), each place that has some named, so the reason is true
 * whichever took them. Three EXISTS probes: the cost does not grow with the
 * section's holds. SPI connected.
 */
static const char *
seats_gone_reason(const EvsHold *h)
{
	static SPIPlanPtr plan = NULL;
	static const char *const names[3] = {"sold", "held by other buyers", "set aside for the waitlist"};
	Datum		v[3] = {h->tenant, h->capacity_id, h->id};
	bool		isnull;
	int			rc;
	int			n = 0;
	StringInfoData places;
	EvsRoleSwitch as_owner;

	if (plan == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept(
			"SELECT EXISTS (SELECT 1 FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND capacity_id = $2"
			"               AND state = 'CONFIRMED' AND id <> $3),"
			" EXISTS (SELECT 1 FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND capacity_id = $2"
			"         AND state = 'ACTIVE' AND waitlist_entry_id IS NULL AND id <> $3),"
			" EXISTS (SELECT 1 FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND capacity_id = $2"
			"         AND state = 'ACTIVE' AND waitlist_entry_id IS NOT NULL AND id <> $3)", 3, t);
	}
	/* other buyers' holds: the caller may not read them (every probe filters on the hold's tenant) */
	evs_become_owner(&as_owner);
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	evs_switch_back(&as_owner);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "section seats lookup failed: %s", SPI_result_code_string(rc));
	initStringInfo(&places);
	for (int i = 0; i < 3; i++)
	{
		if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull)))
			continue;
		appendStringInfoString(&places, n == 0 ? "its seats were " : " or ");
		appendStringInfoString(&places, names[i]);
		n++;
	}
	if (n == 0)
		return "none of its seats were still free";
	appendStringInfoString(&places, " after the hold ended");
	return places.data;
}

/*
 * api.confirm_payment(hold_id, payment_ref): a service (the payment service)
 * or a tenant admin reports that the payment of the hold succeeded.
 *   - the hold is live and in time: CONFIRMED at its locked price;
 *   - its time has passed but no sweep took its seats yet: CONFIRMED, revived
 *     (the seats were never anyone else's);
 *   - it expired or was released: its seats are taken again like a new
 *     reservation; if they can be, CONFIRMED and revived, else
 *     REFUND_REQUIRED with a payment.refund_requested message;
 *   - a result for a hold already CONFIRMED or REFUND_REQUIRED (a retry)
 *     returns it as it is and sends nothing again.
 */
Datum
evs_sql_confirm_payment(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	EvsHold		h;
	char	   *ref;
	TimestampTz now = evs_now();
	const char *why;
	int64		remaining;
	bool		cancelled;

	check_args(fcinfo, "confirm_payment");
	ref = text_to_cstring(PG_GETARG_TEXT_PP(1));
	tenant = evs_current_tenant();
	evs_spi_connect();
	/* a sale racing the event's cancellation: before it, or the money goes back (hold_life.c) */
	cancelled = evs_hold_sale_begin(tenant, PG_GETARG_DATUM(0));
	if (!evs_hold_lock(tenant, PG_GETARG_DATUM(0), &h))
		evs_hold_not_found(PG_GETARG_DATUM(0));
	evs_hold_require_actor(&h, true, "report a payment result");
	if (h.payment_ref == NULL)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("no payment was started for this hold"),
				 errhint("Call api.start_payment with the payment's reference first.")));
	if (strcmp(h.payment_ref, ref) != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("payment reference %s is not this hold's payment", ref),
				 errhint("The hold's payment was started with another reference.")));

	if (strcmp(h.state, "ACTIVE") == 0 && cancelled)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("the event of this hold was cancelled: the hold can no longer be bought"),
				 errdetail("Hold %s.", evs_uuid_text(h.id)),
				 errhint("Report the payment again once the hold has ended (expired): it is then marked "
						 "REFUND_REQUIRED and the money is asked back.")));
	if (strcmp(h.state, "ACTIVE") == 0)
		sell(&h, now, h.expired ? "paid after the payment window; its seats were still held" : NULL);
	else if (strcmp(h.state, "EXPIRED") == 0 || strcmp(h.state, "RELEASED") == 0)
	{
		/* its seats went back: take them again like a new reservation, or give the money back */
		if (h.has_entry)
			evs_waitlist_section_lock(tenant, h.capacity_id);
		if ((why = not_sellable(&h)) != NULL)
			refund_required(&h, now, why);
		else if (evs_section_take(tenant, h.capacity_id, h.quantity, &remaining))
			sell(&h, now, strcmp(h.state, "EXPIRED") == 0
				 ? "paid after the hold expired; its seats were still free"
				 : "paid after the hold was released; its seats were still free");
		else
			refund_required(&h, now, remaining == 0
							? (h.has_entry ? "its seats went to others after the waitlist offer lapsed"
							   : seats_gone_reason(&h))
							: psprintf("only " INT64_FORMAT " of its %d seats were still free", remaining, h.quantity));
	}
	/* CONFIRMED, REFUND_REQUIRED, REFUNDED: this result was reported before */
	PG_RETURN_DATUM(evs_spi_finish_jsonb(evs_hold_row_jsonb(tenant, h.id)));
}
