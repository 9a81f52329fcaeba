/*
 * The TLS side of the broker's listeners: each SSL listener's ssl.* settings,
 * with Kafka's per-listener overrides (listener.name.<listener>.ssl.*), made
 * into an OpenSSL context before the listener binds.  A setting that cannot be
 * used (a JKS keystore, a wrong password, a missing keystore) stops the start
 * with a message that names it, as Kafka's does.
 */
#include "server/broker_tls.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "samsa/config.h"
#include "samsa/net.h"
#include "samsa/util/log.h"
#include "samsa/util/tls.h"

void broker_tls_settings(const struct config *cfg, const char *listener, struct tls_settings *s)
{
#define GET(key) config_listener_raw(cfg, listener, key)
	*s = (struct tls_settings){
		.keystore_type = GET("ssl.keystore.type"),
		.keystore_location = GET("ssl.keystore.location"),
		.keystore_password = GET("ssl.keystore.password"),
		.key_password = GET("ssl.key.password"),
		.keystore_certificate_chain = GET("ssl.keystore.certificate.chain"),
		.keystore_key = GET("ssl.keystore.key"),
		.truststore_type = GET("ssl.truststore.type"),
		.truststore_location = GET("ssl.truststore.location"),
		.truststore_password = GET("ssl.truststore.password"),
		.truststore_certificates = GET("ssl.truststore.certificates"),
		.client_auth = GET("ssl.client.auth"),
		.enabled_protocols = GET("ssl.enabled.protocols"),
		.cipher_suites = GET("ssl.cipher.suites"),
	};
#undef GET
}

int broker_tls_prepare(const struct config *cfg, struct listener_spec *l)
{
	if (l->protocol != SECPROTO_SSL && l->protocol != SECPROTO_SASL_SSL)
		return 0;
	struct tls_settings s;
	broker_tls_settings(cfg, l->name, &s);
	char err[512] = "";
	l->principal_rules = config_listener_raw(cfg, l->name, "ssl.principal.mapping.rules");
	if (tls_principal_rules_check(l->principal_rules, err, sizeof err) != 0) {
		log_error("Listener %s: %s", l->name, err);
		return -1;
	}
	l->tls_ctx = tls_context_new(&s, true, err, sizeof err);
	if (!l->tls_ctx) {
		log_error("Listener %s: %s", l->name, err);
		return -1;
	}
	log_info("Listener %s: TLS with %s%s, client auth %s", l->name,
		 s.keystore_location ? s.keystore_location : "an inline PEM keystore",
		 s.keystore_type && s.keystore_location ? "" : "", s.client_auth ? s.client_auth : "none");
	return 0;
}

void broker_tls_release(struct listener_spec *l)
{
	tls_context_free(l->tls_ctx);
	l->tls_ctx = NULL;
}

void *broker_tls_client_context(const struct config *cfg, const char *listener, bool *verify_host)
{
	struct tls_settings s;
	broker_tls_settings(cfg, listener, &s);
	s.client_auth = NULL; /* a server's setting */
	const char *alg = config_listener_raw(cfg, listener, "ssl.endpoint.identification.algorithm");
	*verify_host = alg && !strcasecmp(alg, "https");
	char err[512] = "";
	void *ctx = tls_context_new(&s, false, err, sizeof err);
	if (!ctx)
		log_error("Inter-broker listener %s: %s", listener, err);
	return ctx;
}
