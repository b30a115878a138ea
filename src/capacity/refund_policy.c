/*
 * refund_policy.c: refund policies. A tenant's default and a tier's own policy
 * (eventsvc.refund_policies: full refund until N days before the event, then
 * a percentage; fees refundable or not), set with api.set_refund_policy; the
 * snapshot a purchase takes of the policy in force when it is sold
 * (eventsvc.purchase_refund_policies, written by confirm_hold and
 * confirm_payment); and what that snapshot keeps back of a refund
 * (evs_refund_policy_apply, called by evs_refund_lines, the one place a
 * refund's money is computed). A refund never reads the current policy.
 * docs/money.md "Refund policies".
 */
#include "core/core.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"

PG_FUNCTION_INFO_V1(evs_sql_set_refund_policy);

#define POLICY_MAX_DAYS 3650		/* full_refund_days: at most ten years */
#define SECONDS_PER_DAY 86400		/* a policy's days are periods of 24 h */

/*
 * The policy in force for a purchase being sold now, stored with it: the
 * tier's own, else the tenant's default; none when neither exists (the
 * purchase then refunds in full, as before policies). Once per purchase: a
 * purchase keeps the snapshot of its first sale. SPI connected.
 */
void
evs_refund_policy_capture(Datum tenant, Datum hold_id, bool has_pricing, Datum pricing_id)
{
	static SPIPlanPtr plan = NULL;
	int			rc;

	if (!evs_holds_schema_ready())
		return;
	if (plan == NULL)
	{
		Oid			t[4] = {UUIDOID, UUIDOID, UUIDOID, TIMESTAMPTZOID};

		plan = evs_spi_prepare_kept(
			"INSERT INTO eventsvc.purchase_refund_policies (tenant_id, hold_id, policy_id, source,"
			" full_refund_days, late_refund_percent, fees_refundable, captured_at)"
			" SELECT $1, $2, p.id, CASE WHEN p.pricing_id IS NULL THEN 'tenant' ELSE 'tier' END,"
			" p.full_refund_days, p.late_refund_percent, p.fees_refundable, $4"
			" FROM eventsvc.refund_policies p WHERE p.tenant_id = $1 AND (p.pricing_id = $3 OR p.pricing_id IS NULL)"
			" ORDER BY p.pricing_id NULLS LAST LIMIT 1"
			" ON CONFLICT (tenant_id, hold_id) DO NOTHING", 4, t);
	}
	rc = SPI_execute_plan(plan, (Datum[]) {tenant, hold_id, has_pricing ? pricing_id : (Datum) 0,
										   TimestampTzGetDatum(evs_now())},
						  has_pricing ? NULL : "  n ", false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "refund policy snapshot failed: %s", SPI_result_code_string(rc));
}

/*
 * Applies the purchase's policy snapshot to a refund whose shares are in
 * *out (out->amount is the share of the total), at `at`:
 *
 *   fees_kept       = the shares of the fees, when the policy keeps fees
 *   refundable      = share of total - fees_kept
 *   amount          = refundable, when the refund is at or before
 *                     starts_at - full_refund_days x 24 h, or not the buyer's choice;
 *                     else round_half_even(refundable x late_refund_percent / 100)
 *   percentage_kept = refundable - amount
 *
 * A refund the organiser caused (the event was cancelled, or postponed and
 * the holder chose a refund) is not late: only the fee rule applies. An
 * event without a start date is never late. Pushes a "policy" object into
 * the open lines object *st. SPI connected.
 */
