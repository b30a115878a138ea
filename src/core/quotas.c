/*
 * quotas.c: what one tenant may use of the platform. Each quota has a cluster
 * default (a superuser setting eventsvc.quota_<name>; 0 means no limit) and a
 * tenant may have its own limit, set by the platform operator in
 * eventsvc.tenant_quotas (a NULL column keeps the default). The checks:
 *
 *   events               live (not deleted) events of the tenant     api.create_event
 *   seats_per_hold       seats in one hold                           api.reserve_capacity
 *   seats_per_customer   seats one customer holds or has bought      api.reserve_capacity
 *                        per event (also capped by the event's and
 *                        the tenant's own per-customer limit)
 *   holds_per_customer   live holds of one customer per event        api.reserve_capacity
 *   document_bytes       one JSON document an api call stores        at the api's entry
 *   text_bytes           one text an api call stores                 at the api's entry
 *   counter_slots        shared seat counters the tenant's sections  when a section asks for a
 *                        hold at once (its fair share; 0: none)      counter (capacity/escrow_slots.c)
 *
 * A tenant's row is read through its primary key without SPI and kept per
 * backend while the reference generation stays the same (refcache.c: the
 * table has the reference trigger), so the hold path pays a compare. Sizes are
 * refused before anything else is done: the size of a value is in its header.
 * api.tenant_usage shows each quota with its use. docs/tenancy.md "Quotas".
 */
#include "core/core.h"

#include "access/stratnum.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "funcapi.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(evs_sql_quotas);
PG_FUNCTION_INFO_V1(evs_sql_check_document_size);
PG_FUNCTION_INFO_V1(evs_sql_check_text_size);

static int	quota_values[EVS_QUOTAS];

static const struct
{
	const char *name;			/* the quota, the column of tenant_quotas without max_ */
	const char *setting;
	const char *description;
	int			dflt;
	int			max;
	int			unit;
}			quota_defs[EVS_QUOTAS] = {
	[EVS_QUOTA_EVENTS] = {"events", "eventsvc.quota_events",
	"Live (not deleted) events one tenant may have, unless its own quota says otherwise (0: no limit).",
	10000, 100000000, 0},
	[EVS_QUOTA_SEATS_PER_HOLD] = {"seats_per_hold", "eventsvc.quota_seats_per_hold",
	"Seats in one hold, unless the tenant's own quota says otherwise (0: no limit).",
	100, 1000000, 0},
	[EVS_QUOTA_SEATS_PER_CUSTOMER] = {"seats_per_customer", "eventsvc.quota_seats_per_customer",
	"Seats one customer may hold or have bought per event, unless the tenant's own quota says otherwise (0: no limit).",
	0, 1000000, 0},
	[EVS_QUOTA_HOLDS_PER_CUSTOMER] = {"holds_per_customer", "eventsvc.quota_holds_per_customer",
	"Live holds one customer may have per event, unless the tenant's own quota says otherwise (0: no limit).",
	0, 1000000, 0},
	[EVS_QUOTA_DOCUMENT_BYTES] = {"document_bytes", "eventsvc.quota_document_bytes",
	"Size of one JSON document an api call stores, unless the tenant's own quota says otherwise (0: no limit).",
	262144, 268435456, GUC_UNIT_BYTE},
	[EVS_QUOTA_TEXT_BYTES] = {"text_bytes", "eventsvc.quota_text_bytes",
	"Size of one text an api call stores, unless the tenant's own quota says otherwise (0: no limit).",
	1048576, 268435456, GUC_UNIT_BYTE},
	/* the fair share of the shared seat counters; its setting keeps the name it had */
	[EVS_QUOTA_COUNTER_SLOTS] = {"counter_slots", "eventsvc.escrow_sections_per_tenant",
	"Shared seat counters one tenant may hold at once, unless the tenant's own quota says otherwise.",
	1000, 10000000, 0},
};

/* Called from evs_core_init: the quota defaults eventsvc.quota_<name>. */
void
evs_quotas_init(void)
{
	for (int i = 0; i < EVS_QUOTAS; i++)
		DefineCustomIntVariable(quota_defs[i].setting, quota_defs[i].description,
								i == EVS_QUOTA_COUNTER_SLOTS ?
								"0: none. Its other sections use the row-lock path (exact, one reservation at a "
								"time per section), so no tenant can take every counter." : NULL,
								&quota_values[i], quota_defs[i].dflt, 0, quota_defs[i].max, PGC_SUSET,
								quota_defs[i].unit, NULL, NULL, NULL);
}

/* The cluster default of a quota (its setting). */
int32
evs_quota_default(EvsQuota q)
{
	return quota_values[q];
}

/* The quota's name, as api.tenant_usage and the errors say it. */
const char *
evs_quota_name(EvsQuota q)
{
	return quota_defs[q].name;
}

/* The tenant's own limits (-1: none), kept while the reference generation stays the same. */
static struct
{
	bool		valid;
	uint64		generation;	/* 0 (no shared memory): read every time */
	pg_uuid_t	tenant;
	int32		limits[EVS_QUOTAS];
}			cached;

