/*
 * event_rules.c: the rules every writer of eventsvc.events meets, whoever it
 * is: the API, the worker, the blockchain callback and a DBA's INSERT, UPDATE
 * or DELETE alike (BEFORE trigger events_write_rules). The API checks the same
 * rules first, with messages that name its parameters; this trigger is what
 * holds when something writes the table another way.
 *
 *   - a new event starts in DRAFT (status changes then go through the state
 *     machine, state_machine.c);
 *   - the event's fields pass the API's validation (validation.c): name,
 *     dates in order, an IANA time zone, percentages, virtual URL, ...; a new
 *     or moved start lies 2 hours to 365 days ahead;
 *   - the venue is the tenant's and active, the capacity fits in it and holds
 *     the sections;
 *   - after sales, venue, dates, capacity and time zone change only through a
 *     confirmed change (confirmation.c);
 *   - only DRAFT and CANCELLED events are deleted (soft or hard);
 *   - event_pda: a Solana address that belongs to one event of the platform,
 *     kept once synced; blockchain_status moves past "pending" only through
 *     the blockchain service's callback.
 *
 * A superuser may set eventsvc.import_mode to insert events in the status and
 * with the fields and dates (or none) they give, and to change them without
 * the API's field validation and the confirmation (imports, repairs,
 * fixtures), and to delete them; the time zone, state machine, venue,
 * capacity and on-chain rules still apply. See docs/tenancy.md
 * "Write rules".
 */
#include "lifecycle/lifecycle.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "lifecycle/lifecycle_internal.h"
#include "lifecycle/validation.h"

PG_FUNCTION_INFO_V1(evs_event_rules_trigger);
PG_FUNCTION_INFO_V1(evs_section_event_trigger);

/* Settings (docs/operations.md "Settings", docs/tenancy.md "Write rules"). */
static bool import_mode = false;
static bool blockchain_callback = false;

/* Called from _PG_init: the write rules' settings (eventsvc.import_mode, eventsvc.blockchain_callback). */
void
evs_lifecycle_init(void)
{
	DefineCustomBoolVariable("eventsvc.import_mode",
							 "A superuser's INSERT into eventsvc.events keeps the status and dates it gives.",
							 "For imports from another system and test fixtures; every other write rule still "
							 "applies. Only a superuser may set it, and it counts only for a superuser's writes.",
							 &import_mode, false, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("eventsvc.blockchain_callback",
							 "Set by api.update_blockchain_status while it runs: the one path that may mark an event queued, synced or failed.",
							 NULL, &blockchain_callback, false, PGC_SUSET,
							 GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE, NULL, NULL, NULL);
}

/* import_mode counts only for a superuser session (ALTER ROLE could set it for others). */
static bool
importing(void)
{
	return import_mode && superuser_arg(GetOuterUserId()) && superuser_arg(GetSessionUserId());
}

/*
 * A critical change confirmed with a token (confirmation.c) lets this
 * transaction change that event's venue, dates, capacity and time zone after
 * sales. Kept for the transaction that consumed the token.
 */
static LocalTransactionId confirmed_lxid = InvalidLocalTransactionId;
static pg_uuid_t confirmed_event;

/* confirmation.c: this transaction may now make the confirmed critical change of the event. */
void
evs_note_confirmed_change(Datum event_id)
{
	confirmed_lxid = MyProc->lxid;
	confirmed_event = *DatumGetUUIDP(event_id);
}

static bool
change_confirmed(Datum event_id)
{
	return confirmed_lxid == MyProc->lxid &&
		memcmp(&confirmed_event, DatumGetUUIDP(event_id), sizeof(pg_uuid_t)) == 0;
}

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
	char	   *pda = evs_tup_text(newtup, desc, "event_pda");
	char	   *chain = evs_tup_text(newtup, desc, "blockchain_status");
	char	   *old_pda = oldtup ? evs_tup_text(oldtup, desc, "event_pda") : NULL;
	char	   *old_chain = oldtup ? evs_tup_text(oldtup, desc, "blockchain_status") : NULL;

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

/* Does the write change the column? Every column of an INSERT counts as new. */
static bool
changed(TupleDesc desc, HeapTuple oldtup, HeapTuple newtup, const char *name)
{
	return oldtup == NULL || evs_tup_changed(desc, oldtup, newtup, name);
}

/* The row as the API's validation reads an event: jsonb keyed by column name. */
static Jsonb *
row_jsonb(TupleDesc desc, HeapTuple tup)
{
	Datum		json = DirectFunctionCall1(row_to_json, heap_copy_tuple_as_datum(tup, desc));

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(TextDatumGetCString(json))));
}

