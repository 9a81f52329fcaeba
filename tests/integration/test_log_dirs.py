"""Several log.dirs (JBOD): partitions go to the dir holding the fewest, and
DescribeLogDirs (v0-v4, raw) and `samsa log-dirs --describe` report each dir
by absolute path with the exact on-disk size of every partition in it; a
topic filter narrows the answer. When a dir fails (a small tmpfs that fills
up), only its partitions go offline on that broker: the controller moves
their leadership to the other replica and lists the broker in
offline_replicas, the broker's other dir keeps serving, DescribeLogDirs
answers KAFKA_STORAGE_ERROR for the failed dir, and everything acknowledged
reads back from the new leader. The failure test needs root to mount a tmpfs
and is skipped otherwise."""

import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
import records  # noqa: E402
from kproto import i8, i16, i32, string, uvarint, compact_string  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

API_ALTER_REPLICA_LOG_DIRS = 34
API_DESCRIBE_LOG_DIRS = 35
NONE = 0
REPLICA_NOT_AVAILABLE = 9
KAFKA_STORAGE_ERROR = 56
LOG_DIR_NOT_FOUND = 57


def describe_log_dirs(conn, version, topics=None):
	"""DescribeLogDirs at version; topics None (all) or {topic: [partitions]}.
	Returns (error_code or None before v3, [dir dicts])."""
	flexible = version >= 2
	if flexible:
		if topics is None:
			body = uvarint(0)
		else:
			body = uvarint(len(topics) + 1)
			for t, parts in topics.items():
				body += compact_string(t) + uvarint(len(parts) + 1) + b"".join(i32(p) for p in parts) + uvarint(0)
		body += uvarint(0)
	else:
		if topics is None:
			body = i32(-1)
		else:
			body = i32(len(topics))
			for t, parts in topics.items():
				body += string(t) + i32(len(parts)) + b"".join(i32(p) for p in parts)
	r = conn.request(API_DESCRIBE_LOG_DIRS, version, body, flexible_header=flexible)
	if flexible:
		r.skip_tags()
	arr = r.compact_array if flexible else r.array
	text = r.compact_string if flexible else r.string
	r.i32()  # throttle
	err = r.i16() if version >= 3 else None

	def part():
		p = {"partition": r.i32(), "size": struct.unpack(">q", r.take(8))[0],
			"lag": struct.unpack(">q", r.take(8))[0], "future": r.i8() != 0}
		if flexible:
			r.skip_tags()
		return p

	def topic():
		t = {"name": text(), "partitions": arr(part)}
		if flexible:
			r.skip_tags()
		return t

	def result():
		d = {"error": r.i16(), "dir": text(), "topics": arr(topic)}
		if version >= 4:
			d["total"] = struct.unpack(">q", r.take(8))[0]
			d["usable"] = struct.unpack(">q", r.take(8))[0]
		if flexible:
			r.skip_tags()
		return d

	dirs = arr(result)
	if flexible:
		r.skip_tags()
	return err, dirs


def alter_replica_log_dirs(conn, version, moves):
	"""AlterReplicaLogDirs at version; moves: [(path, {topic: [partitions]})].
	Returns {(topic, partition): error_code}."""
	flexible = version >= 2
	if flexible:
		body = uvarint(len(moves) + 1)
		for path, topics in moves:
			body += compact_string(path) + uvarint(len(topics) + 1)
			for t, parts in topics.items():
				body += compact_string(t) + uvarint(len(parts) + 1) + b"".join(i32(p) for p in parts) + uvarint(0)
			body += uvarint(0)
		body += uvarint(0)
	else:
		body = i32(len(moves))
		for path, topics in moves:
			body += string(path) + i32(len(topics))
			for t, parts in topics.items():
				body += string(t) + i32(len(parts)) + b"".join(i32(p) for p in parts)
	r = conn.request(API_ALTER_REPLICA_LOG_DIRS, version, body, flexible_header=flexible)
	if flexible:
		r.skip_tags()
	arr = r.compact_array if flexible else r.array
	text = r.compact_string if flexible else r.string
	r.i32()
	out = {}

	def part(name):
		p, e = r.i32(), r.i16()
		if flexible:
			r.skip_tags()
		out[(name, p)] = e

	def topic():
		name = text()
		arr(lambda: part(name))
		if flexible:
			r.skip_tags()

	arr(topic)
	return out


def on_disk_size(partition_dir):
	return sum(os.path.getsize(f) for f in glob.glob(os.path.join(partition_dir, "*.log")))


