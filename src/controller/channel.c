/* Controller-to-broker channels: a blocking sender thread per broker (see channel.h). */
#include "controller/channel.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "samsa/proto.h"
#include "samsa/util/buf.h"
#include "samsa/util/endian.h"
#include "samsa/util/log.h"
#include "samsa/util/sockio.h"
#include "samsa/util/client_security.h"
#include "samsa/util/tls.h"
#include "samsa/util/xalloc.h"

/* A response bigger than this from a broker is nonsense for controller requests. */
#define MAX_RESPONSE_BYTES (100 * 1024 * 1024)

struct chan_req {
	struct chan_req *next;
	int16_t api_key;
	int16_t api_version;
	struct wbuf body;
	channel_response_fn cb;
	void *arg;
};

struct channel {
	struct channel *next;
	struct channel_manager *cm;
	int32_t broker_id;
	char *host;
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct chan_req *head, *tail;
	bool stop;
	int fd; /* touched by the sender thread; shutdown() from outside to wake it */
	void *ssl; /* the TLS session over fd when the inter-broker listener is SSL */
	int32_t correlation_id;
};

struct channel_manager {
	pthread_mutex_t lock;
	struct channel *channels;
	int32_t controller_id;
	int32_t socket_timeout_ms;
	char client_id[64];
	const struct client_security *security; /* channel_manager_set_security; NULL for plaintext */
	/* channel_manager_new_with_ops: every call goes here instead (tests); NULL for sender threads. */
	const struct channel_ops *ops;
	void *impl;
};

