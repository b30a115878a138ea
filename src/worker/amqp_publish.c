/*
 * amqp_publish.c: publishing with publisher confirms on the worker's broker
 * connection (amqp.c). A batch is published as a window of unconfirmed
 * messages (never one round trip per message) and the confirms are read back
 * frame by frame: basic.ack / basic.nack (with `multiple`) and basic.return
 * (an unroutable mandatory message; RabbitMQ sends the return before the ack
 * of the same message). Delivery tags count from 1 per channel after
 * confirm.select, so tag - first_tag is the index in the batch.
 */
#include "worker/worker_internal.h"
#include "worker/amqp_conn.h"

#include <sys/time.h>
#include <errno.h>

#include "utils/memutils.h"

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

/* Drops the connection; batches in flight keep the results they have. */
void
evs_amqp_forget_batches(void)
{
	ninflight = 0;
	evs_amqp_drop();
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
				r = amqp_read_message(evs_amqp_conn, EVS_AMQP_CHANNEL, &msg, 0);
				if (r.reply_type != AMQP_RESPONSE_NORMAL)
				{
					evs_amqp_reply_error(r, "reading a returned message", err, errlen);
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
	if (evs_amqp_conn == NULL)
		return false;
	for (;;)
	{
		amqp_frame_t f;
		struct timeval zero = {0, 0};
		int			st;
		int			saved_errno;
		char		why[320];

		errno = 0;
		st = amqp_simple_wait_frame_noblock(evs_amqp_conn, &f, &zero);
		saved_errno = errno;
		if (st == AMQP_STATUS_TIMEOUT)
			break;
		if (st != AMQP_STATUS_OK)
		{
			evs_amqp_status_text(st, saved_errno, why, sizeof(why));
			snprintf(err, errlen, "connection lost: %s", why);
			evs_amqp_forget_batches();
			return false;
		}
		if (!dispatch(&f, err, errlen))
		{
			evs_amqp_forget_batches();
			return false;
		}
	}
	if (ninflight == 0)
		amqp_maybe_release_buffers(evs_amqp_conn);
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

	if (evs_amqp_conn == NULL && !evs_amqp_ensure_connected(err, errlen))
		return false;
	if (ninflight >= MAX_INFLIGHT)
		elog(ERROR, "eventsvc worker: too many outbox batches in flight");
	if (!evs_amqp_check_alive(err, errlen))
		return false;

	b->first_tag = evs_amqp_next_tag;
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

		st = amqp_basic_publish(evs_amqp_conn, EVS_AMQP_CHANNEL, amqp_cstring_bytes(m->exchange),
								amqp_cstring_bytes(m->routing_key), 1, 0, &props,
								(amqp_bytes_t)
								{
									.len = m->body_len,.bytes = m->body
								});
		if (st != AMQP_STATUS_OK)
		{
			snprintf(err, errlen, "publish failed: %s", amqp_error_string2(st));
			evs_amqp_forget_batches();
			return false;
		}
		evs_amqp_next_tag++;
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

		if (evs_amqp_conn == NULL)
		{
			snprintf(err, errlen, "connection lost");
			return false;
		}
		if (left_ms <= 0)
		{
			snprintf(err, errlen, "no confirm from the broker within %d ms", timeout_ms);
			evs_amqp_forget_batches();
			return false;
		}
		tv.tv_sec = left_ms / 1000;
		tv.tv_usec = (left_ms % 1000) * 1000;
		errno = 0;
		st = amqp_simple_wait_frame_noblock(evs_amqp_conn, &f, &tv);
		if (st == AMQP_STATUS_TIMEOUT)
			continue;
		if (st != AMQP_STATUS_OK)
		{
			char		why[320];

			evs_amqp_status_text(st, errno, why, sizeof(why));
			snprintf(err, errlen, "waiting for confirms: %s", why);
			evs_amqp_forget_batches();
			return false;
		}
		if (!dispatch(&f, err, errlen))
		{
			evs_amqp_forget_batches();
			return false;
		}
	}
	inflight_forget(b);
	if (ninflight == 0 && evs_amqp_conn != NULL)
		amqp_maybe_release_buffers(evs_amqp_conn);
	return true;
}
