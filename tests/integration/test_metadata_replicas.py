"""Metadata with a broker down, as Kafka 3.9's ZkMetadataCache answers it: from v1
every assigned replica is listed (the ISR as the controller last wrote it) and
offline_replicas (v5+) names the dead one; only v0 leaves dead brokers out of
replicas and isr, with REPLICA_NOT_AVAILABLE when the leader is up. A partition
whose leader is down is LEADER_NOT_AVAILABLE with leader -1 in every version.
kcat -L -J sees the three replicas too."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

NONE = 0
LEADER_NOT_AVAILABLE = 5
REPLICA_NOT_AVAILABLE = 9

RF3 = "md-rf3"     # two partitions on all three brokers
SOLO = "md-solo"   # one partition whose only replica is the broker we stop


class MetadataWithDeadReplica(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		c = cls.start_shared_cluster(brokers=3, first_id=1)
		try:
			cls.prepare(c)
		except BaseException:
			cls._any_failed = True
			cls.tearDownClass()
			raise

	@classmethod
	def prepare(cls, c):
		# Stop a broker that is not the controller, so no controller failover is involved.
		cls.dead = max(i for i in (1, 2, 3) if i != c.controller_id())
		cls.live = [i for i in (1, 2, 3) if i != cls.dead]
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		fs = a.create_topics([NewTopic(RF3, 2, 3), NewTopic(SOLO, 1, replica_assignment=[[cls.dead]])],
				request_timeout=20)
		for f in fs.values():
			f.result(30)

		def all_in_sync():
			md = kproto.metadata(h.HOST, c.broker(cls.live[0]).port, topics=[RF3, SOLO])
			parts = [p for t in md["topics"] for p in t["partitions"]]
			return len(parts) == 3 and all(p["error_code"] == NONE and sorted(p["isr"]) == sorted(p["replicas"])
					for p in parts)
		h.wait_until(all_in_sync, 60, "both topics in sync")
		problem = c.broker(cls.dead).terminate()
		if problem:
			raise AssertionError(problem)

		def settled():
			# The controller has noticed: the dead broker is gone from the broker list and
			# from every ISR it could leave (RF3's), and the solo partition has no leader.
			for i in cls.live:
				with kproto.Conn(h.HOST, c.broker(i).port) as conn:
					md = conn.metadata_any(5, [RF3, SOLO])
				if cls.dead in [b["node_id"] for b in md["brokers"]]:
					return False
				for t in md["topics"]:
					for p in t["partitions"]:
						if t["name"] == RF3 and cls.dead in p["isr"]:
							return False
						if t["name"] == SOLO and p["leader"] != -1:
							return False
			return True
		h.wait_until(settled, 60, "the controller to handle broker %d's shutdown" % cls.dead)

	def zk_replicas(self, topic, partition):
		data, _ = self.shared.zk.get(self.shared.zpath("/brokers/topics/%s" % topic))
		return json.loads(data.decode())["partitions"][str(partition)]

	def zk_isr(self, topic, partition):
		return self.shared.partition_state(topic, partition)["isr"]

	def ask(self, version, broker_id, topics=(RF3, SOLO)):
		with kproto.Conn(h.HOST, self.shared.broker(broker_id).port) as conn:
			md = conn.metadata_any(version, list(topics))
		return {t["name"]: t for t in md["topics"]}

	def test_v1_plus_lists_every_replica(self):
		for version in (1, 4, 5, 7, 9, 12):
			for b in self.live:
				with self.subTest(version=version, broker=b):
					topics = self.ask(version, b)
					t = topics[RF3]
					self.assertEqual(t["error_code"], NONE)
					self.assertFalse(t["is_internal"])
					self.assertEqual(len(t["partitions"]), 2)
					for p in t["partitions"]:
						idx = p["partition"]
						replicas = self.zk_replicas(RF3, idx)
						self.assertEqual(sorted(replicas), [1, 2, 3])
						# The leader is up, so no error, although a replica is not.
						self.assertEqual(p["error_code"], NONE, p)
						self.assertIn(p["leader"], self.live)
						self.assertEqual(p["replicas"], replicas)
						self.assertEqual(p["isr"], self.zk_isr(RF3, idx))
						self.assertNotIn(self.dead, p["isr"])
						self.assertEqual(sorted(p["isr"]), self.live)
						if version >= 5:
							self.assertEqual(p["offline_replicas"], [self.dead])
						else:
							self.assertNotIn("offline_replicas", p)
						if version >= 7:
							self.assertEqual(p["leader_epoch"],
									self.shared.partition_state(RF3, idx)["leader_epoch"])
					s = topics[SOLO]
					self.assertEqual(s["error_code"], NONE)
					self.assertEqual(len(s["partitions"]), 1)
					p = s["partitions"][0]
					self.assertEqual(p["error_code"], LEADER_NOT_AVAILABLE, p)
					self.assertEqual(p["leader"], -1)
					self.assertEqual(p["replicas"], [self.dead])
					# Kafka's controller keeps the last replica in the ISR of a partition it cannot lead.
					self.assertEqual(p["isr"], self.zk_isr(SOLO, 0))
					if version >= 5:
						self.assertEqual(p["offline_replicas"], [self.dead])

	def test_v0_filters_dead_replicas(self):
		for b in self.live:
			with self.subTest(broker=b):
				topics = self.ask(0, b)
				t = topics[RF3]
				self.assertEqual(t["error_code"], NONE)
				for p in t["partitions"]:
					replicas = self.zk_replicas(RF3, p["partition"])
					self.assertEqual(p["replicas"], [r for r in replicas if r != self.dead])
					self.assertEqual(p["isr"], [r for r in self.zk_isr(RF3, p["partition"]) if r != self.dead])
					self.assertIn(p["leader"], self.live)
					self.assertEqual(p["error_code"], REPLICA_NOT_AVAILABLE, p)
				p = topics[SOLO]["partitions"][0]
				self.assertEqual(p["error_code"], LEADER_NOT_AVAILABLE, p)
				self.assertEqual(p["leader"], -1)
				self.assertEqual(p["replicas"], [])
				self.assertEqual(p["isr"], [])

	def test_kcat_shows_three_replicas(self):
		bootstrap = ",".join(self.shared.broker(i).address for i in self.live)
		p = h.kcat("-b", bootstrap, "-L", "-J", "-t", RF3, "-m", "10", timeout=40)
		self.assertEqual(p.returncode, 0, p.stderr)
		md = json.loads(p.stdout)
		self.assertEqual(sorted(b["id"] for b in md["brokers"]), self.live)
		[t] = md["topics"]
		self.assertEqual(t["topic"], RF3)
		self.assertEqual(len(t["partitions"]), 2)
		for part in t["partitions"]:
			self.assertEqual([r["id"] for r in part["replicas"]], self.zk_replicas(RF3, part["partition"]))
			self.assertEqual(sorted(r["id"] for r in part["isrs"]), self.live)
			self.assertIn(part["leader"], self.live)


if __name__ == "__main__":
	h.main()
