"""librdkafka's own integration tests (tests/ of librdkafka 2.0.2, the version
Debian bookworm ships) against a 3-broker samsa cluster.

The source is not part of samsa: it is fetched at run time with
`apt-get source librdkafka`, run by scripts/deps (which adds the deb-src entry), into a cache
outside the repository (SAMSA_RDKAFKA_CACHE, default ~/.cache/samsa/librdkafka),
configured, and only its test runner is built, linked against Debian's installed
librdkafka.so / librdkafka++.so (librdkafka-dev), so the client under test is the
one Debian ships.

The brokers get the settings librdkafka's harness (trivup, driven by
tests/interactive_broker_version.py and scenarios/default.json) gives Kafka:
num.partitions 4, default.replication.factor 3, auto topic creation on, topic
deletion on, broker.rack RACK<id> with the rack-aware replica selector. The
runner gets what that harness passes it: a test.conf with bootstrap.servers and
broker.address.family=v4, TEST_KAFKA_VERSION=3.9.0, BROKERS, ZK_ADDRESS,
BROKER_ADDRESS_<id>, TEST_SCENARIO, TEST_MODE=bare, and `-L -p1 -Q`: without
the broker-less (local and mock-cluster) tests, as they do not touch samsa, one
test at a time, in quick mode. test.conf also sets test.timeout.multiplier 2
(sanitizer brokers on two shared cores). The noautocreate scenario's tests run on
a second cluster with auto.create.topics.enable=false. As trivup's brokers, they
run the ZooKeeper ACL authorizer with allow.everyone.if.no.acl.found=true.
KAFKA_PATH points to a directory whose bin/kafka-topics.sh is this file
acting as a kafka-topics stand-in (create/alter/delete through confluent-kafka's
AdminClient), and whose bin/kafka-acls.sh runs `samsa acls`, for the tests that
shell out to them.

Each librdkafka test number is one test case here, run by its own test-runner
process (TESTS=<number>) under a time limit (SAMSA_RDKAFKA_TEST_TIMEOUT, default
300 s), so a hang costs one test, not the run. Tests librdkafka itself marks as
known issues stay skipped, as in its own runs. Tests that need what this harness
cannot give (SSL, SASL, OAUTHBEARER, a Kafka installation's JMX or tools) are
skipped with that reason; tests that fail against samsa for a known, not yet
fixed reason are skipped as "pending" with that reason, counted once fixed. Hangs
of librdkafka 2.0.2 itself (CLIENT_BUG below) are recorded as the client's when
the log shows the test's own checks had passed.

  SAMSA_RDKAFKA_TESTS   comma-separated test numbers to run (default: all); "fast"
                        for a 4-minute subset (FAST below), e.g. for a short CI run
  SAMSA_RDKAFKA_QUICK   1 (default) passes -Q, librdkafka's quick mode, as its own
                        CI does; 0 runs the full message counts
  SAMSA_RDKAFKA_RESULTS write a JSON summary of every test's outcome here
"""

# samsa-file-timeout: 7200

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

VERSION = "2.0.2"
DEB_VERSION = "2.0.2-1"
KAFKA_VERSION = "3.9.0"
THIS = os.path.abspath(__file__)
PY = "/usr/bin/python3"

# ---- what runs, and what does not ------------------------------------------------

