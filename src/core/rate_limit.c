/*
 * rate_limit.c: per-tenant rate limits of the HTTP surface, checked by
 * eventsvc.check_request before PostgREST runs the request (request_check.c).
 *
 * Three kinds of key, each with a token bucket in shared memory (per database):
 *   - a tenant's requests (every request of a token of that tenant);
 *   - a tenant's reservations (requests to /rpc/reserve_capacity and
 *     /rpc/exchange_purchase, which also count as requests);
 *   - an anonymous caller's requests, per client address: the last entry of
 *     the header eventsvc.rate_limit_client_header (X-Forwarded-For: the
 *     address the proxy in front of PostgREST saw; entries before it are what
 *     the client claims). Without the header every anonymous caller shares one
 *     bucket.
 * A bucket holds at most `burst` tokens and gains `per_minute` tokens a minute;
 * a request takes one token from each of its buckets, or from none: when one is
 * empty the request is refused (HTTP 429 with Retry-After, the seconds until a
 * token is back), before any work is done. The service role (other platform
 * services) and trusted SQL clients are not limited.
 *
 * Limits: the superuser settings eventsvc.rate_limit_* (0: no limit) and, per
 * tenant, eventsvc.tenant_rate_limits (set by the platform operator; a NULL
 * column keeps the setting), read through its primary key without SPI and kept
 * per backend while the reference generation (refcache.c) stays the same.
 *
 * Bounded memory: eventsvc.rate_limit_slots slots, fixed at server start, plus
 * one shared overflow slot. A key lives in one of the RL_WINDOW slots after its
 * hash. Eviction rule, when none of them holds the key: an empty slot, else a
 * slot whose bucket has refilled to its burst (evicting it forgets nothing a
 * new bucket would not have), else the least recently used anonymous slot;
 * a tenant key may also take the least recently used tenant slot. An anonymous
 * key that finds none of these is charged to the overflow slot, shared by every
 * such caller, so a flood of made-up addresses never pushes a tenant's bucket
 * out. One LWLock guards the table; a check holds it for a few dozen
 * instructions. Without shared memory (the library not preloaded, as on the
 * proxy of a scaled-out service) nothing is limited. docs/postgrest.md
 * "Rate limits".
 */
#include "core/core.h"

#include "access/stratnum.h"
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(evs_sql_rate_limit_usage);

/* units of a bucket per token: a bucket gains per_minute units a microsecond */
#define RL_UNITS_PER_TOKEN	INT64CONST(60000000)
#define RL_WINDOW			8		/* slots a key may live in, after its hash */
#define RL_KEY_LEN			48		/* a uuid, or an address (IPv6 text is at most 45) */
#define RL_LIMIT_MAX		10000000
#define RL_SLOTS_DEFAULT	4096
#define RL_SLOTS_MAX		1000000
/*
 * Tenant defaults sized for an on-sale surge: 2,000 reservations at once, then 500 a
 * second (two cores serve about 3,400 trivial requests a second through PostgREST);
 * the operator lowers them per tenant.
 */
#define RL_REQUESTS_PER_MINUTE		60000
#define RL_REQUEST_BURST			3000
#define RL_RESERVATIONS_PER_MINUTE	30000
#define RL_RESERVATION_BURST		2000
/* one client address without a token: 30 at once, then 10 a second */
#define RL_ANONYMOUS_PER_MINUTE		600
#define RL_ANONYMOUS_BURST			30

typedef enum RlKind
{
	RL_NONE = 0,
	RL_TENANT_REQUESTS,
	RL_TENANT_RESERVATIONS,
	RL_ANONYMOUS,
	RL_OVERFLOW
} RlKind;

static const char *const kind_names[] = {
	[RL_NONE] = NULL,
	[RL_TENANT_REQUESTS] = "requests",
	[RL_TENANT_RESERVATIONS] = "reservations",
	[RL_ANONYMOUS] = "anonymous_requests",
	[RL_OVERFLOW] = "anonymous_overflow",
};

typedef struct RlKey
{
	RlKind		kind;
	Oid			db;				/* buckets are per database */
	int			len;
	char		bytes[RL_KEY_LEN];
	uint32		hash;
} RlKey;

typedef struct RlSlot
{
	RlKey		key;			/* kind RL_NONE: empty */
	int64		units;			/* tokens * RL_UNITS_PER_TOKEN */
	TimestampTz last;			/* when units was last brought up to date */
	int32		per_minute;
	int32		burst;
	int64		allowed;
	int64		refused;
} RlSlot;

