/*
 * amqp.c: the worker's one connection to RabbitMQ (rabbitmq-c 0.11): its
 * settings, connecting (TCP or TLS, login, one channel in confirm mode, the
 * exchanges declared) and closing, and the words for what went wrong.
 * Publishing with confirms is amqp_publish.c.
 *
 * Any library or socket error is the broker's fault, not the message's: the
 * connection is dropped and the caller releases the unconfirmed rows without
 * counting an attempt. Runs only in the worker, never in a user's backend.
 */
#include "worker/worker_internal.h"
#include "worker/amqp_conn.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <openssl/err.h>

#include "utils/memutils.h"
#include "utils/guc.h"

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

amqp_connection_state_t evs_amqp_conn = NULL;
uint64		evs_amqp_next_tag = 1;

/* Whether the worker has a broker connection. */
bool
evs_amqp_is_connected(void)
{
	return evs_amqp_conn != NULL;
}

/* Closes the broker connection (politely when it still works). */
void
evs_amqp_disconnect(void)
{
	if (evs_amqp_conn == NULL)
		return;
	/* A polite close when the socket still works; destroy frees in any case. */
	amqp_connection_close(evs_amqp_conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(evs_amqp_conn);
	evs_amqp_conn = NULL;
	evs_amqp_forget_batches();
}

/* Drops a broken connection without the close handshake (it could block). */
void
evs_amqp_drop(void)
{
	if (evs_amqp_conn != NULL)
		amqp_destroy_connection(evs_amqp_conn);
	evs_amqp_conn = NULL;
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
void
evs_amqp_status_text(int st, int saved_errno, char *buf, size_t len)
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

/* What a failed rabbitmq-c call (`what`) replied, as words in err. */
void
evs_amqp_reply_error(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen)
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

/* Connects (channel in confirm mode, exchanges declared) unless connected; false with err on failure. */
bool
evs_amqp_ensure_connected(char *err, size_t errlen)
{
	amqp_socket_t *sock;
	amqp_rpc_reply_t r;
	struct timeval tv;
	char		password[512];
	int			i;
	int			st;

	if (evs_amqp_conn != NULL)
		return true;

	evs_amqp_conn = amqp_new_connection();
	if (evs_amqp_conn == NULL)
	{
		snprintf(err, errlen, "out of memory creating the AMQP connection");
		return false;
	}
	if (evs_amqp_tls)
	{
		sock = amqp_ssl_socket_new(evs_amqp_conn);
		if (sock != NULL)
		{
			amqp_ssl_socket_set_verify_peer(sock, evs_amqp_tls_verify);
			amqp_ssl_socket_set_verify_hostname(sock, evs_amqp_tls_verify);
			if (evs_amqp_cacert && evs_amqp_cacert[0] &&
				amqp_ssl_socket_set_cacert(sock, evs_amqp_cacert) != AMQP_STATUS_OK)
			{
				snprintf(err, errlen, "cannot load CA certificate \"%s\"", evs_amqp_cacert);
				evs_amqp_drop();
				return false;
			}
		}
	}
	else
		sock = amqp_tcp_socket_new(evs_amqp_conn);
	if (sock == NULL)
	{
		snprintf(err, errlen, "cannot create the AMQP socket");
		evs_amqp_drop();
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
		evs_amqp_status_text(st, saved_errno, why, sizeof(why));
		snprintf(err, errlen, "cannot connect to %s:%d: %s", evs_amqp_host, evs_amqp_port, why);
		evs_amqp_drop();
		return false;
	}
	amqp_set_handshake_timeout(evs_amqp_conn, &tv);
	amqp_set_rpc_timeout(evs_amqp_conn, &tv);

	if (!amqp_password(password, sizeof(password), err, errlen))
	{
		evs_amqp_drop();
		return false;
	}
	/* heartbeat 0: the worker sleeps on its latch and cannot answer heartbeats;
	 * a dead connection shows up as an error or a confirm timeout instead. */
	r = amqp_login(evs_amqp_conn, evs_amqp_vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
				   evs_amqp_user, password);
	explicit_bzero(password, sizeof(password));
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		evs_amqp_reply_error(r, "login", err, errlen);
		evs_amqp_drop();
		return false;
	}
	amqp_channel_open(evs_amqp_conn, EVS_AMQP_CHANNEL);
	r = amqp_get_rpc_reply(evs_amqp_conn);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		evs_amqp_reply_error(r, "channel.open", err, errlen);
		evs_amqp_drop();
		return false;
	}
	for (i = 0; i < EVS_EXCHANGE_COUNT; i++)
	{
		amqp_exchange_declare(evs_amqp_conn, EVS_AMQP_CHANNEL, amqp_cstring_bytes(evs_exchanges[i]),
							  amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
		r = amqp_get_rpc_reply(evs_amqp_conn);
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
		{
			evs_amqp_reply_error(r, "exchange.declare", err, errlen);
			evs_amqp_drop();
			return false;
		}
	}
	amqp_confirm_select(evs_amqp_conn, EVS_AMQP_CHANNEL);
	r = amqp_get_rpc_reply(evs_amqp_conn);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		evs_amqp_reply_error(r, "confirm.select", err, errlen);
		evs_amqp_drop();
		return false;
	}
	evs_amqp_next_tag = 1;
	return true;
}

/* The socket, so the worker's wait also wakes when the broker sends something
 * (a connection.close at broker shutdown, or EOF); -1 when not connected. */
int
evs_amqp_socket(void)
{
	return evs_amqp_conn != NULL ? amqp_get_sockfd(evs_amqp_conn) : -1;
}
