"""Dynamic broker configs as Kafka's ZooKeeper mode keeps them.

IncrementalAlterConfigs and AlterConfigs on a BROKER resource write
/config/brokers/<id> (name "1") or /config/brokers/<default> (name "") in
Kafka's JSON with a /config/changes notice; every broker watches and applies
them without a restart, with Kafka's precedence (per-broker over the dynamic
default over server.properties over the built-in default), which
DescribeConfigs shows as DYNAMIC_BROKER_CONFIG / DYNAMIC_DEFAULT_BROKER_CONFIG
with synonyms.  A new cluster default message.max.bytes lets a bigger message
into a live log.  Keys Kafka does not update dynamically and bad values are
refused naming the key; a malformed znode written by hand is logged once and
ignored, the broker keeps its last good config.  BROKER_LOGGER (type 8)
describes and sets the root logger's level.  `samsa configs --entity-type
brokers --entity-default|--entity-name N --alter` does the same."""

import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i8, i32, string  # noqa: E402

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

INVALID_CONFIG, INVALID_REQUEST = 40, 42
SET, DELETE, APPEND = 0, 1, 2
BROKER, BROKER_LOGGER = 4, 8


def nstring(v):
	return struct.pack(">h", -1) if v is None else string(v)


class DynamicBrokerConfigs(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.c = cls.start_shared_cluster(brokers=2, first_id=1, props={"log.retention.hours": "100"})
		cls.admin = AdminClient({"bootstrap.servers": cls.c.broker(1).address})

	def incremental(self, broker, resources):
		body = i32(len(resources))
		for rtype, name, configs in resources:
			body += i8(rtype) + string(name) + i32(len(configs))
			for key, op, value in configs:
				body += string(key) + i8(op) + nstring(value)
		body += i8(0)
		with kproto.Conn(h.HOST, self.c.broker(broker).port) as conn:
			r = conn.request(44, 0, body)
			r.i32()
			out = []
			for _ in range(r.i32()):
				err, msg, _t, _name = r.i16(), r.string(), r.i8(), r.string()
				out.append((err, msg))
			return out

	def describe(self, broker, rtype, name):
		"""DescribeConfigs v1 with synonyms: {key: (value, source, read_only, [(name, value, source)])}, or the error."""
		body = i32(1) + i8(rtype) + string(name) + i32(-1) + i8(1)
		with kproto.Conn(h.HOST, self.c.broker(broker).port) as conn:
			r = conn.request(32, 1, body)
			r.i32()
			self.assertEqual(r.i32(), 1)
			err, msg, _t, _n = r.i16(), r.string(), r.i8(), r.string()
			out = {}
			for _ in range(r.i32()):
				k, v, ro, src, _sens = r.string(), r.string(), r.boolean(), r.i8(), r.boolean()
				syn = r.array(lambda: (r.string(), r.string(), r.i8()))
				out[k] = (v, src, ro, syn)
			return (err, msg) if err else out

	def znode(self, path):
		return json.loads(self.c.zk.get(self.c.zpath(path))[0].decode())

	def notices(self):
		return [json.loads(self.c.zk.get(self.c.zpath("/config/changes/" + n))[0].decode())
			for n in self.c.zk.get_children(self.c.zpath("/config/changes"))]

	def applied(self, broker, entity):
		return self.c.broker(broker).log_text().count("Dynamic broker config /config/%s applied" % entity)

	def wait_applied(self, broker, entity, before):
		h.wait_until(lambda: self.applied(broker, entity) > before, 30, "broker %d applies %s" % (broker, entity))

	def test_precedence_and_describe(self):
		b1d, b2d, b1 = self.applied(1, "brokers/<default>"), self.applied(2, "brokers/<default>"), self.applied(1, "brokers/1")
		self.assertEqual(self.incremental(1, [(BROKER, "", [("log.retention.ms", SET, "3600000")]),
				(BROKER, "1", [("log.retention.ms", SET, "7200000")])]), [(0, None), (0, None)])
		self.assertEqual(self.znode("/config/brokers/<default>"), {"version": 1, "config": {"log.retention.ms": "3600000"}})
		self.assertEqual(self.znode("/config/brokers/1"), {"version": 1, "config": {"log.retention.ms": "7200000"}})
		notes = self.notices()
		self.assertIn({"version": 2, "entity_path": "brokers/<default>"}, notes)
		self.assertIn({"version": 2, "entity_path": "brokers/1"}, notes)
		self.wait_applied(1, "brokers/<default>", b1d)
		self.wait_applied(2, "brokers/<default>", b2d)
		self.wait_applied(1, "brokers/1", b1)
		one = self.describe(1, BROKER, "1")
		v, src, ro, syn = one["log.retention.ms"]
		self.assertEqual((v, src, ro), ("7200000", 2, False))
		self.assertEqual(syn[:2], [("log.retention.ms", "7200000", 2), ("log.retention.ms", "3600000", 3)])
		self.assertTrue(one["broker.id"][2])  # read-only
		self.assertEqual(one["log.retention.hours"][:2], ("100", 4))
		two = self.describe(2, BROKER, "2")
		self.assertEqual(two["log.retention.ms"][:3], ("3600000", 3, False))
		dflt = self.describe(2, BROKER, "")
		self.assertEqual(set(dflt), {"log.retention.ms"})
		self.assertEqual(dflt["log.retention.ms"][:2], ("3600000", 3))
		# Topic keys see the dynamic broker value as their synonym.
		# Replica placement starts at a random broker: either may lead it.
		h.create_topic(self.c.broker(2).address, "dynret", 1, None)
		v, src, _ro, syn = self.describe(1, 2, "dynret")["retention.ms"]
		self.assertEqual((v, src), ("7200000", 2))
		self.assertEqual(syn[:3], [("log.retention.ms", "7200000", 2), ("log.retention.ms", "3600000", 3),
				("log.retention.hours", "100", 4)])
		self.assertEqual(self.describe(2, 2, "dynret")["retention.ms"][:2], ("3600000", 3))
		# DELETE falls back to the next level.
		b1 = self.applied(1, "brokers/1")
		self.assertEqual(self.incremental(1, [(BROKER, "1", [("log.retention.ms", DELETE, None)])]), [(0, None)])
		self.wait_applied(1, "brokers/1", b1)
		self.assertEqual(self.describe(1, BROKER, "1")["log.retention.ms"][:2], ("3600000", 3))
		self.assertEqual(self.incremental(1, [(BROKER, "", [("log.retention.ms", DELETE, None)])]), [(0, None)])

	def test_live_message_max_bytes(self):
		for _, f in self.admin.create_topics([NewTopic("dynbig", 1, replica_assignment=[[2]])],
				request_timeout=20).items():
			f.result(30)
		h.wait_leaders(self.c.bootstrap, "dynbig", 1, 2)
		big = b"x" * 1500000

		def produce():
			p = Producer({"bootstrap.servers": self.c.broker(2).address, "message.max.bytes": 5000000,
					"message.timeout.ms": 10000})
			out = []
			p.produce("dynbig", big, partition=0, on_delivery=lambda err, msg: out.append(err))
			p.flush(20)
			return out[0]
		self.assertIn("MSG_SIZE_TOO_LARGE", str(produce()))
		before = self.applied(2, "brokers/<default>")
		r = h.samsa_cli("configs", "--bootstrap-server", self.c.broker(1).address, "--entity-type", "brokers",
				"--entity-default", "--alter", "--add-config", "message.max.bytes=3000000")
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.wait_applied(2, "brokers/<default>", before)
		self.assertIsNone(produce())
		r = h.samsa_cli("configs", "--bootstrap-server", self.c.broker(1).address, "--entity-type", "brokers",
				"--entity-default", "--describe")
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertIn("message.max.bytes=3000000", r.stdout)
		r = h.samsa_cli("configs", "--bootstrap-server", self.c.broker(1).address, "--entity-type", "brokers",
				"--entity-default", "--alter", "--delete-config", "message.max.bytes")
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.wait_applied(2, "brokers/<default>", before + 1)
		self.assertIn("MSG_SIZE_TOO_LARGE", str(produce()))

	def test_refusals(self):
		res = self.incremental(1, [(BROKER, "1", [("broker.id", SET, "7")]),
				(BROKER, "1", [("log.retention.ms", SET, "soon")]),
				(BROKER, "", [("zookeeper.connect", SET, "elsewhere:2181")]),
				(BROKER, "x", [("log.retention.ms", SET, "1")]),
				(BROKER, "1", [("leader.replication.throttled.rate", SET, "-5")])])
		self.assertEqual([e for e, _ in res], [INVALID_CONFIG, INVALID_CONFIG, INVALID_CONFIG, INVALID_REQUEST,
				INVALID_CONFIG], res)
		self.assertIn("Cannot update these configs dynamically: Set(broker.id)", res[0][1])
		self.assertIn("log.retention.ms", res[1][1])
		self.assertIn("zookeeper.connect", res[2][1])
		self.assertIn("leader.replication.throttled.rate", res[4][1])
		self.assertIsNone(self.c.zk.exists(self.c.zpath("/config/brokers/x")))
		r = h.samsa_cli("configs", "--bootstrap-server", self.c.broker(1).address, "--entity-type", "brokers",
				"--entity-name", "1", "--alter", "--add-config", "num.partitions=3")
		self.assertNotEqual(r.returncode, 0)
		self.assertIn("num.partitions", r.stdout + r.stderr)

	def test_replication_throttle_rates_stored(self):
		before = self.applied(2, "brokers/2")
		self.assertEqual(self.incremental(2, [(BROKER, "2", [("leader.replication.throttled.rate", SET, "1000000"),
				("follower.replication.throttled.rate", SET, "2000000")])]), [(0, None)])
		self.assertEqual(self.znode("/config/brokers/2")["config"], {"leader.replication.throttled.rate": "1000000",
				"follower.replication.throttled.rate": "2000000"})
		self.wait_applied(2, "brokers/2", before)
		d = self.describe(2, BROKER, "2")
		self.assertEqual(d["leader.replication.throttled.rate"][:2], ("1000000", 2))

	def reassign_seconds(self, topic, throttle=None):
		"""Fill topic (on broker 1 alone) with 12 MB, add broker 2 as a replica; seconds until 2 is in the ISR.
		throttle: first mark the leader's replica throttled, as kafka-reassign-partitions.sh --throttle does."""
		import time
		for _, f in self.admin.create_topics([NewTopic(topic, 1, replica_assignment=[[1]])],
				request_timeout=20).items():
			f.result(30)
		h.wait_leaders(self.c.bootstrap, topic, 1, 1)
		p = Producer({"bootstrap.servers": self.c.broker(1).address, "linger.ms": 20, "acks": 1})
		for _ in range(1200):
			p.produce(topic, b"r" * 10000, partition=0)
			p.poll(0)
		self.assertEqual(p.flush(60), 0)
		if throttle:
			key, value, broker = throttle
			self.assertEqual(self.incremental(1, [(2, topic, [(key, SET, value)])]), [(0, None)])
			h.wait_until(lambda: ("Config change for topic %s applied" % topic) in self.c.broker(broker).log_text(),
					30, "broker %d to apply the topic's throttle" % broker)
		t0 = time.monotonic()
		self.c.zk.create(self.c.zpath("/admin/reassign_partitions"), json.dumps({"version": 1, "partitions": [
			{"topic": topic, "partition": 0, "replicas": [1, 2]}]}).encode())
		h.wait_until(lambda: 2 in self.c.partition_state(topic, 0)["isr"], 180, "broker 2 to join the ISR of " + topic)
		took = time.monotonic() - t0
		h.wait_until(lambda: self.c.zk.exists(self.c.zpath("/admin/reassign_partitions")) is None, 60,
				"the reassignment to finish")
		return took

	def test_replication_throttle_slows_reassignment(self):
		free = self.reassign_seconds("rfree")
		# Kafka's reassignment throttle: the leader's rate on broker 1, its replica of partition 0 throttled.
		before = self.applied(1, "brokers/1")
		self.assertEqual(self.incremental(1, [(BROKER, "1", [("leader.replication.throttled.rate", SET, "500000")])]),
				[(0, None)])
		self.wait_applied(1, "brokers/1", before)
		throttled = self.reassign_seconds("rthr", ("leader.replication.throttled.replicas", "0:1", 1))
		h.log("reassignment of 12 MB: %.1f s free, %.1f s throttled at 500 kB/s" % (free, throttled))
		self.assertGreater(throttled, 8.0)
		self.assertGreater(throttled, 3 * free)
		self.assertEqual(self.incremental(1, [(BROKER, "1", [("leader.replication.throttled.rate", DELETE, None)])]),
				[(0, None)])

	def test_follower_replication_throttle_slows_reassignment(self):
		free = self.reassign_seconds("ffree")
		before = self.applied(2, "brokers/2")
		self.assertEqual(self.incremental(2, [(BROKER, "2", [("follower.replication.throttled.rate", SET, "500000")])]),
				[(0, None)])
		self.wait_applied(2, "brokers/2", before)
		throttled = self.reassign_seconds("fthr", ("follower.replication.throttled.replicas", "0:2", 2))
		h.log("reassignment of 12 MB: %.1f s free, %.1f s with the follower throttled at 500 kB/s" % (free, throttled))
		self.assertGreater(throttled, 8.0)
		self.assertGreater(throttled, 3 * free)
		self.assertEqual(self.incremental(2, [(BROKER, "2", [("follower.replication.throttled.rate", DELETE, None)])]),
				[(0, None)])

	def test_malformed_znode_keeps_last_good(self):
		before = self.applied(1, "brokers/1")
		self.assertEqual(self.incremental(1, [(BROKER, "1", [("log.segment.bytes", SET, "2000000")])]), [(0, None)])
		self.wait_applied(1, "brokers/1", before)
		self.c.zk.set(self.c.zpath("/config/brokers/1"), b"{\"version\":1,\"config\":")
		self.c.zk.create(self.c.zpath("/config/changes/config_change_"),
				json.dumps({"version": 2, "entity_path": "brokers/1"}).encode(), sequence=True)
		needle = "Dynamic broker config /config/brokers/1 is not Kafka's config JSON"
		h.wait_until(lambda: needle in self.c.broker(1).log_text(), 30, "the malformed znode is logged")
		self.assertTrue(self.c.broker(1).alive())
		self.assertEqual(self.c.broker(1).log_text().count(needle), 1)
		self.assertEqual(self.describe(1, BROKER, "1")["log.segment.bytes"][:2], ("2000000", 2))
		# An alteration rewrites it whole in Kafka's JSON again.
		self.assertEqual(self.incremental(1, [(BROKER, "1", [("log.segment.bytes", DELETE, None)])]), [(0, None)])
		self.assertEqual(self.znode("/config/brokers/1"), {"version": 1, "config": {}})

	def test_broker_logger(self):
		d = self.describe(1, BROKER_LOGGER, "1")
		self.assertEqual(d["root"][:3], ("INFO", 6, False))
		self.assertEqual(self.incremental(1, [(BROKER_LOGGER, "1", [("root", SET, "DEBUG")])]), [(0, None)])
		self.assertEqual(self.describe(1, BROKER_LOGGER, "1")["root"][0], "DEBUG")
		res = self.incremental(1, [(BROKER_LOGGER, "1", [("root", SET, "LOUD")]),
				(BROKER_LOGGER, "1", [("root", DELETE, None)]),
				(BROKER_LOGGER, "2", [("root", SET, "INFO")])])
		self.assertEqual([e for e, _ in res], [INVALID_CONFIG, INVALID_REQUEST, INVALID_REQUEST], res)
		self.assertIn("LOUD", res[0][1])
		self.assertEqual(self.incremental(1, [(BROKER_LOGGER, "1", [("root", SET, "INFO")])]), [(0, None)])
		self.assertEqual(self.describe(2, BROKER_LOGGER, "1"), (INVALID_REQUEST, self.describe(2, BROKER_LOGGER, "1")[1]))


if __name__ == "__main__":
	import unittest
	unittest.main()
