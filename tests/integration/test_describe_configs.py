"""DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics, and
DescribeConfigs for the broker, as Kafka's ZooKeeper mode answers them.
DescribeConfigs:
a topic's override (source DYNAMIC_TOPIC_CONFIG), the broker key standing in
for it when server.properties sets one (STATIC_BROKER_CONFIG, time families
converted: log.retention.hours=48 gives retention.ms=172800000), else the
default; synonyms in Kafka's order; the broker's own keys with passwords
hidden; an unknown topic and another broker's id refused with Kafka's errors.
Read with confluent-kafka's and kafka-python's admin clients and a raw v0
request (is_default instead of a source). A change made through one broker
(confluent-kafka's alter_configs, kafka-python's, an incremental SET/DELETE/
APPEND) lands in /config/topics in Kafka's JSON with a /config/changes notice,
and the other broker, which leads the partition, applies it to its live log:
a message above the old max.message.bytes is refused before and taken after."""

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


class AlterConfigs(h.ClusterTestCase):
	def test_change_through_one_broker_applies_on_the_other(self):
		import json
		from confluent_kafka import Producer, KafkaException
		c = self.start_cluster(brokers=2, first_id=1)
		admin = AdminClient({"bootstrap.servers": c.broker(1).address})
		for _, f in admin.create_topics([NewTopic("alter", 1, replica_assignment=[[2]])], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(c.bootstrap, "alter", 1, 2)
		big = b"x" * 1500000

		def produce(value):
			p = Producer({"bootstrap.servers": c.broker(2).address, "message.max.bytes": 5000000,
					"message.timeout.ms": 10000})
			out = []
			p.produce("alter", value, partition=0, on_delivery=lambda err, msg: out.append(err))
			p.flush(20)
			return out[0]
		err = produce(big)
		self.assertIsNotNone(err)
		self.assertIn("MSG_SIZE_TOO_LARGE", str(err))
		# Through broker 1 (confluent-kafka's AlterConfigs): broker 2 applies it.
		res = ConfigResource(ConfigResource.Type.TOPIC, "alter", set_config={"max.message.bytes": "3000000",
				"retention.ms": "3600000"})
		for _, f in admin.alter_configs([res], request_timeout=20).items():
			f.result(30)
		data, _ = c.zk.get(c.zpath("/config/topics/alter"))
		self.assertEqual(json.loads(data.decode()), {"version": 1, "config": {"max.message.bytes": "3000000",
				"retention.ms": "3600000"}})
		notes = [json.loads(c.zk.get(c.zpath("/config/changes/" + n))[0].decode())
			for n in c.zk.get_children(c.zpath("/config/changes"))]
		self.assertIn({"version": 2, "entity_path": "topics/alter"}, notes)
		h.wait_until(lambda: "Config change for topic alter applied to 1 local log(s)" in c.broker(2).log_text(), 30,
				"broker 2 to apply the change")
		self.assertIsNone(produce(big))
		# Incremental (raw v0): DELETE one key, APPEND to a list key; bad values refused.
		def nstring(v):
			return struct.pack(">h", -1) if v is None else string(v)

		def incremental(resources):
			body = i32(len(resources))
			for rtype, name, configs in resources:
				body += i8(rtype) + string(name) + i32(len(configs))
				for key, op, value in configs:
					body += string(key) + i8(op) + nstring(value)
			body += i8(0)
			with kproto.Conn(h.HOST, c.broker(1).port) as conn:
				r = conn.request(44, 0, body)
				r.i32()
				out = []
				for _ in range(r.i32()):
					err, _msg, _t, name = r.i16(), r.string(), r.i8(), r.string()
					out.append((err, name))
				return out
		self.assertEqual(incremental([(2, "alter", [("retention.ms", 1, None), ("cleanup.policy", 2, "compact")])]),
				[(0, "alter")])
		self.assertEqual(incremental([(2, "alter", [("retention.ms", 0, "not-a-number")]),
				(2, "no-such-topic", [("retention.ms", 0, "1")]), (2, "alter", [("no.such.key", 0, "1")]),
				(2, "alter", [("retention.ms", 2, "5")]), (4, "1", [("broker.id", 0, "7")])]),
				[(40, "alter"), (3, "no-such-topic"), (40, "alter"), (40, "alter"), (40, "1")])
		data, _ = c.zk.get(c.zpath("/config/topics/alter"))
		self.assertEqual(json.loads(data.decode())["config"], {"max.message.bytes": "3000000",
				"cleanup.policy": "delete,compact"})


class RetentionChange(h.ClusterTestCase):
	"""`samsa configs --alter` lowers retention.ms on a live replicated topic: both
	replicas delete their old segments without a restart, and `samsa configs
	--describe` shows the override."""

	def test_retention_change_deletes_old_segments_on_every_replica(self):
		import glob
		from confluent_kafka import Producer
		c = self.start_cluster(brokers=2, first_id=1, props={"log.retention.check.interval.ms": "1000"})
		admin = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in admin.create_topics([NewTopic("ret", 1, replica_assignment=[[1, 2]],
				config={"segment.bytes": "65536"})], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(c.bootstrap, "ret", 1, 1)
		p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 5, "batch.size": 16384})
		for i in range(2000):
			p.produce("ret", b"v" * 200, partition=0)
		self.assertEqual(p.flush(30), 0)
		h.wait_until(lambda: sorted(c.partition_state("ret", 0)["isr"]) == [1, 2], 60, "both in sync")

		def segments(bid):
			return len(glob.glob(os.path.join(c.broker(bid).data_dir, "ret-0", "*.log")))
		h.wait_until(lambda: segments(1) > 3 and segments(2) > 3, 30, "several segments on both")
		out = h.samsa_cli("configs", "--bootstrap-server", c.broker(2).address, "--alter", "--entity-type", "topics",
				"--entity-name", "ret", "--add-config", "retention.ms=1000")
		self.assertEqual(out.returncode, 0, out.stderr)
		self.assertIn("Completed updating config for topic ret.", out.stdout)
		h.wait_until(lambda: segments(1) == 1 and segments(2) == 1, 60, "old segments deleted on both replicas")
		out = h.samsa_cli("configs", "--bootstrap-server", c.broker(1).address, "--describe", "--entity-type",
				"topics", "--entity-name", "ret")
		self.assertEqual(out.returncode, 0, out.stderr)
		self.assertIn("retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000", out.stdout)
		self.assertIn("source=DYNAMIC_TOPIC_CONFIG", out.stdout)
		out = h.samsa_cli("configs", "--bootstrap-server", c.broker(1).address, "--alter", "--entity-type", "topics",
				"--entity-name", "ret", "--add-config", "retention.ms=soon")
		self.assertEqual(out.returncode, 1)
		self.assertIn("INVALID_CONFIG", out.stderr)


if __name__ == "__main__":
	h.main()
