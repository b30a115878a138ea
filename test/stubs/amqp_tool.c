/*
 * amqp_tool: the tests' view of RabbitMQ, with rabbitmq-c (like the worker).
 *
 *   amqp_tool declare PORT QUEUE          durable topic exchanges tickettoken_events and
 *                                         event-lifecycle, queue QUEUE bound to both with "#"
 *   amqp_tool drain PORT QUEUE IDLE_MS    print every message of QUEUE, one per line:
 *                                         message_id TAB type TAB tenant header TAB sequence header
 *                                         TAB delivery mode TAB content type;
 *                                         stops after IDLE_MS without a message
 *
 * Built by the test scripts with: cc -O2 -o amqp_tool amqp_tool.c -lrabbitmq
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

static void
die_on(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		fprintf(stderr, "amqp_tool: %s failed (reply type %d)\n", what, r.reply_type);
		exit(2);
	}
}

static amqp_connection_state_t
connect_to(int port)
{
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_tcp_socket_new(c);

	if (amqp_socket_open(s, "127.0.0.1", port) != AMQP_STATUS_OK)
	{
		fprintf(stderr, "amqp_tool: cannot connect to 127.0.0.1:%d\n", port);
		exit(2);
	}
	die_on(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
	amqp_channel_open(c, 1);
	die_on(amqp_get_rpc_reply(c), "channel.open");
	return c;
}

static void
print_bytes(amqp_bytes_t b)
{
	fwrite(b.bytes, 1, b.len, stdout);
}

static void
header(amqp_table_t *t, const char *key)
{
	int			i;

	for (i = 0; i < t->num_entries; i++)
	{
		amqp_table_entry_t *e = &t->entries[i];

		if (e->key.len == strlen(key) && memcmp(e->key.bytes, key, e->key.len) == 0)
		{
			if (e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES)
				print_bytes(e->value.value.bytes);
			else if (e->value.kind == AMQP_FIELD_KIND_I64)
				printf("%lld", (long long) e->value.value.i64);
			else if (e->value.kind == AMQP_FIELD_KIND_I32)
				printf("%d", e->value.value.i32);
			return;
		}
	}
	printf("-");
}

int
main(int argc, char **argv)
{
	amqp_connection_state_t c;
	const char *exchanges[] = {"tickettoken_events", "event-lifecycle"};
	int			i;

	if (argc < 4)
	{
		fprintf(stderr, "usage: amqp_tool declare|drain PORT QUEUE [IDLE_MS]\n");
		return 2;
	}
	c = connect_to(atoi(argv[2]));
	if (strcmp(argv[1], "declare") == 0)
	{
		for (i = 0; i < 2; i++)
		{
			amqp_exchange_declare(c, 1, amqp_cstring_bytes(exchanges[i]), amqp_cstring_bytes("topic"),
								  0, 1, 0, 0, amqp_empty_table);
			die_on(amqp_get_rpc_reply(c), "exchange.declare");
		}
		amqp_queue_declare(c, 1, amqp_cstring_bytes(argv[3]), 0, 1, 0, 0, amqp_empty_table);
		die_on(amqp_get_rpc_reply(c), "queue.declare");
		for (i = 0; i < 2; i++)
		{
			amqp_queue_bind(c, 1, amqp_cstring_bytes(argv[3]), amqp_cstring_bytes(exchanges[i]),
							amqp_cstring_bytes("#"), amqp_empty_table);
			die_on(amqp_get_rpc_reply(c), "queue.bind");
		}
	}
	else if (strcmp(argv[1], "drain") == 0 && argc >= 5)
	{
		int			idle_ms = atoi(argv[4]);

		amqp_basic_qos(c, 1, 0, 1000, 0);
		amqp_basic_consume(c, 1, amqp_cstring_bytes(argv[3]), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
		die_on(amqp_get_rpc_reply(c), "basic.consume");
		for (;;)
		{
			amqp_envelope_t env;
			struct timeval tv = {idle_ms / 1000, (idle_ms % 1000) * 1000};
			amqp_rpc_reply_t r;

			amqp_maybe_release_buffers(c);
			r = amqp_consume_message(c, &env, &tv, 0);
			if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
				break;
			die_on(r, "consume");
			print_bytes(env.message.properties.message_id);
			putchar('\t');
			print_bytes(env.message.properties.type);
			putchar('\t');
			header(&env.message.properties.headers, "tenant_id");
			putchar('\t');
			header(&env.message.properties.headers, "sequence");
			printf("\t%d\t", env.message.properties.delivery_mode);
			print_bytes(env.message.properties.content_type);
			putchar('\n');
			amqp_destroy_envelope(&env);
		}
	}
	else
	{
		fprintf(stderr, "amqp_tool: unknown command %s\n", argv[1]);
		return 2;
	}
	amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	return 0;
}
