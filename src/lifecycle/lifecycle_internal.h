/*
 * lifecycle/lifecycle_internal.h: what the lifecycle files (lifecycle.c,
 * event_create.c, cancellation.c, confirmation.c, event_checks.c, event_row.c)
 * share and nothing else uses. The lc_ prefix keeps these short names apart from the
 * rest of the extension.
 */
#ifndef EVS_LIFECYCLE_INTERNAL_H
#define EVS_LIFECYCLE_INTERNAL_H

#include "lifecycle/lifecycle.h"

/* ---------- the event row, its document and its messages (event_row.c) ---------- */

/* SPI_connect for a lifecycle call (and no field prefix left from an earlier call). */
extern void lc_begin_spi(void);
/* {"k1": v1} or {"k1": v1, "k2": v2}; a NULL value is JSON null. */
extern Jsonb *lc_json_pair(const char *k1, const char *v1, const char *k2, const char *v2);
extern char *lc_opt_text(FunctionCallInfo fcinfo, int n);
extern Datum lc_require_uuid(FunctionCallInfo fcinfo, int n, const char *name);

typedef struct EventRow
{
	Datum		tenant;
	Datum		id;
	char	   *status;
	int32		version;
	Datum		venue_id;
	Jsonb	   *row;			/* to_jsonb of the row, without search_vector */
} EventRow;

extern void lc_lock_event(Datum tenant, Datum id, EventRow *ev);
extern Jsonb *lc_event_document(Datum id);
extern void lc_emit(Datum tenant, Datum event, const char *routing_key, Jsonb *extra);

/* The work of a call on one locked event; returns the call's result. */
typedef Jsonb *(*EventAction) (EventRow *ev, const void *context);
/*
 * A call on one existing event (SPI open, `request` is what the idempotency
 * key is bound to): a replay returns the first result, else the event is
 * locked and `action` runs; closes SPI and returns the result.
 */
extern Datum lc_event_call(Datum tenant, Datum id, const char *operation, const char *key,
						   Jsonb *request, EventAction action, const void *context);

/* ---------- checks shared by create, update and reschedule (event_checks.c) ---------- */

extern void lc_lock_venue(Datum tenant, Datum venue);
extern int32 lc_check_venue(Datum tenant, Datum venue, char **timezone);
extern void lc_check_overlap(Datum tenant, Datum venue, Jsonb *ev, Datum self, bool has_self);
extern char *lc_unique_slug(Datum tenant, Datum venue, const char *name, Datum self, bool has_self);
extern void lc_check_category(Jsonb *ev);
extern int64 lc_sections_total(Datum tenant, Datum id);
extern void lc_check_capacity_fits(int64 sections, bool has_capacity, int32 capacity,
								   int32 venue_capacity);

/* ---------- critical changes (confirmation.c) and cancellation (cancellation.c) ---------- */

extern Jsonb *lc_confirmation_gate(EventRow *ev, const char *operation, Jsonb *change,
								   Jsonb *fields, bool has_token, Datum token);
extern Jsonb *lc_cancel_locked(EventRow *ev, const char *reason, bool has_code, Datum code);

#endif
