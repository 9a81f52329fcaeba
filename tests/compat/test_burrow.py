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
   total."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402

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
		d = os.path.join(self.shared.dir, "burrow")
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

	def test_lag_of_a_committed_group(self):
		# 1. Before any group: kcat's Metadata for __consumer_offsets creates it the
		#    way the group coordinator would.
		self.assertFalse(self.shared.zk.exists("/brokers/topics/" + OFFSETS))
		p = h.kcat("-b", self.bootstrap, "-L", "-t", OFFSETS, "-m", "10", timeout=40)
		self.assertEqual(p.returncode, 0, p.stderr)

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

		# 2. A topic with known contents and a group that commits known offsets below its end.
		topic, group, P = "burrow-t", "burrow-g", 3
		for _, f in self.admin.create_topics([NewTopic(topic, P, 3)], request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: all(q.leader >= 0 for q in self.admin.list_topics(topic, timeout=10)
				.topics[topic].partitions.values()) and len(self.admin.list_topics(topic, timeout=10)
				.topics[topic].partitions) == P, 60, "leaders of %s" % topic)
		produced = {0: 10, 1: 12, 2: 7}
		pr = Producer({"bootstrap.servers": self.bootstrap, "acks": "all"})
		for q, n in produced.items():
			for i in range(n):
				pr.produce(topic, b"v%d" % i, b"k%d" % i, partition=q)
		self.assertEqual(pr.flush(30), 0)
		committed = {0: 7, 1: 2, 2: 7}
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False})
		try:
			c.commit(offsets=[TopicPartition(topic, q, o) for q, o in committed.items()], asynchronous=False)
			self.assertEqual({tp.partition: tp.offset for tp in c.committed(
				[TopicPartition(topic, q) for q in range(P)], timeout=20)}, committed)
		finally:
			c.close()
		lag = {q: produced[q] - committed[q] for q in range(P)}
		self.assertEqual(lag, {0: 3, 1: 10, 2: 0})

		# 3. Burrow.
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
		got = {x["partition"]: x["current_lag"] for x in st["partitions"]}
		self.assertEqual(got, lag)
		self.assertEqual({x["partition"]: x["end"]["offset"] for x in st["partitions"]}, committed)
		self.assertEqual(st["totallag"], sum(lag.values()))
		self.assertEqual(st["cluster"], CLUSTER)
		self.assertEqual(st["group"], group)


if __name__ == "__main__":
	h.main()
