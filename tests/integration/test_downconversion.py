"""Fetch v0-v3 down-conversion: what producers wrote as v2 batches (plain,
gzip, snappy, lz4) comes back to raw Fetch v0/v1 as magic 0 and to v2/v3 as
magic 1 messages, every one with its key, value, offset and a CRC-32 that
Python's zlib.crc32 agrees with; compressed batches come back as wrappers of
the same codec, and zstd, which magic 0/1 lacks, gives error 76.  kafka-python at api_version (0, 9) and (0, 10) reads back
exactly what was produced.  A 64 MiB partition read at 1 MiB per fetch
grows the broker's RSS by little.  A topic with message.downconversion.enable=false
answers Fetch v0-v3 with UNSUPPORTED_VERSION (35) while v4+ still reads it."""

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

from confluent_kafka import Producer  # noqa: E402

NONE = 0
UNSUPPORTED_VERSION = 35
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3}
N = 40
TS = (int(time.time()) - 600) * 1000
TOPIC_OFF = "dc-disabled"


def snappy_block(data):
	"""Decode one raw snappy block (literals and copies)."""
	pos, n, shift = 0, 0, 0
	while True:
		b = data[pos]
		pos += 1
		n |= (b & 0x7F) << shift
		shift += 7
		if not b & 0x80:
			break
	out = bytearray()
	while pos < len(data):
		tag = data[pos]
		pos += 1
		kind = tag & 3
		if kind == 0:
			ln = tag >> 2
			if ln >= 60:
				nb = ln - 59
				ln = int.from_bytes(data[pos:pos + nb], "little")
				pos += nb
			ln += 1
			out += data[pos:pos + ln]
			pos += ln
			continue
		if kind == 1:
			ln = ((tag >> 2) & 7) + 4
			off = ((tag >> 5) << 8) | data[pos]
			pos += 1
		elif kind == 2:
			ln = (tag >> 2) + 1
			off = int.from_bytes(data[pos:pos + 2], "little")
			pos += 2
		else:
			ln = (tag >> 2) + 1
			off = int.from_bytes(data[pos:pos + 4], "little")
			pos += 4
		assert 0 < off <= len(out), "bad snappy copy offset"
		for _ in range(ln):
			out.append(out[-off])
	assert len(out) == n, "snappy length mismatch"
	return bytes(out)


def snappy_decompress(data):
	if data[:8] != b"\x82SNAPPY\x00":
		return snappy_block(data)
	pos, out = 16, bytearray()
	while pos < len(data):
		ln = struct.unpack(">i", data[pos:pos + 4])[0]
		out += snappy_block(data[pos + 4:pos + 4 + ln])
		pos += 4 + ln
	return bytes(out)


def decode_messages(data, want_magic, tc, outer_offset=None):
	"""A legacy message set into [(offset, key, value, ts, codec_of_wrapper)]; checks every CRC."""
	out, pos = [], 0
	while pos + 12 <= len(data):
		offset, size = struct.unpack(">qi", data[pos:pos + 12])
		if pos + 12 + size > len(data):
			break  # a partial message at the end, as Kafka may send
		body = data[pos + 12:pos + 12 + size]
		crc = struct.unpack(">I", body[:4])[0]
		tc.assertEqual(crc, zlib.crc32(body[4:]), "CRC-32 of the message at %d" % offset)
		magic, attrs = body[4], body[5]
		tc.assertEqual(magic, want_magic)
		p = 6
		ts = None
		if magic == 1:
			ts = struct.unpack(">q", body[p:p + 8])[0]
			p += 8
		fields = []
		for _ in range(2):
			ln = struct.unpack(">i", body[p:p + 4])[0]
			p += 4
			if ln < 0:
				fields.append(None)
			else:
				fields.append(bytes(body[p:p + ln]))
				p += ln
		tc.assertEqual(p, len(body))
		key, value = fields
		codec = attrs & 7
		if codec:
			if codec == 1:
				inner = gzip.decompress(value)
			elif codec == 2:
				inner = snappy_decompress(value)
			else:
				out.append((offset, None, None, ts, codec))
				pos += 12 + size
				continue
			msgs = decode_messages(inner, want_magic, tc, outer_offset=offset)
			tc.assertTrue(msgs)
			if magic == 1:  # relative inner offsets: the wrapper holds the last
				last = msgs[-1][0]
				msgs = [(offset - last + m[0],) + m[1:4] + (codec,) for m in msgs]
			else:
				msgs = [m[:4] + (codec,) for m in msgs]
			out += msgs
		else:
			out.append((offset, key, value, ts, 0))
		pos += 12 + size
	return out


