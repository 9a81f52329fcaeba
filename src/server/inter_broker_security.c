/*
 * How the broker's own connections to other brokers are secured [Kafka's
 * inter-broker client config]: the inter-broker listener's protocol decides;
 * SSL gives a client TLS context from that listener's ssl.* settings, SASL
 * the mechanism of sasl.mechanism.inter.broker.protocol with the username
 * and password of the listener's JAAS config for it
 * (listener.name.<l>.<mechanism>.sasl.jaas.config), as Kafka's brokers use.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/config.h"
#include "samsa/util/client_security.h"
#include "samsa/util/jaas.h"
#include "samsa/util/log.h"
#include "samsa/util/tls.h"
#include "samsa/util/xalloc.h"
#include "server/broker.h"
#include "server/broker_tls.h"
#include "server/sasl.h"

int broker_inter_broker_security(struct broker *b)
{
	const struct broker_config *bc = b->bc;
	enum config_security_protocol p = bc->inter_broker_security_protocol;
	if (p == CONFIG_SECPROTO_PLAINTEXT)
		return 0;
	struct client_security *s = xcalloc(1, sizeof *s);
	b->inter_broker_security = s;
	const char *l = bc->inter_broker_listener_name;
	if (p == CONFIG_SECPROTO_SSL || p == CONFIG_SECPROTO_SASL_SSL) {
		s->tls_ctx = broker_tls_client_context(b->config, l, &s->verify_host);
		if (!s->tls_ctx)
			return -1;
	}
	if (p == CONFIG_SECPROTO_SASL_PLAINTEXT || p == CONFIG_SECPROTO_SASL_SSL) {
		const char *mech = config_get_raw(b->config, "sasl.mechanism.inter.broker.protocol");
		if (!mech || (strcmp(mech, "PLAIN") && strcmp(mech, "SCRAM-SHA-256") && strcmp(mech, "SCRAM-SHA-512"))) {
			log_error("sasl.mechanism.inter.broker.protocol %s is not supported: use PLAIN, SCRAM-SHA-256 or "
				  "SCRAM-SHA-512", mech ? mech : "(unset)");
			return -1;
		}
		char key[64];
		size_t k = 0;
		for (const char *c = mech; *c && k + 1 < sizeof key; c++)
			key[k++] = (char)tolower((unsigned char)*c);
		snprintf(key + k, sizeof key - k, ".sasl.jaas.config");
		const char *jaas = config_listener_raw(b->config, l, key);
		struct jaas_option *o = NULL;
		int n = 0;
		if (!jaas || jaas_parse(jaas, &o, &n) != 0) {
			log_error("Inter-broker listener %s: SASL %s needs listener.name.%s.%s with username and password",
				  l, mech, l, key);
			return -1;
		}
		for (int i = 0; i < n; i++) {
			if (!strcmp(o[i].key, "username") && !s->sasl_username)
				s->sasl_username = xstrdup(o[i].value);
			else if (!strcmp(o[i].key, "password") && !s->sasl_password)
				s->sasl_password = xstrdup(o[i].value);
		}
		jaas_free(o, n);
		if (!s->sasl_username || !s->sasl_password) {
			log_error("Inter-broker listener %s: the JAAS config for %s lacks username or password", l, mech);
			return -1;
		}
		s->sasl_mechanism = xstrdup(mech);
	}
	return 0;
}

void broker_inter_broker_security_free(struct broker *b)
{
	struct client_security *s = b->inter_broker_security;
	if (!s)
		return;
	tls_context_free(s->tls_ctx);
	free((char *)s->sasl_mechanism);
	free((char *)s->sasl_username);
	free((char *)s->sasl_password);
	free(s);
	b->inter_broker_security = NULL;
}
