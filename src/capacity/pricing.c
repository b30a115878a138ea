/*
 * pricing.c: pricing tiers. A BEFORE trigger holds the tier rules so every
 * writer meets them; the active unit price at a moment (early bird, last
 * minute, dynamic, base); calculate_price; update_dynamic_price.
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"

PG_FUNCTION_INFO_V1(evs_pricing_validate_trigger);
PG_FUNCTION_INFO_V1(evs_sql_calculate_price);
PG_FUNCTION_INFO_V1(evs_sql_active_pricing);
PG_FUNCTION_INFO_V1(evs_sql_update_dynamic_price);

static bool
col_present(HeapTuple tup, TupleDesc desc, int n)
{
	bool		isnull;

	(void) SPI_getbinval(tup, desc, n, &isnull);
	return !isnull;
}

static Datum
col(HeapTuple tup, TupleDesc desc, int n)
{
	bool		isnull;

	return SPI_getbinval(tup, desc, n, &isnull);
}

static int64
col_int64(HeapTuple tup, TupleDesc desc, int n, int64 dflt)
{
	return col_present(tup, desc, n) ? DatumGetInt64(col(tup, desc, n)) : dflt;
}

static int32
col_int32(HeapTuple tup, TupleDesc desc, int n, int32 dflt)
{
	return col_present(tup, desc, n) ? DatumGetInt32(col(tup, desc, n)) : dflt;
}

static Datum
col_uuid_copy(HeapTuple tup, TupleDesc desc, int n, const char *what)
{
	return datumCopy(evs_getbinval_notnull(tup, desc, n, what), false, UUID_LEN);
}

/*
 * The unit price in force at `at`: the early-bird price before its end, the
 * last-minute price from its start, else the dynamic current price, else base.
 */
void
evs_pricing_from_row(HeapTuple tup, TupleDesc desc, int o, TimestampTz at, EvsPricing *out)
{
	int64		base = col_int64(tup, desc, o + 8, 0);
	char	   *cur;

	memset(out, 0, sizeof(*out));
	out->id = col_uuid_copy(tup, desc, o + 0, "the tier's id");
	out->event_id = col_uuid_copy(tup, desc, o + 1, "the tier's event");
	out->has_capacity = col_present(tup, desc, o + 2);
	if (out->has_capacity)
		out->capacity_id = col_uuid_copy(tup, desc, o + 2, "the tier's section");
	out->is_active = DatumGetBool(col(tup, desc, o + 3));
	out->has_sales_start = col_present(tup, desc, o + 4);
	if (out->has_sales_start)
		out->sales_start_at = DatumGetTimestampTz(col(tup, desc, o + 4));
	out->has_sales_end = col_present(tup, desc, o + 5);
	if (out->has_sales_end)
		out->sales_end_at = DatumGetTimestampTz(col(tup, desc, o + 5));
	out->max_per_order = col_int32(tup, desc, o + 6, 0);
	out->max_per_customer = col_int32(tup, desc, o + 7, 0);

	out->price.unit_price = base;
	out->price.price_kind = "base";
	if (DatumGetBool(col(tup, desc, o + 10)) && col_present(tup, desc, o + 9))
	{
		out->price.unit_price = col_int64(tup, desc, o + 9, base);
		out->price.price_kind = "dynamic";
	}
	if (col_present(tup, desc, o + 11) && col_present(tup, desc, o + 12) &&
		at < DatumGetTimestampTz(col(tup, desc, o + 12)))
	{
		out->price.unit_price = col_int64(tup, desc, o + 11, base);
		out->price.price_kind = "early_bird";
	}
	else if (col_present(tup, desc, o + 13) && col_present(tup, desc, o + 14) &&
			 at >= DatumGetTimestampTz(col(tup, desc, o + 14)))
	{
		out->price.unit_price = col_int64(tup, desc, o + 13, base);
		out->price.price_kind = "last_minute";
	}
	out->price.service_fee = col_int64(tup, desc, o + 15, 0);
	out->price.facility_fee = col_int64(tup, desc, o + 16, 0);
	out->price.tax_rate_e8 = col_int64(tup, desc, o + 17, 0);
	out->price.group_size_min = col_int32(tup, desc, o + 18, 0);
	out->price.group_discount_e2 = col_int64(tup, desc, o + 19, 0);
	if (out->price.group_discount_e2 == 0)
		out->price.group_size_min = 0;
	cur = TextDatumGetCString(evs_getbinval_notnull(tup, desc, o + 20, "the tier's currency"));
	strlcpy(out->price.currency, cur, sizeof(out->price.currency));
	out->price.minor_unit = DatumGetInt16(col(tup, desc, o + 21));
	out->price.tax_included = DatumGetBool(col(tup, desc, o + 22));
	out->price.fees_taxable = DatumGetBool(col(tup, desc, o + 23));
	cur = TextDatumGetCString(evs_getbinval_notnull(tup, desc, o + 24, "the tier's rounding mode"));
	if (!evs_rounding_from_name(cur, &out->price.rounding))
		elog(ERROR, "pricing tier has an unknown rounding mode \"%s\"", cur);
	out->price.fee_percentage_e2 = col_int64(tup, desc, o + 25, 0);
}

