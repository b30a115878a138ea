/*
 * waitlist_api.c: the waitlist's api functions (join, leave, position) and
 * what the hold functions tell it: an offer confirmed (converted) or released
 * (declined). How seats reach the queue is waitlist.c. docs/holds.md "Waitlist".
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"

PG_FUNCTION_INFO_V1(evs_sql_join_waitlist);
PG_FUNCTION_INFO_V1(evs_sql_leave_waitlist);
PG_FUNCTION_INFO_V1(evs_sql_waitlist_position);

/*
 * An entry as the api answers it: the row, its rank among those waiting (1:
 * next) and how many wait. An offer whose hold was confirmed or ended is
 * shown CONVERTED or LAPSED before the next hand-out records it (waitlist.c).
 */
#define ENTRY_JSON \
	"SELECT to_jsonb(e) - 'tenant_id' || jsonb_build_object('rank', CASE WHEN e.state = 'WAITING' THEN" \
	"  (SELECT count(*) + 1 FROM eventsvc.waitlist_entries a WHERE a.tenant_id = e.tenant_id" \
	"   AND a.capacity_id = e.capacity_id AND a.state = 'WAITING' AND a.position < e.position) END," \
	"  'waiting', w.waiting, 'state', CASE WHEN e.state = 'OFFERED' AND h.state IN ('CONFIRMED', 'REFUNDED')" \
	"  THEN 'CONVERTED' WHEN e.state = 'OFFERED' AND h.state <> 'ACTIVE' THEN 'LAPSED' ELSE e.state::text END," \
	"  'offer_expires_at', CASE WHEN h.state = 'ACTIVE' AND h.phase <> 'WAITLIST' THEN h.expires_at"\
	"  ELSE e.offer_expires_at END)" \
	" FROM eventsvc.waitlist_entries e" \
	" JOIN eventsvc.waitlist_sections w ON w.tenant_id = e.tenant_id AND w.capacity_id = e.capacity_id" \
	" LEFT JOIN eventsvc.capacity_holds h ON h.tenant_id = e.tenant_id AND h.id = e.hold_id"

static Jsonb *
entry_jsonb(Datum tenant, Datum entry_id)
{
	static SPIPlanPtr plan = NULL;
	int			rc;

	if (plan == NULL)
		plan = evs_spi_prepare_kept(ENTRY_JSON " WHERE e.tenant_id = $1 AND e.id = $2", 2, (Oid[]) {UUIDOID, UUIDOID});
	rc = SPI_execute_snapshot(plan, (Datum[]) {tenant, entry_id}, NULL, GetLatestSnapshot(), InvalidSnapshot, true,
							  false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "waitlist entry read failed: %s", SPI_result_code_string(rc));
	return DatumGetJsonbPCopy(evs_get_notnull(0, 1, "the waitlist entry"));
}

/*
 * api.join_waitlist(capacity_id, quantity, pricing_id): the caller waits for
 * quantity seats of the section, priced by the tier when one is named (at the
 * offer's time). Refused: unknown section or tier (PT404), the event not
 * selling (PT409), a quantity the section or tier would not sell at once
 * (22023), more seats than the tenant's quota for one hold (PT429), past
 * the per-customer limit counting this entry (PT409), enough seats free now
 * (PT409: reserve them), already waiting (PT409).
 */
