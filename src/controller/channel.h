/*
 * The controller's channels to brokers [Kafka's ControllerChannelManager]: one
 * sender thread per live broker, each with its own blocking connection, sending
 * queued requests one at a time and handing each response to a callback.  A
 * request that fails on the wire is re-sent after reconnecting, until the broker
 * is removed (it is dead, or we are no longer controller) — as Kafka's
 * RequestSendThread does.
 */
#ifndef SAMSA_CONTROLLER_CHANNEL_H
#define SAMSA_CONTROLLER_CHANNEL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct wbuf;
struct channel_manager;

/* Called on the sender thread. `body` is the response after its header (NULL when
 * the request was dropped because the broker was removed). */
typedef void (*channel_response_fn)(int32_t broker_id, int16_t api_key, int16_t api_version,
				    const uint8_t *body, size_t len, void *arg);

struct channel_manager *channel_manager_new(int32_t controller_id, int32_t socket_timeout_ms);
/* Channels opened from now on are secured as s says (TLS, SASL; the caller keeps s). */
struct client_security;
void channel_manager_set_security(struct channel_manager *cm, const struct client_security *s);
/* Destroys every channel (dropped requests get their callback with body NULL). */
void channel_manager_free(struct channel_manager *cm);

void channel_manager_add_broker(struct channel_manager *cm, int32_t broker_id, const char *host, int port);
void channel_manager_remove_broker(struct channel_manager *cm, int32_t broker_id);
int channel_manager_has_broker(struct channel_manager *cm, int32_t broker_id);

/* Queue a request (body without header; the bytes are taken, `body` left empty). */
void channel_manager_send(struct channel_manager *cm, int32_t broker_id, int16_t api_key, int16_t api_version,
			  struct wbuf *body, channel_response_fn cb, void *arg);

/*
 * The seam for tests: a manager whose calls go to `ops` (with `impl` first) instead
 * of sender threads and sockets, e.g. one recording what the controller would send
 * (tests/unit/fake_channel.c).  channel_manager_free calls free(impl) and frees the
 * manager.  Managers from channel_manager_new have no ops.
 */
struct channel_ops {
	void (*add_broker)(void *impl, int32_t broker_id, const char *host, int port);
	void (*remove_broker)(void *impl, int32_t broker_id);
	int (*has_broker)(void *impl, int32_t broker_id);
	void (*send)(void *impl, int32_t broker_id, int16_t api_key, int16_t api_version, struct wbuf *body,
		     channel_response_fn cb, void *arg);
	void (*free)(void *impl);
};
struct channel_manager *channel_manager_new_with_ops(const struct channel_ops *ops, void *impl);

/* How a controller makes its channels when it becomes active (channel_manager_new unless a test says otherwise). */
typedef struct channel_manager *(*channel_manager_factory_fn)(int32_t controller_id, int32_t socket_timeout_ms,
								void *arg);

#endif
