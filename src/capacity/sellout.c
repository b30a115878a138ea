/*
 * sellout.c: the sell-out decisions. When the confirmation of a section's last
 * seats leaves every seat of its date sold (a date section of a series,
 * docs/series.md) the date becomes SOLD_OUT; when every seat of the event is
 * sold, the event does (docs/capacity.md "Thresholds"). Seats that come back
 * undo both (seat_return.c); the two exclude each other by the sell-out lock.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"

/*
 * Whether every seat of a set of sections is sold: every section's counter at
 * 0, none being reserved or released right now, and no hold of theirs still
 * ACTIVE. `sections` lists (id, total_capacity) and `active` finds one ACTIVE
 * hold, both with ($1 tenant, $2 scope). Twice: a first look without the
 * sell-out lock of the scope (most confirmations stop here), then again under
 * it. A return of seats (seat_return.c) records its seats for the counter
 * before it takes the lock shared: one recorded before the second look is
 * seen in flight here; one recorded after it waits for this transaction and
 * then puts the scope back on sale.
 */
static bool
all_seats_sold(Datum tenant, Datum scope, SPIPlanPtr sections, SPIPlanPtr active)
{
	Datum		v[2] = {tenant, scope};
	int			rc;
	uint64		i,
				n;
	SPITupleTable *rows;
	bool		isnull;

	for (int pass = 0; pass < 2; pass++)
	{
		if (pass == 1)
			evs_sellout_lock(scope, true);
		rc = SPI_execute_plan(sections, v, NULL, true, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "section list failed: %s", SPI_result_code_string(rc));
		rows = SPI_tuptable;
		n = SPI_processed;
		for (i = 0; i < n; i++)
		{
			Datum		id = evs_getbinval_notnull(rows->vals[i], rows->tupdesc, 1, "the section's id");
			int32		total = DatumGetInt32(SPI_getbinval(rows->vals[i], rows->tupdesc, 2, &isnull));
			EvsEscrowEntry e;
			int64		left;
			bool		counter = evs_escrow_find(tenant, id, &e) && evs_escrow_free(&e, &left);

			if (!counter)
				left = total - evs_section_held_latest(tenant, id);

			/*
			 * Seats being reserved or released right now may come back or become
			 * holds; the confirmation of those holds will look again.
			 */
			if (left > 0 || (counter && evs_escrow_in_flight(&e) > 0))
				return false;
		}
		rc = SPI_execute_snapshot(active, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "active hold check failed: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0)
			return false;
	}
	return true;
}

/*
 * A date section's last seats were sold: when every seat of its date is sold,
 * the date becomes SOLD_OUT with one event.occurrence.soldout message
 * (docs/series.md). The date's row lock orders the last confirmations.
 */
static void
occurrence_soldout_check(Datum tenant, Datum event_id, Datum section_id)
{
	static SPIPlanPtr date_of = NULL;
	static SPIPlanPtr sections = NULL;
	static SPIPlanPtr active = NULL;
	static SPIPlanPtr sell = NULL;
	Oid			t[2] = {UUIDOID, UUIDOID};
	Datum		v[3] = {tenant, section_id, 0};
	Datum		occurrence;
	int			rc;

	if (!evs_holds_schema_ready())
		return;					/* a library serving 1.0: no dates */
	if (date_of == NULL)
	{
		date_of = evs_spi_prepare_kept("SELECT o.id, o.status FROM eventsvc.event_capacity s"
									   " JOIN eventsvc.event_occurrences o ON o.tenant_id = s.tenant_id AND o.id = s.occurrence_id"
									   " WHERE s.tenant_id = $1 AND s.id = $2 FOR NO KEY UPDATE OF o", 2, t);
		sections = evs_spi_prepare_kept("SELECT id, total_capacity FROM eventsvc.event_capacity"
										" WHERE tenant_id = $1 AND occurrence_id = $2 AND is_active", 2, t);
		active = evs_spi_prepare_kept("SELECT 1 FROM eventsvc.capacity_holds h WHERE h.tenant_id = $1"
									  " AND h.capacity_id IN (SELECT s.id FROM eventsvc.event_capacity s"
									  "  WHERE s.tenant_id = $1 AND s.occurrence_id = $2) AND h.state = 'ACTIVE' LIMIT 1",
									  2, t);
		sell = evs_spi_prepare_kept("UPDATE eventsvc.event_occurrences SET status = 'SOLD_OUT', updated_at = eventsvc.now()"
									" WHERE tenant_id = $1 AND id = $2 AND status = 'ON_SALE'"
									" RETURNING schedule_id, starts_at, ends_at, status", 2, t);
	}
	rc = SPI_execute_plan(date_of, v, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "date lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1 ||
		strcmp(evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, "the date's status"), "ON_SALE") != 0)
		return;
	occurrence = datumCopy(evs_get_notnull(0, 1, "the section's date"), false, UUID_LEN);
	if (!all_seats_sold(tenant, occurrence, sections, active))
		return;
	v[1] = occurrence;
	rc = SPI_execute_plan(sell, v, NULL, false, 0);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "sold-out update failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
		evs_date_status_message(tenant, event_id, occurrence, EVS_RK_OCCURRENCE_SOLDOUT, NULL,
								"ON_SALE", "every seat of the date is sold");
}

