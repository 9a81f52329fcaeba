/*
 * The parsed broker settings and the checks that span several keys [Kafka's
 * KafkaConfig fields and validateValues, ZooKeeper mode]: listeners and their
 * security protocols, the inter-broker listener, log dirs, the hours/minutes/ms
 * fall-backs, broker.id rules.  Messages follow Kafka's and name the keys.
 */
#include "config/config_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

static const char *const protocol_names[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" };

const char *config_security_protocol_name(enum config_security_protocol p)
{
	return (unsigned)p < 4 ? protocol_names[p] : "UNKNOWN";
}

/* SecurityProtocol.forName upper-cases its argument. */
int config_security_protocol_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(protocol_names[i], name) == 0)
			return i;
	return -1;
}

static char *upper(const char *s)
{
	char *u = xstrdup(s);
	for (char *c = u; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	return u;
}

/* --- listener.security.protocol.map ------------------------------------------------- */

static void map_free(struct config_listener_map *m, int n)
{
	for (int i = 0; i < n; i++)
		free(m[i].name);
	free(m);
}

static const struct config_listener_map *map_find(const struct config_listener_map *m, int n,
						  const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(m[i].name, name) == 0)
			return &m[i];
	return NULL;
}

/* "NAME:PROTOCOL,..." split at the last ':' of each entry; a repeated name keeps the last. */
static int parse_protocol_map(const char *value, struct config_listener_map **out, int *n_out,
			      char **err)
{
	const char *key = "listener.security.protocol.map";
	int n = 0, cnt = 0;
	char **entries = config_split_csv(value, &n);
	struct config_listener_map *m = xcalloc((size_t)n + 1, sizeof *m);

	for (int i = 0; i < n; i++) {
		char *colon = strrchr(entries[i], ':');
		if (!colon) {
			*err = xasprintf("Error parsing configuration property '%s': entry '%s' is not "
					 "LISTENER_NAME:SECURITY_PROTOCOL", key, entries[i]);
			goto fail;
		}
		*colon = '\0';
		char *name_t = config_trim(entries[i]);
		char *proto_t = config_trim(colon + 1);
		int proto = config_security_protocol_parse(proto_t);
		if (proto < 0) {
			*err = xasprintf("Invalid security protocol `%s` defined in %s", proto_t, key);
			free(name_t);
			free(proto_t);
			goto fail;
		}
		char *name = upper(name_t);
		free(name_t);
		free(proto_t);
		struct config_listener_map *dup = (struct config_listener_map *)map_find(m, cnt, name);
		if (dup) {
			dup->protocol = (enum config_security_protocol)proto;
			free(name);
			continue;
		}
		m[cnt].name = name;
		m[cnt].protocol = (enum config_security_protocol)proto;
		cnt++;
	}
	config_strv_free(entries);
	*out = m;
	*n_out = cnt;
	return 0;
fail:
	config_strv_free(entries);
	map_free(m, cnt);
	return -1;
}

/* --- listeners ------------------------------------------------------------------------- */

void config_endpoints_free(struct config_endpoint *eps, int n)
{
	for (int i = 0; i < n; i++) {
		free(eps[i].name);
		free(eps[i].host);
	}
	free(eps);
}

static bool host_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '%' || c == '.' || c == '_' || c == ':';
}

/*
 * One "NAME://host:port" entry, read the way Kafka's listener regex
 * (.*)://\[?(host chars)\]?:(-?digits) reads it: the name runs to the last
 * "://" after which the rest still parses, brackets around the host are
 * optional, the port follows the last ':'.
 */
static int parse_endpoint(const char *entry, char **name, char **host, long *port)
{
	const char *cands[64];
	int nc = 0;
	for (const char *sep = strstr(entry, "://"); sep && nc < 64; sep = strstr(sep + 1, "://"))
		cands[nc++] = sep;
	while (nc-- > 0) {
		const char *rest = cands[nc] + 3;
		const char *colon = strrchr(rest, ':');
		if (!colon)
			continue;
		const char *p = colon + 1;
		if (*p == '-')
			p++;
		if (!*p)
			continue;
		bool digits = true;
		for (const char *q = p; *q; q++)
			if (*q < '0' || *q > '9')
				digits = false;
		if (!digits)
			continue;
		const char *h = rest, *he = colon;
		if (*h == '[')
			h++;
		if (he > h && he[-1] == ']')
			he--;
		bool ok = true;
		for (const char *q = h; q < he; q++)
			if (!host_char_ok(*q))
				ok = false;
		if (!ok)
			continue;
		errno = 0;
		char *end;
		long v = strtol(colon + 1, &end, 10);
		if (errno || v < 0 || v > 65535)
			return -2;
		*name = xstrndup(entry, (size_t)(cands[nc] - entry));
		*host = xstrndup(h, (size_t)(he - h));
		*port = v;
		return 0;
	}
	return -1;
}

