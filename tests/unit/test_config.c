/* Unit tests for the broker configuration: .properties syntax, defaults, overrides,
 * validation messages, unknown keys, listeners and the derived broker settings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "samsa/config.h"

/* Every load needs zookeeper.connect; the tests add it unless they test its absence. */
#define ZK "zookeeper.connect=127.0.0.1:2181\n"

static struct config *load_ok(const char *text)
{
	char *err = NULL;
	struct config *c = config_load_string(text, NULL, 0, &err);
	if (!c)
		fail_msg("unexpected error: %s", err);
	return c;
}

static void expect_error(const char *text, const char *msg)
{
	char *err = NULL;
	struct config *c = config_load_string(text, NULL, 0, &err);
	if (c) {
		config_free(c);
		fail_msg("expected error \"%s\" but the config loaded", msg);
	}
	assert_non_null(err);
	assert_string_equal(err, msg);
	free(err);
}

/* --- .properties syntax --------------------------------------------------------------- */

static struct props parse(const char *text)
{
	struct props p = { 0 };
	char *err = NULL;
	assert_int_equal(props_parse(&p, text, strlen(text), &err), 0);
	assert_null(err);
	return p;
}

static void test_props_separators(void **state)
{
	(void)state;
	struct props p = parse("a=1\n"
			       "b:2\n"
			       "c 3\n"
			       "d = 4\n"
			       "e  :  5\n"
			       "f\t=\t6\n"
			       "   g=7\n"
			       "h=\n"
			       "i\n"
			       "j==x\n"
			       "k = a=b:c\n");
	assert_string_equal(props_get(&p, "a"), "1");
	assert_string_equal(props_get(&p, "b"), "2");
	assert_string_equal(props_get(&p, "c"), "3");
	assert_string_equal(props_get(&p, "d"), "4");
	assert_string_equal(props_get(&p, "e"), "5");
	assert_string_equal(props_get(&p, "f"), "6");
	assert_string_equal(props_get(&p, "g"), "7");
	assert_string_equal(props_get(&p, "h"), "");
	assert_string_equal(props_get(&p, "i"), "");
	assert_string_equal(props_get(&p, "j"), "=x"); /* only the first separator is eaten */
	assert_string_equal(props_get(&p, "k"), "a=b:c");
	assert_int_equal(p.n, 11);
	props_free(&p);
}

static void test_props_comments_and_blank_lines(void **state)
{
	(void)state;
	struct props p = parse("# comment=1\n"
			       "! also a comment\n"
			       "   # indented comment\n"
			       "\n"
			       "   \t\n"
			       "# a comment ending in a backslash does not continue \\\n"
			       "x=1\n"
			       "y=2 # not a comment\n");
	assert_int_equal(p.n, 2);
	assert_string_equal(props_get(&p, "x"), "1");
	assert_string_equal(props_get(&p, "y"), "2 # not a comment");
	props_free(&p);
}

static void test_props_continuation(void **state)
{
	(void)state;
	struct props p = parse("listeners=PLAINTEXT://:9092,\\\n"
			       "          SSL://:9093\n"
			       "two=a\\\\\n"   /* even backslashes: a literal one, no continuation */
			       "three=b\\\\\\\n" /* odd: one literal, then continuation */
			       "   c\n"
			       "crlf=x\\\r\n"
			       "  y\r\n"
			       "last=end\\");
	assert_string_equal(props_get(&p, "listeners"), "PLAINTEXT://:9092,SSL://:9093");
	assert_string_equal(props_get(&p, "two"), "a\\");
	assert_string_equal(props_get(&p, "three"), "b\\c");
	assert_string_equal(props_get(&p, "crlf"), "xy");
	assert_string_equal(props_get(&p, "last"), "end");
	assert_int_equal(p.n, 5);
	props_free(&p);
}

static void test_props_escapes(void **state)
{
	(void)state;
	struct props p = parse("my\\ key=v\n"
			       "a\\=b=c\n"
			       "c\\:d:e\n"
			       "esc=\\t\\n\\r\\f\\x\\\\\n"
			       "uni=\\u0041\\u00e9\\u20ac\n"
			       "pair=\\ud83d\\ude00\n"
			       "path=C\\:\\\\dir\n"
			       "trail=value  \n"
			       "utf8=caf\xc3\xa9\n");
	assert_string_equal(props_get(&p, "my key"), "v");
	assert_string_equal(props_get(&p, "a=b"), "c");
	assert_string_equal(props_get(&p, "c:d"), "e");
	assert_string_equal(props_get(&p, "esc"), "\t\n\r\fx\\");
	assert_string_equal(props_get(&p, "uni"), "A\xc3\xa9\xe2\x82\xac");
	assert_string_equal(props_get(&p, "pair"), "\xf0\x9f\x98\x80");
	assert_string_equal(props_get(&p, "path"), "C:\\dir");
	assert_string_equal(props_get(&p, "trail"), "value  "); /* Java keeps trailing blanks */
	assert_string_equal(props_get(&p, "utf8"), "caf\xc3\xa9");
	props_free(&p);
}

