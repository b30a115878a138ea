/*
 * clock.c: the testable clock. Date rules and hold expiry read time only here,
 * so a superuser can move it (eventsvc.clock_offset_seconds) to travel in tests.
 */
#include "core/core.h"

#include "access/xact.h"
#include "datatype/timestamp.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(evs_sql_now);

static int	evs_clock_offset_seconds = 0;

/* Called from evs_core_init: the clock's setting. */
void
evs_clock_init(void)
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

/* eventsvc's current time: the transaction start plus eventsvc.clock_offset_seconds. */
TimestampTz
evs_now(void)
{
	return GetCurrentTransactionStartTimestamp() +
		(TimestampTz) evs_clock_offset_seconds * USECS_PER_SEC;
}

/* eventsvc.now(): evs_now for SQL. */
Datum
evs_sql_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(evs_now());
}