/*
 * Whether the schema this library serves has the tiers' tax mode columns: they
 * came with 1.1. (A database at another version is refused before any of this
 * runs, see core/version.c; a library built to serve 1.0 reads tiers with their
 * 1.0 meaning, EVS_PRICING_COLUMNS_RELEASED.)
 */
bool
evs_pricing_has_tax_mode(void)
{
	return strcmp(evs_library_version, "1.0") != 0;
}

/* The kept plan of "head <the tier's columns> tail" for the schema this library serves. */
SPIPlanPtr
evs_pricing_prepare(SPIPlanPtr *plan, const char *head, const char *tail, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		char	   *sql = psprintf("%s%s%s", head,
								   evs_pricing_has_tax_mode() ? EVS_PRICING_COLUMNS : EVS_PRICING_COLUMNS_RELEASED,
								   tail);

		*plan = evs_spi_prepare_kept(sql, nargs, types);
		pfree(sql);
	}
	return *plan;
}

/* Loads a tier of the tenant with its price in force at `at`; false when there is none (SPI connected). */
bool
evs_pricing_load(Datum tenant_id, Datum pricing_id, TimestampTz at, EvsPricing *out)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		values[2] = {tenant_id, pricing_id};
	int			rc;

	(void) evs_pricing_prepare(&plan, "SELECT ",
							   " FROM eventsvc.event_pricing p JOIN eventsvc.currencies c ON c.code = p.currency"
							   " WHERE p.tenant_id = $1 AND p.id = $2", 2, types);
	rc = SPI_execute_plan(plan, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "pricing lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	evs_pricing_from_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, at, out);
	return true;
}

static void
pricing_not_found(Datum id)
{
	ereport(ERROR,
			(errcode(EVS_ERR_NOT_FOUND),
			 errmsg("pricing tier %s not found", evs_uuid_text(id))));
}

/* api.calculate_price(pricing_id, quantity): exact line price at eventsvc.now(). */
Datum
evs_sql_calculate_price(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	EvsPricing	p;
	EvsPriceLine line;
	Datum		result;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext spi;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("calculate_price needs pricing_id and quantity")));
	tenant = evs_current_tenant();
	evs_spi_connect();
	if (!evs_pricing_load(tenant, PG_GETARG_DATUM(0), evs_now(), &p))
		pricing_not_found(PG_GETARG_DATUM(0));
	evs_price_line(&p.price, PG_GETARG_INT32(1), &line);
	spi = MemoryContextSwitchTo(outer);
	result = evs_price_line_jsonb(&p.price, &line);
	MemoryContextSwitchTo(spi);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * api.active_pricing(capacity_id, at): the tier that sells a section at a
 * moment: active tiers of the section (else of its whole event when the tier
 * names no section) whose sales window is open, first by display_order.
 */
