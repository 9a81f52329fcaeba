"""KafkaJS 2.2.4 (npm ci of tests/js's lock file, at test time, outside the
tree: tests/compat/nodejs.py) against 3 brokers, through our program
tests/compat/kafkajs/run.js. Each broker advertises a recording relay
(tests/lib/wiretap.py), so the request versions KafkaJS picks from ApiVersions
are measured and logged. Measured (2026-12-04): ApiVersions v2, Metadata v6,
CreateTopics v3, DeleteTopics v1, Produce v7, Fetch v11, ListOffsets v3,
FindCoordinator v2, JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3,
OffsetCommit v5, OffsetFetch v4, ListGroups v2, DescribeGroups v2.

1. Admin createTopics (two topics, replication factors 2 and 3) makes them as
   asked, as confluent-kafka's metadata shows; creating them again resolves
   false (TOPIC_ALREADY_EXISTS); fetchTopicMetadata and listTopics agree.
2. A consumer group of two KafkaJS consumers on 4 partitions; once both hold
   partitions a producer (acks -1, gzip) writes keyed messages with headers
   and timestamps. Every message is read exactly once, by the member holding
   its partition, with key, value, headers, partition, offset and timestamp as
   written; confluent-kafka reads the same back. listGroups and describeGroups
   show the Stable group with its two members, fetchTopicOffsets the log end
   offsets, and the commits (commitOffsets) read back with KafkaJS fetchOffsets
   and confluent-kafka committed().
3. Admin deleteTopics removes a topic: listTopics and confluent-kafka's
   metadata stop naming it."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import nodejs  # noqa: E402
import wiretap  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "kafkajs", "run.js")
JS_DIR = os.path.join(h.REPO, "tests", "js")  # package.json and lock file shared with test_groups

# API keys
PRODUCE, FETCH, LIST_OFFSETS, METADATA, OFFSET_COMMIT, OFFSET_FETCH = 0, 1, 2, 3, 8, 9
FIND_COORDINATOR, JOIN, HEARTBEAT, LEAVE, SYNC, DESCRIBE_GROUPS, LIST_GROUPS = 10, 11, 12, 13, 14, 15, 16
API_VERSIONS, CREATE_TOPICS, DELETE_TOPICS = 18, 19, 20


class KafkaJS(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		nodejs.tools()
		cls.modules = nodejs.modules(JS_DIR, "kafkajs")
		cls.taps, cls.bootstrap = wiretap.start_tapped_cluster(cls, 3)

	@classmethod
	def tearDownClass(cls):
		try:
			super().tearDownClass()  # first: brokers reach each other through the relays
		finally:
			for t in cls.taps.values():
				t.stop()

	def setUp(self):
		super().setUp()
		self.admin = AdminClient({"bootstrap.servers": self.bootstrap})
		for t in self.taps.values():
			t.clear()

	def js(self, *args, timeout=200):
		return nodejs.run(RUN, list(args), self.modules, timeout=timeout)

	def versions(self, client_id):
		seen = wiretap.seen_all(self.taps, client_id)
		h.log("%s: %s sent %s" % (self.id().split(".")[-1], client_id, seen))
		return seen

	def end_offsets(self, topic, partitions):
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "ends-" + topic})
		try:
			return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1]
				for p in range(partitions)}
		finally:
			c.close()

	def committed(self, group, topic, partitions):
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
		try:
			return {tp.partition: tp.offset for tp in
				c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=20)}
		finally:
			c.close()

	def read_all(self, topic, partitions, want):
		"""With confluent-kafka: [(partition, offset, key, value, timestamp, headers)]."""
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "reader-" + topic,
				"enable.auto.commit": False, "fetch.wait.max.ms": 100})
		try:
			c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
			out = []

			def done():
				m = c.poll(0.5)
				if m is not None and not m.error():
					hd = {k: (v.decode() if v is not None else None) for k, v in (m.headers() or [])}
					out.append((m.partition(), m.offset(), m.key().decode(), m.value().decode(),
							m.timestamp()[1], tuple(sorted(hd.items()))))
				return len(out) >= want
			h.wait_until(done, 60, "%d messages of %s" % (want, topic), interval=0)
			return out
		finally:
			c.close()

	def topic_md(self, name):
		t = self.admin.list_topics(name, timeout=10).topics.get(name)
		if t is None or t.error is not None:
			return None
		return {p.id: (p.leader, sorted(p.replicas)) for p in t.partitions.values()}

	# -- 1 -------------------------------------------------------------------------------------

	def test_1_admin_create_topics(self):
		r = self.js("create", self.bootstrap, "kjs-a:6:2,kjs-b:3:3")
		self.assertIs(r["created"], True)
		self.assertIs(r["again"], False)
		for name, P, rf in (("kjs-a", 6, 2), ("kjs-b", 3, 3)):
			md = h.wait_until(lambda: self.topic_md(name), 30, "metadata of %s" % name)
			self.assertEqual(sorted(md), list(range(P)))
			self.assertTrue(all(len(rep) == rf and leader in rep for leader, rep in md.values()), md)
			js = [t for t in r["metadata"] if t["name"] == name]
			self.assertEqual(len(js), 1, r["metadata"])
			self.assertEqual({p["partition"]: (p["leader"], p["replicas"]) for p in js[0]["partitions"]}, md)
			self.assertTrue(all(p["error"] == 0 and sorted(p["isr"]) == p["replicas"] for p in js[0]["partitions"]))
			self.assertIn(name, r["listed"])
		seen = self.versions("kjs-admin")
		self.assertIn(CREATE_TOPICS, seen)

	# -- 2 -------------------------------------------------------------------------------------

	def test_2_group_of_two_gzip_acks_all(self):
		topic, group, P, N = "kjs-grp", "kjs-g", 4, 120
		r0 = self.js("create", self.bootstrap, "%s:%d:3" % (topic, P))
		self.assertIs(r0["created"], True)
		r = self.js("group", self.bootstrap, topic, group, N)
		self.assertEqual(r["partitions"], P)
		a, b = r["assigned"]
		self.assertTrue(a and b, r["assigned"])
		self.assertEqual(sorted(a + b), list(range(P)))
		self.assertEqual(r["assignedAtEnd"], r["assigned"])  # no rebalance while reading
		self.assertEqual(r["duplicates"], 0)

		def row(m):
			return (m["partition"], m["offset"], m["key"], m["value"], m["timestamp"],
				tuple(sorted(m["headers"].items())))
		sent = sorted(row(m) for m in r["sent"])
		self.assertEqual(len(set(sent)), N)
		got = sorted(row(m) for m in r["got"])
		self.assertEqual(got, sent)
		owner = {p: i for i, ps in enumerate((a, b)) for p in ps}
		for m in r["got"]:
			self.assertEqual(m["member"], owner[m["partition"]], m)
		counts = {p: sum(1 for s in sent if s[0] == p) for p in range(P)}
		for p in range(P):
			self.assertEqual(sorted(s[1] for s in sent if s[0] == p), list(range(counts[p])))
		self.assertEqual(sorted(self.read_all(topic, P, N)), sent)
		ends = self.end_offsets(topic, P)
		self.assertEqual(ends, counts)

		self.assertIn({"groupId": group, "protocolType": "consumer"}, r["groups"])
		self.assertEqual(len(r["described"]), 1)
		d = r["described"][0]
		self.assertEqual((d["groupId"], d["state"], d["protocolType"], d["errorCode"]),
				(group, "Stable", "consumer", 0))
		self.assertEqual(d["protocol"], "RoundRobinAssigner")
		self.assertEqual(sorted(m["clientId"] for m in d["members"]), ["kjs-c0", "kjs-c1"])
		self.assertEqual({o["partition"]: (o["low"], o["high"]) for o in r["topicOffsets"]},
				{p: (0, ends[p]) for p in range(P)})
		self.assertEqual({int(p): o for p, o in r["committed"].items()}, ends)
		self.assertEqual(self.committed(group, topic, P), ends)
		for cid in ("kjs-admin", "kjs-c0", "kjs-c1"):
			self.versions(cid)

	# -- 3 -------------------------------------------------------------------------------------

	def test_3_admin_delete_topics(self):
		r0 = self.js("create", self.bootstrap, "kjs-del:2:2")
		self.assertIs(r0["created"], True)
		r = self.js("delete", self.bootstrap, "kjs-del")
		self.assertIn("kjs-del", r["before"])
		self.assertNotIn("kjs-del", r["after"])
		h.wait_until(lambda: self.topic_md("kjs-del") is None, 60, "kjs-del gone from metadata")
		self.assertIn(DELETE_TOPICS, self.versions("kjs-admin"))


if __name__ == "__main__":
	h.main()