def fetch_request(version, topic, offset, max_bytes=1 << 20, partition=0, replica_id=-1, response_max=None):
	body = i32(replica_id) + i32(100) + i32(1)
	if version >= 3:
		body += i32(response_max or (max_bytes * 4))
	if version >= 4:
		body += struct.pack(">b", 0)  # isolation level
	body += i32(1) + string(topic) + i32(1) + i32(partition) + struct.pack(">q", offset)
	if version >= 5:
		body += struct.pack(">q", -1)  # log start offset
	body += i32(max_bytes)
	return body


def key_of(i):
	return b"key-%d" % i


def value_of(i):
	# Compressible even alone: librdkafka sends a batch uncompressed when compression does not shrink it.
	return b"value-%d-" % i + b"x" * (200 + i)


class DownConversion(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=1)
		b = cls.shared.broker(1)
		for codec in CODECS:
			h.create_topic(b.address, "dc-" + codec, 1, 1)
		h.create_topic(b.address, TOPIC_OFF, 1, 1, config={"message.downconversion.enable": "false"})
		h.create_topic(b.address, "dc-zstd", 1, 1)
		for codec in CODECS:
			cls.produce(b.address, "dc-" + codec, codec)
		cls.produce(b.address, "dc-zstd", "zstd")
		cls.produce(b.address, TOPIC_OFF, "none")

	@staticmethod
	def produce(bootstrap, topic, codec):
		p = Producer({"bootstrap.servers": bootstrap, "compression.codec": codec, "linger.ms": 20,
				"batch.num.messages": 7, "acks": 1})
		errors = []

		def report(err, msg):
			if err is not None:
				errors.append(err)
		for i in range(N):
			p.produce(topic, value_of(i), key_of(i) if i % 5 else None, partition=0, timestamp=TS + i,
					headers=[("h", b"x")], on_delivery=report)
		assert p.flush(60) == 0
		assert errors == [], errors

	def setUp(self):
		super().setUp()
		self.b = self.shared.broker(1)
		self.c = kproto.Conn(h.HOST, self.b.port, timeout=20)
		self.addCleanup(self.c.close)

	def fetch(self, version, topic, offset, **kw):
		"""Raw Fetch v0-v4 of one partition: (error, high watermark, records bytes)."""
		r = self.c.request(1, version, fetch_request(version, topic, offset, **kw))
		if version >= 1:
			r.i32()  # throttle
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.string(), topic)
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.i32(), 0)
		err = r.i16()
		hw = struct.unpack(">q", r.take(8))[0]
		if version >= 4:
			r.take(8)  # last stable offset
			n = r.i32()
			for _ in range(max(n, 0)):
				r.take(16)
		ln = r.i32()
		data = r.take(ln) if ln > 0 else b""
		self.assertEqual(r.pos, len(r.data))
		return err, hw, data

	def read_all(self, version, topic, max_bytes=1 << 20):
		offset, got = 0, []
		for _ in range(200):
			err, hw, data = self.fetch(version, topic, offset, max_bytes=max_bytes)
			self.assertEqual(err, NONE)
			self.assertEqual(hw, N)
			msgs = decode_messages(data, 0 if version <= 1 else 1, self)
			if not msgs:
				break
			got += [m for m in msgs if m[0] >= offset]
			offset = got[-1][0] + 1
			if offset >= N:
				break
		return got

	def check(self, version, codec, max_bytes=1 << 20):
		got = self.read_all(version, "dc-" + codec, max_bytes)
		self.assertTrue(got)
		self.assertTrue(all(g[4] == CODECS[codec] for g in got), "wrappers keep the codec")
		if codec == "lz4":
			# No lz4 module here to look inside (the unit test does): wrappers end at batch ends.
			self.assertEqual(got[-1][0], N - 1)
			return
		self.assertEqual([g[0] for g in got], list(range(N)))
		self.assertEqual([g[1] for g in got], [key_of(i) if i % 5 else None for i in range(N)])
		self.assertEqual([g[2] for g in got], [value_of(i) for i in range(N)])
		if version >= 2:
			if codec == "none":
				self.assertEqual([g[3] for g in got], [TS + i for i in range(N)])
			else:
				self.assertEqual([g[3] for g in got][-1], TS + N - 1)

	def test_raw_fetch_every_version_and_codec(self):
		for version in (0, 1, 2, 3):
			for codec in CODECS:
				with self.subTest(version=version, codec=codec):
					self.check(version, codec)

	def test_small_partition_limit(self):
		# v3 with a limit smaller than a batch: whole messages, at least one, progress every time.
		# v0-v2 have a hard limit on the stored bytes (KIP-74), so the limit must hold a batch.
		for version, codec, limit in ((1, "none", 4000), (2, "gzip", 4000), (3, "none", 600), (3, "snappy", 600)):
			with self.subTest(version=version, codec=codec):
				self.check(version, codec, max_bytes=limit)

	def test_v4_still_v2(self):
		err, hw, data = self.fetch(4, "dc-gzip", 0)
		self.assertEqual((err, hw), (NONE, N))
		self.assertEqual(data[16], 2)  # magic of the first batch

	def test_zstd_cannot_go_down(self):
		# Magic 0/1 has no zstd: Kafka answers old fetches with UNSUPPORTED_COMPRESSION_TYPE.
		for version in (0, 3):
			with self.subTest(version=version):
				err, hw, data = self.fetch(version, "dc-zstd", 0)
				self.assertEqual((err, hw, len(data)), (76, -1, 0))
				self.assertEqual(data, b"")
		err, hw, data = self.fetch(4, "dc-zstd", 0)
		self.assertEqual((err, hw), (NONE, N))

	def test_disabled_topic(self):
		for version in (0, 1, 2, 3):
			with self.subTest(version=version):
				err, _, data = self.fetch(version, TOPIC_OFF, 0)
				self.assertEqual(err, UNSUPPORTED_VERSION)
				self.assertEqual(data, b"")
		err, hw, data = self.fetch(4, TOPIC_OFF, 0)
		self.assertEqual((err, hw), (NONE, N))
		self.assertGreater(len(data), 0)
		# An empty read needs no conversion: no error at the end of the log.
		err, _, _ = self.fetch(2, TOPIC_OFF, N)
		self.assertEqual(err, NONE)
		self.assertIn("message.downconversion.enable is false", open(self.b.log_path).read())

	def test_first_conversion_logged(self):
		self.check(2, "none")
		log = open(self.b.log_path).read()
		self.assertIn("Down-converting topic dc-none", log)

	def test_kafka_python_old_api_versions(self):
		try:
			from kafka import KafkaConsumer, TopicPartition
		except Exception as e:  # pragma: no cover
			self.skipTest("kafka-python not importable: %s" % e)
		for api in ((0, 9), (0, 10)):
			for codec in ("none", "gzip"):
				with self.subTest(api=api, codec=codec):
					c = KafkaConsumer(bootstrap_servers=self.b.address, api_version=api,
							enable_auto_commit=False, consumer_timeout_ms=10000, fetch_max_wait_ms=100)
					try:
						tp = TopicPartition("dc-" + codec, 0)
						c.assign([tp])
						c.seek(tp, 0)
						got = []
						deadline = time.time() + 30
						while len(got) < N and time.time() < deadline:
							for recs in c.poll(timeout_ms=1000).values():
								got += recs
					finally:
						c.close()
					self.assertEqual([m.offset for m in got], list(range(N)))
					self.assertEqual([m.key for m in got], [key_of(i) if i % 5 else None for i in range(N)])
					self.assertEqual([m.value for m in got], [value_of(i) for i in range(N)])
					if api >= (0, 10) and codec == "none":
						self.assertEqual([m.timestamp for m in got], [TS + i for i in range(N)])


