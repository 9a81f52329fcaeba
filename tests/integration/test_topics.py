"""Topic lifecycle through ZooKeeper and the controller: CreateTopics from
confluent-kafka and kafka-python writes Kafka's znodes with Kafka's replica placement, the controller writes partition states and every broker's Metadata
shows the topic; bad requests get Kafka's error codes; DeleteTopics removes the
znodes and the name can be created again. Data in the topics is the business of
test_produce_consume and the others; here only the metadata is checked."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from confluent_kafka import KafkaException  # noqa: E402


class Topics(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.c = cls.start_shared_cluster(brokers=3, first_id=1)

	def admin(self):
		# Kept for the test's lifetime: a destroyed client fails its pending futures.
		if not hasattr(self, "_admin"):
			self._admin = AdminClient({"bootstrap.servers": self.c.bootstrap})
		return self._admin

	def create(self, topics, **kw):
		out = {}
		for name, f in self.admin().create_topics(topics, request_timeout=20, **kw).items():
			try:
				f.result()
				out[name] = None
			except KafkaException as e:
				out[name] = e.args[0].code()
		return out

	def znode(self, path):
		data, stat = self.c.zk.get(self.c.zpath(path))
		return json.loads(data.decode()), stat

	def test_create_writes_kafka_znodes_and_metadata(self):
		self.assertEqual(self.create([NewTopic("orders", 6, 3)]), {"orders": None})
		asg, _ = self.znode("/brokers/topics/orders")
		self.assertEqual(asg["version"], 3)
		self.assertEqual(asg["adding_replicas"], {})
		self.assertEqual(asg["removing_replicas"], {})
		self.assertEqual(len(asg["topic_id"]), 22)
		parts = {int(p): r for p, r in asg["partitions"].items()}
		self.assertEqual(sorted(parts), list(range(6)))
		for p, replicas in parts.items():
			self.assertEqual(sorted(replicas), [1, 2, 3])
		# Kafka's placement: first replicas go round-robin over the brokers.
		firsts = [parts[p][0] for p in range(6)]
		self.assertEqual(sorted(firsts[:3]), [1, 2, 3])
		self.assertEqual(firsts[3:], firsts[:3])
		cfg, _ = self.znode("/config/topics/orders")
		self.assertEqual(cfg, {"version": 1, "config": {}})
		for p in range(6):
			st, stat = self.znode("/brokers/topics/orders/partitions/%d/state" % p)
			self.assertEqual(st["version"], 1)
			self.assertEqual(st["leader"], parts[p][0])
			self.assertEqual(st["leader_epoch"], 0)
			self.assertEqual(st["isr"], parts[p])
			self.assertEqual(st["controller_epoch"], self.c.controller_epoch())
		# Every broker learned it through UpdateMetadata.
		for b in self.c.brokers.values():
			md = self.admin().list_topics(topic="orders", timeout=10)
			t = md.topics["orders"]
			self.assertIsNone(t.error)
			self.assertEqual(len(t.partitions), 6)
			for p, pm in t.partitions.items():
				self.assertEqual(pm.leader, parts[p][0])
				self.assertEqual(pm.replicas, parts[p])
			raw = kproto.metadata(h.HOST, b.port, topics=["orders"])
			self.assertEqual(raw["topics"][0]["error_code"], 0)
			self.assertEqual(len(raw["topics"][0]["partitions"]), 6)

	def test_create_errors(self):
		got = self.create([NewTopic("bad name", 1, 1), NewTopic("rf-too-big", 1, 4),
				NewTopic("zero-parts", 0, 1), NewTopic("bad-config", 1, 1, config={"no.such.key": "1"}),
				NewTopic("bad-value", 1, 1, config={"retention.ms": "soon"})])
		self.assertEqual(got["bad name"], 17)       # INVALID_TOPIC_EXCEPTION
		self.assertEqual(got["rf-too-big"], 38)     # INVALID_REPLICATION_FACTOR
		self.assertEqual(got["zero-parts"], 37)     # INVALID_PARTITIONS
		self.assertEqual(got["bad-config"], 40)     # INVALID_CONFIG
		self.assertEqual(got["bad-value"], 40)
		for name in got:
			self.assertIsNone(self.c.zk.exists(self.c.zpath("/brokers/topics/" + name)))
		self.assertEqual(self.create([NewTopic("twice", 1, 1)]), {"twice": None})
		self.assertEqual(self.create([NewTopic("twice", 1, 1)]), {"twice": 36})  # TOPIC_ALREADY_EXISTS
		self.assertEqual(self.create([NewTopic("twice_", 1, 1)]), {"twice_": None})
		self.assertEqual(self.create([NewTopic("a.b", 1, 1)]), {"a.b": None})
		self.assertEqual(self.create([NewTopic("a_b", 1, 1)]), {"a_b": 17})  # collides with a.b

	def test_validate_only_writes_nothing(self):
		self.assertEqual(self.create([NewTopic("dry-run", 3, 2)], validate_only=True), {"dry-run": None})
		self.assertIsNone(self.c.zk.exists(self.c.zpath("/brokers/topics/dry-run")))

	def test_configs_are_stored(self):
		self.assertEqual(self.create([NewTopic("with-config", 1, 1, config={"retention.ms": "1000",
				"cleanup.policy": "compact"})]), {"with-config": None})
		cfg, _ = self.znode("/config/topics/with-config")
		self.assertEqual(cfg, {"version": 1, "config": {"retention.ms": "1000", "cleanup.policy": "compact"}})

	def test_create_partitions(self):
		from confluent_kafka.admin import NewPartitions
		self.assertEqual(self.create([NewTopic("growing", 2, 2)]), {"growing": None})
		before, _ = self.znode("/brokers/topics/growing")
		fs = self.admin().create_partitions([NewPartitions("growing", 5)], request_timeout=20)
		fs["growing"].result()
		after, _ = self.znode("/brokers/topics/growing")
		self.assertEqual(after["topic_id"], before["topic_id"])
		self.assertEqual(sorted(after["partitions"]), ["0", "1", "2", "3", "4"])
		for p in ("0", "1"):
			self.assertEqual(after["partitions"][p], before["partitions"][p])
		for p in ("2", "3", "4"):
			self.assertEqual(len(set(after["partitions"][p])), 2)
			st, _ = self.znode("/brokers/topics/growing/partitions/%s/state" % p)
			self.assertEqual(st["leader"], after["partitions"][p][0])
		# The answer comes once the znodes are written; the brokers' metadata follows
		# with the controller's UpdateMetadata (as in Kafka), so wait for it.
		a = self.admin()
		h.wait_until(lambda: len(a.list_topics(topic="growing", timeout=10).topics["growing"].partitions) == 5, 20,
			"metadata with 5 partitions of growing")
		md = a.list_topics(topic="growing", timeout=10)
		self.assertEqual(len(md.topics["growing"].partitions), 5)
		# Not an increase: INVALID_PARTITIONS.
		fs = self.admin().create_partitions([NewPartitions("growing", 3)], request_timeout=20)
		with self.assertRaises(KafkaException) as e:
			fs["growing"].result()
		self.assertEqual(e.exception.args[0].code(), 37)
		fs = self.admin().create_partitions([NewPartitions("no-such-topic", 3)], request_timeout=20)
		with self.assertRaises(KafkaException) as e:
			fs["no-such-topic"].result()
		self.assertEqual(e.exception.args[0].code(), 3)

	def test_kafka_python_create_and_delete_then_recreate(self):
		from kafka.admin import KafkaAdminClient, NewTopic as KNewTopic
		k = KafkaAdminClient(bootstrap_servers=self.c.bootstrap)
		try:
			r = k.create_topics([KNewTopic("kp-topic", 3, 2)], timeout_ms=20000)
			self.assertEqual([e[1] for e in r.topic_errors], [0])
			self.assertIn("kp-topic", k.list_topics())
			r = k.delete_topics(["kp-topic"], timeout_ms=20000)
			self.assertEqual([e[1] for e in r.topic_error_codes], [0])
			self.assertNotIn("kp-topic", k.list_topics())
			for p in ("/brokers/topics/kp-topic", "/config/topics/kp-topic", "/admin/delete_topics/kp-topic"):
				self.assertIsNone(self.c.zk.exists(self.c.zpath(p)), p)
			# The name is free again.
			r = k.create_topics([KNewTopic("kp-topic", 1, 1)], timeout_ms=20000)
			self.assertEqual([e[1] for e in r.topic_errors], [0])
			# Every broker learns of it through UpdateMetadata; the one asked may lag briefly.
			h.wait_until(lambda: len(self.admin().list_topics(topic="kp-topic", timeout=10)
					.topics["kp-topic"].partitions) == 1, 20, "kp-topic with 1 partition in metadata")
			# Deleting an unknown topic: UNKNOWN_TOPIC_OR_PARTITION (kafka-python raises it).
			from kafka.errors import UnknownTopicOrPartitionError
			with self.assertRaises(UnknownTopicOrPartitionError):
				k.delete_topics(["never-was"], timeout_ms=5000)
		finally:
			k.close()


class AutoCreate(h.ClusterTestCase):
	def test_metadata_creates_unknown_topic(self):
		c = self.start_cluster(brokers=1, first_id=1,
				props={"auto.create.topics.enable": "true", "num.partitions": "3"})
		b = c.broker(1)
		# Asked with allow_auto_topic_creation: created, LEADER_NOT_AVAILABLE until leaders exist.
		md = kproto.metadata(h.HOST, b.port, topics=["auto-made"], allow_auto_create=True)
		self.assertIn(md["topics"][0]["error_code"], (5, 0))
		asg = json.loads(c.zk.get(c.zpath("/brokers/topics/auto-made"))[0].decode())
		self.assertEqual(asg["partitions"], {"0": [1], "1": [1], "2": [1]})

		def ready():
			t = kproto.metadata(h.HOST, b.port, topics=["auto-made"])["topics"][0]
			return t if t["error_code"] == 0 and len(t["partitions"]) == 3 else None
		t = h.wait_until(ready, 20, "auto-made to have leaders")
		self.assertEqual(sorted(p["leader"] for p in t["partitions"]), [1, 1, 1])
		# Asked without it: not created.
		md = kproto.metadata(h.HOST, b.port, topics=["not-made"], allow_auto_create=False)
		self.assertEqual(md["topics"][0]["error_code"], 3)
		self.assertIsNone(c.zk.exists(c.zpath("/brokers/topics/not-made")))


class RackAware(h.ClusterTestCase):
	def test_replicas_span_racks(self):
		# Four brokers over two racks: every partition's three replicas cover both racks,
		# and the leaders go round-robin over the rack-alternated order (1,2,3,4 here).
		racks = {1: "r-a", 2: "r-b", 3: "r-a", 4: "r-b"}
		c = self.start_cluster(brokers=4, first_id=1,
				broker_props={i: {"broker.rack": r} for i, r in racks.items()})
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in a.create_topics([NewTopic("racked", 8, 3)], request_timeout=20).items():
			f.result(30)
		asg = json.loads(c.zk.get(c.zpath("/brokers/topics/racked"))[0].decode())
		parts = {int(p): r for p, r in asg["partitions"].items()}
		for p, replicas in parts.items():
			self.assertEqual(len(set(replicas)), 3, replicas)
			self.assertEqual({racks[b] for b in replicas}, {"r-a", "r-b"}, replicas)
		leaders = [parts[p][0] for p in range(8)]
		self.assertEqual(sorted(leaders[:4]), [1, 2, 3, 4])
		# A leader's first follower is in the other rack.
		for p in range(8):
			self.assertNotEqual(racks[parts[p][0]], racks[parts[p][1]], parts[p])
		# Brokers report their rack in Metadata.
		md = kproto.metadata(h.HOST, c.broker(1).port, topics=[])
		self.assertEqual({b["node_id"]: b["rack"] for b in md["brokers"]}, racks)


if __name__ == "__main__":
	h.main()
