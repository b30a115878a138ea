/*
 * hold_settings.c: the hold settings a tenant may override (its row of
 * eventsvc.tenant_hold_settings; a NULL column keeps the cluster's setting),
 * api.set_hold_settings and api.hold_settings. The reservation path reads
 * them, so a tenant's row is kept per backend while the reference generation
 * stays the same (refcache.c; the table has the reference trigger).
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"

PG_FUNCTION_INFO_V1(evs_sql_set_hold_settings);
PG_FUNCTION_INFO_V1(evs_sql_hold_settings);

/* The settings, in the order of EvsHoldSettingId: key = the column = the JSON key. */
static const struct
{
	const char *key;
	const char *guc;			/* the cluster setting it overrides */
	int		   *cluster;
	int			min;
	int			max;
}			settings[EVS_HOLD_SETTINGS] = {
	[EVS_SETTING_MAX_SEATS] = {"max_seats_per_customer", "eventsvc.max_seats_per_holder",
	&evs_max_seats_per_holder, 1, 1000000},
	[EVS_SETTING_PAYMENT_WINDOW] = {"payment_window_seconds", "eventsvc.payment_window_seconds",
	&evs_payment_window_seconds, 1, 86400},
	[EVS_SETTING_OFFER_WINDOW] = {"offer_window_seconds", "eventsvc.offer_window_seconds",
	&evs_offer_window_seconds, 1, 604800},
};

#define REFKEY_TENANT_SETTINGS 3

/*
 * Whether this library serves a 1.1 schema: the database's version is the
 * library's (the library refuses any other, core/version.c), and the 1.1
 * schema has the hold tables and columns of a hold's life after the
 * reservation. A library built to serve 1.0 runs the 1.0 behaviour: the
 * cluster's limit, no renewal count, no phases, no archive.
 */
bool
evs_holds_schema_ready(void)
{
	static int	ready = -1;

	if (ready < 0)
		ready = strcmp(evs_library_version, "1.0") != 0;
	return ready == 1;
}

/*
 * The tenant's overrides as a row of EVS_HOLD_SETTINGS nullable int4 columns
 * (all NULL when the tenant has no row). SPI connected.
 */
static HeapTuple
tenant_row(Datum tenant, TupleDesc *desc)
{
	static SPIPlanPtr plan = NULL;
	EvsRefKey	key;
	uint64		generation;
	HeapTuple	row;
	int			rc;

	memset(&key, 0, sizeof(key));
	key.kind = REFKEY_TENANT_SETTINGS;
	memcpy(key.ids[0], DatumGetUUIDP(tenant)->data, UUID_LEN);
	generation = evs_refcache_generation();
	row = evs_refcache_lookup(&key, generation, desc);
	if (row != NULL)
		return row;
	if (plan == NULL)
	{
		Oid			t[1] = {UUIDOID};

		/* one column per setting, in EvsHoldSettingId order; a missing row gives NULLs */
		plan = evs_spi_prepare_kept("SELECT s.max_seats_per_customer, s.payment_window_seconds, s.offer_window_seconds"
									" FROM (SELECT 1) one LEFT JOIN eventsvc.tenant_hold_settings s"
									" ON s.tenant_id = $1", 1, t);
	}
	rc = SPI_execute_snapshot(plan, &tenant, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "hold settings lookup failed: %s", SPI_result_code_string(rc));
	row = SPI_tuptable->vals[0];
	*desc = SPI_tuptable->tupdesc;
	evs_refcache_store(&key, generation, row, *desc);
	return row;
}

/* The setting in force for the tenant: its own value, else the cluster's. SPI connected. */
int
evs_hold_setting(Datum tenant, EvsHoldSettingId id)
{
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	Datum		v;

	if (!evs_holds_schema_ready())
		return *settings[id].cluster;	/* a 1.0 database has no overrides */
	row = tenant_row(tenant, &desc);
	v = SPI_getbinval(row, desc, (int) id + 1, &isnull);
	return isnull ? *settings[id].cluster : DatumGetInt32(v);
}

