/*
 * lifecycle/validation.h: event field rules (validation.c) used by the lifecycle API.
 */
#ifndef EVS_VALIDATION_H
#define EVS_VALIDATION_H

#include "lifecycle/lifecycle.h"

#define EVS_MIN_LEAD_HOURS	2		/* a start at least this far ahead */
#define EVS_MAX_LEAD_DAYS	365		/* and at most this far (days of 24 h) */
#define EVS_SLUG_MAX		300

extern void evs_field_prefix(const char *prefix);  /* copied; NULL clears */
extern char *evs_field_text(Jsonb *obj, const char *key);
extern bool evs_field_timestamptz(Jsonb *obj, const char *key, TimestampTz *out);
extern bool evs_field_bool(Jsonb *obj, const char *key, bool dflt);
extern bool evs_field_int(Jsonb *obj, const char *key, int32 *out);
extern bool evs_valid_timezone(const char *name);
extern void evs_validate_event(Jsonb *ev, bool check_window);
extern char *evs_slugify(const char *name);

#endif
