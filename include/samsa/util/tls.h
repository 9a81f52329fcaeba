/*
 * TLS contexts from Kafka's ssl.* settings [Kafka's DefaultSslEngineFactory],
 * for the broker's SSL listeners, its inter-broker client side and the admin
 * CLI, and the principal of a peer's certificate [DefaultSslPrincipalBuilder,
 * SslPrincipalMapper].
 *
 * Keystores: PKCS12 files (ssl.keystore.type=PKCS12), PEM files
 * (ssl.keystore.type=PEM: the certificate chain and the private key in one
 * file) or inline PEM (ssl.keystore.certificate.chain + ssl.keystore.key).
 * A JKS keystore is refused with a message that names PKCS12 and PEM.
 * Truststores likewise: PKCS12, PEM, or inline ssl.truststore.certificates.
 */
#ifndef SAMSA_UTIL_TLS_H
#define SAMSA_UTIL_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* The ssl.* values as strings (NULL: not set), as Kafka names them. */
struct tls_settings {
	const char *keystore_type;              /* ssl.keystore.type */
	const char *keystore_location;          /* ssl.keystore.location */
	const char *keystore_password;          /* ssl.keystore.password */
	const char *key_password;               /* ssl.key.password */
	const char *keystore_certificate_chain; /* ssl.keystore.certificate.chain (PEM text) */
	const char *keystore_key;               /* ssl.keystore.key (PEM text) */
	const char *truststore_type;            /* ssl.truststore.type */
	const char *truststore_location;        /* ssl.truststore.location */
	const char *truststore_password;        /* ssl.truststore.password */
	const char *truststore_certificates;    /* ssl.truststore.certificates (PEM text) */
	const char *client_auth;                /* ssl.client.auth: none, requested, required (servers) */
	const char *enabled_protocols;          /* ssl.enabled.protocols, e.g. "TLSv1.2,TLSv1.3" */
	const char *cipher_suites;              /* ssl.cipher.suites; empty: OpenSSL's defaults */
};

struct ssl_ctx_st;
struct ssl_st;

/*
 * A new SSL_CTX for a server (listener) or a client, or NULL with a message
 * in err naming the setting at fault.  A server needs a keystore; a client
 * verifies the server against the truststore (the system's CAs when none is
 * set).
 */
struct ssl_ctx_st *tls_context_new(const struct tls_settings *s, bool server, char *err, size_t err_len);
void tls_context_free(struct ssl_ctx_st *ctx);

/*
 * Check ssl.principal.mapping.rules ("DEFAULT", or RULE:pattern/replacement/[LU]
 * entries separated by commas); 0, or -1 with a message in err.
 */
int tls_principal_rules_check(const char *rules, char *err, size_t err_len);
/*
 * The principal of the peer of an established connection, Kafka's way:
 * "User:" and its certificate's subject in RFC 2253 form, mapped by rules;
 * "User:ANONYMOUS" without a certificate.
 */
void tls_peer_principal(struct ssl_st *ssl, const char *rules, char *out, size_t cap);
/* The subject DN mapped by rules (without "User:"); exposed for tests. */
void tls_map_principal(const char *dn, const char *rules, char *out, size_t cap);

/*
 * The client side over a blocking socket (the replica fetchers, the
 * controller's channels, the admin CLI): handshake on the connected fd within
 * its send/receive timeouts, with SNI and, when verify_host, the server
 * certificate checked against host (a name or an IP address, as Kafka's
 * ssl.endpoint.identification.algorithm=https does).  NULL with err filled on
 * failure; the fd stays the caller's either way.
 */
struct ssl_st *tls_client_connect(struct ssl_ctx_st *ctx, int fd, const char *host, bool verify_host, char *err,
				  size_t err_len);
/* 0, or -1 on error, timeout or EOF, like sock_write_all / sock_read_all. */
int tls_write_all(struct ssl_st *ssl, const void *p, size_t n);
int tls_read_all(struct ssl_st *ssl, void *p, size_t n);
/* Sends close_notify when it can and frees the session (not the fd). */
void tls_close(struct ssl_st *ssl);

/* The last OpenSSL error queue of this thread as text (cleared), for logs. */
void tls_last_error(char *out, size_t cap);

#endif