# librdkafka 2.0.2's tests that need a broker (not TEST_F_LOCAL), by number, as
# its tests/test.c lists them. A number can hold several tests (0045 has three,
# two of them for the noautocreate scenario only, which test-runner leaves out).
TESTS = [
	"0001_multiobj", "0002_unkpart", "0003_msgmaxsize", "0005_order", "0007_autotopic",
	"0008_reqacks", "0011_produce_batch", "0012_produce_consume", "0013_null_msgs",
	"0014_reconsume_191", "0015_offsets_seek", "0016_client_swname", "0017_compression",
	"0018_cgrp_term", "0019_list_groups", "0020_destroy_hang", "0021_rkt_destroy",
	"0022_consume_batch", "0026_consume_pause", "0028_long_topicnames", "0029_assign_offset",
	"0030_offset_commit", "0031_get_offsets", "0033_regex_subscribe", "0034_offset_reset",
	"0035_api_version", "0036_partial_fetch", "0038_performance", "0039_event_dr",
	"0040_io_event", "0041_fetch_max_bytes", "0042_many_topics", "0044_partition_cnt",
	"0045_subscribe_update", "0047_partial_buf_tmout", "0048_partitioner",
	"0049_consume_conn_close", "0050_subscribe_adds", "0051_assign_adds",
	"0052_msg_timestamps", "0053_stats", "0054_offset_time", "0055_producer_latency",
	"0056_balanced_group_mt", "0057_invalid_topic", "0059_bsearch", "0060_op_prio",
	"0061_consumer_lag", "0063_clusterid", "0064_interceptors", "0065_yield",
	"0067_empty_topic", "0068_produce_timeout", "0069_consumer_add_parts", "0070_null_empty",
	"0073_headers", "0075_retry", "0076_produce_retry", "0077_compaction", "0081_admin",
	"0082_fetch_max_bytes", "0083_cb_event", "0084_destroy_flags", "0085_headers",
	"0086_purge_remote", "0088_produce_metadata_timeout", "0089_max_poll_interval",
	"0090_idempotence", "0091_max_poll_interval_timeout", "0092_mixed_msgver",
	"0093_holb_consumer", "0094_idempotence_msg_timeout", "0097_ssl_verify",
	"0098_consumer_txn", "0099_commit_metadata", "0101_fetch_from_follower",
	"0102_static_group_rebalance", "0103_transactions",
	"0109_auto_create_topics", "0110_batch_size",
	"0112_assign_unknown_part", "0113_cooperative_rebalance", "0114_sticky_partitioning",
	"0115_producer_auth", "0118_commit_rebalance", "0119_consumer_auth",
	"0122_buffer_cleaning_after_rebalance", "0123_connections_max_idle",
	"0125_immediate_flush", "0126_oauthbearer_oidc", "0129_fetch_aborted_msgs",
	"0130_store_offsets", "0132_strategy_ordering", "0135_sasl_credentials",
	"0137_barrier_batch_consume",
]

# The tests of librdkafka's "noautocreate" scenario (scenarios/noautocreate.json:
# the same brokers with auto.create.topics.enable=false), run by a second cluster.
NOAUTO_TESTS = ["0045_subscribe_update_noautocreate", "0107_topic_recreate", "0111_delay_create_topics"]

# Not runnable here, whatever the broker: (reason).
SKIP = {
	"0097": "needs the SSL listeners and certificate files its harness (trivup) makes; samsa serves SSL "
		"since 2026-12-04, but this harness does not set them up yet",
	"0098": "needs Kafka's Java TransactionProducerCli (test_run_java) to write the transactions it reads",
	"0126": "needs SASL/OAUTHBEARER with an OIDC token endpoint",
	"0135": "needs SASL credentials its harness (trivup) makes; samsa serves SASL PLAIN/SCRAM since "
		"2026-12-04, but this harness does not set them up yet",
}

# Fails against samsa today, for the reason given (seen 2026-12-06 when the
# idempotence, transaction and dynamic-config work landed); counts once fixed.
# 0055, 0076 and 0090, pending until then, pass.
PENDING = {
	"0081": "do_test_AlterConfigs: AlterConfigs of BROKER 1 with sasl.kerberos.min.time.before.relogin "
		"gets INVALID_CONFIG (samsa refuses the listener/SASL keys Kafka updates dynamically); its topic, "
		"partition, config and ACL cases before it pass",
	"0086": "purge_remote with idempotence: messages librdkafka expects in flight are still queued "
		"(_PURGE_QUEUE, not _PURGE_INFLIGHT); not investigated yet",
	"0103": "do_test_misuse_txn \"timeout on first\": init_transactions() is expected to time out and "
		"samsa's InitProducerId answers within it; not investigated yet",
}

# Fail through a bug of librdkafka 2.0.2 itself: {test case: (reason, a pattern
# of the log line that shows the test's own checks passed before the client
# hung, a time limit or None)}. A hang or timeout after that line is recorded as
# the client's (skipped, with the reason), anything else fails as usual, and a
# pass passes.
DESTROY_HANG = ("librdkafka 2.0.2 hangs in rd_kafka_destroy() of a consumer whose topic was deleted "
	"(broker threads wait forever on leaked references: \"terminating: broker still has N "
	"refcnt(s)\"; fixed in librdkafka 2.1.0)")
