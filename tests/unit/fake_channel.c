/* Recording controller channels (see fake_channel.h). */
#include "fake_channel.h"

#include <stdlib.h>
#include <string.h>

#include "controller/channel.h"
#include "samsa/util/buf.h"
#include "samsa/util/xalloc.h"

struct fake_channel {
	struct fake_request *reqs;
	int n_reqs;
	int32_t *connected;
	int n_connected;
	int managers;
	bool active;
};

static bool connected(const struct fake_channel *fc, int32_t id)
{
	for (int i = 0; i < fc->n_connected; i++)
		if (fc->connected[i] == id)
			return true;
	return false;
}

static void f_add(void *impl, int32_t broker_id, const char *host, int port)
{
	(void)host;
	(void)port;
	struct fake_channel *fc = impl;
	if (connected(fc, broker_id))
		return;
	fc->connected = xrealloc(fc->connected, sizeof *fc->connected * (size_t)(fc->n_connected + 1));
	fc->connected[fc->n_connected++] = broker_id;
}

static void f_remove(void *impl, int32_t broker_id)
{
	struct fake_channel *fc = impl;
	for (int i = 0; i < fc->n_connected; i++)
		if (fc->connected[i] == broker_id) {
			fc->connected[i] = fc->connected[--fc->n_connected];
			return;
		}
}

static int f_has(void *impl, int32_t broker_id) { return connected(impl, broker_id); }

static void f_send(void *impl, int32_t broker_id, int16_t api_key, int16_t api_version, struct wbuf *body,
		   channel_response_fn cb, void *arg)
{
	struct fake_channel *fc = impl;
	if (!connected(fc, broker_id)) {
		wbuf_free(body);
		wbuf_init(body);
		if (cb)
			cb(broker_id, api_key, api_version, NULL, 0, arg);
		return;
	}
	fc->reqs = xrealloc(fc->reqs, sizeof *fc->reqs * (size_t)(fc->n_reqs + 1));
	struct fake_request *r = &fc->reqs[fc->n_reqs++];
	r->broker_id = broker_id;
	r->api_key = api_key;
	r->api_version = api_version;
	r->len = body->len;
	r->body = xmalloc(body->len ? body->len : 1);
	memcpy(r->body, body->data, body->len);
	/* The bytes are taken, as channel_manager_send takes them. */
	wbuf_free(body);
	wbuf_init(body);
}

static void f_free(void *impl)
{
	struct fake_channel *fc = impl;
	fc->n_connected = 0;
	fc->active = false;
}

static const struct channel_ops fake_ops = {
	.add_broker = f_add,
	.remove_broker = f_remove,
	.has_broker = f_has,
	.send = f_send,
	.free = f_free,
};

struct fake_channel *fake_channel_new(void) { return xcalloc(1, sizeof(struct fake_channel)); }

void fake_channel_free(struct fake_channel *fc)
{
	if (!fc)
		return;
	fake_channel_clear(fc);
	free(fc->connected);
	free(fc);
}

struct channel_manager *fake_channel_factory(int32_t controller_id, int32_t socket_timeout_ms, void *arg)
{
	(void)controller_id;
	(void)socket_timeout_ms;
	struct fake_channel *fc = arg;
	fc->managers++;
	fc->active = true;
	fc->n_connected = 0;
	return channel_manager_new_with_ops(&fake_ops, fc);
}

int fake_channel_count(const struct fake_channel *fc) { return fc->n_reqs; }

const struct fake_request *fake_channel_at(const struct fake_channel *fc, int i)
{
	return i >= 0 && i < fc->n_reqs ? &fc->reqs[i] : NULL;
}

void fake_channel_clear(struct fake_channel *fc)
{
	for (int i = 0; i < fc->n_reqs; i++)
		free(fc->reqs[i].body);
	free(fc->reqs);
	fc->reqs = NULL;
	fc->n_reqs = 0;
}

bool fake_channel_connected(const struct fake_channel *fc, int32_t broker_id) { return connected(fc, broker_id); }

int fake_channel_managers(const struct fake_channel *fc) { return fc->managers; }

bool fake_channel_active(const struct fake_channel *fc) { return fc->active; }
