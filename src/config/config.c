/*
 * Loading and reading the broker configuration [Kafka's KafkaConfig /
 * AbstractConfig]: file + overrides -> one typed value per known key, unknown
 * keys remembered for the start-up warning, typed getters.
 */
#include "config/config_internal.h"
#include "samsa/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* --- the table ------------------------------------------------------------------ */

static int def_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct config_def *)elem)->name);
}

int config_def_index(const char *key)
{
	const struct config_def *d = bsearch(key, config_broker_defs, (size_t)config_broker_defs_count,
					     sizeof *d, def_cmp);
	return d ? (int)(d - config_broker_defs) : -1;
}

const struct config_def *config_def_find(const char *key)
{
	int i = config_def_index(key);
	return i >= 0 ? &config_broker_defs[i] : NULL;
}

const struct config_def *config_topic_def_find(const char *key)
{
	return bsearch(key, config_topic_defs, (size_t)config_topic_defs_count,
		       sizeof config_topic_defs[0], def_cmp);
}

const char *const *config_topic_synonyms(const char *topic_key)
{
	for (int i = 0; i < config_topic_synonym_count; i++)
		if (strcmp(config_topic_synonym_table[i].topic_key, topic_key) == 0)
			return config_topic_synonym_table[i].broker_keys;
	return NULL;
}

/* --- keys that are fine without a table entry ------------------------------------- */

/* Read by the ZooKeeper ACL authorizer rather than declared in KafkaConfig. */
static const char *const authorizer_keys[] = {
	"super.users",
	"allow.everyone.if.no.acl.found",
	"authorizer.zookeeper.url",
	"authorizer.zookeeper.connection.timeout.ms",
	"authorizer.zookeeper.session.timeout.ms",
	"authorizer.zookeeper.max.in.flight.requests",
	NULL,
};

/*
 * listener.name.<listener>.<key> and listener.name.<listener>.<mechanism>.<key>
 * are per-listener copies of known keys.  Returns the known key's definition
 * (and the suffix in *rest) or NULL.
 */
static const struct config_def *listener_prefixed(const char *key, const char **rest)
{
	static const char prefix[] = "listener.name.";
	if (strncmp(key, prefix, sizeof prefix - 1) != 0)
		return NULL;
	const char *p = strchr(key + sizeof prefix - 1, '.');
	if (!p || p == key + sizeof prefix - 1)
		return NULL;
	p++;
	const struct config_def *d = config_def_find(p);
	if (!d) {
		const char *q = strchr(p, '.');
		if (q && q != p)
			d = config_def_find(q + 1);
		p = q ? q + 1 : p;
	}
	if (d && rest)
		*rest = p;
	return d;
}

static bool has_prefix_value(const struct config *cfg, const char *key, const char *prefix_key)
{
	const char *prefix = config_get_raw(cfg, prefix_key);
	return prefix && *prefix && strncmp(key, prefix, strlen(prefix)) == 0;
}

static bool known_elsewhere(const struct config *cfg, const char *key)
{
	for (const char *const *k = authorizer_keys; *k; k++)
		if (strcmp(*k, key) == 0)
			return true;
	/* Settings handed to tiered-storage plugins under their configured prefixes. */
	return has_prefix_value(cfg, key, "remote.log.storage.manager.impl.prefix") ||
	       has_prefix_value(cfg, key, "remote.log.metadata.manager.impl.prefix");
}

/* --- loading ---------------------------------------------------------------------- */

static int read_file(const char *path, char **out, size_t *len, char **err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		*err = xasprintf("Cannot read configuration file %s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap) {
			if (ferror(f)) {
				*err = xasprintf("Cannot read configuration file %s: %s", path, strerror(errno));
				free(buf);
				fclose(f);
				return -1;
			}
			break;
		}
		cap *= 2;
		buf = xrealloc(buf, cap);
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static void apply_overrides(struct props *p, char **overrides, int n)
{
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(overrides[i], '=');
		/* Like kafka-server-start's --override: split at the first '=', a bare key means "". */
		char *k = eq ? xstrndup(overrides[i], (size_t)(eq - overrides[i])) : xstrdup(overrides[i]);
		char *key = config_trim(k);
		props_put(p, key, eq ? eq + 1 : "");
		free(key);
		free(k);
	}
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	if (cfg->values)
		for (int i = 0; i < config_broker_defs_count; i++)
			config_value_clear(&cfg->values[i]);
	free(cfg->values);
	props_free(&cfg->user);
	config_strv_free(cfg->unused);
	if (cfg->bc_ready)
		config_broker_free(&cfg->bc);
	free(cfg);
}

