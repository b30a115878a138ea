/*
 * schedules.c: the SQL face of recurrence rules (rrule.c): expand_rrule,
 * validate_rrule, schedule_recurrence_end (the check a recurring schedule
 * passes before it is stored), check_timezone and require_finite.
 */
#include "core/core.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "discovery/rrule.h"

PG_FUNCTION_INFO_V1(evs_expand_rrule);
PG_FUNCTION_INFO_V1(evs_validate_rrule);
PG_FUNCTION_INFO_V1(evs_schedule_recurrence_end);
PG_FUNCTION_INFO_V1(evs_sql_check_timezone);

typedef struct SrfTarget
{
	ReturnSetInfo *rsinfo;
} SrfTarget;

static void
emit_row(void *arg, TimestampTz starts_at, TimestampTz ends_at)
{
	SrfTarget  *t = (SrfTarget *) arg;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[0] = TimestampTzGetDatum(starts_at);
	values[1] = TimestampTzGetDatum(ends_at);
	tuplestore_putvalues(t->rsinfo->setResult, t->rsinfo->setDesc, values, nulls);
}

static void
require_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s is required", name)));
}

/* A schedule's times are real instants: 'infinity' has no wall-clock time to repeat. */
static void
require_finite(TimestampTz t, const char *name)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s must be a finite time, not %s", name, t == DT_NOBEGIN ? "-infinity" : "infinity")));
}

PG_FUNCTION_INFO_V1(evs_sql_require_finite);

/* eventsvc.require_finite(ts, name): ts, or the error above. */
Datum
evs_sql_require_finite(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	require_finite(PG_GETARG_TIMESTAMPTZ(0), PG_ARGISNULL(1) ? "time" : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}

/*
 * eventsvc.expand_rrule(rule, dtstart timestamp, tz, duration, max_count, window_end)
 * RETURNS TABLE(starts_at timestamptz, ends_at timestamptz)
 */
Datum
evs_expand_rrule(PG_FUNCTION_ARGS)
{
	SrfTarget	t;
	char	   *rule;
	char	   *tz;
	int			max_count;

	require_arg(fcinfo, 0, "rule");
	require_arg(fcinfo, 1, "dtstart");
	require_arg(fcinfo, 2, "tz");
	require_arg(fcinfo, 3, "duration");
	rule = text_to_cstring(PG_GETARG_TEXT_PP(0));
	tz = text_to_cstring(PG_GETARG_TEXT_PP(2));
	max_count = PG_ARGISNULL(4) ? EVS_RRULE_DEFAULT_COUNT : PG_GETARG_INT32(4);

	InitMaterializedSRF(fcinfo, 0);
	t.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	evs_rrule_expand(rule, PG_GETARG_TIMESTAMP(1), tz, PG_GETARG_INTERVAL_P(3), max_count,
					 !PG_ARGISNULL(5), PG_ARGISNULL(5) ? 0 : PG_GETARG_TIMESTAMPTZ(5),
					 emit_row, &t);
	return (Datum) 0;
}

/* eventsvc.validate_rrule(rule) RETURNS void: errors exactly as expansion would. */
Datum
evs_validate_rrule(PG_FUNCTION_ARGS)
{
	int			count;
	bool		has_until;

	require_arg(fcinfo, 0, "rule");
	evs_rrule_check(text_to_cstring(PG_GETARG_TEXT_PP(0)), &count, &has_until);
	PG_RETURN_VOID();
}

typedef struct RecurrenceSpan
{
	int64		n;
	TimestampTz last_end;
} RecurrenceSpan;

static void
note_span(void *arg, TimestampTz starts_at, TimestampTz ends_at)
{
	RecurrenceSpan *s = (RecurrenceSpan *) arg;

	s->n++;
	s->last_end = ends_at;
}

/*
 * eventsvc.schedule_recurrence_end(rule, starts_at, ends_at, tz) RETURNS timestamptz
 *
 * Checks a recurring schedule before it is stored: the zone exists, the rule
 * parses, it yields at least one occurrence, and a bounded rule (COUNT/UNTIL)
 * fits in the hard cap. Returns the end of the last occurrence of a bounded rule,
 * NULL for an open-ended one (expanded by window when read).
 */
Datum
evs_schedule_recurrence_end(PG_FUNCTION_ARGS)
{
	char	   *rule;
	char	   *tzname;
	TimestampTz starts_at,
				ends_at;
	Timestamp	local_start,
				local_end;
	Interval   *duration;
	RecurrenceSpan span = {0, 0};
	int			count;
	bool		has_until;

	require_arg(fcinfo, 0, "recurrence_rule");
	require_arg(fcinfo, 1, "starts_at");
	require_arg(fcinfo, 2, "ends_at");
	require_arg(fcinfo, 3, "timezone");
	rule = text_to_cstring(PG_GETARG_TEXT_PP(0));
	starts_at = PG_GETARG_TIMESTAMPTZ(1);
	ends_at = PG_GETARG_TIMESTAMPTZ(2);
	tzname = text_to_cstring(PG_GETARG_TEXT_PP(3));
	require_finite(starts_at, "starts_at");
	require_finite(ends_at, "ends_at");
	(void) evs_rrule_zone(tzname);	/* a clear error before timestamptz_zone's own */
	if (ends_at <= starts_at)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid schedule: ends_at must be after starts_at")));
	evs_rrule_check(rule, &count, &has_until);

	/* the first occurrence's length in wall time is the length of every occurrence */
	local_start = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone,
														CStringGetTextDatum(tzname),
														TimestampTzGetDatum(starts_at)));
	local_end = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone,
													  CStringGetTextDatum(tzname),
													  TimestampTzGetDatum(ends_at)));
	duration = DatumGetIntervalP(DirectFunctionCall2(timestamp_mi,
													 TimestampGetDatum(local_end),
													 TimestampGetDatum(local_start)));
	if (duration->time <= 0 && duration->day <= 0 && duration->month <= 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid schedule: the occurrence has no length in local time"),
				 errhint("Make ends_at later than starts_at in the schedule's time zone.")));

	if (count == 0 && !has_until)
	{
		/* open-ended: it only has to produce a first occurrence */
		evs_rrule_expand(rule, local_start, tzname, duration, 1, false, 0, note_span, &span);
		if (span.n == 0)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("invalid recurrence rule: it yields no occurrence"),
					 errdetail("The rule is \"%s\".", rule)));
		PG_RETURN_NULL();
	}
	evs_rrule_expand(rule, local_start, tzname, duration, EVS_RRULE_HARD_CAP, false, 0,
					 note_span, &span);
	if (span.n == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid recurrence rule: it yields no occurrence on or after starts_at"),
				 errdetail("The rule is \"%s\".", rule),
				 errhint("Check UNTIL and the BYDAY/BYMONTHDAY parts against the start date.")));
	if (span.n >= EVS_RRULE_HARD_CAP && (count == 0 || count > EVS_RRULE_HARD_CAP))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid recurrence rule: it yields more than %d occurrences", EVS_RRULE_HARD_CAP),
				 errdetail("The rule is \"%s\".", rule),
				 errhint("Lower COUNT or UNTIL, or split the run into several schedules.")));
	PG_RETURN_TIMESTAMPTZ(span.last_end);
}

/* eventsvc.check_timezone(tz) RETURNS text: the zone name, or a validation error naming it. */
Datum
evs_sql_check_timezone(PG_FUNCTION_ARGS)
{
	require_arg(fcinfo, 0, "timezone");
	(void) evs_rrule_zone(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_TEXT_P(PG_GETARG_TEXT_P(0));
}
