/*
 * worker/worker.h: the worker area's public face: its init (settings, shared
 * memory, the background worker's registration) and the request to fetch an
 * unknown venue. Nothing else: the commit-time
 * wake-up belongs to the outbox (core), where the worker registers its latch.
 * What the worker files share among themselves is in worker_internal.h.
 */
#ifndef EVS_WORKER_H
#define EVS_WORKER_H

#include "core/core.h"

extern void evs_worker_init(void);
/* A venue named but unknown here: the worker fetches it from venue-service soon (venues.c). */
extern void evs_venue_wanted(Datum tenant, Datum venue);

#endif
