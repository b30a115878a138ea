/*
 * outbox_raw: the ceiling the outbox relay is compared with. A bare rabbitmq-c
 * publisher doing what the worker does on the wire (persistent, mandatory,
 * message id, type, timestamp, JSON body of similar size, publisher confirms
 * with a window of outstanding messages) but with no database at all.
 *
 *   outbox_raw PORT COUNT WINDOW    prints "msgs seconds msgs_per_second"
 *
 * Built by bench/outbox_run with: cc -O2 -o outbox_raw outbox_raw.c -lrabbitmq
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
check(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		fprintf(stderr, "outbox_raw: %s failed\n", what);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	int			port,
				count,
				window;
	amqp_connection_state_t c;
	amqp_socket_t *s;
	uint64_t	sent = 0,
				confirmed = 0;
	double		t0;
	char		body[512],
				mid[64];

	if (argc != 4)
	{
		fprintf(stderr, "usage: outbox_raw PORT COUNT WINDOW\n");
		return 2;
	}
	port = atoi(argv[1]);
	count = atoi(argv[2]);
	window = atoi(argv[3]);
	c = amqp_new_connection();
	s = amqp_tcp_socket_new(c);
	if (amqp_socket_open(s, "127.0.0.1", port) != AMQP_STATUS_OK)
	{
		fprintf(stderr, "outbox_raw: cannot connect\n");
		return 1;
	}
	check(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
	amqp_channel_open(c, 1);
	check(amqp_get_rpc_reply(c), "channel.open");
	amqp_exchange_declare(c, 1, amqp_cstring_bytes("tickettoken_events"), amqp_cstring_bytes("topic"),
						  0, 1, 0, 0, amqp_empty_table);
	check(amqp_get_rpc_reply(c), "exchange.declare");
	amqp_confirm_select(c, 1);
	check(amqp_get_rpc_reply(c), "confirm.select");

	t0 = now();
	while (confirmed < (uint64_t) count)
	{
		while (sent < (uint64_t) count && sent - confirmed < (uint64_t) window)
		{
			amqp_basic_properties_t p;

			snprintf(mid, sizeof(mid), "00000000-0000-4000-8000-%012llu", (unsigned long long) sent);
			snprintf(body, sizeof(body),
					 "{\"data\": {\"round\": %llu, \"a\": 7}, \"type\": \"event.updated\", \"sequence\": %llu, "
					 "\"tenant_id\": \"0b0b0b0b-0000-4000-8000-000000000000\", \"message_id\": \"%s\", "
					 "\"occurred_at\": \"2026-11-25T19:00:00.000000+00:00\", "
					 "\"aggregate_id\": \"00000000-0000-4000-8000-000000000007\"}",
					 (unsigned long long) sent, (unsigned long long) sent, mid);
			memset(&p, 0, sizeof(p));
			p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
				AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
			p.content_type = amqp_cstring_bytes("application/json");
			p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
			p.message_id = amqp_cstring_bytes(mid);
			p.type = amqp_cstring_bytes("event.updated");
			p.timestamp = (uint64_t) time(NULL);
			if (amqp_basic_publish(c, 1, amqp_cstring_bytes("tickettoken_events"),
								   amqp_cstring_bytes("event.updated"), 1, 0, &p,
								   amqp_cstring_bytes(body)) != AMQP_STATUS_OK)
			{
				fprintf(stderr, "outbox_raw: publish failed\n");
				return 1;
			}
			sent++;
		}
		{
			amqp_frame_t f;

			if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK)
			{
				fprintf(stderr, "outbox_raw: connection lost\n");
				return 1;
			}
			if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_ACK_METHOD)
			{
				amqp_basic_ack_t *a = (amqp_basic_ack_t *) f.payload.method.decoded;

				/* one queue: the broker confirms in order */
				confirmed = a->multiple ? a->delivery_tag : confirmed + 1;
			}
			else if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_NACK_METHOD)
			{
				fprintf(stderr, "outbox_raw: nack\n");
				return 1;
			}
			amqp_maybe_release_buffers(c);
		}
	}
	{
		double		secs = now() - t0;

		printf("%d %.3f %.0f\n", count, secs, count / secs);
	}
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	return 0;
}
