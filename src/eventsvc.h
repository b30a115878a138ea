/*
 * eventsvc.h: declarations shared across the extension's C files: settings,
 * the clock, tenancy and small helpers. Each file's own details stay in it.
 */
#ifndef EVENTSVC_H
#define EVENTSVC_H

#include "postgres.h"
#include "fmgr.h"
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

/* outbox.c */
extern int64 evs_outbox_emit(Datum tenant_id, Datum aggregate_id, const char *exchange,
                             const char *routing_key, Datum data_jsonb);

#endif
