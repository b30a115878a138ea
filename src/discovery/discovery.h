/*
 * discovery/discovery.h: the discovery area's public face: its init (the
 * health checks' settings). Recurrence rules (rrule.h) stay inside the area.
 */
#ifndef EVS_DISCOVERY_H
#define EVS_DISCOVERY_H

#include "core/core.h"

extern void evs_discovery_init(void);

#endif
