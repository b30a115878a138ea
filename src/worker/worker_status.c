/*
 * worker_status.c: the worker's status in shared memory (what
 * api.worker_status shows), kept by the worker and read by any backend.
 */
#include "worker/worker_internal.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(evs_sql_worker_shmem_status);

EvsWorkerShared *evs_worker_shared = NULL;

/* ---- shared memory ---- */
static Size
worker_shmem_size(void)
{
	return sizeof(EvsWorkerShared);
}

static void
worker_shmem_attach(void *ptr, bool found)
{
	evs_worker_shared = ptr;
	if (!found)
	{
		memset(evs_worker_shared, 0, sizeof(EvsWorkerShared));
		SpinLockInit(&evs_worker_shared->mutex);
	}
}

/* Sets the state api.worker_status shows. */
void
evs_worker_set_state(EvsWorkerState st)
{
	SpinLockAcquire(&evs_worker_shared->mutex);
	evs_worker_shared->state = st;
	SpinLockRelease(&evs_worker_shared->mutex);
}

/* Sets the last error api.worker_status shows. */
void
evs_worker_set_error(const char *msg)
{
	SpinLockAcquire(&evs_worker_shared->mutex);
	strlcpy(evs_worker_shared->last_error, msg ? msg : "", sizeof(evs_worker_shared->last_error));
	SpinLockRelease(&evs_worker_shared->mutex);
}

/* Called from evs_worker_init while preloading: the status struct in shared memory. */
void
evs_worker_status_shmem_init(void)
{
	evs_shmem_register("eventsvc worker", worker_shmem_size, NULL, worker_shmem_attach);
}

/* ---- status for api.worker_status ---- */
static const char *
state_name(EvsWorkerState st)
{
	switch (st)
	{
		case EVS_WS_NOT_RUNNING:
			return "not_running";
		case EVS_WS_STARTING:
			return "starting";
		case EVS_WS_WAITING_FOR_EXTENSION:
			return "waiting_for_extension";
		case EVS_WS_WAITING_FOR_UPDATE:
			return "waiting_for_update";
		case EVS_WS_IDLE:
			return "idle";
		case EVS_WS_PUBLISHING:
			return "publishing";
		case EVS_WS_BROKER_DOWN:
			return "broker_down";
		case EVS_WS_SWEEPING:
			return "sweeping";
		case EVS_WS_SAGA:
			return "saga";
	}
	return "unknown";
}

/* eventsvc.worker_shmem_status(): the worker's status in shared memory as a row. */
Datum
evs_sql_worker_shmem_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[17];
	bool		nulls[17];
	EvsWorkerShared s;
	bool		configured = evs_worker_shared != NULL;
	const char *setting;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "worker_shmem_status must return a record");
	tupdesc = BlessTupleDesc(tupdesc);
	memset(nulls, 0, sizeof(nulls));
	memset(&s, 0, sizeof(s));
	if (configured)
	{
		SpinLockAcquire(&evs_worker_shared->mutex);
		memcpy(&s, evs_worker_shared, sizeof(s));
		SpinLockRelease(&evs_worker_shared->mutex);
	}
#define TS_OR_NULL(i, t) do { if ((t) == 0) nulls[i] = true; else values[i] = TimestampTzGetDatum(t); } while (0)
	values[0] = BoolGetDatum(s.pid != 0);
	if (s.pid != 0)
		values[1] = Int32GetDatum(s.pid);
	else
		nulls[1] = true;
	values[2] = CStringGetTextDatum(!configured ? "not_configured" : state_name(s.pid ? s.state : EVS_WS_NOT_RUNNING));
	/* the database the running worker connected to (whatever database asks), else the setting */
	setting = configured ? GetConfigOption("eventsvc.database", true, false) : NULL;
	values[3] = CStringGetTextDatum(s.pid != 0 && s.database[0] ? s.database :
									setting != NULL ? setting : "");
	TS_OR_NULL(4, s.started_at);
	values[5] = BoolGetDatum(s.pid != 0 && s.broker_connected);
	TS_OR_NULL(6, s.broker_since);
	if (s.broker_error[0])
		values[7] = CStringGetTextDatum(s.broker_error);
	else
		nulls[7] = true;
	TS_OR_NULL(8, s.last_publish_at);
	values[9] = Int64GetDatum(s.published_total);
	values[10] = Int64GetDatum(s.failed_total);
	TS_OR_NULL(11, s.last_sweep_at);
	values[12] = Int64GetDatum(s.last_sweep_released);
	values[13] = Int64GetDatum(s.last_sweep_ms);
	values[14] = Int64GetDatum(s.swept_total);
	values[15] = Int64GetDatum(s.saga_steps_done);
	if (s.last_error[0])
		values[16] = CStringGetTextDatum(s.last_error);
	else
		nulls[16] = true;
#undef TS_OR_NULL
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
