/*
 * tenancy.c: who is calling, for which tenant. Fails closed: no tenant, a
 * malformed id, an unknown or inactive tenant are errors, never "all rows".
 *
 * The tenant comes from the JWT claims PostgREST verified (request.jwt.claims,
 * claim tenant_id); only when no claims are present does a trusted SQL client's
 * session setting app.current_tenant_id count. See docs/tenancy.md.
 */
#include "core/core.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

/*
 * The longest a token may live: the pre-request check (eventsvc.check_request)
 * refuses a token whose exp lies further than this after now or after its iat.
 */
static int	token_max_lifetime = 86400;

/* eventsvc.token_max_lifetime in seconds (the pre-request check reads it). */
int
evs_token_max_lifetime(void)
{
	return token_max_lifetime;
}

/* Called from evs_core_init: the tenancy's settings (eventsvc.token_max_lifetime). */
void
evs_tenancy_init(void)
{
	DefineCustomIntVariable("eventsvc.token_max_lifetime",
							"Longest lifetime of a token: exp at most this long after now and after iat.",
							"Checked by eventsvc.check_request, PostgREST's pre-request function; a token without exp is refused.",
							&token_max_lifetime, 86400, 60, 30 * 86400, PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

PG_FUNCTION_INFO_V1(evs_sql_current_tenant_id);
PG_FUNCTION_INFO_V1(evs_sql_current_actor);
PG_FUNCTION_INFO_V1(evs_sql_is_tenant_admin);

/*
 * The last tenant validated, keyed by the raw source text: good for the rest
 * of its transaction, and for later ones while the reference generation
 * (refcache.c: raised by every change to eventsvc.tenants) has not moved.
 */
static LocalTransactionId cached_lxid = InvalidLocalTransactionId;
static uint64 cached_generation = 0;
static char cached_source[128];
static pg_uuid_t cached_tenant;

/*
 * The claims of the request, parsed once per claims text: PostgREST sets
 * request.jwt.claims per transaction, and the tenant check, the actor, the
 * pre-request check and RLS (through the tenant) all read them, several times a
 * request. Parsing is a function of the text alone, so the parsed copy is good
 * for as long as the text stays the same, across transactions too; comparing the
 * text is the only cost of a repeated read.
 */
static EvsClaims parsed;
static char *parsed_text = NULL;	/* the text of `parsed` (TopMemoryContext) */

static JsonbValue *
claim_key(Jsonb *jb, const char *key)
{
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
}

/* The verified JWT claims of this request, parsed once per claims text; NULL without claims. */
const EvsClaims *
evs_request_claims(void)
{
	const char *text = GetConfigOption("request.jwt.claims", true, false);
	MemoryContext old;
	Jsonb	   *jb;
	JsonbValue *v;
	EvsClaims	next = {0};

	if (text == NULL || text[0] == '\0')
		return NULL;
	if (parsed_text != NULL && strcmp(parsed_text, text) == 0)
		return &parsed;

	/* parse first: malformed JSON raises here and leaves the last copy untouched */
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	old = MemoryContextSwitchTo(TopMemoryContext);
	next.is_object = JB_ROOT_IS_OBJECT(jb);
	if (next.is_object)
	{
		v = claim_key(jb, "tenant_id");
		next.has_tenant_id = v != NULL;
		if (v != NULL && v->type == jbvString)
			next.tenant_id = pnstrdup(v->val.string.val, v->val.string.len);
		v = claim_key(jb, "sub");
		if (v != NULL && v->type == jbvString)
			next.sub = pnstrdup(v->val.string.val, v->val.string.len);
		next.jti = evs_jsonb_text(claim_key(jb, "jti"));
		v = claim_key(jb, "exp");
		next.has_exp = v != NULL && v->type == jbvNumeric;
		if (next.has_exp)
			next.exp = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v->val.numeric)));
		v = claim_key(jb, "iat");
		next.has_iat = v != NULL && v->type == jbvNumeric;
		if (next.has_iat)
			next.iat = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v->val.numeric)));
		v = claim_key(jb, "scope");
		if (v != NULL && v->type == jbvString)
			next.scope = pnstrdup(v->val.string.val, v->val.string.len);
	}
	if (parsed_text != NULL)
	{
		pfree(parsed_text);
		if (parsed.tenant_id)
			pfree(parsed.tenant_id);
		if (parsed.sub)
			pfree(parsed.sub);
		if (parsed.jti)
			pfree(parsed.jti);
		if (parsed.scope)
			pfree(parsed.scope);
	}
	parsed = next;
	parsed_text = pstrdup(text);
	MemoryContextSwitchTo(old);
	return &parsed;
}

