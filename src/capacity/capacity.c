/*
 * capacity.c: the capacity area's part of _PG_init: each module defines its
 * settings and, when preloaded, its shared memory (the seat counters of
 * escrow.c, the sweep's read start of sweep_horizon.c).
 */
#include "capacity/capacity_internal.h"

/* Called from _PG_init. */
void
evs_capacity_init(void)
{
	evs_reserve_init();
	evs_escrow_init();
	evs_hold_sweep_init();
	evs_sweep_horizon_init();
	evs_customer_limit_init();
	evs_payment_init();
	evs_hold_archive_init();
	evs_waitlist_init();
	evs_postponement_init();
}