Datum
evs_sql_active_pricing(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, TIMESTAMPTZOID};
	Datum		values[3];
	TimestampTz at;
	int			rc;
	Datum		result = (Datum) 0;
	bool		found = false;
	MemoryContext outer = CurrentMemoryContext;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("active_pricing needs capacity_id")));
	at = PG_ARGISNULL(1) ? evs_now() : PG_GETARG_TIMESTAMPTZ(1);
	values[0] = evs_current_tenant();
	values[1] = PG_GETARG_DATUM(0);
	values[2] = TimestampTzGetDatum(at);
	evs_spi_connect();
	/* a tier of a date section's template sells it too (1.1, docs/series.md) */
	(void) evs_pricing_prepare(&plan, "SELECT ", plan != NULL ? "" :
							   psprintf(", p.name"
										" FROM eventsvc.event_capacity s"
										" JOIN eventsvc.event_pricing p ON p.tenant_id = s.tenant_id AND p.event_id = s.event_id"
										"  AND (p.capacity_id = s.id OR p.capacity_id IS NULL%s)"
										" JOIN eventsvc.currencies c ON c.code = p.currency"
										" WHERE s.tenant_id = $1 AND s.id = $2 AND p.is_active"
										"  AND (p.sales_start_at IS NULL OR p.sales_start_at <= $3)"
										"  AND (p.sales_end_at IS NULL OR p.sales_end_at > $3)"
										" ORDER BY p.capacity_id IS NULL, p.display_order, p.created_at, p.id LIMIT 1",
										EVS_SERIES_SQL(" OR p.capacity_id = s.template_id", "")),
							   3, types);
	rc = SPI_execute_plan(plan, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "active pricing lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		EvsPricing	p;
		JsonbParseState *st = NULL;
		char	   *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, EVS_PRICING_NCOLUMNS + 1);
		MemoryContext spi;

		evs_pricing_from_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, at, &p);
		spi = MemoryContextSwitchTo(outer);
		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_uuid(&st, "pricing_id", p.id);
		evs_jsonb_push_text(&st, "name", name);
		evs_jsonb_push_text(&st, "price_kind", p.price.price_kind);
		evs_jsonb_push_int(&st, "unit_price", p.price.unit_price);
		evs_jsonb_push_text(&st, "currency", p.price.currency);
		evs_jsonb_push_bool(&st, "tax_included", p.price.tax_included);
		result = JsonbPGetDatum(evs_jsonb_end(&st));
		MemoryContextSwitchTo(spi);
		found = true;
	}
	SPI_finish();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* ---- the tier rules, as a BEFORE INSERT OR UPDATE trigger ---- */

static void
pricing_invalid(const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(EVS_ERR_VALIDATION),
			 errmsg("invalid pricing tier: %s", msg),
			 hint ? errhint("%s", hint) : 0));
}

static int
numeric_cmp_int(Datum num, int64 v)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, num, NumericGetDatum(int64_to_numeric(v))));
}

/* Whether num has more than `places` decimals (numeric's own round, compared exactly). */
static bool
numeric_has_more_places(Datum num, int places)
{
	Datum		r = DirectFunctionCall2(numeric_round, num, Int32GetDatum(places));

	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, num, r)) != 0;
}

/*
 * The tax mode of a tier: whether its prices include tax, whether its fees bear
 * tax, how it rounds, its percentage fee. The columns are NOT NULL; they are
 * checked here first so an explicit null gets a rule, not a raw 23502. The fee
 * is kept with its two places (10 -> 10.00), as the locked price shows it. A 1.0
 * schema has none of these columns (evs_pricing_has_tax_mode).
 */
