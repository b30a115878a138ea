/*
 * customer_limit.c: how many seats one customer may hold or have bought per
 * event. The limit is, most specific first, the event's own
 * (eventsvc.event_customer_limits), the tenant's default, the cluster's
 * eventsvc.max_seats_per_holder (0: none); a tier's max_per_customer applies
 * on top to reservations in that tier, and the tenant's quotas (quotas.c:
 * seats and live holds per customer) cap all of them. Seats are counted across
 * every tier and holds without a tier: the customer's holds whose seats are
 * taken (live and confirmed).
 *
 * The count is exact under concurrency without touching the section: the
 * reservations of one customer on one event take a transaction lock on
 * (event, customer) and count with the latest snapshot, so two sessions of one
 * customer see each other's committed holds, while different customers never
 * wait for each other. With no limit in force the reservation pays one
 * backend-local lookup (the event's limit is kept per backend like the
 * section row, refcache.c). docs/holds.md "Per-customer limits".
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"

PG_FUNCTION_INFO_V1(evs_sql_set_customer_limit);
PG_FUNCTION_INFO_V1(evs_sql_seat_allowance);

#define EVS_LOCK_HOLDER 0x4557	/* advisory lock class: one customer on one event */
#define REFKEY_EVENT_LIMIT 4	/* refcache key kind (reserve.c 1, 2; hold_settings.c 3) */

int			evs_max_seats_per_holder = 0;

/* Called from evs_capacity_init: the cluster's limit, which tenants and events may override. */
void
evs_customer_limit_init(void)
{
	DefineCustomIntVariable("eventsvc.max_seats_per_holder",
							"Seats one customer may hold or have bought per event, unless the tenant or the event "
							"sets its own (0: only the tier's max_per_customer).",
							NULL, &evs_max_seats_per_holder, 0, 0, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
}

/* The event's own limit, 0 when it has none; kept per backend. SPI connected. */
static int32
event_limit(Datum tenant, Datum event_id)
{
	static SPIPlanPtr plan = NULL;
	EvsRefKey	key;
	uint64		generation;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		v[2] = {tenant, event_id};
	Datum		limit;
	int			rc;

	if (!evs_holds_schema_ready())
		return 0;
	memset(&key, 0, sizeof(key));
	key.kind = REFKEY_EVENT_LIMIT;
	memcpy(key.ids[0], DatumGetUUIDP(tenant)->data, UUID_LEN);
	memcpy(key.ids[1], DatumGetUUIDP(event_id)->data, UUID_LEN);
	generation = evs_refcache_generation();
	row = evs_refcache_lookup(&key, generation, &desc);
	if (row == NULL)
	{
		if (plan == NULL)
		{
			Oid			t[2] = {UUIDOID, UUIDOID};

			plan = evs_spi_prepare_kept("SELECT (SELECT l.max_seats_per_customer FROM eventsvc.event_customer_limits l"
										" WHERE l.tenant_id = $1 AND l.event_id = $2)", 2, t);
		}
		rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "customer limit lookup failed: %s", SPI_result_code_string(rc));
		row = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		evs_refcache_store(&key, generation, row, desc);
	}
	limit = SPI_getbinval(row, desc, 1, &isnull);
	return isnull ? 0 : DatumGetInt32(limit);
}

/* The limit in force for the event: its own, the tenant's default, the cluster's (0: none). */
static int32
customer_limit(Datum tenant, Datum event_id, const char **source)
{
	int32		limit = event_limit(tenant, event_id);

	*source = "event";
	if (limit == 0)
	{
		limit = evs_hold_setting(tenant, EVS_SETTING_MAX_SEATS);
		*source = "default";
	}
	return limit;
}

/* Orders the reservations of one customer on one event (until commit). */
static void
lock_customer(Datum event_id, const char *holder)
{
	LOCKTAG		tag;
	uint32		ev = hash_bytes((const unsigned char *) DatumGetUUIDP(event_id), UUID_LEN);
	uint32		h = hash_bytes((const unsigned char *) holder, strlen(holder));

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, ev, h, EVS_LOCK_HOLDER);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Seats the customer holds or has bought for the event (and still waits for
 * on its waitlists), and how many of its
 * holds are live (ACTIVE, not past their expiry), from the latest committed
 * rows (and its own).
 */
