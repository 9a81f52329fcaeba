/*
 * The interface of src/config/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_CONFIG_H
#define SAMSA_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Broker configuration [Kafka's KafkaConfig]: reads a server.properties file plus
 * --override key=value pairs, checks every value against Kafka 3.9's definition of
 * the key (type, range, allowed values), and hands out typed values.  Derived and
 * cross-checked broker settings (listeners, log dirs, ZooKeeper timeouts...) come
 * parsed in struct broker_config.
 *
 * A struct config is immutable after config_load and may be read from any thread.
 */
/* Kafka's ConfigDef.Type. */
enum config_type {
	CONFIG_BOOLEAN,
	CONFIG_INT,
	CONFIG_LONG,
	CONFIG_SHORT,
	CONFIG_DOUBLE,
	CONFIG_STRING,
	CONFIG_LIST,
	CONFIG_CLASS,
	CONFIG_PASSWORD,
};

/* Kafka's ConfigDef.Importance. */
enum config_importance { CONFIG_HIGH, CONFIG_MEDIUM, CONFIG_LOW };

/* How a value is constrained beyond its type (Kafka's validators). */
enum config_check {
	CHECK_NONE,
	CHECK_RANGE,            /* min/max, either end may be open */
	CHECK_RANGE_OR_MINUS1,  /* in range, or exactly -1 (compression.gzip.level) */
	CHECK_IN,               /* value (or every list element) in `allowed` */
	CHECK_IN_NOCASE,        /* same, ignoring case */
	CHECK_NON_EMPTY_STRING, /* null allowed, but not "" */
	CHECK_NON_NULL_STRING,
	CHECK_METADATA_VERSION, /* an inter.broker.protocol.version string */
	CHECK_QUORUM_VOTERS,    /* id@host:port,... (KRaft) */
	CHECK_HOST_PORT_LIST,   /* host:port,... (KRaft) */
	CHECK_THREAD_POOL_SIZE, /* -1 or > 0 */
	CHECK_THROTTLED_REPLICAS, /* "*" or partition:broker,... */
};
/* One key, as Kafka defines it. */
struct config_def {
	const char *name;
	enum config_type type;
	const char *default_value; /* as Kafka prints it; NULL = null (no default) */
	enum config_importance importance;
	enum config_check check;
	bool has_min, has_max;
	double min, max;           /* for CHECK_RANGE* */
	const char *const *allowed; /* NULL-terminated, for CHECK_IN* */
	bool internal;             /* Kafka marks it internal (undocumented) */
	bool kraft_only;           /* only meaningful in KRaft mode; accepted, ignored */
};

struct config;

/*
 * Reads `path` (Java .properties syntax) and then applies overrides, each
 * "key=value" (an override wins over the file).  path may be NULL (defaults +
 * overrides only).  On failure returns NULL and sets *err to a malloc'd message
 * naming the key (caller frees), e.g. "Invalid value abc for configuration
 * num.network.threads: Not a number of type INT".  Unknown keys are kept and
 * logged once with log_warn.  Cross-key checks of config_broker() are run too,
 * so a successful load is a startable configuration.
 */
struct config *config_load(const char *path, char **overrides, int n_overrides, char **err);
/* Same, from properties text in memory (tests, dynamic configs). */
struct config *config_load_string(const char *text, char **overrides, int n_overrides, char **err);
void config_free(struct config *cfg);
/*
 * A new config: what the user gave base, with overrides ("key=value") on top
 * (dynamic broker configs layered over server.properties).  NULL and *err as
 * config_load when the result does not load.
 */
struct config *config_with_overrides(const struct config *base, char **overrides, int n_overrides, char **err);

/*
 * Typed getters.  `key` must be a known broker key of a matching type, or the
 * process aborts (a programmer error).  A null value (no default, not set) reads
 * as 0 / false / NULL; use config_is_null to tell.
 *   config_int:    INT or SHORT
 *   config_long:   LONG, INT or SHORT
 *   config_string: STRING, CLASS or PASSWORD (NULL if null)
 *   config_list:   LIST; the array belongs to cfg, *n gets the count; NULL if null,
 *                  a non-NULL empty array for "".
 */
int32_t config_int(const struct config *cfg, const char *key);
int64_t config_long(const struct config *cfg, const char *key);
bool config_bool(const struct config *cfg, const char *key);
double config_double(const struct config *cfg, const char *key);
const char *config_string(const struct config *cfg, const char *key);
char **config_list(const struct config *cfg, const char *key, int *n);
bool config_is_null(const struct config *cfg, const char *key);
/* True if the user gave the key (file or override), even if equal to the default. */
bool config_is_set(const struct config *cfg, const char *key);
/*
 * The effective value as text (user's trimmed value, else the default; NULL if
 * null).  Works for unknown keys the user supplied too (and for listener.name.*
 * prefixed keys); returns NULL for a key nobody set that has no definition.
 */
