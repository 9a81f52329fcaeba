"""Burrow (Debian's burrow package, 1.2.1, on Debian's sarama) against 3 brokers
with auto-creation on.

1. `kcat -L -t __consumer_offsets` before any group exists (what Burrow itself
   asks on start) creates __consumer_offsets as Kafka does, with the group
   coordinator's settings (offsets.topic.num.partitions partitions,
   cleanup.policy=compact), not as an ordinary topic.
2. A group commits known offsets (confluent-kafka, OffsetCommit into
   __consumer_offsets) below the log end offsets of a topic; Burrow, started
   with a config naming this test's ZooKeeper and brokers, reads
   __consumer_offsets itself (so our records must be in Kafka's key/value
   format) and the brokers' offsets, and its HTTP API lists the group
   (/v3/kafka/<cluster>/consumer) with a lag (/v3/kafka/<cluster>/consumer/<group>/lag)
   equal to what was produced minus what was committed, per partition and in
   total: for a group without members (test_2) and for one whose member holds
   the partitions (test_3).
3. Offsets a group committed with OffsetCommit v0, which Kafka keeps in
   ZooKeeper: Burrow's kafka_zk module finds them under /consumers and gives
   the same lag (test_5).
4. Burrow would name each partition's owner from the group metadata record;
   Burrow 1.2.1 cannot read its value version 3, which Kafka 3.9 writes too,
   so test_4 skips with Burrow's own log line as evidence."""

import json
import os
import signal
import struct
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i32, string  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

BURROW = "/usr/bin/Burrow"
OFFSETS = "__consumer_offsets"
OFFSETS_PARTITIONS = 5
CLUSTER = "samsa"
# Burrow's client-profile kafka-version: what its sarama is told the brokers are.
KAFKA_VERSION = "2.0.0"

CONFIG = """
[general]
pidfile="{dir}/burrow.pid"

[logging]
filename="{dir}/burrow.log"
level="debug"

[zookeeper]
servers=["{zk}"]
timeout=6
root-path="/burrow"

[client-profile.test]
client-id="burrow-test"
kafka-version="{version}"

[cluster.{cluster}]
class-name="kafka"
servers=[{servers}]
client-profile="test"
topic-refresh=5
offset-refresh=2

[consumer.{cluster}]
class-name="kafka"
cluster="{cluster}"
servers=[{servers}]
client-profile="test"
offsets-topic="__consumer_offsets"
start-latest=false

# Offsets kept in ZooKeeper (OffsetCommit v0), under /consumers as Kafka lays them out.
[consumer.{cluster}_zk]
class-name="kafka_zk"
cluster="{cluster}"
servers=["{zk}"]
zookeeper-path=""
zookeeper-timeout=30

[httpserver.default]
address="127.0.0.1:{port}"

[storage.default]
class-name="inmemory"
workers=2
intervals=10
expire-group=604800
min-distance=1

[evaluator.default]
class-name="caching"
expire-cache=5
"""


