/*
 * eventsvc.c: module entry point. _PG_init defines the settings and lets each
 * subsystem register what it needs (shared memory, worker) when preloaded.
 */
#include "eventsvc.h"

#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

int evs_clock_offset_seconds = 0;

void _PG_init(void);

void
evs_define_core_settings(void)
{
	/*
	 * Superuser-only: an ordinary user who could move the clock could keep an
	 * expired hold alive or publish outside the date rules.
	 */
	DefineCustomIntVariable("eventsvc.clock_offset_seconds",
							"Seconds added to the transaction start time by eventsvc.now().",
							"For tests and rehearsals only; 0 in production.",
							&evs_clock_offset_seconds,
							0, -315576000, 315576000,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}

void
_PG_init(void)
{
	evs_define_core_settings();
	evs_worker_init();
	evs_capacity_init();
	evs_discovery_init();
	MarkGUCPrefixReserved("eventsvc");
}