static void
load_tenant(Datum tenant)
{
	static const char *const columns[EVS_QUOTAS] = {
		"max_events", "max_seats_per_hold", "max_seats_per_customer", "max_holds_per_customer",
		"max_document_bytes", "max_text_bytes", "max_counter_slots"
	};
	uint64		generation = evs_refcache_generation();
	Datum		values[EVS_QUOTAS];
	bool		nulls[EVS_QUOTAS];
	ScanKeyData key;
	Snapshot	snap;
	Oid			nsp;
	bool		found = false;

	if (cached.valid && generation != 0 && cached.generation == generation &&
		memcmp(&cached.tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t)) == 0)
		return;
	/* a database still at 1.0 runs this library too: no tenant quotas there */
	nsp = get_namespace_oid("eventsvc", true);
	if (OidIsValid(nsp) && OidIsValid(get_relname_relid("tenant_quotas", nsp)))
	{
		snap = RegisterSnapshot(GetLatestSnapshot());
		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, tenant);
		found = evs_row_by_key("tenant_quotas", "tenant_quotas_pkey", 1, &key, snap, EVS_QUOTAS, columns,
							   values, nulls);
		UnregisterSnapshot(snap);
	}
	for (int i = 0; i < EVS_QUOTAS; i++)
		cached.limits[i] = (found && !nulls[i]) ? DatumGetInt32(values[i]) : -1;
	cached.tenant = *DatumGetUUIDP(tenant);
	cached.generation = generation;
	cached.valid = true;
}

/* The limit in force for the tenant (0: none): its own, else the default; *source says which. */
int32
evs_quota(Datum tenant, EvsQuota q, const char **source)
{
	load_tenant(tenant);
	if (cached.limits[q] >= 0)
	{
		if (source)
			*source = "tenant";
		return cached.limits[q];
	}
	if (source)
		*source = "default";
	return quota_values[q];
}

/* Raises PT429 naming the quota, what is in use and the limit. */
void
evs_quota_exceeded(EvsQuota q, int64 used, int32 limit, const char *source, const char *what)
{
	ereport(ERROR,
			(errcode(EVS_ERR_QUOTA_EXCEEDED),
			 errmsg("quota %s exceeded: %s", quota_defs[q].name, what),
			 errdetail("In use " INT64_FORMAT ", limit %d (the %s quota).", used, limit,
					   strcmp(source, "tenant") == 0 ? "tenant's own" : "platform's default"),
			 errhint("See api.tenant_usage; the platform operator sets a tenant's quotas (docs/tenancy.md \"Quotas\").")));
}

/*
 * A value an api call is about to store, refused when larger than the tenant's
 * quota: before any other work, from the size in the value's header (no
 * detoasting, no parsing). A NULL passes.
 */
void
evs_check_size(Datum tenant, const char *field, Datum value, bool isnull, bool is_document)
{
	EvsQuota	q = is_document ? EVS_QUOTA_DOCUMENT_BYTES : EVS_QUOTA_TEXT_BYTES;
	const char *source;
	int32		limit;
	Size		size;

	if (isnull)
		return;
	limit = evs_quota(tenant, q, &source);
	size = VARSIZE_ANY(DatumGetPointer(value));
	if (limit > 0 && size > (Size) limit)
		ereport(ERROR,
				(errcode(EVS_ERR_TOO_LARGE),
				 errmsg("%s: %zu bytes is larger than the quota %s allows (%d bytes)", field, size,
						quota_defs[q].name, limit),
				 errdetail("The %s quota applies.", strcmp(source, "tenant") == 0 ? "tenant's own" : "platform's default"),
				 errhint("Send less: see api.tenant_usage for the tenant's quotas.")));
}

/* eventsvc.check_document_size(field, value jsonb) and eventsvc.check_text_size(field, value text) */
static Datum
check_size_sql(FunctionCallInfo fcinfo, bool is_document)
{
	if (PG_ARGISNULL(1))
		PG_RETURN_VOID();
	evs_check_size(evs_current_tenant(), PG_ARGISNULL(0) ? "value" : text_to_cstring(PG_GETARG_TEXT_PP(0)),
				   PG_GETARG_DATUM(1), false, is_document);
	PG_RETURN_VOID();
}

Datum
evs_sql_check_document_size(PG_FUNCTION_ARGS)
{
	return check_size_sql(fcinfo, true);
}

Datum
evs_sql_check_text_size(PG_FUNCTION_ARGS)
{
	return check_size_sql(fcinfo, false);
}

/*
 * eventsvc.quotas() RETURNS TABLE (quota text, quota_limit integer, source text):
 * the caller's tenant's quotas in force (0: no limit) and where each comes from.
 */
Datum
evs_sql_quotas(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		tenant = evs_current_tenant();

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < EVS_QUOTAS; i++)
	{
		const char *source;
		int32		limit = evs_quota(tenant, (EvsQuota) i, &source);
		Datum		values[3] = {CStringGetTextDatum(quota_defs[i].name), Int32GetDatum(limit),
		CStringGetTextDatum(source)};
		bool		nulls[3] = {false, false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
