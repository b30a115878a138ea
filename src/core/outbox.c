/*
 * outbox.c: writing outbox rows. Business functions never talk to RabbitMQ or
 * HTTP; they call evs_outbox_emit in their own transaction and the worker
 * delivers after commit. Each message gets a unique id and a per-aggregate
 * sequence number so consumers can drop duplicates and see order.
 */
#include "core/core.h"
#include "worker/worker.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(evs_sql_outbox_emit);

const char *const evs_exchanges[EVS_EXCHANGE_COUNT] = {EVS_EXCHANGE_EVENTS, EVS_EXCHANGE_LIFECYCLE};

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
	/* the worker publishes right after commit instead of at its next poll */
	evs_worker_wake_at_commit();
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
