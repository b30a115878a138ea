/*
 * triggers.c: row triggers every writer passes through, a DBA's UPDATE included:
 * optimistic locking (version) on the versioned tables, immutable keys, and the
 * audit trail of events with exactly which fields changed.
 */
#include "core/core.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(evs_version_trigger);
PG_FUNCTION_INFO_V1(evs_audit_trigger);

/* A column of a trigger tuple by name; false when it is NULL. */
bool
evs_tup_get(HeapTuple tup, TupleDesc desc, const char *name, Datum *value)
{
	bool		isnull;
	int			att = SPI_fnumber(desc, name);

	if (att <= 0)
		elog(ERROR, "column \"%s\" missing", name);
	*value = heap_getattr(tup, att, desc, &isnull);
	return !isnull;
}

/*
 * The one check point where eventsvc's write rules (event_rules.c,
 * content_rules.c) step aside: rows coming back from a dump. A restore runs
 * with session_replication_role = replica, where those triggers do not fire at
 * all (none is ENABLE ALWAYS); this keeps them quiet should one ever be, and is
 * where a restore mode of its own would be recognised.
 */
bool
evs_write_rules_skipped(void)
{
	return SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA;
}

/* A column of a trigger tuple as text (its type's output), NULL when NULL. */
char *
evs_tup_text(HeapTuple tup, TupleDesc desc, const char *name)
{
	Datum		value;
	Oid			typoutput;
	bool		typisvarlena;

	if (!evs_tup_get(tup, desc, name, &value))
		return NULL;
	getTypeOutputInfo(TupleDescAttr(desc, SPI_fnumber(desc, name) - 1)->atttypid, &typoutput, &typisvarlena);
	return OidOutputFunctionCall(typoutput, value);
}

/* Does the column differ between two versions of a row (NULL counts as a value)? */
bool
evs_tup_changed(TupleDesc desc, HeapTuple oldtup, HeapTuple newtup, const char *name)
{
	Form_pg_attribute fa;
	Datum		a,
				b;
	bool		has_a = evs_tup_get(oldtup, desc, name, &a);
	bool		has_b = evs_tup_get(newtup, desc, name, &b);

	if (!has_a || !has_b)
		return has_a != has_b;
	fa = TupleDescAttr(desc, SPI_fnumber(desc, name) - 1);
	return !datumIsEqual(a, b, fa->attbyval, fa->attlen);
}

static void
require_row_trigger(FunctionCallInfo fcinfo, const char *name, bool before)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s can only be called as a trigger", name)));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		(before ? !TRIGGER_FIRED_BEFORE(td->tg_event) : !TRIGGER_FIRED_AFTER(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be a %s ROW trigger", name, before ? "BEFORE" : "AFTER")));
}

/*
 * BEFORE UPDATE: the version a writer states is its expected version. Writing
 * version = N where the row holds M != N is a stale write and fails; leaving
 * version alone (or stating the current one) bumps it. tenant_id and id never change.
 */
Datum
evs_version_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldtup,
				newtup;
	int			ver_att,
				upd_att;
	bool		isnull_old,
				isnull_new;
	int32		old_version,
				new_version;
	const char *keys[] = {"tenant_id", "id"};
	int			replcols[2];
	Datum		replvals[2];
	bool		replnulls[2] = {false, false};
	int			nrepl = 0;

	require_row_trigger(fcinfo, "eventsvc.version_trigger", true);
	if (!TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return PointerGetDatum(td->tg_trigtuple);

	desc = RelationGetDescr(td->tg_relation);
	oldtup = td->tg_trigtuple;
	newtup = td->tg_newtuple;

	for (int i = 0; i < 2; i++)
	{
		int			att = SPI_fnumber(desc, keys[i]);
		bool		n1,
					n2;
		Datum		a,
					b;
		Form_pg_attribute fa;

		if (att <= 0)
			continue;
		fa = TupleDescAttr(desc, att - 1);
		a = heap_getattr(oldtup, att, desc, &n1);
		b = heap_getattr(newtup, att, desc, &n2);
		if (n1 != n2 || (!n1 && !datumIsEqual(a, b, fa->attbyval, fa->attlen)))
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("%s of a row in %s cannot be changed", keys[i],
							RelationGetRelationName(td->tg_relation)),
					 errhint("Create a new row instead.")));
	}

	ver_att = SPI_fnumber(desc, "version");
	if (ver_att <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("table %s has no version column", RelationGetRelationName(td->tg_relation))));

	old_version = DatumGetInt32(heap_getattr(oldtup, ver_att, desc, &isnull_old));
	new_version = DatumGetInt32(heap_getattr(newtup, ver_att, desc, &isnull_new));
	if (!isnull_new && !isnull_old && new_version != old_version)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("%s row was changed by someone else: expected version %d, current version %d",
						RelationGetRelationName(td->tg_relation), new_version, old_version),
				 errdetail("The update stated version %d; the row is at version %d.", new_version, old_version),
				 errhint("Read the row again and retry with its current version.")));

	replcols[nrepl] = ver_att;
	replvals[nrepl++] = Int32GetDatum(old_version + 1);
	upd_att = SPI_fnumber(desc, "updated_at");
	if (upd_att > 0)
	{
		replcols[nrepl] = upd_att;
		replvals[nrepl++] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	}
	newtup = heap_modify_tuple_by_cols(newtup, desc, nrepl, replcols, replvals, replnulls);
	return PointerGetDatum(newtup);
}

/* Columns that change on every write and say nothing about what the writer did. */
static bool
audit_skips(const char *name)
{
	return strcmp(name, "version") == 0 || strcmp(name, "updated_at") == 0 ||
		strcmp(name, "search_vector") == 0;
}

