"""offsets.retention.minutes: once a group has been Empty that long, its
committed offsets are removed (with tombstones in __consumer_offsets), and the
group, left with neither members nor offsets, goes too. An active group's
offsets stay. Takes a little over a minute: the retention is counted in whole
minutes."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "ret"


class OffsetsRetention(h.ClusterTestCase):
	def test_offsets_of_an_empty_group_expire(self):
		c = self.start_cluster(brokers=1, first_id=1, props={
			"offsets.topic.num.partitions": "1",
			"offsets.retention.minutes": "1",
			"offsets.retention.check.interval.ms": "1000",
		})
		b = c.broker(1)
		a = AdminClient({"bootstrap.servers": b.address})
		for _, f in a.create_topics([NewTopic(TOPIC, 1, 1)], request_timeout=20).items():
			f.result(30)

		def commit(group, offset):
			cons = Consumer({"bootstrap.servers": b.address, "group.id": group, "enable.auto.commit": False})
			try:
				cons.commit(offsets=[TopicPartition(TOPIC, 0, offset)], asynchronous=False)
			finally:
				cons.close()

		def committed(group):
			cons = Consumer({"bootstrap.servers": b.address, "group.id": group})
			try:
				return cons.committed([TopicPartition(TOPIC, 0)], timeout=20)[0].offset
			finally:
				cons.close()

		commit("idle", 42)
		self.assertEqual(committed("idle"), 42)
		# A group with a live member keeps its offsets however old they get.
		live = Consumer({"bootstrap.servers": b.address, "group.id": "live", "enable.auto.commit": False,
				"session.timeout.ms": 10000})
		live.subscribe([TOPIC])
		deadline = time.time() + 30
		while not live.assignment() and time.time() < deadline:
			live.poll(0.5)
		self.assertTrue(live.assignment())
		live.commit(offsets=[TopicPartition(TOPIC, 0, 7)], asynchronous=False)
		t0 = time.time()
		try:
			def expired():
				live.poll(0.2)  # keep the live member's session up
				return committed("idle") < 0
			h.wait_until(expired, 120, "the idle group's offsets to expire")
			self.assertGreaterEqual(time.time() - t0, 55)
			self.assertEqual(live.committed([TopicPartition(TOPIC, 0)], timeout=20)[0].offset, 7)
		finally:
			live.close()
		groups = {g.id for g in a.list_groups(timeout=20)}
		self.assertNotIn("idle", groups)
		self.assertTrue(any("Removed 1 expired offsets of group idle" in l for l in b.log_text().splitlines()))


if __name__ == "__main__":
	h.main()
