/*
 * venues.c: the venue read model. Venues of live events whose copy is older
 * than eventsvc.venue_refresh_seconds are fetched again from venue-service,
 * one HTTP call outside any transaction and one short transaction per answer.
 */
#include "worker/worker_internal.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/uuid.h"
#include "utils/guc.h"

/* ---- settings ---- */
static char *evs_venue_service_url = NULL;
static int	evs_venue_refresh_seconds = 3600;

/* Called from evs_worker_init: this module's settings. */
void
evs_venues_init(void)
{
	DefineCustomStringVariable("eventsvc.venue_service_url", "Base URL of venue-service.",
							   "Empty: the venues read model is not refreshed.",
							   &evs_venue_service_url, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.venue_refresh_seconds",
							"Age after which a venue that a live event references is refreshed (0 = never).", NULL,
							&evs_venue_refresh_seconds, 3600, 0, 31536000, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
}

/* venues refreshed per round (a round runs at most every EVS_VENUES_ROUND_SECONDS) */
#define VENUES_PER_ROUND	50

/* Whether the read model is refreshed at all (a venue-service URL and a refresh age). */
bool
evs_venues_enabled(void)
{
	return evs_venue_refresh_seconds > 0 && evs_venue_service_url[0] != '\0';
}

/* ---- venues read model ---- */
typedef struct VenueBatch
{
	MemoryContext cxt;
	int			n;
	char	  **tenant;
	char	  **venue;
} VenueBatch;

static void
venues_due(void *arg)
{
	VenueBatch *b = (VenueBatch *) arg;
	Datum		v[2];
	int			rc;
	uint64		i;

	v[0] = Int32GetDatum(evs_venue_refresh_seconds);
	v[1] = Int32GetDatum(VENUES_PER_ROUND);
	rc = SPI_execute_with_args("SELECT tenant_id::text, venue_id::text FROM eventsvc.venue_refresh_due($1, $2)",
							   2, (Oid[]) {INT4OID, INT4OID}, v, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.venue_refresh_due failed: %s", SPI_result_code_string(rc));
	b->n = (int) SPI_processed;
	b->tenant = MemoryContextAlloc(b->cxt, sizeof(char *) * Max(b->n, 1));
	b->venue = MemoryContextAlloc(b->cxt, sizeof(char *) * Max(b->n, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		b->tenant[i] = MemoryContextStrdup(b->cxt, evs_getvalue_notnull(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
																		 "the venue's tenant"));
		b->venue[i] = MemoryContextStrdup(b->cxt, evs_getvalue_notnull(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2,
																		"the venue's id"));
	}
}

typedef struct VenueApply
{
	const char *tenant;
	const char *venue;
	long		status;
	const char *body;
} VenueApply;

static void
venue_apply(void *arg)
{
	VenueApply *a = (VenueApply *) arg;
	Datum		v[4];
	int			rc;

	v[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(a->tenant));
	v[1] = DirectFunctionCall1(uuid_in, CStringGetDatum(a->venue));
	v[2] = Int32GetDatum((int32) a->status);
	v[3] = CStringGetTextDatum(a->body ? a->body : "");
	rc = SPI_execute_with_args("SELECT eventsvc.venue_refresh_apply($1, $2, $3, $4)", 4,
							   (Oid[]) {UUIDOID, UUIDOID, INT4OID, TEXTOID}, v, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.venue_refresh_apply failed: %s", SPI_result_code_string(rc));
}

/*
 * Refresh up to VENUES_PER_ROUND stale venues: GET {venue}/internal/venues/{id}?tenantId=,
 * one short transaction per answer. A transport error or a 5xx stops this
 * round (venue-service is unwell; the next round is a few seconds away).
 */
void
evs_venues_refresh(void)
{
	static MemoryContext cxt = NULL;
	VenueBatch	b;
	int			i;

	if (cxt == NULL)
		cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc venues", ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(cxt);
	memset(&b, 0, sizeof(b));
	b.cxt = cxt;
	if (!evs_worker_run_xact("eventsvc worker: venues due", venues_due, &b))
		return;
	for (i = 0; i < b.n; i++)
	{
		EvsHttpResponse resp;
		VenueApply	a;
		char	   *path;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(cxt);
		path = psprintf("/internal/venues/%s?tenantId=%s", b.venue[i], b.tenant[i]);
		if (!evs_http_request("GET", evs_venue_service_url, path, NULL, NULL, &resp) ||
			resp.status >= 500 || resp.status == 429)
		{
			MemoryContextSwitchTo(old);
			ereport(LOG, (errmsg("eventsvc worker: venue refresh paused: %s",
								 resp.status ? psprintf("venue-service answered %ld", resp.status) : resp.error)));
			return;
		}
		MemoryContextSwitchTo(old);
		if (resp.status != 200 && resp.status != 404)
		{
			ereport(LOG, (errmsg("eventsvc worker: venue-service answered %ld for venue %s; kept as it was",
								 resp.status, b.venue[i])));
			continue;
		}
		a.tenant = b.tenant[i];
		a.venue = b.venue[i];
		a.status = resp.status;
		a.body = resp.body;
		(void) evs_worker_run_xact("eventsvc worker: venue refreshed", venue_apply, &a);
	}
}

/* ---- venues named but unknown: fetched once, at once ---- */

/*
 * Asks the worker to fetch a venue that an event named but this database does
 * not know (lifecycle's venue check, before it refuses the call): the request
 * lives in shared memory, so it outlives the caller's failed transaction; the
 * worker is woken and fetches it outside any transaction. A full queue or no
 * venue-service URL drops the request (the caller's error says what to do).
 */
void
evs_venue_wanted(Datum tenant, Datum venue)
{
	Latch	   *latch = NULL;

	if (evs_worker_shared == NULL || evs_venue_service_url == NULL || evs_venue_service_url[0] == '\0')
		return;
	SpinLockAcquire(&evs_worker_shared->mutex);
	{
		int			n = evs_worker_shared->venues_wanted;
		bool		known = false;

		for (int i = 0; i < n && !known; i++)
			known = memcmp(&evs_worker_shared->venue_wanted[i].tenant, DatumGetUUIDP(tenant), UUID_LEN) == 0 &&
				memcmp(&evs_worker_shared->venue_wanted[i].venue, DatumGetUUIDP(venue), UUID_LEN) == 0;
		if (!known && n < EVS_VENUES_WANTED_MAX)
		{
			evs_worker_shared->venue_wanted[n].tenant = *DatumGetUUIDP(tenant);
			evs_worker_shared->venue_wanted[n].venue = *DatumGetUUIDP(venue);
			evs_worker_shared->venues_wanted = n + 1;
		}
		latch = evs_worker_shared->latch;
	}
	SpinLockRelease(&evs_worker_shared->mutex);
	/* a PGPROC latch stays valid memory; a stale one only costs a spurious wake */
	if (latch != NULL)
		SetLatch(latch);
}

static void
venue_insert(void *arg)
{
	VenueApply *a = (VenueApply *) arg;
	Datum		v[3];
	int			rc;

	v[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(a->tenant));
	v[1] = DirectFunctionCall1(uuid_in, CStringGetDatum(a->venue));
	v[2] = CStringGetTextDatum(a->body ? a->body : "");
	rc = SPI_execute_with_args("SELECT eventsvc.venue_fetch_apply($1, $2, $3)", 3,
							   (Oid[]) {UUIDOID, UUIDOID, TEXTOID}, v, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "eventsvc.venue_fetch_apply failed: %s", SPI_result_code_string(rc));
}

/*
 * Fetch the venues asked for by evs_venue_wanted: GET {venue}/internal/venues/{id}?tenantId=,
 * one short transaction per venue found (eventsvc.venue_fetch_apply). A venue
 * venue-service does not know (404) stays unknown; a transport error or a
 * 5xx is logged and the venue is asked again by the next call that names it.
 */
void
evs_venues_fetch_wanted(void)
{
	static MemoryContext cxt = NULL;
	MemoryContext old;
	int			n;
	pg_uuid_t	wanted[EVS_VENUES_WANTED_MAX][2];

	if (evs_worker_shared == NULL || evs_venue_service_url[0] == '\0')
		return;
	SpinLockAcquire(&evs_worker_shared->mutex);
	n = evs_worker_shared->venues_wanted;
	for (int i = 0; i < n; i++)
	{
		wanted[i][0] = evs_worker_shared->venue_wanted[i].tenant;
		wanted[i][1] = evs_worker_shared->venue_wanted[i].venue;
	}
	evs_worker_shared->venues_wanted = 0;
	SpinLockRelease(&evs_worker_shared->mutex);
	if (n == 0)
		return;
	if (cxt == NULL)
		cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc venues wanted", ALLOCSET_SMALL_SIZES);
	MemoryContextReset(cxt);
	old = MemoryContextSwitchTo(cxt);
	for (int i = 0; i < n; i++)
	{
		EvsHttpResponse resp;
		VenueApply	a;
		char	   *tenant = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&wanted[i][0])));
		char	   *venue = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&wanted[i][1])));
		char	   *path = psprintf("/internal/venues/%s?tenantId=%s", venue, tenant);

		CHECK_FOR_INTERRUPTS();
		if (!evs_http_request("GET", evs_venue_service_url, path, NULL, NULL, &resp) || resp.status != 200)
		{
			ereport(LOG, (errmsg("eventsvc worker: venue %s of tenant %s not fetched: %s", venue, tenant,
								 resp.status ? psprintf("venue-service answered %ld", resp.status) : resp.error)));
			continue;
		}
		a.tenant = tenant;
		a.venue = venue;
		a.status = resp.status;
		a.body = resp.body;
		(void) evs_worker_run_xact("eventsvc worker: venue fetched", venue_insert, &a);
	}
	MemoryContextSwitchTo(old);
}
