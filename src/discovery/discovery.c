/*
 * discovery.c: who may see what in the discovery reads (search, featured,
 * occurrences, content), the service-role gate of the internal lookups with the
 * scope of each service call (one tenant, or the platform with an explicit
 * claim), and the limits on event metadata's custom fields.
 *
 * The discovery reads are SECURITY DEFINER (the anonymous role has no tenant and
 * no table rights), so they ask here for the caller's scope instead of RLS.
 */
#include "discovery/discovery.h"

#include "miscadmin.h"
#include "catalog/pg_authid.h"
#include "mb/pg_wchar.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(evs_sql_caller_scope);
PG_FUNCTION_INFO_V1(evs_sql_require_service);
PG_FUNCTION_INFO_V1(evs_sql_service_scope);
PG_FUNCTION_INFO_V1(evs_sql_check_custom_fields);
PG_FUNCTION_INFO_V1(evs_sql_session_role);

/* custom_fields limits: a flat object of short scalars (docs/discovery.md) */
#define CUSTOM_FIELDS_MAX_KEYS		50
#define CUSTOM_FIELD_KEY_MAX		64
#define CUSTOM_FIELD_VALUE_MAX		1000

/* The caller as the session sees it (SET ROLE), not the definer of the running function. */
static bool
caller_has_role(const char *rolname)
{
	Oid			role = get_role_oid(rolname, true);

	return OidIsValid(role) && has_privs_of_role(GetOuterUserId(), role);
}

static bool
tenant_is_configured(void)
{
	const char *claims = GetConfigOption("request.jwt.claims", true, false);
	const char *setting;

	if (claims != NULL && claims[0] != '\0')
		return strstr(claims, "\"tenant_id\"") != NULL;	/* evs_current_tenant parses and checks it */
	setting = GetConfigOption("app.current_tenant_id", true, false);
	return setting != NULL && setting[0] != '\0';
}

/*
 * eventsvc.caller_scope() RETURNS uuid: the tenant whose rows the caller sees in
 * full, or NULL when the caller sees only the public catalogue.
 *   - tenant users and admins: their tenant (an error when none or inactive);
 *   - the service role and superusers: their tenant when they name one, else public;
 *   - everyone else (eventsvc_anon): public, whatever settings they make.
 */
Datum
evs_sql_caller_scope(PG_FUNCTION_ARGS)
{
	Oid			outer = GetOuterUserId();

	if (superuser_arg(outer) || caller_has_role("eventsvc_service"))
	{
		if (tenant_is_configured())
			PG_RETURN_DATUM(evs_current_tenant());
		PG_RETURN_NULL();
	}
	if (caller_has_role("eventsvc_user"))
		PG_RETURN_DATUM(evs_current_tenant());
	PG_RETURN_NULL();
}

/*
 * eventsvc.session_role() RETURNS text: the role the session acts as (SET ROLE,
 * PostgREST's role switch), also inside SECURITY DEFINER functions, where
 * current_user is the definer. For audit rows written by definer triggers.
 */
Datum
evs_sql_session_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(GetUserNameFromId(GetOuterUserId(), false)));
}

static void
require_service(const char *action)
{
	if (!superuser_arg(GetOuterUserId()) && !caller_has_role("eventsvc_service"))
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("only the service role may %s", action),
				 errdetail("The caller is role \"%s\".", GetUserNameFromId(GetOuterUserId(), false)),
				 errhint("Internal lookups are for other platform services; call with a service token (role eventsvc_service).")));
}

/* eventsvc.require_service(action) RETURNS void: 42501 unless the caller is the service role. */
Datum
evs_sql_require_service(PG_FUNCTION_ARGS)
{
	require_service(PG_ARGISNULL(0) ? "call this function" : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * The tenant a service call names. A tenant this database does not hold is
 * not an error: the call's statements keep to it and find nothing ("not
 * found", as for another tenant's event; behind the scale-out proxy such a
 * call reaches every shard). A malformed or inactive one is refused.
 */
static Datum
named_tenant(void)
{
	const EvsClaims *claims = evs_request_claims();
	const char *raw = claims != NULL ? claims->tenant_id : GetConfigOption("app.current_tenant_id", true, false);
	pg_uuid_t  *id;
	bool		active;

	if (raw == NULL || !evs_is_uuid_text(raw))
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("tenant id \"%s\" is not a valid UUID", raw ? raw : "(not a string)"),
				 errhint("A tenant id looks like 6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f.")));
	id = DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(raw)));
	if (evs_lookup_tenant(id, &active) && !active)
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("tenant %s is not active", raw),
				 errhint("An inactive tenant cannot read or change anything; ask the platform operator to reactivate it.")));
	return UUIDPGetDatum(id);
}

