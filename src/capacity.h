/*
 * capacity.h: the escrow counters (escrow.c) as the hold path (capacity.c)
 * uses them. See docs/capacity.md for the design and its invariants.
 */
#ifndef EVS_CAPACITY_H
#define EVS_CAPACITY_H

#include "eventsvc.h"

typedef struct EvsEscrowEntry EvsEscrowEntry;

/* settings (capacity.c) */
extern int	evs_hold_default_seconds;
extern int	evs_hold_max_seconds;
extern int	evs_max_seats_per_holder;
extern int	evs_escrow_max_sections;

/*
 * The section's shared counter with a valid value, rebuilt from committed rows
 * under a heavyweight lock when needed. NULL when escrow cannot serve the
 * section (not preloaded, table full, recovery, disabled): the caller then
 * uses the row-lock path. Call it BEFORE this transaction changes any hold row
 * of the section: a rebuild counts the rows this transaction can see.
 */
extern EvsEscrowEntry *evs_escrow_section(Datum tenant_id, Datum section_id);
/* Take n seats now (given back if the (sub)transaction aborts). */
extern bool evs_escrow_take(EvsEscrowEntry *e, int64 n, int64 *remaining);
/* Give n seats back when the transaction commits (nothing on abort). */
extern void evs_escrow_give_on_commit(EvsEscrowEntry *e, int64 n);
extern int64 evs_escrow_available(EvsEscrowEntry *e);
/* records of open transactions on the counter; drift is meaningful only at 0 */
extern int	evs_escrow_in_flight(EvsEscrowEntry *e);
extern void evs_escrow_shmem_init(void);

/* capacity.c: hold rows change only while this is true (the DML guard trigger). */
extern bool evs_hold_writer_active;

#endif
