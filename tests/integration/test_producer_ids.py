"""Producer ids as Kafka's ZooKeeper-mode brokers hand them out: InitProducerId
without a transactional id answers any broker with a fresh id and epoch 0;
ids come in blocks of 1000 claimed in /latest_producer_id_block with a
setData conditional on the znode's version, whose JSON is Kafka's
({"version":1,"broker":N,"block_start":"..","block_end":".."}), so two brokers
never hand out the same id and a restarted cluster never reuses one. A
confluent-kafka producer with enable.idempotence=true produces through it and
its batches carry the id it was given."""

import glob
import json
import os
import re
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i16, i32, string, uvarint, compact_string  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

INIT_PRODUCER_ID = 22
NONE = 0
INVALID_REQUEST = 42
BLOCK = 1000
TOPIC = "pid-idem"


def i64(v):
	return struct.pack(">q", v)


def init_producer_id(port, version=0, txn_id=None, timeout_ms=60000, pid=-1, epoch=-1):
	"""InitProducerId at `version`: (error, producer id, epoch)."""
	flex = version >= 2
	body = (compact_string(txn_id) if flex else string(txn_id)) + i32(timeout_ms)
	if version >= 3:
		body += i64(pid) + i16(epoch)
	if flex:
		body += uvarint(0)
	with kproto.Conn(h.HOST, port, timeout=30) as c:
		r = c.request(INIT_PRODUCER_ID, version, body, flexible_header=flex)
		if flex:
			r.skip_tags()
		r.i32()  # throttle
		err = r.i16()
		got_pid = struct.unpack(">q", r.take(8))[0]
		return err, got_pid, r.i16()


def create_topic(bootstrap, name, partitions):
	"""CreateTopics (RF 1) and wait until every partition has a leader."""
	a = AdminClient({"bootstrap.servers": bootstrap})
	for _, f in a.create_topics([NewTopic(name, partitions, 1)], request_timeout=20).items():
		f.result(30)

	def led():
		t = a.list_topics(name, timeout=10).topics.get(name)
		return t is not None and t.error is None and len(t.partitions) == partitions and all(
			p.leader >= 0 for p in t.partitions.values())
	h.wait_until(led, 60, "leaders for %s" % name)


class ProducerIds(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=2, first_id=1)

	def block_znode(self):
		data, stat = self.shared.zk.get(self.shared.zpath("/latest_producer_id_block"))
		return json.loads(data.decode()), data.decode(), stat

	def test_1_blocks_per_broker(self):
		b1, b2 = self.shared.broker(1), self.shared.broker(2)
		err, first1, epoch = init_producer_id(b1.port)
		self.assertEqual((err, epoch), (NONE, 0))
		self.assertEqual(first1, 0)  # the first block of a new cluster
		blk, raw, _ = self.block_znode()
		self.assertEqual(blk, {"version": 1, "broker": 1, "block_start": "0", "block_end": "999"})
		self.assertEqual(list(blk), ["version", "broker", "block_start", "block_end"])  # Kafka's key order
		err, first2, epoch = init_producer_id(b2.port, version=4)
		self.assertEqual((err, epoch), (NONE, 0))
		self.assertEqual(first2, BLOCK)
		blk, _, stat = self.block_znode()
		self.assertEqual(blk, {"version": 1, "broker": 2, "block_start": "1000", "block_end": "1999"})
		# Every version, alternating brokers: all distinct, each from its broker's block.
		ids = {first1, first2}
		for v in range(6):
			for b, lo in ((b1, 0), (b2, BLOCK)):
				err, pid, epoch = init_producer_id(b.port, version=v)
				self.assertEqual((err, epoch), (NONE, 0), "v%d" % v)
				self.assertTrue(lo <= pid < lo + BLOCK, pid)
				self.assertNotIn(pid, ids)
				ids.add(pid)
		# No further block was needed.
		self.assertEqual(self.block_znode()[2].version, stat.version)

	def test_2_bad_input(self):
		port = self.shared.broker(1).port
		# v3+: a producer id without an epoch (or the reverse) is INVALID_REQUEST.
		self.assertEqual(init_producer_id(port, version=3, pid=5, epoch=-1)[0], INVALID_REQUEST)
		self.assertEqual(init_producer_id(port, version=4, pid=-1, epoch=2)[0], INVALID_REQUEST)
		# An empty transactional id is refused as Kafka refuses it.
		self.assertEqual(init_producer_id(port, version=0, txn_id="")[0], INVALID_REQUEST)
		# The broker still answers.
		self.assertEqual(init_producer_id(port)[0], NONE)

	def test_3_idempotent_producer(self):
		c = self.shared
		create_topic(c.bootstrap, TOPIC, 2)
		p = Producer({"bootstrap.servers": c.bootstrap, "enable.idempotence": True, "linger.ms": 5})
		errors = []
		for i in range(200):
			p.produce(TOPIC, ("m%d" % i).encode(), partition=i % 2,
					on_delivery=lambda err, m: errors.append(err) if err else None)
		self.assertEqual(p.flush(60), 0)
		self.assertEqual(errors, [])
		del p
		cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "pid-check", "enable.auto.commit": False})
		cons.assign([TopicPartition(TOPIC, 0, 0), TopicPartition(TOPIC, 1, 0)])
		got = []
		end = time.time() + 60
		while len(got) < 200 and time.time() < end:
			m = cons.poll(1.0)
			if m is not None and not m.error():
				got.append(m.value().decode())
		cons.close()
		self.assertEqual(sorted(got), sorted("m%d" % i for i in range(200)))
		# The batches on disk carry a producer id from one of the two blocks, epoch 0, sequences from 0.
		pids = set()
		for b in c.brokers.values():
			for d in glob.glob(os.path.join(b.data_dir, TOPIC + "-*")):
				out = h.samsa_cli("dump-log", "--files", os.path.join(d, "00000000000000000000.log"))
				self.assertEqual(out.returncode, 0, out.stderr)
				seqs = [int(s) for s in re.findall(r"baseSequence: (-?\d+)", out.stdout)]
				self.assertTrue(seqs and seqs[0] == 0, out.stdout[:500])
				pids |= set(int(x) for x in re.findall(r"producerId: (-?\d+)", out.stdout))
				self.assertNotIn("producerEpoch: -1", out.stdout)
		self.assertEqual(len(pids), 1, pids)
		self.assertTrue(0 <= pids.pop() < 2 * BLOCK)

	def test_4_restart_never_reuses(self):
		c = self.shared
		for b in c.brokers.values():
			b.terminate()
		for b in c.brokers.values():
			b.start(wait=False)
		for b in c.brokers.values():
			b.wait_ready(60)
		seen = set()
		for b in c.brokers.values():
			err, pid, epoch = init_producer_id(b.port)
			self.assertEqual((err, epoch), (NONE, 0))
			self.assertGreaterEqual(pid, 2 * BLOCK)  # both old blocks are behind us
			seen.add(pid // BLOCK)
		self.assertEqual(seen, {2, 3})  # one new block each
		blk = self.block_znode()[0]
		self.assertEqual((blk["block_start"], blk["block_end"]), ("3000", "3999"))


if __name__ == "__main__":
	unittest.main()
