/*
 * event_refunds.c: the refunds of every purchase of an event, as the
 * lifecycle asks for them through capacity.h. The plan says what refunding
 * them would do without changing anything: each purchase with the amount
 * the policy it was sold under gives back when the organiser causes the
 * refund, the totals by currency, the live holds that would be released, and
 * a fingerprint of the purchases and amounts that changes when a sale or a
 * refund happens. The refunds themselves go through the one refund path
 * (evs_refund), so the real run pays exactly what the plan listed.
 * docs/lifecycle.md "Cancellation preview".
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"

typedef struct CurrencyTotal
{
	char		currency[4];
	int64		purchases;
	int64		seats;
	int64		amount;
} CurrencyTotal;

static int
currency_order(const void *a, const void *b)
{
	return strcmp(((const CurrencyTotal *) a)->currency, ((const CurrencyTotal *) b)->currency);
}

/*
 * The ids of the event's purchases (CONFIRMED holds), or with `date` those of
 * one date of a series (its date sections), in id order, locked when `lock`,
 * and their holders in *holders when it is not NULL. SPI connected.
 */
static Datum *
scope_purchases(Datum tenant, Datum scope_id, bool date, bool lock, int *n, char ***holders)
{
	EvsArgs		a = {0};
	Datum	   *ids;

#define PURCHASES(scope) "SELECT id, holder_id FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND " scope \
		" AND state = 'CONFIRMED' ORDER BY id"
#define DATE_SECTIONS "capacity_id IN (SELECT s.id FROM eventsvc.event_capacity s" \
		" WHERE s.tenant_id = $1 AND s.occurrence_id = $2)"
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, scope_id, false);
	if (date)
		evs_exec(PURCHASES(DATE_SECTIONS) " FOR UPDATE", &a, SPI_OK_SELECT);
	else if (lock)
		evs_exec(PURCHASES("event_id = $2") " FOR UPDATE", &a, SPI_OK_SELECT);
	else
		evs_exec(PURCHASES("event_id = $2"), &a, SPI_OK_SELECT);
	*n = (int) SPI_processed;
	ids = palloc(sizeof(Datum) * Max(*n, 1));
	if (holders)
		*holders = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		ids[i] = datumCopy(evs_get_notnull(i, 1, "the purchase's id"), false, UUID_LEN);
		if (holders)
			(*holders)[i] = evs_get_text(i, 2);
	}
	return ids;
}

static void
hash_text(pg_cryptohash_ctx *ctx, const char *s)
{
	if (pg_cryptohash_update(ctx, (const uint8 *) s, strlen(s)) < 0)
		elog(ERROR, "could not hash the refund plan: %s", pg_cryptohash_error(ctx));
}

/*
 * The plan of refunding every purchase of the event in full because the
 * organiser cancels it (see the file header). With `lock` the purchases are
 * locked for this transaction (the real run), else only read (a preview).
 */
Jsonb *
evs_event_refund_plan(Datum tenant, Datum event_id, bool lock)
{
	EvsRoleSwitch as_owner;
	JsonbParseState *st = NULL;
	Datum	   *ids;
	int			n;
	CurrencyTotal *totals;
	int			ntotals = 0;
	int64		seats = 0;
	pg_cryptohash_ctx *ctx;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	Jsonb	   *holds;
	Jsonb	   *result;
	EvsArgs		a = {0};

	evs_become_owner(&as_owner);
	evs_spi_connect();
	/* a library serving 1.0 keeps 1.0's cancellation: nothing refunded here */
	if (evs_holds_schema_ready())
		ids = scope_purchases(tenant, event_id, false, lock, &n, NULL);
	else
	{
		ids = NULL;
		n = 0;
	}
	totals = palloc0(sizeof(CurrencyTotal) * Max(n, 1));
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not hash the refund plan");

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_begin_array(&st, "purchases");
	for (int i = 0; i < n; i++)
	{
		EvsHold		h;
		EvsRefundLines r;
		const char *cur;
		int			t;
		char		line[200];

		CHECK_FOR_INTERRUPTS();
		if (!evs_hold_read(tenant, ids[i], &h))
			continue;
		evs_refund_lines(&h, h.quantity, EVS_REFUND_ORGANISER, &r);
		cur = h.currency ? h.currency : "";
		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_uuid(&st, "hold_id", h.id);
		evs_jsonb_push_text(&st, "holder_id", h.holder);
		evs_jsonb_push_uuid(&st, "capacity_id", h.capacity_id);
		evs_jsonb_push_int(&st, "quantity", h.quantity);
		evs_jsonb_push_int(&st, "amount", r.amount);
		evs_jsonb_push_text(&st, "currency", h.currency);
		evs_jsonb_push_value(&st, "policy", evs_jsonb_get(r.lines, "policy"));
		(void) evs_jsonb_end(&st);

		snprintf(line, sizeof(line), "%s:%d:%d:" INT64_FORMAT ":%s;", evs_uuid_text(h.id), h.quantity,
				 h.refunded_quantity, r.amount, cur);
		hash_text(ctx, line);
		seats += h.quantity;
		for (t = 0; t < ntotals && strcmp(totals[t].currency, cur) != 0; t++)
			;
		if (t == ntotals)
			strlcpy(totals[ntotals++].currency, cur, sizeof(totals[t].currency));
		totals[t].purchases++;
		totals[t].seats += h.quantity;
		totals[t].amount = evs_money_add(totals[t].amount, r.amount, "refund total");
	}
	(void) evs_jsonb_end(&st);
	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not hash the refund plan: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	hex_encode((const char *) digest, sizeof(digest), hex);
	hex[sizeof(hex) - 1] = '\0';

	qsort(totals, ntotals, sizeof(CurrencyTotal), currency_order);
	evs_jsonb_begin_array(&st, "refund_totals");
	for (int t = 0; t < ntotals; t++)
	{
		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_text(&st, "currency", totals[t].currency[0] ? totals[t].currency : NULL);
		evs_jsonb_push_int(&st, "purchases", totals[t].purchases);
		evs_jsonb_push_int(&st, "seats", totals[t].seats);
		evs_jsonb_push_int(&st, "amount", totals[t].amount);
		(void) evs_jsonb_end(&st);
	}
	(void) evs_jsonb_end(&st);
	evs_jsonb_push_int(&st, "purchase_count", n);
	evs_jsonb_push_int(&st, "seats_to_refund", seats);
	evs_jsonb_push_text(&st, "fingerprint", hex);

	/* the live holds a cancellation releases (not part of the fingerprint: no money moves) */
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, event_id, false);
	holds = evs_query_jsonb("SELECT jsonb_build_object('count', count(*), 'seats', coalesce(sum(h.quantity), 0),"
							" 'holds', coalesce(jsonb_agg(jsonb_build_object('hold_id', h.id, 'holder_id', h.holder_id,"
							" 'capacity_id', h.capacity_id, 'quantity', h.quantity) ORDER BY h.id), '[]'))"
							" FROM eventsvc.capacity_holds h WHERE h.tenant_id = $1 AND h.event_id = $2 AND h.state = 'ACTIVE'",
							&a);
	evs_jsonb_push_jsonb(&st, "holds_to_release", holds);
	result = evs_jsonb_end(&st);
	result = DatumGetJsonbP(evs_spi_finish_jsonb(result));
	evs_switch_back(&as_owner);
	return result;
}

