"""Topic configs from /config/topics/<t> govern the topic's log and its produce
path: segment.bytes rolls segments, retention.bytes and retention.ms delete
whole old segments (renamed .deleted first, unlinked after file.delete.delay.ms)
and advance the log start offset, compression.type re-compresses batches,
message.timestamp.type=LogAppendTime stamps them, max.message.bytes bounds
them; and the overrides still hold after a restart."""

import glob
import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import acked  # noqa: E402
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i32, string  # noqa: E402

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME  # noqa: E402

BROKER_ID = 1
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


class TopicConfig(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=BROKER_ID, props={
			"log.retention.check.interval.ms": "300",
		})

	def setUp(self):
		super().setUp()
		self.b = self.shared.broker(BROKER_ID)

	# -- helpers -------------------------------------------------------------------

	def create(self, name, config, partitions=1):
		h.create_topic(self.b.address, name, partitions, BROKER_ID, config=config)

	def produce(self, topic, values, **conf):
		"""One batch per message unless conf says otherwise; returns the acknowledged offsets."""
		cfg = {"bootstrap.servers": self.b.address, "linger.ms": 0, "batch.num.messages": 1, "acks": 1}
		cfg.update(conf)
		p = Producer(cfg)
		acked, errors = [], []

		def dr(err, msg):
			if err:
				errors.append(err)
			else:
				acked.append(msg.offset())
		for v in values:
			p.produce(topic, v, key=b"k", on_delivery=dr)
			p.poll(0)
		self.assertEqual(p.flush(60), 0)
		return acked, errors

	def watermarks(self, topic, partition=0):
		c = Consumer({"bootstrap.servers": self.b.address, "group.id": "tc"})
		try:
			return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
		finally:
			c.close()

	def read_all(self, topic, partition=0, timeout=60):
		out = []
		for m in acked.messages_to_end(self.b.address, "tc", [TopicPartition(topic, partition, -2)],  # OFFSET_BEGINNING
				timeout, conf={"auto.offset.reset": "earliest"}):
			if m.error():
				raise AssertionError("consume error: %s" % m.error())
			out.append(m)
		return out

	def pdir(self, topic, partition=0):
		return os.path.join(self.b.props["log.dirs"], "%s-%d" % (topic, partition))

	def raw_first_batch(self, topic, offset=0):
		"""The first batch a Fetch v4 returns at offset, as bytes."""
		c = kproto.Conn(h.HOST, self.b.port, timeout=20)
		try:
			body = i32(-1) + i32(0) + i32(1) + i32(1 << 20) + kproto.i8(0)
			body += i32(1) + string(topic) + i32(1) + i32(0) + struct.pack(">q", offset) + i32(1 << 20)
			r = c.request(1, 4, body)
			r.i32()
			self.assertEqual(r.i32(), 1)
			r.string()
			self.assertEqual(r.i32(), 1)
			r.i32()
			self.assertEqual(r.i16(), 0)
			r.take(16)
			n_ab = r.i32()
			r.take(16 * max(n_ab, 0))
			n = r.i32()
			data = r.take(n)
		finally:
			c.close()
		size = struct.unpack(">i", data[8:12])[0] + 12
		return data[:size]

	# -- cases ---------------------------------------------------------------------

	def test_segment_bytes_rolls_segments(self):
		topic = "tc-roll"
		self.create(topic, {"segment.bytes": "4096"})
		acked, errors = self.produce(topic, [b"%04d" % i + b"x" * 96 for i in range(300)])
		self.assertEqual((len(acked), errors), (300, []))
		logs = sorted(glob.glob(os.path.join(self.pdir(topic), "*.log")))
		self.assertGreater(len(logs), 5, logs)
		for path in logs:
			name = os.path.basename(path)
			self.assertRegex(name, r"^\d{20}\.log$")
			self.assertLessEqual(os.path.getsize(path), 4096, name)
			for ext in (".index", ".timeindex"):
				self.assertTrue(os.path.exists(path[:-4] + ext), name + ext)
		# Every segment's name is the offset of its first batch.
		bases = [int(os.path.basename(p)[:20]) for p in logs]
		self.assertEqual(bases[0], 0)
		self.assertEqual(bases, sorted(set(bases)))
		got = self.read_all(topic)
		self.assertEqual([m.offset() for m in got], list(range(300)))
		self.assertEqual([m.value()[:4] for m in got], [b"%04d" % i for i in range(300)])

	def test_retention_bytes_deletes_oldest_segments(self):
		topic = "tc-retention-bytes"
		self.create(topic, {"segment.bytes": "4096", "retention.bytes": "8192", "file.delete.delay.ms": "1000"})
		acked, errors = self.produce(topic, [b"%04d" % i + b"y" * 96 for i in range(400)])
		self.assertEqual((len(acked), errors), (400, []))
		h.wait_until(lambda: self.watermarks(topic)[0] > 0, 30, "log start offset to advance")
		# A check that ran while the producer was still writing may be followed by another
		# (every 300 ms): read once the log start has stopped moving.
		seen = [None]

		def settled():
			low_now = self.watermarks(topic)[0]
			same, seen[0] = low_now == seen[0], low_now
			time.sleep(1)
			return same
		h.wait_until(settled, 30, "the log start offset to settle")
		low, high = self.watermarks(topic)
		self.assertEqual(high, 400)
		# What is left starts at a segment boundary and runs to the end without gaps.
		got = self.read_all(topic)
		self.assertEqual([m.offset() for m in got], list(range(low, 400)))
		self.assertEqual(int(sorted(glob.glob(os.path.join(self.pdir(topic), "*.log")))[0][-24:-4]), low)
		# Deleted segments are renamed first and unlinked after file.delete.delay.ms.
		h.wait_until(lambda: not glob.glob(os.path.join(self.pdir(topic), "*.deleted")), 30,
				".deleted files to be removed")
		total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(self.pdir(topic), "*.log")))
		self.assertLessEqual(total, 8192 + 4096)

	def test_retention_ms_deletes_expired_segments(self):
		topic = "tc-retention-ms"
		self.create(topic, {"retention.ms": "3000", "segment.bytes": "4096", "file.delete.delay.ms": "0"})
		acked, errors = self.produce(topic, [b"%04d" % i + b"z" * 96 for i in range(100)])
		self.assertEqual((len(acked), errors), (100, []))
		self.assertEqual(self.watermarks(topic), (0, 100))
		# All of it expires; Kafka rolls the active segment too, so the log start reaches the end.
		h.wait_until(lambda: self.watermarks(topic)[0] == 100, 60, "every segment to expire")
		self.assertEqual(self.read_all(topic, timeout=10), [])
		acked, _ = self.produce(topic, [b"after"])
		self.assertEqual(acked, [100])
		self.assertEqual([m.value() for m in self.read_all(topic)], [b"after"])

	def test_compression_type_recompresses(self):
		for codec, producer_codec in (("zstd", "none"), ("gzip", "lz4"), ("uncompressed", "snappy")):
			with self.subTest(codec=codec):
				topic = "tc-codec-%s" % codec
				self.create(topic, {"compression.type": codec})
				values = [b"value-%d-" % i + b"abc" * 50 for i in range(50)]
				acked, errors = self.produce(topic, values, **{"compression.codec": producer_codec,
						"batch.num.messages": 50, "linger.ms": 100})
				self.assertEqual((len(acked), errors), (50, []))
				batch = self.raw_first_batch(topic)
				attrs = struct.unpack(">h", batch[21:23])[0]
				want = 0 if codec == "uncompressed" else CODEC_IDS[codec]
				self.assertEqual(attrs & 7, want)
				got = self.read_all(topic)
				self.assertEqual([m.value() for m in got], values)
				self.assertEqual([m.key() for m in got], [b"k"] * 50)

	def test_log_append_time(self):
		topic = "tc-append-time"
		self.create(topic, {"message.timestamp.type": "LogAppendTime"})
		before = int(time.time() * 1000)
		p = Producer({"bootstrap.servers": self.b.address, "linger.ms": 0})
		p.produce(topic, b"v", timestamp=1000)
		self.assertEqual(p.flush(30), 0)
		after = int(time.time() * 1000)
		(m,) = self.read_all(topic)
		ts_type, ts = m.timestamp()
		self.assertEqual(ts_type, TIMESTAMP_LOG_APPEND_TIME)
		self.assertTrue(before - 1000 <= ts <= after + 1000, (before, ts, after))

	def test_max_message_bytes(self):
		topic = "tc-max-bytes"
		self.create(topic, {"max.message.bytes": "2000"})
		acked, errors = self.produce(topic, [b"x" * 5000], **{"message.max.bytes": 100000})
		self.assertEqual(acked, [])
		self.assertEqual([e.code() for e in errors], [10])  # MSG_SIZE_TOO_LARGE
		acked, errors = self.produce(topic, [b"x" * 1000])
		self.assertEqual((acked, errors), ([0], []))

	def test_overrides_hold_after_restart(self):
		topic = "tc-restart"
		self.create(topic, {"segment.bytes": "4096"})
		self.produce(topic, [b"a" * 100 for _ in range(10)])
		self.b.terminate()
		self.b.start()
		h.wait_until(lambda: self.watermarks(topic)[1] == 10, 60, "topic back after restart")
		before = len(glob.glob(os.path.join(self.pdir(topic), "*.log")))
		acked, errors = self.produce(topic, [b"b" * 100 for _ in range(200)])
		self.assertEqual((len(acked), errors), (200, []))
		after = len(glob.glob(os.path.join(self.pdir(topic), "*.log")))
		self.assertGreater(after - before, 3)


if __name__ == "__main__":
	h.main()
