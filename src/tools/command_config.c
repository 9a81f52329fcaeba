/*
 * --command-config FILE for every samsa subcommand, as Kafka's tools take it:
 * a client properties file with security.protocol, the ssl.* keys (PEM or
 * PKCS12 stores; ssl.endpoint.identification.algorithm, https by default),
 * sasl.mechanism and sasl.jaas.config (username and password).  The option is
 * taken out of argv before the subcommand parses it, and every connection the
 * subcommand opens is then secured that way.
 */
#include "tools/commands.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "samsa/client.h"
#include "samsa/util/client_security.h"
#include "samsa/util/jaas.h"
#include "samsa/util/tls.h"
#include "samsa/util/xalloc.h"

struct prop {
	char *key, *value;
};

static struct prop *props;
static int n_props;
static struct client_security security;

static const char *get(const char *key)
{
	for (int i = n_props - 1; i >= 0; i--)
		if (!strcmp(props[i].key, key))
			return props[i].value;
	return NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* key=value or key:value lines; # and ! start comments (no continuations or escapes here). */
static int load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "samsa: cannot read --command-config %s\n", path);
		return -1;
	}
	char line[8192];
	while (fgets(line, sizeof line, f)) {
		char *l = trim(line);
		if (!*l || *l == '#' || *l == '!')
			continue;
		char *sep = strpbrk(l, "=:");
		if (!sep)
			continue;
		*sep = 0;
		props = xrealloc(props, sizeof *props * (size_t)(n_props + 1));
		props[n_props++] = (struct prop){ xstrdup(trim(l)), xstrdup(trim(sep + 1)) };
	}
	fclose(f);
	return 0;
}

static int build(void)
{
	const char *proto = get("security.protocol");
	if (!proto || !strcasecmp(proto, "PLAINTEXT"))
		return 0;
	bool tls = !strcasecmp(proto, "SSL") || !strcasecmp(proto, "SASL_SSL");
	bool sasl = !strcasecmp(proto, "SASL_PLAINTEXT") || !strcasecmp(proto, "SASL_SSL");
	if (!tls && !sasl) {
		fprintf(stderr, "samsa: security.protocol %s is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL\n",
			proto);
		return -1;
	}
	if (tls) {
		struct tls_settings s = {
			.keystore_type = get("ssl.keystore.type"),
			.keystore_location = get("ssl.keystore.location"),
			.keystore_password = get("ssl.keystore.password"),
			.key_password = get("ssl.key.password"),
			.keystore_certificate_chain = get("ssl.keystore.certificate.chain"),
			.keystore_key = get("ssl.keystore.key"),
			.truststore_type = get("ssl.truststore.type"),
			.truststore_location = get("ssl.truststore.location"),
			.truststore_password = get("ssl.truststore.password"),
			.truststore_certificates = get("ssl.truststore.certificates"),
			.enabled_protocols = get("ssl.enabled.protocols"),
			.cipher_suites = get("ssl.cipher.suites"),
		};
		char err[512];
		security.tls_ctx = tls_context_new(&s, false, err, sizeof err);
		if (!security.tls_ctx) {
			fprintf(stderr, "samsa: --command-config: %s\n", err);
			return -1;
		}
		const char *alg = get("ssl.endpoint.identification.algorithm");
		security.verify_host = !alg || !strcasecmp(alg, "https");
	}
	if (sasl) {
		const char *mech = get("sasl.mechanism");
		const char *jaas = get("sasl.jaas.config");
		struct jaas_option *o = NULL;
		int n = 0;
		if (!mech || !jaas || jaas_parse(jaas, &o, &n) != 0) {
			fprintf(stderr, "samsa: --command-config needs sasl.mechanism and a sasl.jaas.config with username "
					"and password\n");
			jaas_free(o, n);
			return -1;
		}
		security.sasl_mechanism = xstrdup(mech);
		for (int i = 0; i < n; i++) {
			if (!strcmp(o[i].key, "username"))
				security.sasl_username = xstrdup(o[i].value);
			else if (!strcmp(o[i].key, "password"))
				security.sasl_password = xstrdup(o[i].value);
		}
		jaas_free(o, n);
		if (!security.sasl_username || !security.sasl_password) {
			fprintf(stderr, "samsa: sasl.jaas.config lacks username or password\n");
			return -1;
		}
	}
	kclient_set_default_security(&security);
	return 0;
}

int command_config_apply(int *argc, char **argv)
{
	const char *path = NULL;
	int out = 0;
	for (int i = 0; i < *argc; i++) {
		if (!strcmp(argv[i], "--command-config") && i + 1 < *argc) {
			path = argv[++i];
			continue;
		}
		if (!strncmp(argv[i], "--command-config=", 17)) {
			path = argv[i] + 17;
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	if (!path)
		return 0;
	return load(path) == 0 && build() == 0 ? 0 : -1;
}
