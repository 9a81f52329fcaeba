/*
 * One value against its definition [Kafka's ConfigDef.parseType and the
 * validators]: string -> typed value, then the range / allowed-values checks,
 * with Kafka's error wording so operators recognise the messages.
 */
#include "config/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "samsa/util/xalloc.h"

static const char *type_names[] = {
	[CONFIG_BOOLEAN] = "BOOLEAN", [CONFIG_INT] = "INT", [CONFIG_LONG] = "LONG",
	[CONFIG_SHORT] = "SHORT", [CONFIG_DOUBLE] = "DOUBLE", [CONFIG_STRING] = "STRING",
	[CONFIG_LIST] = "LIST", [CONFIG_CLASS] = "CLASS", [CONFIG_PASSWORD] = "PASSWORD",
};

char *config_invalid(const char *key, const char *value, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return xasprintf("Invalid value %s for configuration %s%s%s", value ? value : "null", key,
			 msg[0] ? ": " : "", msg);
}

/* Java's String.trim: everything up to and including ' ' goes from both ends. */
char *config_trim(const char *s)
{
	const unsigned char *b = (const unsigned char *)s;
	const unsigned char *e = b + strlen(s);
	while (b < e && *b <= ' ')
		b++;
	while (e > b && e[-1] <= ' ')
		e--;
	return xstrndup((const char *)b, (size_t)(e - b));
}

void config_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* Kafka splits the trimmed value on \s*,\s*, so every element comes out trimmed. */
static char **split(const char *s, int *n, bool keep_empty)
{
	char *t = config_trim(s);
	int cap = 4, cnt = 0;
	char **v = xmalloc((size_t)cap * sizeof *v);

	for (const char *p = t; *t;) {
		const char *comma = strchr(p, ',');
		const char *b = p, *e = comma ? comma : p + strlen(p);
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (keep_empty || e > b) {
			if (cnt + 1 >= cap) {
				cap *= 2;
				v = xrealloc(v, (size_t)cap * sizeof *v);
			}
			v[cnt++] = xstrndup(b, (size_t)(e - b));
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	v[cnt] = NULL;
	free(t);
	*n = cnt;
	return v;
}

char **config_split_list(const char *s, int *n) { return split(s, n, true); }

char **config_split_csv(const char *s, int *n) { return split(s, n, false); }

/* Integer.parseInt and friends: optional sign, ASCII digits, within range. */
static int parse_integer(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	const char *p = s;
	bool neg = false;
	uint64_t v = 0, limit;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return -1;
	limit = neg ? (uint64_t)0 - (uint64_t)lo : (uint64_t)hi;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (limit - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

/* Double.parseDouble's grammar, close enough: decimal or hex (with p exponent)
 * floats, optional f/d suffix, NaN and Infinity spelled Java's way. */
static int parse_double(const char *s, double *out)
{
	const char *p = s;
	char buf[128];
	size_t n;

	if (*p == '+' || *p == '-')
		p++;
	if (strcmp(p, "NaN") == 0) {
		*out = NAN;
		return 0;
	}
	if (strcmp(p, "Infinity") == 0) {
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	n = strlen(s);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n + 1);
	if (strchr("fFdD", buf[n - 1]) && n > 1)
		buf[--n] = '\0';
	bool hex = (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'));
	if (hex ? strpbrk(buf, "pP") == NULL : strpbrk(buf, "xXnNiI") != NULL)
		return -1;
	bool digit = false;
	for (const char *q = buf; *q; q++)
		if (isdigit((unsigned char)*q))
			digit = true;
	if (!digit)
		return -1;
	char *end;
	errno = 0;
	double d = strtod(buf, &end);
	if (*end != '\0' || end == buf)
		return -1;
	*out = d; /* overflow gives +-inf and underflow 0, as in Java */
	return 0;
}

static void fmt_bound(char *b, size_t n, double v)
{
	if (v == floor(v) && fabs(v) < 1e18)
		snprintf(b, n, "%.0f", v);
	else
		snprintf(b, n, "%g", v);
}

static char *join_allowed(const char *const *allowed, bool upper)
{
	size_t len = 1;
	for (const char *const *a = allowed; *a; a++)
		len += strlen(*a) + 2;
	char *s = xmalloc(len);
	s[0] = '\0';
	for (const char *const *a = allowed; *a; a++) {
		if (a != allowed)
			strcat(s, ", ");
		size_t at = strlen(s);
		strcat(s, *a);
		if (upper)
			for (char *c = s + at; *c; c++)
				*c = (char)toupper((unsigned char)*c);
	}
	return s;
}

static bool in_allowed(const char *const *allowed, const char *s, bool nocase)
{
	for (const char *const *a = allowed; *a; a++)
		if (nocase ? strcasecmp(*a, s) == 0 : strcmp(*a, s) == 0)
			return true;
	return false;
}

static char *list_repr(char **list)
{
	size_t len = 3;
	for (char **p = list; *p; p++)
		len += strlen(*p) + 2;
	char *s = xmalloc(len);
	strcpy(s, "[");
	for (char **p = list; *p; p++) {
		if (p != list)
			strcat(s, ", ");
		strcat(s, *p);
	}
	strcat(s, "]");
	return s;
}

/* Kafka's host pattern: [0-9a-zA-Z-%._:]* */
static bool valid_host_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!(isalnum((unsigned char)c) || c == '-' || c == '%' || c == '.' || c == '_' || c == ':'))
			return false;
	}
	return true;
}

/* "host:port" / "[v6]:port" as Kafka's Utils.getHost/getPort read them. */
static bool host_port_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || !colon[1])
		return false;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	const char *h = s, *he = colon;
	const char *scheme = strstr(s, "://");
	if (scheme && scheme < colon)
		h = scheme + 3;
	if (*h == '[')
		h++;
	if (he > h && he[-1] == ']')
		he--;
	return valid_host_chars(h, (size_t)(he - h));
}