void
evs_refund_policy_apply(const EvsHold *purchase, EvsRefundCause cause, int64 fees_share,
						EvsRefundLines *out, JsonbParseState **st)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[3] = {purchase->tenant, purchase->id, purchase->event_id};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	int32		days;
	int64		percent;
	bool		fees_refundable;
	Datum		starts;
	bool		late = false;
	int64		fees_kept,
				refundable,
				amount;
	int			rc;

	if (!evs_holds_schema_ready())
		return;
	if (plan == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept(
			"SELECT s.full_refund_days, (s.late_refund_percent * 100)::int8, s.fees_refundable, s.source,"
			" (SELECT e.starts_at FROM eventsvc.events e WHERE e.tenant_id = $1 AND e.id = $3), s.late_refund_percent"
			" FROM eventsvc.purchase_refund_policies s WHERE s.tenant_id = $1 AND s.hold_id = $2", 3, t);
	}
	rc = SPI_execute_plan(plan, v, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "refund policy lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return;					/* sold without a policy: refunds in full */
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	days = DatumGetInt32(SPI_getbinval(row, desc, 1, &isnull));
	percent = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
	fees_refundable = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
	starts = SPI_getbinval(row, desc, 5, &isnull);
	if (cause == EVS_REFUND_REQUESTED && !isnull)
		late = evs_now() > DatumGetTimestampTz(starts) - (TimestampTz) days * SECONDS_PER_DAY * USECS_PER_SEC;

	fees_kept = fees_refundable ? 0 : Min(fees_share, out->amount);
	refundable = out->amount - fees_kept;
	amount = late ? evs_money_scale(refundable, percent, EVS_PERCENT_ONE, EVS_ROUND_HALF_EVEN, "refund") : refundable;

	evs_jsonb_begin_object(st, "policy");
	evs_jsonb_push_text(st, "source", SPI_getvalue(row, desc, 4));
	evs_jsonb_push_int(st, "full_refund_days", days);
	evs_jsonb_push_numeric(st, "late_refund_percent",
						   DatumGetNumeric(DirectFunctionCall3(numeric_in,
															   CStringGetDatum(evs_getvalue_notnull(row, desc, 6,
																									"the policy's late refund percent")),
															   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1))));
	evs_jsonb_push_bool(st, "fees_refundable", fees_refundable);
	evs_jsonb_push_text(st, "cause", cause == EVS_REFUND_REQUESTED ? "requested" : "organiser");
	evs_jsonb_push_bool(st, "late", late);
	evs_jsonb_push_int(st, "refundable", out->amount);
	evs_jsonb_push_int(st, "fees_kept", fees_kept);
	evs_jsonb_push_int(st, "percentage_kept", refundable - amount);
	(void) evs_jsonb_end(st);
	out->amount = amount;
}

/* Percent 0..100 with at most 2 decimals, as 1e-2 units; -1 when it is not one. */
static int64
percent_units(JsonbValue *v)
{
	char	   *s;
	int64		whole = 0;
	int64		frac = 0;
	int			decimals = 0;
	char	   *p;

	if (v == NULL || v->type != jbvNumeric)
		return -1;
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	p = s;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		whole = whole * 10 + (*p - '0');
		if (whole > 100)
			return -1;
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
		{
			if (++decimals > 2 && *p != '0')
				return -1;
			if (decimals <= 2)
				frac = frac * 10 + (*p - '0');
		}
	if (*p != '\0')
		return -1;
	for (; decimals < 2; decimals++)
		frac *= 10;
	if (whole * 100 + frac > EVS_PERCENT_ONE)
		return -1;
	return whole * 100 + frac;
}

/* The policy of api.set_refund_policy, checked: every key known, every value in range. */
static void
checked_policy(Jsonb *policy, int32 *days, int64 *percent, bool *fees)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	JsonbValue *d;

	if (!JB_ROOT_IS_OBJECT(policy) || JB_ROOT_IS_SCALAR(policy))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("policy must be a JSON object"),
						errhint("For example {\"full_refund_days\": 14, \"late_refund_percent\": 50, "
								"\"fees_refundable\": false}.")));
	it = JsonbIteratorInit(&policy->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		if (!(k.val.string.len == 16 && strncmp(k.val.string.val, "full_refund_days", 16) == 0) &&
			!(k.val.string.len == 19 && strncmp(k.val.string.val, "late_refund_percent", 19) == 0) &&
			!(k.val.string.len == 15 && strncmp(k.val.string.val, "fees_refundable", 15) == 0))
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("policy.%.*s: unknown key", Min(k.val.string.len, 64), k.val.string.val),
					 errhint("A policy has full_refund_days, late_refund_percent and fees_refundable.")));
		(void) JsonbIteratorNext(&it, &v, true);
	}
	d = evs_jsonb_get(policy, "full_refund_days");
	if (d == NULL || d->type != jbvNumeric ||
		!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(d->val.numeric),
										  DirectFunctionCall2(numeric_trunc, NumericGetDatum(d->val.numeric),
															  Int32GetDatum(0)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(d->val.numeric),
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(d->val.numeric),
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(POLICY_MAX_DAYS)))))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("policy.full_refund_days: is required, a whole number of days from 0 to %d", POLICY_MAX_DAYS),
				 errdetail("Refunds are full until that many days (of 24 h) before the event starts.")));
	*days = DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(d->val.numeric)));
	*percent = percent_units(evs_jsonb_get(policy, "late_refund_percent"));
	if (*percent < 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("policy.late_refund_percent: is required, a percentage from 0 to 100 with at most 2 decimals"),
				 errdetail("The part of a refund paid back after the full-refund period (0: nothing).")));
	d = evs_jsonb_get(policy, "fees_refundable");
	if (d != NULL && d->type != jbvBool)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("policy.fees_refundable: must be true or false")));
	*fees = d == NULL || d->val.boolean;
}

