/*
 * rrule.c: RFC 5545 recurrence rules (FREQ=DAILY/WEEKLY/MONTHLY, INTERVAL,
 * BYDAY, BYMONTHDAY, COUNT, UNTIL, WKST) expanded into occurrences.
 *
 * Occurrences are generated as local wall times in the schedule's time zone and
 * only then converted to instants with PostgreSQL's own zone rules, so a show
 * at 20:00 stays at 20:00 local on both sides of a daylight-saving change.
 * Expansion is bounded by max_count, a hard cap and a cap on scanned periods.
 */
#include "core/core.h"

#include "common/int.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "discovery/rrule.h"


#define RRULE_MAX_LENGTH	1000
#define RRULE_MAX_INTERVAL	1000
#define RRULE_MAX_COUNT		1000000
/* Schedules live in years 1..9999; expansion stops at the end of that calendar. */
#define RRULE_LAST_YEAR		9999
/* Periods scanned without end: a rule that matches nothing must still stop. */
#define RRULE_MAX_PERIODS	200000

typedef enum RruleFreq
{
	RRULE_DAILY,
	RRULE_WEEKLY,
	RRULE_MONTHLY
} RruleFreq;

typedef struct RruleByDay
{
	int			weekday;		/* 0 = SU .. 6 = SA, as j2day() */
	int			ordinal;		/* 0 = every such weekday; +n/-n: nth from start/end */
} RruleByDay;

typedef struct Rrule
{
	const char *text;			/* the rule as given, for messages */
	RruleFreq	freq;
	int			interval;
	int			count;			/* 0 = no COUNT */
	bool		has_until;
	bool		until_is_utc;	/* UNTIL ended in Z: an instant, else local wall time */
	Timestamp	until_local;
	TimestampTz until_utc;
	int			wkst;
	int			nbyday;
	RruleByDay	byday[7 * 11];
	int			nbymonthday;
	int			bymonthday[62];
} Rrule;

static const char *const weekday_codes[7] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};

static void pg_attribute_noreturn()
rule_error(const Rrule *r, const char *part, const char *problem)
{
	ereport(ERROR,
			(errcode(EVS_ERR_VALIDATION),
			 errmsg("invalid recurrence rule: %s", problem),
			 part ? errdetail("The rule \"%s\" has the bad part \"%s\".", r->text, part)
			 : errdetail("The rule is \"%s\".", r->text),
			 errhint("Write an RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=FR;COUNT=10. "
					 "Supported parts: FREQ (DAILY, WEEKLY, MONTHLY), INTERVAL, BYDAY, "
					 "BYMONTHDAY, COUNT, UNTIL, WKST.")));
}

/* A whole decimal number in [lo, hi], optionally signed; false when not. */
static bool
parse_number(const char *s, int lo, int hi, int *out)
{
	long		v;
	char	   *end;

	if (*s == '\0' || isspace((unsigned char) *s))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = (int) v;
	return true;
}

static int
parse_weekday(const char *s)
{
	int			i;

	for (i = 0; i < 7; i++)
		if (strcmp(s, weekday_codes[i]) == 0)
			return i;
	return -1;
}