class DownConversionFollower(h.ClusterTestCase):
	"""A follower fetching at an old version still gets the stored v2 batches:
	only consumers are down-converted (Kafka converts for clients, never for
	replicas)."""

	def test_follower_gets_v2_at_fetch_v3(self):
		from confluent_kafka.admin import AdminClient, NewTopic
		c = self.start_cluster(brokers=2, first_id=1)
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in a.create_topics([NewTopic("dc-follow", 1, replica_assignment=[[1, 2]])],
				request_timeout=20).items():
			f.result(30)
		h.wait_leaders(c.bootstrap, "dc-follow", 1, 1)
		leader, follower = 1, 2
		DownConversion.produce(c.broker(leader).address, "dc-follow", "gzip")
		t = DownConversion("run")
		t.assertEqual = self.assertEqual
		with kproto.Conn(h.HOST, c.broker(leader).port, timeout=30) as conn:
			t.c = conn
			# acks=1: the high watermark follows once the follower has fetched.
			h.wait_until(lambda: t.fetch(3, "dc-follow", 0)[1] == N, 30, "the high watermark at the log end")
			err, hw, data = t.fetch(3, "dc-follow", 0)
			self.assertEqual((err, hw), (NONE, N))
			self.assertEqual(data[16], 1)  # a consumer at v3: magic 1
			self.assertEqual(len(decode_messages(data, 1, self)) > 0, True)
		with kproto.Conn(h.HOST, c.broker(leader).port, timeout=30) as conn:
			t.c = conn
			err, _, data = t.fetch(3, "dc-follow", 0, replica_id=follower)
			self.assertEqual(err, NONE)
			self.assertGreater(len(data), 0)
			self.assertEqual(data[16], 2)  # a replica: the stored v2 batch


