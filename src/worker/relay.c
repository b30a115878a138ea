/*
 * relay.c: the outbox relay. Claim -> publish -> settle, three steps:
 *
 *   1. claim a batch in a short transaction (eventsvc.relay_claim: FOR UPDATE
 *      SKIP LOCKED, a lease, at most the first unfinished row of each
 *      aggregate so per-event order holds even across retries);
 *   2. publish it to RabbitMQ with publisher confirms, outside any
 *      transaction (amqp.c);
 *   3. settle in a second short transaction: published rows marked
 *      published, rows the broker returned or rejected get a retry with
 *      exponential backoff and full jitter (dead after
 *      eventsvc.outbox_max_attempts), rows without a confirm (broker gone)
 *      are released uncounted.
 *
 * Steps overlap: batch k+1 is claimed and sent while the broker still works
 * on batch k, whose confirms are read and settled afterwards (at most two
 * batches unconfirmed). Rows of batch k are still pending while it is in
 * flight, so the claim of k+1 skips their events and per-event order holds.
 *
 * A crash between 1 and 3 leaves leased rows that the restarted worker
 * reclaims: consumers may see a message twice (same message_id and sequence),
 * never zero times.
 */
#include "worker/worker_internal.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/guc.h"

/* ---- settings ---- */
static int	evs_outbox_batch_size = 2000;
static int	evs_outbox_max_attempts = 10;
static int	evs_outbox_backoff_base_ms = 1000;
static int	evs_outbox_backoff_max_ms = 300000;
static int	evs_outbox_lease_seconds = 60;