/* UNTIL: YYYYMMDD (end of that local day), YYYYMMDDTHHMMSS (local) or ...Z (UTC). */
static void
parse_until(Rrule *r, const char *part, const char *v)
{
	int			y,
				mo,
				d,
				h = 23,
				mi = 59,
				s = 59;
	size_t		len = strlen(v);
	struct pg_tm tm;
	Timestamp	ts;
	char		buf[8];

	if (len != 8 && len != 15 && len != 16)
		rule_error(r, part, "UNTIL must be YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ");
	if (strspn(v, "0123456789") != 8 ||
		(len > 8 && (v[8] != 'T' || strspn(v + 9, "0123456789") != 6)) ||
		(len == 16 && v[15] != 'Z'))
		rule_error(r, part, "UNTIL must be YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ");
	memcpy(buf, v, 4); buf[4] = '\0'; y = atoi(buf);
	memcpy(buf, v + 4, 2); buf[2] = '\0'; mo = atoi(buf);
	memcpy(buf, v + 6, 2); d = atoi(buf);
	if (len > 8)
	{
		memcpy(buf, v + 9, 2); h = atoi(buf);
		memcpy(buf, v + 11, 2); mi = atoi(buf);
		memcpy(buf, v + 13, 2); s = atoi(buf);
	}
	if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > day_tab[isleap(y)][mo - 1] ||
		h > 23 || mi > 59 || s > 59)
		rule_error(r, part, "UNTIL is not a valid date and time");
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y;
	tm.tm_mon = mo;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	if (tm2timestamp(&tm, 0, NULL, &ts) != 0)
		rule_error(r, part, "UNTIL is out of range");
	r->has_until = true;
	r->until_is_utc = (len == 16);
	r->until_local = ts;
	r->until_utc = ts;			/* a Z time is already UTC */
}

