/*
 * How a broker's own connections to other brokers (the replica fetchers, the
 * controller's channels, controlled shutdown) secure themselves when the
 * inter-broker listener is SSL, SASL_PLAINTEXT or SASL_SSL: TLS with a client
 * context, then SASL (PLAIN or SCRAM) with the broker's own credentials, as
 * Kafka's inter-broker clients do.  sasl_client_authenticate runs the SASL
 * exchange (SaslHandshake v1, SaslAuthenticate v1) over any blocking
 * transport.
 */
#ifndef SAMSA_UTIL_CLIENT_SECURITY_H
#define SAMSA_UTIL_CLIENT_SECURITY_H

#include <stdbool.h>
#include <stddef.h>

struct client_security {
	void *tls_ctx;              /* OpenSSL client SSL_CTX, NULL for plaintext */
	bool verify_host;           /* ssl.endpoint.identification.algorithm=https */
	const char *sasl_mechanism; /* PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; NULL for no SASL */
	const char *sasl_username;
	const char *sasl_password;
};

/* A blocking transport: write all or read all n bytes; 0, or -1 on error. */
struct client_io {
	int (*write_all)(void *arg, const void *p, size_t n);
	int (*read_all)(void *arg, void *p, size_t n);
	void *arg;
};

/* 0 when authenticated; -1 with the reason in err (the broker's error message when it gave one). */
int sasl_client_authenticate(const struct client_io *io, const char *client_id, const struct client_security *s,
			     char *err, size_t err_len);

#endif
