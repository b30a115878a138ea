/*
 * worker/amqp_conn.h: what the broker connection (amqp.c) and publishing
 * with confirms (amqp_publish.c) share; nothing else of the worker sees
 * rabbitmq-c.
 */
#ifndef EVS_AMQP_CONN_H
#define EVS_AMQP_CONN_H

#include <amqp.h>
#include <amqp_framing.h>

#define EVS_AMQP_CHANNEL 1

/* amqp.c */
extern amqp_connection_state_t evs_amqp_conn;	/* NULL: not connected */
extern uint64 evs_amqp_next_tag;	/* delivery tag of the next publish */
extern void evs_amqp_drop(void);
extern void evs_amqp_status_text(int st, int saved_errno, char *buf, size_t len);
extern void evs_amqp_reply_error(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen);

/* amqp_publish.c: forget the batches in flight and drop the connection */
extern void evs_amqp_forget_batches(void);

#endif