static void test_props_later_line_wins_and_bad_unicode(void **state)
{
	(void)state;
	struct props p = parse("k=1\nk=2\n");
	assert_int_equal(p.n, 1);
	assert_string_equal(props_get(&p, "k"), "2");
	props_free(&p);

	char *err = NULL;
	const char *bad = "k=\\u12g4\n";
	struct props q = { 0 };
	assert_int_equal(props_parse(&q, bad, strlen(bad), &err), -1);
	assert_string_equal(err, "Malformed \\uxxxx encoding.");
	free(err);
	props_free(&q);

	/* The loader names the file in the error. */
	char path[] = "/tmp/samsa-test-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	struct config *c = config_load(path, NULL, 0, &err);
	assert_null(c);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "Malformed \\uxxxx encoding."));
	free(err);
	unlink(path);
}

/* --- loading, defaults, overrides ----------------------------------------------------------- */

static void test_defaults(void **state)
{
	(void)state;
	struct config *c = load_ok(ZK);
	assert_int_equal(config_int(c, "num.network.threads"), 3);
	assert_int_equal(config_int(c, "num.io.threads"), 8);
	assert_int_equal(config_int(c, "broker.id"), -1);
	assert_int_equal(config_int(c, "message.max.bytes"), 1048588);
	assert_int_equal(config_int(c, "offsets.topic.replication.factor"), 3); /* SHORT */
	assert_true(config_long(c, "log.cleaner.max.compaction.lag.ms") == INT64_MAX);
	assert_true(config_long(c, "connections.max.idle.ms") == 600000);
	assert_true(config_long(c, "num.io.threads") == 8); /* INT read as long */
	assert_true(config_bool(c, "auto.create.topics.enable"));
	assert_false(config_bool(c, "unclean.leader.election.enable"));
	assert_true(config_double(c, "log.cleaner.min.cleanable.ratio") == 0.5);
	assert_true(config_double(c, "log.cleaner.io.max.bytes.per.second") > 1e308);
	assert_string_equal(config_string(c, "compression.type"), "producer");
	assert_string_equal(config_string(c, "authorizer.class.name"), "");
	assert_null(config_string(c, "broker.rack"));
	assert_true(config_is_null(c, "broker.rack"));
	assert_true(config_is_null(c, "zookeeper.connection.timeout.ms"));
	assert_int_equal(config_int(c, "zookeeper.connection.timeout.ms"), 0);
	assert_false(config_is_null(c, "num.partitions"));

	int n = -1;
	char **l = config_list(c, "ssl.enabled.protocols", &n);
	assert_int_equal(n, 2);
	assert_string_equal(l[0], "TLSv1.2");
	assert_string_equal(l[1], "TLSv1.3");
	assert_null(l[2]);
	l = config_list(c, "ssl.cipher.suites", &n); /* "" is an empty list, not null */
	assert_non_null(l);
	assert_int_equal(n, 0);
	l = config_list(c, "zookeeper.ssl.cipher.suites", &n);
	assert_null(l);
	assert_int_equal(n, 0);

	assert_true(config_is_set(c, "zookeeper.connect"));
	assert_false(config_is_set(c, "num.partitions"));
	assert_string_equal(config_get_raw(c, "num.partitions"), "1");
	assert_string_equal(config_get_raw(c, "listeners"), "PLAINTEXT://:9092");
	assert_null(config_get_raw(c, "log.dirs"));
	assert_null(config_get_raw(c, "no.such.key"));

	int nu = -1;
	config_unused_keys(c, &nu);
	assert_int_equal(nu, 0);
	config_free(c);
}

static void test_values_trimmed_and_typed(void **state)
{
	(void)state;
	struct config *c = load_ok(ZK "num.partitions =  7  \n"
				   "auto.create.topics.enable = FALSE\n"
				   "log.retention.bytes=-1073741824000\n"
				   "log.cleaner.min.cleanable.ratio=0.25\n"
				   "sasl.enabled.mechanisms= PLAIN , SCRAM-SHA-256 ,\n"
				   "broker.rack= r1 \n"
				   "offsets.commit.timeout.ms=+5000\n");
	assert_int_equal(config_int(c, "num.partitions"), 7);
	assert_string_equal(config_get_raw(c, "num.partitions"), "7");
	assert_true(config_is_set(c, "num.partitions"));
	assert_false(config_bool(c, "auto.create.topics.enable"));
	assert_true(config_long(c, "log.retention.bytes") == -1073741824000LL);
	assert_true(config_double(c, "log.cleaner.min.cleanable.ratio") == 0.25);
	assert_string_equal(config_string(c, "broker.rack"), "r1");
	assert_int_equal(config_int(c, "offsets.commit.timeout.ms"), 5000);
	int n;
	char **l = config_list(c, "sasl.enabled.mechanisms", &n);
	/* Kafka keeps the empty element after a trailing comma. */
	assert_int_equal(n, 3);
	assert_string_equal(l[0], "PLAIN");
	assert_string_equal(l[1], "SCRAM-SHA-256");
	assert_string_equal(l[2], "");
	config_free(c);
}