static void add_unused(struct config *cfg, const char *key)
{
	cfg->unused = xrealloc(cfg->unused, (size_t)(cfg->n_unused + 2) * sizeof *cfg->unused);
	cfg->unused[cfg->n_unused++] = xstrdup(key);
	cfg->unused[cfg->n_unused] = NULL;
}

static struct config *load(struct props *user, char **err)
{
	struct config *cfg = xcalloc(1, sizeof *cfg);
	cfg->user = *user;
	memset(user, 0, sizeof *user);
	cfg->values = xcalloc((size_t)config_broker_defs_count, sizeof *cfg->values);
	cfg->unused = xcalloc(1, sizeof *cfg->unused);

	/* node.id and broker.id are one setting under two names (KRaft's and ZooKeeper's). */
	const char *bid = props_get(&cfg->user, "broker.id");
	const char *nid = props_get(&cfg->user, "node.id");
	if (bid && !nid)
		props_put(&cfg->user, "node.id", bid);
	else if (nid && !bid)
		props_put(&cfg->user, "broker.id", nid);

	for (int i = 0; i < config_broker_defs_count; i++) {
		const struct config_def *d = &config_broker_defs[i];
		const char *v = props_get(&cfg->user, d->name);
		if (config_parse_value(d, v ? v : d->default_value, &cfg->values[i], err) != 0)
			goto fail;
		cfg->values[i].set = v != NULL;
	}

	for (int i = 0; i < cfg->user.n; i++) {
		const char *key = cfg->user.v[i].key;
		const char *rest;
		const struct config_def *d;
		if (config_def_index(key) >= 0)
			continue;
		if ((d = listener_prefixed(key, &rest)) != NULL) {
			/* Kafka parses these with the plain key's definition when the listener starts. */
			struct config_def named = *d;
			named.name = key;
			if (config_validate(&named, cfg->user.v[i].value, err) != 0)
				goto fail;
			continue;
		}
		if (!known_elsewhere(cfg, key))
			add_unused(cfg, key);
	}

	if (config_broker_build(cfg, err) != 0)
		goto fail;

