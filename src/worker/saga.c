/*
 * saga.c: the cancellation saga, one step per round (sql/install/52_saga.sql
 * holds the state machine and builds each request).
 *
 *   1. claim the next due step and list its calls not yet done (one short
 *      transaction);
 *   2. for each call: HTTP outside any transaction, then record the answer in
 *      its own transaction before the next call, so a crash or restart
 *      resumes at the first call not yet recorded and never repeats one that
 *      completed (each call also carries an Idempotency-Key that is the same
 *      on every retry, so the one call that may be in flight at a crash is
 *      safe to send again);
 *   3. mark the step done, or failed: retried with backoff, or recorded as
 *      failed for good on a permanent error or when attempts run out.
 *
 * A call with its own key (refund_payments: one refund per call, keyed
 * refund:<purchase>:<n>) that the service refuses for good is recorded as
 * refused and the step goes on to the next refund: one refused refund never
 * holds back the others; the step then ends failed, naming the refused keys.
 */
#include "worker/worker_internal.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/uuid.h"
#include "utils/guc.h"

/* ---- settings ---- */
static char *evs_ticket_service_url = NULL;
char	   *evs_payment_service_url = NULL;
static char *evs_marketplace_service_url = NULL;
static char *evs_notification_service_url = NULL;
int			evs_saga_max_attempts = 5;
int			evs_saga_backoff_base_ms = 500;
int			evs_saga_backoff_max_ms = 60000;
static int	evs_saga_ticket_batch = 100;