class Burrow(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		if not os.access(BURROW, os.X_OK):
			raise unittest.SkipTest("Burrow missing (scripts/deps installs Debian's burrow)")
		cls.start_shared_cluster(brokers=3, first_id=1, props={
			"auto.create.topics.enable": "true",
			"offsets.topic.num.partitions": OFFSETS_PARTITIONS,
			"offsets.topic.replication.factor": 3,
		})

	def setUp(self):
		super().setUp()
		self.bootstrap = self.shared.bootstrap
		self.admin = AdminClient({"bootstrap.servers": self.bootstrap})
		self.burrow = None

	def get(self, path):
		with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.http_port, path), timeout=10) as r:
			return json.loads(r.read().decode())

	def start_burrow(self):
		d = os.path.join(self.shared.dir, "burrow-" + self.id().split(".")[-1])
		os.makedirs(d, exist_ok=True)
		self.http_port = h.free_port()
		servers = ", ".join('"%s"' % b.address for b in self.shared.brokers.values())
		with open(os.path.join(d, "burrow.toml"), "w") as f:
			f.write(CONFIG.format(dir=d, zk=self.shared.zookeeper.connect, version=KAFKA_VERSION,
					cluster=CLUSTER, servers=servers, port=self.http_port))
		self.burrow_log = os.path.join(d, "burrow.log")
		out = open(os.path.join(d, "stdout.log"), "w")
		self.burrow = subprocess.Popen([BURROW, "-config-dir", d], cwd=d, stdin=subprocess.DEVNULL,
				stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
		out.close()
		self.addCleanup(self.stop_burrow)
		self.burrow_dir = d

		def up():
			if self.burrow.poll() is not None:
				raise AssertionError("Burrow exited with %s:\n%s\n%s" % (self.burrow.returncode,
						h.tail(os.path.join(d, "stdout.log")), h.tail(self.burrow_log)))
			return h.port_open(self.http_port)
		h.wait_until(up, 60, "Burrow's HTTP server")

	def stop_burrow(self):
		p = self.burrow
		if p is None or p.poll() is not None:
			return
		os.kill(p.pid, signal.SIGTERM)
		try:
			p.wait(20)
		except subprocess.TimeoutExpired:
			os.kill(p.pid, signal.SIGKILL)
			p.wait(10)
		if self._failed():
			sys.stderr.write("---- Burrow log ----\n%s\n" % h.tail(self.burrow_log, 150))

	def test_1_offsets_topic_created_by_metadata(self):
		# Before any group: kcat's Metadata for __consumer_offsets creates it the way
		# the group coordinator would (this used to make an ordinary topic).
		self.assertFalse(self.shared.zk.exists("/brokers/topics/" + OFFSETS))
		p = h.kcat("-b", self.bootstrap, "-L", "-t", OFFSETS, "-m", "10", timeout=40)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.wait_offsets_topic()

	def wait_offsets_topic(self):
		def offsets_topic():
			md = h.kcat_metadata_json(self.bootstrap)
			t = [t for t in md["topics"] if t["topic"] == OFFSETS]
			return t and len(t[0]["partitions"]) == OFFSETS_PARTITIONS and all(
				q["leader"] >= 0 for q in t[0]["partitions"]) and t[0]
		t = h.wait_until(offsets_topic, 60, "%s with %d led partitions" % (OFFSETS, OFFSETS_PARTITIONS))
		self.assertTrue(all(len(q["replicas"]) == 3 for q in t["partitions"]), t)
		cfg, _ = self.shared.zk.get("/config/topics/" + OFFSETS)
		cfg = json.loads(cfg.decode())["config"]
		self.assertEqual(cfg.get("cleanup.policy"), "compact", cfg)

	def make_topic(self, topic, produced):
		P = len(produced)
		for _, f in self.admin.create_topics([NewTopic(topic, P, 3)], request_timeout=20).items():
			f.result(30)

		def led():
			t = self.admin.list_topics(topic, timeout=10).topics[topic]
			return len(t.partitions) == P and all(q.leader >= 0 for q in t.partitions.values())
		h.wait_until(led, 60, "leaders of %s" % topic)
		pr = Producer({"bootstrap.servers": self.bootstrap, "acks": "all"})
		for q, n in produced.items():
			for i in range(n):
				pr.produce(topic, b"v%d" % i, b"k%d" % i, partition=q)
		self.assertEqual(pr.flush(30), 0)

	def burrow_lag(self, group, topic, produced, committed):
		"""Starts Burrow; asserts it lists group with the lag produced - committed;
		returns the lag answer's status."""
		P = len(produced)
		lag = {q: produced[q] - committed[q] for q in range(P)}
		self.start_burrow()
		clusters = h.wait_until(lambda: self.get("/v3/kafka")["clusters"], 30, "Burrow's clusters")
		self.assertEqual(clusters, [CLUSTER])
		h.wait_until(lambda: group in self.get("/v3/kafka/%s/consumer" % CLUSTER)["consumers"], 60,
				"Burrow to list %s" % group)

		def lag_answer():
			r = self.get("/v3/kafka/%s/consumer/%s/lag" % (CLUSTER, group))
			st = r.get("status") or {}
			parts = st.get("partitions") or []
			if sorted((x["topic"], x["partition"]) for x in parts) != [(topic, q) for q in range(P)]:
				return None
			return r
		r = h.wait_until(lag_answer, 60, "Burrow's lag for %s" % group)
		st = r["status"]
		h.log("Burrow lag answer: %s" % json.dumps(st)[:1500])
		self.assertFalse(r["error"], r)
		self.assertEqual((st["cluster"], st["group"]), (CLUSTER, group))
		self.assertEqual({x["partition"]: x["current_lag"] for x in st["partitions"]}, lag)
		self.assertEqual({x["partition"]: x["end"]["offset"] for x in st["partitions"]}, committed)
		self.assertEqual(st["totallag"], sum(lag.values()))
		return st

	def test_2_lag_of_committed_offsets(self):
		# A group with no members that commits known offsets below the log end offsets.
		topic, group = "burrow-t", "burrow-g"
		produced, committed = {0: 10, 1: 12, 2: 7}, {0: 7, 1: 2, 2: 7}
		self.make_topic(topic, produced)
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False})
		try:
			c.commit(offsets=[TopicPartition(topic, q, o) for q, o in committed.items()], asynchronous=False)
			self.assertEqual({tp.partition: tp.offset for tp in c.committed(
				[TopicPartition(topic, q) for q in committed], timeout=20)}, committed)
		finally:
			c.close()
		self.burrow_lag(group, topic, produced, committed)

	def test_5_lag_of_zookeeper_offsets(self):
		# OffsetCommit v0 keeps offsets in ZooKeeper (/consumers/<group>/offsets/<topic>/<p>,
		# Kafka's layout); Burrow's kafka_zk module reads them from there.
		topic, group = "burrow-z", "burrow-zg"
		produced, committed = {0: 8, 1: 3}, {0: 5, 1: 3}
		self.make_topic(topic, produced)
		body = string(group) + i32(1) + string(topic) + i32(len(committed))
		for q, o in committed.items():
			body += i32(q) + struct.pack(">q", o) + string("")
		with kproto.Conn(h.HOST, self.shared.broker(1).port, timeout=20) as c:
			r = c.request(8, 0, body)
			errors = []
			for _ in range(r.i32()):
				r.string()
				for _ in range(r.i32()):
					r.i32()
					errors.append(r.i16())
		self.assertEqual(errors, [0] * len(committed))
		for q, o in committed.items():
			data, _ = self.shared.zk.get("/consumers/%s/offsets/%s/%d" % (group, topic, q))
			self.assertEqual(int(data.decode()), o)
		self.burrow_lag(group, topic, produced, committed)

	def member_group(self, topic, group, produced, committed):
		"""A member that joins, is assigned every partition of topic, commits and
		stays (until the test ends): the coordinator writes the group's metadata
		record as well as its offsets."""
		self.make_topic(topic, produced)
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False,
				"client.id": "burrow-member", "session.timeout.ms": 30000})
		self.addCleanup(c.close)
		c.subscribe([topic])
		h.wait_until(lambda: c.poll(0.2) is None and len(c.assignment()) == len(produced), 60,
				"the member's assignment")
		c.commit(offsets=[TopicPartition(topic, q, o) for q, o in committed.items()], asynchronous=False)
		self.assertEqual({tp.partition: tp.offset for tp in c.committed(
			[TopicPartition(topic, q) for q in committed], timeout=20)}, committed)

	def test_3_lag_of_a_member(self):
		topic, group = "burrow-m", "burrow-mg"
		produced, committed = {0: 9, 1: 5, 2: 11, 3: 4}, {0: 1, 1: 5, 2: 8, 3: 0}
		self.member_group(topic, group, produced, committed)
		self.burrow_lag(group, topic, produced, committed)

	def test_4_owner_from_group_metadata(self):
		topic, group = "burrow-o", "burrow-og"
		produced, committed = {0: 3, 1: 6}, {0: 2, 1: 1}
		self.member_group(topic, group, produced, committed)
		st = self.burrow_lag(group, topic, produced, committed)
		# Owner and client id come from the group metadata record. Kafka 3.9 writes its
		# value at version 3 (since 2.3, for static members), as samsa does; Burrow
		# 1.2.1 knows versions 0-2 only and drops the record (Burrow 1.3 reads v3).
		with open(self.burrow_log) as f:
			undecoded = [line for line in f if '"failed to decode"' in line and '"message_type":"metadata"' in line
				and '"version":3' in line]
		if undecoded:
			self.skipTest("Burrow 1.2.1 cannot decode group metadata value version 3, which Kafka 3.9 "
					"writes too; its log: %s" % undecoded[0].strip()[:300])
		self.assertEqual({(x["client_id"], x["owner"]) for x in st["partitions"]},
				{("burrow-member", "/127.0.0.1")})


if __name__ == "__main__":
	h.main()
