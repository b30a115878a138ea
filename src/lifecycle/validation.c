/*
 * validation.c: the field rules of an event, checked before anything is
 * written. Each failure names the field, what was wrong and what is allowed
 * (EVS_ERR_VALIDATION). Rules that need other rows (venue, overlap, slug,
 * category) live in event_checks.c.
 */
#include "core/core.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "lifecycle/validation.h"

static int
cmp_numerics(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

#define HOUR_USECS	((int64) 3600 * USECS_PER_SEC)

/*
 * jsonb field helpers: absent and JSON null both read as "not given". Errors
 * name the field with the prefix set by evs_field_prefix ("sections[2]."), so
 * a client sees which element of a list was wrong.
 */
static char field_prefix[64] = "";

/* Names fields in errors as prefix + key ("sections[2]."); NULL clears. */
void
evs_field_prefix(const char *prefix)
{
	strlcpy(field_prefix, prefix ? prefix : "", sizeof(field_prefix));
}

/* The field's value of JSON type `type`, or NULL when not given; another type is an error. */
static JsonbValue *
field(Jsonb *obj, const char *key, enum jbvType type, const char *what)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&obj->root, key, strlen(key), NULL);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != type)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s%s: must be %s", field_prefix, key, what)));
	return v;
}

/* A string field, NULL when absent or null; another type is an error. */
char *
evs_field_text(Jsonb *obj, const char *key)
{
	JsonbValue *v = field(obj, key, jbvString, "a string");

	if (v == NULL)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* A time field; false when absent; not a finite time is an error. */
bool
evs_field_timestamptz(Jsonb *obj, const char *key, TimestampTz *out)
{
	char	   *s = evs_field_text(obj, key);

	if (s == NULL)
		return false;
	*out = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	if (TIMESTAMP_NOT_FINITE(*out))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s%s: must be a finite date and time, got %s", field_prefix, key, s)));
	return true;
}

/* A boolean field, dflt when absent. */
bool
evs_field_bool(Jsonb *obj, const char *key, bool dflt)
{
	JsonbValue *v = field(obj, key, jbvBool, "true or false");

	if (v == NULL)
		return dflt;
	return v->val.boolean;
}

/* A JSON number as Numeric, or NULL when absent. */
static Numeric
field_numeric(Jsonb *obj, const char *key)
{
	JsonbValue *v = field(obj, key, jbvNumeric, "a number");

	return v ? v->val.numeric : NULL;
}

/* An integer field; false when absent; not a whole number in range is an error. */
bool
evs_field_int(Jsonb *obj, const char *key, int32 *out)
{
	Numeric		n = field_numeric(obj, key);
	bool		have_error = false;

	if (n == NULL)
		return false;
	if (numeric_is_nan(n) || numeric_is_inf(n) ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
										  DirectFunctionCall2(numeric_trunc, NumericGetDatum(n), Int32GetDatum(0)))) != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s%s: must be a whole number", field_prefix, key)));
	*out = numeric_int4_opt_error(n, &have_error);
	if (have_error)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s%s: %s is out of range", field_prefix, key,
						DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n))))));
	return true;
}

static char *
fmt_ts(TimestampTz t)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(t)));
}

/*
 * An IANA zone name. pg_tzset also accepts POSIX rule strings such as
 * "XYZ5" (any name with an offset in it), so a name containing a digit must
 * additionally be one of the zone files (Etc/GMT+5, EST5EDT, ...).
 */
bool
evs_valid_timezone(const char *name)
{
	pg_tz	   *tz;
	bool		has_digit = false;

	if (name == NULL || name[0] == '\0' || strlen(name) > 64 || name[0] == ':')
		return false;
	for (const char *p = name; *p; p++)
	{
		if (!(isalnum((unsigned char) *p) || *p == '/' || *p == '_' || *p == '-' || *p == '+'))
			return false;
		if (isdigit((unsigned char) *p))
			has_digit = true;
	}
	tz = pg_tzset(name);
	if (tz == NULL || !pg_tz_acceptable(tz))
		return false;
	if (has_digit)
	{
		pg_tzenum  *e = pg_tzenumerate_start();
		pg_tz	   *z;
		bool		found = false;

		while (!found && (z = pg_tzenumerate_next(e)) != NULL)
			found = pg_strcasecmp(pg_get_timezone_name(z), name) == 0;
		pg_tzenumerate_end(e);
		return found;
	}
	return true;
}

