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
#include <stdint.h>

struct wbuf;
struct channel_manager;

/* Called on the sender thread. `body` is the response after its header (NULL when
 * the request was dropped because the broker was removed). */
typedef void (*channel_response_fn)(int32_t broker_id, int16_t api_key, int16_t api_version,
				    const uint8_t *body, size_t len, void *arg);

struct channel_manager *channel_manager_new(int32_t controller_id, int32_t socket_timeout_ms);
/* Destroys every channel (dropped requests get their callback with body NULL). */
void channel_manager_free(struct channel_manager *cm);

void channel_manager_add_broker(struct channel_manager *cm, int32_t broker_id, const char *host, int port);
void channel_manager_remove_broker(struct channel_manager *cm, int32_t broker_id);
int channel_manager_has_broker(struct channel_manager *cm, int32_t broker_id);

/* Queue a request (body without header; the bytes are taken, `body` left empty). */
void channel_manager_send(struct channel_manager *cm, int32_t broker_id, int16_t api_key, int16_t api_version,
			  struct wbuf *body, channel_response_fn cb, void *arg);

#endif
