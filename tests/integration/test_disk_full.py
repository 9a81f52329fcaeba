"""A log directory that runs out of space: the write that fails gets
KAFKA_STORAGE_ERROR for its partition (and so does every later one), nothing
acknowledged before is lost or changed, and the broker keeps serving other
requests. The directory is a small tmpfs mounted for the test; where mounting
is not allowed the test is skipped and says so."""

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
		# Small index files keep the index preallocation from filling the disk first.
		self.c = self.start_cluster(brokers=1, first_id=1, props={
			"log.dirs": os.path.join(self.mnt, "data"),
			"log.index.size.max.bytes": "65536",
			"message.max.bytes": "300000",
		})
		self.b = self.c.broker(1)
		a = AdminClient({"bootstrap.servers": self.b.address})
		for _, f in a.create_topics([NewTopic(TOPIC, 1, 1)], request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: a.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions[0].leader == 1, 30,
				"a leader")

	def produce(self, conn, value):
		batch = records.batch([(b"k", value)])
		body = i16(-1) + i16(1) + i32(10000) + i32(1) + string(TOPIC) + i32(1) + i32(0)
		body += i32(len(batch)) + batch
		r = conn.request(0, 7, body)
		r.i32()
		r.string()
		r.i32()
		r.i32()
		return r.i16(), struct.unpack(">q", r.take(8))[0]

	def test_full_disk_gives_storage_error_and_keeps_what_was_written(self):
		acked = []
		with kproto.Conn(h.HOST, self.b.port, timeout=20) as conn:
			err = NONE
			for i in range(200):
				value = (b"%06d" % i) * 40000  # 240 KB
				err, base = self.produce(conn, value)
				if err != NONE:
					break
				acked.append((base, value))
			self.assertEqual(err, KAFKA_STORAGE_ERROR)
			self.assertGreater(len(acked), 3)
			# The log stays failed: later writes are refused too, not half-written.
			self.assertEqual(self.produce(conn, b"small")[0], KAFKA_STORAGE_ERROR)
		self.assertTrue(self.b.alive())
		self.assertTrue(any("failed" in l.lower() or "storage" in l.lower() or "space" in l.lower()
				for l in self.b.log_text().splitlines()))
		# Everything acknowledged reads back.
		c = Consumer({"bootstrap.servers": self.b.address, "group.id": "full", "enable.partition.eof": True,
				"fetch.message.max.bytes": 1000000})
		got = []
		try:
			c.assign([TopicPartition(TOPIC, 0, 0)])
			deadline = time.time() + 30
			while time.time() < deadline and len(got) < len(acked):
				m = c.poll(1.0)
				if m is None or m.error():
					continue
				got.append((m.offset(), m.value()))
		finally:
			c.close()
		self.assertEqual(got, acked)


if __name__ == "__main__":
	h.main()
