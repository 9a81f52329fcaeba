/* Blocking request/response over one TCP connection (see kclient.h). */
#include "samsa/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "samsa/proto.h"
#include "samsa/util/endian.h"
#include "samsa/util/client_security.h"
#include "samsa/util/log.h"
#include "samsa/util/sockio.h"
#include "samsa/util/tls.h"

#define MAX_RESPONSE (256 * 1024 * 1024)

static int split_hostport(const char *hostport, char *host, size_t cap, int *port_out)
{
	const char *colon = strrchr(hostport, ':');
	if (!colon)
		return -1;
	size_t hl = (size_t)(colon - hostport);
	if (hl >= cap)
		return -1;
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -1;
	*port_out = (int)port;
	return 0;
}

static int io_write(void *arg, const void *p, size_t n)
{
	struct kclient *kc = arg;
	return kc->ssl ? tls_write_all(kc->ssl, p, n) : sock_write_all(kc->fd, p, n);
}

static int io_read(void *arg, void *p, size_t n)
{
	struct kclient *kc = arg;
	return kc->ssl ? tls_read_all(kc->ssl, p, n) : sock_read_all(kc->fd, p, n);
}

static const struct client_security *default_security;

void kclient_set_default_security(const struct client_security *s) { default_security = s; }

static int raw_connect(struct kclient *kc, const char *hostport, int timeout_ms)
{
	memset(kc, 0, sizeof *kc);
	kc->fd = -1;
	snprintf(kc->client_id, sizeof kc->client_id, "samsa-cli");
	wbuf_init(&kc->resp);
	char host[256];
	int port;
	if (split_hostport(hostport, host, sizeof host, &port) != 0)
		return -1;
	kc->fd = sock_connect(host, port, timeout_ms);
	return kc->fd >= 0 ? 0 : -1;
}

/* TLS, then SASL, on a connected kc, as s says. */
static int secure(struct kclient *kc, const char *hostport, const struct client_security *s)
{
	char host[256];
	int port;
	split_hostport(hostport, host, sizeof host, &port);
	char err[512];
	if (s->tls_ctx) {
		kc->ssl = tls_client_connect(s->tls_ctx, kc->fd, host, s->verify_host, err, sizeof err);
		if (!kc->ssl) {
			log_warn("Connection to %s: %s", hostport, err);
			return -1;
		}
	}
	if (s->sasl_mechanism) {
		struct client_io io = { io_write, io_read, kc };
		if (sasl_client_authenticate(&io, kc->client_id, s, err, sizeof err) != 0) {
			log_warn("Connection to %s: %s", hostport, err);
			return -1;
		}
	}
	return 0;
}

int kclient_connect_secure(struct kclient *kc, const char *hostport, int timeout_ms, const struct client_security *s)
{
	if (raw_connect(kc, hostport, timeout_ms) != 0)
		return -1;
	if (s && secure(kc, hostport, s) != 0) {
		kclient_close(kc);
		return -1;
	}
	return 0;
}

int kclient_connect(struct kclient *kc, const char *hostport, int timeout_ms)
{
	return kclient_connect_secure(kc, hostport, timeout_ms, default_security);
}

void kclient_close(struct kclient *kc)
{
	tls_close(kc->ssl);
	kc->ssl = NULL;
	if (kc->fd >= 0)
		close(kc->fd);
	kc->fd = -1;
	wbuf_free(&kc->resp);
}

static int read_all(struct kclient *kc, void *p, size_t n)
{
	return kc->ssl ? tls_read_all(kc->ssl, p, n) : sock_read_all(kc->fd, p, n);
}

static int call(struct kclient *kc, int16_t api_key, int16_t version, const void *request, struct arena *a,
		void **response, bool own_copy)
{
	const struct proto_api *api = proto_api_get(api_key);
	if (!api)
		return -1;
	bool flex = api->flexible_from >= 0 && version >= api->flexible_from;
	int32_t corr = ++kc->correlation_id;
	struct wbuf w;
	wbuf_init(&w);
	wbuf_i32(&w, 0);
	wbuf_i16(&w, api_key);
	wbuf_i16(&w, version);
	wbuf_i32(&w, corr);
	wbuf_string(&w, kstr_c(kc->client_id));
	if (flex)
		wbuf_uvarint(&w, 0);
	proto_request_encode(api_key, version, &w, request);
	wbuf_patch_i32(&w, 0, (int32_t)(w.len - 4));
	int rc = kc->ssl ? tls_write_all(kc->ssl, w.data, w.len) : sock_write_all(kc->fd, w.data, w.len);
	wbuf_free(&w);
	if (rc)
		return -1;
	uint8_t sz[4];
	if (read_all(kc, sz, 4))
		return -1;
	uint32_t n = be32_load(sz);
	if (n < 4 || n > MAX_RESPONSE)
		return -1;
	wbuf_reset(&kc->resp);
	if (read_all(kc, wbuf_extend(&kc->resp, n), n))
		return -1;
	const uint8_t *frame = kc->resp.data;
	if (own_copy) {
		uint8_t *copy = arena_alloc(a, n);
		memcpy(copy, kc->resp.data, n);
		frame = copy;
	}
	struct rd r;
	rd_init(&r, frame, n);
	if (rd_i32(&r) != corr)
		return -1;
	if (response_header_version(api_key, version) >= 1) {
		uint32_t ntags = rd_uvarint(&r);
		for (uint32_t i = 0; i < ntags && !r.err; i++) {
			rd_uvarint(&r);
			rd_skip(&r, rd_uvarint(&r));
		}
	}
	if (r.err)
		return -1;
	return proto_response_decode(api_key, version, &r, a, response) == 0 && !r.err ? 0 : -1;
}

int kclient_call(struct kclient *kc, int16_t api_key, int16_t version, const void *request, struct arena *a,
		 void **response)
{
	return call(kc, api_key, version, request, a, response, false);
}

int kclient_call_arena(struct kclient *kc, int16_t api_key, int16_t version, const void *request, struct arena *a,
		       void **response)
{
	return call(kc, api_key, version, request, a, response, true);
}