struct channel_manager *channel_manager_new_with_ops(const struct channel_ops *ops, void *impl)
{
	struct channel_manager *cm = xcalloc(1, sizeof *cm);
	cm->ops = ops;
	cm->impl = impl;
	return cm;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static bool is_flexible(int16_t api_key, int16_t version)
{
	const struct proto_api *api = proto_api_get(api_key);
	return api && api->flexible_from >= 0 && version >= api->flexible_from;
}

static int chan_read_all(struct channel *ch, void *p, size_t n)
{
	return ch->ssl ? tls_read_all(ch->ssl, p, n) : sock_read_all(ch->fd, p, n);
}

/* The transport of a connection being secured: fd, or ssl once the TLS handshake is done. */
struct pending_io {
	int fd;
	void *ssl;
};

static int pending_write(void *arg, const void *p, size_t n)
{
	struct pending_io *io = arg;
	return io->ssl ? tls_write_all(io->ssl, p, n) : sock_write_all(io->fd, p, n);
}

static int pending_read(void *arg, void *p, size_t n)
{
	struct pending_io *io = arg;
	return io->ssl ? tls_read_all(io->ssl, p, n) : sock_read_all(io->fd, p, n);
}

/* TLS and SASL on a fresh connection, as the inter-broker listener asks; 0 or -1 (logged). */
static int secure(struct channel *ch, int fd, void **ssl_out)
{
	const struct client_security *s = ch->cm->security;
	*ssl_out = NULL;
	if (!s)
		return 0;
	char err[512];
	struct pending_io io = { fd, NULL };
	if (s->tls_ctx) {
		io.ssl = tls_client_connect(s->tls_ctx, fd, ch->host, s->verify_host, err, sizeof err);
		if (!io.ssl) {
			log_warn("Controller channel to broker %d: %s", ch->broker_id, err);
			return -1;
		}
	}
	if (s->sasl_mechanism) {
		struct client_io cio = { pending_write, pending_read, &io };
		if (sasl_client_authenticate(&cio, ch->cm->client_id, s, err, sizeof err) != 0) {
			log_warn("Controller channel to broker %d: %s", ch->broker_id, err);
			tls_close(io.ssl);
			return -1;
		}
	}
	*ssl_out = io.ssl;
	return 0;
}

/* One round trip; returns 0 and fills `resp` (the whole response frame) or -1 on I/O trouble. */
static int round_trip(struct channel *ch, struct chan_req *r, struct wbuf *resp, size_t *body_off)
{
	struct wbuf frame;
	wbuf_init(&frame);
	int32_t corr = ch->correlation_id++;
	bool flex = is_flexible(r->api_key, r->api_version);
	wbuf_i32(&frame, 0); /* size, patched below */
	wbuf_i16(&frame, r->api_key);
	wbuf_i16(&frame, r->api_version);
	wbuf_i32(&frame, corr);
	wbuf_string(&frame, kstr_c(ch->cm->client_id));
	if (flex)
		wbuf_uvarint(&frame, 0); /* no tagged fields in the header */
	wbuf_put(&frame, r->body.data, r->body.len);
	wbuf_patch_i32(&frame, 0, (int32_t)(frame.len - 4));
	int rc = ch->ssl ? tls_write_all(ch->ssl, frame.data, frame.len) : sock_write_all(ch->fd, frame.data, frame.len);
	wbuf_free(&frame);
	if (rc)
		return -1;

	uint8_t sz[4];
	if (chan_read_all(ch, sz, 4))
		return -1;
	int32_t n = (int32_t)be32_load(sz);
	if (n < 4 || n > MAX_RESPONSE_BYTES)
		return -1;
	wbuf_reset(resp);
	uint8_t *p = wbuf_extend(resp, (size_t)n);
	if (chan_read_all(ch, p, (size_t)n))
		return -1;
	struct rd rd;
	rd_init(&rd, resp->data, resp->len);
	if (rd_i32(&rd) != corr) {
		log_error("Controller channel to broker %d: correlation id mismatch", ch->broker_id);
		return -1;
	}
	/* Response header v1 (flexible versions, except ApiVersions) carries tagged fields. */
	if (flex && r->api_key != API_API_VERSIONS) {
		uint32_t ntags = rd_uvarint(&rd);
		for (uint32_t i = 0; i < ntags && !rd.err; i++) {
			rd_uvarint(&rd);
			rd_skip(&rd, rd_uvarint(&rd));
		}
	}
	if (rd.err)
		return -1;
	*body_off = (size_t)(rd.p - resp->data);
	return 0;
}

static void *sender_main(void *arg)
{
	struct channel *ch = arg;
	struct wbuf resp;
	wbuf_init(&resp);
	int backoff = 100;

	for (;;) {
		pthread_mutex_lock(&ch->lock);
		while (!ch->head && !ch->stop)
			pthread_cond_wait(&ch->cond, &ch->lock);
		if (ch->stop) {
			pthread_mutex_unlock(&ch->lock);
			break;
		}
		struct chan_req *r = ch->head;
		pthread_mutex_unlock(&ch->lock);

		if (ch->fd < 0) {
			int fd = sock_connect(ch->host, ch->port, ch->cm->socket_timeout_ms);
			void *ssl = NULL;
			if (fd >= 0 && secure(ch, fd, &ssl) != 0) {
				close(fd);
				fd = -1;
			}
			if (fd < 0) {
				log_warn("Controller channel: cannot connect to broker %d at %s:%d; retrying",
					 ch->broker_id, ch->host, ch->port);
				sleep_ms(backoff);
				backoff = backoff < 1000 ? backoff * 2 : 1000;
				continue;
			}
			pthread_mutex_lock(&ch->lock);
			ch->fd = fd;
			ch->ssl = ssl;
			bool stop = ch->stop;
			pthread_mutex_unlock(&ch->lock);
			if (stop)
				continue;
			backoff = 100;
			log_info("Controller channel connected to broker %d at %s:%d", ch->broker_id, ch->host,
				 ch->port);
		}
		size_t off = 0;
		if (round_trip(ch, r, &resp, &off) != 0) {
			pthread_mutex_lock(&ch->lock);
			tls_close(ch->ssl);
			ch->ssl = NULL;
			close(ch->fd);
			ch->fd = -1;
			bool stop = ch->stop;
			pthread_mutex_unlock(&ch->lock);
			if (!stop) {
				log_warn("Controller channel to broker %d failed; reconnecting", ch->broker_id);
				sleep_ms(backoff);
			}
			continue;
		}
		pthread_mutex_lock(&ch->lock);
		ch->head = r->next;
		if (!ch->head)
			ch->tail = NULL;
		pthread_mutex_unlock(&ch->lock);
		if (r->cb)
			r->cb(ch->broker_id, r->api_key, r->api_version, resp.data + off, resp.len - off, r->arg);
		wbuf_free(&r->body);
		free(r);
	}
	wbuf_free(&resp);
	return NULL;
}

struct channel_manager *channel_manager_new(int32_t controller_id, int32_t socket_timeout_ms)
{
	struct channel_manager *cm = xcalloc(1, sizeof *cm);
	pthread_mutex_init(&cm->lock, NULL);
	cm->controller_id = controller_id;
	cm->socket_timeout_ms = socket_timeout_ms > 0 ? socket_timeout_ms : 30000;
	snprintf(cm->client_id, sizeof cm->client_id, "%d", controller_id);
	return cm;
}

static void channel_destroy(struct channel *ch)
{
	pthread_mutex_lock(&ch->lock);
	ch->stop = true;
	if (ch->fd >= 0)
		shutdown(ch->fd, SHUT_RDWR); /* wakes a blocked send/recv */
	pthread_cond_signal(&ch->cond);
	pthread_mutex_unlock(&ch->lock);
	pthread_join(ch->thread, NULL);
	tls_close(ch->ssl);
	if (ch->fd >= 0)
		close(ch->fd);
	struct chan_req *r = ch->head;
	while (r) {
		struct chan_req *next = r->next;
		if (r->cb)
			r->cb(ch->broker_id, r->api_key, r->api_version, NULL, 0, r->arg);
		wbuf_free(&r->body);
		free(r);
		r = next;
	}
	pthread_mutex_destroy(&ch->lock);
	pthread_cond_destroy(&ch->cond);
	free(ch->host);
	free(ch);
}

void channel_manager_set_security(struct channel_manager *cm, const struct client_security *s) { cm->security = s; }

void channel_manager_free(struct channel_manager *cm)
{
	if (!cm)
		return;
	if (cm->ops) {
		cm->ops->free(cm->impl);
		free(cm);
		return;
	}
	struct channel *ch = cm->channels;
	while (ch) {
		struct channel *next = ch->next;
		channel_destroy(ch);
		ch = next;
	}
	pthread_mutex_destroy(&cm->lock);
	free(cm);
}

void channel_manager_add_broker(struct channel_manager *cm, int32_t broker_id, const char *host, int port)
{
	if (cm->ops) {
		cm->ops->add_broker(cm->impl, broker_id, host, port);
		return;
	}
	pthread_mutex_lock(&cm->lock);
	for (struct channel *c = cm->channels; c; c = c->next) {
		if (c->broker_id == broker_id) {
			pthread_mutex_unlock(&cm->lock);
			return;
		}
	}
	struct channel *ch = xcalloc(1, sizeof *ch);
	ch->cm = cm;
	ch->broker_id = broker_id;
	ch->host = xstrdup(host);
	ch->port = port;
	ch->fd = -1;
	pthread_mutex_init(&ch->lock, NULL);
	pthread_cond_init(&ch->cond, NULL);
	ch->next = cm->channels;
	cm->channels = ch;
	pthread_create(&ch->thread, NULL, sender_main, ch);
	pthread_mutex_unlock(&cm->lock);
}

void channel_manager_remove_broker(struct channel_manager *cm, int32_t broker_id)
{
	if (cm->ops) {
		cm->ops->remove_broker(cm->impl, broker_id);
		return;
	}
	pthread_mutex_lock(&cm->lock);
	struct channel **pp = &cm->channels, *ch = NULL;
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->broker_id == broker_id) {
			ch = *pp;
			*pp = ch->next;
			break;
		}
	}
	pthread_mutex_unlock(&cm->lock);
	if (ch)
		channel_destroy(ch);
}