def rss_kib(pid):
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			if line.startswith("VmRSS:"):
				return int(line.split()[1])
	raise AssertionError("no VmRSS for %d" % pid)


class DownConversionMemory(h.ClusterTestCase):
	"""A 64 MiB partition read to the end with Fetch v2 at 1 MiB per request:
	the broker converts one bounded range at a time, so its RSS stays small.
	And one Fetch v2 of 4 partitions of 6 MiB each (a 24 MiB answer): the
	broker converts as the socket drains, holding one batch per partition and
	the chunk being written, so its RSS grows far less than the answer."""

	TOPIC = "dc-big"
	SIZE = 64 << 20
	WIDE = "dc-wide"
	WIDE_PARTS = 4
	WIDE_SIZE = 6 << 20

	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=1)
		b = cls.shared.broker(1)
		# Only this broker: a small ASan quarantine, so freed buffers do not count as growth.
		b.extra_env = {"ASAN_OPTIONS": h.DEFAULT_ASAN_OPTIONS + ":quarantine_size_mb=4:malloc_context_size=5"}
		b.restart()
		h.create_topic(b.address, cls.TOPIC, 1, 1)
		p = Producer({"bootstrap.servers": b.address, "linger.ms": 20, "batch.size": 256 << 10,
				"acks": 1, "queue.buffering.max.kbytes": 65536})
		value = bytes(range(256)) * 16  # 4 KiB
		for i in range(cls.SIZE // len(value)):
			while True:
				try:
					p.produce(cls.TOPIC, value, b"k%d" % i, partition=0)
					break
				except BufferError:
					p.poll(0.05)
		assert p.flush(120) == 0
		cls.n = cls.SIZE // len(value)
		h.create_topic(b.address, cls.WIDE, cls.WIDE_PARTS, 1)
		cls.wide_n = cls.WIDE_SIZE // len(value)
		for part in range(cls.WIDE_PARTS):
			for i in range(cls.wide_n):
				while True:
					try:
						p.produce(cls.WIDE, value, b"w%d-%d" % (part, i), partition=part)
						break
					except BufferError:
						p.poll(0.05)
		assert p.flush(120) == 0
		cls.value = value

	def wide_fetch(self, conn, offsets):
		"""One Fetch v2 of every partition of WIDE from offsets[p], 8 MiB each: {p: records bytes}."""
		body = i32(-1) + i32(100) + i32(1) + i32(1) + string(self.WIDE) + i32(self.WIDE_PARTS)
		for part in range(self.WIDE_PARTS):
			body += i32(part) + struct.pack(">q", offsets[part]) + i32(8 << 20)
		r = conn.request(1, 2, body)
		r.i32()
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.string(), self.WIDE)
		out = {}
		for _ in range(r.i32()):
			part, err = r.i32(), r.i16()
			self.assertEqual(err, NONE)
			r.take(8)
			out[part] = r.take(r.i32())
		return out

	def test_one_answer_of_many_partitions(self):
		b = self.shared.broker(1)
		conn = kproto.Conn(h.HOST, b.port, timeout=120)
		self.addCleanup(conn.close)
		offsets = [0] * self.WIDE_PARTS
		self.wide_fetch(conn, [self.wide_n] * self.WIDE_PARTS)  # warm up the connection and its buffers
		before = rss_kib(b.pid)
		peak = before
		stop = []

		def sample():
			nonlocal peak
			while not stop:
				peak = max(peak, rss_kib(b.pid))
				time.sleep(0.005)
		import threading
		th = threading.Thread(target=sample)
		th.start()
		try:
			first = self.wide_fetch(conn, offsets)
		finally:
			stop.append(1)
			th.join()
		total = sum(len(v) for v in first.values())
		self.assertGreater(total, self.WIDE_PARTS * (self.WIDE_SIZE - (1 << 20)))
		growth = (peak - before) / 1024.0
		sys.stderr.write("broker RSS %d KiB before, peak %d KiB (+%.1f MiB) over a %.1f MiB answer\n"
				% (before, peak, growth, total / 1048576.0))
		self.assertLess(growth, 12, "RSS grew %.1f MiB for a %.1f MiB answer" % (growth, total / 1048576.0))
		# Everything reads back, each partition in order, over as many fetches as it takes.
		got = {part: [] for part in range(self.WIDE_PARTS)}
		answer = first
		while True:
			for part, data in answer.items():
				msgs = [m for m in decode_messages(data, 1, self) if m[0] >= offsets[part]]
				for m in msgs:
					self.assertEqual(m[0], offsets[part])
					self.assertEqual((m[1], m[2]), (b"w%d-%d" % (part, m[0]), self.value))
					offsets[part] += 1
				got[part] += [m[0] for m in msgs]
			if all(o >= self.wide_n for o in offsets):
				break
			answer = self.wide_fetch(conn, offsets)
		self.assertEqual(got, {part: list(range(self.wide_n)) for part in range(self.WIDE_PARTS)})

	def test_rss_stays_small(self):
		b = self.shared.broker(1)
		c = kproto.Conn(h.HOST, b.port, timeout=60)
		self.addCleanup(c.close)
		t = DownConversion("run")
		t.c = c

		def one(offset):
			err, hw, data = t.fetch(2, self.TOPIC, offset, max_bytes=1 << 20)
			self.assertEqual((err, hw), (NONE, self.n))
			msgs = decode_messages(data, 1, self)
			self.assertTrue(msgs, "no progress at %d" % offset)
			return msgs
		t.assertEqual = self.assertEqual
		one(0)  # warm up: first conversion allocates the scratch buffers
		before = rss_kib(b.pid)
		offset, peak, count = 0, before, 0
		while offset < self.n:
			msgs = [m for m in one(offset) if m[0] >= offset]
			self.assertEqual(msgs[0][0], offset)
			count += len(msgs)
			offset = msgs[-1][0] + 1
			peak = max(peak, rss_kib(b.pid))
		self.assertEqual(count, self.n)
		growth = (peak - before) / 1024.0
		sys.stderr.write("broker RSS %d KiB before, peak %d KiB (+%.1f MiB) over a %d MiB log\n"
				% (before, peak, growth, self.SIZE >> 20))
		self.assertLess(growth, 24, "RSS grew %.1f MiB while down-converting %d MiB" % (growth, self.SIZE >> 20))


if __name__ == "__main__":
	h.main()