/* {key: {"value": v, "source": "tenant" | "cluster"}, ...} for the tenant. SPI connected. */
static Jsonb *
settings_jsonb(Datum tenant)
{
	TupleDesc	desc;
	HeapTuple	row = tenant_row(tenant, &desc);
	JsonbParseState *st = NULL;

	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < EVS_HOLD_SETTINGS; i++)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(row, desc, i + 1, &isnull);

		evs_jsonb_push_key(&st, settings[i].key);
		(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		evs_jsonb_push_int(&st, "value", isnull ? *settings[i].cluster : DatumGetInt32(v));
		evs_jsonb_push_text(&st, "source", isnull ? "cluster" : "tenant");
		evs_jsonb_push_text(&st, "cluster_setting", settings[i].guc);
		(void) pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* api.hold_settings(): the settings in force for the caller's tenant. */
Datum
evs_sql_hold_settings(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	evs_spi_connect();
	PG_RETURN_DATUM(evs_spi_finish_jsonb(settings_jsonb(tenant)));
}

/*
 * api.set_hold_settings(changes): a tenant admin changes the keys named in
 * `changes`; a null value goes back to the cluster setting. Unknown keys and
 * values out of range are refused before anything is written.
 */
Datum
evs_sql_set_hold_settings(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	Jsonb	   *changes;
	JsonbValue *v;
	bool		present[EVS_HOLD_SETTINGS] = {0};
	bool		nulls[EVS_HOLD_SETTINGS] = {0};
	int32		values[EVS_HOLD_SETTINGS] = {0};
	int			nchanged = 0;
	StringInfoData known;

	evs_require_admin("change the tenant's hold settings");
	tenant = evs_current_tenant();
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("set_hold_settings needs changes")));
	changes = PG_GETARG_JSONB_P(0);
	initStringInfo(&known);
	for (int i = 0; i < EVS_HOLD_SETTINGS; i++)
		appendStringInfo(&known, "%s%s", i > 0 ? ", " : "", settings[i].key);
	if (!JB_ROOT_IS_OBJECT(changes))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("changes must be a JSON object"),
						errhint("For example {\"max_seats_per_customer\": 4}.")));
	{
		JsonbIterator *it = JsonbIteratorInit(&changes->root);
		JsonbValue	jv;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &jv, true)) != WJB_DONE)
		{
			int			i;
			char	   *k;

			if (tok != WJB_KEY)
				continue;
			k = pnstrdup(jv.val.string.val, jv.val.string.len);
			for (i = 0; i < EVS_HOLD_SETTINGS; i++)
				if (strcmp(k, settings[i].key) == 0)
					break;
			if (i == EVS_HOLD_SETTINGS)
				ereport(ERROR,
						(errcode(EVS_ERR_VALIDATION),
						 errmsg("unknown hold setting \"%s\"", k),
						 errhint("Settings: %s.", known.data)));
			v = getKeyJsonValueFromContainer(&changes->root, jv.val.string.val, jv.val.string.len, NULL);
			present[i] = true;
			nchanged++;
			if (v->type == jbvNull)
				nulls[i] = true;
			else
			{
				bool		ok = v->type == jbvNumeric;
				int64		n = 0;

				if (ok)
				{
					char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));

					ok = strspn(s, "0123456789") == strlen(s) && strlen(s) <= 9;
					if (ok)
						n = strtol(s, NULL, 10);
				}
				if (!ok || n < settings[i].min || n > settings[i].max)
					ereport(ERROR,
							(errcode(EVS_ERR_VALIDATION),
							 errmsg("%s must be a whole number from %d to %d, or null", settings[i].key,
									settings[i].min, settings[i].max),
							 errhint("null goes back to the cluster setting %s.", settings[i].guc)));
				values[i] = (int32) n;
			}
		}
	}
	if (nchanged == 0)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("changes names no setting"),
						errhint("Settings: %s.", known.data)));

	evs_spi_connect();
	for (int i = 0; i < EVS_HOLD_SETTINGS; i++)
	{
		Oid			t[4] = {UUIDOID, INT4OID, TEXTOID, TIMESTAMPTZOID};
		Datum		a[4] = {tenant, Int32GetDatum(values[i]), CStringGetTextDatum(evs_current_actor()),
		TimestampTzGetDatum(evs_now())};
		char		n[4] = {' ', nulls[i] ? 'n' : ' ', ' ', ' '};
		int			rc;

		if (!present[i])
			continue;
		/* the column name comes from the table above, never from the request */
		rc = SPI_execute_with_args(psprintf("INSERT INTO eventsvc.tenant_hold_settings AS s"
											" (tenant_id, %s, updated_by, updated_at) VALUES ($1, $2, $3, $4)"
											" ON CONFLICT (tenant_id) DO UPDATE SET %s = EXCLUDED.%s,"
											" updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
											settings[i].key, settings[i].key, settings[i].key),
								   4, t, a, n, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "hold settings write failed: %s", SPI_result_code_string(rc));
	}
	CommandCounterIncrement();
	PG_RETURN_DATUM(evs_spi_finish_jsonb(settings_jsonb(tenant)));
}
