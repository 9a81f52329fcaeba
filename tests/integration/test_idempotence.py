"""The partition side of exactly-once, in raw protocol with made-up producer ids
(the partition does not check an id against the allocator, as in Kafka):

- the sequence rules of Kafka's ProducerAppendInfo: a retry of each of the last
  five batches is answered with its original offsets and not written again; a
  gap, a new epoch not starting at 0, an old epoch, a non-transactional write
  inside a transaction each get Kafka's error; the log holds every batch once;
- the producer state survives kill -9, a clean restart and a leadership move,
  and the .snapshot files decode with the small reader below (CRC-32C checked);
- transactions: an open transaction holds the last stable offset (Fetch
  read_committed stops there, ListOffsets read_committed answers it);
  WriteTxnMarkers ends it, an ABORT lands in the aborted-transactions list of
  read_committed fetches and in .txnindex; stale markers are refused with
  nothing written; DescribeProducers shows the state."""

import glob
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

NONE = 0
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
TRANSACTION_COORDINATOR_FENCED = 52

ATTR_TRANSACTIONAL = 0x10


def i64(v):
	return struct.pack(">q", v)


def data_batch(pid, epoch, seq, n=3, txn=False, tag="v"):
	values = [(None, ("%s-%d-%d" % (tag, pid, seq + i)).encode()) for i in range(n)]
	return records.batch(values, producer_id=pid, producer_epoch=epoch, base_sequence=seq,
			attributes=ATTR_TRANSACTIONAL if txn else 0)


def parse_batches(data):
	"""(base_offset, last_offset, attributes, producer_id, epoch, base_sequence) of each whole v2 batch."""
	out = []
	pos = 0
	while pos + 61 <= len(data):
		base, length = struct.unpack(">qi", data[pos:pos + 12])
		if pos + 12 + length > len(data):
			break
		attrs, lod = struct.unpack(">hi", data[pos + 21:pos + 27])
		pid, epoch, seq = struct.unpack(">qhi", data[pos + 43:pos + 57])
		out.append((base, base + lod, attrs, pid, epoch, seq))
		pos += 12 + length
	return out


def decode_snapshot(path):
	"""Kafka's producer snapshot (DISK-FORMAT.md section 7), read independently of samsa."""
	with open(path, "rb") as f:
		data = f.read()
	version, crc = struct.unpack(">hI", data[:6])
	assert version == 1, version
	assert records.crc32c(data[6:]) == crc, "snapshot CRC"
	(n,) = struct.unpack(">i", data[6:10])
	assert len(data) == 10 + 46 * n
	entries = {}
	for i in range(n):
		pid, epoch, last_seq, last_off, delta, ts, coord, txn_first = struct.unpack(
			">qhiqiqiq", data[10 + 46 * i:10 + 46 * (i + 1)])
		entries[pid] = dict(epoch=epoch, last_seq=last_seq, last_offset=last_off, offset_delta=delta,
				timestamp=ts, coordinator_epoch=coord, txn_first=txn_first)
	return entries


def decode_txnindex(path):
	with open(path, "rb") as f:
		data = f.read()
	assert len(data) % 34 == 0
	return [struct.unpack(">hqqqq", data[i:i + 34])[1:] for i in range(0, len(data), 34)]


