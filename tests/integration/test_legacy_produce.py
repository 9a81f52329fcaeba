"""Produce v0, v1 and v2 with magic 0 and magic 1 message sets, sent as raw
protocol: plain, gzip- and snappy-wrapped sets are converted to magic 2 on
append and read back with confluent-kafka with their keys, values, offsets and
timestamps (CreateTime keeps magic 1's, magic 0 has none; LogAppendTime stamps
the broker's), in the producer's codec or the topic's compression.type.  Bad
sets (CRC, truncation, nested compression, timestamps out of range) get
Kafka's error codes, move nothing, and the broker keeps serving.  kafka-python
pinned to old api_versions produces magic 0/1 for real."""

import gzip
import os
import struct
import sys
import time
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i16, i32, string  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

NONE = 0
CORRUPT_MESSAGE = 2
INVALID_TIMESTAMP = 32
INVALID_RECORD = 87

GZIP = 1
SNAPPY = 2

TOPIC = "legacy"             # CreateTime, compression.type=producer
TOPIC_LAT = "legacy-lat"     # LogAppendTime
TOPIC_GZ = "legacy-gz"       # compression.type=gzip
TOPIC_TS = "legacy-ts"       # message.timestamp.before/after.max.ms = 1 hour
TS = (int(time.time()) - 600) * 1000


def i64(v):
	return struct.pack(">q", v)


def message(magic, key, value, ts=None, attrs=0, offset=0):
	"""One legacy message with its offset and size prefix."""
	body = struct.pack(">bb", magic, attrs)
	if magic == 1:
		body += i64(ts)
	for b in (key, value):
		body += i32(-1) if b is None else i32(len(b)) + b
	entry = struct.pack(">I", zlib.crc32(body)) + body
	return i64(offset) + i32(len(entry)) + entry


def snappy_literal(data):
	"""A valid snappy block made only of literals (no compressor module here)."""
	out = bytearray()
	n = len(data)
	while True:  # uncompressed length, uvarint
		b = n & 0x7F
		n >>= 7
		out.append(b | 0x80 if n else b)
		if not n:
			break
	for i in range(0, len(data), 60):
		chunk = data[i:i + 60]
		out.append((len(chunk) - 1) << 2)
		out += chunk
	return bytes(out)


def snappy_xerial(data):
	"""snappy-java's framing, as the Java producer wrote magic 0/1 snappy."""
	block = snappy_literal(data)
	return b"\x82SNAPPY\x00" + i32(1) + i32(1) + i32(len(block)) + block


def compress(codec, data):
	return gzip.compress(data) if codec == GZIP else snappy_xerial(data)


def wrapper(magic, codec, inner, ts=None, offset=0):
	return message(magic, None, compress(codec, inner), ts=ts, attrs=codec, offset=offset)