static int check_value(const struct config_def *def, const char *shown, struct config_value *v,
		       char **err)
{
	char lo[64], hi[64];
	const char *key = def->name;

	switch (def->check) {
	case CHECK_NONE:
		return 0;
	case CHECK_RANGE:
	case CHECK_RANGE_OR_MINUS1: {
		if (v->is_null) {
			*err = config_invalid(key, NULL, "Value must be non-null");
			return -1;
		}
		double x = def->type == CONFIG_DOUBLE ? v->d : (double)v->i;
		fmt_bound(lo, sizeof lo, def->min);
		fmt_bound(hi, sizeof hi, def->max);
		if (def->check == CHECK_RANGE_OR_MINUS1) {
			if (x != -1 && ((def->has_min && x < def->min) || (def->has_max && x > def->max))) {
				*err = config_invalid(key, shown, "Value must be between %s and %s or equal to -1",
						      lo, hi);
				return -1;
			}
			return 0;
		}
		if (def->has_min && x < def->min) {
			*err = config_invalid(key, shown, "Value must be at least %s", lo);
			return -1;
		}
		if (def->has_max && x > def->max) {
			*err = config_invalid(key, shown, "Value must be no more than %s", hi);
			return -1;
		}
		return 0;
	}
	case CHECK_IN:
	case CHECK_IN_NOCASE: {
		bool nocase = def->check == CHECK_IN_NOCASE;
		if (def->type == CONFIG_LIST) {
			for (int i = 0; v->list && i < v->n_list; i++) {
				if (!in_allowed(def->allowed, v->list[i], nocase)) {
					char *a = join_allowed(def->allowed, nocase);
					*err = config_invalid(key, v->list[i], "String must be one of%s: %s",
							      nocase ? " (case insensitive)" : "", a);
					free(a);
					return -1;
				}
			}
			return 0;
		}
		if (v->is_null || !in_allowed(def->allowed, v->text, nocase)) {
			char *a = join_allowed(def->allowed, nocase);
			*err = config_invalid(key, v->is_null ? NULL : v->text, "String must be one of%s: %s",
					      nocase ? " (case insensitive)" : "", a);
			free(a);
			return -1;
		}
		return 0;
	}
	case CHECK_NON_EMPTY_STRING:
		if (!v->is_null && v->text[0] == '\0') {
			*err = config_invalid(key, "", "String must be non-empty");
			return -1;
		}
		return 0;
	case CHECK_NON_NULL_STRING:
		if (v->is_null) {
			*err = config_invalid(key, NULL, "entry must be non null");
			return -1;
		}
		return 0;
	case CHECK_METADATA_VERSION:
		if (v->is_null || !config_metadata_version_resolve(v->text)) {
			*err = config_invalid(key, v->is_null ? NULL : v->text, "Version %s is not a valid version",
					      v->is_null ? "null" : v->text);
			return -1;
		}
		return 0;
	case CHECK_THREAD_POOL_SIZE:
		if (v->i < -1 || v->i == 0) {
			*err = config_invalid(key, shown, "Value can be -1 or greater than 0");
			return -1;
		}
		return 0;
	case CHECK_QUORUM_VOTERS:
		if (v->is_null) {
			*err = config_invalid(key, NULL, "%s", "");
			return -1;
		}
		for (int i = 0; i < v->n_list; i++) {
			const char *e = v->list[i];
			const char *at = strchr(e, '@');
			int64_t id;
			if (!at || strchr(at + 1, '@') || at == e || !at[1]) {
				*err = xasprintf("Invalid configuration value for %s. Each entry should be in the "
						 "form `{id}@{host}:{port}`.", key);
				return -1;
			}
			char *ids = xstrndup(e, (size_t)(at - e));
			int bad = parse_integer(ids, INT32_MIN, INT32_MAX, &id);
			if (bad) {
				*err = xasprintf("Failed to parse voter ID as an integer from %s", ids);
				free(ids);
				return -1;
			}
			free(ids);
			if (!host_port_ok(at + 1)) {
				*err = xasprintf("Failed to parse host name from entry %s for the configuration %s. "
						 "Each entry should be in the form `{id}@{host}:{port}`.", e, key);
				return -1;
			}
		}
		return 0;
	case CHECK_HOST_PORT_LIST:
		if (v->is_null) {
			*err = config_invalid(key, NULL, "%s", "");
			return -1;
		}
		for (int i = 0; i < v->n_list; i++) {
			if (!host_port_ok(v->list[i])) {
				*err = xasprintf("Failed to parse host name from %s for the configuration %s. Each "
						 "entry should be in the form \"{host}:{port}\"", v->list[i], key);
				return -1;
			}
		}
		return 0;
	case CHECK_THROTTLED_REPLICAS: {
		if (!v->list)
			return 0;
		bool all_ok = true;
		size_t total = 0;
		for (int i = 0; i < v->n_list; i++) {
			char *t = config_trim(v->list[i]);
			total += strlen(t);
			if (t[0]) {
				const char *c = strchr(t, ':');
				bool ok = c && c != t && c[1];
				for (const char *q = t; ok && *q; q++)
					if (q != c && (*q < '0' || *q > '9'))
						ok = false;
				if (!ok)
					all_ok = false;
			}
			free(t);
		}
		bool star = false;
		if (!all_ok) {
			/* "*" alone (possibly with blank elements around it) means every replica. */
			char *joined = xmalloc(total + 1);
			joined[0] = '\0';
			for (int i = 0; i < v->n_list; i++) {
				char *t = config_trim(v->list[i]);
				strcat(joined, t);
				free(t);
			}
			star = strcmp(joined, "*") == 0;
			free(joined);
		}
		if (!all_ok && !star) {
			char *r = list_repr(v->list);
			*err = config_invalid(key, r, "%s must be the literal '*' or a list of replicas in the "
					      "following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...",
					      key);
			free(r);
			return -1;
		}
		return 0;
	}
	}
	return 0;
}

