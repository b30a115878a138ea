/*
 * event_create.c: eventsvc.event_create, behind api.create_event: one event
 * with its metadata, schedules and sections in one transaction. Validation
 * comes first (validation.c for the fields, event_checks.c for the venue),
 * then the rows, the outbox messages and the idempotency record, so a failure
 * leaves nothing behind. See docs/lifecycle.md.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "lifecycle/lifecycle_internal.h"
#include "lifecycle/validation.h"
#include "utils/uuid.h"

PG_FUNCTION_INFO_V1(evs_sql_event_create);

/* Bounds the work one create call can ask for (the duplicate-name check is quadratic). */
#define EVS_MAX_ITEMS_PER_CREATE 200

/*
 * The list `field` of a create request (sections or schedules): an array of
 * at most EVS_MAX_ITEMS_PER_CREATE items, fetched in order into
 * SPI_tuptable (column 1); returns the item count. `example` shows the
 * shape, `more_with` names the call that adds more items later.
 */
static uint64
fetch_items(Jsonb *list, const char *field, const char *example, const char *more_with)
{
	EvsArgs		a = {0};

	if (!JB_ROOT_IS_ARRAY(list) || JB_ROOT_IS_SCALAR(list))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: must be an array of objects", field),
				 errhint("Example: %s.", example)));
	if (JsonContainerSize(&list->root) > EVS_MAX_ITEMS_PER_CREATE)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: %u given, at most %d per call",
						field, JsonContainerSize(&list->root), EVS_MAX_ITEMS_PER_CREATE),
				 errhint("Create the event first, then add more %s with %s.", field, more_with)));
	evs_arg(&a, JSONBOID, JsonbPGetDatum(list), false);
	evs_exec("SELECT s, ord::int FROM jsonb_array_elements($1) WITH ORDINALITY AS t(s, ord)"
			" ORDER BY ord", &a, SPI_OK_SELECT);
	return SPI_processed;
}

/*
 * Item i of the list fetch_items read: it must be an object. Field errors
 * from validation.c name it "field[i]." until evs_field_prefix(NULL).
 */
static Jsonb *
item(const char *field, uint64 i)
{
	Jsonb	   *s = DatumGetJsonbP(evs_get_notnull(i, 1, "an item of the list"));

	CHECK_FOR_INTERRUPTS();
	if (!JB_ROOT_IS_OBJECT(s))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s[%d]: must be an object", field, (int) i)));
	evs_field_prefix(psprintf("%s[%d].", field, (int) i));
	return s;
}

/*
 * Metadata of a create request: only the metadata fields, each of its type, so
 * that a wrong one is named here rather than failing as a raw cast later.
 */
static void
check_metadata(Jsonb *metadata)
{
	static const struct
	{
		const char *name;
		enum jbvType type;
		const char *what;
	}			fields[] = {
		{"performers", jbvArray, "an array"},
		{"headliner", jbvString, "a string"},
		{"supporting_acts", jbvArray, "an array of strings"},
		{"production_company", jbvString, "a string"},
		{"sponsors", jbvArray, "an array"},
		{"custom_fields", jbvObject, "an object"},
	};
	JsonbIterator *it = JsonbIteratorInit(&metadata->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;
	char	   *key = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
		{
			if (depth == 1 && key != NULL)
			{
				for (int i = 0; i < (int) lengthof(fields); i++)
					if (strcmp(key, fields[i].name) == 0 &&
						((tok == WJB_BEGIN_OBJECT) != (fields[i].type == jbvObject) ||
						 (tok == WJB_BEGIN_ARRAY && fields[i].type != jbvArray)))
						ereport(ERROR,
								(errcode(EVS_ERR_VALIDATION),
								 errmsg("metadata.%s: must be %s", key, fields[i].what)));
			}
			if (depth == 2 && key != NULL && strcmp(key, "supporting_acts") == 0)
				ereport(ERROR,
						(errcode(EVS_ERR_VALIDATION),
						 errmsg("metadata.supporting_acts: must be an array of strings")));
			depth++;
			continue;
		}
		if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
		{
			depth--;
			continue;
		}
		if (depth == 1 && tok == WJB_KEY)
		{
			bool		known = false;

			key = pnstrdup(v.val.string.val, v.val.string.len);
			for (int i = 0; i < (int) lengthof(fields) && !known; i++)
				known = strcmp(key, fields[i].name) == 0;
			if (!known)
				ereport(ERROR,
						(errcode(EVS_ERR_VALIDATION),
						 errmsg("metadata.%s: not a metadata field", key),
						 errhint("Metadata fields: performers, headliner, supporting_acts, production_company, "
								 "sponsors, custom_fields.")));
			continue;
		}
		if (depth == 1 && tok == WJB_VALUE && v.type != jbvNull)
		{
			for (int i = 0; i < (int) lengthof(fields); i++)
				if (strcmp(key, fields[i].name) == 0 && v.type != fields[i].type)
					ereport(ERROR,
							(errcode(EVS_ERR_VALIDATION),
							 errmsg("metadata.%s: must be %s", key, fields[i].what)));
		}
		/* the acts become text[]: each must be a string */
		if (depth == 2 && tok == WJB_ELEM && key != NULL && strcmp(key, "supporting_acts") == 0 &&
			v.type != jbvString)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("metadata.supporting_acts: must be an array of strings")));
	}
}