#define FAIL_PORT(...) do { *err = xasprintf(__VA_ARGS__); return -1; } while (0)

static int ip_family(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, host, buf) == 1)
		return 4;
	if (inet_pton(AF_INET6, host, buf) == 1)
		return 6;
	return 0;
}

/*
 * Kafka lets two listeners share a port only when one binds an IPv4 and the
 * other an IPv6 address; port 0 (ephemeral) never clashes.
 */
static int check_ports(const struct config_endpoint *eps, int n, const char *value, char **err)
{
	for (int i = 0; i < n; i++) {
		if (eps[i].port == 0)
			continue;
		int total = 0, with_ip = 0, v4 = 0, v6 = 0;
		bool first = true;
		for (int j = 0; j < n; j++) {
			if (eps[j].port != eps[i].port)
				continue;
			first = first && j >= i;
			int fam = ip_family(eps[j].host);
			total++;
			with_ip += fam != 0;
			v4 += fam == 4;
			v6 += fam == 6;
		}
		if (!first || total == 1)
			continue;
		int without_ip = total - with_ip;
		if (without_ip > 1)
			FAIL_PORT("Each listener must have a different port, listeners: %s", value);
		if (with_ip == 0)
			continue;
		if (with_ip == 2) {
			if (v4 != 1 || v6 != 1 || without_ip > 0)
				FAIL_PORT("If you have two listeners on the same port then one needs to be IPv4 "
					  "and the other IPv6, listeners: %s, port: %d", value, eps[i].port);
			continue;
		}
		FAIL_PORT("Each listener must have a different port unless exactly one listener has an "
			  "IPv4 address and the other IPv6 address, listeners: %s, port: %d", value,
			  eps[i].port);
	}
	return 0;
}

int config_parse_endpoints(const char *value, const struct config_listener_map *map, int n_map,
			   bool require_distinct_ports, struct config_endpoint **out, int *n_out,
			   char **err)
{
	int n = 0, cnt = 0;
	char **entries = config_split_csv(value, &n);
	struct config_endpoint *eps = xcalloc((size_t)n + 1, sizeof *eps);
	char *trimmed = config_trim(value);

	for (int i = 0; i < n; i++) {
		char *name, *host;
		long port;
		int r = parse_endpoint(entries[i], &name, &host, &port);
		if (r == -2) {
			*err = xasprintf("Error creating broker listeners from '%s': Invalid port in %s "
					 "(must be 0..65535)", trimmed, entries[i]);
			goto fail;
		}
		if (r != 0) {
			*err = xasprintf("Error creating broker listeners from '%s': Unable to parse %s to a "
					 "broker endpoint", trimmed, entries[i]);
			goto fail;
		}
		eps[cnt].name = upper(name);
		eps[cnt].host = host;
		eps[cnt].port = (int32_t)port;
		free(name);
		cnt++;
		const struct config_listener_map *m = map_find(map, n_map, eps[cnt - 1].name);
		if (!m) {
			*err = xasprintf("Error creating broker listeners from '%s': No security protocol "
					 "defined for listener %s", trimmed, eps[cnt - 1].name);
			goto fail;
		}
		eps[cnt - 1].protocol = m->protocol;
	}
	for (int i = 0; i < cnt; i++) {
		for (int j = 0; j < i; j++) {
			if (strcmp(eps[i].name, eps[j].name) == 0) {
				*err = xasprintf("Each listener must have a different name, listeners: %s",
						 trimmed);
				goto fail;
			}
		}
	}
	if (require_distinct_ports && check_ports(eps, cnt, trimmed, err) != 0)
		goto fail;
	config_strv_free(entries);
	free(trimmed);
	*out = eps;
	*n_out = cnt;
	return 0;
fail:
	config_strv_free(entries);
	free(trimmed);
	config_endpoints_free(eps, cnt);
	return -1;
}

static const struct config_endpoint *endpoint_find(const struct config_endpoint *eps, int n,
						   const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(eps[i].name, name) == 0)
			return &eps[i];
	return NULL;
}

const struct config_endpoint *config_listener(const struct broker_config *bc, const char *name)
{
	return endpoint_find(bc->listeners, bc->n_listeners, name);
}

const struct config_endpoint *config_advertised_listener(const struct broker_config *bc,
							  const char *name)
{
	return endpoint_find(bc->advertised_listeners, bc->n_advertised_listeners, name);
}