int channel_manager_has_broker(struct channel_manager *cm, int32_t broker_id)
{
	if (cm->ops)
		return cm->ops->has_broker(cm->impl, broker_id);
	pthread_mutex_lock(&cm->lock);
	int found = 0;
	for (struct channel *c = cm->channels; c; c = c->next)
		if (c->broker_id == broker_id)
			found = 1;
	pthread_mutex_unlock(&cm->lock);
	return found;
}

void channel_manager_send(struct channel_manager *cm, int32_t broker_id, int16_t api_key, int16_t api_version,
			  struct wbuf *body, channel_response_fn cb, void *arg)
{
	if (cm->ops) {
		cm->ops->send(cm->impl, broker_id, api_key, api_version, body, cb, arg);
		return;
	}
	struct chan_req *r = xcalloc(1, sizeof *r);
	r->api_key = api_key;
	r->api_version = api_version;
	r->body = *body;
	wbuf_init(body);
	r->cb = cb;
	r->arg = arg;

	pthread_mutex_lock(&cm->lock);
	struct channel *ch = cm->channels;
	while (ch && ch->broker_id != broker_id)
		ch = ch->next;
	if (!ch) {
		pthread_mutex_unlock(&cm->lock);
		if (cb)
			cb(broker_id, api_key, api_version, NULL, 0, arg);
		wbuf_free(&r->body);
		free(r);
		return;
	}
	pthread_mutex_lock(&ch->lock);
	if (ch->tail)
		ch->tail->next = r;
	else
		ch->head = r;
	ch->tail = r;
	pthread_cond_signal(&ch->cond);
	pthread_mutex_unlock(&ch->lock);
	pthread_mutex_unlock(&cm->lock);
}
