/*
 * state_machine.c: the event status machine as one transition table, and the
 * BEFORE UPDATE trigger that makes every writer (API, worker, a DBA's UPDATE)
 * go through it. COMPLETED and CANCELLED are terminal.
 */
#include "lifecycle/lifecycle.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(evs_status_trigger);
PG_FUNCTION_INFO_V1(evs_sql_status_transitions);

/* Same order as the SQL enum eventsvc.event_status. */
enum
{
	S_DRAFT, S_REVIEW, S_APPROVED, S_PUBLISHED, S_ON_SALE, S_SALES_PAUSED,
	S_SOLD_OUT, S_IN_PROGRESS, S_COMPLETED, S_CANCELLED, S_POSTPONED, S_RESCHEDULED,
	S_COUNT
};

static const char *const status_names[S_COUNT] = {
	"DRAFT", "REVIEW", "APPROVED", "PUBLISHED", "ON_SALE", "SALES_PAUSED",
	"SOLD_OUT", "IN_PROGRESS", "COMPLETED", "CANCELLED", "POSTPONED", "RESCHEDULED"
};

#define TO(s) (1u << (s))

/* The whole machine: for each state, the set of states it may move to. */
static const uint32 transitions[S_COUNT] = {
	[S_DRAFT] = TO(S_REVIEW) | TO(S_PUBLISHED) | TO(S_CANCELLED),
	[S_REVIEW] = TO(S_APPROVED) | TO(S_DRAFT) | TO(S_CANCELLED),
	[S_APPROVED] = TO(S_PUBLISHED) | TO(S_CANCELLED),
	[S_PUBLISHED] = TO(S_ON_SALE) | TO(S_CANCELLED) | TO(S_POSTPONED),
	[S_ON_SALE] = TO(S_SALES_PAUSED) | TO(S_SOLD_OUT) | TO(S_IN_PROGRESS) | TO(S_CANCELLED) | TO(S_POSTPONED),
	[S_SALES_PAUSED] = TO(S_ON_SALE) | TO(S_IN_PROGRESS) | TO(S_CANCELLED) | TO(S_POSTPONED),
	[S_SOLD_OUT] = TO(S_ON_SALE) | TO(S_IN_PROGRESS) | TO(S_CANCELLED) | TO(S_POSTPONED),	/* ON_SALE: seats came back */
	[S_IN_PROGRESS] = TO(S_COMPLETED) | TO(S_CANCELLED),
	[S_COMPLETED] = 0,
	[S_CANCELLED] = 0,
	[S_POSTPONED] = TO(S_RESCHEDULED) | TO(S_CANCELLED),
	[S_RESCHEDULED] = TO(S_PUBLISHED) | TO(S_ON_SALE) | TO(S_CANCELLED),
};

/* The status of a name, -1 when unknown. */
int
evs_status_from_name(const char *name)
{
	for (int i = 0; i < S_COUNT; i++)
		if (strcmp(status_names[i], name) == 0)
			return i;
	return -1;
}

/* The name of a status. */
const char *
evs_status_name(int status)
{
	return (status >= 0 && status < S_COUNT) ? status_names[status] : "?";
}

/* Whether the state machine has the edge from -> to. */
bool
evs_transition_allowed(int from, int to)
{
	if (from < 0 || from >= S_COUNT || to < 0 || to >= S_COUNT)
		return false;
	return (transitions[from] & TO(to)) != 0;
}

static char *
allowed_targets(int from)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < S_COUNT; i++)
		if (transitions[from] & TO(i))
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", status_names[i]);
	return buf.len ? buf.data : pstrdup("none (terminal state)");
}

/* Refuses an illegal status change (PT409 naming the allowed targets) and DRAFT with tickets sold. */
void
evs_check_transition(Datum tenant_id, Datum event_id, const char *from, const char *to)
{
	int			f = evs_status_from_name(from);
	int			t = evs_status_from_name(to);

	if (t < 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("status: \"%s\" is not an event status", to),
				 errhint("Allowed: DRAFT, REVIEW, APPROVED, PUBLISHED, ON_SALE, SALES_PAUSED, SOLD_OUT, "
						 "IN_PROGRESS, COMPLETED, CANCELLED, POSTPONED, RESCHEDULED.")));
	if (f == t)
		return;
	if (!evs_transition_allowed(f, t))
		ereport(ERROR,
				(errcode(EVS_ERR_ILLEGAL_TRANSITION),
				 errmsg("illegal status transition from %s to %s", from, to),
				 errdetail("Allowed from %s: %s.", from, f >= 0 ? allowed_targets(f) : "none"),
				 errhint("Every status change goes through the event state machine (docs/lifecycle.md).")));
	if (t == S_DRAFT)
	{
		int64		sold = evs_event_sold_count(tenant_id, event_id);

		if (sold > 0)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFLICT),
					 errmsg("cannot return to DRAFT: " INT64_FORMAT " tickets are sold", sold),
					 errdetail("An event with sold tickets never goes back to DRAFT."),
					 errhint("Cancel the event instead, which refunds the buyers.")));
	}

	/*
	 * Cancelling refunds every buyer: once tickets are sold it takes a tenant
	 * admin (a superuser counts as one), whoever writes the status.
	 */
	if (t == S_CANCELLED && !evs_is_tenant_admin())
	{
		int64		sold = evs_event_sold_count(tenant_id, event_id);

		if (sold > 0)
			ereport(ERROR,
					(errcode(EVS_ERR_FORBIDDEN),
					 errmsg("event %s has " INT64_FORMAT " sold tickets; only a tenant admin may cancel it",
							evs_uuid_text(event_id), sold),
					 errdetail("Cancelling refunds every buyer."),
					 errhint("Ask a tenant admin (role eventsvc_admin) to cancel the event.")));
	}
}