typedef struct RlShared
{
	LWLock	   *lock;
	int			nslots;
	RlSlot		slots[FLEXIBLE_ARRAY_MEMBER];	/* nslots, then the overflow slot */
} RlShared;

/* one limit: tokens a minute and the bucket's size; per_minute 0: no limit */
typedef struct RlLimit
{
	int32		per_minute;
	int32		burst;
	bool		own;			/* from eventsvc.tenant_rate_limits */
} RlLimit;

static RlShared *rl = NULL;
static int	rl_slots = RL_SLOTS_DEFAULT;
static int	rl_requests_per_minute = RL_REQUESTS_PER_MINUTE;
static int	rl_request_burst = RL_REQUEST_BURST;
static int	rl_reservations_per_minute = RL_RESERVATIONS_PER_MINUTE;
static int	rl_reservation_burst = RL_RESERVATION_BURST;
static int	rl_anonymous_per_minute = RL_ANONYMOUS_PER_MINUTE;
static int	rl_anonymous_burst = RL_ANONYMOUS_BURST;
static char *rl_client_header = NULL;

static Size
rl_shmem_size(void)
{
	return add_size(offsetof(RlShared, slots), mul_size(sizeof(RlSlot), rl_slots + 1));
}

static void
rl_shmem_request(void)
{
	RequestNamedLWLockTranche("eventsvc_rate_limits", 1);
}

static void
rl_shmem_attach(void *ptr, bool found)
{
	rl = ptr;
	if (!found)
	{
		memset(rl, 0, rl_shmem_size());
		rl->nslots = rl_slots;
		rl->slots[rl_slots].key.kind = RL_OVERFLOW;
	}
	rl->lock = &(GetNamedLWLockTranche("eventsvc_rate_limits"))->lock;
}

static void
define_limit(const char *name, const char *what, int *var, int dflt)
{
	DefineCustomIntVariable(name, what, "0: no limit. Per tenant, eventsvc.tenant_rate_limits overrides it.",
							var, dflt, 0, RL_LIMIT_MAX, PGC_SUSET, 0, NULL, NULL, NULL);
}