static void test_overrides_win(void **state)
{
	(void)state;
	char path[] = "/tmp/samsa-test-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "broker.id=1\nnum.partitions=3\nzookeeper.connect=10.0.0.1:2181\n"
			   "log.dirs=/file/dir\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	char *ov[] = { "num.partitions=9", "zookeeper.connect=127.0.0.1:2181/chroot=x",
		       " log.dirs =/override/a,/override/b", "broker.rack" };
	char *err = NULL;
	struct config *c = config_load(path, ov, 4, &err);
	assert_non_null(c);
	assert_int_equal(config_int(c, "broker.id"), 1);
	assert_int_equal(config_int(c, "num.partitions"), 9);
	/* Split at the first '=' only, like kafka-server-start's --override. */
	assert_string_equal(config_string(c, "zookeeper.connect"), "127.0.0.1:2181/chroot=x");
	assert_string_equal(config_string(c, "broker.rack"), ""); /* bare key = empty value */
	const struct broker_config *bc = config_broker(c);
	assert_int_equal(bc->n_log_dirs, 2);
	assert_string_equal(bc->log_dirs[0], "/override/a");
	assert_string_equal(bc->log_dirs[1], "/override/b");
	config_free(c);

	/* Overrides alone, without a file. */
	char *ov2[] = { "zookeeper.connect=h:1", "num.io.threads=2" };
	c = config_load(NULL, ov2, 2, &err);
	assert_non_null(c);
	assert_int_equal(config_int(c, "num.io.threads"), 2);
	config_free(c);
	unlink(path);

	c = config_load("/nonexistent/server.properties", NULL, 0, &err);
	assert_null(c);
	assert_string_equal(err, "Cannot read configuration file /nonexistent/server.properties: "
				 "No such file or directory");
	free(err);
}

/* --- validation ------------------------------------------------------------------------ */

static void test_invalid_values(void **state)
{
	(void)state;
	expect_error(ZK "num.network.threads=abc\n",
		     "Invalid value abc for configuration num.network.threads: Not a number of type INT");
	expect_error(ZK "num.network.threads=2147483648\n",
		     "Invalid value 2147483648 for configuration num.network.threads: Not a number of type INT");
	expect_error(ZK "num.network.threads=1.5\n",
		     "Invalid value 1.5 for configuration num.network.threads: Not a number of type INT");
	expect_error(ZK "num.network.threads=\n",
		     "Invalid value  for configuration num.network.threads: Not a number of type INT");
	expect_error(ZK "offsets.topic.replication.factor=40000\n",
		     "Invalid value 40000 for configuration offsets.topic.replication.factor: Not a number "
		     "of type SHORT");
	expect_error(ZK "log.retention.bytes=9223372036854775808\n",
		     "Invalid value 9223372036854775808 for configuration log.retention.bytes: Not a number "
		     "of type LONG");
	expect_error(ZK "log.cleaner.min.cleanable.ratio=half\n",
		     "Invalid value half for configuration log.cleaner.min.cleanable.ratio: Not a number of "
		     "type DOUBLE");
	expect_error(ZK "delete.topic.enable=yes\n",
		     "Invalid value yes for configuration delete.topic.enable: Expected value to be either "
		     "true or false");
	expect_error(ZK "num.network.threads=0\n",
		     "Invalid value 0 for configuration num.network.threads: Value must be at least 1");
	expect_error(ZK "log.cleaner.min.cleanable.ratio=1.5\n",
		     "Invalid value 1.5 for configuration log.cleaner.min.cleanable.ratio: Value must be no "
		     "more than 1");
	expect_error(ZK "compression.gzip.level=0\n",
		     "Invalid value 0 for configuration compression.gzip.level: Value must be between 1 and "
		     "9 or equal to -1");
	expect_error(ZK "compression.type=zip\n",
		     "Invalid value zip for configuration compression.type: String must be one of: "
		     "uncompressed, zstd, lz4, snappy, gzip, producer");
	expect_error(ZK "log.cleanup.policy=compact,remove\n",
		     "Invalid value remove for configuration log.cleanup.policy: String must be one of: "
		     "compact, delete");
	expect_error(ZK "ssl.client.auth=always\n",
		     "Invalid value always for configuration ssl.client.auth: String must be one of: "
		     "required, requested, none");
	expect_error(ZK "inter.broker.protocol.version=5.0\n",
		     "Invalid value 5.0 for configuration inter.broker.protocol.version: Version 5.0 is not "
		     "a valid version");
	expect_error(ZK "remote.log.manager.copier.thread.pool.size=0\n",
		     "Invalid value 0 for configuration remote.log.manager.copier.thread.pool.size: Value "
		     "can be -1 or greater than 0");
	expect_error(ZK "remote.log.metadata.manager.class.name=\n",
		     "Invalid value  for configuration remote.log.metadata.manager.class.name: String must "
		     "be non-empty");

	/* Case-insensitive lists and valid edge values pass. */
	struct config *c = load_ok(ZK "group.consumer.migration.policy=Upgrade\n"
				   "compression.gzip.level=-1\n"
				   "log.cleanup.policy=compact, delete\n"
				   "log.cleaner.min.cleanable.ratio=1\n");
	config_free(c);
}