/*
 * Sold tickets of an event. The section counters are the primary figure; the
 * confirmed holds count too, in case a writer has not yet moved them into
 * sold_count. Runs as the owner with an explicit tenant filter, so a trigger
 * fired by any role (worker included) sees every section.
 */
int64
evs_event_sold_count(Datum tenant_id, Datum event_id)
{
	static SPIPlanPtr plan = NULL;
	EvsRoleSwitch ctx;
	Datum		values[2] = {tenant_id, event_id};
	bool		isnull;
	int64		sold;
	int			rc;

	evs_become_owner(&ctx);
	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			argtypes[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept(
			"SELECT greatest("
			" (SELECT coalesce(sum(sold_count), 0) FROM eventsvc.event_capacity"
			"   WHERE tenant_id = $1 AND event_id = $2),"
			" (SELECT coalesce(sum(quantity), 0) FROM eventsvc.capacity_holds"
			"   WHERE tenant_id = $1 AND event_id = $2 AND state = 'CONFIRMED'))::bigint",
			2, argtypes);
	}
	rc = SPI_execute_plan(plan, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "sold count query failed: %s", SPI_result_code_string(rc));
	sold = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	evs_switch_back(&ctx);
	return isnull ? 0 : sold;
}

static char *
enum_label(Datum d)
{
	return DatumGetCString(DirectFunctionCall1(enum_out, d));
}

/*
 * BEFORE UPDATE OF status ON eventsvc.events. A row that enters CANCELLED
 * without a cancellation time gets one, so a DBA's plain status update is
 * recorded like an API cancellation.
 */
Datum
evs_status_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newtup;
	int			st_att,
				tenant_att,
				id_att,
				cancelled_att,
				deleted_att;
	bool		n1,
				n2;
	Datum		old_st,
				new_st;
	char	   *from,
			   *to;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BY_UPDATE(td->tg_event) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("eventsvc.status_trigger must be a BEFORE UPDATE row trigger")));

	desc = RelationGetDescr(td->tg_relation);
	newtup = td->tg_newtuple;
	st_att = SPI_fnumber(desc, "status");
	tenant_att = SPI_fnumber(desc, "tenant_id");
	id_att = SPI_fnumber(desc, "id");
	cancelled_att = SPI_fnumber(desc, "cancelled_at");
	deleted_att = SPI_fnumber(desc, "deleted_at");
	if (st_att <= 0 || tenant_att <= 0 || id_att <= 0 || cancelled_att <= 0 || deleted_att <= 0)
		elog(ERROR, "eventsvc.status_trigger fired on a table without the events columns");

	old_st = heap_getattr(td->tg_trigtuple, st_att, desc, &n1);
	new_st = heap_getattr(newtup, st_att, desc, &n2);
	if (n1 || n2)
		elog(ERROR, "events.status is NULL");
	if (old_st == new_st)
		return PointerGetDatum(newtup);

	from = enum_label(old_st);
	to = enum_label(new_st);
	{
		bool		tn,
					in;
		Datum		tenant = heap_getattr(newtup, tenant_att, desc, &tn);
		Datum		id = heap_getattr(newtup, id_att, desc, &in);

		evs_check_transition(tenant, id, from, to);
	}

	if (strcmp(to, "CANCELLED") == 0)
	{
		bool		cn,
					dn;

		(void) heap_getattr(newtup, cancelled_att, desc, &cn);
		(void) heap_getattr(newtup, deleted_att, desc, &dn);
		if (cn && dn)
		{
			int			cols[1] = {cancelled_att};
			Datum		vals[1] = {TimestampTzGetDatum(evs_now())};
			bool		nulls[1] = {false};

			newtup = heap_modify_tuple_by_cols(newtup, desc, 1, cols, vals, nulls);
		}
	}
	return PointerGetDatum(newtup);
}

/* eventsvc.status_transitions(): the table above as rows (from_status, to_status). */
Datum
evs_sql_status_transitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int f = 0; f < S_COUNT; f++)
		for (int t = 0; t < S_COUNT; t++)
			if (transitions[f] & TO(t))
			{
				Datum		values[2] = {CStringGetTextDatum(status_names[f]),
				CStringGetTextDatum(status_names[t])};
				bool		nulls[2] = {false, false};

				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
	return (Datum) 0;
}
