/*
 * The shared connection and helpers of the newer admin subcommands: see
 * admin_client.h.
 */
#include "tools/admin_client.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/xalloc.h"

#define CONNECT_TIMEOUT_MS 10000
#define MAX_JSON_FILE (16 << 20)

void admin_error(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool ks_eq(struct kstr s, const char *c)
{
	size_t n = strlen(c);
	return s.ptr && s.len >= 0 && (size_t)s.len == n && memcmp(s.ptr, c, n) == 0;
}

char *admin_kstr(struct arena *a, struct kstr s)
{
	return arena_strndup(a, s.ptr && s.len > 0 ? s.ptr : "", s.ptr && s.len > 0 ? (size_t)s.len : 0);
}

int admin_int32_cmp(const void *x, const void *y)
{
	int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
	return a < b ? -1 : a > b;
}

static struct admin_node *node_get(struct admin *ad, int32_t id)
{
	for (int i = 0; i < ad->n_nodes; i++)
		if (ad->nodes[i].id == id)
			return &ad->nodes[i];
	return NULL;
}

static void learn(struct admin *ad, const struct metadata_response *md)
{
	ad->controller_id = md->controller_id;
	for (int32_t i = 0; i < md->brokers_count; i++) {
		const struct metadata_response_metadata_response_broker *b = &md->brokers[i];
		if (node_get(ad, b->node_id))
			continue;
		ad->nodes = xrealloc(ad->nodes, sizeof *ad->nodes * (size_t)(ad->n_nodes + 1));
		struct admin_node *n = &ad->nodes[ad->n_nodes++];
		memset(n, 0, sizeof *n);
		n->id = b->node_id;
		n->host = xstrndup(b->host.ptr ? b->host.ptr : "", b->host.ptr && b->host.len > 0 ? (size_t)b->host.len : 0);
		n->port = b->port;
	}
}

int admin_open(struct admin *ad, const char *prog, const char *bootstrap)
{
	memset(ad, 0, sizeof *ad);
	ad->prog = prog;
	ad->boot.fd = -1;
	ad->controller_id = -1;
	char *list = xstrdup(bootstrap), *save = NULL;
	int rc = -1;
	for (char *hp = strtok_r(list, ",", &save); hp && rc; hp = strtok_r(NULL, ",", &save)) {
		while (*hp == ' ')
			hp++;
		if (kclient_connect(&ad->boot, hp, CONNECT_TIMEOUT_MS) != 0) {
			kclient_close(&ad->boot);
			continue;
		}
		struct arena a;
		arena_init(&a);
		struct metadata_request req;
		metadata_request_init(&req);
		req.topics_count = 0;
		void *out = NULL;
		if (kclient_call_arena(&ad->boot, API_METADATA, 12, &req, &a, &out) == 0) {
			learn(ad, out);
			rc = 0;
		} else {
			kclient_close(&ad->boot);
		}
		arena_free(&a);
	}
	free(list);
	if (rc)
		admin_error(prog, "cannot connect to any broker of --bootstrap-server %s", bootstrap);
	return rc;
}

void admin_close(struct admin *ad)
{
	kclient_close(&ad->boot);
	for (int i = 0; i < ad->n_nodes; i++) {
		if (ad->nodes[i].open)
			kclient_close(&ad->nodes[i].kc);
		free(ad->nodes[i].host);
	}
	free(ad->nodes);
	ad->nodes = NULL;
	ad->n_nodes = 0;
}

int admin_call(struct admin *ad, int32_t id, int16_t api, int16_t version, const void *req, struct arena *a, void **out)
{
	if (id == -1)
		id = ad->controller_id;
	struct admin_node *n = node_get(ad, id);
	if (!n)
		return -1;
	if (!n->open) {
		char hp[300];
		snprintf(hp, sizeof hp, strchr(n->host, ':') ? "[%s]:%d" : "%s:%d", n->host, n->port);
		if (kclient_connect(&n->kc, hp, CONNECT_TIMEOUT_MS) != 0) {
			kclient_close(&n->kc);
			return -1;
		}
		n->open = true;
	}
	if (kclient_call_arena(&n->kc, api, version, req, a, out) != 0) {
		kclient_close(&n->kc);
		n->open = false;
		return -1;
	}
	return 0;
}

const struct metadata_response *admin_metadata(struct admin *ad, const char *const *topics, int n, struct arena *a)
{
	struct metadata_request req;
	metadata_request_init(&req);
	req.allow_auto_topic_creation = false;
	if (n >= 0) {
		req.topics = arena_alloc(a, sizeof *req.topics * (size_t)(n ? n : 1));
		for (int i = 0; i < n; i++) {
			metadata_request_metadata_request_topic_init(&req.topics[i]);
			req.topics[i].name = kstr_c(topics[i]);
		}
		req.topics_count = n;
	} else {
		req.topics_count = -1;
	}
	void *out = NULL;
	if (kclient_call_arena(&ad->boot, API_METADATA, 12, &req, a, &out) != 0) {
		admin_error(ad->prog, "Metadata request failed");
		return NULL;
	}
	learn(ad, out);
	return out;
}

const struct metadata_response_metadata_response_topic *admin_md_topic(const struct metadata_response *md,
								       const char *name)
{
	for (int32_t i = 0; i < md->topics_count; i++)
		if (ks_eq(md->topics[i].name, name))
			return md->topics[i].error_code ? NULL : &md->topics[i];
	return NULL;
}

const struct metadata_response_metadata_response_partition *
admin_md_partition(const struct metadata_response_metadata_response_topic *t, int32_t p)
{
	for (int32_t i = 0; t && i < t->partitions_count; i++)
		if (t->partitions[i].partition_index == p)
			return &t->partitions[i];
	return NULL;
}

const struct json *admin_read_json(const char *prog, const char *path, struct arena *a)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		admin_error(prog, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = xmalloc(MAX_JSON_FILE + 1);
	size_t n = fread(buf, 1, MAX_JSON_FILE + 1, f);
	bool bad = ferror(f) || n > MAX_JSON_FILE;
	fclose(f);
	const struct json *j = NULL;
	if (bad)
		admin_error(prog, "cannot read %s: %s", path, n > MAX_JSON_FILE ? "larger than 16 MiB" : "read error");
	else if (!(j = json_parse(a, buf, n)) || j->type != JSON_OBJECT) {
		admin_error(prog, "%s is not a JSON object", path);
		j = NULL;
	}
	free(buf);
	return j;
}

bool admin_parse_i64(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return false;
	*v = x;
	return true;
}

int admin_parse_int_list(const char *s, int32_t *ids, int max, bool ranges)
{
	char *copy = xstrdup(s), *save = NULL;
	int n = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		char *dash = ranges ? strchr(t + 1, '-') : NULL;
		int64_t lo, hi;
		if (dash)
			*dash = 0;
		if (!admin_parse_i64(t, &lo) || (dash && !admin_parse_i64(dash + 1, &hi)))
			goto bad;
		if (!dash)
			hi = lo;
		if (lo < 0 || hi < lo || hi > INT32_MAX)
			goto bad;
		for (int64_t v = lo; v <= hi; v++) {
			if (n >= max)
				goto bad;
			ids[n++] = (int32_t)v;
		}
	}
	free(copy);
	return n;
bad:
	free(copy);
	return -1;
}

int admin_bad_option(const char *prog, char **argv)
{
	admin_error(prog, "unrecognized option or missing argument: %s (see %s --help)", argv[optind - 1], prog);
	return 1;
}