/* Sections of a create request: objects with a name and a whole total; returns the sum. */
static int64
check_sections(Jsonb *sections)
{
	int64		sum = 0;
	uint64		n;

	if (sections == NULL)
		return 0;
	n = fetch_items(sections, "sections", "[{\"section_name\": \"Floor\", \"total_capacity\": 500}]",
					"api.create_section");
	for (uint64 i = 0; i < n; i++)
	{
		Jsonb	   *s = item("sections", i);
		char	   *name;
		int32		total;

		name = evs_field_text(s, "section_name");
		if (name == NULL || strspn(name, " ") == strlen(name) || strlen(name) > 100)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("sections[%d].section_name: is required, 1 to 100 characters", (int) i)));
		if (!evs_field_int(s, "total_capacity", &total) || total < 0)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("sections[%d].total_capacity: is required, a whole number 0 or more", (int) i)));
		for (uint64 j = 0; j < i; j++)
		{
			char	   *other = evs_field_text(DatumGetJsonbP(evs_get_notnull(j, 1, "an earlier section")), "section_name");

			if (strcmp(other, name) == 0)
				ereport(ERROR,
						(errcode(EVS_ERR_VALIDATION),
						 errmsg("sections[%d].section_name: \"%s\" is given twice", (int) i, name),
						 errhint("Section names are unique within an event.")));
		}
		evs_field_prefix(NULL);
		sum += total;
	}
	return sum;
}

/* Schedules of a create request: dated objects, doors before the start, a known zone. */
static void
check_schedules(Jsonb *schedules)
{
	uint64		n;

	if (schedules == NULL)
		return;
	n = fetch_items(schedules, "schedules", "[{\"starts_at\": \"...\", \"ends_at\": \"...\"}]",
					"api.create_schedule");
	for (uint64 i = 0; i < n; i++)
	{
		Jsonb	   *s = item("schedules", i);
		TimestampTz st,
					en,
					doors;
		char	   *tz;

		if (!evs_field_timestamptz(s, "starts_at", &st) || !evs_field_timestamptz(s, "ends_at", &en))
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
							errmsg("schedules[%d]: starts_at and ends_at are required", (int) i)));
		if (en <= st)
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
							errmsg("schedules[%d].ends_at: must be after starts_at", (int) i)));
		if (evs_field_timestamptz(s, "doors_open_at", &doors) && doors > st)
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
							errmsg("schedules[%d].doors_open_at: must be at or before starts_at", (int) i)));
		tz = evs_field_text(s, "timezone");
		if (tz != NULL && !evs_valid_timezone(tz))
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
							errmsg("schedules[%d].timezone: \"%s\" is not an IANA time zone name", (int) i, tz)));
		evs_field_prefix(NULL);
	}
}

/* ---------- create ---------- */

/*
 * The tenant's live events (not deleted, not completed or cancelled) stay
 * within its quota. Creates of one tenant are serialised for the rest of the
 * transaction, so two concurrent creates cannot both take the last place; the
 * count reads at most limit index entries.
 */