/* Is s a UUID written the canonical way (8-4-4-4-12 hex digits)? */
bool
evs_is_uuid_text(const char *s)
{
	static const int dash_at[] = {8, 13, 18, 23};
	int			i,
				d = 0;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++)
	{
		if (d < 4 && i == dash_at[d])
		{
			if (s[i] != '-')
				return false;
			d++;
		}
		else if (!isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}

/*
 * The OIDs of eventsvc's own relations by name, kept per backend: the hold
 * path looks several up per reservation, each two catalog lookups. Any
 * relcache or namespace invalidation (a relation dropped, renamed or
 * re-created, the schema renamed; processed at transaction start and at every
 * lock) empties the list; a namespace invalidation (the schema renamed or
 * given to another owner) forgets the schema's owner too.
 */
#define RELATION_OIDS_MAX 16

static struct
{
	char		name[NAMEDATALEN];
	Oid			oid;
}			relation_oids[RELATION_OIDS_MAX];
static int	n_relation_oids = 0;

static void
relation_oids_forget(Datum arg, Oid relid)
{
	n_relation_oids = 0;
}

static Oid	schema_owner = InvalidOid;

static void
relation_oids_forget_all(Datum arg, int cacheid, uint32 hashvalue)
{
	n_relation_oids = 0;
	schema_owner = InvalidOid;
}

static void
register_callbacks(void)
{
	static bool done = false;

	if (!done)
	{
		CacheRegisterRelcacheCallback(relation_oids_forget, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, relation_oids_forget_all, (Datum) 0);
		done = true;
	}
}

/* The owner of schema eventsvc (the extension's owner), kept until the schema changes. */
Oid
evs_schema_owner(void)
{
	HeapTuple	tup;

	if (OidIsValid(schema_owner))
		return schema_owner;
	register_callbacks();
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(get_namespace_oid("eventsvc", false)));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for schema eventsvc");
	schema_owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return schema_owner;
}

/* The OID of eventsvc.<relname>, kept until a relcache or namespace invalidation. */
Oid
evs_relation_oid(const char *relname)
{
	Oid			nsp;
	Oid			rel;

	evs_require_current_schema();
	for (int i = 0; i < n_relation_oids; i++)
		if (strcmp(relation_oids[i].name, relname) == 0)
			return relation_oids[i].oid;
	nsp = get_namespace_oid("eventsvc", true);
	rel = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("eventsvc.%s does not exist", relname),
				 errhint("Run CREATE EXTENSION eventsvc CASCADE in this database.")));
	register_callbacks();
	if (n_relation_oids < RELATION_OIDS_MAX && strlen(relname) < NAMEDATALEN)
	{
		strlcpy(relation_oids[n_relation_oids].name, relname, NAMEDATALEN);
		relation_oids[n_relation_oids].oid = rel;
		n_relation_oids++;
	}
	return rel;
}

/*
 * The one row of eventsvc.<relname> whose index <index_name> matches `keys`
 * (heap attribute numbers), read through the index without SPI, RLS or a
 * privilege check, under `snapshot`. False when there is none; else the named
 * columns in values/nulls (by-reference values point into a copy of the row).
 * The caller filters by tenant through the keys.
 */
bool
evs_row_by_key(const char *relname, const char *index_name, int nkeys, ScanKey keys, Snapshot snapshot,
			   int ncolumns, const char *const *columns, Datum *values, bool *nulls)
{
	Relation	rel = table_open(evs_relation_oid(relname), AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	SysScanDesc scan;
	HeapTuple	tup;

	scan = systable_beginscan(rel, evs_relation_oid(index_name), true, snapshot, nkeys, keys);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		tup = heap_copytuple(tup);
		for (int i = 0; i < ncolumns; i++)
		{
			int			attno = SPI_fnumber(desc, columns[i]);

			if (attno <= 0)
				elog(ERROR, "eventsvc.%s has no column %s", relname, columns[i]);
			values[i] = heap_getattr(tup, attno, desc, &nulls[i]);
		}
	}
	systable_endscan(scan);
	table_close(rel, NoLock);
	return HeapTupleIsValid(tup);
}

