"""The log survives what brokers go through: kill -9 in the middle of an acks=1
produce stream (every acknowledged message is there after the restart, at the
offset it was acknowledged with), a corrupted byte in the tail of a segment (cut
off on restart, with a log line saying how much), and topic deletion (the
directories go, and the name can be used again)."""

import os
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

BROKER_ID = 1


class Durability(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		self.c = self.start_cluster(brokers=1, first_id=BROKER_ID)
		self.b = self.c.broker(BROKER_ID)

	def admin(self):
		return AdminClient({"bootstrap.servers": self.b.address})

	def create(self, name, partitions):
		h.create_topic(self.b.address, name, partitions, BROKER_ID)

	def wait_led(self, name, partitions):
		h.wait_leaders(self.b.address, name, partitions, BROKER_ID)

	def read_partition(self, topic, partition, timeout=60):
		"""Every (offset, value) of a partition, from the beginning to the end."""
		c = Consumer({"bootstrap.servers": self.b.address, "group.id": "dur",
				"enable.partition.eof": True, "enable.auto.commit": False})
		out = []
		try:
			c.assign([TopicPartition(topic, partition, 0)])
			deadline = time.time() + timeout
			while time.time() < deadline:
				m = c.poll(1.0)
				if m is None:
					continue
				if m.error():
					if m.error().code() == -191:  # _PARTITION_EOF
						break
					raise AssertionError("consume error: %s" % m.error())
				out.append((m.offset(), m.value()))
		finally:
			c.close()
		return out

	def start_after_kill(self):
		# The killed broker's ephemeral znode lives until its session times out (6 s here);
		# like Kafka, a new process with the same id cannot register before that.
		h.wait_until(lambda: not self.b.registered(), 60, "old registration to expire")
		self.b.start()

	def partition_dir(self, topic, partition):
		return os.path.join(self.b.props["log.dirs"], "%s-%d" % (topic, partition))

	def test_kill_9_loses_no_acknowledged_message(self):
		topic = "dur-kill"
		self.create(topic, 4)
		acked = {}  # (partition, offset) -> value
		lock = threading.Lock()
		stop = threading.Event()

		def report(err, msg):
			if err is None:
				with lock:
					acked[(msg.partition(), msg.offset())] = msg.value()

		p = Producer({"bootstrap.servers": self.b.address, "acks": 1, "linger.ms": 2,
				"message.timeout.ms": 5000, "retries": 0})

		def produce():
			i = 0
			while not stop.is_set():
				try:
					p.produce(topic, b"m-%08d" % i, partition=i % 4, on_delivery=report)
					i += 1
				except BufferError:
					pass
				p.poll(0)
		t = threading.Thread(target=produce)
		t.start()
		h.wait_until(lambda: len(acked) >= 20000, 60, "20000 acknowledged messages")
		self.b.kill()  # SIGKILL while the producer keeps going
		time.sleep(0.5)
		stop.set()
		t.join()
		p.flush(10)
		with lock:
			acked_now = dict(acked)
		self.assertGreaterEqual(len(acked_now), 20000)
		self.start_after_kill()
		self.wait_led(topic, 4)
		for part in range(4):
			got = dict(self.read_partition(topic, part))
			want = {o: v for (pp, o), v in acked_now.items() if pp == part}
			missing = [o for o in want if got.get(o) != want[o]]
			self.assertEqual(missing[:10], [], "partition %d: acknowledged offsets lost or changed" % part)
			# Offsets are dense: nothing but whole batches was ever written.
			self.assertEqual(sorted(got), list(range(len(got))))
		self.assertIn("was not shut down cleanly", self.b.log_text())
		# What recovery left on disk passes the offline checker too.
		self.assertIsNone(self.b.terminate())
		dirs = [self.partition_dir(topic, part) for part in range(4)]
		r = h.samsa_cli("dump-log", "--verify", "--files", ",".join(dirs), timeout=120)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-4000:])
		self.assertGreaterEqual(int(r.stdout.split(" records,")[0].split()[-1]), len(acked_now))

	def test_corrupt_tail_is_truncated_on_restart(self):
		topic = "dur-corrupt"
		self.create(topic, 1)
		p = Producer({"bootstrap.servers": self.b.address, "linger.ms": 0})
		for i in range(10):
			p.produce(topic, b"v%d" % i, partition=0)
			p.flush(10)  # one batch each
		self.assertEqual(len(self.read_partition(topic, 0)), 10)
		self.b.kill()
		seg = os.path.join(self.partition_dir(topic, 0), "%020d.log" % 0)
		data = bytearray(open(seg, "rb").read())
		# Walk to the last batch: 8-byte base offset, 4-byte length.
		pos, batches = 0, []
		while pos + 12 <= len(data):
			base, length = struct.unpack(">qi", data[pos:pos + 12])
			batches.append((pos, base, length + 12))
			pos += length + 12
		self.assertEqual(len(batches), 10)
		last_pos, last_base, last_size = batches[-1]
		data[last_pos + last_size - 2] ^= 0xFF  # inside the last record, covered by the CRC
		with open(seg, "wb") as f:
			f.write(data)
		self.start_after_kill()
		self.wait_led(topic, 1)
		log = self.b.log_text()
		self.assertRegex(log, r"recovery truncated %d bytes of \S+%020d\.log at byte %d"
				% (last_size, 0, last_pos))
		self.assertEqual(os.path.getsize(seg), last_pos)
		got = self.read_partition(topic, 0)
		self.assertEqual(got, [(i, b"v%d" % i) for i in range(9)])
		# The log carries on after the cut: the next message takes offset 9.
		p = Producer({"bootstrap.servers": self.b.address})
		p.produce(topic, b"after", partition=0)
		self.assertEqual(p.flush(20), 0)
		self.assertEqual(self.read_partition(topic, 0)[-1], (9, b"after"))

	def test_delete_removes_directories_and_name_is_reusable(self):
		topic = "dur-delete"
		self.create(topic, 3)
		p = Producer({"bootstrap.servers": self.b.address})
		for i in range(30):
			p.produce(topic, b"old-%d" % i, partition=i % 3)
		self.assertEqual(p.flush(20), 0)
		dirs = [self.partition_dir(topic, i) for i in range(3)]
		self.assertTrue(all(os.path.isdir(d) for d in dirs))
		a = self.admin()
		for _, f in a.delete_topics([topic], request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: not any(os.path.exists(d) for d in dirs), 60, "partition dirs removed")
		h.wait_until(lambda: not self.c.zk.exists(self.c.zpath("/brokers/topics/" + topic)), 60,
			"topic znode removed")
		self.create(topic, 3)
		p.produce(topic, b"new", partition=1)
		self.assertEqual(p.flush(20), 0)
		self.assertEqual(self.read_partition(topic, 1), [(0, b"new")])
		self.assertEqual(self.read_partition(topic, 0), [])

	def test_clean_restart_keeps_everything_and_skips_recovery(self):
		topic = "dur-clean"
		self.create(topic, 2)
		p = Producer({"bootstrap.servers": self.b.address})
		for i in range(500):
			p.produce(topic, b"c-%d" % i, partition=i % 2)
		self.assertEqual(p.flush(20), 0)
		self.b.terminate()
		root = self.b.props["log.dirs"]
		self.assertTrue(os.path.exists(os.path.join(root, ".kafka_cleanshutdown")))
		rp = open(os.path.join(root, "recovery-point-offset-checkpoint")).read().split("\n")
		self.assertEqual(rp[0], "0")
		self.assertIn("%s 0 250" % topic, rp)
		self.assertIn("%s 1 250" % topic, rp)
		meta = open(os.path.join(root, "meta.properties")).read()
		self.assertIn("broker.id=%d\n" % BROKER_ID, meta)
		self.assertIn("version=0\n", meta)
		self.b.start()
		self.wait_led(topic, 2)
		self.assertFalse(os.path.exists(os.path.join(root, ".kafka_cleanshutdown")))
		self.assertEqual([v for _, v in self.read_partition(topic, 1)], [b"c-%d" % i for i in range(1, 500, 2)])


if __name__ == "__main__":
	unittest.main()