/* https://host.tld[/path], at most 2048 bytes: the same shape as the events_virtual_url constraint. */
bool
evs_valid_https_url(const char *url)
{
	const char *host;
	const char *p;
	bool		dot = false;

	if (strncmp(url, "https://", 8) != 0 || strlen(url) > 2048)
		return false;
	host = url + 8;
	for (p = host; *p && *p != '/' && *p != '?' && *p != '#'; p++)
	{
		if (isspace((unsigned char) *p) || (unsigned char) *p < 0x21)
			return false;
		if (*p == '.' && p > host && p[1] && p[1] != '/' && p[1] != '?' && p[1] != '#')
			dot = true;
	}
	if (!dot)
		return false;
	for (; *p; p++)
		if (isspace((unsigned char) *p))
			return false;
	return true;
}

static void
check_percentage(const char *key, Numeric n)
{
	Numeric		zero = int64_to_numeric(0);
	Numeric		hundred = int64_to_numeric(100);

	if (n == NULL)
		return;
	if (numeric_is_nan(n) || numeric_is_inf(n) || cmp_numerics(n, zero) < 0 || cmp_numerics(n, hundred) > 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: must be between 0 and 100, got %s", key,
						DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)))),
				 errhint("Percentages are of the ticket revenue; artist and venue together at most 100.")));
	if (cmp_numerics(n, DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(n), Int32GetDatum(2)))) != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: at most 2 decimal places, got %s", key,
						DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n))))));
}

static void
check_enum(Jsonb *ev, const char *key, const char *const *allowed, const char *list)
{
	char	   *v = evs_field_text(ev, key);

	if (v == NULL)
		return;
	for (int i = 0; allowed[i]; i++)
		if (strcmp(v, allowed[i]) == 0)
			return;
	ereport(ERROR,
			(errcode(EVS_ERR_VALIDATION),
			 errmsg("%s: \"%s\" is not allowed", key, v),
			 errhint("Allowed: %s.", list)));
}

/*
 * The rules of one event, given as its would-be row in jsonb. check_window
 * applies the "2 hours to 365 days ahead" rule, which only concerns a new
 * or moved start, never an untouched one.
 */