static void
parse_byday(Rrule *r, const char *part, char *v)
{
	char	   *item;
	char	   *save = NULL;

	for (item = strtok_r(v, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		size_t		len = strlen(item);
		int			wd,
					ord = 0;

		if (len < 2 || (wd = parse_weekday(item + len - 2)) < 0)
			rule_error(r, part, "BYDAY takes weekdays MO, TU, WE, TH, FR, SA, SU, optionally prefixed by an ordinal such as 1MO or -1FR");
		if (len > 2)
		{
			char		num[8];

			if (len - 2 >= sizeof(num))
				rule_error(r, part, "BYDAY ordinal is too long");
			memcpy(num, item, len - 2);
			num[len - 2] = '\0';
			if (!parse_number(num[0] == '+' ? num + 1 : num, -5, 5, &ord) || ord == 0)
				rule_error(r, part, "BYDAY ordinal must be 1..5 or -5..-1 (as in 2TU or -1FR)");
		}
		if (r->nbyday >= (int) lengthof(r->byday))
			rule_error(r, part, "BYDAY lists too many days");
		r->byday[r->nbyday].weekday = wd;
		r->byday[r->nbyday].ordinal = ord;
		r->nbyday++;
	}
	if (r->nbyday == 0)
		rule_error(r, part, "BYDAY is empty");
}

static void
parse_bymonthday(Rrule *r, const char *part, char *v)
{
	char	   *item;
	char	   *save = NULL;

	for (item = strtok_r(v, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		int			md;

		if (!parse_number(item[0] == '+' ? item + 1 : item, -31, 31, &md) || md == 0)
			rule_error(r, part, "BYMONTHDAY takes days 1..31 or -31..-1 (-1 is the last day of the month)");
		if (r->nbymonthday >= (int) lengthof(r->bymonthday))
			rule_error(r, part, "BYMONTHDAY lists too many days");
		r->bymonthday[r->nbymonthday++] = md;
	}
	if (r->nbymonthday == 0)
		rule_error(r, part, "BYMONTHDAY is empty");
}

/* Parses and checks a rule; every problem is a validation error naming its part. */
static void
rrule_parse(const char *text, Rrule *r)
{
	char	   *buf;
	char	   *body;
	char	   *part;
	char	   *save = NULL;
	bool		seen_freq = false,
				seen_interval = false,
				seen_count = false,
				seen_byday = false,
				seen_bymonthday = false,
				seen_wkst = false;
	int			i;

	memset(r, 0, sizeof(*r));
	r->text = text;
	r->interval = 1;
	r->wkst = 1;				/* MO, the RFC default */

	if (strlen(text) > RRULE_MAX_LENGTH)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid recurrence rule: longer than %d characters", RRULE_MAX_LENGTH)));
	buf = pstrdup(text);
	for (i = 0; buf[i]; i++)
		buf[i] = pg_ascii_toupper((unsigned char) buf[i]);
	body = buf;
	if (strncmp(body, "RRULE:", 6) == 0)
		body += 6;
	if (*body == '\0')
		rule_error(r, NULL, "the rule is empty");

	for (part = strtok_r(body, ";", &save); part; part = strtok_r(NULL, ";", &save))
	{
		char	   *eq = strchr(part, '=');
		char	   *name = part;
		char	   *value;
		char	   *whole = pstrdup(part);

		if (eq == NULL || eq == part || eq[1] == '\0')
			rule_error(r, whole, "each part must be NAME=VALUE");
		*eq = '\0';
		value = eq + 1;

#define ONCE(flag) do { if (flag) rule_error(r, whole, "a part appears twice"); flag = true; } while (0)
		if (strcmp(name, "FREQ") == 0)
		{
			ONCE(seen_freq);
			if (strcmp(value, "DAILY") == 0)
				r->freq = RRULE_DAILY;
			else if (strcmp(value, "WEEKLY") == 0)
				r->freq = RRULE_WEEKLY;
			else if (strcmp(value, "MONTHLY") == 0)
				r->freq = RRULE_MONTHLY;
			else
				rule_error(r, whole, "FREQ must be DAILY, WEEKLY or MONTHLY");
		}
		else if (strcmp(name, "INTERVAL") == 0)
		{
			ONCE(seen_interval);
			if (!parse_number(value, 1, RRULE_MAX_INTERVAL, &r->interval))
				rule_error(r, whole, "INTERVAL must be a whole number from 1 to 1000");
		}
		else if (strcmp(name, "COUNT") == 0)
		{
			ONCE(seen_count);
			if (!parse_number(value, 1, RRULE_MAX_COUNT, &r->count))
				rule_error(r, whole, "COUNT must be a whole number from 1 to 1000000");
		}
		else if (strcmp(name, "UNTIL") == 0)
		{
			if (r->has_until)
				rule_error(r, whole, "a part appears twice");
			parse_until(r, whole, value);
		}
		else if (strcmp(name, "BYDAY") == 0)
		{
			ONCE(seen_byday);
			parse_byday(r, whole, value);
		}
		else if (strcmp(name, "BYMONTHDAY") == 0)
		{
			ONCE(seen_bymonthday);
			parse_bymonthday(r, whole, value);
		}
		else if (strcmp(name, "WKST") == 0)
		{
			ONCE(seen_wkst);
			if ((r->wkst = parse_weekday(value)) < 0)
				rule_error(r, whole, "WKST must be one of MO, TU, WE, TH, FR, SA, SU");
		}
		else
			rule_error(r, whole, "this part is not supported");
#undef ONCE
	}

	if (!seen_freq)
		rule_error(r, NULL, "FREQ is required");
	if (seen_count && r->has_until)
		rule_error(r, NULL, "COUNT and UNTIL cannot both be given (RFC 5545)");
	if (r->freq == RRULE_WEEKLY && seen_bymonthday)
		rule_error(r, "BYMONTHDAY", "BYMONTHDAY cannot be used with FREQ=WEEKLY (RFC 5545)");
	if (r->freq != RRULE_MONTHLY)
		for (i = 0; i < r->nbyday; i++)
			if (r->byday[i].ordinal != 0)
				rule_error(r, "BYDAY", "a BYDAY ordinal such as 1MO or -1FR is only allowed with FREQ=MONTHLY");
}

/* Local wall time in zone tz to an instant, by PostgreSQL's zone rules. */
static TimestampTz
local_to_instant(Timestamp local, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	TimestampTz result;

	if (timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("recurrence runs beyond the supported date range")));
	offset = DetermineTimeZoneOffset(&tm, tz);
	result = local + (int64) offset * USECS_PER_SEC;
	if (!IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("recurrence runs beyond the supported date range")));
	return result;
}

static bool
monthday_matches(const Rrule *r, int day, int ndays)
{
	int			i;

	for (i = 0; i < r->nbymonthday; i++)
	{
		int			md = r->bymonthday[i];

		if (md == day || (md < 0 && ndays + md + 1 == day))
			return true;
	}
	return false;
}

