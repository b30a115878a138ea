/*
 * request_check.c: eventsvc.check_request(), the check PostgREST runs before
 * every request (db-pre-request), after it has verified the token and set the
 * role and the claims: a token without exp or living longer than
 * eventsvc.token_max_lifetime is refused, so is a revoked token (by jti), and a
 * token that names a tenant, or any tenant user's token, must name an existing,
 * active one; and the rate limits (rate_limit.c) of a tenant's tokens and of
 * anonymous callers are applied.
 *
 * It runs on every HTTP request, so it reads what it needs without SPI: the
 * claims parsed once per claims text (tenancy.c), the revocation by a probe of
 * the revoked_tokens primary key, the tenant through the cache of
 * evs_current_tenant. Invoker rights: the tenant rule depends on the caller's
 * role. No API role may read revoked_tokens, and none needs to: the probe reads
 * the index directly, as the tenant check reads the tenants table.
 */
#include "core/core.h"

#include "access/stratnum.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(evs_sql_check_request);

/* Is this jti revoked, with a revocation not yet past its expires_at? */
static bool
token_is_revoked(const char *jti)
{
	static const char *const columns[] = {"expires_at"};
	ScanKeyData key;
	Datum		expires_at;
	bool		isnull;

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid, DEFAULT_COLLATION_OID, F_TEXTEQ,
						   PointerGetDatum(cstring_to_text(jti)));
	if (!evs_row_by_key("revoked_tokens", "revoked_tokens_pkey", 1, &key, GetActiveSnapshot(),
						1, columns, &expires_at, &isnull))
		return false;
	return !isnull && DatumGetTimestampTz(expires_at) > evs_now();
}

/*
 * Every token expires, and not too far ahead: a stolen token is good for
 * eventsvc.token_max_lifetime at most (PostgREST itself refuses it once exp has
 * passed). Counted from now and, when the token says when it was issued, from
 * iat. A request without a token runs as eventsvc_anon: nothing to check.
 */
static void
check_lifetime(const EvsClaims *claims)
{
	double		max = evs_token_max_lifetime();
	double		now = (double) GetCurrentTransactionStartTimestamp() / USECS_PER_SEC +
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;	/* Unix seconds, like exp */

	if (!claims->has_exp)
		ereport(ERROR,
				(errcode(EVS_ERR_TOKEN_REJECTED),
				 errmsg("the token has no expiry: the exp claim is required"),
				 errhint("Sign in again; tokens must carry exp (a NumericDate).")));
	if (claims->exp - now > max || (claims->has_iat && claims->exp - claims->iat > max))
		ereport(ERROR,
				(errcode(EVS_ERR_TOKEN_REJECTED),
				 errmsg("the token lives longer than this service accepts"),
				 errdetail("Its exp is more than %d seconds after %s; eventsvc.token_max_lifetime is %d seconds.",
						   (int) max, claims->has_iat ? "its iat or now" : "now", (int) max),
				 errhint("Ask the auth service for a token with a shorter lifetime.")));
}

/* Is this request PostgREST's anonymous role (eventsvc_anon)? */
static bool
is_anonymous(void)
{
	Oid			anon = get_role_oid("eventsvc_anon", true);

	return OidIsValid(anon) && GetUserId() == anon;
}

/* eventsvc.check_request() RETURNS void: raises PT401, 42501 or PGRST (429), else nothing. */
Datum
evs_sql_check_request(PG_FUNCTION_ARGS)
{
	const EvsClaims *claims = evs_request_claims();
	Datum		tenant = (Datum) 0;

	if (claims == NULL)
	{
		/* a request without a token, or a trusted SQL client (not limited) */
		if (is_anonymous())
			evs_rate_limit_check((Datum) 0, true);
		PG_RETURN_VOID();
	}
	if (!claims->is_object)
		ereport(ERROR,
				(errcode(EVS_ERR_TOKEN_REVOKED),
				 errmsg("the token claims are not a JSON object"),
				 errhint("Sign in again to get a new token.")));
	if (!is_anonymous())
		check_lifetime(claims);
	if (claims->jti != NULL && token_is_revoked(claims->jti))
		ereport(ERROR,
				(errcode(EVS_ERR_TOKEN_REVOKED),
				 errmsg("this token has been revoked"),
				 errdetail("Token id (jti) %s was revoked by the auth service.", claims->jti),
				 errhint("Sign in again to get a new token.")));

	/*
	 * Tenant users and admins always act for one tenant: their token must name
	 * an existing, active one. Other roles (service) are checked when they name
	 * one. evs_current_tenant raises 42501 (403) with the reason.
	 */
	if (claims->has_tenant_id || is_member_of_role(GetUserId(), get_role_oid("eventsvc_user", false)))
		tenant = evs_current_tenant();

	/* other platform services (the service role) are not limited */
	if (is_anonymous())
		evs_rate_limit_check((Datum) 0, true);
	else if (tenant != (Datum) 0 && !evs_is_service())
		evs_rate_limit_check(tenant, false);
	PG_RETURN_VOID();
}
