/*
 * event_checks.c: the checks create, update and reschedule share: the venue
 * lock, the venue itself (exists, active, capacity), overlapping events at the
 * venue, the unique slug, the category and the sections' total against the
 * event's and the venue's capacity. Declared in lifecycle_internal.h.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "lifecycle/lifecycle_internal.h"
#include "worker/worker.h"
#include "lifecycle/validation.h"

/*
 * Creates and moves at one venue are serialised for the rest of the
 * transaction, so the overlap and slug checks below see every committed
 * competitor and concurrent creates get a clean PT409, not 23P01.
 */
void
lc_lock_venue(Datum tenant, Datum venue)
{
	EvsArgs		a = {0};

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, venue, false);
	evs_exec("SELECT pg_advisory_xact_lock(hashtextextended('eventsvc.venue/' || $1::text || '/' || $2::text, 0))",
			&a, SPI_OK_SELECT);
}

/* The venue exists for this tenant and is active; returns its capacity and zone. */
int32
lc_check_venue(Datum tenant, Datum venue, char **timezone)
{
	EvsArgs		a = {0};
	bool		isnull;

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, venue, false);
	evs_exec("SELECT capacity, is_active, timezone FROM eventsvc.venues WHERE tenant_id = $1 AND id = $2",
			&a, SPI_OK_SELECT);
	if (SPI_processed != 1)
	{
		/* the worker asks venue-service for it now: a retry in a moment may find it */
		evs_venue_wanted(tenant, venue);
		ereport(ERROR,
				(errcode(EVS_ERR_NOT_FOUND),
				 errmsg("venue_id: venue %s not found", evs_uuid_text(venue)),
				 errdetail("The venue was asked from venue-service."),
				 errhint("Retry in a few seconds, register the venue with api.register_venue, or use a venue of your tenant.")));
	}
	if (!DatumGetBool(evs_get(0, 2, &isnull)))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("venue_id: venue %s is not active", evs_uuid_text(venue)),
				 errhint("Choose an active venue.")));
	if (timezone)
		*timezone = TextDatumGetCString(evs_get_notnull(0, 3, "the venue's timezone"));
	return DatumGetInt32(evs_get(0, 1, &isnull));
}

/* No other live single event at the venue overlaps [starts, ends). */
void
lc_check_overlap(Datum tenant, Datum venue, Jsonb *ev, Datum self, bool has_self)
{
	EvsArgs		a = {0};

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, venue, false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(ev), false);
	evs_arg(&a, UUIDOID, self, !has_self);
	evs_exec("SELECT o.name, o.id::text, o.starts_at::text, o.ends_at::text FROM eventsvc.events o"
			" WHERE o.tenant_id = $1 AND o.venue_id = $2 AND o.event_type = 'single'"
			"   AND o.deleted_at IS NULL AND o.status <> 'CANCELLED'"
			"   AND coalesce($3->>'event_type', 'single') = 'single'"
			"   AND tstzrange(o.starts_at, o.ends_at) && tstzrange(($3->>'starts_at')::timestamptz, ($3->>'ends_at')::timestamptz)"
			"   AND ($4::uuid IS NULL OR o.id <> $4) LIMIT 1", &a, SPI_OK_SELECT);
	if (SPI_processed == 1)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("another event at this venue overlaps: \"%s\" (%s)", evs_get_text(0, 1), evs_get_text(0, 2)),
				 errdetail("It runs from %s to %s.", evs_get_text(0, 3), evs_get_text(0, 4)),
				 errhint("Choose other dates or another venue.")));
}

/* The name's slug, with -2, -3, ... when taken at this venue (venue is locked). */
char *
lc_unique_slug(Datum tenant, Datum venue, const char *name, Datum self, bool has_self)
{
	EvsArgs		a = {0};

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, venue, false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_slugify(name)), false);
	evs_arg(&a, UUIDOID, self, !has_self);
	evs_exec("WITH taken AS (SELECT slug FROM eventsvc.events"
			"  WHERE tenant_id = $1 AND venue_id = $2 AND (slug = $3 OR slug LIKE $3 || '-%')"
			"    AND ($4::uuid IS NULL OR id <> $4)) "
			"SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM taken WHERE slug = $3) THEN $3"
			" ELSE $3 || '-' || (SELECT min(n) FROM generate_series(2, (SELECT count(*) FROM taken) + 2) n"
			"   WHERE NOT EXISTS (SELECT 1 FROM taken WHERE slug = $3 || '-' || n)) END",
			&a, SPI_OK_SELECT);
	return TextDatumGetCString(evs_get_notnull(0, 1, "the event's slug"));
}

/* The event's primary category, when given, is an active category. */
void
lc_check_category(Jsonb *ev)
{
	char	   *cat = evs_field_text(ev, "primary_category_id");
	EvsArgs		a = {0};

	if (cat == NULL)
		return;
	evs_arg(&a, TEXTOID, CStringGetTextDatum(cat), false);
	evs_exec("SELECT 1 FROM eventsvc.event_categories WHERE id = $1::uuid AND is_active", &a, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("category_id: %s is not an active category", cat),
				 errhint("See api.event_categories or eventsvc.event_categories.")));
}

/* Section totals of an existing event. */
int64
lc_sections_total(Datum tenant, Datum id)
{
	EvsArgs		a = {0};
	bool		isnull;

	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, id, false);
	evs_exec("SELECT coalesce(sum(total_capacity), 0)::bigint FROM eventsvc.event_capacity"
			" WHERE tenant_id = $1 AND event_id = $2", &a, SPI_OK_SELECT);
	return DatumGetInt64(evs_get(0, 1, &isnull));
}

/* The sections fit the event's capacity, and the event the venue's. */
void
lc_check_capacity_fits(int64 sections, bool has_capacity, int32 capacity, int32 venue_capacity)
{
	if (has_capacity && sections > capacity)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("capacity: %d is less than the sections' total " INT64_FORMAT, capacity, sections)));
	if ((has_capacity ? capacity : sections) > venue_capacity)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: " INT64_FORMAT " exceeds the venue's capacity of %d",
						has_capacity ? "capacity" : "sections",
						has_capacity ? (int64) capacity : sections, venue_capacity),
				 errhint("The sections together must fit in the venue.")));
}