/*
 * eventsvc.service_scope(action) RETURNS uuid: for the service role's internal
 * calls (and superusers). A service whose token names a tenant (claim
 * tenant_id; a trusted SQL client: app.current_tenant_id) acts for that tenant
 * only: its tenant comes back and the caller keeps to it. A call for the whole
 * platform (NULL) needs the explicit platform scope; a superuser has it. A
 * service that names neither is refused (42501). See docs/tenancy.md.
 */
Datum
evs_sql_service_scope(PG_FUNCTION_ARGS)
{
	const char *action = PG_ARGISNULL(0) ? "call this function" : text_to_cstring(PG_GETARG_TEXT_PP(0));

	require_service(action);
	if (tenant_is_configured())
		PG_RETURN_DATUM(named_tenant());
	if (evs_platform_scope() || superuser_arg(GetOuterUserId()))
		PG_RETURN_NULL();
	ereport(ERROR,
			(errcode(EVS_ERR_FORBIDDEN),
			 errmsg("a service call that names no tenant needs the platform scope to %s", action),
			 errdetail("The token names no tenant_id and its scope claim does not hold \"platform\"."),
			 errhint("Use a service token that names the tenant (tenant_id), or one with \"scope\": \"platform\" "
					 "for platform-wide calls; a trusted SQL client sets app.current_tenant_id or app.scope = 'platform'.")));
	PG_RETURN_NULL();
}

static void pg_attribute_noreturn()
custom_field_error(const char *problem, const char *key)
{
	ereport(ERROR,
			(errcode(EVS_ERR_VALIDATION),
			 errmsg("invalid custom_fields: %s", problem),
			 key ? errdetail("The offending key is \"%s\".", key) : 0,
			 errhint("custom_fields is a flat JSON object of at most %d keys; keys match ^[a-z][a-z0-9_]{0,63}$; "
					 "values are strings of at most %d characters, numbers, booleans or null.",
					 CUSTOM_FIELDS_MAX_KEYS, CUSTOM_FIELD_VALUE_MAX)));
}

static bool
valid_key(const char *s, int len)
{
	int			i;

	if (len < 1 || len > CUSTOM_FIELD_KEY_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/*
 * eventsvc.check_custom_fields(jsonb) RETURNS boolean: true, or a validation
 * error saying which key is wrong (used by a CHECK constraint, so every writer
 * is held to it, not only the API function).
 */
Datum
evs_sql_check_custom_fields(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(true);
	jb = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(jb))
		custom_field_error("it must be a JSON object", NULL);
	if (JB_ROOT_COUNT(jb) > CUSTOM_FIELDS_MAX_KEYS)
		custom_field_error("too many keys", NULL);

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_KEY:
				key = pnstrdup(v.val.string.val, v.val.string.len);
				if (!valid_key(v.val.string.val, v.val.string.len))
					custom_field_error("a key is not a lower-case identifier of 1 to 64 characters", key);
				break;
			case WJB_VALUE:
				if (v.type == jbvBinary)
					custom_field_error("values must be scalars, not objects or arrays", key);
				if (v.type == jbvString &&
					pg_mbstrlen_with_len(v.val.string.val, v.val.string.len) > CUSTOM_FIELD_VALUE_MAX)
					custom_field_error("a string value is too long", key);
				break;
			default:
				break;
		}
	}
	PG_RETURN_BOOL(true);
}

/* read by api.health_ready (current_setting) */
static int	evs_ready_max_outbox_lag_seconds = 60;

/* Settings of the health checks (api.health_ready). */
void
evs_discovery_init(void)
{
	DefineCustomIntVariable("eventsvc.ready_max_outbox_lag_seconds",
							"Oldest pending outbox message age above which api.health_ready() reports not ready.",
							"A backlog older than this means events are not reaching the broker.",
							&evs_ready_max_outbox_lag_seconds,
							60, 1, 86400,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}