class LegacyProduce(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=1)
		b = cls.shared.broker(1)
		h.create_topic(b.address, TOPIC, 1, 1)
		h.create_topic(b.address, TOPIC_LAT, 1, 1, config={"message.timestamp.type": "LogAppendTime"})
		h.create_topic(b.address, TOPIC_GZ, 1, 1, config={"compression.type": "gzip"})
		h.create_topic(b.address, TOPIC_TS, 1, 1, config={"message.timestamp.before.max.ms": "3600000",
				"message.timestamp.after.max.ms": "3600000"})

	def setUp(self):
		super().setUp()
		self.b = self.shared.broker(1)
		self.c = kproto.Conn(h.HOST, self.b.port, timeout=20)
		self.addCleanup(self.c.close)

	# -- raw requests ------------------------------------------------------------

	def produce(self, version, data, topic=TOPIC, partition=0):
		"""Produce v0-v2; returns (error, base_offset, log_append_time)."""
		body = i16(1) + i32(10000) + i32(1) + string(topic) + i32(1) + i32(partition)
		body += i32(len(data)) + data
		r = self.c.request(0, version, body)
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.string(), topic)
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.i32(), partition)
		err = r.i16()
		base = struct.unpack(">q", r.take(8))[0]
		lat = struct.unpack(">q", r.take(8))[0] if version >= 2 else None
		if version >= 1:
			r.i32()  # throttle time
		self.assertEqual(r.pos, len(r.data))
		return err, base, lat

	def fetch(self, offset, topic=TOPIC, partition=0):
		"""Fetch v4; returns (error, high watermark, records bytes)."""
		body = i32(-1) + i32(0) + i32(1) + i32(1 << 20) + kproto.i8(0)
		body += i32(1) + string(topic) + i32(1) + i32(partition) + i64(offset) + i32(1 << 20)
		r = self.c.request(1, 4, body)
		r.i32()
		self.assertEqual(r.i32(), 1)
		r.string()
		self.assertEqual(r.i32(), 1)
		r.i32()
		err = r.i16()
		hw = struct.unpack(">q", r.take(8))[0]
		r.take(8)
		r.take(16 * max(r.i32(), 0))
		n = r.i32()
		return err, hw, r.take(n) if n > 0 else b""

	def end_offset(self, topic=TOPIC):
		err, hw, _ = self.fetch(0, topic)
		self.assertEqual(err, NONE)
		return hw

	def batches(self, offset, topic):
		"""(base offset, magic, codec, record count) of each batch from offset."""
		_, _, data = self.fetch(offset, topic)
		out = []
		pos = 0
		while pos + 61 <= len(data):
			base, length = struct.unpack_from(">qi", data, pos)
			magic = data[pos + 16]
			attrs = struct.unpack_from(">h", data, pos + 21)[0]
			count = struct.unpack_from(">i", data, pos + 57)[0]
			out.append((base, magic, attrs & 7, count))
			pos += 12 + length
		return out

	def consume(self, topic, offset, n):
		"""n messages from offset with confluent-kafka: [(offset, key, value, (ts type, ts))]."""
		c = Consumer({"bootstrap.servers": self.b.address, "group.id": "legacy-%s" % topic,
				"enable.auto.commit": False, "fetch.wait.max.ms": 100})
		try:
			c.assign([TopicPartition(topic, 0, offset)])
			got = []
			deadline = time.monotonic() + 30
			while len(got) < n and time.monotonic() < deadline:
				m = c.poll(0.5)
				if m is None or m.error():
					continue
				got.append((m.offset(), m.key(), m.value(), m.timestamp()))
			return got
		finally:
			c.close()

	def assert_rejected(self, version, data, want, topic=TOPIC):
		"""The set gets want, the log end does not move, and the broker still takes a good set."""
		before = self.end_offset(topic)
		err, base, _ = self.produce(version, data, topic)
		self.assertEqual((err, base), (want, -1))
		self.assertEqual(self.end_offset(topic), before)
		self.assertTrue(self.b.alive())
		err, base, _ = self.produce(version, message(1 if version >= 1 else 0, b"ok", b"after", ts=TS), topic)
		self.assertEqual((err, base), (NONE, before))

	# -- accepted ------------------------------------------------------------------

	def test_plain_sets_every_version(self):
		for version in (0, 1, 2):
			for magic in (0, 1):
				with self.subTest(version=version, magic=magic):
					start = self.end_offset()
					data = b"".join(message(magic, b"k%d" % i, b"v%d-%d-%d" % (version, magic, i),
							ts=TS + i, offset=i) for i in range(3))
					data += message(magic, None, b"null-key", ts=TS + 3)
					data += message(magic, b"null-value", None, ts=TS + 4)
					err, base, lat = self.produce(version, data)
					self.assertEqual((err, base), (NONE, start))
					if version >= 2:
						self.assertEqual(lat, -1)  # CreateTime topic
					self.assertEqual(self.batches(start, TOPIC), [(start, 2, 0, 5)])
					got = self.consume(TOPIC, start, 5)
					want_ts = [TS + i if magic == 1 else -1 for i in range(5)]
					self.assertEqual([g[0] for g in got], list(range(start, start + 5)))
					self.assertEqual([g[1] for g in got], [b"k0", b"k1", b"k2", None, b"null-value"])
					self.assertEqual([g[2] for g in got], [b"v%d-%d-%d" % (version, magic, i)
							for i in range(3)] + [b"null-key", None])
					self.assertEqual([g[3][1] for g in got], want_ts)

	def test_wrapped_sets(self):
		for version in (0, 1, 2):
			for magic in (0, 1):
				for codec in (GZIP, SNAPPY):
					with self.subTest(version=version, magic=magic, codec=codec):
						start = self.end_offset()
						# Magic 1 inner offsets are relative, the wrapper has the last one.
						inner = b"".join(message(magic, b"wk%d" % i, b"wv%d" % i, ts=TS + 10 * i, offset=i)
								for i in range(4))
						data = wrapper(magic, codec, inner, ts=TS + 30, offset=3)
						data += message(magic, b"tail", b"plain-after-wrapper", ts=TS + 40, offset=4)
						err, base, _ = self.produce(version, data)
						self.assertEqual((err, base), (NONE, start))
						# One v2 batch, in the producer's codec (compression.type=producer).
						self.assertEqual(self.batches(start, TOPIC), [(start, 2, codec, 5)])
						got = self.consume(TOPIC, start, 5)
						self.assertEqual([g[0] for g in got], list(range(start, start + 5)))
						self.assertEqual([g[1] for g in got], [b"wk0", b"wk1", b"wk2", b"wk3", b"tail"])
						self.assertEqual([g[2] for g in got], [b"wv0", b"wv1", b"wv2", b"wv3",
								b"plain-after-wrapper"])
						want = [TS + 10 * i for i in range(5)] if magic == 1 else [-1] * 5
						self.assertEqual([g[3][1] for g in got], want)

	def test_log_append_time(self):
		for magic in (0, 1):
			with self.subTest(magic=magic):
				start = self.end_offset(TOPIC_LAT)
				inner = b"".join(message(magic, b"k%d" % i, b"v%d" % i, ts=TS, offset=i) for i in range(2))
				before = int(time.time() * 1000)
				err, base, lat = self.produce(2, wrapper(magic, GZIP, inner, ts=TS, offset=1), TOPIC_LAT)
				after = int(time.time() * 1000)
				self.assertEqual((err, base), (NONE, start))
				self.assertTrue(before - 1000 <= lat <= after + 1000, (before, lat, after))
				got = self.consume(TOPIC_LAT, start, 2)
				self.assertEqual([g[1] for g in got], [b"k0", b"k1"])
				# The broker's time for every message, timestamp type LogAppendTime (2).
				self.assertEqual([g[3] for g in got], [(2, lat), (2, lat)])

	def test_topic_codec(self):
		start = self.end_offset(TOPIC_GZ)
		inner = message(1, b"a", b"x" * 100, ts=TS, offset=0) + message(1, b"b", b"y" * 100, ts=TS, offset=1)
		err, base, _ = self.produce(2, wrapper(1, SNAPPY, inner, ts=TS, offset=1), TOPIC_GZ)
		self.assertEqual((err, base), (NONE, start))
		err, base, _ = self.produce(1, message(0, b"c", b"plain"), TOPIC_GZ)
		self.assertEqual((err, base), (NONE, start + 2))
		# compression.type=gzip: both sets land as gzip v2 batches.
		self.assertEqual(self.batches(start, TOPIC_GZ), [(start, 2, GZIP, 2), (start + 2, 2, GZIP, 1)])
		got = self.consume(TOPIC_GZ, start, 3)
		self.assertEqual([(g[0], g[1], g[2]) for g in got],
				[(start, b"a", b"x" * 100), (start + 1, b"b", b"y" * 100), (start + 2, b"c", b"plain")])

	def test_trailing_partial_message_dropped(self):
		# As for v2 batches, Kafka's log input stream stops at a partial entry at the end.
		start = self.end_offset()
		data = message(1, b"whole", b"1", ts=TS) + message(1, b"cut", b"2", ts=TS)[:-4]
		err, base, _ = self.produce(2, data)
		self.assertEqual((err, base), (NONE, start))
		self.assertEqual(self.end_offset(), start + 1)
		self.assertEqual([g[1] for g in self.consume(TOPIC, start, 1)], [b"whole"])

	def test_dump_log_reads_converted(self):
		start = self.end_offset()
		self.assertEqual(self.produce(1, wrapper(0, GZIP, message(0, b"dk", b"dump-me")))[0], NONE)
		seg = os.path.join(self.b.data_dir, TOPIC + "-0", "00000000000000000000.log")
		r = h.samsa_cli("dump-log", "--files", seg, "--print-data-log")
		# Every batch of the log (all converted) decodes and checks out, as v2.
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertIn("baseOffset: %d lastOffset: %d " % (start, start), r.stdout)
		self.assertIn("magic: 2", r.stdout)
		self.assertIn("compresscodec: gzip", r.stdout)
		self.assertIn("payload: dump-me", r.stdout)

	# -- rejected ------------------------------------------------------------------

	def test_bad_crc(self):
		for magic in (0, 1):
			with self.subTest(magic=magic):
				m = bytearray(message(magic, b"k", b"value", ts=TS))
				m[-1] ^= 1
				self.assert_rejected(magic + 1, message(magic, b"fine", b"1", ts=TS) + bytes(m), CORRUPT_MESSAGE)
				# CRC-32C where CRC-32 belongs is wrong too.
				m = bytearray(message(magic, b"k", b"value", ts=TS))
				import records
				struct.pack_into(">I", m, 12, records.crc32c(bytes(m[16:])))
				self.assert_rejected(magic + 1, bytes(m), CORRUPT_MESSAGE)

	def test_bad_inner_crc(self):
		inner = bytearray(message(1, b"k", b"v", ts=TS))
		inner[-1] ^= 1
		self.assert_rejected(2, wrapper(1, GZIP, bytes(inner), ts=TS), CORRUPT_MESSAGE)

	def test_truncated_wrapper(self):
		inner = message(1, b"k", b"v1", ts=TS) + message(1, b"k", b"v2", ts=TS, offset=1)
		# The inner set ends in a partial message.
		self.assert_rejected(2, wrapper(1, GZIP, inner[:-3], ts=TS), CORRUPT_MESSAGE)
		# The compressed value itself is cut (the wrapper's CRC matches the cut bytes).
		z = gzip.compress(inner)
		self.assert_rejected(2, message(1, None, z[:len(z) // 2], ts=TS, attrs=GZIP), CORRUPT_MESSAGE)
		self.assert_rejected(1, message(0, None, snappy_xerial(inner)[:30], attrs=SNAPPY), CORRUPT_MESSAGE)

	def test_nested_compression(self):
		inner = wrapper(1, GZIP, message(1, b"k", b"v", ts=TS), ts=TS)
		self.assert_rejected(2, wrapper(1, SNAPPY, inner, ts=TS), CORRUPT_MESSAGE)
		inner = wrapper(0, SNAPPY, message(0, b"k", b"v"))
		self.assert_rejected(0, wrapper(0, GZIP, inner), CORRUPT_MESSAGE)

	def test_inner_magic_differs_from_wrapper(self):
		# kafka-node 5.0.0 at Produce v0/v1 wraps magic 1 messages in a magic 0 gzip
		# wrapper (tests/compat/test_kafka_node.py). Kafka's LogValidator.validateRecord
		# answers a record whose magic is not its batch's with INVALID_RECORD.
		inner = message(1, b"k", b"v1", ts=TS) + message(1, b"k", b"v2", ts=TS)
		self.assert_rejected(1, wrapper(0, GZIP, inner), INVALID_RECORD)
		self.assert_rejected(0, wrapper(0, GZIP, inner), INVALID_RECORD)
		inner = message(0, b"k", b"v1") + message(0, b"k", b"v2", offset=1)
		self.assert_rejected(2, wrapper(1, GZIP, inner, ts=TS), INVALID_RECORD)

	def test_nothing_whole(self):
		self.assert_rejected(2, message(1, b"k", b"v", ts=TS)[:-1], CORRUPT_MESSAGE)

	def test_timestamp_out_of_range(self):
		now = int(time.time() * 1000)
		for ts in (now - 2 * 3600 * 1000, now + 2 * 3600 * 1000):
			with self.subTest(ts=ts):
				self.assert_rejected(2, message(1, b"k", b"v", ts=ts), INVALID_TIMESTAMP, TOPIC_TS)
				inner = message(1, b"k", b"v", ts=now) + message(1, b"k", b"v", ts=ts, offset=1)
				self.assert_rejected(2, wrapper(1, GZIP, inner, ts=now, offset=1), INVALID_TIMESTAMP, TOPIC_TS)
		# Magic 0 has no timestamp to be out of range.
		start = self.end_offset(TOPIC_TS)
		self.assertEqual(self.produce(1, message(0, b"k", b"v"), TOPIC_TS)[:2], (NONE, start))
		# Nor a magic 1 NO_TIMESTAMP (Kafka skips -1 in its check).
		self.assertEqual(self.produce(2, message(1, b"k", b"v", ts=-1), TOPIC_TS)[:2], (NONE, start + 1))
		self.assertEqual([g[3][1] for g in self.consume(TOPIC_TS, start, 2)], [-1, -1])

	# -- a real old client -----------------------------------------------------------

	def test_kafka_python_old_api_versions(self):
		try:
			from kafka import KafkaProducer
		except Exception as e:  # pragma: no cover
			self.skipTest("kafka-python not importable: %s" % e)
		# (0, 8, 2): Produce v0, magic 0; (0, 9): v1, magic 0; (0, 10, 0): v2, magic 1.
		for api, codec in (((0, 8, 2), None), ((0, 9), "gzip"), ((0, 10, 0), None), ((0, 10, 0), "gzip")):
			with self.subTest(api=api, codec=codec):
				start = self.end_offset()
				p = KafkaProducer(bootstrap_servers=self.b.address, api_version=api, compression_type=codec,
						linger_ms=50, acks=1)
				try:
					if hasattr(p, "_max_usable_produce_magic"):
						# The client really writes the old format.
						self.assertEqual(p._max_usable_produce_magic(), 1 if api >= (0, 10) else 0)
					futs = [p.send(TOPIC, key=b"kp%d" % i, value=b"%r-%d" % (api, i), partition=0,
							timestamp_ms=TS + i if api >= (0, 10) else None) for i in range(5)]
					p.flush(30)
					offsets = [f.get(30).offset for f in futs]
				finally:
					p.close(10)
				self.assertEqual(offsets, list(range(start, start + 5)))
				got = self.consume(TOPIC, start, 5)
				self.assertEqual([g[0] for g in got], offsets)
				self.assertEqual([g[1] for g in got], [b"kp%d" % i for i in range(5)])
				self.assertEqual([g[2] for g in got], [b"%r-%d" % (api, i) for i in range(5)])
				want = [TS + i for i in range(5)] if api >= (0, 10) else [-1] * 5
				self.assertEqual([g[3][1] for g in got], want)


if __name__ == "__main__":
	h.main()