static void
check_events_quota(Datum tenant)
{
	const char *source;
	int32		limit = evs_quota(tenant, EVS_QUOTA_EVENTS, &source);
	EvsArgs		a = {0};
	bool		isnull;
	int64		live;

	if (limit == 0)
		return;
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, INT4OID, Int32GetDatum(limit), false);
	evs_exec("SELECT pg_advisory_xact_lock(hashtextextended('eventsvc.events/' || $1::text, 0)), $2", &a, SPI_OK_SELECT);
	evs_exec("SELECT count(*) FROM (SELECT 1 FROM eventsvc.events WHERE tenant_id = $1 AND deleted_at IS NULL"
			 "  AND status NOT IN ('COMPLETED', 'CANCELLED') LIMIT $2) x", &a, SPI_OK_SELECT);
	live = DatumGetInt64(evs_get(0, 1, &isnull));
	if (live >= limit)
		evs_quota_exceeded(EVS_QUOTA_EVENTS, live, limit, source,
						   "the tenant has as many live events as it may have");
}

/*
 * eventsvc.event_create(request jsonb, idempotency_key text): api.create_event
 * packs its named parameters into `request` (column names of eventsvc.events
 * plus metadata, schedules and sections).
 */
Datum
evs_sql_event_create(PG_FUNCTION_ARGS)
{
	Jsonb	   *req;
	Datum		tenant = evs_current_tenant();
	EvsIdempotency idem;
	Jsonb	   *replay;
	char	   *venue_text;
	Datum		venue;
	Datum		id;
	char	   *venue_tz;
	int32		venue_capacity,
				capacity = 0;
	bool		has_capacity;
	int64		sections_sum;
	Jsonb	   *sections,
			   *schedules,
			   *metadata;
	char	   *slug;
	EvsArgs		a = {0};
	Jsonb	   *doc;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("request: is required")));
	/* the size quota, before anything is done with the request */
	evs_check_size(tenant, "request", PG_GETARG_DATUM(0), false, true);
	req = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(req))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("request: must be a JSON object")));

	lc_begin_spi();
	replay = evs_idempotency_begin(&idem, "create_event", lc_opt_text(fcinfo, 1), req);
	if (replay)
		PG_RETURN_DATUM(evs_spi_finish_jsonb(replay));
	check_events_quota(tenant);

	evs_validate_event(req, true);
	venue_text = evs_field_text(req, "venue_id");
	if (venue_text == NULL)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("venue_id: is required")));
	venue = DirectFunctionCall1(uuid_in, CStringGetDatum(venue_text));
	lc_check_category(req);

	{
		JsonbValue *v;

		v = getKeyJsonValueFromContainer(&req->root, "sections", 8, NULL);
		sections = (v && v->type != jbvNull) ? JsonbValueToJsonb(v) : NULL;
		v = getKeyJsonValueFromContainer(&req->root, "schedules", 9, NULL);
		schedules = (v && v->type != jbvNull) ? JsonbValueToJsonb(v) : NULL;
		v = getKeyJsonValueFromContainer(&req->root, "metadata", 8, NULL);
		metadata = (v && v->type != jbvNull) ? JsonbValueToJsonb(v) : NULL;
	}
	if (metadata && !JB_ROOT_IS_OBJECT(metadata))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("metadata: must be a JSON object")));
	if (metadata)
		check_metadata(metadata);
	sections_sum = check_sections(sections);
	check_schedules(schedules);
	has_capacity = evs_field_int(req, "capacity", &capacity);

	lc_lock_venue(tenant, venue);
	venue_capacity = lc_check_venue(tenant, venue, &venue_tz);
	lc_check_capacity_fits(sections_sum, has_capacity, capacity, venue_capacity);
	lc_check_overlap(tenant, venue, req, (Datum) 0, false);
	slug = lc_unique_slug(tenant, venue, evs_field_text(req, "name"), (Datum) 0, false);

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(req), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(slug), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(venue_tz), false);
	evs_arg(&a, INT4OID, Int32GetDatum(has_capacity ? capacity : (int32) sections_sum),
		   !has_capacity && sections == NULL);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	evs_exec("INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, description, short_description,"
			"  visibility, event_type, primary_category_id, tags, starts_at, ends_at, doors_open, timezone,"
			"  capacity, is_virtual, is_hybrid, virtual_event_url, image_url, age_restriction, artist_wallet,"
			"  artist_percentage, venue_percentage, event_pda, blockchain_status, created_by, updated_by) "
			"SELECT $1, r.venue_id, btrim(r.name), $3, r.description, r.short_description,"
			"  coalesce(r.visibility, 'PUBLIC'), coalesce(r.event_type, 'single'), r.primary_category_id,"
			"  coalesce(r.tags, '{}'), r.starts_at, r.ends_at, r.doors_open, coalesce(r.timezone, $4),"
			"  $5, coalesce(r.is_virtual, false), coalesce(r.is_hybrid, false), r.virtual_event_url, r.image_url,"
			"  coalesce(r.age_restriction, 0), r.artist_wallet, r.artist_percentage, r.venue_percentage, r.event_pda,"
			"  CASE WHEN r.artist_wallet IS NOT NULL OR r.event_pda IS NOT NULL THEN 'pending' ELSE 'none' END"
			"  ::eventsvc.blockchain_status, $6, $6"
			" FROM jsonb_populate_record(NULL::eventsvc.events, $2) r RETURNING id",
			&a, SPI_OK_INSERT_RETURNING);
	id = SPI_datumTransfer(evs_get_notnull(0, 1, "the new event's id"), false, UUID_LEN);

	memset(&a, 0, sizeof(a));
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, id, false);
	evs_arg(&a, JSONBOID, metadata ? JsonbPGetDatum(metadata) : (Datum) 0, metadata == NULL);
	evs_exec("INSERT INTO eventsvc.event_metadata (tenant_id, event_id, performers, headliner, supporting_acts,"
			"  production_company, sponsors, custom_fields) "
			"SELECT $1, $2, coalesce(m.performers, '[]'), m.headliner, coalesce(m.supporting_acts, '{}'),"
			"  m.production_company, coalesce(m.sponsors, '[]'), coalesce(m.custom_fields, '{}')"
			" FROM jsonb_populate_record(NULL::eventsvc.event_metadata, coalesce($3, '{}')) m",
			&a, SPI_OK_INSERT);

	/* Without explicit schedules, a dated event gets one schedule of its own dates. */
	a.values[2] = schedules ? JsonbPGetDatum(schedules) : (Datum) 0;
	a.nulls[2] = schedules ? ' ' : 'n';
	evs_exec("INSERT INTO eventsvc.event_schedules (tenant_id, event_id, starts_at, ends_at, doors_open_at,"
			"  timezone, is_recurring, recurrence_rule, recurrence_end, notes) "
			"SELECT $1, $2, s.starts_at, s.ends_at, s.doors_open_at, coalesce(s.timezone, e.timezone),"
			"  coalesce(s.is_recurring, false), s.recurrence_rule, s.recurrence_end, s.notes"
			" FROM eventsvc.events e, jsonb_populate_recordset(NULL::eventsvc.event_schedules,"
			"   coalesce($3, CASE WHEN e.starts_at IS NOT NULL THEN jsonb_build_array(jsonb_build_object("
			"     'starts_at', e.starts_at, 'ends_at', e.ends_at, 'doors_open_at', e.doors_open)) ELSE '[]' END)) s"
			" WHERE e.tenant_id = $1 AND e.id = $2", &a, SPI_OK_INSERT);

	if (sections)
	{
		a.values[2] = JsonbPGetDatum(sections);
		a.nulls[2] = ' ';
		evs_exec("INSERT INTO eventsvc.event_capacity (tenant_id, event_id, section_name, section_code, tier,"
				"  total_capacity, available_capacity, minimum_purchase, maximum_purchase, row_config, seat_map) "
				"SELECT $1, $2, btrim(c.section_name), c.section_code, c.tier, c.total_capacity, c.total_capacity,"
				"  coalesce(c.minimum_purchase, 1), c.maximum_purchase, c.row_config, c.seat_map"
				" FROM jsonb_populate_recordset(NULL::eventsvc.event_capacity, $3) c", &a, SPI_OK_INSERT);
	}

	lc_emit(tenant, id, EVS_RK_EVENT_CREATED, NULL);
	if (evs_field_text(req, "artist_wallet") || evs_field_text(req, "event_pda"))
		lc_emit(tenant, id, EVS_RK_BLOCKCHAIN_SYNC, NULL);

	doc = lc_event_document(id);
	evs_idempotency_finish(&idem, doc);
	PG_RETURN_DATUM(evs_spi_finish_jsonb(doc));
}