static HeapTuple
pricing_validate_tax_mode(HeapTuple tup, TupleDesc desc)
{
	Datum		v;
	EvsRounding mode;
	int			fee_col[1] = {SPI_fnumber(desc, "fee_percentage")};
	bool		fee_null[1] = {false};

	if (!evs_pricing_has_tax_mode())
		return tup;
	if (!evs_tup_get(tup, desc, "tax_included", &v))
		pricing_invalid("tax_included must be true or false",
						"true: the prices and fees are what the buyer pays, tax included.");
	if (!evs_tup_get(tup, desc, "fees_taxable", &v))
		pricing_invalid("fees_taxable must be true or false",
						"true: the service, facility and percentage fees bear tax like the tickets.");
	if (!evs_tup_get(tup, desc, "rounding_mode", &v) ||
		!evs_rounding_from_name(TextDatumGetCString(v), &mode))
		pricing_invalid("rounding_mode must be half_even or half_up",
						"half_even rounds an exact half to the even neighbour (banker's rounding); "
						"half_up rounds it up.");
	if (!evs_tup_get(tup, desc, "fee_percentage", &v) ||
		numeric_cmp_int(v, 0) < 0 || numeric_cmp_int(v, 100) > 0)
		pricing_invalid("fee_percentage must be between 0 and 100", "Write a 10 % fee as 10.");
	if (numeric_has_more_places(v, 2))
		pricing_invalid("fee_percentage has more than 2 decimal places", "Write a 12.5 % fee as 12.5.");
	v = DirectFunctionCall2(numeric_round, v, Int32GetDatum(2));
	return heap_modify_tuple_by_cols(tup, desc, 1, fee_col, &v, fee_null);
}


