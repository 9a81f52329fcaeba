/* TLS settings of the broker's listeners (see broker_tls.c). */
#ifndef SAMSA_SERVER_BROKER_TLS_H
#define SAMSA_SERVER_BROKER_TLS_H

struct config;
struct listener_spec;
struct tls_settings;

/* The ssl.* settings that apply to listener (its overrides first); pointers into cfg. */
void broker_tls_settings(const struct config *cfg, const char *listener, struct tls_settings *s);
/* An SSL or SASL_SSL listener gets its context and principal rules; 0, or -1 after logging why. */
int broker_tls_prepare(const struct config *cfg, struct listener_spec *l);
void broker_tls_release(struct listener_spec *l);

#endif
