/*
 * refund.c: refunds of purchases (confirmed holds) and exchanges.
 * api.refund_purchase gives back some or all seats of a purchase: the amount
 * comes from its locked price line (evs_refund_lines), the seats come back
 * through the one return path (the waitlist first; a SOLD_OUT event is on
 * sale again), and one payment.refund_requested message asks the payment
 * service to pay back, with a key it deduplicates by (the organiser's refunds
 * of a cancellation or a postponement: the worker's call asks instead). api.exchange_purchase
 * is a refund and a new hold in one transaction. docs/holds.md "Refunds".
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"

PG_FUNCTION_INFO_V1(evs_sql_refund_purchase);
PG_FUNCTION_INFO_V1(evs_sql_exchange_purchase);

#define REFUND_REASON_MAX 500	/* characters of a refund's reason */

/* The figures of a locked price line that are amounts in minor units; those a line has are shared out. */
static const char *const figures[] = {
	"base_total", "group_discount", "service_fee", "facility_fee", "percentage_fee", "subtotal",
	"tax_base", "tax", "net", "total"
};

/*
 * The refund of `quantity` more seats of a purchase: what each figure of its
 * locked line gives back and the amount paid back (the share of the total).
 *
 * Rounding: each figure F of a purchase of Q seats is shared out
 * cumulatively. The first n seats refunded, in any number of refunds, are
 * worth round_half_even(F x n / Q) together, so a refund of k seats after r
 * already refunded gives back share(r + k) - share(r). Whatever the order and
 * the sizes of the refunds, the shares of all Q seats add up to exactly F:
 * the refunds of a whole purchase pay back exactly what was charged, never a
 * minor unit more or less, and no refund is ever negative (share grows with n).
 *
 * This is the one place a refund's money is computed: the refund policy
 * stored with the purchase when it was sold is applied here, after the
 * shares (evs_refund_policy_apply: fees kept, a percentage when late), and
 * out->amount is what is paid back.
 */
void
evs_refund_lines(const EvsHold *purchase, int32 quantity, EvsRefundCause cause, EvsRefundLines *out)
{
	int32		of = purchase->quantity + purchase->refunded_quantity;
	int32		before = purchase->refunded_quantity;
	int64		fees = 0;
	JsonbParseState *st = NULL;

	out->quantity = quantity;
	out->before = before;
	out->of = of;
	out->amount = 0;
	evs_jsonb_begin_object(&st, NULL);
	for (int i = 0; i < (int) lengthof(figures); i++)
	{
		bool		present;
		int64		f = evs_line_figure(purchase->locked_price, figures[i], &present);
		int64		share;

		if (!present)
			continue;
		share = evs_money_scale(f, before + quantity, of, EVS_ROUND_HALF_EVEN, figures[i]) -
			evs_money_scale(f, before, of, EVS_ROUND_HALF_EVEN, figures[i]);
		evs_jsonb_push_int(&st, figures[i], share);
		if (strcmp(figures[i], "total") == 0)
			out->amount = share;
		else if (strstr(figures[i], "_fee") != NULL)
			fees = evs_money_add(fees, share, "refunded fees");
	}
	/* what the purchase's policy keeps back (refund_policy.c) */
	evs_refund_policy_apply(purchase, cause, fees, out, &st);
	out->lines = evs_jsonb_end(&st);
}

static char *
checked_reason(FunctionCallInfo fcinfo, int arg)
{
	char	   *reason;

	if (PG_ARGISNULL(arg))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("a refund needs a reason")));
	reason = text_to_cstring(PG_GETARG_TEXT_PP(arg));
	if (strspn(reason, " \t\r\n") == strlen(reason) || strlen(reason) > REFUND_REASON_MAX)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("reason must have 1 to %d characters", REFUND_REASON_MAX)));
	return reason;
}

/*
 * Refunds `quantity` seats (0: every seat still sold) of the purchase `hold_id`
 * in this transaction: the refund row, the hold (fewer seats, or REFUNDED),
 * its counter rows, the seats back through the return path, the outbox
 * message and the audit. Returns the refund as jsonb. SPI connected.
 */