def partitions_by_dir(dirs):
	return {d["dir"]: sorted((t["name"], p["partition"]) for t in d["topics"] for p in t["partitions"])
		for d in dirs}


class Placement(h.ClusterTestCase):
	TOPIC = "spread"

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.tmp = tempfile.mkdtemp(prefix="samsa-jbod-")
		cls.dirs = [os.path.join(cls.tmp, "d%d" % i) for i in range(3)]
		c = cls.start_shared_cluster(brokers=1, first_id=1, props={"log.dirs": ",".join(cls.dirs)})
		cls.b = c.broker(1)
		a = AdminClient({"bootstrap.servers": cls.b.address})
		for _, f in a.create_topics([NewTopic(cls.TOPIC, 6, 1)], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(cls.b.address, cls.TOPIC, 6, 1)
		p = Producer({"bootstrap.servers": cls.b.address, "linger.ms": 0})
		for part in range(6):
			for i in range(10 * (part + 1)):
				p.produce(cls.TOPIC, b"v%d-%d" % (part, i) * 20, partition=part)
		assert p.flush(30) == 0

	@classmethod
	def tearDownClass(cls):
		super().tearDownClass()
		shutil.rmtree(cls.tmp, ignore_errors=True)

	def test_fewest_first_and_sizes_match_the_files(self):
		with kproto.Conn(h.HOST, self.b.port) as conn:
			err, dirs = describe_log_dirs(conn, 4)
		self.assertEqual(err, NONE)
		self.assertEqual([d["dir"] for d in dirs], self.dirs)
		placed = partitions_by_dir(dirs)
		# Six partitions over three empty dirs: two each.
		self.assertEqual(sorted(len(v) for v in placed.values()), [2, 2, 2])
		self.assertEqual(sorted(p for v in placed.values() for _, p in v), list(range(6)))
		for d in dirs:
			self.assertEqual(d["error"], NONE)
			self.assertGreater(d["total"], 0)
			self.assertTrue(0 <= d["usable"] <= d["total"])
			for t in d["topics"]:
				self.assertEqual(t["name"], self.TOPIC)
				for p in t["partitions"]:
					pdir = os.path.join(d["dir"], "%s-%d" % (self.TOPIC, p["partition"]))
					self.assertTrue(os.path.isdir(pdir), pdir)
					self.assertGreater(p["size"], 0)
					self.assertEqual(p["size"], on_disk_size(pdir))
					self.assertEqual(p["lag"], 0)
					self.assertFalse(p["future"])

	def test_every_version_and_the_topic_filter(self):
		with kproto.Conn(h.HOST, self.b.port) as conn:
			_, full = describe_log_dirs(conn, 4)
			where = {p: d["dir"] for d in full for t in d["topics"] for p in [x["partition"] for x in t["partitions"]]}
			for v in range(5):
				err, dirs = describe_log_dirs(conn, v, topics={self.TOPIC: [3]})
				self.assertEqual(err, None if v < 3 else NONE)
				self.assertEqual([d["dir"] for d in dirs], self.dirs)
				self.assertEqual({d["dir"]: [(t["name"], [p["partition"] for p in t["partitions"]])
						for t in d["topics"]] for d in dirs},
					{d: ([(self.TOPIC, [3])] if d == where[3] else []) for d in self.dirs}, "v%d" % v)
				self.assertEqual("total" in dirs[0], v >= 4)
			_, dirs = describe_log_dirs(conn, 1, topics={"no-such-topic": [0]})
			self.assertEqual([d["topics"] for d in dirs], [[], [], []])

	def test_cli_describe(self):
		p = h.samsa_cli("log-dirs", "--describe", "--bootstrap-server", self.b.address, "--topic-list", self.TOPIC)
		self.assertEqual(p.returncode, 0, p.stderr)
		lines = p.stdout.strip().splitlines()
		self.assertEqual(lines[0], "Querying brokers for log directories information")
		self.assertEqual(lines[1], "Received log directory information from brokers 1")
		doc = json.loads(lines[2])
		self.assertEqual(doc["version"], 1)
		self.assertEqual([b["broker"] for b in doc["brokers"]], [1])
		log_dirs = doc["brokers"][0]["logDirs"]
		self.assertEqual([d["logDir"] for d in log_dirs], self.dirs)
		seen = []
		for d in log_dirs:
			self.assertIsNone(d["error"])
			for p in d["partitions"]:
				pdir = os.path.join(d["logDir"], p["partition"])
				self.assertEqual(p["size"], on_disk_size(pdir))
				self.assertEqual(p["offsetLag"], 0)
				self.assertIs(p["isFuture"], False)
				seen.append(p["partition"])
		self.assertEqual(sorted(seen), ["%s-%d" % (self.TOPIC, i) for i in range(6)])
		p = h.samsa_cli("log-dirs", "--describe", "--bootstrap-server", self.b.address, "--broker-list", "7")
		self.assertEqual(p.returncode, 1)
		self.assertIn("do not exist from --broker-list: 7", p.stderr)
		p = h.samsa_cli("log-dirs", "--bootstrap-server", self.b.address)
		self.assertEqual(p.returncode, 2)


class Move(h.ClusterTestCase):
	"""AlterReplicaLogDirs moves a partition between the dirs of one broker while
	a producer keeps writing; afterwards it lives only in the target dir, every
	message reads back in order, and a restart finds it there. A crash during a
	move is simulated by the markers the move leaves: an unfinished copy is
	removed at start, a committed one wins over the stale original."""
	TOPIC = "mv"

	def setUp(self):
		super().setUp()
		self.tmp = tempfile.mkdtemp(prefix="samsa-move-")
		self.addCleanup(shutil.rmtree, self.tmp, True)
		self.d0, self.d1 = os.path.join(self.tmp, "d0"), os.path.join(self.tmp, "d1")
		self.c = self.start_cluster(brokers=1, first_id=1, props={
			"log.dirs": "%s,%s" % (self.d0, self.d1), "log.segment.bytes": "65536"})
		self.b = self.c.broker(1)
		a = AdminClient({"bootstrap.servers": self.b.address})
		for _, f in a.create_topics([NewTopic(self.TOPIC, 1, 1)], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(self.b.address, self.TOPIC, 1, 1)
		self.sent = []
		self.produce(0, 3000)

	def produce(self, first, n):
		# Batches below segment.bytes, which Kafka refuses a batch to exceed.
		p = Producer({"bootstrap.servers": self.b.address, "linger.ms": 5, "batch.size": 16384})
		failed = []
		for i in range(first, first + n):
			p.produce(self.TOPIC, key=b"k%d" % i, value=b"value-%06d" % i * 8, partition=0,
					on_delivery=lambda err, msg: err and failed.append(err))
			self.sent.append((b"k%d" % i, b"value-%06d" % i * 8))
			if i % 500 == 0:
				p.poll(0)
		self.assertEqual(p.flush(30), 0)
		self.assertEqual(failed, [])

	def read_all(self):
		c = Consumer({"bootstrap.servers": self.b.address, "group.id": "mv", "enable.auto.commit": False})
		got = []
		try:
			c.assign([TopicPartition(self.TOPIC, 0, 0)])
			deadline = time.time() + 60
			while time.time() < deadline and len(got) < len(self.sent):
				m = c.poll(1.0)
				if m is None or m.error():
					continue
				got.append((m.offset(), m.key(), m.value()))
		finally:
			c.close()
		return got

	def where(self):
		with kproto.Conn(h.HOST, self.b.port) as conn:
			_, dirs = describe_log_dirs(conn, 4)
		return {d["dir"]: [(t["name"], p["partition"], p["future"]) for t in d["topics"] for p in t["partitions"]
				if t["name"] == self.TOPIC] for d in dirs}

	def test_move_while_producing(self):
		self.assertEqual(self.where(), {self.d0: [(self.TOPIC, 0, False)], self.d1: []})
		with kproto.Conn(h.HOST, self.b.port) as conn:
			self.assertEqual(alter_replica_log_dirs(conn, 1, [("/no/such/dir", {self.TOPIC: [0]})]),
					{(self.TOPIC, 0): LOG_DIR_NOT_FOUND})
			self.assertEqual(alter_replica_log_dirs(conn, 2, [(self.d1, {self.TOPIC: [7]})]),
					{(self.TOPIC, 7): REPLICA_NOT_AVAILABLE})
			# Asking for the dir it is in already changes nothing.
			self.assertEqual(alter_replica_log_dirs(conn, 0, [(self.d0, {self.TOPIC: [0]})]), {(self.TOPIC, 0): NONE})
			self.assertEqual(alter_replica_log_dirs(conn, 2, [(self.d1 + "/", {self.TOPIC: [0]})]),
					{(self.TOPIC, 0): NONE})
		self.produce(3000, 2000)
		h.wait_until(lambda: self.where() == {self.d0: [], self.d1: [(self.TOPIC, 0, False)]}, 60,
				"the partition only in d1")
		h.wait_until(lambda: not os.path.exists(os.path.join(self.d0, "%s-0" % self.TOPIC)) and
				not glob.glob(os.path.join(self.d0, "%s-0.*" % self.TOPIC)), 30, "the old copy removed")
		self.assertGreater(len(glob.glob(os.path.join(self.d1, "%s-0" % self.TOPIC, "*.log"))), 1)
		self.assertEqual(os.listdir(os.path.join(self.d1, "%s-0" % self.TOPIC)).count(".samsa-future"), 0)
		self.produce(5000, 10)
		want = [(i, k, v) for i, (k, v) in enumerate(self.sent)]
		self.assertEqual(self.read_all(), want)
		self.b.restart()
		h.wait_leaders(self.b.address, self.TOPIC, 1, 1)
		self.assertEqual(self.where(), {self.d0: [], self.d1: [(self.TOPIC, 0, False)]})
		self.assertEqual(self.read_all(), want)

	def test_restart_after_a_move_cut_short(self):
		want = [(i, k, v) for i, (k, v) in enumerate(self.sent)]
		src = os.path.join(self.d0, "%s-0" % self.TOPIC)
		copy = os.path.join(self.d1, "%s-0" % self.TOPIC)
		# Crash before the commit: the copy carries the future marker and goes at start.
		self.b.terminate()
		shutil.copytree(src, copy)
		open(os.path.join(copy, ".samsa-future"), "w").close()
		self.b.start()
		h.wait_leaders(self.b.address, self.TOPIC, 1, 1)
		self.assertFalse(os.path.exists(copy))
		self.assertEqual(self.where(), {self.d0: [(self.TOPIC, 0, False)], self.d1: []})
		self.assertEqual(self.read_all(), want)
		# Crash after the commit, before the original was renamed away: the committed copy wins.
		self.b.terminate()
		shutil.copytree(src, copy)
		open(os.path.join(copy, ".samsa-moved"), "w").close()
		self.b.start()
		h.wait_leaders(self.b.address, self.TOPIC, 1, 1)
		self.assertFalse(os.path.exists(src))
		self.assertFalse(os.path.exists(os.path.join(copy, ".samsa-moved")))
		self.assertEqual(self.where(), {self.d0: [], self.d1: [(self.TOPIC, 0, False)]})
		self.assertEqual(self.read_all(), want)


def try_mount(path, size):
	if os.geteuid() != 0:
		return False
	r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
			capture_output=True, timeout=30)
	return r.returncode == 0


def produce_raw(conn, topic, partition, value, acks=-1):
	batch = records.batch([(b"k", value)])
	body = i16(-1) + i16(acks) + i32(15000) + i32(1) + string(topic) + i32(1) + i32(partition)
	body += i32(len(batch)) + batch
	r = conn.request(0, 7, body)
	r.i32()
	r.string()
	r.i32()
	r.i32()
	return r.i16(), struct.unpack(">q", r.take(8))[0]


class DirFailure(h.ClusterTestCase):
	TOPIC = "jbod"

	def setUp(self):
		super().setUp()
		self.tmp = tempfile.mkdtemp(prefix="samsa-jbodfail-")
		self.addCleanup(shutil.rmtree, self.tmp, True)
		self.bad = os.path.join(self.tmp, "bad")
		self.good = os.path.join(self.tmp, "good")
		os.makedirs(self.bad)
		if not try_mount(self.bad, "4m"):
			self.skipTest("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
		self.addCleanup(subprocess.run, ["umount", "-l", self.bad], timeout=30)
		# The tmpfs is the first dir: with both empty, partition 0 lands there.
		self.c = self.start_cluster(brokers=2, first_id=1, props={
			"log.index.size.max.bytes": "65536",
			"message.max.bytes": "300000",
			"replica.fetch.max.bytes": "1048576",
		}, broker_props={1: {"log.dirs": "%s,%s" % (os.path.join(self.bad, "data"), self.good)}})
		self.b1, self.b2 = self.c.broker(1), self.c.broker(2)
		a = AdminClient({"bootstrap.servers": self.c.bootstrap})
		for _, f in a.create_topics([NewTopic(self.TOPIC, 2, replica_assignment=[[1, 2], [1, 2]])],
				request_timeout=20).items():
			f.result(30)
		h.wait_leaders(self.c.bootstrap, self.TOPIC, 2, 1)
		h.wait_until(lambda: all(self.c.partition_state(self.TOPIC, p)["isr"] == [1, 2] for p in (0, 1)), 60,
				"both replicas in sync")

	def metadata_partitions(self, port):
		with kproto.Conn(h.HOST, port) as conn:
			md = conn.metadata_any(9, [self.TOPIC])
		return {p["partition"]: p for t in md["topics"] for p in t["partitions"]}

	def test_only_the_failed_dirs_partitions_go_offline(self):
		with kproto.Conn(h.HOST, self.b1.port) as conn:
			_, dirs = describe_log_dirs(conn, 4)
		placed = partitions_by_dir(dirs)
		self.assertEqual(placed[os.path.join(self.bad, "data")], [(self.TOPIC, 0)])
		self.assertEqual(placed[self.good], [(self.TOPIC, 1)])

		acked = []
		with kproto.Conn(h.HOST, self.b1.port, timeout=30) as conn:
			err = NONE
			for i in range(100):
				value = (b"%06d" % i) * 40000  # 240 KB
				err, base = produce_raw(conn, self.TOPIC, 0, value)
				if err != NONE:
					break
				acked.append((base, value))
			self.assertEqual(err, KAFKA_STORAGE_ERROR)
			self.assertGreater(len(acked), 3)

		# The controller moves partition 0 to broker 2 and lists broker 1 as offline for it.
		def moved():
			p = self.metadata_partitions(self.b2.port)
			return p[0]["leader"] == 2 and p[0].get("offline_replicas") == [1] and p[0]["isr"] == [2]
		h.wait_until(moved, 60, "partition 0 led by broker 2 with broker 1 offline")
		p = self.metadata_partitions(self.b2.port)
		self.assertEqual(p[0]["replicas"], [1, 2])
		self.assertEqual(p[1]["leader"], 1)
		self.assertEqual(p[1]["isr"], [1, 2])
		self.assertEqual(p[1].get("offline_replicas"), [])
		self.assertEqual(self.c.partition_state(self.TOPIC, 0)["isr"], [2])
		self.assertEqual(self.c.partition_state(self.TOPIC, 0)["leader"], 2)
		h.wait_until(lambda: self.c.zk.get_children(self.c.zpath("/log_dir_event_notification")) == [], 30,
				"the log dir event deleted by the controller")

		# The failed dir reports KAFKA_STORAGE_ERROR; the good one still lists its partition.
		with kproto.Conn(h.HOST, self.b1.port) as conn:
			_, dirs = describe_log_dirs(conn, 4)
			self.assertEqual([(d["dir"], d["error"]) for d in dirs],
					[(os.path.join(self.bad, "data"), KAFKA_STORAGE_ERROR), (self.good, NONE)])
			self.assertEqual(dirs[0]["topics"], [])
			self.assertEqual(partitions_by_dir(dirs)[self.good], [(self.TOPIC, 1)])
			# Broker 1 refuses the failed partition but keeps serving the other one.
			self.assertEqual(produce_raw(conn, self.TOPIC, 0, b"late")[0], KAFKA_STORAGE_ERROR)
			err, base1 = produce_raw(conn, self.TOPIC, 1, b"still here")
			self.assertEqual(err, NONE)
		cli = h.samsa_cli("log-dirs", "--describe", "--bootstrap-server", self.c.bootstrap, "--broker-list", "1")
		self.assertEqual(cli.returncode, 0, cli.stderr)
		doc = json.loads(cli.stdout.strip().splitlines()[2])
		self.assertEqual([d["error"] for d in doc["brokers"][0]["logDirs"]],
				["org.apache.kafka.common.errors.KafkaStorageException", None])
		self.assertTrue(self.b1.alive())
		self.assertIn("is offline", self.b1.log_text())

		# Every acknowledged message reads back from the new leader; partition 1 from broker 1.
		c = Consumer({"bootstrap.servers": self.c.bootstrap, "group.id": "jbod", "enable.auto.commit": False,
				"fetch.message.max.bytes": 1000000})
		got = []
		try:
			c.assign([TopicPartition(self.TOPIC, 0, 0), TopicPartition(self.TOPIC, 1, base1)])
			deadline = time.time() + 60
			while time.time() < deadline and len(got) < len(acked) + 1:
				m = c.poll(1.0)
				if m is None or m.error():
					continue
				got.append((m.partition(), m.offset(), m.value()))
		finally:
			c.close()
		self.assertEqual(sorted(got), sorted([(0, o, v) for o, v in acked] + [(1, base1, b"still here")]))


if __name__ == "__main__":
	h.main()
