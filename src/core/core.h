/*
 * core/core.h: what the core offers every area: the clock, tenancy and the
 * role switch, the SPI helpers, the outbox, idempotency and the reference-row
 * cache. The core includes no area header; every area includes this one.
 */
#ifndef EVS_CORE_H
#define EVS_CORE_H

#include "postgres.h"
#include "fmgr.h"
#include "access/htup.h"
#include "access/skey.h"
#include "access/tupdesc.h"
#include "executor/spi.h"
#include "utils/snapshot.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "storage/latch.h"
#include "utils/fmgrprotos.h"
#include "utils/uuid.h"
#include "core/errors.h"

/* core.c: the core's settings and shared memory, from _PG_init */
extern void evs_core_init(void);

/*
 * version.c: the schema version this library serves. evs_require_current_schema
 * raises PT503 (run ALTER EXTENSION eventsvc UPDATE) when the database has
 * another version installed; the SPI connect and the relation lookup call it.
 */
typedef enum EvsSchemaState
{
	EVS_SCHEMA_MISSING,			/* no CREATE EXTENSION eventsvc in this database */
	EVS_SCHEMA_CURRENT,			/* installed version = library version */
	EVS_SCHEMA_OTHER_VERSION	/* waiting for ALTER EXTENSION eventsvc UPDATE */
} EvsSchemaState;
extern const char *const evs_library_version;
extern EvsSchemaState evs_schema_state(const char **installed);
extern void evs_require_current_schema(void);

/* shmem.c: a module's struct in shared memory, registered while preloading (see shmem.c) */
extern void evs_shmem_register(const char *name, Size (*size) (void), void (*request) (void),
							   void (*attach) (void *ptr, bool found));

/* clock.c: the one clock every date rule and hold expiry reads */
extern void evs_clock_init(void);
extern TimestampTz evs_now(void);

/* tenancy.c */
extern void evs_tenancy_init(void);             /* eventsvc.token_max_lifetime */
extern int  evs_token_max_lifetime(void);       /* seconds */
/* The request's JWT claims (request.jwt.claims, set by PostgREST), parsed once
 * per claims text; NULL when there are none (a trusted SQL client). */
typedef struct EvsClaims
{
	bool		is_object;      /* false: the claims are JSON but not an object */
	bool		has_tenant_id;  /* the key is there, whatever its value */
	char	   *tenant_id;      /* its value when a string, else NULL */
	char	   *sub;            /* likewise */
	char	   *jti;            /* as ->> gives it (any scalar as text), NULL for none or null */
	bool		has_exp;        /* exp is a number (a NumericDate) */
	double		exp;
	bool		has_iat;        /* likewise iat */
	double		iat;
	char	   *scope;          /* the scope claim when a string (space-separated scopes), else NULL */
} EvsClaims;
extern const EvsClaims *evs_request_claims(void);
extern Datum evs_current_tenant(void);          /* uuid Datum; errors when none */
extern bool evs_is_uuid_text(const char *s);
/* The tenant's row read through its key (no SPI, no RLS): false when unknown, else *active. */
extern bool evs_lookup_tenant(pg_uuid_t *id, bool *active);
extern char *evs_current_actor(void);            /* claims sub, app.current_user_id, or role */
extern bool evs_is_tenant_admin(void);
extern bool evs_is_service(void);
extern bool evs_platform_scope(void);          /* claim scope (or app.scope) holds "platform" */
extern void evs_require_admin(const char *action);
extern Oid  evs_relation_oid(const char *relname); /* eventsvc.<relname>, error if missing */
extern Oid  evs_schema_owner(void);               /* owner of schema eventsvc */
/* The row of eventsvc.<relname> with these index keys (heap attnos), read without SPI:
 * false when none, else the named columns. */
extern bool evs_row_by_key(const char *relname, const char *index_name, int nkeys, ScanKey keys,
                           Snapshot snapshot, int ncolumns, const char *const *columns,
                           Datum *values, bool *nulls);

/*
 * tenancy.c: the one role switch. What follows runs as `role` until
 * evs_switch_back, inside a security-restricted operation (see tenancy.c for
 * why); an error restores the user with the (sub)transaction's abort.
 */