static int64
customer_seats(Datum tenant, Datum event_id, const char *holder, int64 *live_holds)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[4] = {tenant, event_id, CStringGetTextDatum(holder), TimestampTzGetDatum(evs_now())};
	bool		isnull;
	int			rc;

	if (plan == NULL)
	{
		Oid			t[4] = {UUIDOID, UUIDOID, TEXTOID, TIMESTAMPTZOID};

		/* and the seats the customer still waits for on waitlists of the event (1.1) */
		plan = evs_spi_prepare_kept(evs_holds_schema_ready()
									? "SELECT h.seats + (SELECT coalesce(sum(quantity - gathered), 0) FROM eventsvc.waitlist_entries"
									"   WHERE tenant_id = $1 AND event_id = $2 AND holder_id = $3 AND state = 'WAITING')::int8,"
									" h.live FROM (SELECT coalesce(sum(quantity), 0)::int8 AS seats,"
									"   count(*) FILTER (WHERE state = 'ACTIVE' AND expires_at > $4) AS live"
									"   FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND event_id = $2 AND holder_id = $3"
									"   AND state IN " EVS_SEAT_STATES ") h"
									: "SELECT coalesce(sum(quantity), 0)::int8,"
									" count(*) FILTER (WHERE state = 'ACTIVE' AND expires_at > $4)"
									" FROM eventsvc.capacity_holds"
									" WHERE tenant_id = $1 AND event_id = $2 AND holder_id = $3"
									" AND state IN " EVS_SEAT_STATES, 4, t);
	}
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "customer seat count failed: %s", SPI_result_code_string(rc));
	*live_holds = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The seats one customer may have for the event: the event's own or the
 * tenant's default limit, the tier's, and the tenant's quota
 * (docs/tenancy.md "Quotas"), the smallest that is set (0: none); *source
 * names it.
 */
static int32
seat_limit(Datum tenant, Datum event_id, int32 tier_limit, const char **source)
{
	const char *quota_source;
	int32		limit = customer_limit(tenant, event_id, source);
	int32		quota = evs_quota(tenant, EVS_QUOTA_SEATS_PER_CUSTOMER, &quota_source);

	if (tier_limit > 0 && (limit == 0 || tier_limit < limit))
	{
		limit = tier_limit;
		*source = "tier";
	}
	if (quota > 0 && (limit == 0 || quota < limit))
	{
		limit = quota;
		*source = "quota";
	}
	return limit;
}

/* Refuses a reservation that would take the holder past the per-customer limit or quotas of the event. */
void
evs_customer_limit_check(Datum tenant, Datum event_id, const char *holder, int32 tier_limit, int32 quantity)
{
	const char *source,
			   *hold_source;
	int32		limit = seat_limit(tenant, event_id, tier_limit, &source);
	int32		hold_quota = evs_quota(tenant, EVS_QUOTA_HOLDS_PER_CUSTOMER, &hold_source);
	int64		has,
				live,
				more;

	if (limit == 0 && hold_quota == 0)
		return;
	lock_customer(event_id, holder);
	has = customer_seats(tenant, event_id, holder, &live);
	if (hold_quota > 0 && live >= hold_quota)
		evs_quota_exceeded(EVS_QUOTA_HOLDS_PER_CUSTOMER, live, hold_quota, hold_source,
						   psprintf("%s already has " INT64_FORMAT " live holds for this event", holder, live));
	if (limit == 0 || has + quantity <= limit)
		return;
	if (strcmp(source, "quota") == 0)
	{
		const char *quota_source;

		(void) evs_quota(tenant, EVS_QUOTA_SEATS_PER_CUSTOMER, &quota_source);
		evs_quota_exceeded(EVS_QUOTA_SEATS_PER_CUSTOMER, has, limit, quota_source,
						   psprintf("%s holds or has bought " INT64_FORMAT " seats of this event and asks for %d more",
									holder, has, quantity));
	}
	more = has >= limit ? 0 : limit - has;
	ereport(ERROR,
			(errcode(EVS_ERR_CONFLICT),
			 errmsg("at most %d seats per buyer for this event: %s already has " INT64_FORMAT, limit, holder, has),
			 errdetail("Ask for at most " INT64_FORMAT " more.", more),
			 errhint("The %s limit is %d seats, counted over every tier and holds without a tier.", source, limit)));
}