/* BEFORE INSERT OR UPDATE on event_pricing: the tier rules for every writer. */
Datum
evs_pricing_validate_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		v,
				v2;
	int64		base,
				minp = 0,
				maxp = 0;
	bool		dynamic,
				has_min,
				has_max;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "evs_pricing_validate_trigger must be a BEFORE ROW trigger");
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);

	/* the keys are read below (section check): refuse NULLs before using them */
	if (!evs_tup_get(tup, desc, "tenant_id", &v))
		pricing_invalid("tenant_id is required", "Set the tenant of the request.");
	if (!evs_tup_get(tup, desc, "event_id", &v))
		pricing_invalid("event_id is required", NULL);
	if (!evs_tup_get(tup, desc, "name", &v))
		pricing_invalid("name is required", NULL);
	if (!evs_tup_get(tup, desc, "currency", &v))
		pricing_invalid("currency must be a 3-letter ISO 4217 code", "For example USD or EUR.");
	{
		Oid			ctype[1] = {BPCHAROID};
		int			rc;

		/* a clear refusal instead of the foreign key's raw 23503 */
		evs_spi_connect();
		rc = SPI_execute_with_args("SELECT 1 FROM eventsvc.currencies WHERE code = $1",
								   1, ctype, &v, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "currency lookup failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 0)
			pricing_invalid("currency is not a supported ISO 4217 code",
							"eventsvc.currencies lists the supported codes.");
		SPI_finish();
	}
	if (!evs_tup_get(tup, desc, "base_price", &v))
		pricing_invalid("base_price is required", NULL);
	base = DatumGetInt64(v);
	if (base < 0)
		pricing_invalid("base_price must be >= 0", "Prices are integers in the currency's minor unit.");
	if (evs_tup_get(tup, desc, "service_fee", &v) && DatumGetInt64(v) < 0)
		pricing_invalid("service_fee must be >= 0", NULL);
	if (evs_tup_get(tup, desc, "facility_fee", &v) && DatumGetInt64(v) < 0)
		pricing_invalid("facility_fee must be >= 0", NULL);
	if (evs_tup_get(tup, desc, "tax_rate", &v) &&
		(numeric_cmp_int(v, 0) < 0 || numeric_cmp_int(v, 1) > 0))
		pricing_invalid("tax_rate must be between 0 and 1", "Write 8.25 % as 0.0825.");
	if (evs_tup_get(tup, desc, "sales_start_at", &v) && evs_tup_get(tup, desc, "sales_end_at", &v2) &&
		DatumGetTimestampTz(v2) <= DatumGetTimestampTz(v))
		pricing_invalid("sales_end_at must be after sales_start_at", NULL);

	dynamic = evs_tup_get(tup, desc, "is_dynamic", &v) && DatumGetBool(v);
	has_min = evs_tup_get(tup, desc, "min_price", &v);
	if (has_min)
		minp = DatumGetInt64(v);
	has_max = evs_tup_get(tup, desc, "max_price", &v);
	if (has_max)
		maxp = DatumGetInt64(v);
	if ((has_min && minp < 0) || (has_max && maxp < 0))
		pricing_invalid("min_price and max_price must be >= 0", NULL);
	if (dynamic)
	{
		if (!has_min || !has_max)
			pricing_invalid("a dynamic tier needs min_price and max_price", NULL);
		if (!(minp <= base && base <= maxp))
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("invalid pricing tier: a dynamic tier needs min_price <= base_price <= max_price"),
					 errdetail("min_price " INT64_FORMAT ", base_price " INT64_FORMAT ", max_price " INT64_FORMAT ".",
							   minp, base, maxp)));
		if (evs_tup_get(tup, desc, "current_price", &v) &&
			(DatumGetInt64(v) < minp || DatumGetInt64(v) > maxp))
			pricing_invalid("current_price must be between min_price and max_price", NULL);
	}
	else if (evs_tup_get(tup, desc, "current_price", &v) && DatumGetInt64(v) < 0)
		pricing_invalid("current_price must be >= 0", NULL);

	if (evs_tup_get(tup, desc, "early_bird_price", &v))
	{
		if (DatumGetInt64(v) < 0 || DatumGetInt64(v) >= base)
			pricing_invalid("early_bird_price must be >= 0 and below base_price", NULL);
		if (!evs_tup_get(tup, desc, "early_bird_ends_at", &v2))
			pricing_invalid("early_bird_price needs early_bird_ends_at", "Say when the early-bird price ends.");
	}
	if (evs_tup_get(tup, desc, "last_minute_price", &v))
	{
		if (DatumGetInt64(v) < 0)
			pricing_invalid("last_minute_price must be >= 0", NULL);
		if (!evs_tup_get(tup, desc, "last_minute_starts_at", &v2))
			pricing_invalid("last_minute_price needs last_minute_starts_at", NULL);
	}
	if (evs_tup_get(tup, desc, "group_discount_percentage", &v))
	{
		if (numeric_cmp_int(v, 0) < 0 || numeric_cmp_int(v, 100) > 0)
			pricing_invalid("group_discount_percentage must be between 0 and 100", NULL);
		if (!evs_tup_get(tup, desc, "group_size_min", &v2) || DatumGetInt32(v2) < 2)
			pricing_invalid("a group discount needs group_size_min of at least 2", NULL);
	}
	else if (evs_tup_get(tup, desc, "group_size_min", &v2))
		pricing_invalid("group_size_min is set but group_discount_percentage is not", NULL);
	tup = pricing_validate_tax_mode(tup, desc);
	if (evs_tup_get(tup, desc, "max_per_order", &v) && DatumGetInt32(v) < 1)
		pricing_invalid("max_per_order must be >= 1", NULL);
	if (evs_tup_get(tup, desc, "max_per_customer", &v) && DatumGetInt32(v) < 1)
		pricing_invalid("max_per_customer must be >= 1", NULL);

	/* A tier that names a section must name one of its own event. */
	if (evs_tup_get(tup, desc, "capacity_id", &v))
	{
		Datum		vals[3];
		Oid			types[3] = {UUIDOID, UUIDOID, UUIDOID};
		int			rc;

		evs_tup_get(tup, desc, "tenant_id", &vals[0]);
		vals[1] = v;
		evs_tup_get(tup, desc, "event_id", &vals[2]);
		evs_spi_connect();
		rc = SPI_execute_with_args("SELECT 1 FROM eventsvc.event_capacity"
								   " WHERE tenant_id = $1 AND id = $2 AND event_id = $3",
								   3, types, vals, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "section lookup failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 0)
			pricing_invalid("capacity_id does not name a section of this event", NULL);
		SPI_finish();
	}
	return PointerGetDatum(tup);
}

/*
 * api.update_dynamic_price(pricing_id, price, expected_version): moves the
 * current price of a dynamic tier within its bounds. The change is versioned
 * (a stale expected_version is a conflict) and recorded as an outbox message
 * pricing.price_changed (who, old, new): the audit trail of price moves.
 */