class Raw:
	"""The few requests these tests send, on one connection."""

	def __init__(self, port):
		self.c = kproto.Conn(h.HOST, port, timeout=30)

	def close(self):
		self.c.close()

	def produce(self, topic, partition, batch, acks=-1):
		"""Produce v7; (error, base_offset)."""
		body = i16(-1) + i16(acks) + i32(15000) + i32(1) + string(topic) + i32(1) + i32(partition)
		body += i32(len(batch)) + batch
		r = self.c.request(0, 7, body)
		assert r.i32() == 1 and r.string() == topic and r.i32() == 1
		assert r.i32() == partition
		err = r.i16()
		base = struct.unpack(">q", r.take(8))[0]
		return err, base

	def fetch(self, topic, partition, offset, isolation=0):
		"""Fetch v4; (error, hw, lso, aborted [(pid, first)], batches)."""
		body = i32(-1) + i32(0) + i32(1) + i32(1 << 20) + kproto.i8(isolation)
		body += i32(1) + string(topic) + i32(1) + i32(partition) + i64(offset) + i32(1 << 20)
		r = self.c.request(1, 4, body)
		r.i32()
		assert r.i32() == 1 and r.string() == topic and r.i32() == 1 and r.i32() == partition
		err = r.i16()
		hw, lso = struct.unpack(">qq", r.take(16))
		n = r.i32()
		aborted = [struct.unpack(">qq", r.take(16)) for _ in range(max(n, 0))]
		if n < 0:
			aborted = None
		size = r.i32()
		data = r.take(size) if size > 0 else b""
		return err, hw, lso, aborted, parse_batches(data)

	def fetch_all(self, topic, partition, isolation=0):
		out = []
		off = 0
		while True:
			err, hw, lso, aborted, batches = self.fetch(topic, partition, off, isolation)
			assert err == NONE, err
			if not batches:
				return out
			out += batches
			off = batches[-1][1] + 1

	def list_offset_latest(self, topic, partition, isolation):
		"""ListOffsets v2, LATEST; (error, offset)."""
		body = i32(-1) + kproto.i8(isolation) + i32(1) + string(topic) + i32(1) + i32(partition) + i64(-1)
		r = self.c.request(2, 2, body)
		r.i32()
		assert r.i32() == 1 and r.string() == topic and r.i32() == 1 and r.i32() == partition
		err = r.i16()
		r.take(8)
		return err, struct.unpack(">q", r.take(8))[0]

	def write_txn_markers(self, topic, partition, pid, epoch, commit, coordinator_epoch):
		"""WriteTxnMarkers v0 for one partition; the partition's error."""
		body = i32(1) + i64(pid) + i16(epoch) + kproto.i8(1 if commit else 0)
		body += i32(1) + string(topic) + i32(1) + i32(partition) + i32(coordinator_epoch)
		r = self.c.request(27, 0, body)
		assert r.i32() == 1
		assert struct.unpack(">q", r.take(8))[0] == pid
		assert r.i32() == 1 and r.string() == topic and r.i32() == 1 and r.i32() == partition
		return r.i16()

	def describe_producers(self, topic, partition):
		"""DescribeProducers v0 (flexible); (error, {pid: (epoch, last_seq, last_ts, coord_epoch, txn_start)})."""
		body = kproto.compact_array([kproto.compact_string(topic) + kproto.compact_int32s([partition]) +
				kproto.TAGS]) + kproto.TAGS
		r = self.c.request(61, 0, body, flexible_header=True)
		r.skip_tags()
		r.i32()
		assert r.uvarint() == 2
		assert r.compact_string() == topic
		assert r.uvarint() == 2
		assert r.i32() == partition
		err = r.i16()
		r.compact_string()
		n = r.uvarint() - 1
		out = {}
		for _ in range(max(n, 0)):
			pid, epoch, seq, ts, coord, start = struct.unpack(">qiiqiq", r.take(36))
			r.skip_tags()
			out[pid] = (epoch, seq, ts, coord, start)
		return err, out


# The killed broker's znode lives until its session times out; a short timeout keeps restarts quick.
PROPS = {"zookeeper.session.timeout.ms": "6000"}


def start_after_kill(b):
	h.wait_until(lambda: not b.registered(), 60, "old registration to expire")
	b.start()


def partition_dir(broker, topic, partition):
	dirs = glob.glob(os.path.join(broker.data_dir, "**", "%s-%d" % (topic, partition)), recursive=True)
	assert dirs, "no log dir for %s-%d under %s" % (topic, partition, broker.data_dir)
	return dirs[0]