CLIENT_BUG = {
	"0107_topic_recreate": (DESTROY_HANG + ", after its first case passed; the second never runs",
		r'Consumed 50 messages matching "after"', 120),
	# Only without quick mode: with -Q the topic removal case returns at once.
	"0045_subscribe_update_noautocreate": (DESTROY_HANG + ", after the topic removal case passed; "
		"the partition change case never runs",
		r"\[0045_subscribe_update_topic_remove/\s*[0-9.]+s\] CONSUMER\.CLOSE", None),
	# Only without quick mode too: h_delete_topic is one of the cases -Q leaves out.
	"0113_cooperative_rebalance": ("librdkafka 2.0.2 never returns from close() of a consumer whose "
		"topic was deleted (h_delete_topic; fixed in librdkafka 2.1.0), after the case's own checks "
		"passed; the cases after it never run",
		r"Assignment no longer includes deleted topic", None),
}

# Under CI, scripts/check runs this subset unless SAMSA_RDKAFKA_TESTS says
# otherwise: producer, consumer, group, offset and admin basics that finish in a
# few seconds each.
FAST = ("0001,0002,0003,0005,0007,0012,0013,0014,0015,0017,0018,0019,0020,0021,0022,"
		"0026,0029,0030,0031,0034,0035,0036,0039,0040,0042,0050,0051,0053,0054,"
		"0057,0059,0063,0064,0065,0067,0070,0073,0083,0085,0099,0110,0112,0114,0118,"
		"0125,0130")


KNOWN = "librdkafka marks it a known issue (TEST_F_KNOWN_ISSUE), left out as in its own runs"


def timeout():
	return int(os.environ.get("SAMSA_RDKAFKA_TEST_TIMEOUT", "300"))


def number(name):
	return name.split("_", 1)[0]


def selected():
	want = os.environ.get("SAMSA_RDKAFKA_TESTS", "").strip()
	if not want or want == "all":
		return None
	if want == "fast":
		want = FAST
	return {w.strip() for w in want.split(",") if w.strip()}


# ---- kafka-topics.sh stand-in ------------------------------------------------------

def kafka_topics(argv):
	"""kafka-topics.sh --bootstrap-server B (--create|--alter|--delete) --topic T
	[--partitions N] [--replication-factor R] [--config k=v]..., through
	confluent-kafka's AdminClient. Exits non-zero on failure, as the script does."""
	from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
	opts = {"config": []}
	action = None
	i = 0
	while i < len(argv):
		a = argv[i]
		if a in ("--create", "--alter", "--delete"):
			action = a[2:]
		elif a in ("--bootstrap-server", "--topic", "--partitions", "--replication-factor"):
			opts[a[2:]] = argv[i + 1].strip('"')
			i += 1
		elif a == "--config":
			opts["config"].append(argv[i + 1])
			i += 1
		else:
			sys.stderr.write("kafka-topics stand-in: unsupported argument %s\n" % a)
			return 2
		i += 1
	admin = AdminClient({"bootstrap.servers": opts["bootstrap-server"]})
	topic = opts["topic"]
	if action == "create":
		cfg = dict(c.split("=", 1) for c in opts["config"])
		fs = admin.create_topics([NewTopic(topic, int(opts.get("partitions", -1)),
				int(opts.get("replication-factor", -1)), config=cfg)], request_timeout=30)
	elif action == "alter":
		fs = admin.create_partitions([NewPartitions(topic, int(opts["partitions"]))], request_timeout=30)
	elif action == "delete":
		fs = admin.delete_topics([topic], request_timeout=30)
	else:
		sys.stderr.write("kafka-topics stand-in: no action\n")
		return 2
	try:
		for _, f in fs.items():
			f.result(60)
	except Exception as e:
		sys.stderr.write("kafka-topics stand-in: %s %s: %s\n" % (action, topic, e))
		return 1
	print("kafka-topics stand-in: %s %s done" % (action, topic))
	return 0


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "kafka-topics":
	sys.exit(kafka_topics(sys.argv[2:]))

import cluster as h  # noqa: E402


# ---- fetching and building the runner -----------------------------------------------

def cache_dir():
	return os.environ.get("SAMSA_RDKAFKA_CACHE") or os.path.join(
		os.path.expanduser("~"), ".cache", "samsa", "librdkafka")


def installed_version(pkg):
	p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
	return p.stdout.strip() if p.returncode == 0 else None


