"""sarama (Debian's golang-github-shopify-sarama-dev, 1.22.1) against a 3-broker
cluster, through our own program tests/compat/sarama/main.go, built offline
against /usr/share/gocode at test time.

1. A SyncProducer with sarama's default Version (its oldest protocol: Produce v0,
   magic 0 message sets, which samsa converts on append) writes keyed messages;
   confluent-kafka reads every key, value, partition and offset back, and each
   partition is the one sarama's FNV-1a hash partitioner names.
2. With Version 2.8.0 (sarama 1.22 knows versions up to 2.2.0 and sends its
   newest requests: Metadata v5, Produce v3, Fetch v4, JoinGroup v1, OffsetFetch
   v1, OffsetCommit v1), a group of two sarama consumers
   holding the partitions between them reads everything produced after they
   joined exactly once, and the offsets they commit equal the log end offsets.
3. ClusterAdmin (Version 2.8.0): CreateTopic (CreateTopics v2) makes a topic
   that Metadata then shows with the partitions and replicas requested, and
   creating it again is refused. ListTopics names the existing topics with their
   partition counts; it sends DescribeConfigs (v0) after Metadata too.
4. A partition consumer (sarama.NewConsumer, ConsumePartition from the oldest
   offset) with sarama's default Version (Fetch v0, so samsa down-converts the
   stored v2 batches to magic 0 message sets) reads back what confluent-kafka
   produced, some batches gzip-compressed and some not: every key, value,
   partition and offset as written. A raw Fetch v4 first shows the stored
   batches really carry both codecs."""

import hashlib
import json
import os
import shutil
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "sarama")
GOCODE = "/usr/share/gocode"
SARAMA = os.path.join(GOCODE, "src", "github.com", "Shopify", "sarama")
NEW = "2.8.0"
DESCRIBE_CONFIGS = 32


def build(tmp):
	"""Builds the program into tmp (GOPATH mode, no network); a binary already
	there for the same main.go is reused. Returns its path."""
	with open(os.path.join(SRC, "main.go"), "rb") as f:
		digest = hashlib.sha256(f.read()).hexdigest()[:16]
	out = os.path.join(tmp, "sarama-compat-" + digest)
	if os.access(out, os.X_OK):
		return out
	env = dict(os.environ, GO111MODULE="off", GOPATH="%s:%s" % (os.path.join(tmp, "gopath"), GOCODE),
			GOPROXY="off", GOFLAGS="", GOCACHE=os.path.join(tmp, "gocache"))
	p = h.run(["go", "build", "-o", out + ".tmp", "."], cwd=SRC, env=env, timeout=600)
	if p.returncode != 0:
		raise AssertionError("go build failed (%d):\n%s" % (p.returncode, p.stderr[-4000:]))
	os.rename(out + ".tmp", out)
	return out


def sarama_partition(key, partitions):
	"""sarama's default hash partitioner: FNV-1a 32 of the key as int32, Go's
	truncating %, negated when negative."""
	x = 0x811C9DC5
	for b in key:
		x = ((x ^ b) * 0x01000193) & 0xFFFFFFFF
	if x >= 1 << 31:
		x -= 1 << 32
	return abs(x) % partitions


