/*
 * amqp.c: the worker's one connection to RabbitMQ (rabbitmq-c 0.11).
 *
 * One channel in confirm mode. A batch is published as a window of
 * unconfirmed messages (never one round trip per message) and the confirms are
 * read back frame by frame: basic.ack / basic.nack (with `multiple`) and
 * basic.return (an unroutable mandatory message; RabbitMQ sends the return
 * before the ack of the same message). Delivery tags count from 1 per channel
 * after confirm.select, so tag - first_tag is the index in the batch.
 *
 * Any library or socket error is the broker's fault, not the message's: the
 * connection is dropped and the caller releases the unconfirmed rows without
 * counting an attempt. Runs only in the worker, never in a user's backend.
 */
#include "worker/worker_internal.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <openssl/err.h>

#include "utils/memutils.h"
#include "utils/guc.h"

#define EVS_CHANNEL 1

/* ---- settings ---- */
char	   *evs_amqp_host = NULL;
int			evs_amqp_port = 5672;
static char *evs_amqp_vhost = NULL;
static char *evs_amqp_user = NULL;
static char *evs_amqp_password = NULL;
static char *evs_amqp_password_file = NULL;
static bool evs_amqp_tls = false;
static bool evs_amqp_tls_verify = true;
static char *evs_amqp_cacert = NULL;
int			evs_amqp_timeout_ms = 5000;