typedef struct EvsRoleSwitch { Oid saved_user; int saved_sec; } EvsRoleSwitch;
extern void  evs_switch_role(EvsRoleSwitch *ctx, Oid role);
extern void  evs_switch_back(EvsRoleSwitch *ctx);
/* As the extension owner: rights the caller lacks, RLS off (filter by tenant yourself). */
extern void  evs_become_owner(EvsRoleSwitch *ctx);
/* What SECURITY DEFINER SET search_path = pg_catalog, pg_temp gives a function,
 * for a whole C function body: the owner's rights and names looked up in
 * pg_catalog only. Leave at the same transaction nesting level; errors restore both. */
extern void  evs_enter_as_definer(EvsRoleSwitch *ctx);
extern void  evs_leave_as_definer(EvsRoleSwitch *ctx);

/* spi.c: the one way to run SQL from C; errors are raised, never returned */
extern void evs_spi_connect(void);
extern SPIPlanPtr evs_spi_prepare_kept(const char *sql, int nargs, Oid *types);
extern Datum evs_spi_finish_datum(Datum value, bool byval, int typlen);
/* Copies the jsonb result out of SPI memory, closes SPI and returns it. */
static inline Datum
evs_spi_finish_jsonb(Jsonb *result)
{
	return evs_spi_finish_datum(JsonbPGetDatum(result), false, -1);
}

/* The arguments of one statement, added in $n order by evs_arg. */
#define EVS_ARGS_MAX 10
typedef struct EvsArgs
{
	int			n;
	Oid			types[EVS_ARGS_MAX];
	Datum		values[EVS_ARGS_MAX];
	char		nulls[EVS_ARGS_MAX];
} EvsArgs;
extern void evs_arg(EvsArgs *a, Oid type, Datum value, bool isnull);
/* Runs sql (a string literal: its plan is kept) and requires result code expect_rc. */
extern void evs_exec(const char *sql, EvsArgs *a, int expect_rc);
extern Datum evs_get(int row, int col, bool *isnull);
extern char *evs_get_text(int row, int col);
/*
 * A column of an SPI result the caller uses as a value: NULL raises an
 * internal error (EVS_ERR_INTERNAL) naming `what` instead of crashing on it.
 * Drop-in for SPI_getbinval / SPI_getvalue / evs_get (docs/development.md).
 */
extern Datum evs_getbinval_notnull(HeapTuple tuple, TupleDesc desc, int col, const char *what);
extern char *evs_getvalue_notnull(HeapTuple tuple, TupleDesc desc, int col, const char *what);
extern Datum evs_get_notnull(int row, int col, const char *what);
/* The single jsonb value a query (or INSERT/UPDATE ... RETURNING) returns, or NULL. */
extern Jsonb *evs_query_jsonb(const char *sql, EvsArgs *a);
/* The same for a statement that always returns one value: none raises an internal error naming `what`. */
extern Jsonb *evs_query_jsonb_notnull(const char *sql, EvsArgs *a, const char *what);

/* The text form of a uuid Datum. */
static inline char *
evs_uuid_text(Datum uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, uuid));
}

/* quotas.c: what one tenant may use (docs/tenancy.md "Quotas") */
typedef enum EvsQuota
{
	EVS_QUOTA_EVENTS,
	EVS_QUOTA_SEATS_PER_HOLD,
	EVS_QUOTA_SEATS_PER_CUSTOMER,
	EVS_QUOTA_HOLDS_PER_CUSTOMER,
	EVS_QUOTA_DOCUMENT_BYTES,
	EVS_QUOTA_TEXT_BYTES,
	EVS_QUOTA_COUNTER_SLOTS,	/* 0 means none, not no limit: every section on the row-lock path */
	EVS_QUOTAS
} EvsQuota;
extern void evs_quotas_init(void);
extern const char *evs_quota_name(EvsQuota q);
/* The limit in force for the tenant (0: none); *source "tenant" or "default". */
extern int32 evs_quota(Datum tenant, EvsQuota q, const char **source);
/* The cluster default of a quota (its setting). */
extern int32 evs_quota_default(EvsQuota q);
/* PT429 naming the quota, the use and the limit. */
extern void evs_quota_exceeded(EvsQuota q, int64 used, int32 limit, const char *source, const char *what) pg_attribute_noreturn();
/* PT413 when a varlena value (jsonb or text) is larger than its size quota; before any work. */
extern void evs_check_size(Datum tenant, const char *field, Datum value, bool isnull, bool is_document);

