/*
 * hold_sweep.c: releasing many holds at once, across tenants for the expiry
 * sweeper (api.expire_holds) and per event for event cancellation. Seats go
 * back to the sections' counters when the transaction commits.
 */
#include "eventsvc.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/uuid.h"
#include "capacity.h"

PG_FUNCTION_INFO_V1(evs_sql_expire_holds);
PG_FUNCTION_INFO_V1(evs_sql_release_event_holds);

static int64 give_back_grouped(void);

/*
 * Run as the schema owner: the sweeper's role has no RLS policy and works
 * across tenants; every statement below filters explicitly.
 */
static void
become_owner(Oid *saved_user, int *saved_sec)
{
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(get_namespace_oid("eventsvc", false)));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "schema eventsvc not found");
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(saved_user, saved_sec);
	SetUserIdAndSecContext(owner, *saved_sec | SECURITY_LOCAL_USERID_CHANGE);
}

/*
 * Changes the locked hold rows listed by `pick` (first column tenant, second
 * hold id, third section) to `state` and gives their seats back at commit.
 * Counters of the sections are built before any row changes (a rebuild counts
 * what this transaction sees). Returns the number of holds changed.
 */
static int64
release_picked(SPIPlanPtr pick, Datum *pick_args, const char *state)
{
	static SPIPlanPtr update_plan = NULL;
	uint64		n,
				i;
	Datum	   *tenants,
			   *ids;
	ArrayType  *ta,
			   *ia;
	Datum		uv[4];
	int			rc;
	int64		changed;
	SPITupleTable *picked;
	bool		isnull;

	rc = SPI_execute_plan(pick, pick_args, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold selection failed: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	if (n == 0)
		return 0;
	picked = SPI_tuptable;
	tenants = palloc(n * sizeof(Datum));
	ids = palloc(n * sizeof(Datum));
	for (i = 0; i < n; i++)
	{
		HeapTuple	row = picked->vals[i];

		tenants[i] = SPI_getbinval(row, picked->tupdesc, 1, &isnull);
		ids[i] = SPI_getbinval(row, picked->tupdesc, 2, &isnull);
		/* cheap after the first hold of a section: a backend-local lookup */
		(void) evs_escrow_section(tenants[i], SPI_getbinval(row, picked->tupdesc, 3, &isnull));
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	ta = construct_array(tenants, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
	ia = construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
	uv[0] = PointerGetDatum(ta);
	uv[1] = PointerGetDatum(ia);
	uv[2] = CStringGetTextDatum(state);
	uv[3] = TimestampTzGetDatum(evs_now());
	if (update_plan == NULL)
	{
		Oid			t[4] = {UUIDARRAYOID, UUIDARRAYOID, TEXTOID, TIMESTAMPTZOID};

		update_plan = evs_cap_prepare_kept(
			"WITH u AS (UPDATE eventsvc.capacity_holds AS h SET state = $3::eventsvc.hold_state, released_at = $4"
			"  FROM unnest($1, $2) AS k(tenant_id, id)"
			"  WHERE h.tenant_id = k.tenant_id AND h.id = k.id AND h.state = 'ACTIVE'"
			"  RETURNING h.tenant_id, h.capacity_id, h.quantity)"
			" SELECT tenant_id, capacity_id, sum(quantity)::int8, count(*)::int8 FROM u GROUP BY 1, 2", 4, t);
	}
	rc = evs_hold_write(update_plan, uv, NULL, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold release failed: %s", SPI_result_code_string(rc));
	changed = give_back_grouped();
	return changed;
}

/* Gives back the seats of the rows a hold-changing statement reported as (tenant, section, seats, holds). */
static int64
give_back_grouped(void)
{
	int64		changed = 0;
	bool		isnull;

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		EvsEscrowEntry *e = evs_escrow_section(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull),
											   SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));

		if (e != NULL)
			evs_escrow_give_on_commit(e, DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull)));
		changed += DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 4, &isnull));
	}
	return changed;
}

/*
 * Expire up to `limit` holds whose time has passed, across tenants, in the
 * caller's transaction (the worker's sweeper and api.expire_holds call it).
 * First the sections of the batch get their counters (before any row changes:
 * a rebuild counts what this transaction sees), then one UPDATE expires the
 * batch, restricted to those sections, by row address (the locked rows
 * cannot move before the UPDATE). A hold being confirmed or released
 * right now is skipped (SKIP LOCKED), never waited for: a buyer's open
 * transaction cannot stall the sweep; the next sweep sees how it ended.
 */
