/* TLS settings of the broker's listeners (see broker_tls.c). */
#ifndef SAMSA_SERVER_BROKER_TLS_H
#define SAMSA_SERVER_BROKER_TLS_H

#include <stdbool.h>

struct config;
struct listener_spec;
struct tls_settings;

/* The ssl.* settings that apply to listener (its overrides first); pointers into cfg. */
void broker_tls_settings(const struct config *cfg, const char *listener, struct tls_settings *s);
/* An SSL or SASL_SSL listener gets its context and principal rules; 0, or -1 after logging why. */
int broker_tls_prepare(const struct config *cfg, struct listener_spec *l);
void broker_tls_release(struct listener_spec *l);
/*
 * For an SSL inter-broker listener: the client context the fetchers and the
 * controller's channels connect with (its truststore, and its keystore for
 * brokers that require client certificates); *verify_host from
 * ssl.endpoint.identification.algorithm.  NULL after logging why.
 */
void *broker_tls_client_context(const struct config *cfg, const char *listener, bool *verify_host);

#endif
