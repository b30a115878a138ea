/*
 * eventsvc.h: declarations shared across the extension's C files: settings,
 * the clock, tenancy and small helpers. Each file's own details stay in it.
 */
#ifndef EVENTSVC_H
#define EVENTSVC_H

#include "postgres.h"
#include "fmgr.h"
#include "access/skey.h"
#include "utils/snapshot.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "errors.h"

/* settings (eventsvc.c) */
extern int evs_clock_offset_seconds;

/* module initialisers called from _PG_init; each lives in its own file */
extern void evs_define_core_settings(void);

/* clock.c: the one clock every date rule and hold expiry reads */
extern TimestampTz evs_now(void);

/* tenancy.c */
extern Datum evs_current_tenant(void);          /* uuid Datum; errors when none */
extern char *evs_current_actor(void);            /* claims sub, app.current_user_id, or role */
extern bool evs_is_tenant_admin(void);
extern bool evs_is_service(void);
extern void evs_require_admin(const char *action);
extern Oid  evs_relation_oid(const char *relname); /* eventsvc.<relname>, error if missing */
extern Oid  evs_schema_owner(void);               /* owner of schema eventsvc */
/* The row of eventsvc.<relname> with these index keys (heap attnos), read without SPI:
 * false when none, else the named columns. */
extern bool evs_row_by_key(const char *relname, const char *index_name, int nkeys, ScanKey keys,
                           Snapshot snapshot, int ncolumns, const char *const *columns,
                           Datum *values, bool *nulls);

/* outbox.c */
extern int64 evs_outbox_emit(Datum tenant_id, Datum aggregate_id, const char *exchange,
                             const char *routing_key, Datum data_jsonb);

/* worker (worker.c): settings, shared memory and the background worker; the
 * wake-up asks for the worker's latch to be set when this transaction commits. */
extern void evs_worker_init(void);
extern void evs_worker_wake_at_commit(void);

/* lifecycle (state_machine.c, validation.c, lifecycle*.c, event_*.c, cancellation.c, confirmation.c, idempotency.c) */
extern int   evs_status_from_name(const char *name);      /* -1 when unknown */
extern const char *evs_status_name(int status);
extern bool  evs_transition_allowed(int from, int to);
/* Raises PT409 naming both states and the allowed targets; checks "sold blocks DRAFT". */
extern void  evs_check_transition(Datum tenant_id, Datum event_id, const char *from, const char *to);
/* Tickets sold for an event: sum of section sold_count, or confirmed holds if more. */
extern int64 evs_event_sold_count(Datum tenant_id, Datum event_id);

/* Run SPI statements as the extension owner (rights the caller lacks, RLS off:
 * such statements must filter by tenant themselves). Errors restore the user. */
typedef struct EvsOwnerContext { Oid saved_user; int saved_sec; } EvsOwnerContext;
extern void  evs_become_owner(EvsOwnerContext *ctx);
extern void  evs_restore_user(EvsOwnerContext *ctx);
/* What SECURITY DEFINER SET search_path = pg_catalog, pg_temp gives a function,
 * for a whole C function body: the owner's rights and names looked up in
 * pg_catalog only. Leave at the same transaction nesting level; errors restore both. */
extern void  evs_enter_as_definer(EvsOwnerContext *ctx);
extern void  evs_leave_as_definer(EvsOwnerContext *ctx);

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
#define EVS_IDEMPOTENCY_TTL_SECONDS (24 * 60 * 60)

/* capacity, holds, pricing (capacity.c, hold_sweep.c, escrow.c, money.c, pricing.c) */
extern void  evs_capacity_init(void);   /* settings and, when preloaded, the seat counters */
/* refcache.c: the shared reference generation (0: none) and its shared memory */
extern void  evs_refcache_init(void);
extern uint64 evs_refcache_generation(void);

/* schedules, discovery, content, health (discovery.c) */
extern int	evs_ready_max_outbox_lag_seconds;
extern void evs_discovery_init(void);     /* settings of the health checks */
/* Expire up to `limit` overdue holds across tenants in the caller's transaction; returns holds expired. */
extern int64 evs_expire_holds(int limit);
/* Release every ACTIVE hold of an event (cancellation); returns holds released. */
extern int64 evs_release_event_holds(Datum tenant_id, Datum event_id);

#endif