Jsonb *
evs_refund(Datum tenant, Datum hold_id, int32 quantity, const char *reason, EvsRefundCause cause)
{
	static SPIPlanPtr hold_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	EvsHold		h;
	EvsRefundLines r;
	EvsSeatKey	key;
	int			seq;
	char	   *idem_key;
	bool		whole;
	TimestampTz now = evs_now();
	int			rc;
	bool		isnull;
	Jsonb	   *row;
	JsonbParseState *st = NULL;

	if (!evs_hold_lock(tenant, hold_id, &h))
		evs_hold_not_found(hold_id);
	/* an organiser's refund is part of the call that caused it (a cancellation), which checked its caller */
	if (cause == EVS_REFUND_REQUESTED)
		evs_hold_require_actor(&h, true, "refund a purchase");
	if (strcmp(h.state, "CONFIRMED") != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg(strcmp(h.state, "REFUNDED") == 0 ? "the purchase was already refunded in full"
						: "only a purchase (a confirmed hold) can be refunded"),
				 errdetail("Hold %s is %s.", evs_uuid_text(h.id), h.state)));
	if (quantity == 0)
		quantity = h.quantity;
	if (quantity < 1 || quantity > h.quantity)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("quantity must be from 1 to %d, the seats still sold, not %d", h.quantity, quantity)));
	whole = quantity == h.quantity;

	evs_refund_lines(&h, quantity, cause, &r);
	/* the counter before the row changes (a rebuild counts what this transaction sees) */
	evs_seats_give_begin(h.tenant, h.capacity_id);
	if (hold_plan == NULL)
	{
		Oid			t[5] = {UUIDOID, UUIDOID, INT4OID, TIMESTAMPTZOID, TEXTOID};

		/* a purchase refunded to its last seat keeps that last refund's seats as quantity */
		hold_plan = evs_spi_prepare_kept(
			"UPDATE eventsvc.capacity_holds SET refunded_quantity = coalesce(refunded_quantity, 0) + $3,"
			" quantity = CASE WHEN quantity > $3 THEN quantity - $3 ELSE quantity END,"
			" state = CASE WHEN quantity > $3 THEN state ELSE 'REFUNDED' END,"
			" state_changed_at = $4, state_reason = CASE WHEN quantity > $3 THEN state_reason ELSE $5 END"
			" WHERE tenant_id = $1 AND id = $2 AND state = 'CONFIRMED'"
			" RETURNING (SELECT coalesce(max(seq), 0) + 1 FROM eventsvc.hold_refunds x"
			"            WHERE x.tenant_id = $1 AND x.hold_id = $2)", 5, t);
	}
	rc = evs_hold_write(hold_plan, (Datum[]) {tenant, h.id, Int32GetDatum(quantity), TimestampTzGetDatum(now),
											  CStringGetTextDatum(reason)}, NULL, 1);
	if (rc != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
		elog(ERROR, "refund update failed: %s", SPI_result_code_string(rc));
	seq = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	evs_hold_counters_move(&h, "CONFIRMED", h.quantity, whole ? "REFUNDED" : "CONFIRMED", h.quantity - quantity);
	{
		/* the money the refund gives back, as its row records it (merged with the move above: one write) */
		EvsCounterChange money = {0};

		evs_counters_refund(quantity, r.amount, r.lines, &money);
		evs_counters_add(h.tenant, h.capacity_id, h.currency != NULL ? h.currency : "", &money);
	}

	/* stable: a redelivered message, or the payment service asking again, names the same refund */
	idem_key = psprintf("refund:%s:%d", evs_uuid_text(h.id), seq);
	if (insert_plan == NULL)
	{
		Oid			t[14] = {UUIDOID, UUIDOID, UUIDOID, UUIDOID, INT4OID, INT4OID, INT8OID, TEXTOID, JSONBOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};

		insert_plan = evs_spi_prepare_kept(
			"INSERT INTO eventsvc.hold_refunds AS r (tenant_id, hold_id, event_id, capacity_id, seq, quantity, amount,"
			" currency, lines, reason, idempotency_key, payment_ref, requested_by, requested_role, created_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bpchar, $9, $10, $11, $12, $13, $14, eventsvc.now())"
			" RETURNING to_jsonb(r) - 'tenant_id'", 14, t);
	}
	rc = SPI_execute_plan(insert_plan,
						  (Datum[]) {tenant, h.id, h.event_id, h.capacity_id, Int32GetDatum(seq), Int32GetDatum(quantity),
		Int64GetDatum(r.amount), h.currency ? CStringGetTextDatum(h.currency) : (Datum) 0,
		JsonbPGetDatum(r.lines), CStringGetTextDatum(reason), CStringGetTextDatum(idem_key),
		h.payment_ref ? CStringGetTextDatum(h.payment_ref) : (Datum) 0,
		CStringGetTextDatum(evs_current_actor()),
	CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false))},	/* the caller's role, not the owner's */
						  (char[]) {' ', ' ', ' ', ' ', ' ', ' ', ' ', h.currency ? ' ' : 'n', ' ', ' ', ' ',
		h.payment_ref ? ' ' : 'n', ' ', ' '},
						  false, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "refund insert failed: %s", SPI_result_code_string(rc));
	row = DatumGetJsonbPCopy(evs_get_notnull(0, 1, "the refund row"));

	/*
	 * The payment service pays back: asked by a message, or for the refunds
	 * the worker's call pays with the same key (an event's cancellation saga's
	 * refund_payments step, postponement_pay.c) by that call alone: one
	 * carrier per refund, never two.
	 */
	if (cause != EVS_REFUND_ORGANISER_CALLED)
	{
		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_fields(&st, row);
		evs_jsonb_push_value(&st, "refund_id", evs_jsonb_get(row, "id"));
		evs_jsonb_push_text(&st, "holder_id", h.holder);
		evs_jsonb_push_text(&st, "kind", "refund");
		evs_jsonb_push_bool(&st, "whole_purchase", whole);
		(void) evs_outbox_emit_key(tenant, h.event_id, EVS_RK_REFUND_REQUESTED, evs_jsonb_end(&st));
	}
	evs_hold_audit(&h, "refunded", quantity, r.amount, row);

	/* the seats come back: the waitlist first, then the open pool (seat_return.c) */
	key.tenant = h.tenant;
	key.section = h.capacity_id;
	(void) evs_seats_returned(&key, quantity, 0);
	return row;
}