/* The event in the caller's tenant, or PT404. SPI connected. */
static void
require_event(Datum tenant, Datum event_id)
{
	Datum		v[2] = {tenant, event_id};
	Oid			t[2] = {UUIDOID, UUIDOID};
	int			rc;

	rc = SPI_execute_with_args("SELECT 1 FROM eventsvc.events WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
							   2, t, v, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "event lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("event %s not found", evs_uuid_text(event_id))));
}

/*
 * api.set_customer_limit(event_id, max_seats): a tenant admin sets the event's
 * per-customer limit; NULL removes it (the tenant's default applies again).
 * Holds made before stay; later reservations meet the new limit.
 */
Datum
evs_sql_set_customer_limit(PG_FUNCTION_ARGS)
{
	Datum		tenant,
				event_id;
	Datum		v[4];
	Oid			t[4] = {UUIDOID, UUIDOID, INT4OID, TEXTOID};
	int			rc;
	JsonbParseState *st = NULL;
	Jsonb	   *result;

	evs_require_admin("set a per-customer limit");
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("set_customer_limit needs event_id")));
	if (!PG_ARGISNULL(1) && (PG_GETARG_INT32(1) < 1 || PG_GETARG_INT32(1) > 1000000))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("max_seats must be from 1 to 1000000, not %d", PG_GETARG_INT32(1)),
				 errhint("Pass null to remove the event's limit (the tenant's default then applies).")));
	tenant = evs_current_tenant();
	event_id = PG_GETARG_DATUM(0);
	v[0] = tenant;
	v[1] = event_id;
	v[2] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	v[3] = CStringGetTextDatum(evs_current_actor());
	evs_spi_connect();
	require_event(tenant, event_id);
	if (PG_ARGISNULL(1))
		rc = SPI_execute_with_args("DELETE FROM eventsvc.event_customer_limits WHERE tenant_id = $1 AND event_id = $2",
								   2, t, v, NULL, false, 0);
	else
		rc = SPI_execute_with_args("INSERT INTO eventsvc.event_customer_limits AS l"
								   " (tenant_id, event_id, max_seats_per_customer, updated_by) VALUES ($1, $2, $3, $4)"
								   " ON CONFLICT (tenant_id, event_id) DO UPDATE SET max_seats_per_customer = $3,"
								   " updated_by = $4, updated_at = now()", 4, t, v, NULL, false, 0);
	if (rc != SPI_OK_DELETE && rc != SPI_OK_INSERT)
		elog(ERROR, "customer limit write failed: %s", SPI_result_code_string(rc));
	CommandCounterIncrement();
	{
		const char *source;
		int32		limit = customer_limit(tenant, event_id, &source);

		(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		evs_jsonb_push_text(&st, "event_id", evs_uuid_text(event_id));
		if (PG_ARGISNULL(1))
			evs_jsonb_push_text(&st, "max_seats_per_customer", NULL);
		else
			evs_jsonb_push_int(&st, "max_seats_per_customer", PG_GETARG_INT32(1));
		evs_jsonb_push_int(&st, "limit_in_force", limit);
		evs_jsonb_push_text(&st, "source", limit == 0 ? "none" : source);
		result = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	}
	PG_RETURN_DATUM(evs_spi_finish_jsonb(result));
}

/*
 * api.seat_allowance(event_id, pricing_id): how many more seats the caller may
 * hold for the event (in the tier, when given). Read without the lock: a
 * reservation made meanwhile counts at the reservation's own check.
 */
Datum
evs_sql_seat_allowance(PG_FUNCTION_ARGS)
{
	Datum		tenant,
				event_id;
	char	   *holder = evs_current_actor();
	const char *source;
	int64		live;
	int32		limit;
	int32		tier_limit = 0;
	int64		has;
	JsonbParseState *st = NULL;
	Jsonb	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("seat_allowance needs event_id")));
	tenant = evs_current_tenant();
	event_id = PG_GETARG_DATUM(0);
	evs_spi_connect();
	require_event(tenant, event_id);
	if (!PG_ARGISNULL(1))
	{
		Datum		v[3] = {tenant, PG_GETARG_DATUM(1), event_id};
		Oid			t[3] = {UUIDOID, UUIDOID, UUIDOID};
		bool		isnull;
		Datum		d;
		int			rc;

		rc = SPI_execute_with_args("SELECT max_per_customer FROM eventsvc.event_pricing"
								   " WHERE tenant_id = $1 AND id = $2 AND event_id = $3", 3, t, v, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "tier lookup failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 0)
			ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND),
							errmsg("pricing tier %s not found for this event", evs_uuid_text(PG_GETARG_DATUM(1)))));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		tier_limit = isnull ? 0 : DatumGetInt32(d);
	}
	limit = seat_limit(tenant, event_id, tier_limit, &source);
	has = customer_seats(tenant, event_id, holder, &live);
	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	evs_jsonb_push_text(&st, "event_id", evs_uuid_text(event_id));
	evs_jsonb_push_text(&st, "holder_id", holder);
	if (limit == 0)
	{
		evs_jsonb_push_text(&st, "limit", NULL);
		evs_jsonb_push_text(&st, "remaining", NULL);
	}
	else
	{
		evs_jsonb_push_int(&st, "limit", limit);
		evs_jsonb_push_int(&st, "remaining", has >= limit ? 0 : limit - has);
	}
	evs_jsonb_push_int(&st, "seats", has);
	evs_jsonb_push_text(&st, "source", limit == 0 ? "none" : source);
	result = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	PG_RETURN_DATUM(evs_spi_finish_jsonb(result));
}