class SequenceRules(h.ClusterTestCase):
	"""One broker: the rules, and the state across restarts."""

	def setUp(self):
		super().setUp()
		self.c = self.start_cluster(brokers=1, first_id=1, props=PROPS)
		self.b = self.c.broker(1)
		h.create_topic(self.b.address, "idem", 1, 1)
		self.raw = Raw(self.b.port)
		self.addCleanup(lambda: self.raw.close())

	def reconnect(self):
		self.raw.close()
		self.raw = Raw(self.b.port)

	def send_seven(self, pid):
		"""Seven batches of three: offsets 0-20, sequences 0-20."""
		bases = []
		for k in range(7):
			err, base = self.raw.produce("idem", 0, data_batch(pid, 0, 3 * k))
			self.assertEqual(err, NONE)
			bases.append(base)
		self.assertEqual(bases, [0, 3, 6, 9, 12, 15, 18])
		return bases

	def assert_log_once(self, expect_batches):
		got = self.raw.fetch_all("idem", 0)
		offsets = [b[0] for b in got]
		self.assertEqual(len(offsets), len(set(offsets)))
		self.assertEqual([(b[3], b[5]) for b in got], expect_batches)
		# Dense offsets: each batch starts where the previous ended.
		for prev, cur in zip(got, got[1:]):
			self.assertEqual(cur[0], prev[1] + 1)

	def test_duplicates_gaps_epochs(self):
		pid = 1000
		bases = self.send_seven(pid)
		# A retry of each of the last five batches: success with the original offsets, nothing written.
		for k in range(2, 7):
			err, base = self.raw.produce("idem", 0, data_batch(pid, 0, 3 * k))
			self.assertEqual((err, base), (NONE, bases[k]), "retry of batch %d" % k)
		# Older than the last five: no longer recognised, and out of sequence.
		err, _ = self.raw.produce("idem", 0, data_batch(pid, 0, 3))
		self.assertEqual(err, OUT_OF_ORDER_SEQUENCE_NUMBER)
		# A gap (21 expected).
		err, _ = self.raw.produce("idem", 0, data_batch(pid, 0, 22))
		self.assertEqual(err, OUT_OF_ORDER_SEQUENCE_NUMBER)
		# A new epoch must start at sequence 0.
		err, _ = self.raw.produce("idem", 0, data_batch(pid, 1, 5))
		self.assertEqual(err, OUT_OF_ORDER_SEQUENCE_NUMBER)
		err, base = self.raw.produce("idem", 0, data_batch(pid, 1, 0))
		self.assertEqual((err, base), (NONE, 21))
		# The old epoch is fenced.
		err, _ = self.raw.produce("idem", 0, data_batch(pid, 0, 21))
		self.assertEqual(err, INVALID_PRODUCER_EPOCH)
		# An id the partition never saw starts anywhere (Kafka 3.9 has no UNKNOWN_PRODUCER_ID here).
		err, base = self.raw.produce("idem", 0, data_batch(2000, 0, 40))
		self.assertEqual((err, base), (NONE, 24))
		err, _ = self.raw.produce("idem", 0, data_batch(2000, 0, 44))
		self.assertEqual(err, OUT_OF_ORDER_SEQUENCE_NUMBER)
		# acks=1 duplicates are answered the same way.
		err, base = self.raw.produce("idem", 0, data_batch(2000, 0, 40), acks=1)
		self.assertEqual((err, base), (NONE, 24))
		self.assert_log_once([(pid, 3 * k) for k in range(7)] + [(pid, 0), (2000, 40)])
		err, prods = self.raw.describe_producers("idem", 0)
		self.assertEqual(err, NONE)
		self.assertEqual(prods[pid][:2], (1, 2))
		self.assertEqual(prods[2000][:2], (0, 42))
		self.assertEqual(prods[pid][4], -1)

	def test_state_survives_kill_and_clean_restart(self):
		pid = 1001
		bases = self.send_seven(pid)
		self.b.kill()
		start_after_kill(self.b)
		h.wait_leaders(self.b.address, "idem", 1, 1)
		self.reconnect()
		# Rebuilt from the log: all five recent batches are known again.
		for k in range(2, 7):
			err, base = self.raw.produce("idem", 0, data_batch(pid, 0, 3 * k))
			self.assertEqual((err, base), (NONE, bases[k]), "retry of batch %d after kill -9" % k)
		err, base = self.raw.produce("idem", 0, data_batch(pid, 0, 21))
		self.assertEqual((err, base), (NONE, 21))
		self.b.terminate()
		snaps = sorted(glob.glob(os.path.join(partition_dir(self.b, "idem", 0), "*.snapshot")))
		self.assertTrue(snaps, "a clean shutdown writes a producer snapshot")
		self.assertEqual(os.path.basename(snaps[-1]), "%020d.snapshot" % 24)
		entry = decode_snapshot(snaps[-1])[pid]
		self.assertEqual(entry, dict(epoch=0, last_seq=23, last_offset=23, offset_delta=2,
				timestamp=entry["timestamp"], coordinator_epoch=-1, txn_first=-1))
		# samsa dump-log shows the producer in the log and in the snapshot.
		p = h.samsa_cli("dump-log", "--files", partition_dir(self.b, "idem", 0))
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertIn("baseOffset: 21 lastOffset: 23 count: 3 baseSequence: 21 lastSequence: 23 producerId: %d "
				"producerEpoch: 0" % pid, p.stdout)
		self.assertRegex(p.stdout, r"producerId: %d producerEpoch: 0 coordinatorEpoch: -1 currentTxnFirstOffset: "
				r"none lastTimestamp: \d+ firstSequence: 21 lastSequence: 23 lastOffset: 23 offsetDelta: 2" % pid)
		self.b.start()
		h.wait_leaders(self.b.address, "idem", 1, 1)
		self.reconnect()
		# From the snapshot: the last batch is known, the sequence goes on from it.
		err, base = self.raw.produce("idem", 0, data_batch(pid, 0, 21))
		self.assertEqual((err, base), (NONE, 21))
		err, _ = self.raw.produce("idem", 0, data_batch(pid, 0, 25))
		self.assertEqual(err, OUT_OF_ORDER_SEQUENCE_NUMBER)
		err, base = self.raw.produce("idem", 0, data_batch(pid, 0, 24))
		self.assertEqual((err, base), (NONE, 24))
		self.assert_log_once([(pid, 3 * k) for k in range(9)])

	def test_snapshot_at_roll(self):
		h.create_topic(self.b.address, "idem-roll", 1, 1, config={"segment.bytes": "400"})
		pid = 1002
		for k in range(10):
			err, _ = self.raw.produce("idem-roll", 0, data_batch(pid, 3, 3 * k))
			self.assertEqual(err, NONE)
		d = partition_dir(self.b, "idem-roll", 0)
		snaps = sorted(glob.glob(os.path.join(d, "*.snapshot")))
		logs = sorted(glob.glob(os.path.join(d, "*.log")))
		self.assertGreater(len(logs), 2)
		# One per rolled segment, named by its base offset, holding the state before it.
		self.assertEqual([os.path.basename(s)[:20] for s in snaps], [os.path.basename(x)[:20] for x in logs[1:]])
		for s in snaps:
			off = int(os.path.basename(s)[:20])
			e = decode_snapshot(s)[pid]
			self.assertEqual((e["epoch"], e["last_offset"], e["last_seq"]), (3, off - 1, off - 1))