static void test_cross_key_checks(void **state)
{
	(void)state;
	expect_error("broker.id=0\n",
		     "Missing required configuration `zookeeper.connect` which has no default value.");
	expect_error(ZK "broker.id=1001\n",
		     "broker.id must be greater than or equal to -1 and not greater than "
		     "reserved.broker.max.id");
	expect_error(ZK "broker.id=-2\n",
		     "broker.id must be greater than or equal to -1 and not greater than "
		     "reserved.broker.max.id");
	expect_error(ZK "broker.id=-1\nbroker.id.generation.enable=false\n",
		     "broker.id must be greater than or equal to 0");
	expect_error(ZK "broker.id=1\nnode.id=2\n",
		     "You must set `node.id` to the same value as `broker.id`.");
	expect_error(ZK "log.dirs=\n",
		     "At least one log directory must be defined via log.dirs or log.dir.");
	expect_error(ZK "log.dirs= , \n",
		     "At least one log directory must be defined via log.dirs or log.dir.");
	expect_error(ZK "log.retention.ms=0\n",
		     "log.retention.ms must be unlimited (-1) or, greater than or equal to 1");
	expect_error(ZK "log.roll.ms=0\n", "log.roll.ms must be greater than or equal to 1");
	expect_error(ZK "replica.fetch.wait.max.ms=40000\n",
		     "replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms to "
		     "prevent unnecessary socket timeouts");
	expect_error(ZK "queued.max.request.bytes=1000\n",
		     "queued.max.request.bytes must be larger or equal to socket.request.max.bytes");
	expect_error(ZK "max.connections.per.ip=0\n",
		     "max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides "
		     "property is set.");
	expect_error(ZK "process.roles=broker\n",
		     "process.roles is set, but samsa runs only in ZooKeeper mode (KRaft is not "
		     "supported); remove process.roles and set zookeeper.connect");
	expect_error(ZK "controller.listener.names=CONTROLLER\n",
		     "controller.listener.names must be empty when not running in KRaft mode: [CONTROLLER]");
	expect_error(ZK "group.coordinator.rebalance.protocols=classic,consumer\n",
		     "The new 'Consumer' rebalance protocol is only supported in KRaft cluster.");
	expect_error(ZK "inter.broker.protocol.version=0.10.2\nlog.message.format.version=0.11.0\n",
		     "log.message.format.version 0.11.0 can only be used when "
		     "inter.broker.protocol.version is set to version 0.11.0 or higher");
	expect_error(ZK "log.cleaner.min.compaction.lag.ms=10\nlog.cleaner.max.compaction.lag.ms=5\n",
		     "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)");

	/* The generated-id range and the node.id synonym. */
	struct config *c = load_ok(ZK "node.id=1000\n");
	assert_int_equal(config_broker(c)->broker_id, 1000);
	assert_int_equal(config_int(c, "broker.id"), 1000);
	config_free(c);
	c = load_ok(ZK "max.connections.per.ip=0\nmax.connections.per.ip.overrides=127.0.0.1:5,::1:3\n");
	config_free(c);
}

/* --- unknown keys ------------------------------------------------------------------------- */