const char *config_get_raw(const struct config *cfg, const char *key);

/* The table of every broker key (Kafka 3.9), and lookup in it. */
extern const struct config_def config_broker_defs[];
extern const int config_broker_defs_count;
const struct config_def *config_def_find(const char *key);

/* The topic-level keys (/config/topics/<t>, CreateTopics) and their broker synonyms. */
extern const struct config_def config_topic_defs[];
extern const int config_topic_defs_count;
const struct config_def *config_topic_def_find(const char *key);
/* Broker keys whose value is a topic key's default, highest priority first,
 * NULL-terminated (e.g. retention.ms -> log.retention.ms, .minutes, .hours);
 * NULL for topic-only keys. */
const char *const *config_topic_synonyms(const char *topic_key);

/*
 * Checks `value` (NULL = null) against def's type and validator.  Returns 0, or
 * -1 with *err set to a malloc'd Kafka-style message naming the key.
 */
int config_validate(const struct config_def *def, const char *value, char **err);

/* User-supplied keys that are not in the table (what the start-up warning lists),
 * in file order; the array belongs to cfg. */
char **config_unused_keys(const struct config *cfg, int *n);

/*
 * A per-listener value: "listener.name.<listener lower-case>.<key>" if the user
 * set it, else the plain key's value, as config_get_raw.  For ssl.*, sasl.* and
 * connection limits, which Kafka lets each listener override.
 */
const char *config_listener_raw(const struct config *cfg, const char *listener, const char *key);

/*
 * Metadata versions (inter.broker.protocol.version, message.format.version):
 * "3.9", "3.9.0", "2.8-IV1", "0.10.0" resolve to a full version ("3.9-IV0",
 * "2.8-IV1", "0.10.0-IV1") like Kafka's MetadataVersion.fromVersionString;
 * NULL if unknown.  The ordinal orders versions (higher = newer), -1 if unknown.
 */
const char *config_metadata_version_resolve(const char *s);
int config_metadata_version_ordinal(const char *s);

/* Security protocols with Kafka's ids (SecurityProtocol.id). */
enum config_security_protocol {
	CONFIG_SECPROTO_PLAINTEXT = 0,
	CONFIG_SECPROTO_SSL = 1,
	CONFIG_SECPROTO_SASL_PLAINTEXT = 2,
	CONFIG_SECPROTO_SASL_SSL = 3,
};
const char *config_security_protocol_name(enum config_security_protocol p);
/* Case-sensitive like Kafka's SecurityProtocol.forName on upper-case input; -1 if unknown. */
int config_security_protocol_parse(const char *name);

/* One endpoint of listeners / advertised.listeners. */
struct config_endpoint {
	char *name;   /* listener name, upper-case, e.g. "PLAINTEXT", "INTERNAL" */
	char *host;   /* "" = all interfaces (listeners); brackets of IPv6 removed */
	int32_t port; /* 0 = ephemeral (bind picks one) */
	enum config_security_protocol protocol; /* from listener.security.protocol.map */
};

/* listener.security.protocol.map entry. */
struct config_listener_map {
	char *name;
	enum config_security_protocol protocol;
};

/* Commonly used, parsed and derived broker settings.  Owned by the struct config. */
struct broker_config {
	int32_t broker_id;                 /* broker.id, -1 = generate / meta.properties */
	bool broker_id_generation_enable;
	int32_t reserved_broker_max_id;
	const char *broker_rack;           /* NULL if unset */

	const char *zookeeper_connect;     /* host:port[,host:port][/chroot] */
	int32_t zookeeper_session_timeout_ms;
	int32_t zookeeper_connection_timeout_ms; /* null -> session timeout */
	int32_t zookeeper_max_in_flight_requests;
	bool zookeeper_set_acl;

	struct config_endpoint *listeners;
	int n_listeners;
	/* advertised.listeners, null -> listeners; empty host -> canonical host name */
	struct config_endpoint *advertised_listeners;
	int n_advertised_listeners;
	struct config_listener_map *listener_security_protocol_map;
	int n_listener_security_protocol_map;
	const char *inter_broker_listener_name; /* derived from security.inter.broker.protocol if unset */
	enum config_security_protocol inter_broker_security_protocol;
	const char *control_plane_listener_name; /* NULL if unset */
	const char *inter_broker_protocol_version; /* "3.9-IV0" */