/*
 * Look the tenant up directly through its primary key index: no SPI, no RLS
 * (this is the check RLS itself relies on), and no privilege on the table needed.
 * Returns true and sets *active when found.
 */
bool
evs_lookup_tenant(pg_uuid_t *id, bool *active)
{
	static const char *const columns[] = {"is_active"};
	ScanKeyData key;
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Datum		value;
	bool		isnull;
	bool		found;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(id));
	found = evs_row_by_key("tenants", "tenants_pkey", 1, &key, snap, 1, columns, &value, &isnull);
	UnregisterSnapshot(snap);
	if (found)
		*active = !isnull && DatumGetBool(value);
	return found;
}

/* The caller's tenant (uuid Datum), validated; an error when there is none or it is inactive. */
Datum
evs_current_tenant(void)
{
	const EvsClaims *claims = evs_request_claims();
	const char *raw;
	const char *source;
	bool		active = false;
	pg_uuid_t  *result;
	uint64		generation;

	if (claims != NULL)
	{
		raw = claims->tenant_id;
		source = "JWT claim tenant_id";
	}
	else
	{
		raw = GetConfigOption("app.current_tenant_id", true, false);
		source = "setting app.current_tenant_id";
	}

	if (raw == NULL || raw[0] == '\0')
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("no tenant is set for this session"),
				 errdetail("eventsvc reads the tenant from the %s and found none.", source),
				 errhint("Send a JWT with a tenant_id claim, or as a trusted SQL client run SET app.current_tenant_id = '<tenant uuid>'.")));

	result = palloc(sizeof(pg_uuid_t));
	if ((MyProc->lxid == cached_lxid ||
		 (cached_generation != 0 && cached_generation == evs_refcache_generation())) &&
		strcmp(raw, cached_source) == 0)
	{
		*result = cached_tenant;
		return UUIDPGetDatum(result);
	}

	if (!evs_is_uuid_text(raw))
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("tenant id \"%s\" is not a valid UUID", raw),
				 errdetail("The tenant comes from the %s.", source),
				 errhint("A tenant id looks like 6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f.")));

	*result = *DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(raw)));
	generation = evs_refcache_generation();	/* before the fresh snapshot of the lookup */
	if (!evs_lookup_tenant(result, &active))
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("tenant %s does not exist", raw),
				 errdetail("The tenant comes from the %s.", source)));
	if (!active)
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("tenant %s is not active", raw),
				 errhint("An inactive tenant cannot read or change anything; ask the platform operator to reactivate it.")));

	cached_lxid = MyProc->lxid;
	cached_generation = generation;
	strlcpy(cached_source, raw, sizeof(cached_source));
	cached_tenant = *result;
	return UUIDPGetDatum(result);
}

/* Who acts: the claims' sub, else app.current_user_id, else the session role. */
char *
evs_current_actor(void)
{
	const EvsClaims *claims = evs_request_claims();
	const char *setting;

	if (claims != NULL)
	{
		if (claims->sub != NULL && claims->sub[0] != '\0')
			return pstrdup(claims->sub);
	}
	else
	{
		setting = GetConfigOption("app.current_user_id", true, false);
		if (setting != NULL && setting[0] != '\0')
			return pstrdup(setting);
	}
	return GetUserNameFromId(GetOuterUserId(), false);
}

static bool
has_role(const char *rolname)
{
	Oid			role = get_role_oid(rolname, true);

	return OidIsValid(role) && has_privs_of_role(GetOuterUserId(), role);
}

/* Whether the session role is a member of eventsvc_admin. */
bool
evs_is_tenant_admin(void)
{
	return has_role("eventsvc_admin");
}

/* Whether the session role is a member of eventsvc_service. */
bool
evs_is_service(void)
{
	return has_role("eventsvc_service");
}

/* An error unless the caller is a tenant admin. */
void
evs_require_admin(const char *action)
{
	if (!evs_is_tenant_admin())
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("only a tenant admin may %s", action),
				 errhint("Call as a member of role eventsvc_admin.")));
}

