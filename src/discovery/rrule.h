/*
 * discovery/rrule.h: recurrence rule expansion (rrule.c), used by the
 * schedule and occurrence functions (schedules.c).
 */
#ifndef EVS_RRULE_H
#define EVS_RRULE_H

#include "pgtime.h"
#include "utils/timestamp.h"

#define EVS_RRULE_DEFAULT_COUNT	500
/* No single expansion returns more rows than this, whatever max_count says. */
#define EVS_RRULE_HARD_CAP		10000

typedef void (*evs_occurrence_fn) (void *arg, TimestampTz starts_at, TimestampTz ends_at);

extern pg_tz *evs_rrule_zone(const char *tzname);
/* Parses the rule (errors as expansion would); count 0 and !has_until: open-ended. */
extern void evs_rrule_check(const char *rule, int *count, bool *has_until);
extern void evs_rrule_expand(const char *rule, Timestamp dtstart, const char *tzname,
							 Interval *duration, int max_count, bool has_window_end,
							 TimestampTz window_end, evs_occurrence_fn emit, void *arg);

#endif
