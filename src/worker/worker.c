/*
 * worker.c: the eventsvc background worker (shaped after PostgreSQL's
 * worker_spi): its settings, its registration and its main loop. The status in
 * shared memory is kept in worker_status.c.
 *
 * One worker per cluster, registered only when eventsvc is in
 * shared_preload_libraries and eventsvc.database names a database. It
 * drains the outbox to RabbitMQ (relay.c), sweeps expired holds, drives
 * cancellation sagas over HTTP (saga.c) and refreshes venues (venues.c). Each
 * unit of work is its own short transaction; network I/O happens between
 * transactions, never inside one, so the worker never holds a lock a user's
 * transaction waits for.
 *
 * Identity: the process connects like autovacuum does (bootstrap superuser),
 * because it must start before CREATE EXTENSION has created its role and keep
 * waiting quietly until then. Every transaction it runs switches to the role
 * eventsvc_worker (evs_switch_role, core/tenancy.c) before running any SQL, so
 * what it may do is exactly what eventsvc_worker is granted: EXECUTE on the
 * eventsvc.relay_* / saga_* / worker_* SECURITY DEFINER functions and nothing
 * else (that role has no RLS policy and no table rights).
 */
#include "worker/worker_internal.h"
#include "capacity/capacity.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

PGDLLEXPORT void evs_worker_main(Datum main_arg);


/* the postmaster starts a worker that exited this many seconds later */
#define RESTART_SECONDS			5
/* a row lock held longer than this fails the unit of work (logged, retried) */
#define WORKER_LOCK_TIMEOUT		"10s"
/* how often the worker looks again for the extension before it exists */
#define WAIT_FOR_EXTENSION_MS	1000L

/* ---- settings: the worker process's own (each module defines its own in its init) ---- */
static char *evs_worker_database = NULL;
static int	evs_worker_naptime_ms = 1000;
static int	evs_sweep_interval_ms = 1000;
static int	evs_sweep_batch_size = 5000;
static int	evs_drift_check_interval_s = 60;
/* the drift check's window and size per run (docs/capacity.md "The drift check") */
#define DRIFT_CHECK_WINDOW_SECONDS	600
#define DRIFT_CHECK_MAX_SECTIONS	500

/* The worker process's settings; the modules it runs define theirs. */
static void
define_settings(void)
{

	/* PGC_POSTMASTER settings can only be defined while preloading (else FATAL). */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("eventsvc.database",
								   "Database the eventsvc worker connects to.",
								   "Empty: no worker is started (use the pg_cron jobs instead).",
								   &evs_worker_database, "", PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.worker_naptime_ms",
							"Longest sleep of the worker between polls.",
							"Commits that add outbox rows wake it at once; this bounds retries and sagas.",
							&evs_worker_naptime_ms, 1000, 10, 600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.sweep_interval_ms",
							"Interval of the expired-hold sweep (0 disables it).", NULL,
							&evs_sweep_interval_ms, 1000, 0, 3600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.sweep_batch_size",
							"Expired holds released per sweep transaction.", NULL,
							&evs_sweep_batch_size, 5000, 1, 1000000, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.drift_check_interval_s",
							"Interval of the capacity drift check (0 disables it).",
							"Checks the sections with holds live or expired in the last 10 minutes.",
							&evs_drift_check_interval_s, 60, 0, 86400, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	evs_amqp_init();
	evs_relay_init();
	evs_http_init();
	evs_saga_init();
	evs_venues_init();
}

/*
 * Called from _PG_init: settings always (so ALTER SYSTEM and SHOW work in
 * every backend); shared memory and the worker only while preloading.
 */
void
evs_worker_init(void)
{
	BackgroundWorker worker;

	define_settings();
	if (!process_shared_preload_libraries_in_progress)
		return;

	evs_worker_status_shmem_init();

	if (evs_worker_database == NULL || evs_worker_database[0] == '\0')
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	/* After a crash (or pg_terminate_backend) it comes back by itself. */
	worker.bgw_restart_time = RESTART_SECONDS;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "eventsvc");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "evs_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "eventsvc worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "eventsvc worker");
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/* ---- the worker process ---- */
static MemoryContext worker_cxt = NULL;