/*
 * Refunds every purchase of the event (or with `date` of one date of a
 * series) in full, the organiser's refund, with `reason`, locking them.
 * Returns {"refunded": n, "refunds": [{hold_id, holder_id, refund_id, amount,
 * currency, idempotency_key}]}. An event's refunds are paid by its
 * cancellation saga's refund_payments step, one call per refund listed in
 * the report (no message); a date's by one payment.refund_requested message
 * each. A library serving 1.0 refunds nothing and returns no "refunds":
 * 1.0's saga then refunds by ticket ids, as 1.0 did.
 */
static Jsonb *
refund_scope_purchases(Datum tenant, Datum scope_id, bool date, const char *reason)
{
	EvsRoleSwitch as_owner;
	JsonbParseState *st = NULL;
	Datum	   *ids = NULL;
	char	  **holders = NULL;
	int			n = 0;
	bool		ready = evs_holds_schema_ready();
	Jsonb	   *result;

	evs_become_owner(&as_owner);
	evs_spi_connect();
	if (ready)
		ids = scope_purchases(tenant, scope_id, date, true, &n, &holders);
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_int(&st, "refunded", n);
	if (!ready)
	{
		result = DatumGetJsonbP(evs_spi_finish_jsonb(evs_jsonb_end(&st)));
		evs_switch_back(&as_owner);
		return result;
	}
	evs_jsonb_begin_array(&st, "refunds");
	for (int i = 0; i < n; i++)
	{
		Jsonb	   *row;

		CHECK_FOR_INTERRUPTS();
		row = evs_refund(tenant, ids[i], 0, reason, date ? EVS_REFUND_ORGANISER : EVS_REFUND_ORGANISER_CALLED);
		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_value(&st, "hold_id", evs_jsonb_get(row, "hold_id"));
		evs_jsonb_push_text(&st, "holder_id", holders[i]);
		evs_jsonb_push_value(&st, "refund_id", evs_jsonb_get(row, "id"));
		evs_jsonb_push_value(&st, "amount", evs_jsonb_get(row, "amount"));
		evs_jsonb_push_value(&st, "currency", evs_jsonb_get(row, "currency"));
		evs_jsonb_push_value(&st, "idempotency_key", evs_jsonb_get(row, "idempotency_key"));
		(void) evs_jsonb_end(&st);
	}
	(void) evs_jsonb_end(&st);
	result = evs_jsonb_end(&st);
	result = DatumGetJsonbP(evs_spi_finish_jsonb(result));
	evs_switch_back(&as_owner);
	return result;
}

/* Refunds every purchase of the event in full (its cancellation; see above). */
Jsonb *
evs_refund_event_purchases(Datum tenant, Datum event_id, const char *reason)
{
	return refund_scope_purchases(tenant, event_id, false, reason);
}

/* Refunds every purchase of one date of a series in full (its cancellation; see above). */
Jsonb *
evs_refund_date_purchases(Datum tenant, Datum occurrence_id, const char *reason)
{
	return refund_scope_purchases(tenant, occurrence_id, true, reason);
}
