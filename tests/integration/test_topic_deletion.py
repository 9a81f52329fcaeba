"""Deleting a topic whose replicas are spread over brokers, one of them down:
as Kafka's TopicDeletionManager does, the deletion waits (the topic's znodes
and the /admin/delete_topics marker stay) until that broker is back; then
every replica's directory is removed, the broker that was down included, and
the znodes go."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "spread"


class TopicDeletion(h.ClusterTestCase):
	def test_deletion_waits_for_a_dead_replica(self):
		c = self.start_cluster(brokers=3, first_id=1, props={"auto.leader.rebalance.enable": "false"})
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in a.create_topics([NewTopic(TOPIC, 3, 3)], request_timeout=20).items():
			f.result(30)
		p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all"})
		for i in range(30):
			p.produce(TOPIC, b"v%d" % i, partition=i % 3)
		self.assertEqual(p.flush(30), 0)

		def dirs(b):
			d = c.broker(b).props["log.dirs"]
			return sorted(x for x in os.listdir(d) if x.startswith(TOPIC + "-") and not x.endswith("-delete"))
		for b in (1, 2, 3):
			self.assertEqual(dirs(b), ["spread-0", "spread-1", "spread-2"])

		victim = 3 if c.controller_id() != 3 else 2
		c.broker(victim).kill()
		h.wait_until(lambda: not c.broker(victim).registered(), 60, "broker %d's registration to expire" % victim)
		a2 = AdminClient({"bootstrap.servers": ",".join(c.broker(b).address for b in (1, 2, 3) if b != victim)})
		for _, f in a2.delete_topics([TOPIC], request_timeout=20).items():
			try:
				f.result(30)
			except Exception:
				pass  # Kafka answers REQUEST_TIMED_OUT when the deletion cannot finish in time
		marker = c.zpath("/admin/delete_topics/%s" % TOPIC)
		topic = c.zpath("/brokers/topics/%s" % TOPIC)
		time.sleep(3)
		self.assertIsNotNone(c.zk.exists(marker), "the deletion marker stays while a replica is down")
		self.assertIsNotNone(c.zk.exists(topic))

		c.broker(victim).start()
		h.wait_until(lambda: c.zk.exists(topic) is None and c.zk.exists(marker) is None, 60,
				"the topic's znodes to go once the broker is back")
		h.wait_until(lambda: all(dirs(b) == [] for b in (1, 2, 3)), 60, "every replica's directory to go")
		# The controller said why it waited.
		self.assertTrue(any("deletion of topic %s waits" % TOPIC in l
				for b in (1, 2, 3) for l in c.broker(b).log_text().splitlines()))


if __name__ == "__main__":
	h.main()