/* eventsvc.current_tenant_id(): evs_current_tenant for SQL (and RLS). */
Datum
evs_sql_current_tenant_id(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(evs_current_tenant());
}

/* eventsvc.current_actor(): evs_current_actor for SQL. */
Datum
evs_sql_current_actor(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(evs_current_actor()));
}

/* eventsvc.is_tenant_admin(): evs_is_tenant_admin for SQL. */
Datum
evs_sql_is_tenant_admin(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(evs_is_tenant_admin());
}

/* ---- the role switch ---- */

/*
 * The one place eventsvc changes the current user: the owner for the API's
 * own bookkeeping (idempotency keys, outbox rows, holds across tenants), the
 * worker's role for the worker's units of work.
 *
 * Like amcheck_lock_relation_and_check in PostgreSQL's contrib/amcheck, the
 * switch also makes the rest a security-restricted operation: whatever runs
 * under the borrowed identity (our statements, a trigger an operator added, a
 * function they reach) cannot leave state behind in the session that outlives
 * the switch and later runs with the caller's or the worker's own rights: no
 * SET ROLE or SET SESSION AUTHORIZATION, no temporary objects, no cursors
 * WITH HOLD, no LISTEN, no PREPARE. eventsvc's own statements need none of
 * these, so the restriction costs nothing and holds for every caller alike
 * (SECURITY_LOCAL_USERID_CHANGE keeps the SECURITY DEFINER rules too).
 * Unlike amcheck, no GUC nesting level is opened: the statements run here set
 * no setting (the one that does, the sweep's lock_timeout, opens its own), and
 * a nesting level would cost the hottest call a pass over every setting.
 */
void
evs_switch_role(EvsRoleSwitch *ctx, Oid role)
{
	GetUserIdAndSecContext(&ctx->saved_user, &ctx->saved_sec);
	SetUserIdAndSecContext(role, ctx->saved_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
}

/* Back to the user and security context evs_switch_role saved. */
void
evs_switch_back(EvsRoleSwitch *ctx)
{
	SetUserIdAndSecContext(ctx->saved_user, ctx->saved_sec);
}

/* evs_switch_role to the schema owner. */
void
evs_become_owner(EvsRoleSwitch *ctx)
{
	evs_switch_role(ctx, evs_schema_owner());
}

/*
 * A SET clause on a function costs every call a new GUC nesting level, the
 * assignment, a pass over every setting when the call ends, and a search path
 * computed again for the next statement: for api.reserve_capacity, the
 * hottest call, several per cent of a reservation. This gives the same two
 * things without it: the schema owner's rights (evs_become_owner), and an
 * override search path of pg_catalog alone, so no name in any statement below
 * resolves to a caller's schema or temporary objects. An error restores both
 * (transaction or subtransaction abort pops the override and resets the user).
 */
void
evs_enter_as_definer(EvsRoleSwitch *ctx)
{
	OverrideSearchPath path = {.schemas = NIL, .addCatalog = true, .addTemp = false, .generation = 0};

	evs_become_owner(ctx);
	PushOverrideSearchPath(&path);
}

/* Leaves what evs_enter_as_definer entered. */
void
evs_leave_as_definer(EvsRoleSwitch *ctx)
{
	PopOverrideSearchPath();
	evs_switch_back(ctx);
}

/* Is `word` one of the space-separated words of s[0..len)? */
static bool
has_word(const char *s, int len, const char *word)
{
	int			wlen = strlen(word);

	for (int i = 0; i < len;)
	{
		int			j = i;

		while (j < len && s[j] != ' ')
			j++;
		if (j - i == wlen && strncmp(s + i, word, wlen) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

/*
 * The explicit platform scope of a service call: the claim "scope" (a string of
 * space-separated scopes, as OAuth 2.0 writes them) holds "platform"; a trusted
 * SQL client without claims says it with the setting app.scope = 'platform'.
 */
bool
evs_platform_scope(void)
{
	const EvsClaims *claims = evs_request_claims();
	const char *setting;

	if (claims != NULL)
		return claims->scope != NULL && has_word(claims->scope, strlen(claims->scope), "platform");
	setting = GetConfigOption("app.scope", true, false);
	return setting != NULL && has_word(setting, strlen(setting), "platform");
}