void config_value_clear(struct config_value *v)
{
	free(v->text);
	config_strv_free(v->list);
	memset(v, 0, sizeof *v);
}

int config_parse_value(const struct config_def *def, const char *value, struct config_value *out,
		       char **err)
{
	memset(out, 0, sizeof *out);
	if (!value) {
		out->is_null = true;
		return check_value(def, NULL, out, err);
	}

	char *t = config_trim(value);
	char shown[64];
	int64_t lo = 0, hi = 0;

	switch (def->type) {
	case CONFIG_BOOLEAN:
		if (strcasecmp(t, "true") == 0)
			out->i = 1;
		else if (strcasecmp(t, "false") == 0)
			out->i = 0;
		else {
			*err = config_invalid(def->name, value, "Expected value to be either true or false");
			goto fail;
		}
		break;
	case CONFIG_INT:
		lo = INT32_MIN, hi = INT32_MAX;
		goto integer;
	case CONFIG_SHORT:
		lo = INT16_MIN, hi = INT16_MAX;
		goto integer;
	case CONFIG_LONG:
		lo = INT64_MIN, hi = INT64_MAX;
	integer:
		if (parse_integer(t, lo, hi, &out->i) != 0) {
			*err = config_invalid(def->name, value, "Not a number of type %s", type_names[def->type]);
			goto fail;
		}
		break;
	case CONFIG_DOUBLE:
		if (parse_double(t, &out->d) != 0) {
			*err = config_invalid(def->name, value, "Not a number of type DOUBLE");
			goto fail;
		}
		break;
	case CONFIG_LIST:
		out->list = config_split_list(t, &out->n_list);
		break;
	case CONFIG_STRING:
	case CONFIG_CLASS:
	case CONFIG_PASSWORD:
		/* Classes cannot be loaded here; any name is taken as given. */
		break;
	}

	out->text = t;
	if (def->type == CONFIG_DOUBLE)
		snprintf(shown, sizeof shown, "%s", t);
	else
		snprintf(shown, sizeof shown, "%lld", (long long)out->i);
	if (check_value(def, shown, out, err) != 0) {
		config_value_clear(out);
		return -1;
	}
	return 0;
fail:
	free(t);
	config_value_clear(out);
	return -1;
}

