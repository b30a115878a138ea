/*
 * postponement_pay.c: the worker's part of a postponement (sql/install/49_postponement.sql,
 * src/capacity/postponement.c). Each round:
 *
 *   1. decision windows that closed by eventsvc.now() are settled
 *      (api.close_postponement_windows: the undecided follow the default, in
 *      one short transaction);
 *   2. each due refund is paid by the saga's payment call (POST
 *      /internal/refunds/bulk on the payment service, the refund alone in its
 *      body), outside any transaction, with the refund's idempotency key
 *      (refund:<purchase>:<n>), and the answer is recorded in its own
 *      transaction before the next call: done on 2xx, else retried with the
 *      saga's backoff until eventsvc.saga_max_attempts, or failed at once on a
 *      refusal. A crash between the call and its record leaves the refund
 *      pending: it is sent again with the same key, and the payment service
 *      pays it once.
 */
#include "worker/worker_internal.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#define PAY_BATCH 50				/* refunds read per round */
#define CLOSE_BATCH 1000			/* undecided purchases settled per transaction */
#define REFUND_PATH "/internal/refunds/bulk"
#define ROUND_INTERVAL_MS 1000		/* an idle round at most this often */

typedef struct DueRefund
{
	char	   *tenant_id;
	char	   *postponement_id;
	char	   *hold_id;
	char	   *body;
	char	   *key;
} DueRefund;

typedef struct PayRound
{
	MemoryContext cxt;
	int64		closed;
	int			n;
	DueRefund	due[PAY_BATCH];
	/* the record of one call */
	DueRefund  *current;
	const char *error;
	bool		permanent;
} PayRound;

static void
close_windows(void *arg)
{
	PayRound   *r = (PayRound *) arg;
	bool		isnull;

	if (SPI_execute("SELECT api.close_postponement_windows(" CppAsString2(CLOSE_BATCH) ")", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "api.close_postponement_windows failed");
	r->closed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
read_due(void *arg)
{
	PayRound   *r = (PayRound *) arg;

	if (SPI_execute("SELECT tenant_id, postponement_id, hold_id, body, idempotency_key"
					" FROM eventsvc.postponement_refunds_due(" CppAsString2(PAY_BATCH) ")", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.postponement_refunds_due failed");
	r->n = (int) SPI_processed;
	for (int i = 0; i < r->n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;

		r->due[i].tenant_id = MemoryContextStrdup(r->cxt, evs_getvalue_notnull(t, d, 1, "the refund's tenant"));
		r->due[i].postponement_id = MemoryContextStrdup(r->cxt, evs_getvalue_notnull(t, d, 2, "the refund's postponement"));
		r->due[i].hold_id = MemoryContextStrdup(r->cxt, evs_getvalue_notnull(t, d, 3, "the refund's purchase"));
		r->due[i].body = MemoryContextStrdup(r->cxt, evs_getvalue_notnull(t, d, 4, "the refund call's body"));
		r->due[i].key = MemoryContextStrdup(r->cxt, evs_getvalue_notnull(t, d, 5, "the refund's idempotency key"));
	}
}

static void
key_args(DueRefund *f, Datum *v)
{
	/* the record must be durable before the next call (see saga.c) */
	if (SPI_execute("SET LOCAL synchronous_commit = on", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not set synchronous_commit");
	v[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(f->tenant_id));
	v[1] = DirectFunctionCall1(uuid_in, CStringGetDatum(f->postponement_id));
	v[2] = DirectFunctionCall1(uuid_in, CStringGetDatum(f->hold_id));
}

static void
record_done(void *arg)
{
	PayRound   *r = (PayRound *) arg;
	Datum		v[3];

	key_args(r->current, v);
	if (SPI_execute_with_args("SELECT eventsvc.postponement_refund_done($1, $2, $3)", 3,
							  (Oid[]) {UUIDOID, UUIDOID, UUIDOID}, v, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.postponement_refund_done failed");
}

static void
record_failed(void *arg)
{
	PayRound   *r = (PayRound *) arg;
	Datum		v[8];

	key_args(r->current, v);
	v[3] = CStringGetTextDatum(r->error);
	v[4] = BoolGetDatum(r->permanent);
	v[5] = Int32GetDatum(evs_saga_max_attempts);
	v[6] = Int32GetDatum(evs_saga_backoff_base_ms);
	v[7] = Int32GetDatum(evs_saga_backoff_max_ms);
	if (SPI_execute_with_args("SELECT eventsvc.postponement_refund_failed($1, $2, $3, $4, $5, $6, $7, $8)", 8,
							  (Oid[]) {UUIDOID, UUIDOID, UUIDOID, TEXTOID, BOOLOID, INT4OID, INT4OID, INT4OID},
							  v, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.postponement_refund_failed failed");
}

/* One round (see the file header); returns the windows' decisions made plus the calls made. */
int
evs_postponement_run_once(void)
{
	static MemoryContext cxt = NULL;
	static TimestampTz next_round = 0;
	PayRound	r;
	int			calls = 0;

	if (GetCurrentTimestamp() < next_round)
		return 0;
	next_round = GetCurrentTimestamp() + (TimestampTz) ROUND_INTERVAL_MS * 1000;
	if (cxt == NULL)
		cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc postponement", ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(cxt);
	memset(&r, 0, sizeof(r));
	r.cxt = cxt;
	(void) evs_worker_run_xact("eventsvc worker: close postponement windows", close_windows, &r);
	if (r.closed > 0)
		next_round = 0;
	if (evs_payment_service_url == NULL || evs_payment_service_url[0] == '\0')
		return (int) Min(r.closed, 1);
	if (!evs_worker_run_xact("eventsvc worker: postponement refunds due", read_due, &r) || r.n == 0)
		return (int) Min(r.closed, 1);

	evs_worker_set_state(EVS_WS_SAGA);
	for (int i = 0; i < r.n; i++)
	{
		EvsHttpResponse resp;
		MemoryContext old;
		char		err[512];

		CHECK_FOR_INTERRUPTS();
		r.current = &r.due[i];
		pgstat_report_activity(STATE_RUNNING, "eventsvc worker: POST " REFUND_PATH " (postponement refund)");
		old = MemoryContextSwitchTo(cxt);
		calls++;
		if (!evs_http_request("POST", evs_payment_service_url, REFUND_PATH, r.current->body, r.current->key, &resp))
		{
			MemoryContextSwitchTo(old);
			r.error = MemoryContextStrdup(cxt, resp.error);
			r.permanent = false;
			(void) evs_worker_run_xact("eventsvc worker: postponement refund failed", record_failed, &r);
			continue;
		}
		MemoryContextSwitchTo(old);
		if (resp.status < 200 || resp.status >= 300)
		{
			snprintf(err, sizeof(err), "payment-service answered %ld: %.200s", resp.status,
					 resp.body ? resp.body : "");
			r.error = err;
			r.permanent = evs_http_permanent_status(resp.status);
			(void) evs_worker_run_xact("eventsvc worker: postponement refund failed", record_failed, &r);
			continue;
		}
		(void) evs_worker_run_xact("eventsvc worker: postponement refund paid", record_done, &r);
	}
	next_round = 0;				/* there may be more: the next round at once */
	return calls;
}
