/*
 * core/core.c: the core's part of _PG_init: each core module's settings and,
 * when preloaded, its shared memory.
 */
#include "core/core.h"

/* Called from _PG_init: each core module's settings and shared memory. */
void
evs_core_init(void)
{
	evs_clock_init();
	evs_tenancy_init();
	evs_quotas_init();
	evs_outbox_init();
	evs_refcache_init();
	evs_rate_limit_init();
}