int config_validate(const struct config_def *def, const char *value, char **err)
{
	struct config_value v;
	if (config_parse_value(def, value, &v, err) != 0)
		return -1;
	config_value_clear(&v);
	return 0;
}

/* --- metadata versions --------------------------------------------------------- */

static int version_index(const char *full)
{
	for (int i = 0; metadata_versions[i]; i++)
		if (strcmp(metadata_versions[i], full) == 0)
			return i;
	return -1;
}

/* 3.9-IV0 is the newest version a 3.9 broker treats as production-ready; a bare
 * release ("3.9", "2.8") means its newest production version. */
#define LATEST_PRODUCTION "3.9-IV0"

static const char *resolve_release(const char *release)
{
	int last = -1, limit = version_index(LATEST_PRODUCTION);
	size_t n = strlen(release);
	for (int i = 0; i <= limit; i++) {
		const char *v = metadata_versions[i];
		if (strncmp(v, release, n) == 0 && (v[n] == '\0' || v[n] == '-'))
			last = i;
	}
	return last >= 0 ? metadata_versions[last] : NULL;
}

const char *config_metadata_version_resolve(const char *s)
{
	if (!s)
		return NULL;
	/* Kafka keeps 2 dotted segments (3 for 0.x) and ignores the rest: "3.9.1" is "3.9". */
	int keep = strncmp(s, "0.", 2) == 0 ? 3 : 2;
	char key[64];
	int dots = 0;
	size_t i;
	for (i = 0; s[i] && i < sizeof key - 1; i++) {
		if (s[i] == '.' && ++dots == keep)
			break;
		key[i] = s[i];
	}
	if (i >= sizeof key - 1)
		return NULL;
	key[i] = '\0';
	int idx = version_index(key);
	if (idx >= 0)
		return metadata_versions[idx];
	if (strchr(key, '-'))
		return NULL;
	return resolve_release(key);
}

int config_metadata_version_ordinal(const char *s)
{
	const char *full = config_metadata_version_resolve(s);
	return full ? version_index(full) : -1;
}