/* triggers.c: the one check point where the write rules (events, sections, content)
 * step aside: rows coming back from a dump (docs/tenancy.md "Write rules"). */
extern bool evs_write_rules_skipped(void);
/* A column's text form (any type: text, enum, ...), NULL when NULL. */
extern char *evs_tup_text(HeapTuple tup, TupleDesc desc, const char *name);
/* Does the column differ between two versions of a row (NULL counts as a value)? */
extern bool evs_tup_changed(TupleDesc desc, HeapTuple oldtup, HeapTuple newtup, const char *name);

/*
 * jsonb.c: the one way to build jsonb in C, straight from C values. A NULL key
 * pushes an array element; a NULL string or Jsonb pushes JSON null.
 */
extern void evs_jsonb_begin_object(JsonbParseState **st, const char *key);
extern void evs_jsonb_begin_array(JsonbParseState **st, const char *key);
extern Jsonb *evs_jsonb_end(JsonbParseState **st);	/* the jsonb when the outermost closes, else NULL */
extern void evs_jsonb_push_key(JsonbParseState **st, const char *key);
extern void evs_jsonb_push_text(JsonbParseState **st, const char *key, const char *str);
extern void evs_jsonb_push_numeric(JsonbParseState **st, const char *key, Numeric n);
extern void evs_jsonb_push_int(JsonbParseState **st, const char *key, int64 n);
extern void evs_jsonb_push_bool(JsonbParseState **st, const char *key, bool b);
extern void evs_jsonb_push_null(JsonbParseState **st, const char *key);
extern void evs_jsonb_push_time(JsonbParseState **st, const char *key, TimestampTz t);
extern void evs_jsonb_push_uuid(JsonbParseState **st, const char *key, Datum uuid);
extern void evs_jsonb_push_jsonb(JsonbParseState **st, const char *key, Jsonb *j);
extern void evs_jsonb_push_value(JsonbParseState **st, const char *key, JsonbValue *v);
extern void evs_jsonb_push_fields(JsonbParseState **st, Jsonb *obj);
extern JsonbValue *evs_jsonb_get(Jsonb *obj, const char *key);
extern char *evs_jsonb_text(JsonbValue *v);	/* ->> of a value: NULL for null or missing */

/* triggers.c: a column of a trigger tuple by name; false when it is NULL */
extern bool evs_tup_get(HeapTuple tup, TupleDesc desc, const char *name, Datum *value);

/*
 * outbox.c: outbox rows, the one way a message leaves a transaction. The
 * exchanges and the routing keys C writes are named here and nowhere else
 * (docs/outbox.md lists each message).
 */
#define EVS_EXCHANGE_EVENTS		"tickettoken_events"	/* business facts other services act on */
#define EVS_EXCHANGE_LIFECYCLE	"event-lifecycle"		/* work requests of the event's own lifecycle */
#define EVS_EXCHANGE_COUNT		2
extern const char *const evs_exchanges[EVS_EXCHANGE_COUNT];