/* BYDAY for a day at position day of a month with ndays days (ordinals count within the month). */
static bool
weekday_matches(const Rrule *r, int weekday, int day, int ndays)
{
	int			i;
	int			nth = (day - 1) / 7 + 1;
	int			nth_from_end = -((ndays - day) / 7 + 1);

	for (i = 0; i < r->nbyday; i++)
	{
		const RruleByDay *b = &r->byday[i];

		if (b->weekday != weekday)
			continue;
		if (b->ordinal == 0 || b->ordinal == nth || b->ordinal == nth_from_end)
			return true;
	}
	return false;
}

/*
 * Candidate dates (Julian day numbers, ascending) of period k. Returns how many
 * were written to out (room for 31).
 */
static int
period_candidates(const Rrule *r, int start_jd, int start_year, int start_mon, int start_day,
				  int64 k, int *out)
{
	int			n = 0;
	int			y, m, d, ndays;

	switch (r->freq)
	{
		case RRULE_DAILY:
			{
				int64		jd = start_jd + k * r->interval;

				if (jd > date2j(RRULE_LAST_YEAR, 12, 31))
					return -1;
				j2date((int) jd, &y, &m, &d);
				ndays = day_tab[isleap(y)][m - 1];
				if ((r->nbyday == 0 || weekday_matches(r, j2day((int) jd), d, ndays)) &&
					(r->nbymonthday == 0 || monthday_matches(r, d, ndays)))
					out[n++] = (int) jd;
				break;
			}
		case RRULE_WEEKLY:
			{
				int			start_wd = j2day(start_jd);
				int64		week0 = start_jd - ((start_wd - r->wkst + 7) % 7);
				int64		ws = week0 + k * 7 * r->interval;
				int			i;

				if (ws > date2j(RRULE_LAST_YEAR, 12, 31))
					return -1;
				for (i = 0; i < 7; i++)
				{
					int			jd = (int) ws + i;
					int			wd = j2day(jd);
					bool		hit;

					if (r->nbyday == 0)
						hit = (wd == start_wd);
					else
					{
						int			j;

						hit = false;
						for (j = 0; j < r->nbyday; j++)
							if (r->byday[j].weekday == wd)
								hit = true;
					}
					if (hit)
						out[n++] = jd;
				}
				break;
			}
		case RRULE_MONTHLY:
			{
				int64		mi = (int64) start_year * 12 + (start_mon - 1) + k * r->interval;

				y = (int) (mi / 12);
				m = (int) (mi % 12) + 1;
				if (y > RRULE_LAST_YEAR)
					return -1;
				ndays = day_tab[isleap(y)][m - 1];
				for (d = 1; d <= ndays; d++)
				{
					int			jd = date2j(y, m, d);
					bool		hit;

					if (r->nbyday == 0 && r->nbymonthday == 0)
						hit = (d == start_day);	/* months without that day are skipped */
					else
						hit = (r->nbyday == 0 || weekday_matches(r, j2day(jd), d, ndays)) &&
							(r->nbymonthday == 0 || monthday_matches(r, d, ndays));
					if (hit)
						out[n++] = jd;
				}
				break;
			}
	}
	return n;
}

/*
 * Expands the rule from dtstart (local wall time in tz). Each occurrence is
 * handed to emit; stops at COUNT, UNTIL, window_end (exclusive), max_count or
 * the period cap, whichever comes first.
 */
