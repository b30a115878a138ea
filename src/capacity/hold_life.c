/*
 * hold_life.c: what the steps of a hold's life after the reservation share
 * (payment.c, refund.c, waitlist.c): a hold read and locked for a change, who
 * may change it, its row as jsonb, its audit trail (eventsvc.hold_audit_log:
 * every move of seats or money these steps make) and api.hold_history.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity.h"
#include "capacity/capacity_internal.h"

PG_FUNCTION_INFO_V1(evs_sql_hold_history);

/*
 * An event's sales against its cancellation (an advisory lock, class
 * EVS_LOCK_SALES, evs_uuid_locktag): a sale (api.confirm_hold,
 * api.confirm_payment) takes it shared before it locks its hold, the
 * cancellation exclusively before it reads the purchases it refunds, both
 * until they commit. A sale in flight is thus committed before the
 * cancellation reads the purchases (which then differ from its preview's:
 * PT409, preview again), and a sale that comes after the cancellation finds
 * the event CANCELLED. Both lock in the same order (this lock, then hold
 * rows), so they never deadlock. Reservations do not take it: a hold made
 * while the event is cancelled can never be sold.
 */
static void
sales_lock(Datum event_id, bool exclusive)
{
	LOCKTAG		tag;

	evs_uuid_locktag(&tag, event_id, EVS_LOCK_SALES);
	(void) LockAcquire(&tag, exclusive ? ExclusiveLock : ShareLock, false, false);
}

/* The event's cancellation stops its sales (see above): call before reading its purchases. */
void
evs_event_sales_stop(Datum event_id)
{
	sales_lock(event_id, true);
}

/*
 * A sale of the hold begins (see above): takes the event's sales lock
 * shared and says whether the event is cancelled (or deleted), read after
 * the lock in the latest snapshot. False too when there is no such hold (the
 * caller reports it). SPI connected.
 */
bool
evs_hold_sale_begin(Datum tenant, Datum hold_id)
{
	static SPIPlanPtr event_plan = NULL;
	static SPIPlanPtr status_plan = NULL;
	Oid			t[2] = {UUIDOID, UUIDOID};
	Datum		v[2] = {tenant, hold_id};
	Datum		event_id;
	bool		isnull;
	int			rc;

	if (event_plan == NULL)
		event_plan = evs_spi_prepare_kept("SELECT event_id FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND id = $2",
										  2, t);
	/* not read-only: a hold made earlier in this statement counts */
	rc = SPI_execute_plan(event_plan, v, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	event_id = datumCopy(evs_get_notnull(0, 1, "the hold's event"), false, UUID_LEN);
	sales_lock(event_id, false);
	if (status_plan == NULL)
		status_plan = evs_spi_prepare_kept("SELECT status = 'CANCELLED' OR deleted_at IS NOT NULL FROM eventsvc.events"
										   " WHERE tenant_id = $1 AND id = $2", 2, t);
	v[1] = event_id;
	/* latest snapshot: a cancellation committed while this waited for the lock counts */
	rc = SPI_execute_snapshot(status_plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "event lookup failed: %s", SPI_result_code_string(rc));
	return SPI_processed == 1 && DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

#define HOLD_COLUMNS \
	"h.tenant_id, h.id, h.event_id, h.capacity_id, h.pricing_id, h.holder_id, h.quantity, h.state::text," \
	" h.phase::text, h.expires_at, h.created_at, h.expires_at <= $3, h.payment_ref, h.locked_price," \
	" h.currency::text, coalesce(h.renewals, 0), h.confirmed_at, h.unit_price, coalesce(h.refunded_quantity, 0)," \
	" h.waitlist_entry_id"

/* Fills *h from a row of HOLD_COLUMNS (in the current memory context). */
static void
hold_from_row(HeapTuple row, TupleDesc desc, EvsHold *h)
{
	bool		isnull;
	Datum		d;

#define COL(n) SPI_getbinval(row, desc, (n), &isnull)
	h->tenant = datumCopy(evs_getbinval_notnull(row, desc, 1, "the hold's tenant"), false, UUID_LEN);
	h->id = datumCopy(evs_getbinval_notnull(row, desc, 2, "the hold's id"), false, UUID_LEN);
	h->event_id = datumCopy(evs_getbinval_notnull(row, desc, 3, "the hold's event"), false, UUID_LEN);
	h->capacity_id = datumCopy(evs_getbinval_notnull(row, desc, 4, "the hold's section"), false, UUID_LEN);
	d = COL(5);
	h->has_pricing = !isnull;
	h->pricing_id = isnull ? (Datum) 0 : datumCopy(d, false, UUID_LEN);
	h->holder = evs_getvalue_notnull(row, desc, 6, "the hold's holder");
	h->quantity = DatumGetInt32(COL(7));
	h->state = evs_getvalue_notnull(row, desc, 8, "the hold's state");
	h->phase = SPI_getvalue(row, desc, 9);
	h->expires_at = DatumGetTimestampTz(COL(10));
	h->created_at = DatumGetTimestampTz(COL(11));
	h->expired = DatumGetBool(COL(12));
	h->payment_ref = SPI_getvalue(row, desc, 13);
	d = COL(14);
	h->locked_price = isnull ? NULL : DatumGetJsonbPCopy(d);
	h->currency = SPI_getvalue(row, desc, 15);
	h->renewals = DatumGetInt32(COL(16));
	d = COL(17);
	h->confirmed = !isnull;
	d = COL(18);
	h->unit_price = isnull ? 0 : DatumGetInt64(d);
	h->refunded_quantity = DatumGetInt32(COL(19));
	d = COL(20);
	h->has_entry = !isnull;
	h->waitlist_entry_id = isnull ? (Datum) 0 : datumCopy(d, false, UUID_LEN);
#undef COL
}

/* The hold's row by one of two kept plans (locking or not); false when the tenant has none. SPI connected. */
static bool
hold_fetch(Datum tenant, Datum hold_id, EvsHold *h, bool lock)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Datum		v[3] = {tenant, hold_id, TimestampTzGetDatum(evs_now())};
	int			rc;

	if (plans[lock] == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, TIMESTAMPTZOID};

		plans[lock] = evs_spi_prepare_kept(lock
										   ? "SELECT " HOLD_COLUMNS " FROM eventsvc.capacity_holds h"
										   " WHERE h.tenant_id = $1 AND h.id = $2 FOR UPDATE"
										   : "SELECT " HOLD_COLUMNS " FROM eventsvc.capacity_holds h"
										   " WHERE h.tenant_id = $1 AND h.id = $2", 3, t);
	}
	rc = SPI_execute_plan(plans[lock], v, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	hold_from_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, h);
	return true;
}