class Transactions(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=1, props=PROPS)
		h.create_topic(cls.shared.broker(1).address, "txn", 2, 1)

	def setUp(self):
		super().setUp()
		self.b = self.shared.broker(1)
		self.raw = Raw(self.b.port)
		self.addCleanup(self.raw.close)

	def test_lso_markers_and_read_committed(self):
		t, p = "txn", 0
		raw = self.raw
		# Plain data 0-2, then a transaction of producer 3000 at 3-8 and a committed one of 3001 at 9-11.
		self.assertEqual(raw.produce(t, p, data_batch(50, 0, 0)), (NONE, 0))
		self.assertEqual(raw.produce(t, p, data_batch(3000, 0, 0, txn=True)), (NONE, 3))
		self.assertEqual(raw.produce(t, p, data_batch(3001, 0, 0, txn=True)), (NONE, 6))
		self.assertEqual(raw.produce(t, p, data_batch(3000, 0, 3, txn=True)), (NONE, 9))
		# The open transaction holds the LSO at its first offset.
		self.assertEqual(raw.list_offset_latest(t, p, 1), (NONE, 3))
		self.assertEqual(raw.list_offset_latest(t, p, 0), (NONE, 12))
		err, hw, lso, aborted, batches = raw.fetch(t, p, 0, isolation=1)
		self.assertEqual((err, hw, lso, aborted), (NONE, 12, 3, []))
		self.assertEqual([b[0] for b in batches], [0])
		err, hw, lso, aborted, batches = raw.fetch(t, p, 0, isolation=0)
		self.assertEqual((hw, lso, aborted), (12, 3, None))
		self.assertEqual(len(batches), 4)
		# A non-transactional write inside the transaction is refused.
		self.assertEqual(raw.produce(t, p, data_batch(3000, 0, 6))[0], INVALID_TXN_STATE)
		# Markers: 3001 commits (coordinator epoch 5), 3000 aborts.
		self.assertEqual(raw.write_txn_markers(t, p, 3001, 0, True, 5), NONE)
		self.assertEqual(raw.list_offset_latest(t, p, 1), (NONE, 3))  # 3000 is still open
		self.assertEqual(raw.write_txn_markers(t, p, 3000, 0, False, 5), NONE)
		self.assertEqual(raw.list_offset_latest(t, p, 1), (NONE, 14))
		err, hw, lso, aborted, batches = raw.fetch(t, p, 0, isolation=1)
		self.assertEqual((err, hw, lso), (NONE, 14, 14))
		self.assertEqual(aborted, [(3000, 3)])
		self.assertEqual([(b[0], b[3], bool(b[2] & 0x20)) for b in batches],
				[(0, 50, False), (3, 3000, False), (6, 3001, False), (9, 3000, False),
				(12, 3001, True), (13, 3000, True)])
		# From past the abort, it is not listed.
		self.assertEqual(raw.fetch(t, p, 14, isolation=1)[3], [])
		# Stale markers: an old coordinator epoch, an old producer epoch; nothing written.
		self.assertEqual(raw.write_txn_markers(t, p, 3000, 0, True, 4), TRANSACTION_COORDINATOR_FENCED)
		self.assertEqual(raw.produce(t, p, data_batch(3000, 1, 0, txn=True)), (NONE, 14))
		self.assertEqual(raw.write_txn_markers(t, p, 3000, 0, False, 5), INVALID_PRODUCER_EPOCH)
		self.assertEqual(raw.fetch(t, p, 0)[1], 17)
		err, prods = raw.describe_producers(t, p)
		self.assertEqual(prods[3000][0], 1)
		self.assertEqual(prods[3000][3], 5)
		self.assertEqual(prods[3000][4], 14)
		self.assertEqual(prods[3001][4], -1)
		self.assertEqual(raw.write_txn_markers(t, p, 3000, 1, False, 6), NONE)
		self.assertEqual(raw.list_offset_latest(t, p, 1), (NONE, 18))
		err, hw, lso, aborted, _ = raw.fetch(t, p, 0, isolation=1)
		self.assertEqual(sorted(aborted), [(3000, 3), (3000, 14)])
		idx = glob.glob(os.path.join(partition_dir(self.b, t, p), "*.txnindex"))
		self.assertEqual(len(idx), 1)
		self.assertEqual(decode_txnindex(idx[0]), [(3000, 3, 13, 14), (3000, 14, 17, 18)])
		out = h.samsa_cli("dump-log", "--print-data-log", "--files", partition_dir(self.b, t, p))
		self.assertEqual(out.returncode, 0, out.stderr)
		self.assertIn("version: 0 producerId: 3000 firstOffset: 3 lastOffset: 13 lastStableOffset: 14", out.stdout)
		self.assertRegex(out.stdout, r"\| offset: 13 CreateTime: \d+ keySize: 4 valueSize: 6 sequence: -1 "
				r"controlType: ABORT\(0\) coordinatorEpoch: 5")
		self.assertRegex(out.stdout, r"isTransactional: true isControl: true")

	def test_bad_marker_requests(self):
		raw = self.raw
		h.create_topic(self.b.address, "txn-bad", 1, 1)
		# A partition nobody hosts, an unknown topic: Kafka's errors for the partition.
		self.assertEqual(raw.write_txn_markers("txn-bad", 7, 6000, 0, True, 0), 3)
		self.assertEqual(raw.write_txn_markers("no-such-topic", 0, 6000, 0, False, 0), 3)
		self.assertEqual(raw.describe_producers("no-such-topic", 0)[0], 3)
		# A marker for a producer with no transaction is written (Kafka writes it too) and changes nothing else.
		before = raw.fetch("txn-bad", 0, 0)[1]
		self.assertEqual(raw.write_txn_markers("txn-bad", 0, 6001, 0, True, 3), NONE)
		self.assertEqual(raw.fetch("txn-bad", 0, 0)[1], before + 1)
		self.assertEqual(raw.list_offset_latest("txn-bad", 0, 1), (NONE, before + 1))
		self.assertEqual(raw.describe_producers("txn-bad", 0)[1][6001][3], 3)
		# A client may not write a control batch itself.
		ctl = records.batch([(b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x03")], producer_id=6001,
				producer_epoch=0, attributes=0x30)
		err, _ = raw.produce("txn-bad", 0, ctl)
		self.assertNotEqual(err, NONE)
		self.assertEqual(raw.fetch("txn-bad", 0, 0)[1], before + 1)

	def test_markers_survive_restart(self):
		t, p = "txn", 1
		raw = self.raw
		self.assertEqual(raw.produce(t, p, data_batch(4000, 0, 0, txn=True)), (NONE, 0))
		self.assertEqual(raw.write_txn_markers(t, p, 4000, 0, False, 2), NONE)
		self.assertEqual(raw.produce(t, p, data_batch(4001, 0, 0, txn=True)), (NONE, 4))
		self.b.kill()
		start_after_kill(self.b)
		h.wait_leaders(self.b.address, t, 2, 1)
		self.raw.close()
		self.raw = raw = Raw(self.b.port)
		# Rebuilt by replaying the log: the open transaction holds the LSO, the abort is listed once.
		h.wait_until(lambda: raw.list_offset_latest(t, p, 0) == (NONE, 7), 30, "high watermark after restart")
		self.assertEqual(raw.list_offset_latest(t, p, 1), (NONE, 4))
		self.assertEqual(raw.fetch(t, p, 0, isolation=1)[3], [(4000, 0)])
		self.assertEqual(raw.write_txn_markers(t, p, 4000, 0, True, 1), TRANSACTION_COORDINATOR_FENCED)
		self.assertEqual(raw.write_txn_markers(t, p, 4001, 0, True, 2), NONE)
		self.assertEqual(raw.list_offset_latest(t, p, 1), (NONE, 8))
		idx = glob.glob(os.path.join(partition_dir(self.b, t, p), "*.txnindex"))
		self.assertEqual(decode_txnindex(idx[0]), [(4000, 0, 3, 4)])


class LeaderMove(h.ClusterTestCase):
	"""RF=3: followers keep the producer state, so the next leader dedups a retry."""

	def test_new_leader_dedups(self):
		c = self.start_cluster(brokers=3, first_id=1, props=PROPS)
		b1 = c.broker(1)
		from confluent_kafka.admin import AdminClient, NewTopic
		a = AdminClient({"bootstrap.servers": c.bootstrap() if callable(c.bootstrap) else c.bootstrap})
		for f in a.create_topics([NewTopic("idem3", 1, 3)], request_timeout=20).values():
			f.result(30)
		h.wait_until(lambda: len(c.partition_state("idem3", 0)["isr"]) == 3, 60, "ISR of three")
		leader = c.partition_state("idem3", 0)["leader"]
		h.wait_until(lambda: Raw(c.broker(leader).port).fetch("idem3", 0, 0)[0] == NONE, 60, "leader serving")
		raw = Raw(c.broker(leader).port)
		pid = 5000
		bases = []
		for k in range(5):
			err, base = raw.produce("idem3", 0, data_batch(pid, 0, 2 * k, n=2))
			self.assertEqual(err, NONE)
			bases.append(base)
		raw.close()
		c.broker(leader).kill()
		h.wait_until(lambda: c.partition_state("idem3", 0)["leader"] not in (leader, -1), 60, "a new leader")
		new = c.partition_state("idem3", 0)["leader"]
		raw = Raw(c.broker(new).port)
		self.addCleanup(raw.close)

		def retry_ok():
			err, base = raw.produce("idem3", 0, data_batch(pid, 0, 8, n=2))
			return (err, base) == (NONE, bases[4])
		h.wait_until(retry_ok, 60, "the new leader answers the retry with the original offset")
		for k in range(5):
			self.assertEqual(raw.produce("idem3", 0, data_batch(pid, 0, 2 * k, n=2)), (NONE, bases[k]))
		self.assertEqual(raw.produce("idem3", 0, data_batch(pid, 0, 10, n=2)), (NONE, 10))
		got = raw.fetch_all("idem3", 0)
		self.assertEqual([(b[0], b[5]) for b in got], [(2 * k, 2 * k) for k in range(6)])


if __name__ == "__main__":
	h.main()