Datum
evs_sql_join_waitlist(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	EvsSeatKey	key;
	int32		quantity;
	char	   *holder = evs_current_actor();
	Datum		event_id;
	int32		tier_limit = 0;
	bool		isnull;
	int			rc;
	char	   *status;
	char	   *date_status;
	Datum		template_id;
	bool		has_template;
	int64		free_now,
				position;
	Datum		entry_id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("join_waitlist needs capacity_id and quantity")));
	quantity = PG_GETARG_INT32(1);
	if (quantity < 1)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("quantity must be at least 1, not %d", quantity)));
	tenant = evs_current_tenant();
	key.tenant = tenant;
	key.section = PG_GETARG_DATUM(0);
	{
		/* the offer will be one hold: the tenant's quota of seats in a hold */
		const char *source;
		int32		per_hold = evs_quota(tenant, EVS_QUOTA_SEATS_PER_HOLD, &source);

		if (per_hold > 0 && quantity > per_hold)
			evs_quota_exceeded(EVS_QUOTA_SEATS_PER_HOLD, quantity, per_hold, source,
							   psprintf("an offer of %d seats is more than one hold may have", quantity));
	}
	evs_spi_connect();

	rc = SPI_execute_with_args("SELECT s.event_id, e.status::text, e.deleted_at IS NULL AND s.is_active,"
							   " s.minimum_purchase, coalesce(s.maximum_purchase, 0), s.total_capacity, s.template_id,"
							   " (SELECT o.status FROM eventsvc.event_occurrences o"
							   "   WHERE o.tenant_id = s.tenant_id AND o.id = s.occurrence_id)"
							   " FROM eventsvc.event_capacity s JOIN eventsvc.events e"
							   "   ON e.tenant_id = s.tenant_id AND e.id = s.event_id"
							   " WHERE s.tenant_id = $1 AND s.id = $2",
							   2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {tenant, key.section}, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "section lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("section %s not found", evs_uuid_text(key.section))));
	event_id = datumCopy(evs_get_notnull(0, 1, "the section's event"), false, UUID_LEN);
	status = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, "the event's status");
	/* a date section of a series: the tier of its template sells it; its date must sell (docs/series.md) */
	template_id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &has_template);
	has_template = !has_template;
	if (has_template)
		template_id = datumCopy(template_id, false, UUID_LEN);
	date_status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8);
	if (date_status != NULL && strcmp(date_status, "ON_SALE") != 0 && strcmp(date_status, "SOLD_OUT") != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("the section does not sell now (date %s)", date_status),
				 errhint("A waitlist is for a date ON_SALE or SOLD_OUT.")));
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)) ||
		(strcmp(status, "ON_SALE") != 0 && strcmp(status, "SOLD_OUT") != 0))
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("the section does not sell now (event %s)", status),
				 errhint("A waitlist is for an event ON_SALE or SOLD_OUT.")));
	{
		int32		minp = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
		int32		maxp = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
		int32		total = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull));

		if (quantity > total)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("quantity %d is more than the section's %d seats", quantity, total)));

		if (quantity < minp || (maxp > 0 && quantity > maxp))
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("quantity %d is outside the section's purchase limits", quantity),
					 maxp > 0 ? errdetail("Wait for between %d and %d seats.", minp, maxp)
					 : errdetail("Wait for at least %d seats.", minp)));
	}
	if (!PG_ARGISNULL(2))
	{
		EvsPricing	p;

		if (!evs_pricing_load(tenant, PG_GETARG_DATUM(2), evs_now(), &p))
			ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND),
							errmsg("pricing tier %s not found", evs_uuid_text(PG_GETARG_DATUM(2)))));
		if (!datumIsEqual(p.event_id, event_id, false, UUID_LEN) ||
			(p.has_capacity && !datumIsEqual(p.capacity_id, key.section, false, UUID_LEN) &&
			 !(has_template && datumIsEqual(p.capacity_id, template_id, false, UUID_LEN))))
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("pricing tier does not sell this section")));
		if (!p.is_active)
			ereport(ERROR, (errcode(EVS_ERR_CONFLICT), errmsg("pricing tier is not active")));
		if (p.max_per_order > 0 && quantity > p.max_per_order)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("quantity %d exceeds the tier's limit of %d per order", quantity, p.max_per_order)));
		tier_limit = p.max_per_customer;
	}
	/* what the customer holds, has bought and waits for, and this entry, within the limit */
	evs_customer_limit_check(tenant, event_id, holder, tier_limit, quantity);

	/* a first entry must see every seat a return is handing back right now */
	evs_waitlist_lock(&key, true);
	rc = SPI_execute_with_args("INSERT INTO eventsvc.waitlist_sections (tenant_id, capacity_id, event_id)"
							   " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
							   3, (Oid[]) {UUIDOID, UUIDOID, UUIDOID}, (Datum[]) {tenant, key.section, event_id},
							   NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "waitlist section write failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_with_args("SELECT w.next_position, w.waiting, (SELECT e.position FROM eventsvc.waitlist_entries e"
							   "   WHERE e.tenant_id = w.tenant_id AND e.capacity_id = w.capacity_id AND e.holder_id = $3"
							   "   AND e.state IN ('WAITING', 'OFFERED'))"
							   " FROM eventsvc.waitlist_sections w WHERE w.tenant_id = $1 AND w.capacity_id = $2 FOR UPDATE",
							   3, (Oid[]) {UUIDOID, UUIDOID, TEXTOID},
							   (Datum[]) {tenant, key.section, CStringGetTextDatum(holder)}, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "waitlist section lock failed: %s", SPI_result_code_string(rc));
	position = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("%s is already on the waitlist of this section", holder),
				 errhint("One entry per customer and section: leave it first to wait for another number of seats.")));
	if (DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)) == 0 &&
		(free_now = evs_section_free(tenant, key.section)) >= quantity)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg(free_now == 1 ? "%d seat is free in this section now: reserve it instead"
						: "%d seats are free in this section now: reserve them instead", (int) Min(free_now, INT_MAX)),
				 errhint("Call api.reserve_capacity; the waitlist is for a section that cannot sell them.")));

	entry_id = evs_new_uuid();
	rc = SPI_execute_with_args("INSERT INTO eventsvc.waitlist_entries (tenant_id, id, event_id, capacity_id, pricing_id,"
							   " holder_id, quantity, position, joined_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, eventsvc.now())",
							   8, (Oid[]) {UUIDOID, UUIDOID, UUIDOID, UUIDOID, UUIDOID, TEXTOID, INT4OID, INT8OID},
							   (Datum[]) {tenant, entry_id, event_id, key.section, PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2),
							   CStringGetTextDatum(holder), Int32GetDatum(quantity), Int64GetDatum(position)},
							   (char[]) {' ', ' ', ' ', ' ', PG_ARGISNULL(2) ? 'n' : ' ', ' ', ' ', ' '}, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "waitlist entry insert failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_with_args("UPDATE eventsvc.waitlist_sections SET next_position = next_position + 1,"
							   " waiting = waiting + 1, seats_wanted = seats_wanted + $3, updated_at = now()"
							   " WHERE tenant_id = $1 AND capacity_id = $2",
							   3, (Oid[]) {UUIDOID, UUIDOID, INT8OID},
							   (Datum[]) {tenant, key.section, Int64GetDatum(quantity)}, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "waitlist section update failed: %s", SPI_result_code_string(rc));
	/* seats free now go to the queue at once (the first entries may get an offer right away) */
	evs_waitlist_drain(&key, event_id);
	PG_RETURN_DATUM(evs_spi_finish_jsonb(entry_jsonb(tenant, entry_id)));
}