Datum
evs_sql_update_dynamic_price(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	Datum		vals[4];
	Oid			types[4] = {UUIDOID, UUIDOID, INT8OID, INT4OID};
	int			rc;
	bool		isnull;
	HeapTuple	row;
	TupleDesc	desc;
	int64		price,
				minp,
				maxp,
				oldp;
	int32		version,
				current_version;
	Datum		event_id,
				result;
	char	   *actor;
	JsonbParseState *st = NULL;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext spi;
	EvsIdempotency idem;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("update_dynamic_price needs pricing_id, price and expected_version")));
	tenant = evs_current_tenant();
	price = PG_GETARG_INT64(1);
	version = PG_GETARG_INT32(2);
	actor = evs_current_actor();
	/* a retry with the same Idempotency-Key header gets the first answer, not a stale-version conflict */
	idem.active = false;
	if (evs_idempotency_header_present())
	{
		Jsonb	   *replay;

		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_uuid(&st, "pricing_id", PG_GETARG_DATUM(0));
		evs_jsonb_push_int(&st, "price", price);
		evs_jsonb_push_int(&st, "expected_version", version);
		replay = evs_idempotency_begin(&idem, "update_dynamic_price", NULL, evs_jsonb_end(&st));
		if (replay != NULL)
			PG_RETURN_JSONB_P(replay);
		st = NULL;
	}
	vals[0] = tenant;
	vals[1] = PG_GETARG_DATUM(0);
	evs_spi_connect();
	rc = SPI_execute_with_args("SELECT is_dynamic, min_price, max_price, coalesce(current_price, base_price),"
							   " version, event_id FROM eventsvc.event_pricing"
							   " WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE",
							   2, types, vals, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "pricing lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		pricing_not_found(vals[1]);
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (!DatumGetBool(SPI_getbinval(row, desc, 1, &isnull)))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("pricing tier is not dynamic"),
				 errhint("Only tiers with is_dynamic = true have a current price; change base_price with update_pricing.")));
	minp = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
	maxp = DatumGetInt64(SPI_getbinval(row, desc, 3, &isnull));
	oldp = DatumGetInt64(SPI_getbinval(row, desc, 4, &isnull));
	current_version = DatumGetInt32(SPI_getbinval(row, desc, 5, &isnull));
	event_id = evs_getbinval_notnull(row, desc, 6, "the tier's event");
	if (current_version != version)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("pricing tier was changed by someone else"),
				 errdetail("Expected version %d, current version %d.", version, current_version),
				 errhint("Reload the tier and try again.")));
	if (price < minp || price > maxp)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("dynamic price " INT64_FORMAT " is outside the tier's bounds", price),
				 errdetail("Allowed: " INT64_FORMAT " to " INT64_FORMAT ".", minp, maxp)));
	vals[2] = Int64GetDatum(price);
	vals[3] = Int32GetDatum(version);
	rc = SPI_execute_with_args("UPDATE eventsvc.event_pricing AS p SET current_price = $3, version = $4, updated_at = now()"
							   " WHERE tenant_id = $1 AND id = $2 RETURNING to_jsonb(p)",
							   4, types, vals, NULL, false, 1);
	if (rc != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
		elog(ERROR, "dynamic price update failed: %s", SPI_result_code_string(rc));
	spi = MemoryContextSwitchTo(outer);
	result = datumCopy(evs_get_notnull(0, 1, "the changed tier"), false, -1);
	MemoryContextSwitchTo(spi);

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "pricing_id", vals[1]);
	evs_jsonb_push_int(&st, "old_price", oldp);
	evs_jsonb_push_int(&st, "new_price", price);
	evs_jsonb_push_int(&st, "version", version + 1);
	evs_jsonb_push_text(&st, "changed_by", actor);
	(void) evs_outbox_emit_key(tenant, event_id, EVS_RK_PRICE_CHANGED, evs_jsonb_end(&st));
	SPI_finish();
	evs_idempotency_finish(&idem, DatumGetJsonbP(result));
	PG_RETURN_DATUM(result);
}
