"""One broker, driven by real clients: kcat, kafka-python, confluent-kafka, and the
ZooKeeper layout it registers (Kafka 3.9 ZK-mode formats)."""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

BROKER_ID = 1

# ZkData.PersistentZkPaths: every broker makes sure these exist at startup.
PERSISTENT_PATHS = [
	"/consumers", "/brokers/ids", "/brokers/topics", "/config/changes",
	"/admin/delete_topics", "/brokers/seqid", "/isr_change_notification",
	"/latest_producer_id_block", "/log_dir_event_notification", "/config/topics",
	"/config/clients", "/config/users", "/config/brokers", "/config/ips",
]

BASE64URL_UUID = re.compile(r"^[A-Za-z0-9_-]{22}$")


class SingleBroker(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=BROKER_ID)

	@property
	def c(self):
		return self.shared

	@property
	def b(self):
		return self.shared.broker(BROKER_ID)

	def zk_json(self, path):
		data, stat = self.c.zk.get(self.c.zpath(path))
		return json.loads(data.decode()), stat

	def cluster_id(self):
		return self.zk_json("/cluster/id")[0]["id"]

	# -- kcat ------------------------------------------------------------------

	def test_kcat_lists_broker(self):
		p = h.kcat("-b", self.b.address, "-L", "-m", "10", timeout=40)
		self.assertEqual(p.returncode, 0, "kcat -L failed: %s" % p.stderr)
		out = p.stdout
		self.assertRegex(out, r"(?m)^ 1 brokers:$", out)
		self.assertRegex(out, r"(?m)^  broker %d at 127\.0\.0\.1:%d \(controller\)$"
				% (BROKER_ID, self.b.port), out)
		self.assertRegex(out, r"(?m)^ 0 topics:$", out)

	def test_kcat_json_metadata(self):
		md = h.kcat_metadata_json(self.b.address)
		self.assertEqual(md["controllerid"], BROKER_ID)
		self.assertEqual(md["originating_broker"]["id"], BROKER_ID)
		self.assertEqual([(x["id"], x["name"]) for x in md["brokers"]],
				[(BROKER_ID, self.b.address)])
		self.assertEqual(md["topics"], [])

	# -- kafka-python ------------------------------------------------------------

	def test_kafka_python_describe_cluster(self):
		from kafka import KafkaAdminClient
		admin = KafkaAdminClient(bootstrap_servers=self.b.address, client_id="itest",
				request_timeout_ms=10000, api_version_auto_timeout_ms=10000)
		try:
			cl = admin.describe_cluster()
		finally:
			admin.close()
		self.assertEqual(cl["controller_id"], BROKER_ID)
		self.assertEqual(cl["cluster_id"], self.cluster_id())
		brokers = [(x["node_id"], x["host"], x["port"]) for x in cl["brokers"]]
		self.assertEqual(brokers, [(BROKER_ID, "127.0.0.1", self.b.port)])
		self.assertIsNone(cl["brokers"][0]["rack"])

	# -- confluent-kafka ---------------------------------------------------------

	def test_confluent_list_topics(self):
		from confluent_kafka.admin import AdminClient
		admin = AdminClient({"bootstrap.servers": self.b.address, "socket.timeout.ms": 10000})
		md = admin.list_topics(timeout=10)
		self.assertEqual(md.controller_id, BROKER_ID)
		self.assertEqual(md.cluster_id, self.cluster_id())
		self.assertEqual(sorted(md.brokers), [BROKER_ID])
		bm = md.brokers[BROKER_ID]
		self.assertEqual((bm.host, bm.port), ("127.0.0.1", self.b.port))
		self.assertEqual(md.orig_broker_id, BROKER_ID)
		self.assertEqual(md.topics, {})

	# -- unknown topic -------------------------------------------------------------

	def test_unknown_topic_confluent(self):
		from confluent_kafka import KafkaError
		from confluent_kafka.admin import AdminClient
		admin = AdminClient({"bootstrap.servers": self.b.address})
		md = admin.list_topics(topic="nope", timeout=10)
		self.assertIn("nope", md.topics)
		t = md.topics["nope"]
		self.assertIsNotNone(t.error, "expected an error for an unknown topic")
		self.assertEqual(t.error.code(), KafkaError.UNKNOWN_TOPIC_OR_PART)
		self.assertEqual(t.partitions, {})

	def test_unknown_topic_kafka_python(self):
		from kafka import KafkaAdminClient
		admin = KafkaAdminClient(bootstrap_servers=self.b.address, client_id="itest",
				request_timeout_ms=10000, api_version_auto_timeout_ms=10000)
		try:
			topics = admin.describe_topics(["nope"])
		finally:
			admin.close()
		self.assertEqual(len(topics), 1, topics)
		self.assertEqual(topics[0]["topic"], "nope")
		self.assertEqual(topics[0]["error_code"], kproto.ERR_UNKNOWN_TOPIC_OR_PARTITION)
		self.assertEqual(topics[0]["partitions"], [])

	def test_unknown_topic_raw_not_created(self):
		md = kproto.metadata(h.HOST, self.b.port, topics=["nope", "nope2"])
		got = {t["name"]: (t["error_code"], t["partitions"]) for t in md["topics"]}
		self.assertEqual(got, {
			"nope": (kproto.ERR_UNKNOWN_TOPIC_OR_PARTITION, []),
			"nope2": (kproto.ERR_UNKNOWN_TOPIC_OR_PARTITION, []),
		})
		# auto.create.topics.enable=false: asking must not create it.
		time.sleep(0.5)
		self.assertIsNone(self.c.zk.exists(self.c.zpath("/brokers/topics/nope")))
		self.assertIsNone(self.c.zk.exists(self.c.zpath("/config/topics/nope")))

	# -- ZooKeeper layout --------------------------------------------------------

	def test_broker_znode_is_v5_json(self):
		reg, stat = self.zk_json("/brokers/ids/%d" % BROKER_ID)
		self.assertNotEqual(stat.ephemeralOwner, 0, "/brokers/ids/N must be ephemeral")
		self.assertEqual(reg["version"], 5)
		self.assertEqual(reg["host"], "127.0.0.1")
		self.assertEqual(reg["port"], self.b.port)
		self.assertEqual(reg["jmx_port"], -1)
		self.assertEqual(reg["endpoints"], ["PLAINTEXT://127.0.0.1:%d" % self.b.port])
		self.assertEqual(reg["listener_security_protocol_map"], {"PLAINTEXT": "PLAINTEXT"})
		self.assertEqual(reg["features"], {})
		self.assertNotIn("rack", reg)  # broker.rack unset: key omitted
		self.assertIsInstance(reg["timestamp"], str, "timestamp is a JSON string")
		ts = int(reg["timestamp"])
		self.assertLess(abs(ts / 1000.0 - time.time()), 600, "timestamp is not wall-clock ms")
		self.assertEqual(set(reg), {"version", "host", "port", "jmx_port", "endpoints",
				"listener_security_protocol_map", "features", "timestamp"})

	def test_cluster_id_znode(self):
		cid, stat = self.zk_json("/cluster/id")
		self.assertEqual(stat.ephemeralOwner, 0, "/cluster/id must be persistent")
		self.assertEqual(cid["version"], "1")  # a string, unlike other znodes
		self.assertRegex(cid["id"], BASE64URL_UUID)

	def test_controller_znodes(self):
		ctl, stat = self.zk_json("/controller")
		self.assertNotEqual(stat.ephemeralOwner, 0, "/controller must be ephemeral")
		self.assertEqual(ctl["version"], 2)
		self.assertEqual(ctl["brokerid"], BROKER_ID)
		self.assertEqual(ctl["kraftControllerEpoch"], -1)
		self.assertIsInstance(ctl["timestamp"], str)
		int(ctl["timestamp"])
		# The controller and the broker registration share the broker's session.
		_, reg_stat = self.c.zk.get(self.c.zpath("/brokers/ids/%d" % BROKER_ID))
		self.assertEqual(stat.ephemeralOwner, reg_stat.ephemeralOwner)
		epoch, estat = self.c.zk.get(self.c.zpath("/controller_epoch"))
		self.assertEqual(estat.ephemeralOwner, 0)
		self.assertRegex(epoch.decode(), r"^[0-9]+$")
		self.assertGreaterEqual(int(epoch), 1)

	def test_persistent_paths_created(self):
		missing = [p for p in PERSISTENT_PATHS if self.c.zk.exists(self.c.zpath(p)) is None]
		self.assertEqual(missing, [])

	def test_raw_metadata_matches_zookeeper(self):
		md = kproto.metadata(h.HOST, self.b.port)
		self.assertEqual(md["controller_id"], BROKER_ID)
		self.assertEqual(md["cluster_id"], self.cluster_id())
		self.assertEqual([(x["node_id"], x["host"], x["port"], x["rack"]) for x in md["brokers"]],
				[(BROKER_ID, "127.0.0.1", self.b.port, None)])
		self.assertEqual(md["topics"], [])


if __name__ == "__main__":
	h.main()
