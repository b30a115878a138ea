/*
 * outbox.c: writing outbox rows. Business functions never talk to RabbitMQ or
 * HTTP; they call evs_outbox_emit in their own transaction and the worker
 * delivers after commit. Each message gets a unique id and a per-aggregate
 * sequence number so consumers can drop duplicates and see order.
 */
#include "core/core.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(evs_sql_outbox_emit);
PG_FUNCTION_INFO_V1(evs_sql_worker_wake);

const char *const evs_exchanges[EVS_EXCHANGE_COUNT] = {EVS_EXCHANGE_EVENTS, EVS_EXCHANGE_LIFECYCLE};

/*
 * ---- the commit-time wake-up ----
 *
 * Whoever relays the outbox (the worker) registers its latch here; a
 * transaction that added rows sets it when it commits. The core calls no one:
 * the relay comes to it.
 */
typedef struct OutboxShared
{
	slock_t		mutex;
	Latch	   *relay_latch;	/* NULL: no relay running */
} OutboxShared;

static OutboxShared *outbox_shared = NULL;
static bool wake_pending = false;
static bool xact_cb_registered = false;

static Size
outbox_shmem_size(void)
{
	return sizeof(OutboxShared);
}

static void
outbox_shmem_attach(void *ptr, bool found)
{
	outbox_shared = ptr;
	if (!found)
	{
		SpinLockInit(&outbox_shared->mutex);
		outbox_shared->relay_latch = NULL;
	}
}

/* Called from evs_core_init: when preloaded, the relay's latch slot in shared memory. */
void
evs_outbox_init(void)
{
	if (process_shared_preload_libraries_in_progress)
		evs_shmem_register("eventsvc outbox relay", outbox_shmem_size, NULL, outbox_shmem_attach);
}

/* The relay's latch, set at every commit that added outbox rows; NULL when the relay stops. */
void
evs_outbox_set_relay_latch(Latch *latch)
{
	if (outbox_shared == NULL)
		return;
	SpinLockAcquire(&outbox_shared->mutex);
	outbox_shared->relay_latch = latch;
	SpinLockRelease(&outbox_shared->mutex);
}

static void
wake_relay_now(void)
{
	Latch	   *latch;

	SpinLockAcquire(&outbox_shared->mutex);
	latch = outbox_shared->relay_latch;
	SpinLockRelease(&outbox_shared->mutex);
	/* A PGPROC latch stays valid memory; a stale one only costs a spurious wake. */
	if (latch != NULL)
		SetLatch(latch);
}

static void
outbox_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			/* the rows are visible now: ProcArrayEndTransaction has run */
			if (wake_pending)
			{
				wake_pending = false;
				wake_relay_now();
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* aborted: nothing to send; prepared: the relay's poll finds it */
			wake_pending = false;
			break;
		default:
			break;
	}
}

/*
 * Ask for the relay to be woken when the current transaction commits. Costs
 * a flag in the transaction and one SetLatch at commit; no-op without shared
 * memory (library not preloaded: then no worker runs either).
 */
static void
wake_relay_at_commit(void)
{
	if (outbox_shared == NULL)
		return;
	if (!xact_cb_registered)
	{
		RegisterXactCallback(outbox_xact_callback, NULL);
		xact_cb_registered = true;
	}
	wake_pending = true;
}

/* eventsvc.worker_wake(): wake the relay when this transaction commits (rows written around evs_outbox_emit). */
Datum
evs_sql_worker_wake(PG_FUNCTION_ARGS)
{
	wake_relay_at_commit();
	PG_RETURN_VOID();
}

/* ---- writing rows ---- */

/*
 * Insert one message; returns the outbox row id. The envelope around `data` is
 * documented in docs/outbox.md. Runs SPI as the caller; the SQL wrapper is
 * SECURITY DEFINER so callers need no right on the outbox itself.
 */
int64
evs_outbox_emit(Datum tenant_id, Datum aggregate_id, const char *exchange,
				const char *routing_key, Datum data_jsonb)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[5];
	int64		id;
	bool		isnull;
	int			rc;

	if (strcmp(exchange, EVS_EXCHANGE_EVENTS) != 0 && strcmp(exchange, EVS_EXCHANGE_LIFECYCLE) != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("unknown exchange \"%s\"", exchange),
				 errhint("Use " EVS_EXCHANGE_EVENTS " or " EVS_EXCHANGE_LIFECYCLE ".")));

	values[0] = tenant_id;
	values[1] = aggregate_id;
	values[2] = CStringGetTextDatum(exchange);
	values[3] = CStringGetTextDatum(routing_key);
	values[4] = data_jsonb;

	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			argtypes[5] = {UUIDOID, UUIDOID, TEXTOID, TEXTOID, JSONBOID};

		plan = evs_spi_prepare_kept(
			"WITH s AS ("
			"  INSERT INTO eventsvc.outbox_sequences AS q (tenant_id, aggregate_id, last_sequence)"
			"  VALUES ($1, $2, 1)"
			"  ON CONFLICT (tenant_id, aggregate_id) DO UPDATE SET last_sequence = q.last_sequence + 1"
			"  RETURNING last_sequence), m AS (SELECT gen_random_uuid() AS message_id) "
			"INSERT INTO eventsvc.outbox (tenant_id, aggregate_id, sequence, exchange, routing_key, message_id, payload) "
			"SELECT $1, $2, s.last_sequence, $3, $4, m.message_id, jsonb_build_object("
			"  'message_id', m.message_id, 'type', $4, 'occurred_at', eventsvc.now(),"
			"  'tenant_id', $1, 'aggregate_id', $2, 'sequence', s.last_sequence, 'data', $5) "
			"FROM s, m RETURNING id", 5, argtypes);
	}
	rc = SPI_execute_plan(plan, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "outbox insert failed: %s", SPI_result_code_string(rc));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	/* the relay publishes right after commit instead of at its next poll */
	wake_relay_at_commit();
	return id;
}

/*
 * The exchange decides who hears a message (docs/outbox.md): work requests of
 * the event's own lifecycle go to EVS_EXCHANGE_LIFECYCLE, every business fact
 * to EVS_EXCHANGE_EVENTS.
 */
int64
evs_outbox_emit_key(Datum tenant_id, Datum aggregate_id, const char *routing_key, Jsonb *data)
{
	const char *exchange = strcmp(routing_key, EVS_RK_BLOCKCHAIN_SYNC) == 0
		? EVS_EXCHANGE_LIFECYCLE : EVS_EXCHANGE_EVENTS;

	return evs_outbox_emit(tenant_id, aggregate_id, exchange, routing_key, JsonbPGetDatum(data));
}

/* eventsvc.outbox_emit(tenant, aggregate, exchange, routing_key, data): evs_outbox_emit for SQL. */
Datum
evs_sql_outbox_emit(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("eventsvc.outbox_emit needs tenant, aggregate, exchange, routing key and data")));
	PG_RETURN_INT64(evs_outbox_emit(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1),
									text_to_cstring(PG_GETARG_TEXT_PP(2)),
									text_to_cstring(PG_GETARG_TEXT_PP(3)),
									PG_GETARG_DATUM(4)));
}
