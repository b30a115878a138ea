/*
 * worker/worker.h: the worker area's public face: its init (settings, shared
 * memory, the background worker's registration). Nothing else: the commit-time
 * wake-up belongs to the outbox (core), where the worker registers its latch.
 * What the worker files share among themselves is in worker_internal.h.
 */
#ifndef EVS_WORKER_H
#define EVS_WORKER_H

#include "core/core.h"

extern void evs_worker_init(void);

#endif