/* Columns whose change is checked again by the API's validation of an event. */
static const char *const validated_columns[] = {
	"name", "visibility", "event_type", "starts_at", "ends_at", "doors_open", "timezone",
	"artist_percentage", "venue_percentage", "is_virtual", "virtual_event_url", "age_restriction",
	"capacity", NULL
};

/* Columns that, once tickets are sold, change only through a confirmed change. */
static const char *const critical_columns[] = {
	"venue_id", "starts_at", "ends_at", "capacity", "timezone", NULL
};

static bool
is_deletable(const char *status)
{
	return strcmp(status, "DRAFT") == 0 || strcmp(status, "CANCELLED") == 0;
}

/* A delete (soft or hard) of an event: only DRAFT and CANCELLED, sold tickets need an admin. */
static void
check_delete(Datum tenant, Datum id, const char *status)
{
	int64		sold;

	if (importing())
		return;
	if (!is_deletable(status))
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("an event in status %s cannot be deleted", status),
				 errdetail("Only DRAFT and CANCELLED events can be deleted."),
				 errhint("Cancel it first with api.cancel_event, which also refunds buyers.")));
	if (!evs_is_tenant_admin() && (sold = evs_event_sold_count(tenant, id)) > 0)
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("event %s has " INT64_FORMAT " sold tickets; only a tenant admin may delete it",
						evs_uuid_text(id), sold),
				 errhint("Call as a member of role eventsvc_admin.")));
}

/* The venue is the tenant's and active; the capacity fits in it and holds the sections. */
static void
check_venue_capacity(TupleDesc desc, HeapTuple newtup, Datum tenant, Datum id, bool inserting)
{
	Datum		venue,
				cap;
	bool		has_capacity = evs_tup_get(newtup, desc, "capacity", &cap);
	int32		venue_capacity;

	(void) evs_tup_get(newtup, desc, "venue_id", &venue);
	evs_spi_connect();
	venue_capacity = lc_check_venue(tenant, venue, NULL);
	if (has_capacity)
		lc_check_capacity_fits(inserting ? 0 : lc_sections_total(tenant, id), true,
							   DatumGetInt32(cap), venue_capacity);
	SPI_finish();
}

/*
 * BEFORE INSERT OR UPDATE OR DELETE ON eventsvc.events.
 */
