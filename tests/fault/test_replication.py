"""Replication under faults, on 3 brokers: followers copy the leader byte for
byte; acks=all waits for the ISR; a stopped follower leaves the ISR within
replica.lag.time.max.ms (the leader rewrites the partition state znode and
announces it under /isr_change_notification), after which RF=2 with
min.insync.replicas=2 refuses acks=all writes with NOT_ENOUGH_REPLICAS; once
resumed, the follower catches up and rejoins the ISR."""

import filecmp
import glob
import os
import signal
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import acked  # noqa: E402
import cluster as h  # noqa: E402
import kproto  # noqa: E402
import records  # noqa: E402
from kproto import i16, i32, string  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

LAG_MS = 3000
NONE = 0
NOT_ENOUGH_REPLICAS = 19
NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20


class Replication(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		# Two fetcher threads per leader: partitions spread over them by hash.
		self.c = self.start_cluster(brokers=3, first_id=1, props={"replica.lag.time.max.ms": str(LAG_MS),
				"num.replica.fetchers": "2"})

	def create(self, name, partitions, rf, config=None):
		a = AdminClient({"bootstrap.servers": self.c.bootstrap})
		for _, f in a.create_topics([NewTopic(name, partitions, rf, config=config or {})],
				request_timeout=20).items():
			f.result(30)

		def ready():
			t = a.list_topics(name, timeout=10).topics.get(name)
			return t is not None and t.error is None and len(t.partitions) == partitions and all(
				p.leader >= 0 and len(p.isrs) == rf for p in t.partitions.values())
		h.wait_until(ready, 60, "leaders and full ISRs for %s" % name)

	def state(self, topic, partition):
		return self.c.partition_state(topic, partition)

	def pdir(self, broker_id, topic, partition):
		return os.path.join(self.c.broker(broker_id).props["log.dirs"], "%s-%d" % (topic, partition))

	def produce_raw(self, broker_id, topic, partition, acks, timeout_ms=5000):
		"""One batch with Produce v7 to a given broker; (error, base offset)."""
		b = self.c.broker(broker_id)
		batch = records.batch([(b"k", b"raw-%d" % time.time_ns())])
		body = i16(-1) + i16(acks) + i32(timeout_ms) + i32(1) + string(topic) + i32(1) + i32(partition)
		body += i32(len(batch)) + batch
		with kproto.Conn(h.HOST, b.port, timeout=timeout_ms / 1000 + 10) as conn:
			r = conn.request(0, 7, body)
			r.i32()
			r.string()
			r.i32()
			self.assertEqual(r.i32(), partition)
			err = r.i16()
			return err, struct.unpack(">q", r.take(8))[0]

	def read_all(self, topic, partitions):
		out = {}
		for m in acked.messages_to_end(self.c.bootstrap, "repl-check",
				[TopicPartition(topic, p, 0) for p in range(partitions)], 60):
			if m.error():
				raise AssertionError(str(m.error()))
			out.setdefault(m.partition(), []).append((m.offset(), m.value()))
		return out

	def test_followers_copy_the_leader_byte_for_byte(self):
		topic = "repl-copy"
		self.create(topic, 3, 3, {"min.insync.replicas": "2"})
		p = Producer({"bootstrap.servers": self.c.bootstrap, "acks": "all", "linger.ms": 5,
				"compression.type": "lz4"})
		acked = {}

		def dr(err, msg):
			self.assertIsNone(err)
			acked[(msg.partition(), msg.offset())] = msg.value()
		for i in range(20000):
			p.produce(topic, b"value-%d" % i, key=b"k%d" % i, on_delivery=dr)
			if i % 500 == 0:
				p.poll(0)
		self.assertEqual(p.flush(60), 0)
		self.assertEqual(len(acked), 20000)
		# acks=all was answered only once every ISR member had the data: the HW covers it all.
		got = self.read_all(topic, 3)
		self.assertEqual({(part, o): v for part, msgs in got.items() for o, v in msgs}, acked)
		# Every replica holds the same segment bytes as its leader.
		for part in range(3):
			leader = self.state(topic, part)["leader"]

			def same():
				ref = sorted(glob.glob(os.path.join(self.pdir(leader, topic, part), "*.log")))
				for b in (1, 2, 3):
					logs = sorted(glob.glob(os.path.join(self.pdir(b, topic, part), "*.log")))
					if [os.path.basename(x) for x in logs] != [os.path.basename(x) for x in ref]:
						return False
					if not all(filecmp.cmp(x, y, shallow=False) for x, y in zip(logs, ref)):
						return False
				return True
			h.wait_until(same, 30, "replicas of %s-%d identical to the leader's" % (topic, part))

	def test_stopped_follower_leaves_and_rejoins_the_isr(self):
		topic = "repl-isr"
		self.create(topic, 1, 2, {"min.insync.replicas": "2"})
		st = self.state(topic, 0)
		leader = st["leader"]
		follower = [b for b in st["isr"] if b != leader][0]
		self.assertEqual(self.produce_raw(leader, topic, 0, -1)[0], NONE)

		self.c.broker(follower).signal(signal.SIGSTOP)
		self.addCleanup(self.c.broker(follower).signal, signal.SIGCONT)
		t0 = time.time()
		h.wait_until(lambda: self.state(topic, 0)["isr"] == [leader], LAG_MS / 1000 + 10,
				"the stopped follower to leave the ISR")
		self.assertLess(time.time() - t0, LAG_MS / 1000 + 10)
		st2 = self.state(topic, 0)
		self.assertEqual((st2["leader"], st2["leader_epoch"]), (leader, st["leader_epoch"]))
		# Below min.insync.replicas: acks=all is refused before anything is written; acks=1 still works.
		err, _ = self.produce_raw(leader, topic, 0, -1)
		self.assertEqual(err, NOT_ENOUGH_REPLICAS)
		err, base = self.produce_raw(leader, topic, 0, 1)
		self.assertEqual(err, NONE)

		self.c.broker(follower).signal(signal.SIGCONT)
		h.wait_until(lambda: sorted(self.state(topic, 0)["isr"]) == sorted([leader, follower]), 30,
				"the follower to rejoin the ISR")
		# The leader installs the new ISR once its ZooKeeper write returns, a moment after
		# the znode shows it (Kafka's AlterPartition path has the same window).
		h.wait_until(lambda: self.produce_raw(leader, topic, 0, -1)[0] == NONE, 10,
				"acks=all accepted with the ISR back at two")
		# It caught up on what was written while it was away.
		h.wait_until(lambda: filecmp.cmp(
			sorted(glob.glob(os.path.join(self.pdir(leader, topic, 0), "*.log")))[-1],
			sorted(glob.glob(os.path.join(self.pdir(follower, topic, 0), "*.log")))[-1], shallow=False),
			30, "the follower's log to match the leader's")

	def test_acks_all_times_out_while_the_isr_cannot_follow(self):
		# The follower is stopped but still in the ISR (within replica.lag.time.max.ms):
		# acks=all waits for it and gives up at the request timeout.
		topic = "repl-timeout"
		self.create(topic, 1, 2)
		st = self.state(topic, 0)
		leader = st["leader"]
		follower = [b for b in st["isr"] if b != leader][0]
		self.c.broker(follower).signal(signal.SIGSTOP)
		self.addCleanup(self.c.broker(follower).signal, signal.SIGCONT)
		t0 = time.time()
		err, _ = self.produce_raw(leader, topic, 0, -1, timeout_ms=1000)
		self.assertEqual(err, 7)  # REQUEST_TIMED_OUT
		self.assertGreaterEqual(time.time() - t0, 0.9)


if __name__ == "__main__":
	h.main()


class ReplicatedOffsets(h.ClusterTestCase):
	"""OffsetCommit is answered once the offsets partition's ISR has the commit."""

	def setUp(self):
		super().setUp()
		self.c = self.start_cluster(brokers=3, first_id=1, props={
			"offsets.topic.replication.factor": "3",
			"offsets.topic.num.partitions": "1",
			"offsets.commit.timeout.ms": "2000",
			"replica.lag.time.max.ms": "60000",
		})

	def state(self, topic, partition):
		return self.c.partition_state(topic, partition)

	def commit_v2(self, broker_id, group, topic, offset):
		"""A simple (generation -1) OffsetCommit v2; the partition's error code."""
		body = string(group) + i32(-1) + string("") + struct.pack(">q", -1)
		body += i32(1) + string(topic) + i32(1) + i32(0) + struct.pack(">q", offset) + string("")
		with kproto.Conn(h.HOST, self.c.broker(broker_id).port, timeout=30) as conn:
			r = conn.request(8, 2, body)
			self.assertEqual(r.i32(), 1)
			r.string()
			self.assertEqual(r.i32(), 1)
			self.assertEqual(r.i32(), 0)
			return r.i16()

	def test_commit_waits_for_the_offsets_topic_isr(self):
		a = AdminClient({"bootstrap.servers": self.c.bootstrap})
		for _, f in a.create_topics([NewTopic("data", 1, 1)], request_timeout=20).items():
			f.result(30)
		# A consumer's FindCoordinator creates __consumer_offsets (RF 3, one partition).
		c = Consumer({"bootstrap.servers": self.c.bootstrap, "group.id": "g"})
		c.assign([TopicPartition("data", 0, 0)])
		c.poll(1)
		h.wait_until(lambda: self.c.zk.exists(self.c.zpath("/brokers/topics/__consumer_offsets/partitions/0/state"))
				and len(self.state("__consumer_offsets", 0)["isr"]) == 3, 60, "__consumer_offsets with a full ISR")
		c.close()
		coordinator = self.state("__consumer_offsets", 0)["leader"]
		h.wait_until(lambda: self.commit_v2(coordinator, "g", "data", 5) == NONE, 30, "a first commit")
		followers = [b for b in (1, 2, 3) if b != coordinator]
		for f in followers:
			self.c.broker(f).signal(signal.SIGSTOP)
			self.addCleanup(self.c.broker(f).signal, signal.SIGCONT)
		time.sleep(1)
		t0 = time.time()
		self.assertEqual(self.commit_v2(coordinator, "g", "data", 7), 7)  # REQUEST_TIMED_OUT
		self.assertGreaterEqual(time.time() - t0, 1.8)
		for f in followers:
			self.c.broker(f).signal(signal.SIGCONT)
		t0 = time.time()
		self.assertEqual(self.commit_v2(coordinator, "g", "data", 9), NONE)
		self.assertLess(time.time() - t0, 5)