/* Called from evs_worker_init: this module's settings. */
void
evs_saga_init(void)
{
	DefineCustomStringVariable("eventsvc.ticket_service_url", "Base URL of ticket-service.", NULL,
							   &evs_ticket_service_url, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("eventsvc.payment_service_url", "Base URL of payment-service.", NULL,
							   &evs_payment_service_url, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("eventsvc.marketplace_service_url", "Base URL of marketplace-service.", NULL,
							   &evs_marketplace_service_url, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("eventsvc.notification_service_url", "Base URL of notification-service.", NULL,
							   &evs_notification_service_url, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.saga_max_attempts",
							"Attempts of one cancellation step before it is recorded as failed.", NULL,
							&evs_saga_max_attempts, 5, 1, 1000, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.saga_backoff_base_ms",
							"First retry delay of a failed cancellation step (doubles, full jitter).", NULL,
							&evs_saga_backoff_base_ms, 500, 1, 3600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.saga_backoff_max_ms",
							"Cap of the cancellation step retry delay.", NULL,
							&evs_saga_backoff_max_ms, 60000, 1, 86400000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.saga_ticket_batch",
							"Tickets per cancel-tickets call.", NULL,
							&evs_saga_ticket_batch, 100, 1, 10000, PGC_SIGHUP, 0, NULL, NULL, NULL);
}

typedef struct SagaCall
{
	int			call_no;
	char	   *service;
	char	   *method;
	char	   *path;
	char	   *body;
	char	   *key;			/* the call's own Idempotency-Key, or NULL: the step's */
} SagaCall;

typedef struct SagaStep
{
	MemoryContext cxt;
	bool		found;
	char	   *tenant_id;
	char	   *report_id;
	int			step_no;
	char	   *step;
	char	   *key;
	int			attempts;
	char	   *skip_reason;
	int			ncalls;
	SagaCall   *calls;
} SagaStep;

static char *
getstr(HeapTuple tup, TupleDesc td, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(tup, td, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/* As getstr, for a column the step cannot run without. */
static char *
needstr(HeapTuple tup, TupleDesc td, int col, MemoryContext cxt, const char *what)
{
	return MemoryContextStrdup(cxt, evs_getvalue_notnull(tup, td, col, what));
}

static void
saga_claim(void *arg)
{
	SagaStep   *s = (SagaStep *) arg;
	HeapTuple	tup;
	TupleDesc	td;
	int			rc;
	uint64		i;
	Datum		v[4];
	bool		isnull;
	int			key_col;

	rc = SPI_execute("SELECT tenant_id, report_id, step_no, step, idempotency_key, attempts, skip_reason"
					 " FROM eventsvc.saga_claim_step()", false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.saga_claim_step failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return;
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	s->found = true;
	s->tenant_id = needstr(tup, td, 1, s->cxt, "the saga step's tenant");
	s->report_id = needstr(tup, td, 2, s->cxt, "the saga step's report");
	s->step_no = DatumGetInt16(SPI_getbinval(tup, td, 3, &isnull));
	s->step = getstr(tup, td, 4, s->cxt);
	s->key = getstr(tup, td, 5, s->cxt);
	s->attempts = DatumGetInt32(SPI_getbinval(tup, td, 6, &isnull));
	s->skip_reason = getstr(tup, td, 7, s->cxt);
	if (s->skip_reason)
		return;

	v[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(s->tenant_id));
	v[1] = DirectFunctionCall1(uuid_in, CStringGetDatum(s->report_id));
	v[2] = Int16GetDatum((int16) s->step_no);
	v[3] = Int32GetDatum(evs_saga_ticket_batch);
	/* a 1.0 schema has no idempotency_key column: every call then uses the step's key */
	rc = SPI_execute_with_args("SELECT * FROM eventsvc.saga_step_calls($1, $2, $3, $4)", 4,
							   (Oid[]) {UUIDOID, UUIDOID, INT2OID, INT4OID}, v, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.saga_step_calls failed: %s", SPI_result_code_string(rc));
	key_col = SPI_fnumber(SPI_tuptable->tupdesc, "idempotency_key");
	s->ncalls = (int) SPI_processed;
	s->calls = MemoryContextAllocZero(s->cxt, sizeof(SagaCall) * Max(s->ncalls, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		tup = SPI_tuptable->vals[i];
		td = SPI_tuptable->tupdesc;
		s->calls[i].call_no = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
		s->calls[i].service = needstr(tup, td, 2, s->cxt, "the saga call's service");
		s->calls[i].method = needstr(tup, td, 3, s->cxt, "the saga call's method");
		s->calls[i].path = needstr(tup, td, 4, s->cxt, "the saga call's path");
		s->calls[i].body = getstr(tup, td, 5, s->cxt);
		s->calls[i].key = key_col > 0 ? getstr(tup, td, key_col, s->cxt) : NULL;
	}
}

typedef struct SagaRecord
{
	SagaStep   *s;
	int			call_no;		/* saga_call_done, saga_call_refused */
	const char *key;			/* saga_call_refused */
	const char *response;
	const char *error;			/* saga_step_failed */
	bool		permanent;
} SagaRecord;

/*
 * A recorded call or step must be durable before the next external call is
 * made, whatever synchronous_commit the cluster runs with: an asynchronous
 * commit lost in a crash would make the saga repeat a call that completed.
 */
static void
durable_commit(void)
{
	if (SPI_execute("SET LOCAL synchronous_commit = on", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not set synchronous_commit");
}

static void
key_args(SagaStep *s, Datum *v)
{
	durable_commit();
	v[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(s->tenant_id));
	v[1] = DirectFunctionCall1(uuid_in, CStringGetDatum(s->report_id));
	v[2] = Int16GetDatum((int16) s->step_no);
}

static void
saga_call_done(void *arg)
{
	SagaRecord *r = (SagaRecord *) arg;
	Datum		v[5];
	int			rc;

	key_args(r->s, v);
	v[3] = Int32GetDatum(r->call_no);
	v[4] = CStringGetTextDatum(r->response ? r->response : "");
	rc = SPI_execute_with_args("SELECT eventsvc.saga_call_done($1, $2, $3, $4, $5)", 5,
							   (Oid[]) {UUIDOID, UUIDOID, INT2OID, INT4OID, TEXTOID}, v, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.saga_call_done failed: %s", SPI_result_code_string(rc));
}

static void
saga_call_refused(void *arg)
{
	SagaRecord *r = (SagaRecord *) arg;
	Datum		v[6];
	int			rc;

	key_args(r->s, v);
	v[3] = Int32GetDatum(r->call_no);
	v[4] = CStringGetTextDatum(r->key);
	v[5] = CStringGetTextDatum(r->error);
	rc = SPI_execute_with_args("SELECT eventsvc.saga_call_refused($1, $2, $3, $4, $5, $6)", 6,
							   (Oid[]) {UUIDOID, UUIDOID, INT2OID, INT4OID, TEXTOID, TEXTOID}, v, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.saga_call_refused failed: %s", SPI_result_code_string(rc));
}

static void
saga_step_done(void *arg)
{
	SagaRecord *r = (SagaRecord *) arg;
	Datum		v[3];
	int			rc;

	key_args(r->s, v);
	rc = SPI_execute_with_args("SELECT eventsvc.saga_step_done($1, $2, $3)", 3,
							   (Oid[]) {UUIDOID, UUIDOID, INT2OID}, v, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.saga_step_done failed: %s", SPI_result_code_string(rc));
}

static void
saga_step_failed(void *arg)
{
	SagaRecord *r = (SagaRecord *) arg;
	Datum		v[8];
	int			rc;

	key_args(r->s, v);
	v[3] = CStringGetTextDatum(r->error);
	v[4] = BoolGetDatum(r->permanent);
	v[5] = Int32GetDatum(evs_saga_max_attempts);
	v[6] = Int32GetDatum(evs_saga_backoff_base_ms);
	v[7] = Int32GetDatum(evs_saga_backoff_max_ms);
	rc = SPI_execute_with_args("SELECT eventsvc.saga_step_failed($1, $2, $3, $4, $5, $6, $7, $8)", 8,
							   (Oid[]) {UUIDOID, UUIDOID, INT2OID, TEXTOID, BOOLOID, INT4OID, INT4OID, INT4OID},
							   v, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.saga_step_failed failed: %s", SPI_result_code_string(rc));
}

static const char *
service_url(const char *service)
{
	if (strcmp(service, "ticket") == 0)
		return evs_ticket_service_url;
	if (strcmp(service, "payment") == 0)
		return evs_payment_service_url;
	if (strcmp(service, "marketplace") == 0)
		return evs_marketplace_service_url;
	if (strcmp(service, "notification") == 0)
		return evs_notification_service_url;
	return NULL;
}

/* 4xx other than timeout/too-early/too-many: the request itself is refused;
 * sending it again cannot help. */
bool
evs_http_permanent_status(long status)
{
	return status >= 400 && status < 500 && status != 408 && status != 425 && status != 429;
}

static void
record_failure(SagaStep *s, const char *error, bool permanent)
{
	SagaRecord	r = {0};

	r.s = s;
	r.error = error;
	r.permanent = permanent;
	ereport(LOG, (errmsg("eventsvc worker: cancellation step %s of report %s failed (attempt %d): %s",
						 s->step, s->report_id, s->attempts + 1, error)));
	(void) evs_worker_run_xact("eventsvc worker: saga step failed", saga_step_failed, &r);
}

/* Runs the next due cancellation step, if any; returns the steps run (0 or 1). */
int
evs_saga_run_once(void)
{
	static MemoryContext cxt = NULL;
	SagaStep	s;
	SagaRecord	r;
	int			i;

	if (cxt == NULL)
		cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc saga", ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(cxt);
	memset(&s, 0, sizeof(s));
	s.cxt = cxt;
	if (!evs_worker_run_xact("eventsvc worker: claim saga step", saga_claim, &s) || !s.found)
		return 0;

	evs_worker_set_state(EVS_WS_SAGA);
	if (s.skip_reason)
	{
		SagaRecord	f = {0};

		f.s = &s;
		f.error = s.skip_reason;
		f.permanent = true;
		(void) evs_worker_run_xact("eventsvc worker: saga step skipped", saga_step_failed, &f);
		return 1;
	}

	for (i = 0; i < s.ncalls; i++)
	{
		SagaCall   *c = &s.calls[i];
		EvsHttpResponse resp;
		char		key[80];
		char		activity[200];
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		/* a call's own key (a refund's); single-call steps use the step's key; batches add their number */
		if (c->key != NULL)
			strlcpy(key, c->key, sizeof(key));
		else if (s.ncalls == 1 && c->call_no == 1 && strcmp(s.step, "cancel_tickets") != 0)
			strlcpy(key, s.key, sizeof(key));
		else
			snprintf(key, sizeof(key), "%s:%d", s.key, c->call_no);
		snprintf(activity, sizeof(activity), "eventsvc worker: %s %s", c->method, c->path);
		pgstat_report_activity(STATE_RUNNING, activity);

		old = MemoryContextSwitchTo(cxt);
		if (!evs_http_request(c->method, service_url(c->service), c->path, c->body, key, &resp))
		{
			MemoryContextSwitchTo(old);
			record_failure(&s, resp.error, false);
			return 1;
		}
		MemoryContextSwitchTo(old);
		if (resp.status < 200 || resp.status >= 300)
		{
			char		err[512];

			snprintf(err, sizeof(err), "%s-service answered %ld to %s %s: %.200s", c->service,
					 resp.status, c->method, c->path, resp.body ? resp.body : "");
			if (c->key != NULL && evs_http_permanent_status(resp.status))
			{
				/* this refund is refused for good: recorded, and the next one is paid */
				memset(&r, 0, sizeof(r));
				r.s = &s;
				r.call_no = c->call_no;
				r.key = c->key;
				r.error = err;
				ereport(LOG, (errmsg("eventsvc worker: cancellation step %s of report %s: call %s refused: %s",
									 s.step, s.report_id, c->key, err)));
				if (evs_worker_run_xact("eventsvc worker: saga call refused", saga_call_refused, &r))
					continue;
				record_failure(&s, err, false);
				return 1;
			}
			record_failure(&s, err, evs_http_permanent_status(resp.status));
			return 1;
		}
		memset(&r, 0, sizeof(r));
		r.s = &s;
		r.call_no = c->call_no;
		r.response = resp.body;
		if (!evs_worker_run_xact("eventsvc worker: saga call done", saga_call_done, &r))
		{
			char		err[512];

			snprintf(err, sizeof(err), "%s-service gave an unusable answer to %s %s", c->service,
					 c->method, c->path);
			record_failure(&s, err, false);
			return 1;
		}
	}
	memset(&r, 0, sizeof(r));
	r.s = &s;
	if (evs_worker_run_xact("eventsvc worker: saga step done", saga_step_done, &r))
	{
		SpinLockAcquire(&evs_worker_shared->mutex);
		evs_worker_shared->saga_steps_done++;
		SpinLockRelease(&evs_worker_shared->mutex);
	}
	return 1;
}