/* Called from evs_core_init: the rate limits' settings and, when preloaded, their table of slots. */
void
evs_rate_limit_init(void)
{
	/* PGC_POSTMASTER settings can only be defined while preloading (else FATAL). */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("eventsvc.rate_limit_slots",
								"Token buckets the rate limits keep in shared memory (0: no rate limits).",
								"Each slot is about 100 bytes; a key evicts an idle or the least recently used slot.",
								&rl_slots, RL_SLOTS_DEFAULT, 0, RL_SLOTS_MAX, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	define_limit("eventsvc.rate_limit_requests_per_minute",
				 "Requests a tenant's tokens may make a minute over HTTP, on average.",
				 &rl_requests_per_minute, RL_REQUESTS_PER_MINUTE);
	define_limit("eventsvc.rate_limit_request_burst",
				 "Requests a tenant's tokens may make at once (the size of its bucket).",
				 &rl_request_burst, RL_REQUEST_BURST);
	define_limit("eventsvc.rate_limit_reservations_per_minute",
				 "Reservations (reserve_capacity, exchange_purchase) a tenant may make a minute over HTTP, on average.",
				 &rl_reservations_per_minute, RL_RESERVATIONS_PER_MINUTE);
	define_limit("eventsvc.rate_limit_reservation_burst",
				 "Reservations a tenant may make at once (the size of its bucket).",
				 &rl_reservation_burst, RL_RESERVATION_BURST);
	DefineCustomIntVariable("eventsvc.rate_limit_anonymous_per_minute",
							"Requests without a token one client address may make a minute, on average.",
							"0: no limit.", &rl_anonymous_per_minute, RL_ANONYMOUS_PER_MINUTE, 0, RL_LIMIT_MAX, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.rate_limit_anonymous_burst",
							"Requests without a token one client address may make at once.",
							NULL, &rl_anonymous_burst, RL_ANONYMOUS_BURST, 0, RL_LIMIT_MAX, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("eventsvc.rate_limit_client_header",
							   "The request header (lower case) whose last entry is the client's address.",
							   "The proxy in front of PostgREST must set or append it (X-Forwarded-For).",
							   &rl_client_header, "x-forwarded-for", PGC_SUSET, 0, NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade && rl_slots > 0)
		evs_shmem_register("eventsvc rate limits", rl_shmem_size, rl_shmem_request, rl_shmem_attach);
}

static void
make_key(RlKey *k, RlKind kind, const void *bytes, int len)
{
	memset(k, 0, sizeof(RlKey));
	k->kind = kind;
	k->db = MyDatabaseId;
	k->len = Min(len, RL_KEY_LEN);
	memcpy(k->bytes, bytes, k->len);
	k->hash = hash_bytes((const unsigned char *) k->bytes, k->len) ^ ((uint32) kind * 0x9e3779b9) ^
		hash_bytes_uint32((uint32) k->db);
}

static bool
same_key(const RlKey *a, const RlKey *b)
{
	return a->kind == b->kind && a->db == b->db && a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* The slot's bucket brought up to `now` (not stored when keep is false). */
static int64
units_at(const RlSlot *s, TimestampTz now)
{
	int64		cap = (int64) s->burst * RL_UNITS_PER_TOKEN;
	int64		elapsed = now - s->last;

	if (s->per_minute <= 0 || elapsed <= 0)
		return Min(s->units, cap);
	if (elapsed >= cap / s->per_minute)
		return cap;
	return Min(cap, s->units + elapsed * s->per_minute);
}

static void
slot_reset(RlSlot *s, const RlKey *key, const RlLimit *lim, TimestampTz now)
{
	s->key = *key;
	s->per_minute = lim->per_minute;
	s->burst = lim->burst;
	s->units = (int64) lim->burst * RL_UNITS_PER_TOKEN;
	s->last = now;
	s->allowed = 0;
	s->refused = 0;
}

/* The slot of key, found or taken by the eviction rule (see the top); never `pinned`. Lock held. */
static RlSlot *
slot_for(const RlKey *key, const RlLimit *lim, TimestampTz now, const RlSlot *pinned)
{
	RlSlot	   *empty = NULL, *idle = NULL, *lru_anon = NULL, *lru_tenant = NULL;
	RlSlot	   *s;

	for (int i = 0; i < Min(RL_WINDOW, rl->nslots); i++)
	{
		s = &rl->slots[(key->hash + i) % rl->nslots];
		if (s->key.kind == key->kind && same_key(&s->key, key))
			return s;
		if (s == pinned)
			continue;
		if (s->key.kind == RL_NONE)
		{
			if (empty == NULL)
				empty = s;
		}
		else if (idle == NULL && units_at(s, now) >= (int64) s->burst * RL_UNITS_PER_TOKEN)
			idle = s;
		else if (s->key.kind == RL_ANONYMOUS)
		{
			if (lru_anon == NULL || s->last < lru_anon->last)
				lru_anon = s;
		}
		else if (lru_tenant == NULL || s->last < lru_tenant->last)
			lru_tenant = s;
	}
	s = empty ? empty : idle ? idle : lru_anon;
	if (s == NULL && key->kind != RL_ANONYMOUS)
		s = lru_tenant;
	if (s == NULL)
		return &rl->slots[rl->nslots];	/* the overflow slot: its limit is the anonymous one */
	slot_reset(s, key, lim, now);
	return s;
}

/*
 * Brings the slot's bucket up to now, under the limit in force (the operator may
 * have changed it since); true when it holds a token.
 */
static bool
slot_refill(RlSlot *s, const RlLimit *lim, TimestampTz now)
{
	s->units = units_at(s, now);
	if (now > s->last)
		s->last = now;
	/* a larger burst adds its difference at once; a smaller one caps what is left */
	if (lim->burst > s->burst)
		s->units += (int64) (lim->burst - s->burst) * RL_UNITS_PER_TOKEN;
	s->per_minute = lim->per_minute;
	s->burst = lim->burst;
	s->units = Min(s->units, (int64) lim->burst * RL_UNITS_PER_TOKEN);
	return s->units >= RL_UNITS_PER_TOKEN;
}

/* Seconds until the slot holds a token again (at least 1). */
static int
retry_after(const RlSlot *s)
{
	int64		need = RL_UNITS_PER_TOKEN - s->units;
	int64		usec;

	if (s->per_minute <= 0 || s->burst <= 0)
		return 60;
	usec = (need + s->per_minute - 1) / s->per_minute;
	return (int) Max(1, (usec + USECS_PER_SEC - 1) / USECS_PER_SEC);
}

/* The tenant's own limits: -1 for a NULL column or no row. Kept per reference generation. */
static struct
{
	bool		valid;
	uint64		generation;
	pg_uuid_t	tenant;
	int32		values[4];
}			own;

static const char *const own_columns[4] = {
	"requests_per_minute", "request_burst", "reservations_per_minute", "reservation_burst"
};

static void
load_own_limits(Datum tenant)
{
	uint64		generation = evs_refcache_generation();
	Datum		values[4];
	bool		nulls[4];
	ScanKeyData key;
	Snapshot	snap;
	Oid			nsp;
	bool		found = false;

	if (own.valid && generation != 0 && own.generation == generation &&
		memcmp(&own.tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t)) == 0)
		return;
	/* a database still at 1.0 runs this library too: no tenant limits there */
	nsp = get_namespace_oid("eventsvc", true);
	if (OidIsValid(nsp) && OidIsValid(get_relname_relid("tenant_rate_limits", nsp)))
	{
		snap = RegisterSnapshot(GetLatestSnapshot());
		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, tenant);
		found = evs_row_by_key("tenant_rate_limits", "tenant_rate_limits_pkey", 1, &key, snap, 4,
							   own_columns, values, nulls);
		UnregisterSnapshot(snap);
	}
	for (int i = 0; i < 4; i++)
		own.values[i] = (found && !nulls[i]) ? DatumGetInt32(values[i]) : -1;
	memcpy(&own.tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
	own.generation = generation;
	own.valid = true;
}

static void
limit_of(RlLimit *lim, int which, int dflt_rate, int dflt_burst)
{
	int32		rate = own.values[which * 2];
	int32		burst = own.values[which * 2 + 1];

	lim->own = rate >= 0 || burst >= 0;
	lim->per_minute = rate >= 0 ? rate : dflt_rate;
	lim->burst = burst >= 0 ? burst : dflt_burst;
	if (lim->burst == 0)
		lim->per_minute = 0;	/* a bucket that holds nothing would refuse all: read it as no limit */
}

/* The tenant's limits in force: requests and reservations. */
static void
tenant_limits(Datum tenant, RlLimit *requests, RlLimit *reservations)
{
	load_own_limits(tenant);
	limit_of(requests, 0, rl_requests_per_minute, rl_request_burst);
	limit_of(reservations, 1, rl_reservations_per_minute, rl_reservation_burst);
}

static bool
is_reservation_path(const char *path)
{
	return path != NULL && (strcmp(path, "/rpc/reserve_capacity") == 0 ||
							strcmp(path, "/rpc/exchange_purchase") == 0);
}

/* The client's address: the last comma-separated entry of the configured header, or "". */
static char *
client_address(void)
{
	const char *headers = GetConfigOption("request.headers", true, false);
	Jsonb	   *jb;
	JsonbValue	buf;
	JsonbValue *v;
	char	   *s, *last;

	if (headers == NULL || headers[0] == '\0' || rl_client_header == NULL || rl_client_header[0] == '\0')
		return "";
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(headers)));
	if (!JB_ROOT_IS_OBJECT(jb))
		return "";
	v = getKeyJsonValueFromContainer(&jb->root, rl_client_header, strlen(rl_client_header), &buf);
	if (v == NULL || v->type != jbvString)
		return "";
	s = pnstrdup(v->val.string.val, v->val.string.len);
	last = strrchr(s, ',');
	last = last ? last + 1 : s;
	while (*last == ' ' || *last == '\t')
		last++;
	for (char *e = last + strlen(last); e > last && (e[-1] == ' ' || e[-1] == '\t'); e--)
		e[-1] = '\0';
	return last;
}