static char *
value_text(Form_pg_attribute att, Datum value, bool isnull)
{
	Oid			typoutput;
	bool		typisvarlena;

	if (isnull)
		return NULL;
	getTypeOutputInfo(att->atttypid, &typoutput, &typisvarlena);
	return OidOutputFunctionCall(typoutput, value);
}

/*
 * One value under `key`: numbers, booleans and JSON as themselves, the rest as
 * the text of their type's output function. A number JSON cannot hold (NaN,
 * infinity) is refused as jsonb_in refuses it.
 */
static void
push_value(JsonbParseState **st, const char *key, Form_pg_attribute att, Datum value, const char *text)
{
	if (text == NULL)
	{
		evs_jsonb_push_null(st, key);
		return;
	}
	switch (att->atttypid)
	{
		case INT2OID:
			evs_jsonb_push_int(st, key, DatumGetInt16(value));
			break;
		case INT4OID:
			evs_jsonb_push_int(st, key, DatumGetInt32(value));
			break;
		case INT8OID:
			evs_jsonb_push_int(st, key, DatumGetInt64(value));
			break;
		case NUMERICOID:
			if (numeric_is_nan(DatumGetNumeric(value)) || numeric_is_inf(DatumGetNumeric(value)))
				evs_jsonb_push_jsonb(st, key, DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text))));
			else
				evs_jsonb_push_numeric(st, key, DatumGetNumeric(value));
			break;
		case BOOLOID:
			evs_jsonb_push_bool(st, key, DatumGetBool(value));
			break;
		case JSONBOID:
			evs_jsonb_push_jsonb(st, key, DatumGetJsonbP(value));
			break;
		case JSONOID:
			evs_jsonb_push_jsonb(st, key, DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text))));
			break;
		default:
			evs_jsonb_push_text(st, key, text);
	}
}

/* {"field": {"old": ..., "new": ...}} for each field that differs. */
static Jsonb *
changed_fields(TupleDesc desc, HeapTuple oldtup, HeapTuple newtup, int *nchanged)
{
	JsonbParseState *st = NULL;

	evs_jsonb_begin_object(&st, NULL);
	*nchanged = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		on = true,
					nn = true;
		Datum		ov = (Datum) 0,
					nv = (Datum) 0;
		char	   *ot,
				   *nt;

		if (att->attisdropped || audit_skips(NameStr(att->attname)))
			continue;
		if (oldtup)
			ov = heap_getattr(oldtup, i + 1, desc, &on);
		if (newtup)
			nv = heap_getattr(newtup, i + 1, desc, &nn);
		ot = value_text(att, ov, on);
		nt = value_text(att, nv, nn);
		if ((ot == NULL && nt == NULL) || (ot && nt && strcmp(ot, nt) == 0))
			continue;
		(*nchanged)++;
		evs_jsonb_begin_object(&st, NameStr(att->attname));
		push_value(&st, "old", att, ov, ot);
		push_value(&st, "new", att, nv, nt);
		(void) evs_jsonb_end(&st);
	}
	return evs_jsonb_end(&st);
}

static bool
is_null_att(TupleDesc desc, HeapTuple tup, const char *name)
{
	int			att = SPI_fnumber(desc, name);
	bool		isnull = true;

	if (att > 0 && tup)
		(void) heap_getattr(tup, att, desc, &isnull);
	return isnull;
}

/*
 * AFTER INSERT/UPDATE/DELETE on events. Runs as the extension owner (SECURITY
 * DEFINER in the install script) so callers need no right on the audit table.
 */
Datum
evs_audit_trigger(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldtup = NULL,
				newtup = NULL,
				row;
	const char *action;
	Jsonb	   *changes;
	int			nchanged;
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	char	   *actor;

	require_row_trigger(fcinfo, "eventsvc.audit_trigger", false);
	desc = RelationGetDescr(td->tg_relation);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		newtup = td->tg_trigtuple;
		action = "INSERT";
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
		action = (is_null_att(desc, oldtup, "deleted_at") && !is_null_att(desc, newtup, "deleted_at"))
			? "SOFT_DELETE" : "UPDATE";
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		oldtup = td->tg_trigtuple;
		action = "DELETE";
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("eventsvc.audit_trigger handles INSERT, UPDATE and DELETE only")));

	changes = changed_fields(desc, oldtup, newtup, &nchanged);
	if (nchanged == 0 && strcmp(action, "UPDATE") == 0)
		return PointerGetDatum(NULL);

	row = newtup ? newtup : oldtup;
	values[0] = heap_getattr(row, SPI_fnumber(desc, "tenant_id"), desc, &isnull);
	values[1] = heap_getattr(row, SPI_fnumber(desc, "id"), desc, &isnull);
	values[2] = CStringGetTextDatum(action);

	/* who: the JWT subject when PostgREST set claims, else the session's actor */
	actor = evs_current_actor();
	values[3] = CStringGetTextDatum(actor);
	values[4] = CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false));
	values[5] = JsonbPGetDatum(changes);

	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			argtypes[6] = {UUIDOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID};

		plan = evs_spi_prepare_kept("INSERT INTO eventsvc.event_audit_log "
									"(tenant_id, event_id, action, actor_id, actor_role, changed_fields) "
									"VALUES ($1, $2, $3, $4, $5, $6)", 6, argtypes);
	}
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "audit insert failed: %s", SPI_result_code_string(SPI_result));
	SPI_finish();
	return PointerGetDatum(NULL);
}
