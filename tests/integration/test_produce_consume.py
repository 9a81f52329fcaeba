"""Produce and consume with real clients: confluent-kafka (librdkafka) and kcat
write keyed messages with headers under every codec to a 16-partition topic;
everything is read back byte for byte in per-partition order, offsets_for_times
finds the right offsets, and ListOffsets/DeleteRecords move as Kafka's do.

SAMSA_PC_MESSAGES sets the messages per codec (default 1,000,000)."""

import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition, KafkaException  # noqa: E402

BROKER_ID = 1
PARTITIONS = 16
MESSAGES = int(os.environ.get("SAMSA_PC_MESSAGES", "1000000"))
# An hour ago: old enough to be distinct from append times, young enough that
# retention.ms (7 days) never deletes the data while a test reads it.
BASE_TS = (int(time.time()) - 3600) * 1000


def key_of(i):
	return b"key-%d" % i


def value_of(i):
	# Varying sizes, some bytes that are not text.
	return (b"value-%d-" % i) + bytes((i * 7 + k) & 0xFF for k in range(i % 23))


def headers_of(i):
	return [("seq", str(i).encode()), ("empty", b"")]


class ProduceConsume(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=BROKER_ID)

	@property
	def bootstrap(self):
		return self.shared.broker(BROKER_ID).address

	def create(self, name, partitions=PARTITIONS):
		h.create_topic(self.bootstrap, name, partitions, BROKER_ID)

	def produce(self, topic, codec, n):
		p = Producer({"bootstrap.servers": self.bootstrap, "compression.codec": codec,
				"linger.ms": 5, "acks": 1, "queue.buffering.max.messages": 1000000,
				"batch.num.messages": 10000})
		errors = []

		def report(err, msg):
			if err is not None:
				errors.append(err)
		for i in range(n):
			while True:
				try:
					p.produce(topic, value_of(i), key_of(i), partition=i % PARTITIONS,
						timestamp=BASE_TS + i, headers=headers_of(i), on_delivery=report)
					break
				except BufferError:
					p.poll(0.05)
		left = p.flush(120)
		self.assertEqual(left, 0, "messages not delivered")
		self.assertEqual(errors, [], "delivery errors")

	def consume_all(self, topic, n):
		"""Read every partition from the beginning; returns {partition: [i, ...]}."""
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "unused-%s" % topic,
				"enable.auto.commit": False, "fetch.wait.max.ms": 100})
		c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
		seen = {p: [] for p in range(PARTITIONS)}
		got = 0
		deadline = time.time() + 180
		try:
			while got < n and time.time() < deadline:
				for m in c.consume(10000, 1.0):
					if m.error():
						raise KafkaException(m.error())
					i = int(dict(m.headers())["seq"])
					self.assertEqual(m.key(), key_of(i))
					self.assertEqual(m.value(), value_of(i))
					self.assertEqual(m.headers(), headers_of(i))
					self.assertEqual(m.timestamp()[1], BASE_TS + i)
					self.assertEqual(m.partition(), i % PARTITIONS)
					self.assertEqual(m.offset(), len(seen[m.partition()]))
					seen[m.partition()].append(i)
					got += 1
		finally:
			c.close()
		return seen

	def check_round_trip(self, codec):
		topic = "pc-" + codec
		self.create(topic)
		self.produce(topic, codec, MESSAGES)
		seen = self.consume_all(topic, MESSAGES)
		for p in range(PARTITIONS):
			want = list(range(p, MESSAGES, PARTITIONS))
			self.assertEqual(seen[p], want, "partition %d out of order or incomplete" % p)
		# offsets_for_times: message i is at offset i // 16 of partition i % 16, timestamp BASE_TS + i.
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "oft-%s" % topic})
		try:
			# One probe per partition: a client merges repeats of a partition into one.
			probes = [0, 17, (MESSAGES // 2) // PARTITIONS * PARTITIONS + 2, MESSAGES - 1]
			self.assertEqual(len({i % PARTITIONS for i in probes}), len(probes))
			res = c.offsets_for_times([TopicPartition(topic, i % PARTITIONS, BASE_TS + i) for i in probes], 20)
			self.assertEqual([(r.offset, r.error) for r in res], [(i // PARTITIONS, None) for i in probes])
			# Past every timestamp: no offset (-1 in the protocol, OFFSET_END here).
			res = c.offsets_for_times([TopicPartition(topic, 0, BASE_TS + MESSAGES + 10)], 20)
			self.assertEqual(res[0].offset, -1)
			lo, hi = c.get_watermark_offsets(TopicPartition(topic, 3), 20)
			self.assertEqual((lo, hi), (0, len(range(3, MESSAGES, PARTITIONS))))
		finally:
			c.close()

	def test_codec_none(self):
		self.check_round_trip("none")

	def test_codec_gzip(self):
		self.check_round_trip("gzip")

	def test_codec_snappy(self):
		self.check_round_trip("snappy")

	def test_codec_lz4(self):
		self.check_round_trip("lz4")

	def test_codec_zstd(self):
		self.check_round_trip("zstd")

	def test_kcat_round_trip_and_offsets(self):
		topic = "pc-kcat"
		self.create(topic, partitions=1)
		lines = "".join("k%d:v%d\n" % (i, i) for i in range(1000))
		p = h.run(["kcat", "-b", self.bootstrap, "-t", topic, "-P", "-K:", "-z", "lz4", "-p", "0"],
			input=lines, timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		p = h.kcat("-b", self.bootstrap, "-t", topic, "-C", "-p", "0", "-o", "beginning", "-e",
			"-f", "%o %k %s\\n", timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout, "".join("%d k%d v%d\n" % (i, i, i) for i in range(1000)))
		# Reading from an offset in the middle, then from the end.
		p = h.kcat("-b", self.bootstrap, "-t", topic, "-C", "-p", "0", "-o", "990", "-e", "-f", "%o\\n")
		self.assertEqual(p.stdout.split(), [str(i) for i in range(990, 1000)])

	def test_delete_records_moves_log_start(self):
		topic = "pc-delete-records"
		self.create(topic, partitions=1)
		p = Producer({"bootstrap.servers": self.bootstrap})
		for i in range(100):
			p.produce(topic, b"x%d" % i, partition=0)
		self.assertEqual(p.flush(30), 0)
		# DeleteRecords v0 by hand (confluent-kafka 1.7 has no admin call for it).
		def delete_records(offset):
			body = (kproto.i32(1) + kproto.string(topic) + kproto.i32(1) + kproto.i32(0)
				+ struct.pack(">q", offset) + kproto.i32(10000))
			with kproto.Conn("127.0.0.1", self.shared.broker(BROKER_ID).port) as conn:
				r = conn.request(21, 0, body)
			r.i32()  # throttle
			self.assertEqual(r.i32(), 1)
			self.assertEqual(r.string(), topic)
			self.assertEqual(r.i32(), 1)
			self.assertEqual(r.i32(), 0)
			low = struct.unpack(">q", r.take(8))[0]
			return low, r.i16()
		self.assertEqual(delete_records(40), (40, 0))
		self.assertEqual(delete_records(101), (-1, 1))  # OFFSET_OUT_OF_RANGE: past the high watermark
		c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "dr"})
		try:
			self.assertEqual(c.get_watermark_offsets(TopicPartition(topic, 0), 20), (40, 100))
			c.assign([TopicPartition(topic, 0, 40)])
			m = c.consume(1, 10)
			self.assertEqual([x.offset() for x in m], [40])
			self.assertEqual(m[0].value(), b"x40")
		finally:
			c.close()


if __name__ == "__main__":
	unittest.main()