def fetch_source(download=False):
	"""The unpacked librdkafka-2.0.2 source in the cache. scripts/deps fetches it
	(download=True: apt-get source), so the test itself contacts only loopback;
	a test that finds it missing fails and says so."""
	cache = cache_dir()
	src = os.path.join(cache, "librdkafka-" + VERSION)
	if os.path.isfile(os.path.join(src, "tests", "test.c")):
		return src
	if not download:
		raise AssertionError("librdkafka %s source is not in %s: run scripts/deps "
				"(python3 tests/compat/test_librdkafka_suite.py fetch-source)" % (DEB_VERSION, cache))
	os.makedirs(cache, exist_ok=True)
	h.log("fetching librdkafka %s source into %s" % (DEB_VERSION, cache))
	p = h.run(["apt-get", "source", "-q", "librdkafka=" + DEB_VERSION], cwd=cache, timeout=600)
	if p.returncode != 0 or not os.path.isfile(os.path.join(src, "tests", "test.c")):
		raise AssertionError("apt-get source librdkafka=%s failed (%d); scripts/deps adds the "
				"deb-src entry it needs:\n%s\n%s" % (DEB_VERSION, p.returncode, p.stdout[-2000:],
					p.stderr[-2000:]))
	return src


def build_runner(src):
	"""tests/test-runner, built against Debian's librdkafka (the Makefile links
	-L../src -L../src-cpp -lrdkafka++ -lrdkafka: those directories get links to the
	installed libraries instead of a build of the library). Rebuilt, configure
	included, when the installed librdkafka-dev or rapidjson-dev (which the stats
	tests 0053 need) differ from the last build's."""
	tests = os.path.join(src, "tests")
	runner = os.path.join(tests, "test-runner")
	stamp = os.path.join(tests, ".samsa-built")
	want = "librdkafka-dev %s, rapidjson-dev %s\n" % (installed_version("librdkafka-dev"),
			installed_version("rapidjson-dev"))
	try:
		with open(stamp) as f:
			have = f.read()
	except OSError:
		have = None
	if have == want and os.access(runner, os.X_OK):
		return runner
	h.log("building librdkafka's test-runner in %s (%s)" % (tests, want.strip()))
	p = h.run(["./configure"], cwd=src, timeout=300)
	if p.returncode != 0:
		raise AssertionError("librdkafka ./configure failed:\n%s" % (p.stdout[-3000:] + p.stderr[-3000:]))
	libdir = "/usr/lib/x86_64-linux-gnu"
	p = subprocess.run(["dpkg", "-L", "librdkafka-dev"], capture_output=True, text=True)
	for line in p.stdout.splitlines():
		if line.endswith("/librdkafka.so"):
			libdir = os.path.dirname(line)
	for sub, names in (("src", ("librdkafka.so", "librdkafka.a")),
			("src-cpp", ("librdkafka++.so", "librdkafka++.a"))):
		for n in names:
			link = os.path.join(src, sub, n)
			if os.path.lexists(link):
				os.unlink(link)
			os.symlink(os.path.join(libdir, n), link)
	jobs = str(min(2, os.cpu_count() or 1))
	p = h.run(["nice", "make", "-j" + jobs, "test-runner"], cwd=tests, timeout=1800)
	if p.returncode != 0 or not os.access(runner, os.X_OK):
		raise AssertionError("building librdkafka's test-runner failed:\n%s" % (p.stdout[-3000:] + p.stderr[-3000:]))
	with open(stamp, "w") as f:
		f.write(want)
	return runner


# ---- reading the runner's outcome --------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SUMMARY = re.compile(r"^\|\s*(\S+)\s*\|\s*(PASSED|FAILED|SKIPPED|RUNNING|DNS)\s*\|\s*([0-9.]+)s\s*\|\s*(.*)$")


def parse_summary(text):
	"""{test name: (state, seconds, text after the table cell)} from test-runner's
	summary table."""
	out = {}
	for line in ANSI.sub("", text).splitlines():
		m = SUMMARY.match(line.strip())
		if m and m.group(1) != "<MAIN>":
			out[m.group(1)] = (m.group(2), float(m.group(3)), m.group(4).strip())
	return out


