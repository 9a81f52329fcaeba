"""DescribeConfigs for topics and the broker, as Kafka's ZooKeeper mode answers:
a topic's override (source DYNAMIC_TOPIC_CONFIG), the broker key standing in
for it when server.properties sets one (STATIC_BROKER_CONFIG, time families
converted: log.retention.hours=48 gives retention.ms=172800000), else the
default; synonyms in Kafka's order; the broker's own keys with passwords
hidden; an unknown topic and another broker's id refused with Kafka's errors.
Read with confluent-kafka's and kafka-python's admin clients and a raw v0
request (is_default instead of a source)."""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i8, i32, string  # noqa: E402

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST = 3, 42


class DescribeConfigs(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		c = cls.start_shared_cluster(brokers=1, first_id=1, props={
			"log.retention.hours": "48", "log.segment.bytes": "104857600",
			"ssl.keystore.password": "do-not-show"})
		cls.b = c.broker(1)
		cls.admin = AdminClient({"bootstrap.servers": cls.b.address})
		for _, f in cls.admin.create_topics([NewTopic("cfg", 1, 1, config={"cleanup.policy": "compact",
				"max.message.bytes": "2000000"})], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(cls.b.address, "cfg", 1, 1)

	def topic_configs(self):
		fs = self.admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "cfg")], request_timeout=20)
		return list(fs.values())[0].result(30)

	def test_topic_sources_and_values(self):
		cfg = self.topic_configs()
		self.assertEqual(cfg["cleanup.policy"].value, "compact")
		self.assertEqual(cfg["cleanup.policy"].source, 1)  # DYNAMIC_TOPIC_CONFIG
		self.assertEqual(cfg["max.message.bytes"].value, "2000000")
		self.assertEqual(cfg["retention.ms"].value, "172800000")
		self.assertEqual(cfg["retention.ms"].source, 4)  # STATIC_BROKER_CONFIG
		self.assertEqual(cfg["segment.bytes"].value, "104857600")
		self.assertEqual(cfg["segment.bytes"].source, 4)
		self.assertEqual(cfg["min.insync.replicas"].value, "1")
		self.assertEqual(cfg["min.insync.replicas"].source, 5)  # DEFAULT_CONFIG
		self.assertFalse(cfg["retention.ms"].is_read_only)
		syn = [(s.name, s.value, s.source) for s in cfg["retention.ms"].synonyms.values()]
		self.assertIn(("log.retention.hours", "48", 4), syn)

	def test_broker_configs(self):
		fs = self.admin.describe_configs([ConfigResource(ConfigResource.Type.BROKER, "1")], request_timeout=20)
		cfg = list(fs.values())[0].result(30)
		self.assertEqual(cfg["broker.id"].value, "1")
		self.assertEqual(cfg["log.retention.hours"].value, "48")
		self.assertEqual(cfg["log.retention.hours"].source, 4)
		self.assertEqual(cfg["num.network.threads"].source, 5)
		self.assertTrue(cfg["ssl.keystore.password"].is_sensitive)
		self.assertIsNone(cfg["ssl.keystore.password"].value)
		self.assertNotIn("do-not-show", str([(k, v.value) for k, v in cfg.items()]))

	def test_kafka_python(self):
		from kafka.admin import KafkaAdminClient, ConfigResource as KCR, ConfigResourceType
		a = KafkaAdminClient(bootstrap_servers=self.b.address)
		try:
			r = a.describe_configs([KCR(ConfigResourceType.TOPIC, "cfg", configs={"cleanup.policy": None, "retention.ms": None})])
		finally:
			a.close()
		resources = r[0].resources
		self.assertEqual(len(resources), 1)
		err, _, rtype, name, entries = resources[0][:5]
		self.assertEqual((err, rtype, name), (0, 2, "cfg"))
		got = {e[0]: e[1] for e in entries}
		self.assertEqual(got, {"cleanup.policy": "compact", "retention.ms": "172800000"})

	def test_errors_and_v0(self):
		with kproto.Conn(h.HOST, self.b.port) as conn:
			body = i32(3)
			for rtype, name in ((2, "no-such-topic"), (4, "7"), (2, "cfg")):
				body += i8(rtype) + string(name) + i32(1) + string("cleanup.policy")
			r = conn.request(32, 0, body)
			r.i32()
			out = []
			for _ in range(r.i32()):
				err, msg, rtype, name = r.i16(), r.string(), r.i8(), r.string()
				entries = []
				for _ in range(r.i32()):
					entries.append((r.string(), r.string(), r.i8(), r.i8(), r.i8()))  # name, value, ro, default, sensitive
				out.append((err, rtype, name, entries))
		self.assertEqual(out[0][:3], (UNKNOWN_TOPIC_OR_PARTITION, 2, "no-such-topic"))
		self.assertEqual(out[1][:3], (INVALID_REQUEST, 4, "7"))
		self.assertEqual(out[2], (0, 2, "cfg", [("cleanup.policy", "compact", 0, 0, 0)]))


if __name__ == "__main__":
	h.main()
