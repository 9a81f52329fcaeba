"""Bad data in Produce and Fetch, sent as raw protocol: each gets Kafka's error code
for its partition, nothing already in the log is lost or changed, and the broker
keeps serving (a good produce and a real consumer afterwards)."""

import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
import records  # noqa: E402
from kproto import i16, i32, string  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

TOPIC = "bad-records"

# Kafka error codes
NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
INVALID_REQUIRED_ACKS = 21
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
INVALID_RECORD = 87


def i64(v):
	return struct.pack(">q", v)


class BadRecords(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		# A small message.max.bytes makes "too large" cheap to send.
		cls.start_shared_cluster(brokers=1, first_id=1, props={"message.max.bytes": "100000"})
		b = cls.shared.broker(1)
		h.create_topic(b.address, TOPIC, 2, 1)

	def setUp(self):
		super().setUp()
		self.b = self.shared.broker(1)
		self.c = kproto.Conn(h.HOST, self.b.port, timeout=20)
		self.addCleanup(self.c.close)

	# -- raw requests ------------------------------------------------------------

	def produce(self, batch_bytes, topic=TOPIC, partition=0, acks=1, version=7):
		"""Produce v3-v7; returns (error, base_offset)."""
		body = i16(-1) + i16(acks) + i32(10000) + i32(1) + string(topic) + i32(1) + i32(partition)
		body += i32(len(batch_bytes)) + batch_bytes
		r = self.c.request(0, version, body)
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.string(), topic)
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.i32(), partition)
		err = r.i16()
		base = struct.unpack(">q", r.take(8))[0]
		return err, base

	def fetch(self, offset, partition=0, max_wait=0, topic=TOPIC):
		"""Fetch v4; returns (error, high_watermark, records bytes)."""
		body = i32(-1) + i32(max_wait) + i32(1) + i32(1 << 20) + kproto.i8(0)
		body += i32(1) + string(topic) + i32(1) + i32(partition) + i64(offset) + i32(1 << 20)
		r = self.c.request(1, 4, body)
		r.i32()  # throttle
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.string(), topic)
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.i32(), partition)
		err = r.i16()
		hw = struct.unpack(">q", r.take(8))[0]
		r.take(8)  # last stable offset
		n_aborted = r.i32()
		r.take(16 * max(n_aborted, 0))
		n = r.i32()
		return err, hw, r.take(n) if n > 0 else b""

	def good_batch(self, tag, n=3):
		return records.batch([(b"k%d" % i, b"%s-%d" % (tag.encode(), i)) for i in range(n)])

	def end_offset(self, partition=0):
		err, hw, _ = self.fetch(0, partition)
		self.assertEqual(err, NONE)
		return hw

	def assert_unchanged_and_serving(self, partition, before_hw, before_bytes):
		"""The partition holds exactly what it did, and a good produce still works."""
		err, hw, data = self.fetch(0, partition)
		self.assertEqual((err, hw), (NONE, before_hw))
		self.assertEqual(data, before_bytes)
		err, base = self.produce(self.good_batch("after"), partition=partition)
		self.assertEqual((err, base), (NONE, before_hw))
		self.assertTrue(self.b.alive())

	def snapshot(self, partition=0):
		err, hw, data = self.fetch(0, partition)
		self.assertEqual(err, NONE)
		return hw, data

	# -- cases -------------------------------------------------------------------

	def test_good_batch_reads_back_byte_exact(self):
		before = self.end_offset(1)
		b = self.good_batch("exact", 5)
		err, base = self.produce(b, partition=1)
		self.assertEqual((err, base), (NONE, before))
		err, hw, data = self.fetch(before, partition=1)
		self.assertEqual((err, hw), (NONE, before + 5))
		# The broker set the base offset (0..8) and the partition leader epoch (12..16);
		# every other byte, the CRC included, is the producer's.
		self.assertEqual(data[8:12], b[8:12])
		self.assertEqual(data[16:], b[16:])
		self.assertEqual(struct.unpack(">q", data[:8])[0], before)

	def test_wrong_crc(self):
		hw, data = self.snapshot()
		b = records.batch([(b"k", b"v")], crc=12345)
		self.assertEqual(self.produce(b)[0], CORRUPT_MESSAGE)
		self.assert_unchanged_and_serving(0, hw, data)

	def test_flipped_byte_in_records(self):
		hw, data = self.snapshot()
		b = bytearray(self.good_batch("flip"))
		b[-3] ^= 0x40
		self.assertEqual(self.produce(bytes(b))[0], CORRUPT_MESSAGE)
		self.assert_unchanged_and_serving(0, *self.snapshot())

	def test_length_field_past_the_data(self):
		hw, data = self.snapshot()
		b = bytearray(self.good_batch("len"))
		struct.pack_into(">i", b, 8, len(b) + 1000)
		err, _ = self.produce(bytes(b))
		self.assertIn(err, (CORRUPT_MESSAGE, INVALID_RECORD))
		self.assert_unchanged_and_serving(0, *self.snapshot())

	def test_record_count_disagrees(self):
		b = records.batch([(b"k", b"v"), (b"k2", b"v2")], count=5)
		self.assertEqual(self.produce(b)[0], INVALID_RECORD)
		self.assert_unchanged_and_serving(0, *self.snapshot())

	def test_truncated_batch(self):
		b = self.good_batch("cut")[:40]
		err, _ = self.produce(b)
		self.assertIn(err, (CORRUPT_MESSAGE, INVALID_RECORD))
		self.assert_unchanged_and_serving(0, *self.snapshot())

	def test_old_magic(self):
		# A v1 message (magic 1) in Produce v7: only v2 batches are allowed from v3 on.
		msg = struct.pack(">bbq", 1, 0, 1_700_000_000_000) + i32(-1) + i32(1) + b"v"
		crc = __import__("zlib").crc32(msg)
		entry = struct.pack(">I", crc) + msg
		legacy = i64(0) + i32(len(entry)) + entry
		err, _ = self.produce(legacy)
		self.assertIn(err, (INVALID_RECORD, UNSUPPORTED_FOR_MESSAGE_FORMAT, CORRUPT_MESSAGE))
		self.assert_unchanged_and_serving(0, *self.snapshot())

	def test_message_too_large(self):
		b = records.batch([(b"k", b"x" * 150000)])
		self.assertEqual(self.produce(b)[0], MESSAGE_TOO_LARGE)
		self.assert_unchanged_and_serving(0, *self.snapshot())

	def test_unknown_topic(self):
		err, base = self.produce(self.good_batch("nowhere"), topic="no-such-topic")
		self.assertEqual((err, base), (UNKNOWN_TOPIC_OR_PARTITION, -1))
		err, _, _ = self.fetch(0, topic="no-such-topic")
		self.assertEqual(err, UNKNOWN_TOPIC_OR_PARTITION)
		err, _ = self.produce(self.good_batch("nowhere"), partition=99)
		self.assertEqual(err, UNKNOWN_TOPIC_OR_PARTITION)

	def test_invalid_acks(self):
		err, _ = self.produce(self.good_batch("acks"), acks=2)
		self.assertEqual(err, INVALID_REQUIRED_ACKS)
		self.assert_unchanged_and_serving(0, *self.snapshot())

	def test_absurd_fetch_offsets(self):
		hw = self.end_offset()
		for off in (hw + 1, 1 << 62, -5):
			err, got_hw, data = self.fetch(off)
			self.assertEqual((err, data), (OFFSET_OUT_OF_RANGE, b""), "offset %d" % off)
		# At the end exactly: no data and no error, after max_wait.
		t0 = time.time()
		err, _, data = self.fetch(hw, max_wait=300)
		self.assertEqual((err, data), (NONE, b""))
		self.assertGreaterEqual(time.time() - t0, 0.25)
		self.assert_unchanged_and_serving(0, *self.snapshot())

	def test_waiting_fetch_wakes_on_append(self):
		hw = self.end_offset(1)
		waiter = kproto.Conn(h.HOST, self.b.port, timeout=20)
		self.addCleanup(waiter.close)
		body = i32(-1) + i32(10000) + i32(1) + i32(1 << 20) + kproto.i8(0)
		body += i32(1) + string(TOPIC) + i32(1) + i32(1) + i64(hw) + i32(1 << 20)
		corr = waiter.next_corr
		waiter.next_corr += 1
		waiter.send_raw(kproto.frame(kproto.request_header(1, 4, corr) + body))
		time.sleep(0.3)
		t0 = time.time()
		self.assertEqual(self.produce(self.good_batch("wake"), partition=1)[0], NONE)
		r = kproto.Reader(waiter.recv_frame(10))
		self.assertEqual(r.i32(), corr)
		self.assertLess(time.time() - t0, 5, "the fetch waited for max_wait instead of the append")

	def test_consumer_still_reads_everything(self):
		c = Consumer({"bootstrap.servers": self.b.address, "group.id": "bad-records",
				"enable.partition.eof": True})
		try:
			c.assign([TopicPartition(TOPIC, 0, 0)])
			n = 0
			while True:
				m = c.poll(10)
				self.assertIsNotNone(m)
				if m.error():
					self.assertEqual(m.error().code(), -191)
					break
				self.assertEqual(m.offset(), n)
				n += 1
			self.assertEqual(n, self.end_offset())
		finally:
			c.close()


if __name__ == "__main__":
	unittest.main()
