/*
 * worker/worker.h: the worker area's public face: its init (settings, shared
 * memory, the background worker's registration) and the commit-time wake-up.
 * What the worker files share among themselves is in worker_internal.h.
 */
#ifndef EVS_WORKER_H
#define EVS_WORKER_H

#include "core/core.h"

extern void evs_worker_init(void);
/* Ask for the worker's latch to be set when this transaction commits. */
extern void evs_worker_wake_at_commit(void);

#endif
