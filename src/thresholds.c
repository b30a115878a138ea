/*
 * thresholds.c: the outbox messages a reservation or a confirmation can cause:
 * event.capacity.warning / .critical when a section crosses 80 % / 95 % of its
 * seats, and event.soldout when the last seat of the event is sold.
 */
#include "eventsvc.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "capacity.h"

/* ---- thresholds: 80 % and 95 % of a section, and the sell-out ---- */

static void
emit_capacity(Datum tenant, Datum event_id, const char *key, Datum section_id, int32 total,
			  int64 used, int threshold)
{
	char		buf[256];

	snprintf(buf, sizeof(buf),
			 "{\"capacity_id\": \"%s\", \"total_capacity\": %d, \"held_or_sold\": " INT64_FORMAT
			 ", \"threshold_percent\": %d}", evs_uuid_text(section_id), total, used, threshold);
	(void) evs_outbox_emit(tenant, event_id, "tickettoken_events", key,
						   DirectFunctionCall1(jsonb_in, CStringGetDatum(buf)));
}

/*
 * When every seat of the event is sold (every active section's counter at 0
 * and no hold of the event still ACTIVE), the event becomes SOLD_OUT through
 * the state machine trigger, with one event.soldout message. Held seats do not
 * count: SOLD_OUT has no way back to ON_SALE, and expiring holds would strand
 * their seats. The event row lock orders the last confirmations, so the last
 * one to commit sees all the others.
 */
void
evs_event_soldout_check(Datum tenant, Datum event_id)
{
	Datum		v[3] = {tenant, event_id, 0};
	Oid			t[3] = {UUIDOID, UUIDOID, TEXTOID};
	int			rc;
	uint64		i,
				n;
	SPITupleTable *sections;
	bool		isnull;
	SPIPlanPtr	active;

	rc = SPI_execute_with_args("SELECT status::text FROM eventsvc.events WHERE tenant_id = $1 AND id = $2"
							   " FOR NO KEY UPDATE", 2, t, v, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "event lock failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1 || strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "ON_SALE") != 0)
		return;
	rc = SPI_execute_with_args("SELECT id, total_capacity FROM eventsvc.event_capacity"
							   " WHERE tenant_id = $1 AND event_id = $2 AND is_active", 2, t, v, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "section list failed: %s", SPI_result_code_string(rc));
	sections = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		Datum		id = SPI_getbinval(sections->vals[i], sections->tupdesc, 1, &isnull);
		int32		total = DatumGetInt32(SPI_getbinval(sections->vals[i], sections->tupdesc, 2, &isnull));
		EvsEscrowEntry *e = evs_escrow_section(tenant, id);
		int64		left = e != NULL ? evs_escrow_available(e) : total - evs_section_held_latest(tenant, id);

		/*
		 * Seats being reserved or released right now may come back or become
		 * holds; the confirmation of those holds will look again.
		 */
		if (left > 0 || (e != NULL && evs_escrow_in_flight(e) > 0))
			return;
	}
	active = SPI_prepare("SELECT 1 FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND event_id = $2"
						 " AND state = 'ACTIVE' LIMIT 1", 2, t);
	if (active == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	rc = SPI_execute_snapshot(active, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "active hold check failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
		return;
	v[2] = CStringGetTextDatum(evs_current_actor());
	rc = SPI_execute_with_args("UPDATE eventsvc.events SET status = 'SOLD_OUT', updated_by = $3, updated_at = eventsvc.now()"
							   " WHERE tenant_id = $1 AND id = $2 AND status = 'ON_SALE'", 3, t, v, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "sold-out update failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
		(void) evs_outbox_emit(tenant, event_id, "tickettoken_events", "event.soldout",
							   DirectFunctionCall1(jsonb_in, CStringGetDatum(
								   "{\"previous_status\": \"ON_SALE\", \"changed_fields\": [\"status\"],"
								   " \"previous\": {\"status\": \"ON_SALE\"}, \"reason\": \"every seat is sold\"}")));
}

/*
 * A reservation that moved the section's counter across 80 % or 95 % of its
 * seats emits event.capacity.warning / .critical. Counter moves are atomic, so
 * exactly one reservation crosses each line on the way up; if it aborts, the
 * next one to cross emits instead. Seats given back and taken again cross again.
 */
void
evs_section_thresholds(Datum tenant, Datum event_id, Datum section_id, int32 total, int64 remaining,
				   int32 quantity)
{
	static const struct
	{
		int			percent;
		const char *key;
	}			lines[] = {{80, "event.capacity.warning"}, {95, "event.capacity.critical"}};
	int64		after = total - remaining;
	int64		before = after - quantity;

	if (total <= 0)
		return;
	for (int i = 0; i < (int) lengthof(lines); i++)
		if (before * 100 < (int64) lines[i].percent * total && after * 100 >= (int64) lines[i].percent * total)
			emit_capacity(tenant, event_id, lines[i].key, section_id, total, after, lines[i].percent);
}