Datum
evs_event_rules_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldtup = NULL,
				newtup;
	bool		inserting;
	Datum		tenant,
				id,
				value;
	char	   *status;
	bool		validate = false;
	bool		critical = false;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("eventsvc.event_rules_trigger must be a BEFORE INSERT OR UPDATE OR DELETE row trigger")));
	desc = RelationGetDescr(td->tg_relation);
	if (evs_write_rules_skipped())
		return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple);

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		oldtup = td->tg_trigtuple;
		(void) evs_tup_get(oldtup, desc, "tenant_id", &tenant);
		(void) evs_tup_get(oldtup, desc, "id", &id);
		check_delete(tenant, id, evs_tup_text(oldtup, desc, "status"));
		return PointerGetDatum(oldtup);
	}
	inserting = TRIGGER_FIRED_BY_INSERT(td->tg_event);
	if (inserting)
		newtup = td->tg_trigtuple;
	else
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	(void) evs_tup_get(newtup, desc, "tenant_id", &tenant);
	(void) evs_tup_get(newtup, desc, "id", &id);
	status = evs_tup_text(newtup, desc, "status");

	/* a new event starts in DRAFT; the state machine takes it from there */
	if (inserting && strcmp(status, "DRAFT") != 0 && !importing())
		ereport(ERROR,
				(errcode(EVS_ERR_ILLEGAL_TRANSITION),
				 errmsg("a new event starts in DRAFT, not %s", status),
				 errdetail("Every later status is reached through the event state machine."),
				 errhint("Insert it as DRAFT, then use api.publish_event and api.transition_event. "
						 "A superuser importing events may SET eventsvc.import_mode = on.")));

	/* soft delete: the same rule as a DELETE */
	if (!inserting && !evs_tup_get(oldtup, desc, "deleted_at", &value) && evs_tup_get(newtup, desc, "deleted_at", &value))
		check_delete(tenant, id, evs_tup_text(oldtup, desc, "status"));

	for (int i = 0; validated_columns[i]; i++)
		validate |= changed(desc, oldtup, newtup, validated_columns[i]);
	if (validate && importing())
	{
		/* an import keeps its fields and dates (or none); its time zone must still be one */
		char	   *tz = evs_tup_text(newtup, desc, "timezone");

		if (tz != NULL && !evs_valid_timezone(tz))
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("timezone: \"%s\" is not an IANA time zone name", tz),
					 errhint("Use a name such as Europe/Berlin or America/New_York (see pg_timezone_names).")));
	}
	else if (validate)
	{
		evs_field_prefix(NULL);
		evs_validate_event(row_jsonb(desc, newtup), changed(desc, oldtup, newtup, "starts_at"));
	}
	if (inserting || changed(desc, oldtup, newtup, "venue_id") || changed(desc, oldtup, newtup, "capacity"))
		check_venue_capacity(desc, newtup, tenant, id, inserting);

	/* after sales: venue, dates, capacity and time zone only through a confirmed change */
	for (int i = 0; !inserting && critical_columns[i]; i++)
		critical |= changed(desc, oldtup, newtup, critical_columns[i]);
	if (critical && !change_confirmed(id) && !importing())
	{
		int64		sold = evs_event_sold_count(tenant, id);

		if (sold > 0)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
					 errmsg("event %s has " INT64_FORMAT " sold tickets: its venue, dates, capacity and time zone "
							"change only through a confirmed change", evs_uuid_text(id), sold),
					 errhint("A tenant admin changes them with api.update_event or api.reschedule_event and a "
							 "confirmation token (docs/lifecycle.md).")));
	}

	/* the blockchain service alone reports an event queued, synced or failed */
	if (changed(desc, oldtup, newtup, "blockchain_status") && !blockchain_callback && !importing())
	{
		char	   *chain = evs_tup_text(newtup, desc, "blockchain_status");

		if (strcmp(chain, "none") != 0 && strcmp(chain, "pending") != 0)
			ereport(ERROR,
					(errcode(EVS_ERR_FORBIDDEN),
					 errmsg("blockchain_status: only the blockchain service reports an event %s", chain),
					 errhint("The blockchain service calls api.update_blockchain_status; an event's own writes "
							 "can only ask for a sync (pending).")));
	}
	check_chain(desc, oldtup, newtup, tenant, id);
	return PointerGetDatum(newtup);
}

/*
 * BEFORE UPDATE OF event_id ON eventsvc.event_capacity (only when it changes):
 * a section that has holds stays with its event. Its holds, their locked
 * prices and the section's seat counter all belong to that event; moving it
 * would hand them to another one.
 */
Datum
evs_section_event_trigger(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	bool		isnull;
	Datum		values[2];
	EvsRoleSwitch ctx;
	bool		has_holds;
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("eventsvc.section_event_trigger must be a BEFORE UPDATE row trigger")));
	if (evs_write_rules_skipped())
		return PointerGetDatum(td->tg_newtuple);
	desc = RelationGetDescr(td->tg_relation);
	values[0] = heap_getattr(td->tg_trigtuple, SPI_fnumber(desc, "tenant_id"), desc, &isnull);
	values[1] = heap_getattr(td->tg_trigtuple, SPI_fnumber(desc, "id"), desc, &isnull);

	/* as the owner: every hold of the section, whatever the writer may read */
	evs_become_owner(&ctx);
	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			types[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept("SELECT 1 FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND capacity_id = $2 LIMIT 1",
									2, types);
	}
	rc = SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hold lookup failed: %s", SPI_result_code_string(rc));
	has_holds = SPI_processed > 0;
	SPI_finish();
	evs_switch_back(&ctx);
	if (has_holds)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("section %s has holds; it cannot move to another event", evs_uuid_text(values[1])),
				 errdetail("Its holds, their locked prices and its seat counter belong to its event."),
				 errhint("Create a new section on the other event instead.")));
	return PointerGetDatum(td->tg_newtuple);
}
