/*
 * worker_xact.c: one unit of the worker's work: its own short transaction,
 * run as the role eventsvc_worker once the extension of this library's
 * version is there. An error is logged and ends only that unit, so one bad
 * row or call never stops the worker.
 */
#include "worker/worker_internal.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

/* where the error of a failed unit is copied to (outside the aborted transaction) */
static MemoryContext error_cxt = NULL;

/*
 * Is the extension there, of this library's version, with the worker's role?
 * Checked in every unit of work (kept until an invalidation, version.c), so
 * CREATE, ALTER ... UPDATE or DROP EXTENSION at any time is picked up without a
 * restart. While it is missing or of another version the worker waits (its
 * state says which) and says so in the log once, not at every try.
 */
static Oid
worker_role_if_ready(void)
{
	static EvsSchemaState logged = EVS_SCHEMA_CURRENT;
	const char *installed;
	EvsSchemaState st = evs_schema_state(&installed);

	if (st != logged)
	{
		const char *database = get_database_name(MyDatabaseId);

		if (st == EVS_SCHEMA_OTHER_VERSION)
			ereport(LOG,
					(errmsg("eventsvc worker: database \"%s\" has eventsvc %s, this server's library is %s; "
							"waiting for ALTER EXTENSION eventsvc UPDATE", database, installed,
							evs_library_version)));
		else if (st == EVS_SCHEMA_MISSING)
			ereport(LOG,
					(errmsg("eventsvc worker: waiting for CREATE EXTENSION eventsvc in database \"%s\"",
							database)));
		else
			ereport(LOG,
					(errmsg("eventsvc worker: eventsvc %s is installed in database \"%s\"; working",
							installed, database)));
		logged = st;
	}
	if (st == EVS_SCHEMA_MISSING)
	{
		evs_worker_set_state(EVS_WS_WAITING_FOR_EXTENSION);
		return InvalidOid;
	}
	if (st == EVS_SCHEMA_OTHER_VERSION)
	{
		evs_worker_set_state(EVS_WS_WAITING_FOR_UPDATE);
		return InvalidOid;
	}
	return get_role_oid("eventsvc_worker", true);
}

/* Runs fn in its own transaction as eventsvc_worker; an error is logged and returns false. */
bool
evs_worker_run_xact(const char *activity, void (*fn) (void *), void *arg)
{
	volatile bool ok = true;
	MemoryContext oldcxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		Oid			role;
		EvsRoleSwitch as_worker;

		PushActiveSnapshot(GetTransactionSnapshot());
		role = worker_role_if_ready();
		if (!OidIsValid(role))
			ok = false;			/* waiting: the state says for what */
		else
		{
			debug_query_string = activity;
			pgstat_report_activity(STATE_RUNNING, activity);
			evs_spi_connect();
			evs_switch_role(&as_worker, role);
			fn(arg);
			evs_switch_back(&as_worker);
			SPI_finish();
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		if (error_cxt == NULL)
			error_cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc worker errors", ALLOCSET_SMALL_SIZES);
		MemoryContextSwitchTo(error_cxt);
		edata = CopyErrorData();
		/* Log it like any server error, then carry on with the next unit. */
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		evs_worker_set_error(edata->message);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	debug_query_string = NULL;
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(oldcxt);
	return ok;
}
