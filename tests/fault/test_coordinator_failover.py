"""Coordinator failover on 3 brokers with a replicated __consumer_offsets: a
consumer group commits, the coordinator (the leader of the group's offsets
partition) is SIGKILLed, another broker becomes leader, loads the group from
the log and answers for it; the group re-forms there and resumes exactly at
its committed offsets. The killed broker, back as a follower, answers
NOT_COORDINATOR for the group."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i8, i32, string  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "cf"
GROUP = "cf-group"
PARTITIONS = 4
NOT_COORDINATOR = 16


class CoordinatorFailover(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		self.c = self.start_cluster(brokers=3, first_id=1, props={
			"offsets.topic.replication.factor": "3",
			"offsets.topic.num.partitions": "1",
			"group.initial.rebalance.delay.ms": "0",
			"default.replication.factor": "3",
		})

	def state(self, topic, partition):
		return self.c.partition_state(topic, partition)

	def consumer(self):
		return Consumer({"bootstrap.servers": self.c.bootstrap, "group.id": GROUP, "auto.offset.reset": "earliest",
				"enable.auto.commit": False, "session.timeout.ms": 10000})

	def consume(self, c, n, timeout=60):
		got = []
		deadline = time.time() + timeout
		while len(got) < n and time.time() < deadline:
			m = c.poll(1.0)
			if m is None or m.error():
				continue
			got.append((m.partition(), m.offset(), m.value()))
		return got

	def find_coordinator(self, broker_id):
		"""FindCoordinator v1 sent to one broker: (error, node id)."""
		with kproto.Conn(h.HOST, self.c.broker(broker_id).port, timeout=10) as conn:
			r = conn.request(10, 1, string(GROUP) + i8(0))
			r.i32()
			err = r.i16()
			r.string()
			return err, r.i32()

	def heartbeat_error(self, broker_id):
		"""Heartbeat v0 for the group sent to one broker: its error code."""
		with kproto.Conn(h.HOST, self.c.broker(broker_id).port, timeout=10) as conn:
			r = conn.request(12, 0, string(GROUP) + i32(1) + string("nobody"))
			return r.i16()

	def test_group_moves_with_the_offsets_partition(self):
		a = AdminClient({"bootstrap.servers": self.c.bootstrap})
		for _, f in a.create_topics([NewTopic(TOPIC, PARTITIONS, 3)], request_timeout=20).items():
			f.result(30)
		p = Producer({"bootstrap.servers": self.c.bootstrap, "acks": "all"})
		for i in range(400):
			p.produce(TOPIC, b"v%d" % i, partition=i % PARTITIONS)
		self.assertEqual(p.flush(30), 0)

		c = self.consumer()
		c.subscribe([TOPIC])
		first = self.consume(c, 200)
		self.assertEqual(len(first), 200)
		c.commit(asynchronous=False)
		committed = {tp.partition: tp.offset for tp in c.committed(
			[TopicPartition(TOPIC, q) for q in range(PARTITIONS)], timeout=20)}
		c.close()
		expect = {}
		for part, off, _ in first:
			expect[part] = max(expect.get(part, 0), off + 1)
		self.assertEqual({q: o for q, o in committed.items() if o >= 0}, expect)

		h.wait_until(lambda: len(self.state("__consumer_offsets", 0)["isr"]) == 3, 60, "a full offsets ISR")
		old = self.state("__consumer_offsets", 0)["leader"]
		self.assertEqual(self.find_coordinator(old), (0, old))
		self.c.broker(old).kill()
		h.wait_until(lambda: self.state("__consumer_offsets", 0)["leader"] not in (old, -1), 60,
				"a new leader for __consumer_offsets-0")
		new = self.state("__consumer_offsets", 0)["leader"]
		h.wait_until(lambda: self.find_coordinator(new) == (0, new), 30, "FindCoordinator to name the new leader")

		# The group re-forms at the new coordinator and resumes at the committed offsets.
		c = self.consumer()
		c.subscribe([TOPIC])
		rest = self.consume(c, 200)
		c.close()
		self.assertEqual(len(rest), 200)
		for part, off, _ in rest:
			self.assertGreaterEqual(off, expect.get(part, 0))
		self.assertEqual({(q, o) for q, o, _ in first} & {(q, o) for q, o, _ in rest}, set())

		# The old coordinator returns as a follower and no longer answers for the group.
		h.wait_until(lambda: not self.c.broker(old).registered(), 60, "the old registration to expire")
		self.c.broker(old).start()
		h.wait_until(lambda: old in self.state("__consumer_offsets", 0)["isr"], 60, "the old leader back in the ISR")
		self.assertEqual(self.heartbeat_error(old), NOT_COORDINATOR)


if __name__ == "__main__":
	h.main()