/*
 * Confirm and release meet waitlist holds (to_jsonb of the row they changed):
 * a hold still gathering seats for its entry can be neither confirmed nor
 * released (the entry leaves the waitlist instead). An offer confirmed or
 * released needs nothing here: the next hand-out of its section settles the
 * entry (waitlist.c, reconcile), so a buyer's open transaction never holds a
 * row the sweep's hand-outs need. SPI connected.
 */
void
evs_hold_changed_waitlist(Datum tenant, Jsonb *row, bool confirmed)
{
	JsonbValue *phase = evs_jsonb_get(row, "phase");

	if (phase != NULL && phase->type == jbvString && phase->val.string.len == 8 &&
		strncmp(phase->val.string.val, "WAITLIST", 8) == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg(confirmed ? "cannot confirm the hold: the waitlist has not gathered all its seats yet"
						: "cannot release a hold the waitlist is gathering seats in"),
				 errhint(confirmed ? "Wait for the waitlist offer (waitlist.offer)."
						 : "Leave the waitlist instead (api.leave_waitlist).")));
}

/*
 * Reads the hold and locks its row for this transaction (FOR UPDATE: a
 * concurrent change is waited for, and then its result is read). False when
 * the tenant has no such hold. SPI connected.
 */
bool
evs_hold_lock(Datum tenant, Datum hold_id, EvsHold *h)
{
	return hold_fetch(tenant, hold_id, h, true);
}

/* Reads the hold without locking it (a preview); false when the tenant has no such hold. SPI connected. */
bool
evs_hold_read(Datum tenant, Datum hold_id, EvsHold *h)
{
	return hold_fetch(tenant, hold_id, h, false);
}

