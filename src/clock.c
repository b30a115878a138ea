/*
 * clock.c: the testable clock. Date rules and hold expiry read time only here,
 * so a superuser can move it (eventsvc.clock_offset_seconds) to travel in tests.
 */
#include "eventsvc.h"

#include "access/xact.h"
#include "datatype/timestamp.h"

PG_FUNCTION_INFO_V1(evs_sql_now);

TimestampTz
evs_now(void)
{
	return GetCurrentTransactionStartTimestamp() +
		(TimestampTz) evs_clock_offset_seconds * USECS_PER_SEC;
}

Datum
evs_sql_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(evs_now());
}