/* What Kafka advertises for a blank host: InetAddress.getLocalHost().getCanonicalHostName(). */
static char *canonical_host_name(void)
{
	char host[256];
	if (gethostname(host, sizeof host) != 0)
		return xstrdup("localhost");
	host[sizeof host - 1] = '\0';
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_CANONNAME;
	char *name = NULL;
	if (getaddrinfo(host, NULL, &hints, &res) == 0 && res && res->ai_canonname &&
	    res->ai_canonname[0])
		name = xstrdup(res->ai_canonname);
	if (res)
		freeaddrinfo(res);
	return name ? name : xstrdup(host);
}

static char *names_of(const struct config_endpoint *eps, int n)
{
	size_t len = 1;
	for (int i = 0; i < n; i++)
		len += strlen(eps[i].name) + 1;
	char *s = xmalloc(len);
	s[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, eps[i].name);
	}
	return s;
}

/* --- derived values ------------------------------------------------------------------------ */

static int64_t get_i(const struct config *cfg, const char *key)
{
	return cfg->values[config_def_index(key)].i;
}

static bool get_null(const struct config *cfg, const char *key)
{
	return cfg->values[config_def_index(key)].is_null;
}

static const char *get_s(const struct config *cfg, const char *key)
{
	return cfg->values[config_def_index(key)].text;
}

static bool get_set(const struct config *cfg, const char *key)
{
	return cfg->values[config_def_index(key)].set;
}

int64_t config_log_retention_ms(const struct config *cfg)
{
	int64_t ms;
	if (!get_null(cfg, "log.retention.ms"))
		ms = get_i(cfg, "log.retention.ms");
	else if (!get_null(cfg, "log.retention.minutes"))
		ms = 60000LL * get_i(cfg, "log.retention.minutes");
	else
		ms = 3600000LL * get_i(cfg, "log.retention.hours");
	return ms < 0 ? -1 : ms;
}

int64_t config_log_roll_ms(const struct config *cfg)
{
	if (!get_null(cfg, "log.roll.ms"))
		return get_i(cfg, "log.roll.ms");
	return 3600000LL * get_i(cfg, "log.roll.hours");
}

int64_t config_log_roll_jitter_ms(const struct config *cfg)
{
	if (!get_null(cfg, "log.roll.jitter.ms"))
		return get_i(cfg, "log.roll.jitter.ms");
	return 3600000LL * get_i(cfg, "log.roll.jitter.hours");
}

void config_broker_free(struct broker_config *bc)
{
	config_endpoints_free(bc->listeners, bc->n_listeners);
	config_endpoints_free(bc->advertised_listeners, bc->n_advertised_listeners);
	map_free(bc->listener_security_protocol_map, bc->n_listener_security_protocol_map);
	config_strv_free(bc->log_dirs);
	free((char *)bc->inter_broker_listener_name);
	free((char *)bc->control_plane_listener_name);
	memset(bc, 0, sizeof *bc);
}