/* What a hold of `quantity` seats in `state` adds to its section's counter rows, times sign. */
static void
state_share(const EvsHold *h, const char *state, int32 quantity, int sign, EvsCounterChange *c)
{
	int64		revenue;

	if (strcmp(state, "ACTIVE") == 0)
		c->held += sign * (int64) quantity;
	else if (strcmp(state, "CONFIRMED") == 0)
	{
		/* revenue as the counter rows count it: quantity x locked unit price */
		if (pg_mul_s64_overflow((int64) quantity, h->unit_price, &revenue))
			ereport(ERROR,
					(errcode(EVS_ERR_OVERFLOW),
					 errmsg("the hold's line total does not fit in 64-bit minor units")));
		c->sold += sign * (int64) quantity;
		c->revenue += sign * revenue;
		c->confirmed += sign;
	}
	else if (strcmp(state, "EXPIRED") == 0)
		c->expired += sign;
	else if (strcmp(state, "RELEASED") == 0)
		c->released += sign;
}

/*
 * The section's counter rows follow a hold that goes from state `from` with
 * `from_quantity` seats to state `to` with `to_quantity` (docs/capacity.md
 * "Counter rows"): in the same transaction, like every hold change. SPI connected.
 */
void
evs_hold_counters_move(const EvsHold *h, const char *from, int32 from_quantity, const char *to, int32 to_quantity)
{
	EvsCounterChange c = {0};

	state_share(h, from, from_quantity, -1, &c);
	state_share(h, to, to_quantity, 1, &c);
	if (strcmp(to, "CONFIRMED") == 0 && strcmp(from, "CONFIRMED") != 0)
	{
		c.buying = evs_customer_first_purchase(h->tenant, h->event_id, h->holder) ? 1 : 0;
		/* a purchase: what it was charged (docs/money.md "Revenue") */
		evs_counters_purchase(h->locked_price, to_quantity + h->refunded_quantity, h->unit_price, &c);
	}
	evs_counters_add(h->tenant, h->capacity_id, h->currency != NULL ? h->currency : "", &c);
}

/* A hold that is not there (or not the caller's): PT404, never saying which. */
void
evs_hold_not_found(Datum hold_id)
{
	ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("hold not found"),
					errdetail("No hold %s in this tenant.", evs_uuid_text(hold_id))));
}

/*
 * Who may act on a hold: its holder, a service or a tenant admin (staff_only:
 * a service or a tenant admin). Someone else's hold is reported as missing to a
 * holder; a holder asking for a staff action is refused as such.
 */
void
evs_hold_require_actor(const EvsHold *h, bool staff_only, const char *action)
{
	if (evs_is_service() || evs_is_tenant_admin())
		return;
	if (strcmp(h->holder, evs_current_actor()) != 0)
		evs_hold_not_found(h->id);
	if (staff_only)
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("only a service or a tenant admin may %s", action),
				 errhint("Call as the eventsvc_service role (the payment service) or as a tenant admin.")));
}

/* The hold's row as jsonb (to_jsonb of the row, latest version), in the caller's memory. SPI connected. */
Jsonb *
evs_hold_row_jsonb(Datum tenant, Datum hold_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[2] = {tenant, hold_id};
	int			rc;

	if (plan == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept("SELECT to_jsonb(h) FROM eventsvc.capacity_holds h"
									" WHERE h.tenant_id = $1 AND h.id = $2", 2, t);
	}
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "hold read failed: %s", SPI_result_code_string(rc));
	return DatumGetJsonbPCopy(evs_get_notnull(0, 1, "the hold"));
}

/*
 * One entry of the hold's audit trail: who, what, how many seats, what amount
 * (amount < 0: none), with details. Written as the owner: no role writes the
 * table itself. SPI connected.
 */
void
evs_hold_audit(const EvsHold *h, const char *action, int32 quantity, int64 amount, Jsonb *detail)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[11];
	char		n[11];
	int			rc;

	if (plan == NULL)
	{
		Oid			t[11] = {UUIDOID, UUIDOID, UUIDOID, UUIDOID, TEXTOID, INT4OID, INT8OID, TEXTOID, JSONBOID,
		TEXTOID, TEXTOID};

		plan = evs_spi_prepare_kept("INSERT INTO eventsvc.hold_audit_log (tenant_id, hold_id, event_id, capacity_id,"
									" action, quantity, amount, currency, detail, actor_id, actor_role, created_at)"
									" VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bpchar, $9, $10, $11,"
									" eventsvc.now())", 11, t);
	}
	memset(n, ' ', sizeof(n));
	v[0] = h->tenant;
	v[1] = h->id;
	v[2] = h->event_id;
	v[3] = h->capacity_id;
	v[4] = CStringGetTextDatum(action);
	v[5] = Int32GetDatum(quantity);
	v[6] = Int64GetDatum(amount);
	if (amount < 0)
		n[6] = 'n';
	v[7] = h->currency != NULL ? CStringGetTextDatum(h->currency) : (Datum) 0;
	if (h->currency == NULL || amount < 0)
		n[7] = 'n';
	if (detail == NULL)
	{
		JsonbParseState *st = NULL;

		evs_jsonb_begin_object(&st, NULL);
		detail = evs_jsonb_end(&st);
	}
	v[8] = JsonbPGetDatum(detail);
	v[9] = CStringGetTextDatum(evs_current_actor());
	v[10] = CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false));	/* the caller's role, not the owner's */
	rc = SPI_execute_plan(plan, v, n, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "hold audit failed: %s", SPI_result_code_string(rc));
}