/* Runs a load with stderr sent to a file and returns what was logged. */
static char *load_capturing_log(const char *text, struct config **out)
{
	char path[] = "/tmp/samsa-test-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	char *err = NULL;
	*out = config_load_string(text, NULL, 0, &err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (!*out)
		fail_msg("unexpected error: %s", err);
	char *buf = calloc(1, 65536);
	lseek(fd, 0, SEEK_SET);
	ssize_t r = read(fd, buf, 65535);
	assert_true(r >= 0);
	close(fd);
	unlink(path);
	return buf;
}

static void test_unknown_keys_warned_once(void **state)
{
	(void)state;
	struct config *c;
	char *log = load_capturing_log(ZK "foo=1\n"
				       "num.partitions=2\n"
				       "bar.baz=x y\n"
				       "super.users=User:admin;User:ops\n"
				       "listener.name.plaintext.ssl.client.auth=required\n"
				       "listener.name.sasl_plaintext.plain.sasl.jaas.config=x required;\n"
				       "controller.quorum.election.timeout.ms=2000\n"
				       "rsm.config.bucket=b\n",
				       &c);
	const char *line = "WARN These configurations '[foo, bar.baz]' were supplied but are not used yet.";
	char *at = strstr(log, line);
	assert_non_null(at);
	assert_null(strstr(at + strlen(line), "These configurations")); /* once */
	int n;
	char **u = config_unused_keys(c, &n);
	assert_int_equal(n, 2);
	assert_string_equal(u[0], "foo");
	assert_string_equal(u[1], "bar.baz");
	/* Unknown keys are kept and readable as text. */
	assert_string_equal(config_get_raw(c, "bar.baz"), "x y");
	assert_string_equal(config_get_raw(c, "super.users"), "User:admin;User:ops");
	assert_int_equal(config_int(c, "num.partitions"), 2);
	/* Per-listener values fall back to the plain key. */
	assert_string_equal(config_listener_raw(c, "PLAINTEXT", "ssl.client.auth"), "required");
	assert_string_equal(config_listener_raw(c, "SSL", "ssl.client.auth"), "none");
	free(log);
	config_free(c);

	/* Nothing unknown, no warning. */
	log = load_capturing_log(ZK "num.partitions=2\n", &c);
	assert_null(strstr(log, "These configurations"));
	free(log);
	config_free(c);

	/* A listener-prefixed copy of a known key is validated like the key itself. */
	expect_error(ZK "listener.name.internal.ssl.client.auth=always\n",
		     "Invalid value always for configuration listener.name.internal.ssl.client.auth: "
		     "String must be one of: required, requested, none");
}

/* --- listeners ------------------------------------------------------------------------------ */

static void test_listener_parsing(void **state)
{
	(void)state;
	struct config *c = load_ok(ZK "listeners=PLAINTEXT://127.0.0.1:9092, internal://[::1]:9093,"
				   "EXTERNAL://:9094,LOCAL://host-1.example.com:0\n"
				   "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:SSL,"
				   "external:SASL_SSL,LOCAL:sasl_plaintext\n"
				   "advertised.listeners=PLAINTEXT://10.1.2.3:19092,INTERNAL://[fe80::1%eth0]:9093\n");
	const struct broker_config *bc = config_broker(c);
	assert_int_equal(bc->n_listeners, 4);
	assert_string_equal(bc->listeners[0].name, "PLAINTEXT");
	assert_string_equal(bc->listeners[0].host, "127.0.0.1");
	assert_int_equal(bc->listeners[0].port, 9092);
	assert_int_equal(bc->listeners[0].protocol, CONFIG_SECPROTO_PLAINTEXT);
	assert_string_equal(bc->listeners[1].name, "INTERNAL");
	assert_string_equal(bc->listeners[1].host, "::1");
	assert_int_equal(bc->listeners[1].port, 9093);
	assert_int_equal(bc->listeners[1].protocol, CONFIG_SECPROTO_SSL);
	assert_string_equal(bc->listeners[2].name, "EXTERNAL");
	assert_string_equal(bc->listeners[2].host, "");
	assert_int_equal(bc->listeners[2].protocol, CONFIG_SECPROTO_SASL_SSL);
	assert_string_equal(bc->listeners[3].host, "host-1.example.com");
	assert_int_equal(bc->listeners[3].port, 0);
	assert_int_equal(bc->listeners[3].protocol, CONFIG_SECPROTO_SASL_PLAINTEXT);

	assert_int_equal(bc->n_advertised_listeners, 2);
	assert_string_equal(bc->advertised_listeners[0].host, "10.1.2.3");
	assert_int_equal(bc->advertised_listeners[0].port, 19092);
	assert_string_equal(bc->advertised_listeners[1].host, "fe80::1%eth0");
	assert_ptr_equal(config_listener(bc, "INTERNAL"), &bc->listeners[1]);
	assert_ptr_equal(config_advertised_listener(bc, "PLAINTEXT"), &bc->advertised_listeners[0]);
	assert_null(config_advertised_listener(bc, "EXTERNAL"));
	assert_string_equal(bc->inter_broker_listener_name, "PLAINTEXT");
	assert_int_equal(bc->n_listener_security_protocol_map, 4);
	config_free(c);

	/* Direct use of the parser, and ports shared by one IPv4 and one IPv6 address. */
	struct config_listener_map map[] = { { "PLAINTEXT", CONFIG_SECPROTO_PLAINTEXT },
					     { "SSL", CONFIG_SECPROTO_SSL } };
	struct config_endpoint *eps;
	int n;
	char *err = NULL;
	assert_int_equal(config_parse_endpoints("PLAINTEXT://0.0.0.0:9092,SSL://[::]:9092", map, 2, true,
						&eps, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(eps[1].host, "::");
	config_endpoints_free(eps, n);
	/* Unbracketed IPv6 works too: the port follows the last colon. */
	assert_int_equal(config_parse_endpoints("PLAINTEXT://::1:9092", map, 2, true, &eps, &n, &err), 0);
	assert_string_equal(eps[0].host, "::1");
	assert_int_equal(eps[0].port, 9092);
	config_endpoints_free(eps, n);
	/* Port 0 may repeat; advertised lists may repeat ports. */
	assert_int_equal(config_parse_endpoints("PLAINTEXT://:0,SSL://:0", map, 2, true, &eps, &n, &err), 0);
	config_endpoints_free(eps, n);
	assert_int_equal(config_parse_endpoints("PLAINTEXT://a:1,SSL://b:1", map, 2, false, &eps, &n, &err), 0);
	config_endpoints_free(eps, n);
	assert_int_equal(config_parse_endpoints("PLAINTEXT://a:1,SSL://b:1", map, 2, true, &eps, &n, &err), -1);
	assert_string_equal(err, "Each listener must have a different port, listeners: PLAINTEXT://a:1,SSL://b:1");
	free(err);
}

static void test_listener_errors(void **state)
{
	(void)state;
	expect_error(ZK "listeners=PLAINTEXT:/:9092\n",
		     "Error creating broker listeners from 'PLAINTEXT:/:9092': Unable to parse "
		     "PLAINTEXT:/:9092 to a broker endpoint");
	expect_error(ZK "listeners=PLAINTEXT://host\n",
		     "Error creating broker listeners from 'PLAINTEXT://host': Unable to parse "
		     "PLAINTEXT://host to a broker endpoint");
	expect_error(ZK "listeners=PLAINTEXT://h@st:1\n",
		     "Error creating broker listeners from 'PLAINTEXT://h@st:1': Unable to parse "
		     "PLAINTEXT://h@st:1 to a broker endpoint");
	expect_error(ZK "listeners=PLAINTEXT://:70000\n",
		     "Error creating broker listeners from 'PLAINTEXT://:70000': Invalid port in "
		     "PLAINTEXT://:70000 (must be 0..65535)");
	expect_error(ZK "listeners=INTERNAL://:9092\n",
		     "Error creating broker listeners from 'INTERNAL://:9092': No security protocol defined "
		     "for listener INTERNAL");
	expect_error(ZK "listeners=PLAINTEXT://:9092,plaintext://:9093\n",
		     "Each listener must have a different name, listeners: "
		     "PLAINTEXT://:9092,plaintext://:9093");
	expect_error(ZK "listeners=PLAINTEXT://:9092,SSL://:9092\n",
		     "Each listener must have a different port, listeners: PLAINTEXT://:9092,SSL://:9092");
	expect_error(ZK "listeners=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.2:9092\n",
		     "If you have two listeners on the same port then one needs to be IPv4 and the other "
		     "IPv6, listeners: PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.2:9092, port: 9092");
	expect_error(ZK "listeners=PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092,SASL_SSL://[::2]:9092\n",
		     "Each listener must have a different port unless exactly one listener has an IPv4 "
		     "address and the other IPv6 address, listeners: "
		     "PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092,SASL_SSL://[::2]:9092, port: 9092");
	expect_error(ZK "listeners=PLAINTEXT://0.0.0.0:9092\n",
		     "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable "
		     "IP address.");
	expect_error(ZK "advertised.listeners=\n", "There must be at least one broker advertised listener.");
	expect_error(ZK "listeners=PLAINTEXT://:9092,SSL://:9093\nadvertised.listeners=SASL_SSL://h:9094,"
		     "PLAINTEXT://h:9092\n",
		     "advertised.listeners listener names must be equal to or a subset of the ones defined "
		     "in listeners. Found SASL_SSL,PLAINTEXT. The valid options based on the current "
		     "configuration are PLAINTEXT,SSL");
}

static void test_security_map_and_inter_broker(void **state)
{
	(void)state;
	expect_error(ZK "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:TLS\n",
		     "Invalid security protocol `TLS` defined in listener.security.protocol.map");
	expect_error(ZK "listener.security.protocol.map=PLAINTEXT\n",
		     "Error parsing configuration property 'listener.security.protocol.map': entry "
		     "'PLAINTEXT' is not LISTENER_NAME:SECURITY_PROTOCOL");
	expect_error(ZK "inter.broker.listener.name=PLAINTEXT\nsecurity.inter.broker.protocol=PLAINTEXT\n",
		     "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.");
	expect_error(ZK "inter.broker.listener.name=REPLICATION\n",
		     "Listener with name REPLICATION defined in inter.broker.listener.name not found in "
		     "listener.security.protocol.map.");
	expect_error(ZK "security.inter.broker.protocol=SSL\n",
		     "inter.broker.listener.name must be a listener name defined in advertised.listeners. "
		     "The valid options based on currently configured listeners are PLAINTEXT");
	expect_error(ZK "security.inter.broker.protocol=TLS\n",
		     "Invalid value TLS for configuration security.inter.broker.protocol: String must be one "
		     "of: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL");
	expect_error(ZK "listeners=SASL_PLAINTEXT://:9092\nsecurity.inter.broker.protocol=SASL_PLAINTEXT\n"
		     "sasl.mechanism.inter.broker.protocol=PLAIN\n",
		     "sasl.mechanism.inter.broker.protocol must be included in sasl.enabled.mechanisms when "
		     "SASL is used for inter-broker communication");
	expect_error(ZK "listeners=PLAINTEXT://:9092,CONTROL://:9093\n"
		     "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROL:PLAINTEXT\n"
		     "control.plane.listener.name=PLAINTEXT\n",
		     "control.plane.listener.name, when defined, should have a different value from the "
		     "inter broker listener name. Currently they both have the value PLAINTEXT");

	/* Derived from the protocol, or named directly (names are case-insensitive). */
	struct config *c = load_ok(ZK "listeners=INTERNAL://127.0.0.1:9093,EXTERNAL://127.0.0.1:9092\n"
				   "listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:SSL\n"
				   "inter.broker.listener.name=internal\n");
	const struct broker_config *bc = config_broker(c);
	assert_string_equal(bc->inter_broker_listener_name, "INTERNAL");
	assert_int_equal(bc->inter_broker_security_protocol, CONFIG_SECPROTO_PLAINTEXT);
	assert_int_equal(bc->n_listener_security_protocol_map, 2);
	config_free(c);

	c = load_ok(ZK "listeners=SSL://127.0.0.1:9093\nsecurity.inter.broker.protocol=SSL\n");
	bc = config_broker(c);
	assert_string_equal(bc->inter_broker_listener_name, "SSL");
	assert_int_equal(bc->inter_broker_security_protocol, CONFIG_SECPROTO_SSL);
	config_free(c);

	/* SASL inter-broker with the mechanism enabled on that listener only. */
	c = load_ok(ZK "listeners=SASL_PLAINTEXT://127.0.0.1:9092\n"
		    "security.inter.broker.protocol=SASL_PLAINTEXT\n"
		    "sasl.mechanism.inter.broker.protocol=PLAIN\n"
		    "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN\n");
	config_free(c);

	assert_int_equal(config_security_protocol_parse("sasl_ssl"), CONFIG_SECPROTO_SASL_SSL);
	assert_int_equal(config_security_protocol_parse("TLS"), -1);
	assert_string_equal(config_security_protocol_name(CONFIG_SECPROTO_SASL_PLAINTEXT), "SASL_PLAINTEXT");
}

/* --- derived values ---------------------------------------------------------------------- */

static void test_derived_values(void **state)
{
	(void)state;
	struct config *c = load_ok(ZK);
	const struct broker_config *bc = config_broker(c);
	/* log.dirs null -> log.dir; connection timeout null -> session timeout. */
	assert_int_equal(bc->n_log_dirs, 1);
	assert_string_equal(bc->log_dirs[0], "/tmp/kafka-logs");
	assert_int_equal(bc->zookeeper_connection_timeout_ms, 18000);
	assert_true(bc->log_retention_ms == 168LL * 3600000);
	assert_true(bc->log_roll_ms == 168LL * 3600000);
	assert_true(bc->log_roll_jitter_ms == 0);
	assert_true(bc->log_flush_interval_ms == INT64_MAX);
	assert_string_equal(bc->inter_broker_protocol_version, "3.9-IV0");
	/* advertised.listeners null -> listeners, blank host -> this machine's name. */
	assert_int_equal(bc->n_listeners, 1);
	assert_string_equal(bc->listeners[0].host, "");
	assert_int_equal(bc->n_advertised_listeners, 1);
	assert_string_equal(bc->advertised_listeners[0].name, "PLAINTEXT");
	assert_true(strlen(bc->advertised_listeners[0].host) > 0);
	assert_int_equal(bc->advertised_listeners[0].port, 9092);
	assert_int_equal(bc->num_partitions, 1);
	assert_int_equal(bc->default_replication_factor, 1);
	assert_true(bc->auto_create_topics_enable);
	assert_true(bc->delete_topic_enable);
	assert_true(bc->controlled_shutdown_enable);
	assert_int_equal(bc->controlled_shutdown_max_retries, 3);
	assert_int_equal(bc->socket_request_max_bytes, 104857600);
	assert_int_equal(bc->offsets_topic_num_partitions, 50);
	assert_null(bc->broker_rack);
	config_free(c);

	c = load_ok(ZK "log.dir=/one\nlog.retention.hours=1\nlog.retention.minutes=3\n"
		    "log.roll.hours=2\nlog.roll.jitter.hours=1\nzookeeper.connection.timeout.ms=500\n"
		    "log.flush.scheduler.interval.ms=1000\nbroker.rack=r2\n");
	bc = config_broker(c);
	assert_string_equal(bc->log_dirs[0], "/one");
	assert_true(bc->log_retention_ms == 180000);  /* minutes beat hours */
	assert_true(bc->log_roll_ms == 7200000);
	assert_true(bc->log_roll_jitter_ms == 3600000);
	assert_true(bc->log_flush_interval_ms == 1000);
	assert_int_equal(bc->zookeeper_connection_timeout_ms, 500);
	assert_string_equal(bc->broker_rack, "r2");
	assert_true(config_log_retention_ms(c) == 180000);
	config_free(c);

	c = load_ok(ZK "log.retention.ms=1234\nlog.retention.minutes=3\nlog.roll.ms=99\n");
	bc = config_broker(c);
	assert_true(bc->log_retention_ms == 1234);    /* ms beats minutes */
	assert_true(bc->log_roll_ms == 99);
	config_free(c);

	c = load_ok(ZK "log.retention.hours=-5\n");
	assert_true(config_broker(c)->log_retention_ms == -1); /* any negative is "forever" */
	config_free(c);

	c = load_ok(ZK "inter.broker.protocol.version=2.8\n");
	assert_string_equal(config_broker(c)->inter_broker_protocol_version, "2.8-IV1");
	config_free(c);
}

static void test_metadata_versions(void **state)
{
	(void)state;
	assert_string_equal(config_metadata_version_resolve("3.9"), "3.9-IV0");
	assert_string_equal(config_metadata_version_resolve("3.9.0"), "3.9-IV0");
	assert_string_equal(config_metadata_version_resolve("3.7"), "3.7-IV4");
	assert_string_equal(config_metadata_version_resolve("2.8-IV0"), "2.8-IV0");
	assert_string_equal(config_metadata_version_resolve("0.10.0"), "0.10.0-IV1");
	assert_string_equal(config_metadata_version_resolve("0.8.2"), "0.8.2");
	assert_string_equal(config_metadata_version_resolve("4.0-IV1"), "4.0-IV1");
	assert_null(config_metadata_version_resolve("4.0")); /* not production in 3.9 */
	assert_null(config_metadata_version_resolve("3.9-IV9"));
	assert_null(config_metadata_version_resolve("banana"));
	assert_true(config_metadata_version_ordinal("3.0") < config_metadata_version_ordinal("3.9"));
	assert_int_equal(config_metadata_version_ordinal("nope"), -1);
}

static void test_tables(void **state)
{
	(void)state;
	/* Kafka 3.9's 328 broker keys and samsa's own samsa.metrics.listener. */
	assert_int_equal(config_broker_defs_count, 329);
	assert_int_equal(config_topic_defs_count, 36);
	for (int i = 1; i < config_broker_defs_count; i++)
		assert_true(strcmp(config_broker_defs[i - 1].name, config_broker_defs[i].name) < 0);
	const struct config_def *d = config_def_find("socket.request.max.bytes");
	assert_non_null(d);
	assert_int_equal(d->type, CONFIG_INT);
	assert_string_equal(d->default_value, "104857600");
	assert_true(d->has_min && d->min == 1);
	assert_true(config_def_find("process.roles")->kraft_only);
	assert_false(config_def_find("broker.id")->kraft_only);
	assert_int_equal(config_def_find("ssl.key.password")->type, CONFIG_PASSWORD);
	assert_null(config_def_find("segment.bytes")); /* topic-level only */
	assert_true(config_def_find("samsa.metrics.listener")->internal);

	const struct config_def *t = config_topic_def_find("segment.bytes");
	assert_non_null(t);
	char *err = NULL;
	assert_int_equal(config_validate(t, "13", &err), -1);
	assert_string_equal(err, "Invalid value 13 for configuration segment.bytes: Value must be at least 14");
	free(err);
	assert_int_equal(config_validate(t, "14", &err), 0);
	t = config_topic_def_find("leader.replication.throttled.replicas");
	assert_int_equal(config_validate(t, "0:1, 1:2", &err), 0);
	assert_int_equal(config_validate(t, "*", &err), 0);
	assert_int_equal(config_validate(t, "0-1", &err), -1);
	assert_string_equal(err, "Invalid value [0-1] for configuration leader.replication.throttled.replicas: "
				 "leader.replication.throttled.replicas must be the literal '*' or a list of "
				 "replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...");
	free(err);

	const char *const *syn = config_topic_synonyms("retention.ms");
	assert_non_null(syn);
	assert_string_equal(syn[0], "log.retention.ms");
	assert_string_equal(syn[1], "log.retention.minutes");
	assert_string_equal(syn[2], "log.retention.hours");
	assert_null(syn[3]);
	assert_string_equal(config_topic_synonyms("max.message.bytes")[0], "message.max.bytes");
	assert_null(config_topic_synonyms("remote.storage.enable"));
}

/* A getter on a key outside the table (or of the wrong type) is a bug: the process aborts. */
static void test_misuse_aborts(void **state)
{
	(void)state;
	const char *keys[] = { "no.such.key", "compression.type" };
	for (int i = 0; i < 2; i++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			freopen("/dev/null", "w", stderr);
			char *err;
			struct config *c = config_load_string(ZK, NULL, 0, &err);
			(void)config_int(c, keys[i]);
			_exit(0);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGABRT);
	}
}

static void test_sample_file_loads(void **state)
{
	(void)state;
	char *err = NULL;
	struct config *c = config_load(SRCDIR "/etc/server.properties", NULL, 0, &err);
	if (!c)
		fail_msg("etc/server.properties: %s", err);
	const struct broker_config *bc = config_broker(c);
	assert_int_equal(bc->broker_id, 0);
	assert_string_equal(bc->listeners[0].host, "127.0.0.1");
	assert_int_equal(bc->listeners[0].port, 9092);
	assert_string_equal(bc->zookeeper_connect, "127.0.0.1:2181");
	int n;
	config_unused_keys(c, &n);
	assert_int_equal(n, 0);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_props_separators),
		cmocka_unit_test(test_props_comments_and_blank_lines),
		cmocka_unit_test(test_props_continuation),
		cmocka_unit_test(test_props_escapes),
		cmocka_unit_test(test_props_later_line_wins_and_bad_unicode),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_trimmed_and_typed),
		cmocka_unit_test(test_overrides_win),
		cmocka_unit_test(test_invalid_values),
		cmocka_unit_test(test_cross_key_checks),
		cmocka_unit_test(test_unknown_keys_warned_once),
		cmocka_unit_test(test_listener_parsing),
		cmocka_unit_test(test_listener_errors),
		cmocka_unit_test(test_security_map_and_inter_broker),
		cmocka_unit_test(test_derived_values),
		cmocka_unit_test(test_metadata_versions),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_misuse_aborts),
		cmocka_unit_test(test_sample_file_loads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