static void fill_plain(struct config *cfg, struct broker_config *bc)
{
	bc->broker_id = (int32_t)get_i(cfg, "broker.id");
	bc->broker_id_generation_enable = get_i(cfg, "broker.id.generation.enable");
	bc->reserved_broker_max_id = (int32_t)get_i(cfg, "reserved.broker.max.id");
	bc->broker_rack = get_s(cfg, "broker.rack");

	bc->zookeeper_connect = get_s(cfg, "zookeeper.connect");
	bc->zookeeper_session_timeout_ms = (int32_t)get_i(cfg, "zookeeper.session.timeout.ms");
	bc->zookeeper_connection_timeout_ms = get_null(cfg, "zookeeper.connection.timeout.ms")
		? bc->zookeeper_session_timeout_ms
		: (int32_t)get_i(cfg, "zookeeper.connection.timeout.ms");
	bc->zookeeper_max_in_flight_requests = (int32_t)get_i(cfg, "zookeeper.max.in.flight.requests");
	bc->zookeeper_set_acl = get_i(cfg, "zookeeper.set.acl");

	bc->num_network_threads = (int32_t)get_i(cfg, "num.network.threads");
	bc->num_io_threads = (int32_t)get_i(cfg, "num.io.threads");
	bc->background_threads = (int32_t)get_i(cfg, "background.threads");
	bc->queued_max_requests = (int32_t)get_i(cfg, "queued.max.requests");
	bc->socket_request_max_bytes = (int32_t)get_i(cfg, "socket.request.max.bytes");
	bc->socket_send_buffer_bytes = (int32_t)get_i(cfg, "socket.send.buffer.bytes");
	bc->socket_receive_buffer_bytes = (int32_t)get_i(cfg, "socket.receive.buffer.bytes");
	bc->socket_listen_backlog_size = (int32_t)get_i(cfg, "socket.listen.backlog.size");
	bc->connections_max_idle_ms = get_i(cfg, "connections.max.idle.ms");
	bc->max_connections = (int32_t)get_i(cfg, "max.connections");
	bc->max_connections_per_ip = (int32_t)get_i(cfg, "max.connections.per.ip");
	bc->request_timeout_ms = (int32_t)get_i(cfg, "request.timeout.ms");
	bc->controller_socket_timeout_ms = (int32_t)get_i(cfg, "controller.socket.timeout.ms");

	bc->num_recovery_threads_per_data_dir = (int32_t)get_i(cfg, "num.recovery.threads.per.data.dir");
	bc->log_segment_bytes = (int32_t)get_i(cfg, "log.segment.bytes");
	bc->log_roll_ms = config_log_roll_ms(cfg);
	bc->log_roll_jitter_ms = config_log_roll_jitter_ms(cfg);
	bc->log_retention_ms = config_log_retention_ms(cfg);
	bc->log_retention_bytes = get_i(cfg, "log.retention.bytes");
	bc->log_retention_check_interval_ms = get_i(cfg, "log.retention.check.interval.ms");
	bc->log_index_size_max_bytes = (int32_t)get_i(cfg, "log.index.size.max.bytes");
	bc->log_index_interval_bytes = (int32_t)get_i(cfg, "log.index.interval.bytes");
	bc->log_flush_interval_messages = get_i(cfg, "log.flush.interval.messages");
	bc->log_flush_scheduler_interval_ms = get_i(cfg, "log.flush.scheduler.interval.ms");
	bc->log_flush_interval_ms = get_null(cfg, "log.flush.interval.ms")
		? bc->log_flush_scheduler_interval_ms
		: get_i(cfg, "log.flush.interval.ms");
	bc->log_segment_delete_delay_ms = get_i(cfg, "log.segment.delete.delay.ms");
	bc->log_preallocate = get_i(cfg, "log.preallocate");
	bc->log_cleaner_enable = get_i(cfg, "log.cleaner.enable");
	bc->compression_type = get_s(cfg, "compression.type");
	bc->log_message_timestamp_type = get_s(cfg, "log.message.timestamp.type");
	bc->min_insync_replicas = (int32_t)get_i(cfg, "min.insync.replicas");
	bc->unclean_leader_election_enable = get_i(cfg, "unclean.leader.election.enable");

	bc->auto_create_topics_enable = get_i(cfg, "auto.create.topics.enable");
	bc->num_partitions = (int32_t)get_i(cfg, "num.partitions");
	bc->default_replication_factor = (int32_t)get_i(cfg, "default.replication.factor");
	bc->delete_topic_enable = get_i(cfg, "delete.topic.enable");
	bc->message_max_bytes = (int32_t)get_i(cfg, "message.max.bytes");
	bc->fetch_max_bytes = (int32_t)get_i(cfg, "fetch.max.bytes");
	bc->replica_fetch_max_bytes = (int32_t)get_i(cfg, "replica.fetch.max.bytes");
	bc->replica_fetch_wait_max_ms = (int32_t)get_i(cfg, "replica.fetch.wait.max.ms");
	bc->replica_fetch_min_bytes = (int32_t)get_i(cfg, "replica.fetch.min.bytes");
	bc->replica_fetch_response_max_bytes = (int32_t)get_i(cfg, "replica.fetch.response.max.bytes");
	bc->replica_fetch_backoff_ms = (int32_t)get_i(cfg, "replica.fetch.backoff.ms");
	bc->replica_lag_time_max_ms = get_i(cfg, "replica.lag.time.max.ms");
	bc->replica_socket_timeout_ms = (int32_t)get_i(cfg, "replica.socket.timeout.ms");
	bc->num_replica_fetchers = (int32_t)get_i(cfg, "num.replica.fetchers");
	bc->replica_high_watermark_checkpoint_interval_ms =
		get_i(cfg, "replica.high.watermark.checkpoint.interval.ms");

	bc->controlled_shutdown_enable = get_i(cfg, "controlled.shutdown.enable");
	bc->controlled_shutdown_max_retries = (int32_t)get_i(cfg, "controlled.shutdown.max.retries");
	bc->controlled_shutdown_retry_backoff_ms = get_i(cfg, "controlled.shutdown.retry.backoff.ms");
	bc->auto_leader_rebalance_enable = get_i(cfg, "auto.leader.rebalance.enable");
	bc->leader_imbalance_per_broker_percentage =
		(int32_t)get_i(cfg, "leader.imbalance.per.broker.percentage");
	bc->leader_imbalance_check_interval_seconds = get_i(cfg, "leader.imbalance.check.interval.seconds");

	bc->group_min_session_timeout_ms = (int32_t)get_i(cfg, "group.min.session.timeout.ms");
	bc->group_max_session_timeout_ms = (int32_t)get_i(cfg, "group.max.session.timeout.ms");
	bc->group_initial_rebalance_delay_ms = (int32_t)get_i(cfg, "group.initial.rebalance.delay.ms");
	bc->group_max_size = (int32_t)get_i(cfg, "group.max.size");
	bc->offset_metadata_max_bytes = (int32_t)get_i(cfg, "offset.metadata.max.bytes");
	bc->offsets_topic_replication_factor = (int16_t)get_i(cfg, "offsets.topic.replication.factor");
	bc->offsets_topic_num_partitions = (int32_t)get_i(cfg, "offsets.topic.num.partitions");
	bc->offsets_topic_segment_bytes = (int32_t)get_i(cfg, "offsets.topic.segment.bytes");
	bc->offsets_retention_minutes = (int32_t)get_i(cfg, "offsets.retention.minutes");
	bc->offsets_retention_check_interval_ms = get_i(cfg, "offsets.retention.check.interval.ms");
	bc->offsets_commit_timeout_ms = (int32_t)get_i(cfg, "offsets.commit.timeout.ms");

	bc->transaction_state_log_replication_factor =
		(int16_t)get_i(cfg, "transaction.state.log.replication.factor");
	bc->transaction_state_log_num_partitions = (int32_t)get_i(cfg, "transaction.state.log.num.partitions");
	bc->transaction_state_log_segment_bytes = (int32_t)get_i(cfg, "transaction.state.log.segment.bytes");
	bc->transaction_state_log_min_isr = (int32_t)get_i(cfg, "transaction.state.log.min.isr");
	bc->transaction_max_timeout_ms = (int32_t)get_i(cfg, "transaction.max.timeout.ms");
	bc->transactional_id_expiration_ms = (int32_t)get_i(cfg, "transactional.id.expiration.ms");
	bc->producer_id_expiration_ms = (int32_t)get_i(cfg, "producer.id.expiration.ms");
}

