/*
 * idempotency.c: retried writes return the first call's result. A key (the
 * call's idempotency_key, else PostgREST's Idempotency-Key header) is reserved
 * in eventsvc.idempotency_keys inside the business transaction, so a failed
 * call leaves no key behind and a concurrent duplicate waits for the first.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"

/* Bound to the operation, the acting user and the request: another user's key never replays. */
static bytea *
request_hash(const char *operation, const char *actor, Jsonb *request)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	char	   *body = JsonbToCString(NULL, &request->root, VARSIZE(request));
	bytea	   *out = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) operation, strlen(operation) + 1) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) actor, strlen(actor) + 1) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) body, strlen(body)) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(out), PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute the request hash");
	pg_cryptohash_free(ctx);
	SET_VARSIZE(out, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	return out;
}

/*
 * Set while a call that took the request's key runs another writer as part of
 * its work (an exchange's reservation): that inner call must not take the
 * same key for itself.
 */
static bool header_taken = false;

/* The Idempotency-Key header PostgREST passes in request.headers, or NULL. */
static char *
header_key(void)
{
	const char *headers = GetConfigOption("request.headers", true, false);
	Jsonb	   *jb;
	JsonbValue *v;

	if (headers == NULL || headers[0] == '\0' || header_taken)
		return NULL;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(headers)));
	if (!JB_ROOT_IS_OBJECT(jb))
		return NULL;
	v = getKeyJsonValueFromContainer(&jb->root, "idempotency-key", strlen("idempotency-key"), NULL);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Whether a call may carry a key in the Idempotency-Key header (cheap: no parsing). */
bool
evs_idempotency_header_present(void)
{
	const char *headers = GetConfigOption("request.headers", true, false);

	return !header_taken && headers != NULL && strstr(headers, "\"idempotency-key\"") != NULL;
}

/*
 * Runs fn(arg) as part of a call that took the request's Idempotency-Key: the
 * writers it calls see no header (the outer call's key answers a retry).
 */
void
evs_idempotency_inner(void (*fn) (void *arg), void *arg)
{
	bool		was = header_taken;

	header_taken = true;
	PG_TRY();
	{
		fn(arg);
	}
	PG_FINALLY();
	{
		header_taken = was;
	}
	PG_END_TRY();
}

/* Reserves the call's key; returns the stored response of a replay, or NULL to go ahead. */
Jsonb *
evs_idempotency_begin(EvsIdempotency *idem, const char *operation,
					  const char *key_or_null, Jsonb *request)
{
	static SPIPlanPtr plan_reserve = NULL;
	static SPIPlanPtr plan_read = NULL;
	EvsRoleSwitch ctx;
	char	   *key = key_or_null ? pstrdup(key_or_null) : header_key();
	bytea	   *hash;
	Datum		values[6];
	Jsonb	   *replay = NULL;
	MemoryContext caller;
	int			rc;

	idem->active = false;
	idem->key = NULL;
	if (key == NULL)
		return NULL;
	if (strlen(key) < 1 || strlen(key) > 255)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("idempotency_key: must be 1 to 255 characters, got %d", (int) strlen(key)),
				 errhint("Use a UUID per logical request.")));

	idem->tenant_id = evs_current_tenant();
	hash = request_hash(operation, evs_current_actor(), request);
	values[0] = idem->tenant_id;
	values[1] = CStringGetTextDatum(key);
	values[2] = CStringGetTextDatum(operation);
	values[3] = PointerGetDatum(hash);
	values[4] = CStringGetTextDatum(evs_current_actor());
	values[5] = TimestampTzGetDatum(evs_now());

	evs_become_owner(&ctx);
	caller = CurrentMemoryContext;
	evs_spi_connect();
	if (plan_reserve == NULL)
	{
		Oid			argtypes[6] = {UUIDOID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID, TIMESTAMPTZOID};

		/*
		 * The insert either reserves the key or waits for a concurrent holder
		 * and then does nothing; the caller reads what the holder stored.
		 */
		plan_reserve = evs_spi_prepare_kept(
			"INSERT INTO eventsvc.idempotency_keys (tenant_id, key, operation, request_hash, actor_id, created_at, expires_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $6 + make_interval(secs => " CppAsString2(EVS_IDEMPOTENCY_TTL_SECONDS) "))"
			" ON CONFLICT (tenant_id, key) DO NOTHING", 6, argtypes);
	}
	if (plan_read == NULL)
	{
		Oid			argtypes[2] = {UUIDOID, TEXTOID};

		plan_read = evs_spi_prepare_kept(
			"SELECT operation, request_hash, response FROM eventsvc.idempotency_keys"
			" WHERE tenant_id = $1 AND key = $2", 2, argtypes);
	}
	/* An expired key is forgotten, so the same key may serve a new request. */
	{
		Oid			argtypes[3] = {UUIDOID, TEXTOID, TIMESTAMPTZOID};
		Datum		ev[3] = {values[0], values[1], values[5]};

		rc = SPI_execute_with_args("DELETE FROM eventsvc.idempotency_keys"
								   " WHERE tenant_id = $1 AND key = $2 AND expires_at <= $3",
								   3, argtypes, ev, NULL, false, 0);
		if (rc != SPI_OK_DELETE)
			elog(ERROR, "idempotency expiry failed: %s", SPI_result_code_string(rc));
	}
	rc = SPI_execute_plan(plan_reserve, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "idempotency reserve failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		idem->active = true;
		idem->key = key;
	}
	else
	{
		bool		n3;
		char	   *op;
		bytea	   *stored;
		Datum		resp;

		rc = SPI_execute_plan(plan_read, values, NULL, false, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "idempotency key %s vanished", key);
		op = TextDatumGetCString(evs_get_notnull(0, 1, "the key's operation"));
		stored = DatumGetByteaPP(evs_get_notnull(0, 2, "the key's request hash"));
		resp = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &n3);
		if (strcmp(op, operation) != 0 || VARSIZE_ANY_EXHDR(stored) != PG_SHA256_DIGEST_LENGTH ||
			memcmp(VARDATA_ANY(stored), VARDATA(hash), PG_SHA256_DIGEST_LENGTH) != 0)
			ereport(ERROR,
					(errcode(EVS_ERR_IDEMPOTENCY_MISMATCH),
					 errmsg("idempotency key \"%s\" was already used for a different request", key),
					 errdetail("The key was first used for %s with other parameters.", op),
					 errhint("Use a new key for a new request; a key is remembered for %d hours.",
							 EVS_IDEMPOTENCY_TTL_SECONDS / 3600)));
		if (n3)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFLICT),
					 errmsg("the request with idempotency key \"%s\" is still in progress", key),
					 errhint("Retry after the first request has finished.")));
		/* detoasted and copied into the caller's memory, which outlives SPI_finish */
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			replay = DatumGetJsonbPCopy(resp);
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();
	evs_switch_back(&ctx);
	return replay;
}