/* A service URL for the log: userinfo (user:password@) left out. */
static const char *
url_for_log(const char *url, char *buf, size_t len)
{
	const char *host;
	const char *at;
	const char *slash;

	if (url == NULL || url[0] == '\0')
		return "-";
	host = strstr(url, "://");
	if (host == NULL)
		return url;
	host += 3;
	at = strchr(host, '@');
	slash = strchr(host, '/');
	if (at == NULL || (slash != NULL && slash < at))
		return url;
	snprintf(buf, len, "%.*s%s", (int) (host - url), url, at + 1);
	return buf;
}

/*
 * What the start and reload lines show: the settings that decide what the
 * worker does, read by name through the GUC system (each module keeps its
 * variables to itself). The secrets (amqp_password, service_secret) are not
 * listed; URLs are shown without their user:password@.
 */
static const char *const summary_settings[] = {
	"amqp_host", "amqp_port", "amqp_vhost", "amqp_user", "amqp_password_file", "amqp_tls",
	"amqp_tls_verify", "amqp_timeout_ms", "outbox_batch_size", "outbox_lease_seconds",
	"outbox_max_attempts", "outbox_backoff_base_ms", "outbox_backoff_max_ms", "sweep_interval_ms",
	"sweep_batch_size", "drift_check_interval_s", "worker_naptime_ms", "ticket_service_url", "payment_service_url",
	"marketplace_service_url", "notification_service_url", "venue_service_url",
	"venue_refresh_seconds", "http_timeout_ms", "saga_max_attempts", "service_name",
};

static void
log_settings(const char *what)
{
	StringInfoData line;

	initStringInfo(&line);
	for (int i = 0; i < (int) lengthof(summary_settings); i++)
	{
		char		name[NAMEDATALEN];
		char		url[512];
		const char *value;

		snprintf(name, sizeof(name), "eventsvc.%s", summary_settings[i]);
		value = GetConfigOption(name, true, false);
		if (value != NULL && strstr(summary_settings[i], "_url") != NULL)
			value = url_for_log(value, url, sizeof(url));
		appendStringInfo(&line, "%s%s=%s", i > 0 ? " " : "", summary_settings[i],
						 value == NULL || value[0] == '\0' ? "-" : value);
	}
	ereport(LOG,
			(errmsg("eventsvc worker %s: database \"%s\", library %s; %s",
					what, evs_worker_database, evs_library_version, line.data)));
	pfree(line.data);
}

static void
worker_on_exit(int code, Datum arg)
{
	EvsWorkerShared s;

	if (evs_worker_shared == NULL)
		return;
	SpinLockAcquire(&evs_worker_shared->mutex);
	memcpy(&s, evs_worker_shared, sizeof(s));
	SpinLockRelease(&evs_worker_shared->mutex);
	ereport(LOG,
			(errmsg("eventsvc worker stopped (pid %d, database \"%s\"): %lld messages published, "
					"%lld publish failures, %lld holds expired, %lld saga steps since it started",
					MyProcPid, evs_worker_database, (long long) s.published_total,
					(long long) s.failed_total, (long long) s.swept_total, (long long) s.saga_steps_done)));
	SpinLockAcquire(&evs_worker_shared->mutex);
	evs_worker_shared->pid = 0;
	evs_worker_shared->latch = NULL;
	evs_worker_shared->state = EVS_WS_NOT_RUNNING;
	evs_worker_shared->broker_connected = false;
	SpinLockRelease(&evs_worker_shared->mutex);
	evs_outbox_set_relay_latch(NULL);
	evs_amqp_disconnect();
}

