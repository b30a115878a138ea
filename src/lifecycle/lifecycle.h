/*
 * lifecycle/lifecycle.h: the lifecycle area's public face: the event state
 * machine (state_machine.c) and the sold-ticket count it checks. The API
 * functions are reached from SQL only; what the lifecycle files share among
 * themselves is in lifecycle_internal.h.
 */
#ifndef EVS_LIFECYCLE_H
#define EVS_LIFECYCLE_H

#include "core/core.h"

extern int   evs_status_from_name(const char *name);      /* -1 when unknown */
extern const char *evs_status_name(int status);
extern bool  evs_transition_allowed(int from, int to);
/* Raises PT409 naming both states and the allowed targets; checks "sold blocks DRAFT". */
extern void  evs_check_transition(Datum tenant_id, Datum event_id, const char *from, const char *to);
/* Tickets sold for an event: sum of section sold_count, or confirmed holds if more. */
extern int64 evs_event_sold_count(Datum tenant_id, Datum event_id);
/* event_rules.c: the write rules of events (settings, a confirmed critical change, PDA form) */
extern void  evs_lifecycle_init(void);
extern void  evs_note_confirmed_change(Datum event_id);
extern bool  evs_valid_pda(const char *s);          /* a Solana address: base58, 32 to 44 characters */
/* validation.c: https://host.tld[/path], no spaces, at most 2048 bytes */
extern bool  evs_valid_https_url(const char *url);

#endif