	int32_t num_network_threads;
	int32_t num_io_threads;
	int32_t background_threads;
	int32_t queued_max_requests;
	int32_t socket_request_max_bytes;
	int32_t socket_send_buffer_bytes;    /* -1 = OS default */
	int32_t socket_receive_buffer_bytes; /* -1 = OS default */
	int32_t socket_listen_backlog_size;
	int64_t connections_max_idle_ms;
	int32_t max_connections;
	int32_t max_connections_per_ip;
	int32_t request_timeout_ms;
	int32_t controller_socket_timeout_ms;

	char **log_dirs;                   /* log.dirs, null -> log.dir */
	int n_log_dirs;
	int32_t num_recovery_threads_per_data_dir;
	int32_t log_segment_bytes;
	int64_t log_roll_ms;               /* log.roll.ms > log.roll.hours */
	int64_t log_roll_jitter_ms;        /* log.roll.jitter.ms > log.roll.jitter.hours */
	int64_t log_retention_ms;          /* ms > minutes > hours; any negative -> -1 */
	int64_t log_retention_bytes;
	int64_t log_retention_check_interval_ms;
	int32_t log_index_size_max_bytes;
	int32_t log_index_interval_bytes;
	int64_t log_flush_interval_messages;
	int64_t log_flush_interval_ms;     /* null -> log.flush.scheduler.interval.ms */
	int64_t log_flush_scheduler_interval_ms;
	int64_t log_segment_delete_delay_ms;
	bool log_preallocate;
	bool log_cleaner_enable;
	const char *compression_type;
	const char *log_message_timestamp_type;
	int32_t min_insync_replicas;
	bool unclean_leader_election_enable;

	bool auto_create_topics_enable;
	int32_t num_partitions;
	int32_t default_replication_factor;
	bool delete_topic_enable;
	int32_t message_max_bytes;
	int32_t fetch_max_bytes;
	int32_t replica_fetch_max_bytes;
	int32_t replica_fetch_wait_max_ms;
	int32_t replica_fetch_min_bytes;
	int32_t replica_fetch_response_max_bytes;
	int32_t replica_fetch_backoff_ms;
	int64_t replica_lag_time_max_ms;
	int32_t replica_socket_timeout_ms;
	int32_t num_replica_fetchers;
	int64_t replica_high_watermark_checkpoint_interval_ms;

	bool controlled_shutdown_enable;
	int32_t controlled_shutdown_max_retries;
	int64_t controlled_shutdown_retry_backoff_ms;
	bool auto_leader_rebalance_enable;
	int32_t leader_imbalance_per_broker_percentage;
	int64_t leader_imbalance_check_interval_seconds;

	int32_t group_min_session_timeout_ms;
	int32_t group_max_session_timeout_ms;
	int32_t group_initial_rebalance_delay_ms;
	int32_t group_max_size;
	int32_t offset_metadata_max_bytes;
	int16_t offsets_topic_replication_factor;
	int32_t offsets_topic_num_partitions;
	int32_t offsets_topic_segment_bytes;
	int32_t offsets_retention_minutes;
	int64_t offsets_retention_check_interval_ms;
	int32_t offsets_commit_timeout_ms;

	int16_t transaction_state_log_replication_factor;
	int32_t transaction_state_log_num_partitions;
	int32_t transaction_state_log_segment_bytes;
	int32_t transaction_state_log_min_isr;
	int32_t transaction_max_timeout_ms;
	int32_t transactional_id_expiration_ms;
	int32_t producer_id_expiration_ms;
};

/* The parsed broker settings of a successfully loaded config (never NULL). */
const struct broker_config *config_broker(const struct config *cfg);

/* Listener lookup by name in bc->listeners / bc->advertised_listeners; NULL if absent. */
const struct config_endpoint *config_listener(const struct broker_config *bc, const char *name);
const struct config_endpoint *config_advertised_listener(const struct broker_config *bc, const char *name);

/*
 * Parses a listeners-style list ("NAME://host:port,...") resolving protocols
 * through `map`; names must be unique, and with require_distinct_ports so must
 * non-zero ports (except one IPv4 and one IPv6 literal sharing a port), as
 * Kafka demands of listeners but not of advertised.listeners.  Returns 0, or
 * -1 with *err set.  Free with config_endpoints_free.
 */
int config_parse_endpoints(const char *value, const struct config_listener_map *map, int n_map,
			   bool require_distinct_ports, struct config_endpoint **out, int *n_out,
			   char **err);
void config_endpoints_free(struct config_endpoint *eps, int n);

/* The Kafka derivations by themselves, for the same fall-backs in topic configs. */
int64_t config_log_retention_ms(const struct config *cfg); /* ms > minutes > hours, <0 -> -1 */
int64_t config_log_roll_ms(const struct config *cfg);      /* ms > hours */
int64_t config_log_roll_jitter_ms(const struct config *cfg);

#endif
