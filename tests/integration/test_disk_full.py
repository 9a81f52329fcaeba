"""A log directory that runs out of space, as Kafka handles it: the write
that fails gets KAFKA_STORAGE_ERROR, the dir goes offline with every partition
in it (later writes get KAFKA_STORAGE_ERROR too, nothing half-written), the
broker keeps serving from its other dir (a topic created afterwards lands
there and works), and after the operator gives the disk room and restarts the
broker everything acknowledged before reads back. With its only dir failed
the broker halts, as Kafka does. The full dir is a small tmpfs mounted for the
test; where mounting is not allowed the test is skipped and says so."""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
import records  # noqa: E402
from kproto import i16, i32, string  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

NONE = 0
KAFKA_STORAGE_ERROR = 56
TOPIC = "full"


def try_mount(path, size):
	if os.geteuid() != 0:
		return False
	r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
			capture_output=True, timeout=30)
	return r.returncode == 0


class DiskFull(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		self.mnt = tempfile.mkdtemp(prefix="samsa-full-")
		if not try_mount(self.mnt, "4m"):
			shutil.rmtree(self.mnt, ignore_errors=True)
			self.skipTest("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
		self.addCleanup(shutil.rmtree, self.mnt, True)
		self.addCleanup(subprocess.run, ["umount", "-l", self.mnt], timeout=30)
		self.good = tempfile.mkdtemp(prefix="samsa-roomy-")
		self.addCleanup(shutil.rmtree, self.good, True)

	def start(self, dirs):
		# Small index files keep the index preallocation from filling the disk first.
		self.c = self.start_cluster(brokers=1, first_id=1, props={
			"log.dirs": ",".join(dirs),
			"log.index.size.max.bytes": "65536",
			"message.max.bytes": "300000",
		})
		self.b = self.c.broker(1)
		self.create(TOPIC)

	def create(self, topic):
		a = AdminClient({"bootstrap.servers": self.b.address})
		for _, f in a.create_topics([NewTopic(topic, 1, 1)], request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: a.list_topics(topic, timeout=10).topics[topic].partitions[0].leader == 1, 30,
				"a leader")

	def fill(self, conn):
		"""Produce 240 KB messages until the disk is full: the acknowledged (offset, value) pairs."""
		acked = []
		err = NONE
		for i in range(200):
			value = (b"%06d" % i) * 40000  # 240 KB
			err, base = self.produce(conn, value)
			if err != NONE:
				break
			acked.append((base, value))
		self.assertEqual(err, KAFKA_STORAGE_ERROR)
		self.assertGreater(len(acked), 3)
		return acked

	def read_all(self, topic, n):
		c = Consumer({"bootstrap.servers": self.b.address, "group.id": "full", "enable.partition.eof": True,
				"fetch.message.max.bytes": 1000000})
		got = []
		try:
			c.assign([TopicPartition(topic, 0, 0)])
			deadline = time.time() + 30
			while time.time() < deadline and len(got) < n:
				m = c.poll(1.0)
				if m is None or m.error():
					continue
				got.append((m.offset(), m.value()))
		finally:
			c.close()
		return got

	def produce(self, conn, value, topic=TOPIC):
		batch = records.batch([(b"k", value)])
		body = i16(-1) + i16(1) + i32(10000) + i32(1) + string(topic) + i32(1) + i32(0)
		body += i32(len(batch)) + batch
		r = conn.request(0, 7, body)
		r.i32()
		r.string()
		r.i32()
		r.i32()
		return r.i16(), struct.unpack(">q", r.take(8))[0]

	def test_full_dir_goes_offline_the_other_serves_and_nothing_acked_is_lost(self):
		# The tmpfs is the first dir: with both empty, the topic lands there.
		self.start([os.path.join(self.mnt, "data"), self.good])
		with kproto.Conn(h.HOST, self.b.port, timeout=20) as conn:
			acked = self.fill(conn)
			# The dir is offline: later writes are refused too, not half-written.
			h.wait_until(lambda: "is offline" in self.b.log_text(), 30, "the dir taken offline")
			self.assertEqual(self.produce(conn, b"small")[0], KAFKA_STORAGE_ERROR)
		self.assertTrue(self.b.alive())
		self.assertTrue(any("space" in l.lower() or "storage" in l.lower() for l in self.b.log_text().splitlines()))
		# A topic created now goes to the dir that still works.
		self.create("roomy")
		self.assertTrue(os.path.isdir(os.path.join(self.good, "roomy-0")))
		with kproto.Conn(h.HOST, self.b.port, timeout=20) as conn:
			self.assertEqual(self.produce(conn, b"fine", topic="roomy"), (NONE, 0))
		self.assertEqual(self.read_all("roomy", 1), [(0, b"fine")])
		# The operator gives the disk room and restarts: everything acknowledged reads back.
		self.b.terminate()
		r = subprocess.run(["mount", "-o", "remount,size=16m", self.mnt], capture_output=True, timeout=30)
		self.assertEqual(r.returncode, 0, r.stderr)
		self.b.start()
		h.wait_until(lambda: AdminClient({"bootstrap.servers": self.b.address}).list_topics(TOPIC, timeout=10)
				.topics[TOPIC].partitions[0].leader == 1, 60, "the topic led again")
		self.assertEqual(self.read_all(TOPIC, len(acked)), acked)

	def test_broker_halts_when_its_only_dir_fails(self):
		self.start([os.path.join(self.mnt, "data")])
		with kproto.Conn(h.HOST, self.b.port, timeout=20) as conn:
			self.fill(conn)
		h.wait_until(lambda: not self.b.alive(), 30, "the broker to halt")
		self.b.expected_running = False
		self.assertEqual(self.b.proc.returncode, 1)
		self.assertIn("Shutdown broker because all log dirs in", self.b.log_text())


if __name__ == "__main__":
	h.main()