/*
 * api.refund_purchase(hold_id, reason, quantity): a tenant admin or a service
 * refunds a purchase, all its seats still sold (quantity NULL) or some. With
 * an Idempotency-Key header a retry returns the first answer instead of
 * refunding again.
 */
Datum
evs_sql_refund_purchase(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	char	   *reason;
	int32		quantity = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	EvsIdempotency idem;
	Jsonb	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("refund_purchase needs hold_id")));
	reason = checked_reason(fcinfo, 1);
	if (!PG_ARGISNULL(2) && quantity < 1)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("quantity must be at least 1, not %d", quantity)));
	tenant = evs_current_tenant();
	idem.active = false;
	if (evs_idempotency_header_present())
	{
		JsonbParseState *st = NULL;
		Jsonb	   *replay;

		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_uuid(&st, "hold_id", PG_GETARG_DATUM(0));
		evs_jsonb_push_text(&st, "reason", reason);
		evs_jsonb_push_int(&st, "quantity", quantity);
		replay = evs_idempotency_begin(&idem, "refund_purchase", NULL, evs_jsonb_end(&st));
		if (replay != NULL)
			PG_RETURN_JSONB_P(replay);
	}
	evs_spi_connect();
	result = evs_refund(tenant, PG_GETARG_DATUM(0), quantity, reason, EVS_REFUND_REQUESTED);
	result = DatumGetJsonbP(evs_spi_finish_jsonb(result));
	evs_idempotency_finish(&idem, result);
	PG_RETURN_JSONB_P(result);
}

