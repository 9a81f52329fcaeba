/*
 * The interface of src/client/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_CLIENT_H
#define SAMSA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/util/arena.h"
#include "samsa/util/buf.h"

/*
 * A minimal blocking Kafka client connection for the admin CLI and tests:
 * connect, send one request, read its response.  The broker itself never uses
 * this on a network thread.
 */
struct kclient {
	int fd;
	void *ssl;        /* an OpenSSL session over fd (kclient_connect_secure), or NULL */
	int32_t correlation_id;
	char client_id[64];
	struct wbuf resp; /* the last response frame */
};

/* "host:port"; returns 0 or -1 (errno-style message logged).  Secured as kclient_set_default_security says. */
int kclient_connect(struct kclient *kc, const char *hostport, int timeout_ms);
/*
 * The same, secured as s says (NULL: plaintext): TLS with s->tls_ctx (the
 * server's certificate checked against the host when s->verify_host), then
 * SASL with s->sasl_mechanism.  On failure the reason is logged at warn.
 */
struct client_security;
int kclient_connect_secure(struct kclient *kc, const char *hostport, int timeout_ms, const struct client_security *s);
/* Every kclient_connect from now on is secured as s says (the admin CLI's --command-config; the broker never sets it). */
void kclient_set_default_security(const struct client_security *s);
void kclient_close(struct kclient *kc);
/*
 * Encodes `request` at `version`, sends it, waits for the answer and decodes it into *response (in arena).
 * Strings and bytes in *response point into kc's receive buffer: valid until the next call on kc.
 */
int kclient_call(struct kclient *kc, int16_t api_key, int16_t version, const void *request, struct arena *a,
		 void **response);
/* The same, but the response frame is copied into the arena first: *response lives as long as a. */
int kclient_call_arena(struct kclient *kc, int16_t api_key, int16_t version, const void *request, struct arena *a,
		       void **response);

#endif
