/*
 * discovery/discovery.h: the discovery area's public face: its init (the
 * health checks' settings). Recurrence rules (rrule.h) stay inside the area.
 */
#ifndef EVS_DISCOVERY_H
#define EVS_DISCOVERY_H

#include "core/core.h"

extern int	evs_ready_max_outbox_lag_seconds;
extern void evs_discovery_init(void);

#endif