/* Whether the tenant has the tier. SPI connected. */
static void
require_tier(Datum tenant, Datum pricing_id)
{
	EvsArgs		a = {0};

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, pricing_id, false);
	evs_exec("SELECT 1 FROM eventsvc.event_pricing WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("pricing tier not found"),
						errdetail("No tier %s in this tenant.", evs_uuid_text(pricing_id))));
}

/*
 * api.set_refund_policy(policy, pricing_id): a tenant admin sets the tenant's
 * default policy (pricing_id NULL) or a tier's own; a NULL policy removes it.
 * Purchases already sold keep the policy they were sold under. Returns the
 * policy now in force at that level.
 */
Datum
evs_sql_set_refund_policy(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	bool		tier = !PG_ARGISNULL(1);
	int32		days = 0;
	int64		percent = 0;
	bool		fees = true;
	Jsonb	   *policy;
	JsonbParseState *st = NULL;
	EvsArgs		a = {0};
	char		pct[32];

	evs_require_admin("set a refund policy");
	if (!PG_ARGISNULL(0))
		checked_policy(PG_GETARG_JSONB_P(0), &days, &percent, &fees);
	tenant = evs_current_tenant();
	evs_spi_connect();
	if (tier)
		require_tier(tenant, PG_GETARG_DATUM(1));
	snprintf(pct, sizeof(pct), "%lld.%02lld", (long long) (percent / 100), (long long) (percent % 100));
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, tier ? PG_GETARG_DATUM(1) : (Datum) 0, !tier);
	if (PG_ARGISNULL(0))
		evs_exec("DELETE FROM eventsvc.refund_policies WHERE tenant_id = $1 AND pricing_id IS NOT DISTINCT FROM $2",
				 &a, SPI_OK_DELETE);
	else
	{
		evs_arg(&a, INT4OID, Int32GetDatum(days), false);
		evs_arg(&a, TEXTOID, CStringGetTextDatum(pct), false);
		evs_arg(&a, BOOLOID, BoolGetDatum(fees), false);
		evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
		evs_exec("INSERT INTO eventsvc.refund_policies AS p (tenant_id, pricing_id, full_refund_days,"
				 " late_refund_percent, fees_refundable, updated_by, updated_at)"
				 " VALUES ($1, $2, $3, $4::numeric, $5, $6, eventsvc.now())"
				 " ON CONFLICT (tenant_id, pricing_id) DO UPDATE SET full_refund_days = $3,"
				 " late_refund_percent = $4::numeric, fees_refundable = $5, updated_by = $6,"
				 " updated_at = eventsvc.now()", &a, SPI_OK_INSERT);
		a.n = 2;
	}
	CommandCounterIncrement();
	policy = evs_query_jsonb("SELECT to_jsonb(p) - 'tenant_id' - 'pricing_id' FROM eventsvc.refund_policies p"
							 " WHERE p.tenant_id = $1 AND p.pricing_id IS NOT DISTINCT FROM $2", &a);
	evs_jsonb_begin_object(&st, NULL);
	if (tier)
		evs_jsonb_push_uuid(&st, "pricing_id", PG_GETARG_DATUM(1));
	else
		evs_jsonb_push_null(&st, "pricing_id");
	evs_jsonb_push_jsonb(&st, "policy", policy);
	PG_RETURN_DATUM(evs_spi_finish_jsonb(evs_jsonb_end(&st)));
}