/*
 * Refuses the request: PostgREST turns the SQLSTATE PGRST into the response its
 * message (the body, with the catalogue's code PT429) and detail (status 429 and
 * the Retry-After header) describe.
 */
static void
refuse(const char *what, const char *whose, int per_minute, int burst, int seconds)
{
	JsonbParseState *st = NULL;
	char	   *message = psprintf("too many %s: try again in %d second%s", what, seconds, seconds == 1 ? "" : "s");
	char	   *detail = psprintf("The limit for %s is %d a minute, %d at once.", whose, per_minute, burst);
	const char *hint = "Wait for the number of seconds in the Retry-After header; the platform operator sets the limits.";
	Jsonb	   *body, *response;
	char		secs[16];

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "code", "PT429");
	evs_jsonb_push_text(&st, "message", message);
	evs_jsonb_push_text(&st, "details", detail);
	evs_jsonb_push_text(&st, "hint", hint);
	body = evs_jsonb_end(&st);
	snprintf(secs, sizeof(secs), "%d", seconds);
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_int(&st, "status", 429);
	evs_jsonb_begin_object(&st, "headers");
	evs_jsonb_push_text(&st, "Retry-After", secs);
	evs_jsonb_end(&st);
	response = evs_jsonb_end(&st);
	ereport(ERROR,
			(errcode(EVS_PGRST_RESPONSE),
			 errmsg("%s", JsonbToCString(NULL, &body->root, VARSIZE(body))),
			 errdetail("%s", JsonbToCString(NULL, &response->root, VARSIZE(response)))));
}