/*
 * The message of a date of a series whose status the last statement changed
 * (its RETURNING schedule_id, starts_at, ends_at, status): soldout, or
 * back on sale (`action`). SPI connected.
 */
void
evs_date_status_message(Datum tenant, Datum event_id, Datum occurrence, const char *key, const char *action,
						const char *previous, const char *reason)
{
	JsonbParseState *st = NULL;
	HeapTuple	row = SPI_tuptable->vals[0];
	TupleDesc	desc = SPI_tuptable->tupdesc;

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "event_id", event_id);
	evs_jsonb_push_uuid(&st, "occurrence_id", occurrence);
	evs_jsonb_push_uuid(&st, "schedule_id", evs_getbinval_notnull(row, desc, 1, "the date's schedule"));
	evs_jsonb_push_text(&st, "starts_at", SPI_getvalue(row, desc, 2));
	evs_jsonb_push_text(&st, "ends_at", SPI_getvalue(row, desc, 3));
	if (action != NULL)
		evs_jsonb_push_text(&st, "action", action);
	evs_jsonb_push_text(&st, "status", SPI_getvalue(row, desc, 4));
	evs_jsonb_push_text(&st, "previous_status", previous);
	evs_jsonb_push_text(&st, "reason", reason);
	(void) evs_outbox_emit_key(tenant, event_id, key, evs_jsonb_end(&st));
}

/*
 * The last seats of a section were just sold. A date section's date is
 * SOLD_OUT when every seat of the date is sold (above). When every seat of the
 * event is sold (every active section's counter at 0 and no hold of the event
 * still ACTIVE), the event becomes SOLD_OUT through the state machine trigger,
 * with one event.soldout message. Held seats do not count: expiring holds
 * would strand their seats. The event row lock orders the last confirmations,
 * so the last one to commit sees all the others.
 */
void
evs_event_soldout_check(Datum tenant, Datum event_id, Datum section_id)
{
	Datum		v[3] = {tenant, event_id, 0};
	Oid			t[3] = {UUIDOID, UUIDOID, TEXTOID};
	int			rc;
	static SPIPlanPtr sections = NULL;
	static SPIPlanPtr active = NULL;

	occurrence_soldout_check(tenant, event_id, section_id);
	rc = SPI_execute_with_args("SELECT status::text FROM eventsvc.events WHERE tenant_id = $1 AND id = $2"
							   " FOR NO KEY UPDATE", 2, t, v, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "event lock failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1 ||
		strcmp(evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, "the event's status"), "ON_SALE") != 0)
		return;
	if (sections == NULL)
	{
		sections = evs_spi_prepare_kept("SELECT id, total_capacity FROM eventsvc.event_capacity"
										" WHERE tenant_id = $1 AND event_id = $2 AND is_active", 2, t);
		active = evs_spi_prepare_kept("SELECT 1 FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND event_id = $2"
									  " AND state = 'ACTIVE' LIMIT 1", 2, t);
	}
	if (!all_seats_sold(tenant, event_id, sections, active))
		return;
	v[2] = CStringGetTextDatum(evs_current_actor());
	rc = SPI_execute_with_args("UPDATE eventsvc.events SET status = 'SOLD_OUT', updated_by = $3, updated_at = eventsvc.now()"
							   " WHERE tenant_id = $1 AND id = $2 AND status = 'ON_SALE'", 3, t, v, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "sold-out update failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		JsonbParseState *st = NULL;

		evs_jsonb_begin_object(&st, NULL);
		evs_jsonb_push_text(&st, "previous_status", "ON_SALE");
		evs_jsonb_begin_array(&st, "changed_fields");
		evs_jsonb_push_text(&st, NULL, "status");
		(void) evs_jsonb_end(&st);
		evs_jsonb_begin_object(&st, "previous");
		evs_jsonb_push_text(&st, "status", "ON_SALE");
		(void) evs_jsonb_end(&st);
		evs_jsonb_push_text(&st, "reason", "every seat is sold");
		(void) evs_outbox_emit_key(tenant, event_id, EVS_RK_EVENT_SOLDOUT, evs_jsonb_end(&st));
	}
}
