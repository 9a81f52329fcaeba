"""Internal topics created or found the way Kafka 3.9 does.

A Metadata request naming __consumer_offsets before any group exists (Burrow on
start, `kcat -L -t __consumer_offsets`) creates it, when auto-creation is on,
with the group coordinator's settings (offsets.topic.num.partitions,
offsets.topic.replication.factor, cleanup.policy=compact, compression.type=producer,
segment.bytes=offsets.topic.segment.bytes) rather than as an ordinary topic, and
groups then form on it. __transaction_state is created with the transaction log's
settings. Both are flagged is_internal. A __consumer_offsets that already exists
with another partition count is what groups map onto (Kafka's GroupMetadataManager
reads the count from ZooKeeper), before and after a restart."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i8, string  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

OFFSETS = "__consumer_offsets"
TXN = "__transaction_state"
NONE = 0
LEADER_NOT_AVAILABLE = 5
FIND_COORDINATOR = 10


def java_partition(group, n):
	"""Kafka's partitionFor: abs(String.hashCode) % n (ASCII ids only)."""
	hsh = 0
	for ch in group:
		hsh = (31 * hsh + ord(ch)) & 0xFFFFFFFF
	return (hsh & 0x7FFFFFFF) % n


def find_coordinator(port, group):
	"""FindCoordinator v1 for a group: (error, node id)."""
	with kproto.Conn(h.HOST, port, timeout=20) as c:
		r = c.request(FIND_COORDINATOR, 1, string(group) + i8(0))
		r.i32()
		err = r.i16()
		r.string()
		return err, r.i32()