class Sarama(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		if not shutil.which("go") or not os.path.isdir(SARAMA):
			raise unittest.SkipTest("go or sarama missing (scripts/deps installs golang-go and "
					"golang-github-shopify-sarama-dev)")
		tmp = os.environ.get("SAMSA_TEST_TMP") or "/tmp"
		cache = os.path.join(tmp, "sarama-build")
		os.makedirs(cache, exist_ok=True)
		cls.bin = build(cache)
		cls.start_shared_cluster(brokers=3, first_id=1)

	def setUp(self):
		super().setUp()
		self.bootstrap = self.shared.bootstrap
		self.admin = AdminClient({"bootstrap.servers": self.bootstrap})

	def create(self, name, partitions, rf):
		for _, f in self.admin.create_topics([NewTopic(name, partitions, rf)], request_timeout=20).items():
			f.result(30)
		self.wait_led(name, partitions)

	def wait_led(self, name, partitions):
		def led():
			t = self.admin.list_topics(name, timeout=10).topics.get(name)
			return (t is not None and t.error is None and len(t.partitions) == partitions
					and all(p.leader >= 0 for p in t.partitions.values()))
		h.wait_until(led, 60, "leaders for %s" % name)

	def sarama(self, *args, timeout=180):
		p = h.run([self.bin] + list(args), timeout=timeout)
		self.assertEqual(p.returncode, 0, "sarama-compat %s failed:\n%s" % (args[0], p.stderr[-6000:]))
		return json.loads(p.stdout.strip().splitlines()[-1])

	def read_all(self, topic, partitions, ends):
		"""Every message of topic from offset 0 to ends[p], with confluent-kafka:
		[(key, value, partition, offset, timestamp)]."""
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "reader-" + topic,
				"enable.auto.commit": False, "fetch.wait.max.ms": 100})
		try:
			c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
			out = []
			want = sum(ends.values())

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

	# -- 1 -------------------------------------------------------------------------------

	def test_1_default_version_produce(self):
		topic, P, N = "sarama-old", 3, 60
		self.create(topic, P, 3)
		r = self.sarama("produce", self.bootstrap, "default", topic, str(N))
		self.assertTrue(r["version"].startswith("0.8.2"), r["version"])
		sent = [(m["key"], m["value"], m["partition"], m["offset"]) for m in r["sent"]]
		self.assertEqual(len(sent), N)
		for k, _, p, _ in sent:
			self.assertEqual(p, sarama_partition(k.encode(), P), k)
		# Offsets: each partition's messages numbered 0.. in the order sent.
		for p in range(P):
			self.assertEqual([o for _, _, q, o in sent if q == p], list(range(sum(1 for s in sent if s[2] == p))))
		ends = self.end_offsets(topic, P)
		self.assertEqual(ends, {p: sum(1 for s in sent if s[2] == p) for p in range(P)})
		got = self.read_all(topic, P, ends)
		self.assertEqual(sorted(g[:4] for g in got), sorted(sent))
		# Magic 0 carries no timestamp: the converted records have none (-1).
		self.assertEqual({g[4] for g in got}, {-1})

	# -- 2 -------------------------------------------------------------------------------

	def test_2_group_of_two(self):
		topic, group, P, N = "sarama-grp", "sarama-g", 4, 80
		self.create(topic, P, 3)
		r = self.sarama("group", self.bootstrap, NEW, topic, group, str(P), str(N))
		self.assertEqual(r["version"], NEW)
		claims = r["claims"]
		self.assertTrue(claims[0] and claims[1], claims)
		self.assertEqual(sorted(claims[0] + claims[1]), list(range(P)))
		sent = sorted((m["key"], m["value"], m["partition"], m["offset"]) for m in r["sent"])
		self.assertEqual(len(set(sent)), N)
		self.assertGreater(len({s[2] for s in sent}), 1)
		got = [(m["key"], m["value"], m["partition"], m["offset"]) for m in r["got"]]
		self.assertEqual(r["duplicates"], 0)
		self.assertEqual(sorted(got), sent)  # each exactly once
		# Each message went to the member that held its partition.
		owner = {p: i for i in (0, 1) for p in claims[i]}
		for m in r["got"]:
			self.assertEqual(m["member"], owner[m["partition"]], m)
		ends = self.end_offsets(topic, P)
		self.assertEqual(ends, {p: sum(1 for s in sent if s[2] == p) for p in range(P)})
		self.assertEqual(self.committed(group, topic, P), ends)

	# -- 3 -------------------------------------------------------------------------------

	def test_3a_cluster_admin_create_topic(self):
		r = self.sarama("create", self.bootstrap, NEW, "sarama-made", "6", "2")
		self.assertEqual(r["version"], NEW)
		self.assertEqual(r["create_error"], "")
		self.assertIn("already exists", r["again_error"])
		self.wait_led("sarama-made", 6)
		t = self.admin.list_topics("sarama-made", timeout=10).topics["sarama-made"]
		self.assertEqual(sorted(t.partitions), list(range(6)))
		self.assertTrue(all(len(p.replicas) == 2 for p in t.partitions.values()))

	def test_3b_cluster_admin_list_topics(self):
		# sarama 1.22's ListTopics sends DescribeConfigs (key 32) after Metadata,
		# without looking at ApiVersions; a broker that did not serve it closed the
		# connection and ListTopics ended in EOF.
		b = self.shared.broker(1)
		with kproto.Conn(h.HOST, b.port) as c:
			err, apis = c.api_versions(0)
		self.assertEqual(err, 0)
		self.assertIn(DESCRIBE_CONFIGS, apis)
		self.create("sarama-pre", 5, 2)
		r = self.sarama("list", self.bootstrap, NEW)
		self.assertEqual(r["version"], NEW)
		self.assertEqual(r["error"], "")
		self.assertEqual(r["topics"].get("sarama-pre"), 5, r["topics"])


	# -- 4 -------------------------------------------------------------------------------

	def stored_codecs(self, topic, partition):
		"""The codec (attributes & 7) of every stored batch of one partition, by a raw
		Fetch v4 to its leader: [(base offset, codec)]."""
		leader = self.admin.list_topics(topic, timeout=10).topics[topic].partitions[partition].leader
		body = (struct.pack(">iiiib", -1, 100, 1, 1 << 24, 0) + struct.pack(">i", 1) + kproto.string(topic)
				+ struct.pack(">iiqi", 1, partition, 0, 1 << 22))
		with kproto.Conn(h.HOST, self.shared.broker(leader).port, timeout=20) as c:
			r = c.request(1, 4, body)
			r.i32()  # throttle
			self.assertEqual(r.i32(), 1)
			self.assertEqual(r.string(), topic)
			self.assertEqual(r.i32(), 1)
			self.assertEqual(r.i32(), partition)
			self.assertEqual(r.i16(), 0)
			r.take(16)  # high watermark, last stable offset
			n = r.i32()
			for _ in range(max(n, 0)):
				r.take(16)
			data = r.take(r.i32())
		out, pos = [], 0
		while pos + 12 <= len(data):
			base, length = struct.unpack_from(">qi", data, pos)
			if pos + 12 + length > len(data):
				break
			self.assertEqual(data[pos + 16], 2)  # magic
			out.append((base, struct.unpack_from(">h", data, pos + 21)[0] & 7))
			pos += 12 + length
		return out

	def test_4_default_version_consume_mixed_codecs(self):
		topic, P = "sarama-fetch0", 3
		self.create(topic, P, 3)
		sent, errors = [], []

		def report(err, msg):
			if err is not None:
				errors.append(err)
			else:
				sent.append((msg.key().decode(), msg.value().decode(), msg.partition(), msg.offset()))
		# Rounds alternate the codec, so each partition holds gzip and plain batches in turn.
		i = 0
		for rnd, codec in enumerate(("gzip", "none", "gzip", "none")):
			p = Producer({"bootstrap.servers": self.bootstrap, "compression.codec": codec,
					"linger.ms": 20, "batch.num.messages": 6, "acks": "all"})
			for _ in range(24):
				key = "f-k%d" % i
				value = "f-v%d-%s-%s" % (i, codec, "abcdefgh" * (20 + i % 9))  # compressible
				p.produce(topic, value.encode(), key.encode(), partition=i % P, on_delivery=report)
				i += 1
			self.assertEqual(p.flush(60), 0)
			del p
		self.assertEqual(errors, [])
		self.assertEqual(len(sent), i)
		counts = [sum(1 for s in sent if s[2] == q) for q in range(P)]
		self.assertEqual(self.end_offsets(topic, P), dict(enumerate(counts)))
		for q in range(P):
			codecs = {c for _, c in self.stored_codecs(topic, q)}
			self.assertEqual(codecs, {0, 1}, "partition %d holds plain and gzip batches" % q)

		r = self.sarama("consume", self.bootstrap, "default", topic, ",".join(map(str, counts)))
		self.assertTrue(r["version"].startswith("0.8.2"), r["version"])
		got = [(m["key"], m["value"], m["partition"], m["offset"]) for m in r["got"]]
		self.assertEqual(len(got), len(sent))
		self.assertEqual(sorted(got), sorted(sent))
		# Each partition in offset order, with no gaps.
		for q in range(P):
			self.assertEqual([g[3] for g in got if g[2] == q], list(range(counts[q])))


if __name__ == "__main__":
	h.main()