/* The exchange's new hold: api.reserve_capacity for the purchase's holder. */
typedef struct ExchangeHold
{
	Datum		v[4];
	char		n[4];
	Jsonb	   *hold;
} ExchangeHold;

static void
exchange_hold(void *arg)
{
	ExchangeHold *x = (ExchangeHold *) arg;
	Oid			t[4] = {UUIDOID, INT4OID, UUIDOID, TEXTOID};
	int			rc;

	rc = SPI_execute_with_args("SELECT to_jsonb(api.reserve_capacity($1, $2, $3, $4))", 4, t, x->v, x->n, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "exchange reservation failed: %s", SPI_result_code_string(rc));
	x->hold = DatumGetJsonbPCopy(evs_get_notnull(0, 1, "the exchange's new hold"));
}

/*
 * api.exchange_purchase(hold_id, capacity_id, reason, quantity, pricing_id):
 * the refund of quantity seats of a purchase and a hold of as many seats in
 * another section (or tier) for the same buyer, in one transaction: if the
 * new seats cannot be held, nothing is refunded. The new hold is a
 * reservation like any other (limits, sales window, its own price); the
 * buyer confirms or pays it as usual. With an Idempotency-Key header a retry
 * returns the first answer: the exchange takes the key, its reservation
 * does not.
 */
Datum
evs_sql_exchange_purchase(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	char	   *reason;
	int32		quantity = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3);
	Jsonb	   *refunded;
	Jsonb	   *result;
	JsonbParseState *st = NULL;
	ExchangeHold x = {.n = {' ', ' ', ' ', ' '}};
	EvsIdempotency idem;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("exchange_purchase needs hold_id and capacity_id")));
	reason = checked_reason(fcinfo, 2);
	if (!PG_ARGISNULL(3) && quantity < 1)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("quantity must be at least 1, not %d", quantity)));
	tenant = evs_current_tenant();
	idem.active = false;
	if (evs_idempotency_header_present())
	{
		Jsonb	   *replay;

		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_uuid(&st, "hold_id", PG_GETARG_DATUM(0));
		evs_jsonb_push_uuid(&st, "capacity_id", PG_GETARG_DATUM(1));
		evs_jsonb_push_text(&st, "reason", reason);
		evs_jsonb_push_int(&st, "quantity", quantity);
		evs_jsonb_push_text(&st, "pricing_id", PG_ARGISNULL(4) ? NULL : evs_uuid_text(PG_GETARG_DATUM(4)));
		replay = evs_idempotency_begin(&idem, "exchange_purchase", NULL, evs_jsonb_end(&st));
		if (replay != NULL)
			PG_RETURN_JSONB_P(replay);
		st = NULL;
	}
	evs_spi_connect();
	refunded = evs_refund(tenant, PG_GETARG_DATUM(0), quantity, reason, EVS_REFUND_REQUESTED);
	/* the new hold, for the purchase's holder, through the reservation itself */
	x.v[0] = PG_GETARG_DATUM(1);
	x.v[1] = DirectFunctionCall1(numeric_int4, NumericGetDatum(evs_jsonb_get(refunded, "quantity")->val.numeric));
	x.v[2] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	x.n[2] = PG_ARGISNULL(4) ? 'n' : ' ';
	{
		EvsHold		h;

		if (!evs_hold_lock(tenant, PG_GETARG_DATUM(0), &h))
			evs_hold_not_found(PG_GETARG_DATUM(0));
		x.v[3] = CStringGetTextDatum(h.holder);
	}
	evs_idempotency_inner(exchange_hold, &x);
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_jsonb(&st, "refund", refunded);
	evs_jsonb_push_jsonb(&st, "hold", x.hold);
	result = DatumGetJsonbP(evs_spi_finish_jsonb(evs_jsonb_end(&st)));
	evs_idempotency_finish(&idem, result);
	PG_RETURN_JSONB_P(result);
}
