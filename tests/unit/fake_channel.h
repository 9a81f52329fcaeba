/*
 * A recording stand-in for the controller's channels to brokers: every request
 * the controller queues for a broker it has a channel to is kept (broker, API,
 * version, body bytes) for the test to decode; nothing is sent and no response
 * comes back.  A request for a broker without a channel is dropped with its
 * callback called with body NULL, as channel.c does.  One recorder outlives the
 * managers a controller makes and frees as it gains and loses the controller role.
 */
#ifndef SAMSA_TESTS_FAKE_CHANNEL_H
#define SAMSA_TESTS_FAKE_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct channel_manager;

struct fake_request {
	int32_t broker_id;
	int16_t api_key;
	int16_t api_version;
	uint8_t *body;
	size_t len;
};

struct fake_channel;

struct fake_channel *fake_channel_new(void);
void fake_channel_free(struct fake_channel *fc);
/* A channel_manager_factory_fn: arg is the recorder. */
struct channel_manager *fake_channel_factory(int32_t controller_id, int32_t socket_timeout_ms, void *arg);

int fake_channel_count(const struct fake_channel *fc);
const struct fake_request *fake_channel_at(const struct fake_channel *fc, int i);
/* Forgets what was recorded (the channels stay). */
void fake_channel_clear(struct fake_channel *fc);
/* Whether the current manager has a channel to `broker_id`. */
bool fake_channel_connected(const struct fake_channel *fc, int32_t broker_id);
/* Managers made so far, and whether one is alive now. */
int fake_channel_managers(const struct fake_channel *fc);
bool fake_channel_active(const struct fake_channel *fc);

#endif