class Base(h.ClusterTestCase):
	def znode(self, path):
		data, _ = self.shared.zk.get(self.shared.zpath(path))
		return json.loads(data.decode())

	def topic_partitions(self, topic):
		return sorted(int(p) for p in self.znode("/brokers/topics/%s" % topic)["partitions"])

	def wait_topic_led(self, topic, n, timeout=90):
		"""Until every live broker's Metadata shows topic with n partitions, all led."""
		def led():
			for b in self.shared.live_brokers():
				md = kproto.metadata(h.HOST, b.port, topics=[topic])
				t = md["topics"][0]
				if t["error_code"] != NONE or len(t["partitions"]) != n:
					return False
				if any(p["leader"] < 0 for p in t["partitions"]):
					return False
			return True
		h.wait_until(led, timeout, "%s with %d led partitions" % (topic, n))

	def produce(self, topic, n):
		p = Producer({"bootstrap.servers": self.shared.bootstrap, "acks": "all", "linger.ms": 5})
		errors = []
		for i in range(n):
			p.produce(topic, ("m%d" % i).encode(), partition=i % 2,
					on_delivery=lambda err, m: errors.append(err) if err else None)
		self.assertEqual(p.flush(60), 0)
		self.assertEqual(errors, [])

	def consume_and_commit(self, topic, group, n, timeout=90):
		"""A confluent-kafka group member reads n messages from topic and commits them;
		returns the committed offsets by partition as a fresh member sees them."""
		c = Consumer({"bootstrap.servers": self.shared.bootstrap, "group.id": group,
				"auto.offset.reset": "earliest", "enable.auto.commit": False,
				"session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
		got, errors = [], []
		try:
			c.subscribe([topic])
			deadline = time.monotonic() + timeout
			while len(got) < n:
				if time.monotonic() > deadline:
					raise AssertionError("group %s read %d of %d messages; errors %s"
							% (group, len(got), n, errors[-5:]))
				m = c.poll(0.5)
				if m is None:
					continue
				if m.error():
					errors.append(str(m.error()))
					continue
				got.append(m.value())
			c.commit(asynchronous=False)
		finally:
			c.close()
		self.assertEqual(sorted(got), sorted(("m%d" % i).encode() for i in range(n)))
		c = Consumer({"bootstrap.servers": self.shared.bootstrap, "group.id": group})
		try:
			return {tp.partition: tp.offset for tp in
				c.committed([TopicPartition(topic, p) for p in range(2)], timeout=30)}
		finally:
			c.close()

	def check_coordinators(self, groups, n_partitions):
		"""FindCoordinator from every live broker names the leader of partition
		hash(group) % n_partitions of __consumer_offsets."""
		for g in groups:
			p = java_partition(g, n_partitions)
			for b in self.shared.live_brokers():
				def answered():
					err, node = find_coordinator(b.port, g)
					return node if err == NONE else None
				node = h.wait_until(answered, 60, "coordinator of %s from broker %s" % (g, b.id))
				self.assertEqual(node, self.shared.partition_state(OFFSETS, p)["leader"],
						"group %s, partition %d of %d" % (g, p, n_partitions))


class AutoCreatedByMetadata(Base):
	PROPS = {
		"auto.create.topics.enable": "true",
		"num.partitions": "1",
		"default.replication.factor": "1",
		"offsets.topic.num.partitions": "10",
		"offsets.topic.replication.factor": "3",
		"offsets.topic.segment.bytes": "52428800",
		"transaction.state.log.num.partitions": "4",
		"transaction.state.log.replication.factor": "3",
		"transaction.state.log.min.isr": "2",
		"transaction.state.log.segment.bytes": "20971520",
	}

	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=3, first_id=1, props=cls.PROPS)

	def test_a_kcat_metadata_then_group(self):
		# Burrow's first move: ask about __consumer_offsets before any group exists.
		p = h.kcat("-b", self.shared.bootstrap, "-L", "-t", OFFSETS, "-m", "10", timeout=40)
		self.assertEqual(p.returncode, 0, p.stderr)
		h.wait_until(lambda: self.shared.zk.exists(self.shared.zpath("/brokers/topics/" + OFFSETS)), 30,
				"%s created" % OFFSETS)
		self.assertEqual(self.topic_partitions(OFFSETS), list(range(10)))
		asg = self.znode("/brokers/topics/" + OFFSETS)["partitions"]
		self.assertTrue(all(sorted(r) == [1, 2, 3] for r in asg.values()), asg)
		self.assertEqual(self.znode("/config/topics/" + OFFSETS)["config"],
				{"cleanup.policy": "compact", "compression.type": "producer", "segment.bytes": "52428800"})
		self.wait_topic_led(OFFSETS, 10)

		# Groups form on it: a member reads what was produced and commits.
		a = AdminClient({"bootstrap.servers": self.shared.bootstrap})
		for f in a.create_topics([NewTopic("ao-data", 2, 3)], request_timeout=20).values():
			f.result(30)
		self.wait_topic_led("ao-data", 2)
		self.produce("ao-data", 20)
		self.assertEqual(self.consume_and_commit("ao-data", "ao-group", 20), {0: 10, 1: 10})
		self.check_coordinators(["ao-group", "burrow", "g1", "g2", "g3"], 10)

	def test_c_raw_metadata_internal_topics(self):
		b = self.shared.broker(1)
		with kproto.Conn(h.HOST, b.port) as c:
			# Whether test a or this request creates it, it has the coordinator's count.
			c.metadata([OFFSETS], allow_auto_create=True)
			self.wait_topic_led(OFFSETS, 10)
			for version in (1, 4, 9, 12):
				[t] = c.metadata_any(version, [OFFSETS])["topics"]
				self.assertEqual(t["error_code"], NONE)
				self.assertTrue(t["is_internal"], version)
				self.assertEqual(sorted(p["partition"] for p in t["partitions"]), list(range(10)))
				self.assertTrue(all(len(p["replicas"]) == 3 for p in t["partitions"]))

			# __transaction_state: created with the transaction log's settings, internal from
			# the first answer on (Kafka's AutoTopicCreationManager).
			[t] = c.metadata_any(4, [TXN], allow_auto_create=True)["topics"]
			self.assertEqual((t["name"], t["error_code"], t["is_internal"]), (TXN, LEADER_NOT_AVAILABLE, True))
			self.assertEqual(t["partitions"], [])
			self.wait_topic_led(TXN, 4)
			[t] = c.metadata_any(9, [TXN])["topics"]
			self.assertTrue(t["is_internal"])
			self.assertEqual(len(t["partitions"]), 4)
			self.assertTrue(all(len(p["replicas"]) == 3 for p in t["partitions"]))
		self.assertEqual(self.znode("/config/topics/" + TXN)["config"], {
			"cleanup.policy": "compact", "compression.type": "uncompressed", "min.insync.replicas": "2",
			"segment.bytes": "20971520", "unclean.leader.election.enable": "false"})

		# An ordinary topic is still made with num.partitions and is not internal.
		with kproto.Conn(h.HOST, b.port) as c:
			[t] = c.metadata_any(4, ["ao-plain"], allow_auto_create=True)["topics"]
			self.assertEqual((t["error_code"], t["is_internal"]), (LEADER_NOT_AVAILABLE, False))
		self.wait_topic_led("ao-plain", 1)
		self.assertEqual(self.znode("/config/topics/ao-plain")["config"], {})


class PreexistingOffsetsTopic(Base):
	"""__consumer_offsets made by hand with 3 partitions while the brokers are
	configured for 10: groups live on the 3 that exist."""

	@classmethod
	def setUpClass(cls):
		c = cls.start_shared_cluster(brokers=3, first_id=1, props={"offsets.topic.num.partitions": "10"})
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		try:
			for f in a.create_topics([NewTopic(OFFSETS, 3, 2, config={"cleanup.policy": "compact"})],
					request_timeout=20).values():
				f.result(30)
		except BaseException:
			cls._any_failed = True
			cls.tearDownClass()
			raise

	GROUPS = ["pre-a", "pre-b", "pre-c", "pre-d", "pre-e", "pre-f", "pre-g"]

	def test_groups_map_onto_existing_partitions(self):
		self.wait_topic_led(OFFSETS, 3)
		self.assertEqual(self.topic_partitions(OFFSETS), [0, 1, 2])
		# Some of these groups hash beyond partition 2 of 10, so % 10 would break them.
		self.assertTrue(any(java_partition(g, 10) >= 3 for g in self.GROUPS))
		self.check_coordinators(self.GROUPS, 3)
		a = AdminClient({"bootstrap.servers": self.shared.bootstrap})
		for f in a.create_topics([NewTopic("pre-data", 2, 2)], request_timeout=20).values():
			f.result(30)
		self.wait_topic_led("pre-data", 2)
		self.produce("pre-data", 10)
		group = next(g for g in self.GROUPS if java_partition(g, 10) >= 3)
		self.assertEqual(self.consume_and_commit("pre-data", group, 10), {0: 5, 1: 5})

		# After a restart the count comes from ZooKeeper at start-up, as in Kafka.
		for b in list(self.shared.brokers.values()):
			b.restart()
		self.shared.wait_metadata()
		self.wait_topic_led(OFFSETS, 3)
		self.check_coordinators(self.GROUPS, 3)
		c = Consumer({"bootstrap.servers": self.shared.bootstrap, "group.id": group})
		try:
			committed = {tp.partition: tp.offset for tp in
				c.committed([TopicPartition("pre-data", p) for p in range(2)], timeout=30)}
		finally:
			c.close()
		self.assertEqual(committed, {0: 5, 1: 5})

	def test_not_created_without_auto_creation(self):
		"""auto.create.topics.enable is off here: nothing is made, and the answer
		still flags the name as internal."""
		with kproto.Conn(h.HOST, self.shared.broker(2).port) as c:
			for version in (1, 4, 9):
				[t] = c.metadata_any(version, [TXN], allow_auto_create=True)["topics"]
				self.assertEqual((t["error_code"], t["is_internal"]), (kproto.ERR_UNKNOWN_TOPIC_OR_PARTITION, True))
		self.assertIsNone(self.shared.zk.exists(self.shared.zpath("/brokers/topics/" + TXN)))


if __name__ == "__main__":
	h.main()
