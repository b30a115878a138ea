/*
 * capacity/capacity.h: the capacity area's public face: its init, and the
 * bulk releases other areas ask for (the worker's expiry sweep, an event's
 * cancellation). Everything else of the area is in capacity_internal.h.
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

#endif
