/*
 * section_read.c: what the hold path reads of a section besides its own
 * row, and what it refuses of a series (docs/series.md): the parts of the
 * section statement of reserve.c for the schema this library serves (1.1: a
 * date section's date, its start and status, and whether the section is the
 * template of a recurring schedule; 1.0: the event's start only), and the
 * refusals of a template and of a date that does not sell.
 */
#include "core/core.h"

#include "utils/builtins.h"
#include "capacity/capacity_internal.h"

#define SECTION_COLUMNS_OF(date) "s.event_id, s.total_capacity, s.minimum_purchase, s.maximum_purchase," \
		" s.is_active, e.status::text, e.deleted_at IS NULL, " date
#define SECTION_FROM_OF(joins, template) " FROM eventsvc.event_capacity s" \
		" JOIN eventsvc.events e ON e.tenant_id = s.tenant_id AND e.id = s.event_id" joins \
		" CROSS JOIN LATERAL (SELECT CASE WHEN bool_or(t.sales_start_at IS NULL) THEN NULL" \
		"   ELSE min(t.sales_start_at) END AS opens," \
		"  CASE WHEN bool_or(t.sales_end_at IS NULL) THEN NULL ELSE max(t.sales_end_at) END AS closes" \
		"  FROM eventsvc.event_pricing t WHERE t.tenant_id = s.tenant_id AND t.event_id = s.event_id" \
		"   AND t.is_active AND (t.capacity_id IS NULL OR t.capacity_id = s.id" template ")) w"
/* 1.1: a date section's date (its start and status), a template of a recurring schedule */
#define SECTION_COLUMNS EVS_SERIES_SQL(SECTION_COLUMNS_OF("coalesce(o.starts_at, e.starts_at), w.opens, w.closes," \
		" o.status, s.occurrence_id IS NULL AND coalesce(sc.is_recurring, false), s.template_id, s.occurrence_id"), \
		SECTION_COLUMNS_OF("e.starts_at, w.opens, w.closes, NULL::text, false, NULL::uuid, NULL::uuid"))
#define SECTION_FROM EVS_SERIES_SQL(SECTION_FROM_OF( \
		" LEFT JOIN eventsvc.event_occurrences o ON o.tenant_id = s.tenant_id AND o.id = s.occurrence_id" \
		" LEFT JOIN eventsvc.event_schedules sc ON sc.tenant_id = s.tenant_id AND sc.id = s.schedule_id", \
		" OR t.capacity_id = s.template_id"), SECTION_FROM_OF("", ""))

/* The columns of the section statement, from the section's event_id to its occurrence_id. */
const char *
evs_section_read_columns(void)
{
	return SECTION_COLUMNS;
}

/* The FROM clause of the section statement (s: the section, e: its event, w: its sales window). */
const char *
evs_section_read_from(void)
{
	return SECTION_FROM;
}

/*
 * A reservation of a template of a recurring schedule, or of a date that is
 * closed or cancelled, is refused here; true when the date is sold out (the
 * caller refuses it as sold out).
 */
bool
evs_series_refusal(bool per_date, const char *date_status, Datum section_id)
{
	if (per_date)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("this section is sold per date"),
				 errdetail("Its schedule is recurring: every date on sale has a section of its own."),
				 errhint("Reserve the date's section (api.event_sections with template_id %s).",
						 evs_uuid_text(section_id))));
	if (date_status == NULL || strcmp(date_status, "ON_SALE") == 0)
		return false;
	if (strcmp(date_status, "SOLD_OUT") == 0)
		return true;
	ereport(ERROR,
			(errcode(EVS_ERR_CONFLICT),
			 errmsg("sales for this date are closed (status %s)", date_status),
			 errhint("Another date of the series may still be on sale (api.occurrences).")));
	return false;				/* not reached */
}