/* Called from evs_worker_init: this module's settings. */
void
evs_amqp_init(void)
{
	DefineCustomStringVariable("eventsvc.amqp_host", "RabbitMQ host.", NULL,
							   &evs_amqp_host, "127.0.0.1", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.amqp_port", "RabbitMQ port.", NULL,
							&evs_amqp_port, 5672, 1, 65535, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("eventsvc.amqp_vhost", "RabbitMQ virtual host.", NULL,
							   &evs_amqp_vhost, "/", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("eventsvc.amqp_user", "RabbitMQ user.", NULL,
							   &evs_amqp_user, "guest", PGC_SIGHUP, 0, NULL, NULL, NULL);
	/* Hidden from SHOW ALL, pg_settings and non-superusers. */
	DefineCustomStringVariable("eventsvc.amqp_password", "RabbitMQ password.",
							   "Prefer eventsvc.amqp_password_file: a reload logs changed settings.",
							   &evs_amqp_password, "guest", PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
	DefineCustomStringVariable("eventsvc.amqp_password_file",
							   "File holding the RabbitMQ password (overrides eventsvc.amqp_password).",
							   "Read at every connect; readable by the server's OS user only.",
							   &evs_amqp_password_file, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("eventsvc.amqp_tls", "Connect to RabbitMQ with TLS.", NULL,
							 &evs_amqp_tls, false, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("eventsvc.amqp_tls_verify", "Verify the broker's certificate and host name.", NULL,
							 &evs_amqp_tls_verify, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("eventsvc.amqp_cacert", "CA certificate file for TLS to RabbitMQ.", NULL,
							   &evs_amqp_cacert, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomIntVariable("eventsvc.amqp_timeout_ms",
							"Connect, login and publisher-confirm timeout.", NULL,
							&evs_amqp_timeout_ms, 5000, 100, 600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

static amqp_connection_state_t conn = NULL;
static uint64 next_tag = 1;		/* delivery tag of the next publish */

static void abandon_all(void);

bool
evs_amqp_is_connected(void)
{
	return conn != NULL;
}

void
evs_amqp_disconnect(void)
{
	if (conn == NULL)
		return;
	/* A polite close when the socket still works; destroy frees in any case. */
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
	conn = NULL;
	abandon_all();
}

/* Drop a broken connection without the close handshake (it could block). */
static void
amqp_abandon(void)
{
	if (conn != NULL)
		amqp_destroy_connection(conn);
	conn = NULL;
}

/*
 * Why a connect failed, as the system says it: rabbitmq-c reports only "a
 * socket error occurred" and keeps the socket's error to itself. One
 * non-blocking connect of our own, bounded by timeout_ms, reads it (refused,
 * unreachable, timed out). 0 when the probe connects or cannot tell.
 */
static int
connect_errno(const char *host, int port, int timeout_ms)
{
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	char		portstr[16];
	int			result = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return 0;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
	{
		int			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);

		if (fd < 0)
		{
			result = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			result = 0;
		else if (errno != EINPROGRESS)
			result = errno;
		else
		{
			struct pollfd p = {.fd = fd,.events = POLLOUT};
			socklen_t	len = sizeof(result);

			if (poll(&p, 1, timeout_ms) <= 0)
				result = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &len) != 0)
				result = errno;
		}
		close(fd);
		if (result == 0)
			break;
	}
	freeaddrinfo(res);
	return result;
}

/*
 * A rabbitmq-c status as an operator needs it: its own words plus the reason
 * underneath: the last OpenSSL error for TLS failures (certificate, host
 * name), else the errno the failing call left (connection reset, broken pipe).
 */
static void
status_text(int st, int saved_errno, char *buf, size_t len)
{
	unsigned long ssl_error = 0;
	unsigned long e;

	/* the queue is the thread's: read it only for TLS failures, empty it always */
	while ((e = ERR_get_error()) != 0)
		ssl_error = e;
	if (st > AMQP_STATUS_SSL_ERROR || st <= _AMQP_STATUS_SSL_NEXT_VALUE)
		ssl_error = 0;
	if (ssl_error != 0)
	{
		char		reason[256];

		ERR_error_string_n(ssl_error, reason, sizeof(reason));
		snprintf(buf, len, "%s (%s)", amqp_error_string2(st), reason);
	}
	else if (saved_errno != 0 && saved_errno != EINPROGRESS && saved_errno != EAGAIN &&
			 (st == AMQP_STATUS_SOCKET_ERROR || st == AMQP_STATUS_CONNECTION_CLOSED ||
			  st == AMQP_STATUS_SOCKET_CLOSED || st == AMQP_STATUS_TCP_ERROR))
		snprintf(buf, len, "%s (%s)", amqp_error_string2(st), strerror(saved_errno));
	else
		snprintf(buf, len, "%s", amqp_error_string2(st));
}

static void
reply_error(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen)
{
	switch (r.reply_type)
	{
		case AMQP_RESPONSE_NORMAL:
			snprintf(err, errlen, "%s: ok", what);
			break;
		case AMQP_RESPONSE_NONE:
			snprintf(err, errlen, "%s: missing reply", what);
			break;
		case AMQP_RESPONSE_LIBRARY_EXCEPTION:
			snprintf(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
			break;
		case AMQP_RESPONSE_SERVER_EXCEPTION:
			if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
			{
				amqp_connection_close_t *m = (amqp_connection_close_t *) r.reply.decoded;

				snprintf(err, errlen, "%s: broker closed the connection: %u %.*s", what,
						 m->reply_code, (int) m->reply_text.len, (char *) m->reply_text.bytes);
			}
			else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
			{
				amqp_channel_close_t *m = (amqp_channel_close_t *) r.reply.decoded;

				snprintf(err, errlen, "%s: broker closed the channel: %u %.*s", what,
						 m->reply_code, (int) m->reply_text.len, (char *) m->reply_text.bytes);
			}
			else
				snprintf(err, errlen, "%s: broker error (method 0x%08X)", what, r.reply.id);
			break;
	}
}

/*
 * The password: eventsvc.amqp_password_file (read at each connect, so
 * rotating it needs no reload and the value never passes through the
 * configuration machinery) or else eventsvc.amqp_password.
 */
static bool
amqp_password(char *buf, size_t len, char *err, size_t errlen)
{
	if (evs_amqp_password_file != NULL && evs_amqp_password_file[0] != '\0')
	{
		int			fd = open(evs_amqp_password_file, O_RDONLY);
		ssize_t		n;

		if (fd < 0)
		{
			snprintf(err, errlen, "cannot open eventsvc.amqp_password_file \"%s\": %m",
					 evs_amqp_password_file);
			return false;
		}
		n = read(fd, buf, len - 1);
		close(fd);
		if (n < 0)
		{
			snprintf(err, errlen, "cannot read eventsvc.amqp_password_file: %m");
			return false;
		}
		buf[n] = '\0';
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		return true;
	}
	strlcpy(buf, evs_amqp_password ? evs_amqp_password : "", len);
	return true;
}

bool
evs_amqp_ensure_connected(char *err, size_t errlen)
{
	amqp_socket_t *sock;
	amqp_rpc_reply_t r;
	struct timeval tv;
	char		password[512];
	int			i;
	int			st;

	if (conn != NULL)
		return true;

	conn = amqp_new_connection();
	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory creating the AMQP connection");
		return false;
	}
	if (evs_amqp_tls)
	{
		sock = amqp_ssl_socket_new(conn);
		if (sock != NULL)
		{
			amqp_ssl_socket_set_verify_peer(sock, evs_amqp_tls_verify);
			amqp_ssl_socket_set_verify_hostname(sock, evs_amqp_tls_verify);
			if (evs_amqp_cacert && evs_amqp_cacert[0] &&
				amqp_ssl_socket_set_cacert(sock, evs_amqp_cacert) != AMQP_STATUS_OK)
			{
				snprintf(err, errlen, "cannot load CA certificate \"%s\"", evs_amqp_cacert);
				amqp_abandon();
				return false;
			}
		}
	}
	else
		sock = amqp_tcp_socket_new(conn);
	if (sock == NULL)
	{
		snprintf(err, errlen, "cannot create the AMQP socket");
		amqp_abandon();
		return false;
	}
	tv.tv_sec = evs_amqp_timeout_ms / 1000;
	tv.tv_usec = (evs_amqp_timeout_ms % 1000) * 1000;
	errno = 0;
	ERR_clear_error();
	st = amqp_socket_open_noblock(sock, evs_amqp_host, evs_amqp_port, &tv);
	if (st != AMQP_STATUS_OK)
	{
		int			saved_errno = errno;
		char		why[320];

		if (st == AMQP_STATUS_SOCKET_ERROR && (saved_errno == 0 || saved_errno == EINPROGRESS))
			saved_errno = connect_errno(evs_amqp_host, evs_amqp_port, Min(evs_amqp_timeout_ms, 1000));
		status_text(st, saved_errno, why, sizeof(why));
		snprintf(err, errlen, "cannot connect to %s:%d: %s", evs_amqp_host, evs_amqp_port, why);
		amqp_abandon();
		return false;
	}
	amqp_set_handshake_timeout(conn, &tv);
	amqp_set_rpc_timeout(conn, &tv);

	if (!amqp_password(password, sizeof(password), err, errlen))
	{
		amqp_abandon();
		return false;
	}
	/* heartbeat 0: the worker sleeps on its latch and cannot answer heartbeats;
	 * a dead connection shows up as an error or a confirm timeout instead. */
	r = amqp_login(conn, evs_amqp_vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
				   evs_amqp_user, password);
	explicit_bzero(password, sizeof(password));
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		reply_error(r, "login", err, errlen);
		amqp_abandon();
		return false;
	}
	amqp_channel_open(conn, EVS_CHANNEL);
	r = amqp_get_rpc_reply(conn);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		reply_error(r, "channel.open", err, errlen);
		amqp_abandon();
		return false;
	}
	for (i = 0; i < EVS_EXCHANGE_COUNT; i++)
	{
		amqp_exchange_declare(conn, EVS_CHANNEL, amqp_cstring_bytes(evs_exchanges[i]),
							  amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
		r = amqp_get_rpc_reply(conn);
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
		{
			reply_error(r, "exchange.declare", err, errlen);
			amqp_abandon();
			return false;
		}
	}
	amqp_confirm_select(conn, EVS_CHANNEL);
	r = amqp_get_rpc_reply(conn);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		reply_error(r, "confirm.select", err, errlen);
		amqp_abandon();
		return false;
	}
	next_tag = 1;
	return true;
}

/* The socket, so the worker's wait also wakes when the broker sends something
 * (a connection.close at broker shutdown, or EOF); -1 when not connected. */
int
evs_amqp_socket(void)
{
	return conn != NULL ? amqp_get_sockfd(conn) : -1;
}

/*
 * Batches sent and not yet fully confirmed, at most two: the relay sends the
 * next batch before it waits for the confirms of the previous one, so the
 * database work of one batch overlaps the broker's work on the other. A
 * confirm (possibly `multiple`, spanning both) goes to whichever batch holds
 * the tag.
 */
#define MAX_INFLIGHT 2
static EvsAmqpBatch *inflight[MAX_INFLIGHT];
static int	ninflight = 0;

static void
inflight_forget(EvsAmqpBatch *b)
{
	int			i,
				j;

	for (i = 0; i < ninflight; i++)
		if (inflight[i] == b)
		{
			for (j = i; j < ninflight - 1; j++)
				inflight[j] = inflight[j + 1];
			ninflight--;
			return;
		}
}

/* Drop the connection; batches in flight keep the results they have. */
static void
abandon_all(void)
{
	ninflight = 0;
	amqp_abandon();
}

static EvsAmqpMsg *
find_by_message_id(amqp_bytes_t id)
{
	int			i,
				k;

	for (k = 0; k < ninflight; k++)
		for (i = 0; i < inflight[k]->n; i++)
		{
			EvsAmqpMsg *m = &inflight[k]->msgs[i];

			if (strlen(m->message_id) == id.len && memcmp(m->message_id, id.bytes, id.len) == 0)
				return m;
		}
	return NULL;
}

static void
confirm_range(uint64 from, uint64 to, bool ack)
{
	int			k;

	for (k = 0; k < ninflight; k++)
	{
		EvsAmqpBatch *b = inflight[k];
		uint64		lo,
					hi,
					t;

		if (b->n == 0)
			continue;
		lo = Max(from, b->first_tag);
		hi = Min(to, b->first_tag + b->n - 1);
		for (t = lo; t <= hi; t++)
		{
			EvsAmqpMsg *m = &b->msgs[t - b->first_tag];

			if (m->confirmed)
				continue;
			m->confirmed = true;
			b->pending--;
			/* a returned message is acked too; it stays returned */
			if (m->result != EVS_PUB_UNKNOWN)
				continue;
			if (ack)
				m->result = EVS_PUB_OK;
			else
			{
				m->result = EVS_PUB_NACKED;
				snprintf(m->error, sizeof(m->error), "rejected by the broker (basic.nack)");
			}
		}
	}
}

/* Handle one frame from the broker; false when the connection has to go. */
static bool
dispatch(amqp_frame_t *f, char *err, size_t errlen)
{
	if (f->frame_type != AMQP_FRAME_METHOD)
		return true;
	switch (f->payload.method.id)
	{
		case AMQP_BASIC_ACK_METHOD:
			{
				amqp_basic_ack_t *a = (amqp_basic_ack_t *) f->payload.method.decoded;

				confirm_range(a->multiple ? 0 : a->delivery_tag, a->delivery_tag, true);
				break;
			}
		case AMQP_BASIC_NACK_METHOD:
			{
				amqp_basic_nack_t *a = (amqp_basic_nack_t *) f->payload.method.decoded;

				confirm_range(a->multiple ? 0 : a->delivery_tag, a->delivery_tag, false);
				break;
			}
		case AMQP_BASIC_RETURN_METHOD:
			{
				amqp_basic_return_t *ret = (amqp_basic_return_t *) f->payload.method.decoded;
				char		reason[96];
				amqp_message_t msg;
				amqp_rpc_reply_t r;
				EvsAmqpMsg *m = NULL;

				snprintf(reason, sizeof(reason), "returned by the broker: %u %.*s",
						 ret->reply_code, (int) Min(ret->reply_text.len, 60),
						 (char *) ret->reply_text.bytes);
				/* header and body frames of the returned message follow */
				r = amqp_read_message(conn, EVS_CHANNEL, &msg, 0);
				if (r.reply_type != AMQP_RESPONSE_NORMAL)
				{
					reply_error(r, "reading a returned message", err, errlen);
					return false;
				}
				if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
					m = find_by_message_id(msg.properties.message_id);
				amqp_destroy_message(&msg);
				if (m != NULL && m->result == EVS_PUB_UNKNOWN)
				{
					m->result = EVS_PUB_RETURNED;
					strlcpy(m->error, reason, sizeof(m->error));
				}
				break;
			}
		case AMQP_CHANNEL_CLOSE_METHOD:
		case AMQP_CONNECTION_CLOSE_METHOD:
			snprintf(err, errlen, "broker closed the %s",
					 f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ? "channel" : "connection");
			return false;
		default:
			break;
	}
	return true;
}

/*
 * Read whatever arrived without blocking: confirms of a batch in flight are
 * kept; a close from the broker or a dead socket drops the connection.
 * Returns whether it is still up.
 */
bool
evs_amqp_check_alive(char *err, size_t errlen)
{
	if (conn == NULL)
		return false;
	for (;;)
	{
		amqp_frame_t f;
		struct timeval zero = {0, 0};
		int			st;
		int			saved_errno;
		char		why[320];

		errno = 0;
		st = amqp_simple_wait_frame_noblock(conn, &f, &zero);
		saved_errno = errno;
		if (st == AMQP_STATUS_TIMEOUT)
			break;
		if (st != AMQP_STATUS_OK)
		{
			status_text(st, saved_errno, why, sizeof(why));
			snprintf(err, errlen, "connection lost: %s", why);
			abandon_all();
			return false;
		}
		if (!dispatch(&f, err, errlen))
		{
			abandon_all();
			return false;
		}
	}
	if (ninflight == 0)
		amqp_maybe_release_buffers(conn);
	return true;
}

/*
 * Send a batch without waiting. It is registered as in flight; its results
 * fill in as confirms arrive, here or in a later evs_amqp_wait_batch.
 */
bool
evs_amqp_send_batch(EvsAmqpBatch *b, char *err, size_t errlen)
{
	amqp_basic_properties_t props;
	amqp_table_entry_t hdr[2];
	int			i;

	if (conn == NULL && !evs_amqp_ensure_connected(err, errlen))
		return false;
	if (ninflight >= MAX_INFLIGHT)
		elog(ERROR, "eventsvc worker: too many outbox batches in flight");
	if (!evs_amqp_check_alive(err, errlen))
		return false;

	b->first_tag = next_tag;
	b->pending = b->n;
	for (i = 0; i < b->n; i++)
	{
		b->msgs[i].result = EVS_PUB_UNKNOWN;
		b->msgs[i].confirmed = false;
		b->msgs[i].error[0] = '\0';
	}
	inflight[ninflight++] = b;
	for (i = 0; i < b->n; i++)
	{
		EvsAmqpMsg *m = &b->msgs[i];
		int			st;

		memset(&props, 0, sizeof(props));
		props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
			AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
			AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_HEADERS_FLAG;
		props.content_type = amqp_cstring_bytes("application/json");
		props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
		props.message_id = amqp_cstring_bytes(m->message_id);
		props.type = amqp_cstring_bytes(m->routing_key);
		props.timestamp = (uint64_t) m->timestamp;
		props.app_id = amqp_cstring_bytes("event-service");
		hdr[0].key = amqp_cstring_bytes("tenant_id");
		hdr[0].value.kind = AMQP_FIELD_KIND_UTF8;
		hdr[0].value.value.bytes = amqp_cstring_bytes(m->tenant_id);
		hdr[1].key = amqp_cstring_bytes("sequence");
		hdr[1].value.kind = AMQP_FIELD_KIND_I64;
		hdr[1].value.value.i64 = m->sequence;
		props.headers.num_entries = 2;
		props.headers.entries = hdr;

		st = amqp_basic_publish(conn, EVS_CHANNEL, amqp_cstring_bytes(m->exchange),
								amqp_cstring_bytes(m->routing_key), 1, 0, &props,
								(amqp_bytes_t)
								{
									.len = m->body_len,.bytes = m->body
								});
		if (st != AMQP_STATUS_OK)
		{
			snprintf(err, errlen, "publish failed: %s", amqp_error_string2(st));
			abandon_all();
			return false;
		}
		next_tag++;
	}
	return true;
}

/*
 * Wait until every message of b has a confirm, then forget b. False when the
 * connection failed (it is then dropped): messages left EVS_PUB_UNKNOWN, in b
 * and in any other batch that was in flight, must be released, not counted
 * against.
 */
bool
evs_amqp_wait_batch(EvsAmqpBatch *b, int timeout_ms, char *err, size_t errlen)
{
	TimestampTz deadline = GetCurrentTimestamp() + (int64) timeout_ms * 1000;

	while (b->pending > 0)
	{
		amqp_frame_t f;
		struct timeval tv;
		long		left_ms = (long) ((deadline - GetCurrentTimestamp()) / 1000);
		int			st;

		if (conn == NULL)
		{
			snprintf(err, errlen, "connection lost");
			return false;
		}
		if (left_ms <= 0)
		{
			snprintf(err, errlen, "no confirm from the broker within %d ms", timeout_ms);
			abandon_all();
			return false;
		}
		tv.tv_sec = left_ms / 1000;
		tv.tv_usec = (left_ms % 1000) * 1000;
		errno = 0;
		st = amqp_simple_wait_frame_noblock(conn, &f, &tv);
		if (st == AMQP_STATUS_TIMEOUT)
			continue;
		if (st != AMQP_STATUS_OK)
		{
			char		why[320];

			status_text(st, errno, why, sizeof(why));
			snprintf(err, errlen, "waiting for confirms: %s", why);
			abandon_all();
			return false;
		}
		if (!dispatch(&f, err, errlen))
		{
			abandon_all();
			return false;
		}
	}
	inflight_forget(b);
	if (ninflight == 0 && conn != NULL)
		amqp_maybe_release_buffers(conn);
	return true;
}