/* --- cross-key checks ------------------------------------------------------------------------ */

#define FAIL(...) do { *err = xasprintf(__VA_ARGS__); return -1; } while (0)

static char *java_list(char **v, int n)
{
	size_t len = 3;
	for (int i = 0; i < n; i++)
		len += strlen(v[i]) + 2;
	char *s = xmalloc(len);
	strcpy(s, "[");
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, v[i]);
	}
	strcat(s, "]");
	return s;
}

static bool list_has(char **v, int n, const char *s, bool nocase)
{
	for (int i = 0; i < n; i++)
		if (nocase ? strcasecmp(v[i], s) == 0 : strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* The settings samsa cannot honour at all, refused rather than silently ignored. */
static int check_mode(struct config *cfg, char **err)
{
	int n;
	char **roles = cfg->values[config_def_index("process.roles")].list;
	n = cfg->values[config_def_index("process.roles")].n_list;
	if (get_i(cfg, "node.id") != get_i(cfg, "broker.id"))
		FAIL("You must set `node.id` to the same value as `broker.id`.");
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(roles[i], roles[j]) == 0) {
				char *l = java_list(roles, n);
				*err = xasprintf("Duplicate role names found in `process.roles`: %s", l);
				free(l);
				return -1;
			}
	if (n > 0)
		FAIL("process.roles is set, but samsa runs only in ZooKeeper mode (KRaft is not "
		     "supported); remove process.roles and set zookeeper.connect");
	if (get_i(cfg, "zookeeper.metadata.migration.enable"))
		FAIL("zookeeper.metadata.migration.enable=true is not supported: samsa runs only in "
		     "ZooKeeper mode and cannot take part in a migration to KRaft");
	const char *cln = get_s(cfg, "controller.listener.names");
	if (cln && *cln) {
		int nn;
		char **names = config_split_list(cln, &nn);
		char *l = java_list(names, nn);
		config_strv_free(names);
		*err = xasprintf("controller.listener.names must be empty when not running in KRaft mode: %s",
				 l);
		free(l);
		return -1;
	}

	char **protos = cfg->values[config_def_index("group.coordinator.rebalance.protocols")].list;
	n = cfg->values[config_def_index("group.coordinator.rebalance.protocols")].n_list;
	if (!list_has(protos, n, "classic", true))
		FAIL("Disabling the 'Classic' protocol is not supported.");
	if (list_has(protos, n, "consumer", true))
		FAIL("The new 'Consumer' rebalance protocol is only supported in KRaft cluster.");
	return 0;
}

static int check_identity(struct config *cfg, struct broker_config *bc, char **err)
{
	if (!bc->zookeeper_connect)
		FAIL("Missing required configuration `zookeeper.connect` which has no default value.");
	if (bc->broker_id_generation_enable) {
		if (bc->broker_id < -1 || bc->broker_id > bc->reserved_broker_max_id)
			FAIL("broker.id must be greater than or equal to -1 and not greater than "
			     "reserved.broker.max.id");
	} else if (bc->broker_id < 0) {
		FAIL("broker.id must be greater than or equal to 0");
	}
	return 0;
}

static int check_log(struct config *cfg, struct broker_config *bc, char **err)
{
	if (bc->log_roll_ms < 1)
		FAIL("log.roll.ms must be greater than or equal to 1");
	if (bc->log_roll_jitter_ms < 0)
		FAIL("log.roll.jitter.ms must be greater than or equal to 0");
	if (bc->log_retention_ms < 1 && bc->log_retention_ms != -1)
		FAIL("log.retention.ms must be unlimited (-1) or, greater than or equal to 1");

	const char *dirs = get_null(cfg, "log.dirs") ? get_s(cfg, "log.dir") : get_s(cfg, "log.dirs");
	bc->log_dirs = config_split_csv(dirs ? dirs : "", &bc->n_log_dirs);
	if (bc->n_log_dirs == 0)
		FAIL("At least one log directory must be defined via log.dirs or log.dir.");

	int64_t threads = get_i(cfg, "log.cleaner.threads");
	/* Kafka divides by the thread count; with 0 threads there is no buffer to size. */
	if (threads > 0 && get_i(cfg, "log.cleaner.dedupe.buffer.size") / threads <= 1024 * 1024)
		FAIL("log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread.");
	if (bc->replica_fetch_wait_max_ms > bc->replica_socket_timeout_ms)
		FAIL("replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms to "
		     "prevent unnecessary socket timeouts");
	if (bc->replica_fetch_wait_max_ms > bc->replica_lag_time_max_ms)
		FAIL("replica.fetch.wait.max.ms should always be less than or equal to "
		     "replica.lag.time.max.ms to prevent frequent changes in ISR");

	int64_t min_lag = get_i(cfg, "log.cleaner.min.compaction.lag.ms");
	int64_t max_lag = get_i(cfg, "log.cleaner.max.compaction.lag.ms");
	if (min_lag > max_lag)
		FAIL("conflict topic config setting min.compaction.lag.ms (%lld) > max.compaction.lag.ms "
		     "(%lld)", (long long)min_lag, (long long)max_lag);
	return 0;
}

static int check_listeners(struct config *cfg, struct broker_config *bc, char **err)
{
	if (parse_protocol_map(get_s(cfg, "listener.security.protocol.map"),
			       &bc->listener_security_protocol_map,
			       &bc->n_listener_security_protocol_map, err) != 0)
		return -1;
	const struct config_listener_map *map = bc->listener_security_protocol_map;
	int n_map = bc->n_listener_security_protocol_map;

	if (config_parse_endpoints(get_s(cfg, "listeners"), map, n_map, true, &bc->listeners,
				   &bc->n_listeners, err) != 0)
		return -1;

	const char *adv = get_s(cfg, "advertised.listeners");
	if (config_parse_endpoints(adv ? adv : get_s(cfg, "listeners"), map, n_map, false,
				   &bc->advertised_listeners, &bc->n_advertised_listeners, err) != 0)
		return -1;

	/* Inter-broker listener: named directly, or the listener named after the protocol. */
	const char *ibl = get_s(cfg, "inter.broker.listener.name");
	if (ibl) {
		if (get_set(cfg, "security.inter.broker.protocol"))
			FAIL("Only one of inter.broker.listener.name and security.inter.broker.protocol "
			     "should be set.");
		char *name = upper(ibl);
		const struct config_listener_map *m = map_find(map, n_map, name);
		if (!m) {
			*err = xasprintf("Listener with name %s defined in inter.broker.listener.name not "
					 "found in listener.security.protocol.map.", name);
			free(name);
			return -1;
		}
		bc->inter_broker_listener_name = name;
		bc->inter_broker_security_protocol = m->protocol;
	} else {
		const char *p = get_s(cfg, "security.inter.broker.protocol");
		int proto = config_security_protocol_parse(p);
		if (proto < 0)
			FAIL("Invalid security protocol `%s` defined in security.inter.broker.protocol", p);
		bc->inter_broker_security_protocol = (enum config_security_protocol)proto;
		bc->inter_broker_listener_name = xstrdup(protocol_names[proto]);
	}

	const char *cpl = get_s(cfg, "control.plane.listener.name");
	if (cpl) {
		char *name = upper(cpl);
		bc->control_plane_listener_name = name;
		if (!map_find(map, n_map, name))
			FAIL("Listener with %s defined in control.plane.listener.name not found in "
			     "listener.security.protocol.map.", name);
	}

	/* early.start.listeners (KRaft's) may only name configured listeners. */
	const char *esl = get_s(cfg, "early.start.listeners");
	if (esl) {
		int n;
		char **names = config_split_csv(esl, &n);
		for (int i = 0; i < n; i++) {
			if (!endpoint_find(bc->listeners, bc->n_listeners, names[i])) {
				*err = xasprintf("early.start.listeners contains listener %s, but this is not "
						 "contained in listeners or controller.listener.names", names[i]);
				config_strv_free(names);
				return -1;
			}
		}
		config_strv_free(names);
	}

	char *adv_names = names_of(bc->advertised_listeners, bc->n_advertised_listeners);
	int rc = 0;
	if (bc->n_advertised_listeners == 0) {
		*err = xstrdup("There must be at least one broker advertised listener.");
		rc = -1;
	} else if (!endpoint_find(bc->advertised_listeners, bc->n_advertised_listeners,
				  bc->inter_broker_listener_name)) {
		*err = xasprintf("inter.broker.listener.name must be a listener name defined in "
				 "advertised.listeners. The valid options based on currently configured "
				 "listeners are %s", adv_names);
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < bc->n_advertised_listeners; i++) {
		if (!endpoint_find(bc->listeners, bc->n_listeners, bc->advertised_listeners[i].name)) {
			char *names = names_of(bc->listeners, bc->n_listeners);
			*err = xasprintf("advertised.listeners listener names must be equal to or a subset of "
					 "the ones defined in listeners. Found %s. The valid options based on "
					 "the current configuration are %s", adv_names, names);
			free(names);
			rc = -1;
		}
	}
	for (int i = 0; rc == 0 && i < bc->n_advertised_listeners; i++) {
		if (strcmp(bc->advertised_listeners[i].host, "0.0.0.0") == 0) {
			*err = xstrdup("advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. "
				       "Use a routable IP address.");
			rc = -1;
		}
	}
	if (rc == 0 && bc->control_plane_listener_name) {
		if (!endpoint_find(bc->advertised_listeners, bc->n_advertised_listeners,
				   bc->control_plane_listener_name)) {
			*err = xasprintf("control.plane.listener.name must be a listener name defined in "
					 "advertised.listeners. The valid options based on currently "
					 "configured listeners are %s", adv_names);
			rc = -1;
		} else if (strcmp(bc->control_plane_listener_name, bc->inter_broker_listener_name) == 0) {
			*err = xasprintf("control.plane.listener.name, when defined, should have a different "
					 "value from the inter broker listener name. Currently they both have "
					 "the value %s", bc->control_plane_listener_name);
			rc = -1;
		}
	}
	free(adv_names);
	if (rc != 0)
		return rc;

	/* A blank advertised host means "this machine", as other brokers and clients know it. */
	char *canon = NULL;
	for (int i = 0; i < bc->n_advertised_listeners; i++) {
		struct config_endpoint *e = &bc->advertised_listeners[i];
		if (e->host[0] == '\0') {
			if (!canon)
				canon = canonical_host_name();
			free(e->host);
			e->host = xstrdup(canon);
		}
	}
	free(canon);
	return 0;
}

/* The record format (0 = v0, 1 = v1, 2 = v2) a metadata version can write. */
static int record_version(int ordinal)
{
	if (ordinal < config_metadata_version_ordinal("0.10.0-IV0"))
		return 0;
	if (ordinal < config_metadata_version_ordinal("0.11.0-IV0"))
		return 1;
	return 2;
}

static int check_versions(struct config *cfg, struct broker_config *bc, char **err)
{
	const char *ibp_s = get_s(cfg, "inter.broker.protocol.version");
	const char *mfv_s = get_s(cfg, "log.message.format.version");
	int ibp = config_metadata_version_ordinal(ibp_s);
	int mfv = config_metadata_version_ordinal(mfv_s);
	int v3_0_iv1 = config_metadata_version_ordinal("3.0-IV1");
	static const char *const min_for_record[] = { "0.8.0", "0.10.0", "0.11.0" };

	bc->inter_broker_protocol_version = config_metadata_version_resolve(ibp_s);
	/* From 3.0-IV1 on the message format is always v2 and the setting is ignored. */
	if (ibp >= v3_0_iv1) {
		if (record_version(mfv) < 2)
			log_warn("Broker configuration log.message.format.version with value %s is ignored "
				 "because the inter-broker protocol version `%s` is greater or equal than "
				 "3.0. This configuration is deprecated and it will be removed in Apache "
				 "Kafka 4.0.", mfv_s, ibp_s);
		mfv = v3_0_iv1;
	}
	if (record_version(ibp) < record_version(mfv))
		FAIL("log.message.format.version %s can only be used when inter.broker.protocol.version "
		     "is set to version %s or higher", mfv_s, min_for_record[record_version(mfv)]);

	int64_t codec = get_i(cfg, "offsets.topic.compression.codec");
	if (codec < 0 || codec > 4)
		FAIL("Invalid value %lld for configuration offsets.topic.compression.codec: Unknown "
		     "compression type id: %lld", (long long)codec, (long long)codec);
	if (codec == 4 && ibp < config_metadata_version_ordinal("2.1-IV0"))
		FAIL("offsets.topic.compression.codec zstd can only be used when "
		     "inter.broker.protocol.version is set to version 2.1 or higher");

	enum config_security_protocol p = bc->inter_broker_security_protocol;
	if (p == CONFIG_SECPROTO_SASL_PLAINTEXT || p == CONFIG_SECPROTO_SASL_SSL) {
		const char *mech = get_s(cfg, "sasl.mechanism.inter.broker.protocol");
		if (ibp < config_metadata_version_ordinal("0.10.0-IV1") && strcmp(mech, "GSSAPI") != 0)
			FAIL("Only GSSAPI mechanism is supported for inter-broker communication with SASL "
			     "when inter.broker.protocol.version is set to %s", ibp_s);
		const char *enabled = config_listener_raw(cfg, bc->inter_broker_listener_name,
							  "sasl.enabled.mechanisms");
		int n;
		char **mechs = config_split_list(enabled ? enabled : "", &n);
		bool ok = list_has(mechs, n, mech, false);
		config_strv_free(mechs);
		if (!ok)
			FAIL("sasl.mechanism.inter.broker.protocol must be included in "
			     "sasl.enabled.mechanisms when SASL is used for inter-broker communication");
	}
	return 0;
}

static int check_network(struct config *cfg, struct broker_config *bc, char **err)
{
	int64_t queued = get_i(cfg, "queued.max.request.bytes");
	if (queued > 0 && queued < bc->socket_request_max_bytes)
		FAIL("queued.max.request.bytes must be larger or equal to socket.request.max.bytes");

	/* host:count pairs, split at the last ':' so IPv6 addresses work. */
	const char *ov = get_s(cfg, "max.connections.per.ip.overrides");
	int n;
	char **entries = config_split_csv(ov ? ov : "", &n);
	for (int i = 0; i < n; i++) {
		char *colon = strrchr(entries[i], ':');
		if (!colon) {
			*err = xasprintf("Error parsing configuration property "
					 "'max.connections.per.ip.overrides': entry '%s' is not HOST:COUNT",
					 entries[i]);
			break;
		}
		*colon = '\0';
		char *host = config_trim(entries[i]);
		char *count = config_trim(colon + 1);
		struct config_def d = { .name = "max.connections.per.ip.overrides", .type = CONFIG_INT };
		if (config_validate(&d, count, err) == 0) {
			for (const char *c = host; *c; c++) {
				if (!host_char_ok(*c)) {
					*err = xasprintf("max.connections.per.ip.overrides contains invalid "
							 "addresses : %s", host);
					break;
				}
			}
		}
		free(host);
		free(count);
		if (*err)
			break;
	}
	config_strv_free(entries);
	if (*err)
		return -1;
	if (bc->max_connections_per_ip == 0 && n == 0)
		FAIL("max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides "
		     "property is set.");

	int64_t delay = get_i(cfg, "connection.failed.authentication.delay.ms");
	if (bc->connections_max_idle_ms >= 0 && delay >= bc->connections_max_idle_ms)
		FAIL("connection.failed.authentication.delay.ms=%lld should always be less than "
		     "connections.max.idle.ms=%lld to prevent failed authentication responses from "
		     "timing out", (long long)delay, (long long)bc->connections_max_idle_ms);

	if (!get_s(cfg, "principal.builder.class"))
		FAIL("principal.builder.class must be non-null");
	return 0;
}

int config_broker_build(struct config *cfg, char **err)
{
	struct broker_config *bc = &cfg->bc;

	memset(bc, 0, sizeof *bc);
	cfg->bc_ready = true; /* from here on config_free releases whatever got built */
	fill_plain(cfg, bc);
	if (check_mode(cfg, err) != 0 || check_identity(cfg, bc, err) != 0 ||
	    check_log(cfg, bc, err) != 0 || check_listeners(cfg, bc, err) != 0 ||
	    check_versions(cfg, bc, err) != 0 || check_network(cfg, bc, err) != 0)
		return -1;
	if (get_set(cfg, "offsets.commit.required.acks"))
		log_warn("offsets.commit.required.acks is deprecated and it will be removed in Apache "
			 "Kafka 4.0.");
	return 0;
}