/*
 * api.leave_waitlist(entry_id): the entry leaves (its holder, a service or a
 * tenant admin). Seats gathered for it, or its offer not yet confirmed, come
 * back and go to the next entry.
 */
Datum
evs_sql_leave_waitlist(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	EvsSeatKey	key;
	Datum		entry_id;
	bool		isnull;
	int			rc;
	char	   *holder;
	char	   *state;
	int32		quantity,
				gathered;
	Datum		hold_id = (Datum) 0;
	bool		has_hold;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("leave_waitlist needs entry_id")));
	tenant = evs_current_tenant();
	entry_id = PG_GETARG_DATUM(0);
	key.tenant = tenant;
	evs_spi_connect();
	rc = SPI_execute_with_args("SELECT capacity_id, holder_id FROM eventsvc.waitlist_entries WHERE tenant_id = $1 AND id = $2",
							   2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {tenant, entry_id}, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "waitlist entry lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0 ||
		(!evs_is_service() && !evs_is_tenant_admin() &&
		 strcmp(evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, "the entry's holder"),
				evs_current_actor()) != 0))
		ereport(ERROR, (errcode(EVS_ERR_NOT_FOUND), errmsg("waitlist entry not found"),
						errdetail("No waitlist entry %s in this tenant.", evs_uuid_text(entry_id))));
	key.section = datumCopy(evs_get_notnull(0, 1, "the entry's section"), false, UUID_LEN);

	/* the waitlist lock and the section row before the entry and its hold (waitlist.c) */
	evs_waitlist_lock(&key, false);
	rc = SPI_execute_with_args("SELECT 1 FROM eventsvc.waitlist_sections WHERE tenant_id = $1 AND capacity_id = $2 FOR UPDATE",
							   2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {tenant, key.section}, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "waitlist section lock failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_with_args("SELECT holder_id, state::text, quantity, gathered, hold_id FROM eventsvc.waitlist_entries"
							   " WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
							   2, (Oid[]) {UUIDOID, UUIDOID}, (Datum[]) {tenant, entry_id}, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "waitlist entry lock failed: %s", SPI_result_code_string(rc));
	holder = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, "the entry's holder");
	state = evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, "the entry's state");
	quantity = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	gathered = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	hold_id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull);
	has_hold = !isnull;
	if (has_hold)
		hold_id = datumCopy(hold_id, false, UUID_LEN);
	if (strcmp(state, "WAITING") != 0 && strcmp(state, "OFFERED") != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("the waitlist entry has ended (%s)", state),
				 errdetail("Entry of %s.", holder)));

	rc = SPI_execute_with_args("UPDATE eventsvc.waitlist_entries SET state = $3::eventsvc.waitlist_state,"
							   " ended_at = eventsvc.now() WHERE tenant_id = $1 AND id = $2",
							   3, (Oid[]) {UUIDOID, UUIDOID, TEXTOID},
							   (Datum[]) {tenant, entry_id, CStringGetTextDatum(state[0] == 'W' ? "LEFT" : "LAPSED")},
							   NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "waitlist entry update failed: %s", SPI_result_code_string(rc));
	if (state[0] == 'W')
		evs_waitlist_count(&key, -1, -quantity, -gathered, 0, 0, 0, 0, 1);
	else
		evs_waitlist_count(&key, 0, 0, 0, -1, 0, 0, 1, 0);
	/* its seats come back: to the next entry first (seat_return.c) */
	if (has_hold)
		evs_waitlist_release_hold(tenant, hold_id, state[0] == 'W' ? "left the waitlist" : "the waitlist offer was declined");
	PG_RETURN_DATUM(evs_spi_finish_jsonb(entry_jsonb(tenant, entry_id)));
}

/* api.waitlist_position(capacity_id): the caller's live entry on the section's waitlist. */
Datum
evs_sql_waitlist_position(PG_FUNCTION_ARGS)
{
	Datum		tenant;
	int			rc;
	Jsonb	   *entry;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("waitlist_position needs capacity_id")));
	tenant = evs_current_tenant();
	evs_spi_connect();
	rc = SPI_execute_with_args(ENTRY_JSON " WHERE e.tenant_id = $1 AND e.capacity_id = $2 AND e.holder_id = $3"
							   " AND e.state IN ('WAITING', 'OFFERED')",
							   3, (Oid[]) {UUIDOID, UUIDOID, TEXTOID},
							   (Datum[]) {tenant, PG_GETARG_DATUM(0), CStringGetTextDatum(evs_current_actor())},
							   NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "waitlist position failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_NOT_FOUND),
				 errmsg("%s is not on the waitlist of section %s", evs_current_actor(),
						evs_uuid_text(PG_GETARG_DATUM(0))),
				 errhint("Join with api.join_waitlist.")));
	entry = DatumGetJsonbP(evs_get_notnull(0, 1, "the waitlist entry"));
	PG_RETURN_DATUM(evs_spi_finish_jsonb(entry));
}