#define EVS_RK_EVENT_CREATED		"event.created"
#define EVS_RK_EVENT_UPDATED		"event.updated"
#define EVS_RK_EVENT_PUBLISHED		"event.published"
#define EVS_RK_EVENT_SOLDOUT		"event.soldout"
#define EVS_RK_OCCURRENCE_SOLDOUT	"event.occurrence.soldout"	/* every seat of one date of a series sold (docs/series.md) */
#define EVS_RK_OCCURRENCE_UPDATED	"event.occurrence.updated"	/* a date of a series opened, closed, reopened, back on sale */
#define EVS_RK_OCCURRENCE_CANCELLED	"event.occurrence.cancelled"	/* one date of a series cancelled, its purchases refunded */
#define EVS_RK_OCCURRENCE_MOVED	"event.occurrence.moved"	/* one date of a series moved to another time */
#define EVS_RK_EVENT_RESCHEDULED	"event.rescheduled"
#define EVS_RK_EVENT_CANCELLED		"event.cancelled"
#define EVS_RK_EVENT_DELETED		"event.deleted"
#define EVS_RK_CAPACITY_WARNING		"event.capacity.warning"
#define EVS_RK_CAPACITY_CRITICAL	"event.capacity.critical"
#define EVS_RK_PRICE_CHANGED		"pricing.price_changed"
#define EVS_RK_BLOCKCHAIN_SYNC		"event.blockchain_sync_requested"	/* the one for EVS_EXCHANGE_LIFECYCLE */
#define EVS_RK_REFUND_REQUESTED		"payment.refund_requested"	/* a payment to give back (docs/holds.md) */
#define EVS_RK_WAITLIST_OFFER		"waitlist.offer"		/* seats offered to a waitlist entry (docs/holds.md) */
#define EVS_RK_POSTPONEMENT_CHOICE	"event.postponement_choice"	/* a holder's keep-or-refund window (docs/lifecycle.md) */
#define EVS_RK_CAPACITY_DRIFT		"capacity.drift_detected"	/* a section's figures disagree, twice (docs/capacity.md) */

/* Called from evs_core_init; the relay (the worker) registers its latch, NULL when it stops. */
extern void evs_outbox_init(void);
extern void evs_outbox_set_relay_latch(Latch *latch);
/* Appends one message to the outbox in this transaction; returns its row id. */
extern int64 evs_outbox_emit(Datum tenant_id, Datum aggregate_id, const char *exchange,
                             const char *routing_key, Datum data_jsonb);
/* evs_outbox_emit to the exchange the routing key belongs to. */
extern int64 evs_outbox_emit_key(Datum tenant_id, Datum aggregate_id, const char *routing_key, Jsonb *data);

/* idempotency.c: begin returns a stored response (replay) or NULL (go ahead);
 * after the work, finish stores the response. Same transaction as the work. */
typedef struct EvsIdempotency
{
	bool		active;         /* a key was given and is now reserved */
	Datum		tenant_id;
	char	   *key;
} EvsIdempotency;
extern Jsonb *evs_idempotency_begin(EvsIdempotency *idem, const char *operation,
                                    const char *key_or_null, Jsonb *request);
extern void  evs_idempotency_finish(EvsIdempotency *idem, Jsonb *response);
extern void  evs_idempotency_abandon(EvsIdempotency *idem);   /* free the key, store nothing */
extern bool  evs_idempotency_header_present(void);  /* a cheap test before building the request */
extern void  evs_idempotency_inner(void (*fn) (void *arg), void *arg);  /* writers fn calls see no key */
#define EVS_IDEMPOTENCY_TTL_SECONDS (24 * 60 * 60)

/*
 * refcache.c: a backend's copies of reference rows (tenant, section, event,
 * tier, currency), valid while the shared reference generation stays the
 * same. Read the generation first, then load with a fresh snapshot, then
 * store under the generation read. Generation 0: nothing is kept.
 */
extern void  evs_refcache_init(void);
extern uint64 evs_refcache_generation(void);
typedef struct EvsRefKey
{
	uint32		kind;			/* what was loaded, by whom: see the callers */
	unsigned char ids[3][16];	/* uuids; unused ones zero */
} EvsRefKey;
extern HeapTuple evs_refcache_lookup(const EvsRefKey *key, uint64 generation, TupleDesc *desc);
extern void evs_refcache_store(const EvsRefKey *key, uint64 generation, HeapTuple tuple, TupleDesc desc);
extern void evs_refcache_invalidate(void);

/*
 * rate_limit.c: token buckets per tenant and per anonymous client address in
 * shared memory, checked by eventsvc.check_request. evs_rate_limit_check takes
 * a token or refuses the request (HTTP 429 with Retry-After); tenant is the
 * caller's validated tenant, unused when anonymous.
 */
extern void evs_rate_limit_init(void);
extern void evs_rate_limit_check(Datum tenant, bool anonymous);

#endif
