/*
 * What the newer admin subcommands share (reassign-partitions,
 * leader-election, delete-records, get-offsets): a bootstrap connection that
 * learns the brokers and the controller from Metadata, lazily opened
 * connections to any broker by id, one-line errors, and small JSON-file and
 * list helpers.
 */
#ifndef SAMSA_TOOLS_ADMIN_CLIENT_H
#define SAMSA_TOOLS_ADMIN_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "samsa/client.h"
#include "samsa/proto.h"
#include "samsa/util/json.h"

struct admin_node {
	int32_t id;
	char *host;
	int32_t port;
	bool open;
	struct kclient kc;
};

struct admin {
	const char *prog; /* "samsa reassign-partitions": the prefix of every error */
	struct kclient boot;
	struct admin_node *nodes;
	int n_nodes;
	int32_t controller_id;
};

/* Prints "<prog>: <message>" on one line of stderr. */
void admin_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Connects to the first of the comma-separated HOST:PORT list that answers Metadata; 0, or -1 after one line. */
int admin_open(struct admin *ad, const char *prog, const char *bootstrap);
void admin_close(struct admin *ad);
/* One request to broker id (-1: the controller); 0, or -1 when it cannot be reached or answers nothing that decodes.
 * *out lives as long as a. */
int admin_call(struct admin *ad, int32_t id, int16_t api, int16_t version, const void *req, struct arena *a, void **out);
/* Metadata for the named topics (n < 0: every topic), on the bootstrap connection; NULL after one line. */
const struct metadata_response *admin_metadata(struct admin *ad, const char *const *topics, int n, struct arena *a);
const struct metadata_response_metadata_response_topic *admin_md_topic(const struct metadata_response *md,
								       const char *name);
const struct metadata_response_metadata_response_partition *
admin_md_partition(const struct metadata_response_metadata_response_topic *t, int32_t p);

/* The parsed JSON of a file, in a; NULL after one line saying why. */
const struct json *admin_read_json(const char *prog, const char *path, struct arena *a);

/* "1,2,5-7" into ids (ranges allowed when ranges); the count, or -1. */
int admin_parse_int_list(const char *s, int32_t *ids, int max, bool ranges);
bool admin_parse_i64(const char *s, int64_t *v);
/* The kstr as a NUL-terminated string in a. */
char *admin_kstr(struct arena *a, struct kstr s);
int admin_int32_cmp(const void *x, const void *y);

/* getopt_long with opterr off: a bad flag becomes one line and exit status 1.  Call with the prog. */
int admin_bad_option(const char *prog, char **argv);

#endif