void
evs_rrule_expand(const char *rule, Timestamp dtstart, const char *tzname, Interval *duration,
				 int max_count, bool has_window_end, TimestampTz window_end,
				 evs_occurrence_fn emit, void *arg)
{
	Rrule		r;
	pg_tz	   *tz;
	struct pg_tm tm;
	fsec_t		fsec;
	int			start_jd;
	int			last_jd;
	Timestamp	time_of_day;
	Interval	date_part;
	int64		k;
	int			produced = 0;

	rrule_parse(rule, &r);
	tz = evs_rrule_zone(tzname);
	if (TIMESTAMP_NOT_FINITE(dtstart) || timestamp2tm(dtstart, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > RRULE_LAST_YEAR)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid schedule start: it must be a local date and time in the years 1 to %d",
						RRULE_LAST_YEAR)));
	if (duration->month < 0 || duration->day < 0 || duration->time < 0 ||
		(duration->month == 0 && duration->day == 0 && duration->time == 0))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid occurrence duration: it must be positive"),
				 errhint("Give the length of one occurrence, for example interval '3 hours'.")));
	/* an occurrence is a show, not a season: this also keeps every end in range */
	if (duration->month > 12 || duration->day > 366 ||
		duration->time > (int64) 366 * USECS_PER_DAY ||
		(int64) duration->month * 31 + duration->day + duration->time / USECS_PER_DAY > 366)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid occurrence duration: it must be at most 366 days")));
	if (max_count < 1 || max_count > EVS_RRULE_HARD_CAP)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid max_count %d: it must be from 1 to %d", max_count, EVS_RRULE_HARD_CAP)));

	start_jd = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday);
	last_jd = date2j(RRULE_LAST_YEAR, 12, 31);
	time_of_day = dtstart - (Timestamp) (start_jd - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
	date_part.month = duration->month;
	date_part.day = duration->day;
	date_part.time = 0;

	for (k = 0; k < RRULE_MAX_PERIODS; k++)
	{
		int			cand[31];
		int			n,
					i;

		CHECK_FOR_INTERRUPTS();
		n = period_candidates(&r, start_jd, tm.tm_year, tm.tm_mon, tm.tm_mday, k, cand);
		if (n < 0)
			return;				/* past the end of the schedules' calendar */
		for (i = 0; i < n; i++)
		{
			Timestamp	local;
			Timestamp	local_end;
			TimestampTz starts_at;
			TimestampTz ends_at;

			if (cand[i] < start_jd)
				continue;		/* the first period may begin before dtstart */
			if (cand[i] > last_jd)
				return;			/* the calendar of schedules ends with RRULE_LAST_YEAR */
			local = (Timestamp) (cand[i] - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY + time_of_day;
			if (r.has_until && !r.until_is_utc && local > r.until_local)
				return;
			starts_at = local_to_instant(local, tz);
			if (r.has_until && r.until_is_utc && starts_at > r.until_utc)
				return;
			if (has_window_end && starts_at >= window_end)
				return;
			/* days and months of the duration in wall time, hours as elapsed time */
			local_end = DatumGetTimestamp(DirectFunctionCall2(timestamp_pl_interval,
															  TimestampGetDatum(local),
															  IntervalPGetDatum(&date_part)));
			ends_at = local_to_instant(local_end, tz);
			if (pg_add_s64_overflow(ends_at, duration->time, &ends_at) || !IS_VALID_TIMESTAMP(ends_at))
				ereport(ERROR,
						(errcode(EVS_ERR_VALIDATION),
						 errmsg("recurrence runs beyond the supported date range")));
			emit(arg, starts_at, ends_at);
			produced++;
			if ((r.count > 0 && produced >= r.count) || produced >= max_count)
				return;
		}
	}
}

/* The zone by name; an unknown zone is a validation error naming it. */
pg_tz *
evs_rrule_zone(const char *tzname)
{
	pg_tz	   *tz = NULL;

	if (tzname != NULL && tzname[0] != '\0' && strlen(tzname) < TZ_STRLEN_MAX)
		tz = pg_tzset(tzname);
	if (tz == NULL)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("invalid time zone \"%s\"", tzname ? tzname : ""),
				 errhint("Use an IANA zone name such as America/New_York or Europe/Berlin.")));
	return tz;
}

/* Parses the rule (errors as expansion would) and says whether it is bounded. */
void
evs_rrule_check(const char *rule, int *count, bool *has_until)
{
	Rrule		r;

	rrule_parse(rule, &r);
	*count = r.count;
	*has_until = r.has_until;
}