void
evs_validate_event(Jsonb *ev, bool check_window)
{
	static const char *const visibilities[] = {"PUBLIC", "PRIVATE", "UNLISTED", NULL};
	static const char *const types[] = {"single", "recurring", "series", NULL};
	char	   *name = evs_field_text(ev, "name");
	char	   *tz = evs_field_text(ev, "timezone");
	char	   *type = evs_field_text(ev, "event_type");
	TimestampTz starts = 0,
				ends = 0,
				doors = 0;
	bool		has_starts = evs_field_timestamptz(ev, "starts_at", &starts);
	bool		has_ends = evs_field_timestamptz(ev, "ends_at", &ends);
	bool		has_doors = evs_field_timestamptz(ev, "doors_open", &doors);
	Numeric		artist = field_numeric(ev, "artist_percentage");
	Numeric		venue = field_numeric(ev, "venue_percentage");
	int32		age;

	if (name == NULL || strlen(name) == 0 || strspn(name, " \t\r\n") == strlen(name))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("name: is required and must not be blank")));
	if (pg_mbstrlen(name) > 300)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("name: must be at most 300 characters, got %d", pg_mbstrlen(name))));
	check_enum(ev, "visibility", visibilities, "PUBLIC, PRIVATE, UNLISTED");
	check_enum(ev, "event_type", types, "single, recurring, series");

	if ((type == NULL || strcmp(type, "single") == 0) && (!has_starts || !has_ends))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: is required for a single event", has_starts ? "ends_at" : "starts_at"),
				 errhint("Give both starts_at and ends_at (timestamps with time zone).")));
	if (has_starts != has_ends)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: is required when %s is given", has_starts ? "ends_at" : "starts_at",
						has_starts ? "starts_at" : "ends_at")));
	if (has_starts && ends <= starts)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("ends_at: must be after starts_at"),
				 errdetail("starts_at is %s, ends_at is %s.", fmt_ts(starts), fmt_ts(ends))));
	if (has_doors && !has_starts)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("doors_open: needs starts_at")));
	if (has_doors && doors > starts)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("doors_open: must be at or before starts_at"),
				 errdetail("starts_at is %s, doors_open is %s.", fmt_ts(starts), fmt_ts(doors))));
	if (has_starts && check_window)
	{
		TimestampTz now = evs_now();
		TimestampTz earliest = now + EVS_MIN_LEAD_HOURS * HOUR_USECS;
		TimestampTz latest = now + (int64) EVS_MAX_LEAD_DAYS * 24 * HOUR_USECS;

		if (starts < earliest)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("starts_at: must be at least %d hours from now", EVS_MIN_LEAD_HOURS),
					 errdetail("starts_at is %s; the earliest allowed is %s.", fmt_ts(starts), fmt_ts(earliest))));
		if (starts > latest)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("starts_at: must be at most %d days from now", EVS_MAX_LEAD_DAYS),
					 errdetail("starts_at is %s; the latest allowed is %s.", fmt_ts(starts), fmt_ts(latest))));
	}
	if (tz != NULL && !evs_valid_timezone(tz))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("timezone: \"%s\" is not an IANA time zone name", tz),
				 errhint("Use a name such as Europe/Berlin or America/New_York (see pg_timezone_names).")));

	check_percentage("artist_percentage", artist);
	check_percentage("venue_percentage", venue);
	if (artist != NULL && venue != NULL &&
		cmp_numerics(numeric_add_opt_error(artist, venue, NULL), int64_to_numeric(100)) > 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("artist_percentage + venue_percentage: must be at most 100, got %s",
						DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(numeric_add_opt_error(artist, venue, NULL)))))));

	if (evs_field_bool(ev, "is_virtual", false))
	{
		char	   *url = evs_field_text(ev, "virtual_event_url");

		if (url == NULL || !evs_valid_https_url(url))
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("virtual_event_url: a virtual event needs a well-formed https URL%s%s%s",
							url ? ", got \"" : "", url ? url : "", url ? "\"" : ""),
					 errhint("Example: https://stream.example.com/live/123.")));
	}
	if (evs_field_int(ev, "age_restriction", &age) && (age < 0 || age > 99))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("age_restriction: must be between 0 and 99, got %d", age)));
	if (evs_field_int(ev, "capacity", &age) && age < 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("capacity: must be 0 or more, got %d", age)));
}

/*
 * ASCII for the Latin-1 letters of a UTF-8 pair C3 xx (U+00C0..U+00FF), so
 * "Café Ölé" becomes "cafe-ole"; other non-ASCII characters separate words.
 */
static const char *
latin1_ascii(unsigned char second)
{
	static const char *const map[64] = {
		"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
		"d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
		"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
		"d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y"
	};

	return (second >= 0x80 && second <= 0xBF) ? map[second - 0x80] : NULL;
}

/*
 * URL slug of a name: lowercase ASCII letters and digits, Latin-1 letters
 * transliterated, runs of anything else become one dash, no dash at either
 * end; "event" when nothing is left.
 */
char *
evs_slugify(const char *name)
{
	StringInfoData buf;
	bool		dash = false;

	initStringInfo(&buf);
	for (const unsigned char *p = (const unsigned char *) name; *p && buf.len < EVS_SLUG_MAX; p++)
	{
		const char *letters = NULL;
		char		one[2] = {0, 0};

		if (isalnum(*p) && *p < 0x80)
		{
			one[0] = (char) tolower(*p);
			letters = one;
		}
		else if (*p == 0xC3 && p[1] != 0)
		{
			letters = latin1_ascii(p[1]);
			p++;
		}
		if (letters == NULL)
		{
			dash = true;
			continue;
		}
		if (dash && buf.len > 0)
			appendStringInfoChar(&buf, '-');
		dash = false;
		appendStringInfoString(&buf, letters);
	}
	if (buf.len == 0)
		appendStringInfoString(&buf, "event");
	return buf.data;
}
