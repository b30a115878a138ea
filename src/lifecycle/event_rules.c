/*
 * event_rules.c: the rules every writer of eventsvc.events meets, whoever it
 * is: the API, the worker, the blockchain callback and a DBA's INSERT or
 * UPDATE alike (BEFORE INSERT OR UPDATE trigger events_write_rules). The API
 * checks the same rules first, with messages that name its parameters; this
 * trigger is what holds when something writes the table another way.
 * See docs/discovery.md (an on-chain address belongs to one event) and
 * docs/lifecycle.md.
 */
#include "lifecycle/lifecycle.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(evs_event_rules_trigger);

/* A Solana address: base58 (no 0, O, I, l), 32 to 44 characters. */
bool
evs_valid_pda(const char *s)
{
	size_t		n = strlen(s);

	if (n < 32 || n > 44)
		return false;
	for (const char *p = s; *p; p++)
		if (!strchr("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", *p))
			return false;
	return true;
}

/* One column of a row by name; NULL columns give isnull. */
static Datum
col(TupleDesc desc, HeapTuple tup, const char *name, bool *isnull)
{
	Datum		d;

	*isnull = !evs_tup_get(tup, desc, name, &d);
	return d;
}

static char *
col_text(TupleDesc desc, HeapTuple tup, const char *name)
{
	bool		isnull;
	Datum		d = col(desc, tup, name, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static char *
col_enum(TupleDesc desc, HeapTuple tup, const char *name)
{
	bool		isnull;
	Datum		d = col(desc, tup, name, &isnull);

	return isnull ? NULL : DatumGetCString(DirectFunctionCall1(enum_out, d));
}

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Does another event (any tenant) hold this on-chain address? Read as the
 * owner: the address is unique across the platform, so the check must see
 * every tenant's rows whatever RLS would show the writer.
 */
static bool
pda_taken(const char *pda, Datum tenant, Datum id)
{
	static SPIPlanPtr plan = NULL;
	EvsRoleSwitch ctx;
	Datum		values[3] = {CStringGetTextDatum(pda), tenant, id};
	bool		taken;
	int			rc;

	evs_become_owner(&ctx);
	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			types[3] = {TEXTOID, UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept("SELECT 1 FROM eventsvc.events"
									" WHERE event_pda = $1 AND NOT (tenant_id = $2 AND id = $3) LIMIT 1",
									3, types);
	}
	rc = SPI_execute_plan(plan, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "event_pda lookup failed: %s", SPI_result_code_string(rc));
	taken = SPI_processed > 0;
	SPI_finish();
	evs_switch_back(&ctx);
	return taken;
}

/*
 * The on-chain columns: an event_pda is a Solana address that belongs to one
 * event of the whole platform; a synced event has its address and keeps it.
 * (The unique index events_event_pda_key is the last line behind this check.)
 */
static void
check_chain(TupleDesc desc, HeapTuple oldtup, HeapTuple newtup, Datum tenant, Datum id)
{
	char	   *pda = col_text(desc, newtup, "event_pda");
	char	   *chain = col_enum(desc, newtup, "blockchain_status");
	char	   *old_pda = oldtup ? col_text(desc, oldtup, "event_pda") : NULL;
	char	   *old_chain = oldtup ? col_enum(desc, oldtup, "blockchain_status") : NULL;

	if (pda != NULL && !same_text(pda, old_pda))
	{
		if (!evs_valid_pda(pda))
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("event_pda: must be a base58 Solana address of 32 to 44 characters"),
					 errdetail("Got \"%.60s\"%s.", pda, strlen(pda) > 60 ? "..." : "")));
		if (pda_taken(pda, tenant, id))
			ereport(ERROR,
					(errcode(EVS_ERR_CONFLICT),
					 errmsg("event_pda %s already belongs to another event", pda),
					 errdetail("An on-chain address names exactly one event of the platform."),
					 errhint("Check the address. The blockchain service reports each event's own address when it syncs the event.")));
	}
	if (old_chain != NULL && strcmp(old_chain, "synced") == 0 && old_pda != NULL && !same_text(pda, old_pda))
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("event %s is synced with event_pda %s; the address cannot change",
						evs_uuid_text(id), old_pda),
				 errhint("A synced event keeps its on-chain account; fix the blockchain side instead.")));
	if (chain != NULL && strcmp(chain, "synced") == 0 && pda == NULL)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("blockchain_status: a synced event needs its event_pda")));
}

/*
 * BEFORE INSERT OR UPDATE ON eventsvc.events.
 */
Datum
evs_event_rules_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldtup = NULL,
				newtup;
	bool		isnull;
	Datum		tenant,
				id;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("eventsvc.event_rules_trigger must be a BEFORE INSERT OR UPDATE row trigger")));
	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	else
		newtup = td->tg_trigtuple;

	tenant = col(desc, newtup, "tenant_id", &isnull);
	id = col(desc, newtup, "id", &isnull);
	check_chain(desc, oldtup, newtup, tenant, id);
	return PointerGetDatum(newtup);
}
