"""The admin CLI's Kafka-tool equivalents against a real 3-broker cluster:
reassign-partitions (kafka-reassign-partitions.sh: --generate, --execute,
--verify, --cancel, --list, --throttle), leader-election
(kafka-leader-election.sh), delete-records (kafka-delete-records.sh),
get-offsets (kafka-get-offsets.sh) and producer-perf-test /
consumer-perf-test (on librdkafka). Outcomes are read back: the topic znode
and the partition directories after a move, the partition state znode after
an election, the log start offset through confluent-kafka's ListOffsets
after delete-records, the records a perf run wrote. Every subcommand answers
--help, and a bad flag or an unreachable broker is a non-zero exit with one
line on stderr."""

import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import acked  # noqa: E402
import cluster as h  # noqa: E402

from confluent_kafka import Producer, TopicPartition, Consumer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

COMMANDS = ["reassign-partitions", "leader-election", "delete-records", "get-offsets",
		"producer-perf-test", "consumer-perf-test"]


def cli(*args, timeout=120):
	return h.samsa_cli(*args, timeout=timeout)


def has_perf():
	p = cli("producer-perf-test", "--help")
	return p.returncode == 0


class AdminCli(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.c = cls.start_shared_cluster(brokers=3, first_id=1, props={"replica.lag.time.max.ms": "5000"})
		cls.tmp = tempfile.mkdtemp(prefix="admin-cli-", dir=cls.c.dir)

	# ---- helpers ----

	def bs(self):
		return ["--bootstrap-server", self.c.bootstrap]

	def create(self, topic, assignment):
		a = AdminClient({"bootstrap.servers": self.c.bootstrap})
		nt = NewTopic(topic, num_partitions=len(assignment), replica_assignment=assignment)
		for f in a.create_topics([nt], request_timeout=20).values():
			f.result(30)
		h.wait_until(lambda: all(sorted(self.c.partition_state(topic, p)["isr"]) == sorted(asg)
				for p, asg in enumerate(assignment)), 60, "full ISRs of %s" % topic)

	def produce(self, topic, partition, n):
		p = Producer({"bootstrap.servers": self.c.bootstrap, "acks": "all"})
		for i in range(n):
			p.produce(topic, b"v%d" % i, partition=partition)
		self.assertEqual(p.flush(30), 0)

	def write(self, name, obj):
		path = os.path.join(self.tmp, name)
		with open(path, "w") as f:
			json.dump(obj, f)
		return path

	def topic_znode(self, topic):
		data, _ = self.c.zk.get(self.c.zpath("/brokers/topics/%s" % topic))
		return json.loads(data.decode())

	def one_line_error(self, p):
		self.assertNotEqual(p.returncode, 0, p.stdout)
		lines = p.stderr.strip().splitlines()
		self.assertEqual(len(lines), 1, p.stderr)
		self.assertTrue(lines[0].startswith("samsa "), p.stderr)

	# ---- every command ----

	def test_help_bad_flag_unreachable(self):
		dead = "127.0.0.1:%d" % h.free_port()
		perf = has_perf()
		for cmd in COMMANDS:
			if cmd.endswith("perf-test") and not perf:
				continue
			p = cli(cmd, "--help")
			self.assertEqual(p.returncode, 0, p.stderr)
			self.assertIn("usage: samsa %s" % cmd, p.stdout)
			self.one_line_error(cli(cmd, "--no-such-flag"))
		plan = self.write("any-plan.json", {"version": 1, "partitions": [
			{"topic": "x", "partition": 0, "replicas": [1]}]})
		offsets = self.write("any-offsets.json", {"version": 1, "partitions": [
			{"topic": "x", "partition": 0, "offset": 1}]})
		unreachable = [
			["reassign-partitions", "--bootstrap-server", dead, "--list"],
			["reassign-partitions", "--bootstrap-server", dead, "--verify", "--reassignment-json-file", plan],
			["leader-election", "--bootstrap-server", dead, "--election-type", "PREFERRED", "--all-topic-partitions"],
			["delete-records", "--bootstrap-server", dead, "--offset-json-file", offsets],
			["get-offsets", "--bootstrap-server", dead, "--topic", "x"],
		]
		if perf:
			unreachable += [
				["producer-perf-test", "--topic", "x", "--num-records", "1", "--record-size", "10",
				 "--throughput", "-1", "--producer-props", "bootstrap.servers=" + dead],
				["consumer-perf-test", "--bootstrap-server", dead, "--topic", "x", "--messages", "1"],
			]
		for args in unreachable:
			p = cli(*args)
			self.one_line_error(p)
		# Flags that do not fit together, or values that do not parse.
		self.one_line_error(cli("reassign-partitions", *self.bs(), "--execute", "--verify",
				"--reassignment-json-file", plan))
		self.one_line_error(cli("leader-election", *self.bs(), "--election-type", "SIDEWAYS",
				"--all-topic-partitions"))
		self.one_line_error(cli("get-offsets", *self.bs(), "--time", "yesterday"))
		self.one_line_error(cli("delete-records", *self.bs(), "--offset-json-file",
				os.path.join(self.tmp, "missing.json")))

	# ---- get-offsets and delete-records ----

	def test_get_offsets_and_delete_records(self):
		topic = "offs"
		self.create(topic, [[1], [2]])
		self.produce(topic, 0, 7)
		self.produce(topic, 1, 3)
		p = cli("get-offsets", *self.bs(), "--topic", topic)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout, "offs:0:7\noffs:1:3\n")
		p = cli("get-offsets", *self.bs(), "--topic", "of.*", "--time", "-2")
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout, "offs:0:0\noffs:1:0\n")
		p = cli("get-offsets", *self.bs(), "--topic-partitions", "offs:1", "--time", "latest")
		self.assertEqual(p.stdout, "offs:1:3\n", p.stderr)
		p = cli("get-offsets", *self.bs(), "--topic", topic, "--partitions", "0")
		self.assertEqual(p.stdout, "offs:0:7\n", p.stderr)
		# A timestamp after the last record has no offset: the field is left empty, as Kafka's tool does.
		p = cli("get-offsets", *self.bs(), "--topic", topic, "--time", str(int(time.time() * 1000) + 3600000))
		self.assertEqual(p.stdout, "offs:0:\noffs:1:\n", p.stderr)
		p = cli("get-offsets", *self.bs(), "--topic", topic, "--time", "0")
		self.assertEqual(p.stdout, "offs:0:0\noffs:1:0\n", p.stderr)
		p = cli("get-offsets", *self.bs(), "--topic", "no-such-topic-here")
		self.one_line_error(p)

		path = self.write("delete.json", {"version": 1, "partitions": [
			{"topic": topic, "partition": 0, "offset": 4},
			{"topic": topic, "partition": 1, "offset": -1}]})
		p = cli("delete-records", *self.bs(), "--offset-json-file", path)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout, "Executing records delete operation\nRecords delete operation completed:\n"
				"partition: offs-0\tlow_watermark: 4\npartition: offs-1\tlow_watermark: 3\n")
		# The log start offsets read back through ListOffsets by another client.
		c = Consumer({"bootstrap.servers": self.c.bootstrap, "group.id": "admin-cli-wm"})
		try:
			self.assertEqual(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10), (4, 7))
			self.assertEqual(c.get_watermark_offsets(TopicPartition(topic, 1), timeout=10), (3, 3))
		finally:
			c.close()
		p = cli("get-offsets", *self.bs(), "--topic", topic, "--time", "earliest")
		self.assertEqual(p.stdout, "offs:0:4\noffs:1:3\n", p.stderr)
		# Past the high watermark, and an unknown partition: per-partition errors, exit 1.
		path = self.write("delete-bad.json", {"version": 1, "partitions": [
			{"topic": topic, "partition": 0, "offset": 100},
			{"topic": topic, "partition": 9, "offset": 1}]})
		p = cli("delete-records", *self.bs(), "--offset-json-file", path)
		self.assertEqual(p.returncode, 1)
		self.assertIn("partition: offs-0\terror: OFFSET_OUT_OF_RANGE", p.stdout)
		self.assertIn("partition: offs-9\terror: UNKNOWN_TOPIC_OR_PARTITION", p.stdout)
		self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
		path = self.write("delete-dup.json", {"version": 1, "partitions": [
			{"topic": topic, "partition": 0, "offset": 1}, {"topic": topic, "partition": 0, "offset": 2}]})
		self.one_line_error(cli("delete-records", *self.bs(), "--offset-json-file", path))

	# ---- leader-election ----

	def test_leader_election(self):
		topic = "elect"
		self.create(topic, [[1, 2], [2, 3]])
		b1 = self.c.broker(1)
		b1.terminate()
		h.wait_until(lambda: self.c.partition_state(topic, 0)["leader"] == 2, 60, "broker 2 to lead elect-0")
		b1.start()
		self.c.wait_metadata(60)
		h.wait_until(lambda: sorted(self.c.partition_state(topic, 0)["isr"]) == [1, 2], 60,
				"broker 1 back in the ISR of elect-0")
		self.assertEqual(self.c.partition_state(topic, 0)["leader"], 2)
		p = cli("leader-election", *self.bs(), "--election-type", "PREFERRED", "--topic", topic,
				"--partition", "1")
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout, "Valid replica already elected for partitions elect-1\n")
		p = cli("leader-election", *self.bs(), "--election-type", "preferred", "--all-topic-partitions")
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertIn("Successfully completed leader election (PREFERRED) for partitions elect-0", p.stdout)
		self.assertEqual(self.c.partition_state(topic, 0)["leader"], 1)
		path = self.write("elect.json", {"partitions": [{"topic": topic, "partition": 0},
				{"topic": topic, "partition": 7}]})
		p = cli("leader-election", *self.bs(), "--election-type", "PREFERRED", "--path-to-json-file", path)
		self.assertEqual(p.returncode, 1)
		self.assertIn("Valid replica already elected for partitions elect-0", p.stdout)
		self.assertIn("Error completing leader election (PREFERRED) for partition: elect-7: "
				"UNKNOWN_TOPIC_OR_PARTITION", p.stdout)
		self.assertEqual(p.stderr.strip(), "samsa leader-election: 1 replica(s) could not be elected")

	# ---- reassign-partitions ----

	def test_reassign_partitions(self):
		topic = "mv"
		self.create(topic, [[1, 2], [2, 3]])
		self.produce(topic, 0, 30)
		moving = self.write("topics.json", {"topics": [{"topic": topic}], "version": 1})
		p = cli("reassign-partitions", *self.bs(), "--generate", "--topics-to-move-json-file", moving,
				"--broker-list", "2,3")
		self.assertEqual(p.returncode, 0, p.stderr)
		m = re.match(r"Current partition replica assignment\n(.*)\n\nProposed partition reassignment "
				r"configuration\n(.*)\n$", p.stdout)
		self.assertIsNotNone(m, p.stdout)
		cur, prop = json.loads(m.group(1)), json.loads(m.group(2))
		self.assertEqual(cur["partitions"], [
			{"topic": "mv", "partition": 0, "replicas": [1, 2], "log_dirs": ["any", "any"]},
			{"topic": "mv", "partition": 1, "replicas": [2, 3], "log_dirs": ["any", "any"]}])
		for part in prop["partitions"]:
			self.assertEqual(sorted(part["replicas"]), [2, 3])

		plan = self.write("plan.json", {"version": 1, "partitions": [
			{"topic": topic, "partition": 0, "replicas": [3, 2], "log_dirs": ["any", "any"]}]})
		p = cli("reassign-partitions", *self.bs(), "--execute", "--reassignment-json-file", plan)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout, "Current partition replica assignment\n\n"
				'{"version":1,"partitions":[{"topic":"mv","partition":0,"replicas":[1,2],'
				'"log_dirs":["any","any"]}]}\n\n'
				"Save this to use as the --reassignment-json-file option during rollback\n"
				"Successfully started partition reassignment for mv-0\n")

		def moved():
			z = self.topic_znode(topic)
			st = self.c.partition_state(topic, 0)
			return z["partitions"]["0"] == [3, 2] and not z.get("adding_replicas") \
				and sorted(st["isr"]) == [2, 3]
		h.wait_until(moved, 90, "mv-0 on [3,2]")
		h.wait_until(lambda: not os.path.exists(os.path.join(self.c.broker(1).data_dir, "mv-0")), 30,
				"broker 1's copy of mv-0 to be deleted")
		self.assertTrue(os.path.isdir(os.path.join(self.c.broker(3).data_dir, "mv-0")))
		got = acked.read_all(self.c.bootstrap, topic, 1, "admin-cli-mv")
		self.assertEqual(sorted(got), [(0, o) for o in range(30)])

		p = cli("reassign-partitions", *self.bs(), "--verify", "--reassignment-json-file", plan)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout, "Status of partition reassignment:\nReassignment of partition mv-0 is completed.\n\n"
				"Clearing broker-level throttles on brokers 1,2,3\nClearing topic-level throttles on topic mv\n")
		# The brokers take dynamic broker configs: the rates are cleared, no broker's znode keeps one.
		self.assertNotIn("refused", p.stderr)
		for bid in (1, 2, 3):
			path = self.c.zpath("/config/brokers/%d" % bid)
			if self.c.zk.exists(path):
				conf = json.loads(self.c.zk.get(path)[0].decode()).get("config", {})
				self.assertNotIn("leader.replication.throttled.rate", conf)
				self.assertNotIn("follower.replication.throttled.rate", conf)
		p = cli("reassign-partitions", *self.bs(), "--list")
		self.assertEqual(p.stdout, "No partition reassignments found.\n", p.stderr)
		p = cli("reassign-partitions", *self.bs(), "--cancel", "--reassignment-json-file", plan,
				"--preserve-throttles")
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout, "None of the specified partition reassignments are active.\n"
				"None of the specified partition moves are active.\n")

		# A plan naming a broker that does not exist is refused before anything is sent.
		bad = self.write("plan-bad.json", {"version": 1, "partitions": [
			{"topic": topic, "partition": 1, "replicas": [2, 9]}]})
		p = cli("reassign-partitions", *self.bs(), "--execute", "--reassignment-json-file", bad)
		self.one_line_error(p)
		self.assertIn("Unknown broker id 9", p.stderr)
		self.assertEqual(self.topic_znode(topic)["partitions"]["1"], [2, 3])

	def test_reassign_list_and_cancel(self):
		"""A move to a broker that is stopped (SIGSTOP) stays in progress: --list shows it
		with Kafka's adding/removing, --verify says so and leaves the throttles alone,
		--execute of another plan is refused without --additional, --cancel puts the
		replicas back."""
		topic = "cn"
		ctl = self.c.controller_id()
		paused = max(b for b in (1, 2, 3) if b != ctl)
		a, b = [x for x in (1, 2, 3) if x != paused]
		self.create(topic, [[a, b]])
		plan = self.write("plan-cn.json", {"version": 1, "partitions": [
			{"topic": topic, "partition": 0, "replicas": [b, paused]}]})
		broker = self.c.broker(paused)
		broker.pause()
		try:
			p = cli("reassign-partitions", *self.bs(), "--execute", "--reassignment-json-file", plan)
			self.assertEqual(p.returncode, 0, p.stderr)
			p = cli("reassign-partitions", *self.bs(), "--list")
			self.assertEqual(p.returncode, 0, p.stderr)
			self.assertEqual(p.stdout, "Current partition reassignments:\n"
					"cn-0: replicas: %d,%d,%d. adding: %d. removing: %d.\n" % (b, paused, a, paused, a))
			p = cli("reassign-partitions", *self.bs(), "--verify", "--reassignment-json-file", plan)
			self.assertEqual(p.returncode, 0, p.stderr)
			self.assertEqual(p.stdout, "Status of partition reassignment:\n"
					"Reassignment of partition cn-0 is still in progress.\n\n")
			other = self.write("plan-cn-other.json", {"version": 1, "partitions": [
				{"topic": topic, "partition": 0, "replicas": [a, b]}]})
			p = cli("reassign-partitions", *self.bs(), "--execute", "--reassignment-json-file", other)
			self.one_line_error(p)
			self.assertIn("Cannot execute because there is an existing partition assignment", p.stderr)
			p = cli("reassign-partitions", *self.bs(), "--cancel", "--reassignment-json-file", plan)
			self.assertEqual(p.returncode, 0, p.stderr)
			self.assertTrue(p.stdout.startswith("Successfully cancelled partition reassignment for: cn-0\n"),
					p.stdout)
			# As in Kafka, the replicas go back in the order of the reassigning set minus
			# the adding replicas: [b, paused, a] minus [paused].
			h.wait_until(lambda: self.topic_znode(topic)["partitions"]["0"] == [b, a]
					and not self.topic_znode(topic).get("adding_replicas"), 60, "cn-0 back on [%d,%d]" % (b, a))
			p = cli("reassign-partitions", *self.bs(), "--list")
			self.assertEqual(p.stdout, "No partition reassignments found.\n", p.stderr)
		finally:
			broker.resume()
			h.wait_until(lambda: self.c.registered_ids() == [1, 2, 3], 60, "every broker registered")
			self.c.wait_metadata(60)

	def test_reassign_throttle(self):
		"""--throttle sets the topic-level throttled replicas as Kafka does, then the
		brokers' rates: samsa does not take dynamic broker configs yet, so the
		command stops there with the broker's error and starts nothing."""
		topic = "thr"
		self.create(topic, [[1, 2]])
		plan = self.write("plan-thr.json", {"version": 1, "partitions": [
			{"topic": topic, "partition": 0, "replicas": [2, 3]}]})
		p = cli("reassign-partitions", *self.bs(), "--execute", "--reassignment-json-file", plan,
				"--throttle", "50000000")
		data, _ = self.c.zk.get(self.c.zpath("/config/topics/%s" % topic))
		cfg = json.loads(data.decode())["config"]
		self.assertEqual(cfg.get("leader.replication.throttled.replicas"), "0:1,0:2")
		self.assertEqual(cfg.get("follower.replication.throttled.replicas"), "0:3")
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertIn("The inter-broker throttle limit was set to 50000000 B/s", p.stdout)
		h.wait_until(lambda: self.topic_znode(topic)["partitions"]["0"] == [2, 3], 90, "thr-0 moved")
		# --verify (nothing in progress) takes the topic-level throttles off again.
		p = cli("reassign-partitions", *self.bs(), "--verify", "--reassignment-json-file", plan)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertIn("Clearing topic-level throttles on topic thr", p.stdout)
		data, _ = self.c.zk.get(self.c.zpath("/config/topics/%s" % topic))
		cfg = json.loads(data.decode())["config"]
		self.assertNotIn("leader.replication.throttled.replicas", cfg)
		self.assertNotIn("follower.replication.throttled.replicas", cfg)

	# ---- perf tests ----

	def test_perf_tests(self):
		if not has_perf():
			self.skipTest("samsa built without librdkafka")
		topic = "perf"
		self.create(topic, [[1], [2], [3]])
		p = cli("producer-perf-test", "--topic", topic, "--num-records", "3000", "--record-size", "100",
				"--throughput", "-1", "--producer-props", "bootstrap.servers=" + self.c.bootstrap, "acks=all")
		self.assertEqual(p.returncode, 0, p.stderr)
		last = p.stdout.strip().splitlines()[-1]
		self.assertRegex(last, r"^3000 records sent, \d+\.\d{6} records/sec \(\d+\.\d\d MB/sec\), \d+\.\d\d ms avg "
				r"latency, \d+\.\d\d ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$")
		c = Consumer({"bootstrap.servers": self.c.bootstrap, "group.id": "admin-cli-perf-wm"})
		try:
			total = sum(c.get_watermark_offsets(TopicPartition(topic, i), timeout=10)[1] for i in range(3))
		finally:
			c.close()
		self.assertEqual(total, 3000)
		got = acked.read_all(self.c.bootstrap, topic, 3, "admin-cli-perf-read")
		self.assertEqual(len(got), 3000)
		self.assertTrue(all(len(v) == 100 and re.fullmatch(rb"[A-Z]+", v) for v in got.values()))

		# Throttled: 200 records at 400/s take about half a second.
		p = cli("producer-perf-test", "--topic", topic, "--num-records", "200", "--record-size", "10",
				"--throughput", "400", "--bootstrap-server", self.c.bootstrap)
		self.assertEqual(p.returncode, 0, p.stderr)
		rate = float(re.match(r"200 records sent, ([0-9.]+) records/sec", p.stdout.strip().splitlines()[-1]).group(1))
		self.assertLess(rate, 480)

		p = cli("consumer-perf-test", "--bootstrap-server", self.c.bootstrap, "--topic", topic,
				"--messages", "3200", "--timeout", "20000")
		self.assertEqual(p.returncode, 0, p.stderr)
		lines = p.stdout.strip().splitlines()
		self.assertEqual(lines[0], "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, "
				"nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
		cols = lines[1].split(", ")
		self.assertEqual(len(cols), 10)
		self.assertEqual(cols[4], "3200")
		self.assertRegex(cols[0], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}$")
		self.assertEqual(cols[2], "%.4f" % ((3000 * 100 + 200 * 10) / 1048576.0))


if __name__ == "__main__":
	h.main()