/*
 * The rate limits of this request (see the top): takes a token from each of its
 * buckets, or refuses it (PGRST: HTTP 429 PT429 with Retry-After) and takes none.
 * tenant: the caller's validated tenant, or 0 (Datum) for an anonymous caller.
 */
void
evs_rate_limit_check(Datum tenant, bool anonymous)
{
	RlLimit		requests, reservations;
	RlKey		k1, k2;
	RlSlot	   *s1, *s2 = NULL;
	bool		ok1, ok2 = true;
	const char *path;
	char	   *address = NULL;
	TimestampTz now;
	int			wait = 0;

	if (rl == NULL)
		return;
	if (anonymous)
	{
		requests.per_minute = rl_anonymous_burst > 0 ? rl_anonymous_per_minute : 0;
		requests.burst = rl_anonymous_burst;
		requests.own = false;
		reservations.per_minute = 0;
		if (requests.per_minute == 0)
			return;
		address = client_address();
		make_key(&k1, RL_ANONYMOUS, address, strlen(address));
	}
	else
	{
		tenant_limits(tenant, &requests, &reservations);
		path = GetConfigOption("request.path", true, false);
		if (!is_reservation_path(path))
			reservations.per_minute = 0;
		if (requests.per_minute == 0 && reservations.per_minute == 0)
			return;
		make_key(&k1, RL_TENANT_REQUESTS, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
		make_key(&k2, RL_TENANT_RESERVATIONS, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
	}

	now = GetCurrentTimestamp();
	LWLockAcquire(rl->lock, LW_EXCLUSIVE);
	s1 = requests.per_minute > 0 ? slot_for(&k1, &requests, now, NULL) : NULL;
	ok1 = s1 == NULL || slot_refill(s1, &requests, now);
	if (reservations.per_minute > 0)
	{
		s2 = slot_for(&k2, &reservations, now, s1);
		ok2 = slot_refill(s2, &reservations, now);
	}
	if (ok1 && ok2)
	{
		if (s1)
		{
			s1->units -= RL_UNITS_PER_TOKEN;
			s1->allowed++;
		}
		if (s2)
		{
			s2->units -= RL_UNITS_PER_TOKEN;
			s2->allowed++;
		}
	}
	else
	{
		if (!ok1)
		{
			s1->refused++;
			wait = retry_after(s1);
		}
		if (!ok2)
		{
			s2->refused++;
			wait = Max(wait, retry_after(s2));
		}
	}
	LWLockRelease(rl->lock);

	if (!ok1 && anonymous)
		refuse("requests", psprintf("client address \"%s\"", address[0] ? address : "(none)"),
			   requests.per_minute, requests.burst, wait);
	if (!ok1)
		refuse("requests", "this tenant", requests.per_minute, requests.burst, wait);
	if (!ok2)
		refuse("reservations", "this tenant", reservations.per_minute, reservations.burst, wait);
}

/* One row of eventsvc.rate_limit_usage(). */
static void
usage_row(Tuplestorestate *ts, TupleDesc desc, RlKind kind, const char *tenant, const char *client,
		  const RlLimit *lim, const char *source, const RlSlot *s, TimestampTz now)
{
	Datum		v[10];
	bool		n[10] = {0};

	v[0] = CStringGetTextDatum(kind_names[kind]);
	n[1] = tenant == NULL;
	if (tenant)
		v[1] = DirectFunctionCall1(uuid_in, CStringGetDatum(tenant));
	n[2] = client == NULL;
	if (client)
		v[2] = CStringGetTextDatum(client);
	v[3] = Int32GetDatum(lim->per_minute);
	v[4] = Int32GetDatum(lim->burst);
	n[5] = source == NULL;
	if (source)
		v[5] = CStringGetTextDatum(source);
	v[6] = Int32GetDatum(s ? (int32) (units_at(s, now) / RL_UNITS_PER_TOKEN) : lim->burst);
	v[7] = Int64GetDatum(s ? s->allowed : 0);
	v[8] = Int64GetDatum(s ? s->refused : 0);
	n[9] = s == NULL;
	if (s)
		v[9] = TimestampTzGetDatum(s->last);
	tuplestore_putvalues(ts, desc, v, n);
}

/*
 * eventsvc.rate_limit_usage(): the buckets with their limits and what is left.
 * A tenant's caller sees its tenant's two limits; the platform operator (a
 * superuser, or the service role with the platform scope and no tenant) every
 * bucket in use in this database.
 */
Datum
evs_sql_rate_limit_usage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const EvsClaims *claims = evs_request_claims();
	bool		operator;
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	operator = superuser() || (evs_is_service() && evs_platform_scope() &&
							   (claims != NULL ? !claims->has_tenant_id
								: GetConfigOption("app.current_tenant_id", true, false) == NULL ||
								GetConfigOption("app.current_tenant_id", true, false)[0] == '\0'));
	if (!operator)
	{
		Datum		tenant = evs_current_tenant();
		RlLimit		lims[2];
		RlKey		keys[2];
		RlSlot		copies[2];
		bool		have[2] = {false, false};
		char	   *tenant_text = evs_uuid_text(tenant);

		tenant_limits(tenant, &lims[0], &lims[1]);
		make_key(&keys[0], RL_TENANT_REQUESTS, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
		make_key(&keys[1], RL_TENANT_RESERVATIONS, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
		if (rl != NULL)
		{
			LWLockAcquire(rl->lock, LW_SHARED);
			for (int k = 0; k < 2; k++)
				for (int i = 0; i < Min(RL_WINDOW, rl->nslots) && !have[k]; i++)
				{
					RlSlot	   *s = &rl->slots[(keys[k].hash + i) % rl->nslots];

					if (same_key(&s->key, &keys[k]))
					{
						copies[k] = *s;
						have[k] = true;
					}
				}
			LWLockRelease(rl->lock);
		}
		for (int k = 0; k < 2; k++)
		{
			if (have[k])
			{
				/* shown with the limit in force now */
				copies[k].per_minute = lims[k].per_minute;
				copies[k].burst = lims[k].burst;
			}
			usage_row(rsinfo->setResult, rsinfo->setDesc, k == 0 ? RL_TENANT_REQUESTS : RL_TENANT_RESERVATIONS,
					  tenant_text, NULL, &lims[k], lims[k].own ? "tenant" : "default",
					  have[k] ? &copies[k] : NULL, now);
		}
		PG_RETURN_NULL();
	}
	if (rl != NULL)
	{
		int			total = rl->nslots + 1;
		RlSlot	   *copy = palloc(sizeof(RlSlot) * total);

		LWLockAcquire(rl->lock, LW_SHARED);
		memcpy(copy, rl->slots, sizeof(RlSlot) * total);
		LWLockRelease(rl->lock);
		for (int i = 0; i < total; i++)
		{
			RlSlot	   *s = &copy[i];
			RlLimit		lim = {s->per_minute, s->burst, false};
			char	   *tenant = NULL;
			char	   *client = NULL;

			CHECK_FOR_INTERRUPTS();
			if (s->key.kind == RL_NONE || (s->key.kind == RL_OVERFLOW && s->last == 0) ||
				(s->key.kind != RL_OVERFLOW && s->key.db != MyDatabaseId))
				continue;
			if (s->key.kind == RL_TENANT_REQUESTS || s->key.kind == RL_TENANT_RESERVATIONS)
			{
				pg_uuid_t	u;

				memcpy(&u, s->key.bytes, sizeof(pg_uuid_t));
				tenant = evs_uuid_text(UUIDPGetDatum(&u));
			}
			else if (s->key.kind == RL_ANONYMOUS)
				client = pnstrdup(s->key.bytes, s->key.len);
			usage_row(rsinfo->setResult, rsinfo->setDesc, s->key.kind, tenant, client, &lim, NULL, s, now);
		}
	}
	PG_RETURN_NULL();
}