/* Run a statement in the current worker transaction; error on failure. */
static void
exec_simple(void *arg)
{
	const char *sql = (const char *) arg;
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "\"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

typedef struct SweepArgs
{
	int64		released;
} SweepArgs;

/*
 * One bounded batch through the same C function as api.expire_holds (it
 * switches to the extension owner itself and skips rows a buyer has locked).
 */
static void
sweep_once(void *arg)
{
	SweepArgs  *a = (SweepArgs *) arg;

	a->released = evs_expire_holds(evs_sweep_batch_size);
}

/* Release expired holds in bounded batches until none are left. */
static void
run_sweep(void)
{
	TimestampTz start = GetCurrentTimestamp();
	int64		total = 0;

	evs_worker_set_state(EVS_WS_SWEEPING);
	for (;;)
	{
		SweepArgs	a = {0};

		CHECK_FOR_INTERRUPTS();
		if (!evs_worker_run_xact("eventsvc worker: expire holds", sweep_once, &a))
			break;
		total += a.released;
		if (a.released < evs_sweep_batch_size)
			break;
	}
	SpinLockAcquire(&evs_worker_shared->mutex);
	evs_worker_shared->last_sweep_at = GetCurrentTimestamp();
	/* size and duration of the last sweep that found work (an idle sweep
	 * every second would hide it) */
	if (total > 0)
	{
		evs_worker_shared->last_sweep_released = total;
		evs_worker_shared->last_sweep_ms = (GetCurrentTimestamp() - start) / 1000;
	}
	evs_worker_shared->swept_total += total;
	SpinLockRelease(&evs_worker_shared->mutex);
}

/* One capacity drift check (capacity_check.c), as the worker's unit of work. */
static void
drift_check_once(void *arg)
{
	(void) evs_capacity_drift_check(DRIFT_CHECK_WINDOW_SECONDS, DRIFT_CHECK_MAX_SECTIONS);
}

/* The background worker: relay the outbox, sweep holds, refresh venues, run sagas; sleep on the latch. */
void
evs_worker_main(Datum main_arg)
{
	TimestampTz next_venue_refresh = 0;
	TimestampTz next_sweep = 0;
	TimestampTz next_drift_check = 0;
	TimestampTz broker_retry_at = 0;
	bool		recovered = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);		/* sets flags and the latch; CHECK_FOR_INTERRUPTS exits */
	BackgroundWorkerUnblockSignals();

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc worker", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(worker_cxt);

	SpinLockAcquire(&evs_worker_shared->mutex);
	evs_worker_shared->pid = MyProcPid;
	evs_worker_shared->latch = MyLatch;
	evs_worker_shared->state = EVS_WS_STARTING;
	evs_worker_shared->started_at = GetCurrentTimestamp();
	evs_worker_shared->broker_connected = false;
	evs_worker_shared->broker_since = GetCurrentTimestamp();
	SpinLockRelease(&evs_worker_shared->mutex);
	before_shmem_exit(worker_on_exit, (Datum) 0);
	/* commits that add outbox rows set this latch (outbox.c) */
	evs_outbox_set_relay_latch(MyLatch);

	BackgroundWorkerInitializeConnection(evs_worker_database, NULL, 0);
	pgstat_report_appname("eventsvc worker");
	SpinLockAcquire(&evs_worker_shared->mutex);
	strlcpy(evs_worker_shared->database, evs_worker_database, sizeof(evs_worker_shared->database));
	SpinLockRelease(&evs_worker_shared->mutex);
	log_settings("started");
	/*
	 * The worker only takes row locks nobody should hold for long (SKIP LOCKED
	 * elsewhere); should a DBA hold one anyway, the unit fails, is logged and
	 * retried, instead of the whole worker waiting behind it.
	 */
	SetConfigOption("lock_timeout", WORKER_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);
	evs_http_start();

	for (;;)
	{
		long		timeout = evs_worker_naptime_ms;
		TimestampTz now;
		int			n;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			log_settings("reloaded its settings");
			/* new connection settings take effect on the next connect */
			evs_relay_flush();
			evs_amqp_disconnect();
			SpinLockAcquire(&evs_worker_shared->mutex);
			evs_worker_shared->broker_connected = false;
			SpinLockRelease(&evs_worker_shared->mutex);
			broker_retry_at = 0;
		}

		/*
		 * First unit after (re)start: only one worker exists, so leases and
		 * running saga steps left by an earlier incarnation are void. Reclaim
		 * them now instead of waiting for the leases to run out.
		 */
		if (!recovered)
		{
			if (evs_worker_run_xact("eventsvc worker: recover", exec_simple,
									(void *) "SELECT eventsvc.worker_recover()"))
				recovered = true;
			else
			{
				/* extension not created yet (or an error, already logged): wait */
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 WAIT_FOR_EXTENSION_MS, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				continue;
			}
		}

		/* outbox */
		now = GetCurrentTimestamp();
		if (now >= broker_retry_at)
		{
			bool		broker_down = false;

			n = evs_relay_run_once(&broker_down);
			if (broker_down)
			{
				int			delay = evs_relay_reconnect_delay_ms();

				broker_retry_at = GetCurrentTimestamp() + (int64) delay * 1000;
				timeout = Min(timeout, delay);
			}
			else if (n > 0)
				timeout = 0;	/* keep draining until nothing is claimable */
		}
		else
			timeout = Min(timeout, (long) ((broker_retry_at - now) / 1000) + 1);

		/* expired holds */
		if (evs_sweep_interval_ms > 0 && GetCurrentTimestamp() >= next_sweep)
		{
			run_sweep();
			next_sweep = GetCurrentTimestamp() + (int64) evs_sweep_interval_ms * 1000;
		}
		if (evs_sweep_interval_ms > 0)
			timeout = Min(timeout, (long) ((next_sweep - GetCurrentTimestamp()) / 1000) + 1);

		/* the capacity drift check */
		if (evs_drift_check_interval_s > 0)
		{
			if (next_drift_check == 0)	/* the first one a whole interval after the start */
				next_drift_check = GetCurrentTimestamp() + (int64) evs_drift_check_interval_s * USECS_PER_SEC;
			if (GetCurrentTimestamp() >= next_drift_check)
			{
				(void) evs_worker_run_xact("eventsvc worker: capacity drift check", drift_check_once, NULL);
				next_drift_check = GetCurrentTimestamp() + (int64) evs_drift_check_interval_s * USECS_PER_SEC;
			}
			timeout = Min(timeout, (long) ((next_drift_check - GetCurrentTimestamp()) / 1000) + 1);
		}
		else
			next_drift_check = 0;

		/* venues read model, one round every EVS_VENUES_ROUND_SECONDS at most */
		if (evs_venues_enabled() && GetCurrentTimestamp() >= next_venue_refresh)
		{
			evs_venues_refresh();
			next_venue_refresh = GetCurrentTimestamp() + EVS_VENUES_ROUND_SECONDS * USECS_PER_SEC;
		}

		/* venues named but unknown: fetched at once */
		evs_venues_fetch_wanted();

		/* cancellation sagas */
		if (evs_saga_run_once() > 0)
			timeout = 0;

		/* postponement windows that closed, and their refunds to pay */
		if (evs_postponement_run_once() > 0)
			timeout = 0;

		evs_worker_set_state(evs_amqp_is_connected() ? EVS_WS_IDLE :
							 broker_retry_at > GetCurrentTimestamp() ? EVS_WS_BROKER_DOWN : EVS_WS_IDLE);
		if (timeout > 0)
		{
			int			sock = evs_amqp_socket();
			int			events = WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH;

			/* also wake when the broker talks (it only does to close) */
			if (sock >= 0)
				events |= WL_SOCKET_READABLE;
			(void) WaitLatchOrSocket(MyLatch, events, sock, timeout, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}
