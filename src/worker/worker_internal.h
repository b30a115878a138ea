/*
 * worker/worker_internal.h: the background worker's own declarations, shared
 * by worker.c (process, settings), worker_status.c (shared memory), venues.c
 * (the venue read model), relay.c (outbox to RabbitMQ), amqp.c and
 * amqp_publish.c (rabbitmq-c), http.c (libcurl + HMAC) and saga.c
 * (cancellation saga). Nothing outside the worker area includes it; the rest
 * of the extension sees only worker.h.
 */
#ifndef EVS_WORKER_INTERNAL_H
#define EVS_WORKER_INTERNAL_H

#include "worker/worker.h"

#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/uuid.h"

/* ---- settings other files read (each is defined in its module's init) ---- */
extern char *evs_amqp_host;			/* amqp.c */
extern int	evs_amqp_port;
extern int	evs_amqp_timeout_ms;
extern char *evs_payment_service_url;	/* saga.c: the payment service, for the saga and postponement refunds */
extern int	evs_saga_max_attempts;		/* saga.c: attempts and backoff of a call */
extern int	evs_saga_backoff_base_ms;
extern int	evs_saga_backoff_max_ms;

/* ---- each module's settings, from evs_worker_init ---- */
extern void evs_amqp_init(void);
extern void evs_relay_init(void);
extern void evs_http_init(void);
extern void evs_saga_init(void);
extern void evs_venues_init(void);

/* ---- shared memory: what api.worker_status shows ---- */
typedef enum EvsWorkerState
{
	EVS_WS_NOT_RUNNING = 0,
	EVS_WS_STARTING,
	EVS_WS_WAITING_FOR_EXTENSION,
	EVS_WS_WAITING_FOR_UPDATE,	/* the database has another version of the extension */
	EVS_WS_IDLE,
	EVS_WS_PUBLISHING,
	EVS_WS_BROKER_DOWN,
	EVS_WS_SWEEPING,
	EVS_WS_SAGA
} EvsWorkerState;

#define EVS_VENUES_WANTED_MAX 32	/* unknown venues waiting for the worker */

typedef struct EvsWorkerShared
{
	slock_t		mutex;
	pid_t		pid;
	EvsWorkerState state;
	bool		broker_connected;
	TimestampTz started_at;
	TimestampTz broker_since;	/* connected since, or disconnected since */
	TimestampTz last_publish_at;
	TimestampTz last_sweep_at;
	int64		published_total;
	int64		failed_total;	/* publish failures counted against rows */
	int64		last_sweep_released;
	int64		swept_total;
	int64		last_sweep_ms;
	int64		saga_steps_done;
	char		broker_error[256];
	char		last_error[256];
	char		database[NAMEDATALEN];	/* the database the worker is connected to */
	Latch	   *latch;			/* the worker's, NULL when it is not running */
	int			venues_wanted;	/* venues named but unknown, to fetch (venues.c) */
	struct
	{
		pg_uuid_t	tenant;
		pg_uuid_t	venue;
	}			venue_wanted[EVS_VENUES_WANTED_MAX];
} EvsWorkerShared;

/* worker_status.c: the struct above, and its shared memory while preloading */
extern EvsWorkerShared *evs_worker_shared;
extern void evs_worker_status_shmem_init(void);

extern void evs_worker_set_state(EvsWorkerState st);
extern void evs_worker_set_error(const char *msg);

/* worker_xact.c: runs fn in its own transaction as eventsvc_worker; errors are logged and
 * swallowed (returns false) so one bad unit of work never stops the worker. */
extern bool evs_worker_run_xact(const char *activity, void (*fn) (void *), void *arg);

/* ---- venues.c: refresh venues whose copy is older than evs_venue_refresh_seconds ---- */
#define EVS_VENUES_ROUND_SECONDS	10	/* at most one refresh round this often */
extern bool evs_venues_enabled(void);
extern void evs_venues_refresh(void);
extern void evs_venues_fetch_wanted(void);

/* ---- amqp.c (the connection) and amqp_publish.c (batches with confirms) ---- */
typedef enum EvsPubResult
{
	EVS_PUB_UNKNOWN = 0,		/* no confirm yet (connection lost): release */
	EVS_PUB_OK,
	EVS_PUB_RETURNED,			/* unroutable with mandatory: the row's fault */
	EVS_PUB_NACKED
} EvsPubResult;

typedef struct EvsAmqpMsg
{
	char	   *exchange;
	char	   *routing_key;
	char	   *message_id;
	char	   *tenant_id;
	char	   *body;
	size_t		body_len;
	int64		timestamp;		/* seconds since the Unix epoch */
	int64		sequence;
	EvsPubResult result;
	bool		confirmed;		/* ack or nack seen */
	char		error[128];
} EvsAmqpMsg;

extern bool evs_amqp_is_connected(void);
extern bool evs_amqp_ensure_connected(char *err, size_t errlen);
extern void evs_amqp_disconnect(void);
extern int	evs_amqp_socket(void);
extern bool evs_amqp_check_alive(char *err, size_t errlen);
typedef struct EvsAmqpBatch
{
	EvsAmqpMsg *msgs;
	int			n;
	uint64		first_tag;		/* delivery tag of msgs[0] */
	int			pending;		/* messages without a confirm yet */
} EvsAmqpBatch;

extern bool evs_amqp_send_batch(EvsAmqpBatch *b, char *err, size_t errlen);
extern bool evs_amqp_wait_batch(EvsAmqpBatch *b, int timeout_ms, char *err, size_t errlen);

/* ---- relay.c ---- */
extern int	evs_relay_run_once(bool *broker_down);	/* messages handled; -1 when broker down */
extern void evs_relay_flush(void);	/* settle the batch in flight, if any */
extern void evs_relay_reset_backoff(void);
extern int	evs_relay_reconnect_delay_ms(void);

/* ---- http.c ---- */
typedef struct EvsHttpResponse
{
	long		status;			/* 0 when no response (timeout, refused) */
	char	   *body;			/* palloc'd, NUL-terminated */
	char		error[256];
} EvsHttpResponse;

extern void evs_http_start(void);
extern bool evs_http_request(const char *method, const char *base_url, const char *path,
							 const char *body, const char *idempotency_key,
							 EvsHttpResponse *resp);
extern char *evs_hmac_sha256_hex(const char *secret, const char *data, size_t len);

/* ---- saga.c ---- */
extern int	evs_saga_run_once(void);	/* steps executed */
/* A 4xx other than timeout, too-early, too-many: the request itself is refused; sending it again cannot help. */
extern bool evs_http_permanent_status(long status);

/* ---- postponement_pay.c: closes due decision windows, pays postponement refunds; returns calls made ---- */
extern int	evs_postponement_run_once(void);

#endif
