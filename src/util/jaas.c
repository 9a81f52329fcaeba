/* JAAS config lines as Kafka takes them (see jaas.h). */
#include "samsa/util/jaas.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "samsa/util/xalloc.h"

int jaas_parse(const char *text, struct jaas_option **out, int *n)
{
	*out = NULL;
	*n = 0;
	const char *p = text;
	/* LoginModule class and control flag, then key=value pairs up to ';'. */
	for (int word = 0; word < 2; word++) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return -1;
		while (*p && !isspace((unsigned char)*p))
			p++;
	}
	int cap = 0;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ';' || !*p)
			return *p == ';' ? 0 : -1;
		const char *k = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			return -1;
		size_t kl = (size_t)(p - k);
		p++;
		char *value;
		if (*p == '"') {
			const char *v = ++p;
			while (*p && *p != '"')
				p++;
			if (*p != '"')
				return -1;
			value = xstrndup(v, (size_t)(p - v));
			p++;
		} else {
			const char *v = p;
			while (*p && *p != ';' && !isspace((unsigned char)*p))
				p++;
			value = xstrndup(v, (size_t)(p - v));
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, sizeof **out * (size_t)cap);
		}
		(*out)[(*n)++] = (struct jaas_option){ xstrndup(k, kl), value };
	}
}

void jaas_free(struct jaas_option *o, int n)
{
	for (int i = 0; i < n; i++) {
		free(o[i].key);
		if (o[i].value)
			OPENSSL_cleanse(o[i].value, strlen(o[i].value));
		free(o[i].value);
	}
	free(o);
}