int64
evs_expire_holds(int limit)
{
	static SPIPlanPtr sections_plan = NULL;
	static SPIPlanPtr expire_plan = NULL;
	Oid			saved_user;
	int			saved_sec;
	Datum		args[4];
	int			rc;
	int64		n = 0;
	uint64		nsec;
	Datum	   *tenants,
			   *sections;
	bool		isnull;

	if (limit < 1)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("expire_holds needs a limit of at least 1")));
	become_owner(&saved_user, &saved_sec);
	evs_cap_spi_connect();
	if (sections_plan == NULL)
	{
		Oid			t[2] = {TIMESTAMPTZOID, INT4OID};
		Oid			u[4] = {TIMESTAMPTZOID, INT4OID, UUIDARRAYOID, UUIDARRAYOID};

		sections_plan = evs_cap_prepare_kept(
			"SELECT DISTINCT tenant_id, capacity_id FROM (SELECT tenant_id, capacity_id FROM eventsvc.capacity_holds"
			"  WHERE state = 'ACTIVE' AND expires_at <= $1 ORDER BY expires_at LIMIT $2) b", 2, t);
		expire_plan = evs_cap_prepare_kept(
			"WITH u AS (UPDATE eventsvc.capacity_holds AS h SET state = 'EXPIRED', released_at = $1"
			"  WHERE h.ctid = ANY (ARRAY(SELECT ctid FROM eventsvc.capacity_holds"
			"         WHERE state = 'ACTIVE' AND expires_at <= $1"
			"           AND (tenant_id, capacity_id) IN (SELECT * FROM unnest($3, $4))"
			"         ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)) AND h.state = 'ACTIVE'"
			"  RETURNING h.tenant_id, h.capacity_id, h.quantity)"
			" SELECT tenant_id, capacity_id, sum(quantity)::int8, count(*)::int8 FROM u GROUP BY 1, 2", 4, u);
	}
	args[0] = TimestampTzGetDatum(evs_now());
	args[1] = Int32GetDatum(limit);
	rc = SPI_execute_plan(sections_plan, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "expired sections query failed: %s", SPI_result_code_string(rc));
	nsec = SPI_processed;
	if (nsec > 0)
	{
		SPITupleTable *found = SPI_tuptable;

		tenants = palloc(nsec * sizeof(Datum));
		sections = palloc(nsec * sizeof(Datum));
		for (uint64 i = 0; i < nsec; i++)
		{
			tenants[i] = SPI_getbinval(found->vals[i], found->tupdesc, 1, &isnull);
			sections[i] = SPI_getbinval(found->vals[i], found->tupdesc, 2, &isnull);
			(void) evs_escrow_section(tenants[i], sections[i]);
			CHECK_FOR_INTERRUPTS();
		}
		args[2] = PointerGetDatum(construct_array(tenants, nsec, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
		args[3] = PointerGetDatum(construct_array(sections, nsec, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
		rc = evs_hold_write(expire_plan, args, NULL, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "hold expiry failed: %s", SPI_result_code_string(rc));
		n = give_back_grouped();
	}
	SPI_finish();
	SetUserIdAndSecContext(saved_user, saved_sec);
	return n;
}

/* Release every active hold of an event (event cancellation). Returns holds released. */
int64
evs_release_event_holds(Datum tenant_id, Datum event_id)
{
	static SPIPlanPtr pick = NULL;
	Oid			saved_user;
	int			saved_sec;
	Datum		args[2] = {tenant_id, event_id};
	int64		n;

	become_owner(&saved_user, &saved_sec);
	evs_cap_spi_connect();
	if (pick == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		pick = evs_cap_prepare_kept("SELECT tenant_id, id, capacity_id FROM eventsvc.capacity_holds"
							" WHERE tenant_id = $1 AND event_id = $2 AND state = 'ACTIVE' FOR UPDATE", 2, t);
	}
	n = release_picked(pick, args, "RELEASED");
	SPI_finish();
	SetUserIdAndSecContext(saved_user, saved_sec);
	return n;
}

Datum
evs_sql_expire_holds(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(evs_expire_holds(PG_ARGISNULL(0) ? 1000 : PG_GETARG_INT32(0)));
}

Datum
evs_sql_release_event_holds(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("release_event_holds needs event_id")));
	PG_RETURN_INT64(evs_release_event_holds(evs_current_tenant(), PG_GETARG_DATUM(0)));
}
