"""kafka-node 5.0.0 (npm, installed at test time outside the tree by
tests/compat/nodejs.py) against one broker, through our program
tests/compat/kafka-node/run.js.

The broker advertises a recording relay (tests/lib/wiretap.py) in front of its
listener, so every request kafka-node sends passes it, and each case asserts
exactly which API versions the relay saw from kafka-node's client ids. Two
modes: "negotiated" (KafkaClient asks ApiVersions v0 and uses the newest
version it shares with the broker) and "old" (the relay swallows ApiVersions,
so kafka-node falls back to its fixed Kafka 0.9 set, as against a pre-0.10
broker; its versions.disabled option, the direct way, hangs in 5.0.0). Measured:

| case | negotiated | old |
| Producer | Metadata v1, Produce v2 (magic 1, timestamps) | Metadata v0, Produce v1 (magic 0) |
| Consumer | Metadata v1, Fetch v0, OffsetCommit v0, OffsetFetch v0 | Metadata v0, the same |
| ConsumerGroup | Metadata v1, Fetch v2 | Metadata v0, Fetch v1 |
ConsumerGroup in both: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
LeaveGroup and ListOffsets v0, OffsetFetch v1, OffsetCommit v2.

1. Producer, Produce v2, requireAcks -1, plain and gzip (kafka-node numbers
   every inner message of its gzip wrapper 0; the broker renumbers): each
   key, value, offset and CreateTime read back with confluent-kafka as
   kafka-node reported them.
2. Producer, Produce v1, requireAcks 1, plain: the same with no timestamps.
   Its gzip is refused: kafka-node wraps magic 1 messages in a magic 0
   wrapper, which Kafka answers with INVALID_RECORD; so does samsa, appending
   nothing (the test replays kafka-node's request to read the code).
3. Consumer (Fetch v0: the broker down-converts to magic 0) reads back what
   confluent-kafka wrote in gzip and plain batches, each partition in order,
   and commits with OffsetCommit v0, which Kafka keeps in ZooKeeper: the
   znodes /consumers/<group>/offsets/<topic>/<p> hold the next offsets and
   kafka-node's OffsetFetch v0 reads them back.
4. A ConsumerGroup of two: everything produced after both joined is read
   exactly once, by the member holding its partition; confluent-kafka's
   committed() equals the log end offsets."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
import nodejs  # noqa: E402
import wiretap  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "kafka-node")
RUN = os.path.join(SRC, "run.js")

# API keys
PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR = 8, 9, 10
JOIN, HEARTBEAT, LEAVE, SYNC, API_VERSIONS = 11, 12, 13, 14, 18
INVALID_RECORD = 87
# What both ConsumerGroup members sent between them, besides Metadata and Fetch
# (ListOffsets: the first member to a partition without a committed offset).
GROUP_V0 = {API_VERSIONS: [0], FIND_COORDINATOR: [0], JOIN: [0], SYNC: [0], HEARTBEAT: [0], LEAVE: [0],
	LIST_OFFSETS: [0], OFFSET_FETCH: [1], OFFSET_COMMIT: [2]}


class KafkaNode(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		nodejs.tools()
		cls.modules = nodejs.modules(SRC, "kafka-node")
		taps, cls.bootstrap = wiretap.start_tapped_cluster(cls, 1)
		cls.tap = taps[1]
		# kafka-node's "old" clients get no ApiVersions answer, as from a 0.9 broker.
		cls.tap.drop = lambda key, ver, cid: key == API_VERSIONS and (cid or "").startswith("kn-old-")

	@classmethod
	def tearDownClass(cls):
		try:
			super().tearDownClass()  # first: the broker reaches itself through the relay
		finally:
			cls.tap.stop()

	def setUp(self):
		super().setUp()
		self.admin = AdminClient({"bootstrap.servers": self.bootstrap})
		self.tap.clear()

	def create(self, name, partitions):
		for _, f in self.admin.create_topics([NewTopic(name, partitions, 1)], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(self.bootstrap, name, partitions, 1)

	def versions(self, client_id):
		"""{api key: versions} the relay saw from client_id in this test, also logged."""
		seen = self.tap.seen(client_id)
		h.log("%s: %s sent %s" % (self.id().split(".")[-1], client_id, seen))
		return seen

	def node(self, *args, timeout=180):
		return nodejs.run(RUN, list(args), self.modules, timeout=timeout)

	def read_all(self, topic, partitions, want):
		"""Every message of topic from offset 0, with confluent-kafka:
		[(key, value, partition, offset, timestamp)]."""
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "reader-" + topic,
				"enable.auto.commit": False, "fetch.wait.max.ms": 100})
		try:
			c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
			out = []

			def done():
				m = c.poll(0.5)
				if m is not None and not m.error():
					out.append((m.key().decode(), m.value().decode(), m.partition(), m.offset(),
							m.timestamp()[1]))
				return len(out) >= want
			h.wait_until(done, 60, "%d messages of %s" % (want, topic), interval=0)
			return out
		finally:
			c.close()

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

	def check_produced(self, topic, P, r, N, timestamps=True):
		sent = [(m["key"], m["value"], m["partition"], m["offset"], m["timestamp"] if timestamps else -1)
			for m in r["sent"]]
		self.assertEqual(len(sent), N)
		counts = [sum(1 for s in sent if s[2] == p) for p in range(P)]
		for p in range(P):
			self.assertEqual(sorted(s[3] for s in sent if s[2] == p), list(range(counts[p])))
		self.assertEqual(self.end_offsets(topic, P), dict(enumerate(counts)))
		got = self.read_all(topic, P, N)
		self.assertEqual(sorted(got), sorted(sent))
		return sent

	# -- 1, 2: Producer ----------------------------------------------------------------------

	def produce_case(self, topic, attributes, acks, versions):
		P, N = 3, 90
		self.create(topic, P)
		r = self.node("produce", self.bootstrap, topic, P, N, acks, attributes, versions, 24)
		# Produce v2 carries magic 1 with kafka-node's timestamps; v0/v1 magic 0, none.
		self.check_produced(topic, P, r, N, timestamps=versions == "negotiated")
		return self.versions("kn-produce" if versions == "negotiated" else "kn-old-produce")

	def test_1a_produce_v2_plain(self):
		seen = self.produce_case("kn-p2", 0, -1, "negotiated")
		self.assertEqual(seen, {API_VERSIONS: [0], METADATA: [1], PRODUCE: [2]})

	def test_1b_produce_v2_gzip(self):
		seen = self.produce_case("kn-p2-gzip", 1, -1, "negotiated")
		self.assertEqual(seen, {API_VERSIONS: [0], METADATA: [1], PRODUCE: [2]})

	def test_2a_produce_v1_old(self):
		seen = self.produce_case("kn-p1", 0, 1, "old")
		self.assertEqual(seen, {API_VERSIONS: [0], METADATA: [0], PRODUCE: [1]})  # ApiVersions unanswered

	def test_2b_produce_v1_old_gzip_refused(self):
		# kafka-node 5.0.0 compresses magic 1 messages (encodeMessageSet(..., 1) in its
		# KafkaClient) whatever the Produce version, so at v0/v1 the gzip wrapper is
		# magic 0 around magic 1 messages. Kafka refuses that with INVALID_RECORD (its
		# LogValidator.validateRecord: a record's magic must be its batch's); so does
		# samsa, appending nothing.
		topic, P = "kn-p1-gzip", 3
		self.create(topic, P)
		self.tap.keep = lambda key, ver, cid: key == PRODUCE and cid == "kn-old-produce"
		try:
			with self.assertRaises(AssertionError) as e:
				self.node("produce", self.bootstrap, topic, P, 9, -1, 1, "old", 9)
		finally:
			self.tap.keep = None
		self.assertIn("produce: send: Error", str(e.exception))
		self.assertEqual(self.tap.seen("kn-old-produce").get(PRODUCE), [1])
		self.assertEqual(self.end_offsets(topic, P), {p: 0 for p in range(P)})
		# kafka-node's error has no name for 87: replay its request to read the code.
		frames = [f for _, _, _, f in self.tap.frames]
		self.assertTrue(frames)
		with kproto.Conn(h.HOST, self.shared.broker(1).port, timeout=20) as c:
			c.send_raw(frames[0])
			r = kproto.Reader(c.recv_frame())
			r.i32()  # correlation id
			errors = {}
			for _ in range(r.i32()):
				self.assertEqual(r.string(), topic)
				for _ in range(r.i32()):
					q, err = r.i32(), r.i16()
					r.take(8)  # base offset
					errors[q] = err
		self.assertTrue(errors)
		self.assertEqual(set(errors.values()), {INVALID_RECORD}, errors)
		self.assertEqual(self.end_offsets(topic, P), {p: 0 for p in range(P)})

	# -- 3: Consumer ---------------------------------------------------------------------------

	def confluent_produce(self, topic, P, rounds):
		"""Keyed messages to partition i % P in rounds of (codec, count); returns
		[(key, value, partition, offset, timestamp)] as delivered."""
		sent, errors = [], []

		def report(err, msg):
			if err is not None:
				errors.append(err)
			else:
				sent.append((msg.key().decode(), msg.value().decode(), msg.partition(), msg.offset(),
						msg.timestamp()[1]))
		i, base = 0, int(time.time() * 1000) - 60000  # recent: retention.ms keys on these
		for codec, n in rounds:
			p = Producer({"bootstrap.servers": self.bootstrap, "compression.codec": codec,
					"linger.ms": 20, "batch.num.messages": 8, "acks": "all"})
			for _ in range(n):
				p.produce(topic, ("c-v%d-%s-" % (i, codec) + "xyz" * (10 + i % 5)).encode(), ("c-k%d" % i).encode(),
						partition=i % P, on_delivery=report, timestamp=base + i)
				i += 1
			self.assertEqual(p.flush(60), 0)
			del p
		self.assertEqual(errors, [])
		self.assertEqual(len(sent), i)
		return sent

	def consume_case(self, topic, versions, fetch_version):
		P, group = 3, "kn-c-" + topic
		self.create(topic, P)
		sent = self.confluent_produce(topic, P, [("gzip", 30), ("none", 30), ("gzip", 15)])
		counts = [sum(1 for s in sent if s[2] == p) for p in range(P)]
		r = self.node("consume", self.bootstrap, topic, ",".join(map(str, counts)), versions, group)
		got = [(m["key"], m["value"], m["partition"], m["offset"], m["timestamp"]) for m in r["got"]]
		# Fetch v0/v1 get magic 0 messages, which carry no timestamp.
		sent = [s[:4] + (None,) for s in sent]
		self.assertEqual(len(got), len(sent))
		self.assertEqual(sorted(got), sorted(sent))
		for p in range(P):
			self.assertEqual([g[3] for g in got if g[2] == p], list(range(counts[p])))
		# OffsetCommit v0: ZooKeeper-stored, as Kafka does for v0; OffsetFetch v0 reads them back.
		self.assertEqual({int(p): o for p, o in r["committed"].items()}, dict(enumerate(counts)))
		for p in range(P):
			data, _ = self.shared.zk.get("/consumers/%s/offsets/%s/%d" % (group, topic, p))
			self.assertEqual(int(data.decode()), counts[p])
		seen = self.versions("kn-consume" if versions == "negotiated" else "kn-old-consume")
		self.assertEqual(seen, {API_VERSIONS: [0], METADATA: [1 if versions == "negotiated" else 0],
				FETCH: [fetch_version], OFFSET_COMMIT: [0], OFFSET_FETCH: [0]})

	# kafka-node's plain Consumer always sends Fetch v0 (its KafkaClient negotiates
	# Fetch only for ConsumerGroup members), in both modes.
	def test_3a_consumer_fetch_v0(self):
		self.consume_case("kn-c0", "negotiated", 0)

	def test_3b_consumer_fetch_v0_old(self):
		self.consume_case("kn-c0-old", "old", 0)

	# -- 4: ConsumerGroup ------------------------------------------------------------------------

	def group_case(self, topic, versions):
		P, N, group = 4, 80, "kn-g-" + topic
		self.create(topic, P)
		r = self.node("group", self.bootstrap, topic, group, P, N, versions, timeout=200)
		claims = r["claims"]
		self.assertTrue(claims[0] and claims[1], claims)
		self.assertEqual(sorted(claims[0] + claims[1]), list(range(P)))
		sent = sorted((m["key"], m["value"], m["partition"], m["offset"]) for m in r["sent"])
		self.assertEqual(len(set(sent)), N)
		got = [(m["key"], m["value"], m["partition"], m["offset"]) for m in r["got"]]
		self.assertEqual(r["duplicates"], 0)
		self.assertEqual(sorted(got), sent)
		owner = {p: i for i in (0, 1) for p in claims[i]}
		for m in r["got"]:
			self.assertEqual(m["member"], owner[m["partition"]], m)
		ends = self.end_offsets(topic, P)
		self.assertEqual(ends, {p: sum(1 for s in sent if s[2] == p) for p in range(P)})
		self.assertEqual(self.committed(group, topic, P), ends)
		prefix = "kn-" if versions == "negotiated" else "kn-old-"
		seen = {}
		for i in (0, 1):
			for k, v in self.versions(prefix + "g%d" % i).items():
				seen[k] = sorted(set(seen.get(k, [])) | set(v))
		return seen

	def test_4a_consumer_group_negotiated(self):
		seen = self.group_case("kn-grp", "negotiated")
		self.assertEqual(seen, {**GROUP_V0, METADATA: [1], FETCH: [2]})

	def test_4b_consumer_group_old(self):
		seen = self.group_case("kn-grp-old", "old")
		self.assertEqual(seen, {**GROUP_V0, METADATA: [0], FETCH: [1]})


if __name__ == "__main__":
	h.main()
