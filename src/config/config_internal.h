/*
 * What the config files share among themselves and nobody else: the loaded
 * config's layout, the .properties reader, value parsing and error helpers.
 */
#ifndef SAMSA_SERVER_CONFIG_INTERNAL_H
#define SAMSA_SERVER_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/config.h"

extern const char *const metadata_versions[];

struct config_synonyms {
	const char *topic_key;
	const char *broker_keys[4];
};
extern const struct config_synonyms config_topic_synonym_table[];
extern const int config_topic_synonym_count;

/* One key=value pair in the order it was read. */
struct prop {
	char *key;
	char *value;
};

struct props {
	struct prop *v;
	int n, cap;
};

/* Appends or, if the key exists, replaces (a later line wins, as in Java). */
void props_put(struct props *p, const char *key, const char *value);
const char *props_get(const struct props *p, const char *key);
void props_free(struct props *p);
/* Java .properties text -> pairs.  Returns 0, or -1 with *err (malformed \u escape). */
int props_parse(struct props *p, const char *text, size_t len, char **err);

/* A parsed value of one known key. */
struct config_value {
	bool set;        /* given by the user */
	bool is_null;
	char *text;      /* trimmed user value or default; NULL if null */
	int64_t i;       /* BOOLEAN/INT/SHORT/LONG */
	double d;
	char **list;     /* LIST: elements, NULL-terminated; NULL if null */
	int n_list;
};

struct config {
	struct config_value *values; /* parallel to config_broker_defs */
	struct props user;           /* everything the user gave, trimmed keys */
	char **unused;               /* keys not in the table */
	int n_unused;
	struct broker_config bc;
	bool bc_ready;
};

/* Index of key in config_broker_defs, -1 if absent. */
int config_def_index(const char *key);

/* Parses `value` as def's type into *out (text stays NULL).  Returns 0 or -1 with *err. */
int config_parse_value(const struct config_def *def, const char *value, struct config_value *out,
		       char **err);
void config_value_clear(struct config_value *v);

/* Splits like Kafka's list type: trimmed, on commas with surrounding blanks,
 * keeping empty elements ("a,,b" has three).  "" is an empty list. */
char **config_split_list(const char *s, int *n);
/* Like Kafka's Csv.parseCsvList: same split, empty elements dropped. */
char **config_split_csv(const char *s, int *n);
void config_strv_free(char **v);

char *config_trim(const char *s);
/* "Invalid value <value> for configuration <key>: <msg>" */
char *config_invalid(const char *key, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fills cfg->bc and runs the cross-key checks.  Returns 0 or -1 with *err. */
int config_broker_build(struct config *cfg, char **err);
void config_broker_free(struct broker_config *bc);

#endif