/* Stores the response under the reserved key (same transaction as the work). */
void
evs_idempotency_finish(EvsIdempotency *idem, Jsonb *response)
{
	EvsRoleSwitch ctx;
	Datum		values[3];
	Oid			argtypes[3] = {UUIDOID, TEXTOID, JSONBOID};
	int			rc;

	if (!idem->active)
		return;
	values[0] = idem->tenant_id;
	values[1] = CStringGetTextDatum(idem->key);
	values[2] = JsonbPGetDatum(response);
	evs_become_owner(&ctx);
	evs_spi_connect();
	rc = SPI_execute_with_args("UPDATE eventsvc.idempotency_keys SET response = $3"
							   " WHERE tenant_id = $1 AND key = $2",
							   3, argtypes, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "idempotency finish failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	evs_switch_back(&ctx);
	idem->active = false;
}

/*
 * Free a reserved key without a stored result: for answers that are not final
 * (a confirmation request), so the confirmed retry may use the same key.
 */
void
evs_idempotency_abandon(EvsIdempotency *idem)
{
	EvsRoleSwitch ctx;
	Datum		values[2];
	Oid			argtypes[2] = {UUIDOID, TEXTOID};
	int			rc;

	if (!idem->active)
		return;
	values[0] = idem->tenant_id;
	values[1] = CStringGetTextDatum(idem->key);
	evs_become_owner(&ctx);
	evs_spi_connect();
	rc = SPI_execute_with_args("DELETE FROM eventsvc.idempotency_keys WHERE tenant_id = $1 AND key = $2",
							   2, argtypes, values, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "idempotency abandon failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	evs_switch_back(&ctx);
	idem->active = false;
}

/* ---- the same for the api functions written in SQL ---- */

PG_FUNCTION_INFO_V1(evs_sql_idempotency_replay);
PG_FUNCTION_INFO_V1(evs_sql_idempotency_store);

/*
 * eventsvc.idempotency_replay(operation, request): with an Idempotency-Key
 * header, the stored result of the first call with that key (PT422 when the
 * key served another request), or NULL after reserving the key for this
 * call; NULL without a header. The SQL function then does its work and ends
 * with eventsvc.idempotency_store(operation, result). Every caller is a
 * tenant's write, and this is its first step: the tenant is required here
 * (42501 without one), so a write without a tenant says so rather than
 * "not found" when the row it names is not there (the tenant's filter is
 * never evaluated on no row), as the C writers and the proxy answer.
 */
Datum
evs_sql_idempotency_replay(PG_FUNCTION_ARGS)
{
	EvsIdempotency idem;
	Jsonb	   *replay;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION), errmsg("idempotency_replay needs an operation and a request")));
	(void) evs_current_tenant();
	if (!evs_idempotency_header_present())
		PG_RETURN_NULL();
	replay = evs_idempotency_begin(&idem, text_to_cstring(PG_GETARG_TEXT_PP(0)), NULL, PG_GETARG_JSONB_P(1));
	if (replay == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(replay);
}

/*
 * eventsvc.idempotency_store(operation, response): stores the response under
 * the call's Idempotency-Key when idempotency_replay reserved it in this
 * transaction for this operation and actor; returns the response either way.
 */
Datum
evs_sql_idempotency_store(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	EvsRoleSwitch ctx;
	char	   *key;
	Datum		values[5];
	int			rc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (!evs_idempotency_header_present() || (key = header_key()) == NULL)
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	values[0] = evs_current_tenant();
	values[1] = CStringGetTextDatum(key);
	values[2] = PG_GETARG_DATUM(0);
	values[3] = CStringGetTextDatum(evs_current_actor());
	values[4] = PG_GETARG_DATUM(1);
	evs_become_owner(&ctx);
	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			argtypes[5] = {UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID};

		/*
		 * A key without a response is one reserved by a transaction still at
		 * work (a failed one leaves none behind): under this actor and
		 * operation, it is this transaction's own.
		 */
		plan = evs_spi_prepare_kept("UPDATE eventsvc.idempotency_keys SET response = $5"
									" WHERE tenant_id = $1 AND key = $2 AND operation = $3 AND actor_id = $4"
									" AND response IS NULL",
									5, argtypes);
	}
	rc = SPI_execute_plan(plan, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "idempotency store failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	evs_switch_back(&ctx);
	PG_RETURN_DATUM(PG_GETARG_DATUM(1));
}