/*
 * api.hold_history(hold_id): the hold (live, ended or archived) and what
 * happened to it, in order: its reservation, its confirmation, release or
 * expiry (from the row), and every entry of its audit trail (payment, revival,
 * refunds, waitlist offers). For its holder, a service or a tenant admin.
 */
Datum
evs_sql_hold_history(PG_FUNCTION_ARGS)
{
	Datum		v[2];
	Oid			t[2] = {UUIDOID, UUIDOID};
	int			rc;
	char	   *holder;
	Jsonb	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("hold_history needs hold_id")));
	v[0] = evs_current_tenant();
	v[1] = PG_GETARG_DATUM(0);
	evs_spi_connect();
	rc = SPI_execute_with_args(
		"WITH h AS (SELECT to_jsonb(x) - 'tenant_id' AS row, x.holder_id, x.created_at, x.quantity, x.state::text AS state,"
		"                  x.confirmed_at, x.released_at, x.revived_at, false AS archived"
		"             FROM eventsvc.capacity_holds x WHERE x.tenant_id = $1 AND x.id = $2"
		"           UNION ALL"
		"           SELECT to_jsonb(x) - 'tenant_id', x.holder_id, x.created_at, x.quantity, x.state::text,"
		"                  x.confirmed_at, x.released_at, x.revived_at, true"
		"             FROM eventsvc.capacity_holds_archive x WHERE x.tenant_id = $1 AND x.id = $2),"
		" e AS (SELECT h.created_at AS at, 0::int8 AS seq, jsonb_build_object('action', 'reserved', 'quantity',"
		"              h.row -> 'quantity', 'expires_at', h.row -> 'expires_at') AS entry FROM h"
		"       UNION ALL"
		"       SELECT h.confirmed_at, 0, jsonb_build_object('action', 'confirmed') FROM h"
		"        WHERE h.confirmed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM eventsvc.hold_audit_log a"
		"              WHERE a.tenant_id = $1 AND a.hold_id = $2 AND a.action IN ('payment_confirmed', 'revived'))"
		"       UNION ALL"
		"       SELECT h.released_at, 0, jsonb_build_object('action', lower(h.state))"
		"         FROM h WHERE h.state IN ('RELEASED', 'EXPIRED')"
		"       UNION ALL"
		"       SELECT h.released_at, 0, jsonb_build_object('action', 'expired')"
		"         FROM h WHERE h.state NOT IN ('RELEASED', 'EXPIRED') AND h.released_at IS NOT NULL"
		"       UNION ALL"
		"       SELECT a.created_at, a.id, jsonb_build_object('action', a.action, 'quantity', a.quantity,"
		"              'amount', a.amount, 'currency', a.currency, 'actor_id', a.actor_id) || a.detail"
		"         FROM eventsvc.hold_audit_log a WHERE a.tenant_id = $1 AND a.hold_id = $2)"
		" SELECT h.holder_id, jsonb_build_object('hold', h.row, 'archived', h.archived,"
		"        'history', (SELECT jsonb_agg(jsonb_build_object('at', e.at) || e.entry ORDER BY e.at, e.seq) FROM e))"
		"   FROM h",
		2, t, v, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold history failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		evs_hold_not_found(v[1]);
	holder = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, "the hold's holder");
	if (!evs_is_service() && !evs_is_tenant_admin() && strcmp(holder, evs_current_actor()) != 0)
		evs_hold_not_found(v[1]);
	result = DatumGetJsonbP(evs_get_notnull(0, 2, "the hold's history"));
	PG_RETURN_DATUM(evs_spi_finish_jsonb(result));
}