/* Called from evs_worker_init: this module's settings. */
void
evs_relay_init(void)
{
	DefineCustomIntVariable("eventsvc.outbox_batch_size",
							"Outbox rows claimed and published per confirm window.", NULL,
							&evs_outbox_batch_size, 2000, 1, 10000, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.outbox_max_attempts",
							"Failed publishes (returned or rejected) before a row goes dead.",
							"Broker outages are not counted.",
							&evs_outbox_max_attempts, 10, 1, 1000, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.outbox_backoff_base_ms",
							"First retry delay of a failed outbox row (doubles per attempt, full jitter).", NULL,
							&evs_outbox_backoff_base_ms, 1000, 1, 3600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.outbox_backoff_max_ms",
							"Cap of the outbox retry delay.", NULL,
							&evs_outbox_backoff_max_ms, 300000, 1, 86400000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.outbox_lease_seconds",
							"How long a claimed outbox row stays reserved for the worker.", NULL,
							&evs_outbox_lease_seconds, 60, 1, 3600, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
}

typedef struct RelayBatch
{
	MemoryContext cxt;			/* outlives the claim transaction */
	EvsAmqpMsg *msgs;
	int64	   *ids;
	int			n;
	EvsAmqpBatch ab;			/* what amqp.c tracks while it is in flight */
} RelayBatch;

/*
 * Two batches alternate: while the broker works on the one in flight, the
 * next is claimed and sent; then the first one's confirms are read and it is
 * settled. The claim skips aggregates that have a row in flight (still
 * pending), so order per event holds.
 */
static RelayBatch batches[2];
static RelayBatch *in_flight = NULL;
static int	next_slot = 0;

static int	reconnect_failures = 0;

/* Forgets the broker failures counted for the reconnect delay. */
void
evs_relay_reset_backoff(void)
{
	reconnect_failures = 0;
}

/* Broker reconnect delay: 250 ms doubling to 5 s, so an outage is left fast. */
#define RECONNECT_FIRST_MS	250
#define RECONNECT_MAX_MS	5000

/* How long to wait before the next broker connect. */
int
evs_relay_reconnect_delay_ms(void)
{
	int			shift = Min(reconnect_failures, 5);	/* 250 << 5 is past the cap already */

	return Min(RECONNECT_FIRST_MS << shift, RECONNECT_MAX_MS);
}

static void
claim(void *arg)
{
	RelayBatch *b = (RelayBatch *) arg;
	Oid			types[3] = {INT4OID, INT4OID, INT4OID};
	Datum		values[3];
	int			rc;
	uint64		i;
	MemoryContext old;

	values[0] = Int32GetDatum(MyProcPid);
	values[1] = Int32GetDatum(evs_outbox_batch_size);
	values[2] = Int32GetDatum(evs_outbox_lease_seconds);
	rc = SPI_execute_with_args(
		"SELECT tenant_id::text, id, message_id::text, exchange, routing_key, payload::text,"
		" extract(epoch FROM created_at)::bigint, sequence"
		" FROM eventsvc.relay_claim($1, $2, $3)", 3, types, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.relay_claim failed: %s", SPI_result_code_string(rc));

	old = MemoryContextSwitchTo(b->cxt);
	b->n = (int) SPI_processed;
	b->msgs = palloc0(sizeof(EvsAmqpMsg) * Max(b->n, 1));
	b->ids = palloc(sizeof(int64) * Max(b->n, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		EvsAmqpMsg *m = &b->msgs[i];
		bool		isnull;

		m->tenant_id = evs_getvalue_notnull(tup, td, 1, "the message's tenant");
		b->ids[i] = DatumGetInt64(SPI_getbinval(tup, td, 2, &isnull));
		m->message_id = evs_getvalue_notnull(tup, td, 3, "the message's id");
		m->exchange = evs_getvalue_notnull(tup, td, 4, "the message's exchange");
		m->routing_key = evs_getvalue_notnull(tup, td, 5, "the message's routing key");
		m->body = evs_getvalue_notnull(tup, td, 6, "the message's payload");
		m->body_len = strlen(m->body);
		m->timestamp = DatumGetInt64(SPI_getbinval(tup, td, 7, &isnull));
		m->sequence = DatumGetInt64(SPI_getbinval(tup, td, 8, &isnull));
	}
	MemoryContextSwitchTo(old);
}

typedef struct SettleArgs
{
	RelayBatch *b;
	int			n_ok;
	int			n_failed;
	int			n_released;
} SettleArgs;

static Datum
int8_array(int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Datum
text_array(char **v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
settle(void *arg)
{
	SettleArgs *s = (SettleArgs *) arg;
	RelayBatch *b = s->b;
	int64	   *ok = palloc(sizeof(int64) * b->n);
	int64	   *bad = palloc(sizeof(int64) * b->n);
	int64	   *rel = palloc(sizeof(int64) * b->n);
	char	  **okt = palloc(sizeof(char *) * b->n);
	char	  **badt = palloc(sizeof(char *) * b->n);
	char	  **relt = palloc(sizeof(char *) * b->n);
	char	  **errs = palloc(sizeof(char *) * b->n);
	int			nok = 0,
				nbad = 0,
				nrel = 0;
	int			i;
	int			rc;

	for (i = 0; i < b->n; i++)
	{
		EvsAmqpMsg *m = &b->msgs[i];

		switch (m->result)
		{
			case EVS_PUB_OK:
				okt[nok] = m->tenant_id;
				ok[nok++] = b->ids[i];
				break;
			case EVS_PUB_RETURNED:
			case EVS_PUB_NACKED:
				badt[nbad] = m->tenant_id;
				errs[nbad] = m->error;
				bad[nbad++] = b->ids[i];
				break;
			case EVS_PUB_UNKNOWN:
				relt[nrel] = m->tenant_id;
				rel[nrel++] = b->ids[i];
				break;
		}
	}
	if (nok > 0)
	{
		Datum		v[2];

		v[0] = text_array(okt, nok);
		v[1] = int8_array(ok, nok);
		rc = SPI_execute_with_args("SELECT eventsvc.relay_published($1::text[]::uuid[], $2)", 2,
								   (Oid[]) {TEXTARRAYOID, INT8ARRAYOID}, v, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "eventsvc.relay_published failed: %s", SPI_result_code_string(rc));
	}
	if (nbad > 0)
	{
		Datum		v[6];

		v[0] = text_array(badt, nbad);
		v[1] = int8_array(bad, nbad);
		v[2] = text_array(errs, nbad);
		v[3] = Int32GetDatum(evs_outbox_max_attempts);
		v[4] = Int32GetDatum(evs_outbox_backoff_base_ms);
		v[5] = Int32GetDatum(evs_outbox_backoff_max_ms);
		rc = SPI_execute_with_args("SELECT eventsvc.relay_failed($1::text[]::uuid[], $2, $3, $4, $5, $6)", 6,
								   (Oid[]) {TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, INT4OID, INT4OID, INT4OID},
								   v, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "eventsvc.relay_failed failed: %s", SPI_result_code_string(rc));
	}
	if (nrel > 0)
	{
		Datum		v[2];

		v[0] = text_array(relt, nrel);
		v[1] = int8_array(rel, nrel);
		rc = SPI_execute_with_args("SELECT eventsvc.relay_release($1::text[]::uuid[], $2)", 2,
								   (Oid[]) {TEXTARRAYOID, INT8ARRAYOID}, v, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "eventsvc.relay_release failed: %s", SPI_result_code_string(rc));
	}
	s->n_ok = nok;
	s->n_failed = nbad;
	s->n_released = nrel;
}

/* The broker's state for api.worker_status: connected clears the error, a failure sets it. */
static void
set_broker(bool connected, const char *error)
{
	SpinLockAcquire(&evs_worker_shared->mutex);
	if (evs_worker_shared->broker_connected != connected)
		evs_worker_shared->broker_since = GetCurrentTimestamp();
	evs_worker_shared->broker_connected = connected;
	if (connected)
		evs_worker_shared->broker_error[0] = '\0';
	else if (error)
		strlcpy(evs_worker_shared->broker_error, error, sizeof(evs_worker_shared->broker_error));
	SpinLockRelease(&evs_worker_shared->mutex);
}

static void
count_settled(SettleArgs *s)
{
	SpinLockAcquire(&evs_worker_shared->mutex);
	evs_worker_shared->published_total += s->n_ok;
	evs_worker_shared->failed_total += s->n_failed;
	if (s->n_ok > 0)
		evs_worker_shared->last_publish_at = GetCurrentTimestamp();
	SpinLockRelease(&evs_worker_shared->mutex);
	if (s->n_failed > 0)
		ereport(LOG, (errmsg("eventsvc worker: %d outbox message(s) returned or rejected by RabbitMQ; retried with backoff",
							 s->n_failed)));
}

/*
 * Record a batch's outcome. On failure the rows keep their lease and come
 * back when it runs out (or at the worker's next start).
 */
static void
settle_batch(RelayBatch *b)
{
	SettleArgs	s;

	if (b == NULL || b->n == 0)
		return;
	memset(&s, 0, sizeof(s));
	s.b = b;
	if (evs_worker_run_xact("eventsvc worker: settle outbox", settle, &s))
		count_settled(&s);
	b->n = 0;
}

static void
broker_lost(const char *err)
{
	ereport(LOG, (errmsg("eventsvc worker: lost RabbitMQ while publishing, unconfirmed rows released: %s", err)));
	reconnect_failures = 1;
	set_broker(false, err);
}

/* Wait for the batch in flight and settle it (before a reconnect or reload). */
void
evs_relay_flush(void)
{
	char		err[256];

	if (in_flight == NULL)
		return;
	if (!evs_amqp_wait_batch(&in_flight->ab, evs_amqp_timeout_ms, err, sizeof(err)))
		broker_lost(err);
	settle_batch(in_flight);
	in_flight = NULL;
}

/*
 * One round: claim and send a batch, then wait for and settle the batch sent
 * in the previous round. Returns the number of rows claimed or settled (0:
 * nothing to do, the worker may sleep); *broker_down tells the caller to pause.
 */
int
evs_relay_run_once(bool *broker_down)
{
	RelayBatch *b;
	char		err[256];
	int			done = 0;

	*broker_down = false;
	if (batches[0].cxt == NULL)
	{
		batches[0].cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc relay batch A", ALLOCSET_DEFAULT_SIZES);
		batches[1].cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc relay batch B", ALLOCSET_DEFAULT_SIZES);
	}

	/*
	 * Connect before claiming: during an outage nothing is claimed, so no
	 * lease is taken and no attempt is counted.
	 */
	if (!evs_amqp_is_connected())
	{
		/* a batch left from a lost connection: what was confirmed stands */
		settle_batch(in_flight);
		in_flight = NULL;
		if (!evs_amqp_ensure_connected(err, sizeof(err)))
		{
			if (reconnect_failures == 0)
				ereport(LOG, (errmsg("eventsvc worker: RabbitMQ unavailable, publishing paused: %s", err)));
			reconnect_failures++;
			set_broker(false, err);
			*broker_down = true;
			return -1;
		}
		if (reconnect_failures > 0)
			ereport(LOG, (errmsg("eventsvc worker: connected to RabbitMQ at %s:%d, publishing resumed",
								 evs_amqp_host, evs_amqp_port)));
		reconnect_failures = 0;
		set_broker(true, NULL);
	}
	else if (!evs_amqp_check_alive(err, sizeof(err)))
	{
		ereport(LOG, (errmsg("eventsvc worker: RabbitMQ connection lost, publishing paused: %s", err)));
		reconnect_failures = 1;
		set_broker(false, err);
		settle_batch(in_flight);
		in_flight = NULL;
		*broker_down = true;
		return -1;
	}

	/* claim and send the next batch */
	b = &batches[next_slot];
	MemoryContextReset(b->cxt);
	b->n = 0;
	if (evs_worker_run_xact("eventsvc worker: claim outbox", claim, b) && b->n > 0)
	{
		next_slot = 1 - next_slot;
		b->ab.msgs = b->msgs;
		b->ab.n = b->n;
		evs_worker_set_state(EVS_WS_PUBLISHING);
		pgstat_report_activity(STATE_RUNNING, "eventsvc worker: publishing");
		if (!evs_amqp_send_batch(&b->ab, err, sizeof(err)))
		{
			broker_lost(err);
			settle_batch(in_flight);
			settle_batch(b);
			in_flight = NULL;
			*broker_down = true;
			return -1;
		}
		done += b->n;
	}
	else
		b = NULL;

	/* the previous batch: its confirms, then its rows */
	if (in_flight != NULL)
	{
		RelayBatch *p = in_flight;

		done += p->n;
		if (!evs_amqp_wait_batch(&p->ab, evs_amqp_timeout_ms, err, sizeof(err)))
		{
			broker_lost(err);
			settle_batch(p);
			settle_batch(b);
			in_flight = NULL;
			*broker_down = true;
			return -1;
		}
		settle_batch(p);
	}
	in_flight = b;
	return done;
}