	if (cfg->n_unused > 0) {
		size_t len = 1;
		for (int i = 0; i < cfg->n_unused; i++)
			len += strlen(cfg->unused[i]) + 2;
		char *list = xmalloc(len);
		list[0] = '\0';
		for (int i = 0; i < cfg->n_unused; i++) {
			if (i)
				strcat(list, ", ");
			strcat(list, cfg->unused[i]);
		}
		log_warn("These configurations '[%s]' were supplied but are not used yet.", list);
		free(list);
	}
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

struct config *config_load_string(const char *text, char **overrides, int n_overrides, char **err)
{
	struct props p = { 0 };
	*err = NULL;
	if (text && props_parse(&p, text, strlen(text), err) != 0) {
		props_free(&p);
		return NULL;
	}
	apply_overrides(&p, overrides, n_overrides);
	return load(&p, err);
}

struct config *config_with_overrides(const struct config *base, char **overrides, int n_overrides, char **err)
{
	struct props p = { 0 };
	*err = NULL;
	for (int i = 0; i < base->user.n; i++)
		props_put(&p, base->user.v[i].key, base->user.v[i].value);
	apply_overrides(&p, overrides, n_overrides);
	return load(&p, err);
}

struct config *config_load(const char *path, char **overrides, int n_overrides, char **err)
{
	struct props p = { 0 };
	*err = NULL;
	if (path) {
		char *text, *perr = NULL;
		size_t len;
		if (read_file(path, &text, &len, err) != 0)
			return NULL;
		if (props_parse(&p, text, len, &perr) != 0) {
			*err = xasprintf("Cannot parse configuration file %s: %s", path, perr);
			free(perr);
			free(text);
			props_free(&p);
			return NULL;
		}
		free(text);
	}
	apply_overrides(&p, overrides, n_overrides);
	return load(&p, err);
}

/* --- getters ---------------------------------------------------------------------------- */

__attribute__((noreturn)) static void misuse(const char *key, const char *what)
{
	log_error("config: %s: %s", key, what);
	abort();
}

static const struct config_value *value_of(const struct config *cfg, const char *key,
					   const struct config_def **def)
{
	int i = config_def_index(key);
	if (i < 0)
		misuse(key, "not a known broker configuration key");
	*def = &config_broker_defs[i];
	return &cfg->values[i];
}

int32_t config_int(const struct config *cfg, const char *key)
{
	const struct config_def *d;
	const struct config_value *v = value_of(cfg, key, &d);
	if (d->type != CONFIG_INT && d->type != CONFIG_SHORT)
		misuse(key, "config_int on a key that is not INT or SHORT");
	return (int32_t)v->i;
}

int64_t config_long(const struct config *cfg, const char *key)
{
	const struct config_def *d;
	const struct config_value *v = value_of(cfg, key, &d);
	if (d->type != CONFIG_LONG && d->type != CONFIG_INT && d->type != CONFIG_SHORT)
		misuse(key, "config_long on a key that is not LONG, INT or SHORT");
	return v->i;
}

bool config_bool(const struct config *cfg, const char *key)
{
	const struct config_def *d;
	const struct config_value *v = value_of(cfg, key, &d);
	if (d->type != CONFIG_BOOLEAN)
		misuse(key, "config_bool on a key that is not BOOLEAN");
	return v->i != 0;
}

double config_double(const struct config *cfg, const char *key)
{
	const struct config_def *d;
	const struct config_value *v = value_of(cfg, key, &d);
	if (d->type != CONFIG_DOUBLE)
		misuse(key, "config_double on a key that is not DOUBLE");
	return v->d;
}

const char *config_string(const struct config *cfg, const char *key)
{
	const struct config_def *d;
	const struct config_value *v = value_of(cfg, key, &d);
	if (d->type != CONFIG_STRING && d->type != CONFIG_CLASS && d->type != CONFIG_PASSWORD)
		misuse(key, "config_string on a key that is not STRING, CLASS or PASSWORD");
	return v->text;
}

char **config_list(const struct config *cfg, const char *key, int *n)
{
	const struct config_def *d;
	const struct config_value *v = value_of(cfg, key, &d);
	if (d->type != CONFIG_LIST)
		misuse(key, "config_list on a key that is not LIST");
	if (n)
		*n = v->n_list;
	return v->list;
}

bool config_is_null(const struct config *cfg, const char *key)
{
	const struct config_def *d;
	return value_of(cfg, key, &d)->is_null;
}

bool config_is_set(const struct config *cfg, const char *key)
{
	const struct config_def *d;
	return value_of(cfg, key, &d)->set;
}

const char *config_get_raw(const struct config *cfg, const char *key)
{
	int i = config_def_index(key);
	if (i >= 0)
		return cfg->values[i].text;
	/* Unknown and prefixed keys are kept as the user wrote them, like Kafka's originals. */
	return props_get(&cfg->user, key);
}

const char *config_listener_raw(const struct config *cfg, const char *listener, const char *key)
{
	char *name = xasprintf("listener.name.%s.%s", listener, key);
	for (char *c = name + strlen("listener.name."); *c && c < name + strlen("listener.name.") +
	     strlen(listener); c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	const char *v = props_get(&cfg->user, name);
	free(name);
	return v ? v : config_get_raw(cfg, key);
}

char **config_unused_keys(const struct config *cfg, int *n)
{
	if (n)
		*n = cfg->n_unused;
	return cfg->unused;
}

const struct broker_config *config_broker(const struct config *cfg)
{
	return &cfg->bc;
}
