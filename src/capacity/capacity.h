/*
 * capacity/capacity.h: the capacity area's public face: its init, and the
 * bulk releases other areas ask for (the worker's expiry sweep, an event's
 * cancellation) and the worker's scheduled drift check. Everything else of the area is in capacity_internal.h.
 */
#ifndef EVS_CAPACITY_H
#define EVS_CAPACITY_H

#include "core/core.h"

/* capacity.c: settings and, when preloaded, the seat counters */
extern void evs_capacity_init(void);
/* hold_sweep.c: expire up to `limit` overdue holds across tenants in the caller's transaction; returns holds expired */
extern int64 evs_expire_holds(int limit);
/* hold_sweep.c: release every ACTIVE hold of an event (cancellation); returns holds released */
extern int64 evs_release_event_holds(Datum tenant_id, Datum event_id);
/*
 * event_refunds.c: what refunding every purchase of an event (its cancellation)
 * would do, without changing anything (lock: lock the purchases for this
 * transaction), and the refunds themselves, through the one refund path.
 */
extern Jsonb *evs_event_refund_plan(Datum tenant_id, Datum event_id, bool lock);
extern Jsonb *evs_refund_event_purchases(Datum tenant_id, Datum event_id, const char *reason);
/* hold_life.c: the event's cancellation waits for its sales in flight and holds new ones off until it ends */
extern void evs_event_sales_stop(Datum event_id);
/*
 * postponement.c: the event became POSTPONED or RESCHEDULED (occurrence_id 0), or that date of a
 * series was MOVED: its purchases get a decision window (returned; NULL: no purchase). SPI connected.
 */
extern Jsonb *evs_postponement_open(Datum tenant_id, Datum event_id, Datum occurrence_id, const char *kind);

/* capacity_check.c: one scheduled drift check across tenants in the caller's transaction (jsonb: what it did) */
extern Jsonb *evs_capacity_drift_check(int window_seconds, int max_sections);

#endif
