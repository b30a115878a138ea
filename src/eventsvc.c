/*
 * eventsvc.c: the module's entry point. _PG_init lets each area define its
 * settings and, when preloaded, register its shared memory and workers.
 */
#include "core/core.h"

#include "utils/guc.h"
#include "capacity/capacity.h"
#include "discovery/discovery.h"
#include "lifecycle/lifecycle.h"
#include "worker/worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Each area defines its settings and, when preloaded, its shared memory and workers. */
void
_PG_init(void)
{
	evs_core_init();
	evs_worker_init();
	evs_capacity_init();
	evs_lifecycle_init();
	evs_discovery_init();
	MarkGUCPrefixReserved("eventsvc");
}