class _Suite(h.ClusterTestCase):
	"""One cluster per scenario; a test case per librdkafka test number."""
	results = {}
	SCENARIO = "default"
	AUTO_CREATE = "true"

	@classmethod
	def setUpClass(cls):
		v = installed_version("librdkafka-dev")
		if not v or not v.startswith(VERSION):
			raise unittest.SkipTest("librdkafka-dev %s is installed, not %s" % (v, VERSION))
		if not shutil.which("g++") or not shutil.which("apt-get"):
			raise unittest.SkipTest("g++ or apt-get missing")
		sel = selected()
		if sel is not None and not any(number(n) in sel for n in cls.CASES):
			raise unittest.SkipTest("none of its tests in SAMSA_RDKAFKA_TESTS")
		cls.t0 = time.monotonic()
		cls.src = fetch_source()
		cls.runner = build_runner(cls.src)
		cls.start_shared_cluster(brokers=3, first_id=1, props={
			"num.partitions": 4,
			"default.replication.factor": 3,
			"offsets.topic.replication.factor": 3,
			"auto.create.topics.enable": cls.AUTO_CREATE,
			"delete.topic.enable": "true",
			"group.initial.rebalance.delay.ms": 3000,
			"replica.selector.class": "org.apache.kafka.common.replica.RackAwareReplicaSelector",
			# As trivup's brokers: the ZooKeeper ACL authorizer, everything allowed where no ACL says
			# otherwise (0081's ACL cases, and 0109/0115/0119 deny through kafka-acls.sh).
			"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
			"allow.everyone.if.no.acl.found": "true",
		}, broker_props={i: {"broker.rack": "RACK%d" % i} for i in (1, 2, 3)})
		c = cls.shared
		cls.work = os.path.join(c.dir, "rdkafka")
		os.makedirs(os.path.join(cls.work, "kafka", "bin"))
		# The runner works in <work>/tests, where ../src is the source's src/ (0053
		# reads ../src/statistics_schema.json) and its output files stay ours.
		cls.cwd = os.path.join(cls.work, "tests")
		os.makedirs(cls.cwd)
		os.symlink(os.path.join(cls.src, "src"), os.path.join(cls.work, "src"))
		cls.conf = os.path.join(cls.work, "test.conf")
		with open(cls.conf, "w") as f:
			f.write("bootstrap.servers=%s\n" % c.bootstrap)
			f.write("broker.address.family=v4\n")
			# The brokers run sanitizer builds on two shared cores.
			f.write("test.timeout.multiplier=%s\n" % os.environ.get("SAMSA_RDKAFKA_TIMEOUT_MULTIPLIER", "2"))
		sh = os.path.join(cls.work, "kafka", "bin", "kafka-topics.sh")
		with open(sh, "w") as f:
			f.write("#!/bin/sh\nexec %s %s kafka-topics \"$@\"\n" % (PY, THIS))
		os.chmod(sh, 0o755)
		# kafka-acls.sh is samsa's own `samsa acls`, which takes the same flags.
		sh = os.path.join(cls.work, "kafka", "bin", "kafka-acls.sh")
		with open(sh, "w") as f:
			f.write("#!/bin/sh\nASAN_OPTIONS=${ASAN_OPTIONS:-%s} UBSAN_OPTIONS=${UBSAN_OPTIONS:-%s} exec %s acls \"$@\"\n"
				% (h.DEFAULT_ASAN_OPTIONS, h.DEFAULT_UBSAN_OPTIONS,
					os.path.join(os.path.dirname(h.server_binary()), "samsa")))
		os.chmod(sh, 0o755)
		cls.env = dict(os.environ, RDKAFKA_TEST_CONF=cls.conf, TEST_KAFKA_VERSION=KAFKA_VERSION,
				TEST_MODE="bare", TEST_SCENARIO=cls.SCENARIO, BROKERS=c.bootstrap,
				ZK_ADDRESS=c.zookeeper.connect, KAFKA_PATH=os.path.join(cls.work, "kafka"),
				RDKAFKA_GITVER="debian-" + DEB_VERSION)
		cls.env.pop("CI", None)  # the runner would change its concurrency and timeouts
		for b in c.brokers.values():
			cls.env["BROKER_ADDRESS_%d" % b.id] = b.address

	@classmethod
	def tearDownClass(cls):
		out = os.environ.get("SAMSA_RDKAFKA_RESULTS")
		if out and cls.results:
			try:
				with open(out) as f:
					old = json.load(f)
			except (OSError, ValueError):
				old = {}
			old.setdefault("seconds", {})[cls.SCENARIO] = round(
				time.monotonic() - getattr(cls, "t0", time.monotonic()))
			old.setdefault("tests", {}).update(
				{"%s/%s" % (cls.SCENARIO, k): v for k, v in cls.results.items()})
			with open(out, "w") as f:
				json.dump(old, f, indent=1, sort_keys=True)
		super().tearDownClass()

	def setUp(self):
		super().setUp()
		# The harness's alarm must not cut a runner short: it has its own limit.
		signal.alarm(timeout() + 120)

	def run_number(self, num, name):
		limit = timeout()
		if name in CLIENT_BUG and CLIENT_BUG[name][2]:
			limit = min(limit, CLIENT_BUG[name][2])
		args = [self.runner, "-L", "-p1"]
		if os.environ.get("SAMSA_RDKAFKA_QUICK", "1") != "0":
			args.append("-Q")
		logpath = os.path.join(self.work, "%s.log" % name)
		env = dict(self.env, TESTS=num)
		t0 = time.monotonic()
		with open(logpath, "w") as logf:
			p = subprocess.Popen(args, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=logf,
					stderr=subprocess.STDOUT, start_new_session=True)
			try:
				rc = p.wait(timeout=limit)
			except subprocess.TimeoutExpired:
				os.killpg(p.pid, 9)
				p.wait()
				rc = None
		secs = time.monotonic() - t0
		with open(logpath, errors="replace") as f:
			text = f.read()
		return rc, secs, text, logpath

	def check_number(self, name):
		num = number(name)
		sel = selected()
		if sel is not None and num not in sel:
			self.skipTest("not in SAMSA_RDKAFKA_TESTS")
		if num in SKIP:
			self.results[name] = {"outcome": "skip", "reason": SKIP[num]}
			self.skipTest(SKIP[num])
		if num in PENDING:
			self.results[name] = {"outcome": "pending", "reason": PENDING[num]}
			self.skipTest("pending: %s (issues 14-15)" % PENDING[num])
		rc, secs, text, logpath = self.run_number(num, name)
		table = parse_summary(text)
		mine = {k: v for k, v in table.items() if k.startswith(num + "_")}
		ran = {k: v for k, v in mine.items() if v[0] != "SKIPPED"}
		rec = {"seconds": round(secs, 1), "rc": rc, "log": logpath,
			"subtests": {k: v[0] for k, v in mine.items()}}
		bug = CLIENT_BUG.get(name)
		if bug and rc != 0 and re.search(bug[1], ANSI.sub("", text)) and (rc is None or "timed out" in text):
			rec["outcome"] = "client-bug"
			rec["reason"] = bug[0]
			self.results[name] = rec
			self.skipTest("client bug: " + bug[0])
		if rc is None:
			rec["outcome"] = "fail"
			rec["reason"] = "timed out"
			self.results[name] = rec
			self.fail("%s: test-runner still running after %.0fs (killed); log %s:\n%s"
					% (name, secs, logpath, text[-4000:]))
		if not ran and mine and rc == 0:
			reasons = "; ".join("%s: %s" % (k, KNOWN if v[2] == "Filtered due to negative test flags" else v[2])
					for k, v in sorted(mine.items()))
			rec["outcome"] = "skip"
			rec["reason"] = "test-runner: " + reasons
			self.results[name] = rec
			self.skipTest("test-runner skipped it: " + reasons)
		failed = {k: v for k, v in ran.items() if v[0] != "PASSED"}
		if rc != 0 or failed or not ran:
			fails = [l for l in ANSI.sub("", text).splitlines() if "FAIL" in l or "Assertion" in l][-12:]
			rec["outcome"] = "fail"
			rec["reason"] = "; ".join("%s: %s" % (k, v[2]) for k, v in sorted(failed.items())) or "exit %s" % rc
			self.results[name] = rec
			self.fail("%s: exit %s, %s; log %s:\n%s\n---- last lines ----\n%s"
					% (name, rc, rec["reason"], logpath, "\n".join(fails), text[-3000:]))
		rec["outcome"] = "pass"
		self.results[name] = rec


def _make(name):
	def t(self):
		self.check_number(name)
	t.__doc__ = "librdkafka %s test %s" % (VERSION, name)
	return t


class LibrdkafkaSuite(_Suite):
	"""The default scenario."""
	results = {}
	CASES = TESTS


class LibrdkafkaNoAutoCreate(_Suite):
	"""The noautocreate scenario: topics are only made by the tests' admin calls."""
	results = {}
	SCENARIO = "noautocreate"
	AUTO_CREATE = "false"
	CASES = NOAUTO_TESTS


for _n in TESTS:
	setattr(LibrdkafkaSuite, "test_" + _n, _make(_n))
for _n in NOAUTO_TESTS:
	setattr(LibrdkafkaNoAutoCreate, "test_" + _n, _make(_n))


if __name__ == "__main__":
	if sys.argv[1:] == ["fetch-source"]:
		print("librdkafka %s source: %s" % (DEB_VERSION, fetch_source(download=True)))
		sys.exit(0)
	h.main()
