/*
 * capacity.c: the capacity area's part of _PG_init: the hold settings and,
 * through each module's init, the seat counters (escrow.c) and the sweep's
 * read start (sweep_horizon.c) in shared memory.
 */
#include "core/core.h"

#include "miscadmin.h"
#include "utils/guc.h"
#include "capacity/capacity_internal.h"

int			evs_hold_default_seconds = 600;
int			evs_hold_max_seconds = 1800;
int			evs_max_seats_per_holder = 0;
int			evs_escrow_max_sections = 10000;

void
evs_capacity_init(void)
{
	DefineCustomIntVariable("eventsvc.hold_default_seconds",
							"Lifetime of a hold when the request names none.",
							NULL, &evs_hold_default_seconds, 600, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.hold_max_seconds",
							"Longest lifetime of a hold, extensions included, counted from its creation.",
							NULL, &evs_hold_max_seconds, 1800, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.max_seats_per_holder",
							"Seats one holder may hold or have bought per event (0: only the tier's max_per_customer).",
							NULL, &evs_max_seats_per_holder, 0, 0, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	/* PGC_POSTMASTER settings can only be defined while preloading (else FATAL). */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("eventsvc.escrow_max_sections",
								"Sections that can have a shared-memory seat counter (0 disables them).",
								"Sections beyond this use row locks. Needs a restart.",
								&evs_escrow_max_sections, 10000, 0, 10000000,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	evs_escrow_shmem_init();
	evs_sweep_horizon_init();
}
