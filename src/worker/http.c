/*
 * http.c: service-to-service calls of the worker (libcurl).
 *
 * Every call carries:
 *   Content-Type: application/json
 *   Idempotency-Key: the saga step's key (the same on every retry)
 *   X-Service-Name: eventsvc.service_name
 *   X-Timestamp:    Unix time in milliseconds
 *   X-Signature:    hex HMAC-SHA256 with eventsvc.service_secret over
 *                   METHOD "\n" PATH(with query) "\n" TIMESTAMP "\n" BODY
 * and a total timeout of eventsvc.http_timeout_ms. Runs only in the worker,
 * outside any transaction. One curl handle is reused so connections stay open.
 */
#include "worker/worker_internal.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/stringinfo.h"
#include "utils/timestamp.h"
#include "utils/guc.h"

/* ---- settings ---- */
static char *evs_service_name = NULL;
static char *evs_service_secret = NULL;
static int	evs_http_timeout_ms = 5000;

/* Called from evs_worker_init: this module's settings. */
void
evs_http_init(void)
{
	DefineCustomStringVariable("eventsvc.service_name",
							   "Name sent as X-Service-Name on service-to-service calls.", NULL,
							   &evs_service_name, "event-service", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("eventsvc.service_secret",
							   "Shared secret of the service-to-service HMAC signature.", NULL,
							   &evs_service_secret, "", PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.http_timeout_ms", "Timeout of one service call.", NULL,
							&evs_http_timeout_ms, 5000, 100, 600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

#define RESPONSE_MAX_BYTES		(64 * 1024 * 1024)	/* a longer answer is cut off */
#define CONNECT_TIMEOUT_MAX_MS	5000	/* connecting never takes the whole call's time */

static CURL *curl = NULL;

/* In the worker process, before its first call: libcurl's global state. */
void
evs_http_start(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		elog(ERROR, "could not initialise libcurl");
}

/* The hex HMAC-SHA256 of data under secret. */
char *
evs_hmac_sha256_hex(const char *secret, const char *data, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char	   *hex;
	unsigned int i;

	if (HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) data, len,
			 mac, &maclen) == NULL)
		elog(ERROR, "HMAC-SHA256 failed");
	hex = palloc(maclen * 2 + 1);
	for (i = 0; i < maclen; i++)
		sprintf(hex + i * 2, "%02x", mac[i]);
	hex[maclen * 2] = '\0';
	return hex;
}

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	StringInfo	buf = (StringInfo) userdata;
	size_t		n = size * nmemb;

	/* a runaway answer is cut off, not buffered without limit */
	if (buf->len + n > RESPONSE_MAX_BYTES)
		return 0;
	appendBinaryStringInfo(buf, ptr, (int) n);
	return n;
}

/*
 * One request. Returns true when a response arrived (any status); false on
 * transport failure (refused, timeout, DNS), with resp->error set.
 */
bool
evs_http_request(const char *method, const char *base_url, const char *path,
				 const char *body, const char *idempotency_key, EvsHttpResponse *resp)
{
	struct curl_slist *hdrs = NULL;
	StringInfoData url,
				out,
				signed_data,
				h;
	char		errbuf[CURL_ERROR_SIZE];
	char		ts[32];
	char	   *sig;
	CURLcode	rc;

	memset(resp, 0, sizeof(*resp));
	if (base_url == NULL || base_url[0] == '\0')
	{
		snprintf(resp->error, sizeof(resp->error), "service URL not configured");
		return false;
	}
	if (curl == NULL && (curl = curl_easy_init()) == NULL)
	{
		snprintf(resp->error, sizeof(resp->error), "could not create a curl handle");
		return false;
	}
	curl_easy_reset(curl);

	initStringInfo(&url);
	appendStringInfoString(&url, base_url);
	while (url.len > 0 && url.data[url.len - 1] == '/')
		url.data[--url.len] = '\0';
	appendStringInfoString(&url, path);

	snprintf(ts, sizeof(ts), INT64_FORMAT,
			 (int64) ((GetCurrentTimestamp() / 1000) + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000));
	initStringInfo(&signed_data);
	appendStringInfo(&signed_data, "%s\n%s\n%s\n%s", method, path, ts, body ? body : "");
	sig = evs_hmac_sha256_hex(evs_service_secret ? evs_service_secret : "", signed_data.data, signed_data.len);

	initStringInfo(&h);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	appendStringInfo(&h, "X-Service-Name: %s", evs_service_name);
	hdrs = curl_slist_append(hdrs, h.data);
	resetStringInfo(&h);
	appendStringInfo(&h, "X-Timestamp: %s", ts);
	hdrs = curl_slist_append(hdrs, h.data);
	resetStringInfo(&h);
	appendStringInfo(&h, "X-Signature: %s", sig);
	hdrs = curl_slist_append(hdrs, h.data);
	if (idempotency_key)
	{
		resetStringInfo(&h);
		appendStringInfo(&h, "Idempotency-Key: %s", idempotency_key);
		hdrs = curl_slist_append(hdrs, h.data);
	}
	/* no "Expect: 100-continue" round trip on larger bodies */
	hdrs = curl_slist_append(hdrs, "Expect:");

	initStringInfo(&out);
	errbuf[0] = '\0';
	curl_easy_setopt(curl, CURLOPT_URL, url.data);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (body)
	{
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	}
	else if (strcmp(method, "GET") == 0)
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) evs_http_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long) Min(evs_http_timeout_ms, CONNECT_TIMEOUT_MAX_MS));
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);	/* never touch the server's signal handlers */
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

	rc = curl_easy_perform(curl);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK)
	{
		snprintf(resp->error, sizeof(resp->error), "%s %s: %s", method, url.data,
				 errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return false;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body = out.data;
	return true;
}
