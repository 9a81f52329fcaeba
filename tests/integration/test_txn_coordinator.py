"""The transaction coordinator, through its own requests and its own state:
FindCoordinator key type 1 places a transactional id on the leader of its
__transaction_state partition (Kafka's abs(hashCode) % partitions), created on
first lookup; InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn
move it through Kafka's states with Kafka's errors; every state is written
to __transaction_state as Kafka's TransactionLogKey/Value v0 (decoded here);
EndTxn's Prepare* is followed by WriteTxnMarkers to the partition leaders; a
second producer fences the first; a hung transaction is aborted at its
timeout with a bumped epoch; DescribeTransactions and ListTransactions answer
from the coordinator; confluent-kafka's init_transactions() works.

The partition leaders' side (WriteTxnMarkers, transactional produce) is
another piece of work: where the broker does not offer WriteTxnMarkers yet,
the test checks that the coordinator keeps the transaction in Prepare* and
keeps retrying its markers, and otherwise that it reaches Complete*."""

import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i8, i16, i32, string, uvarint, compact_string, compact_array  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

NONE = 0
NOT_COORDINATOR = 16
COORDINATOR_NOT_AVAILABLE = 15
COORDINATOR_LOAD_IN_PROGRESS = 14
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_REQUEST = 42
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
INVALID_PRODUCER_ID_MAPPING = 49
INVALID_TRANSACTION_TIMEOUT = 50
CONCURRENT_TRANSACTIONS = 51
OPERATION_NOT_ATTEMPTED = 55
PRODUCER_FENCED = 90
TRANSACTIONAL_ID_NOT_FOUND = 105

STATES = {0: "Empty", 1: "Ongoing", 2: "PrepareCommit", 3: "PrepareAbort", 4: "CompleteCommit",
	5: "CompleteAbort", 6: "Dead", 7: "PrepareEpochFence"}
TXN_PARTS = 4
TOPIC = "txn-data"


def i64(v):
	return struct.pack(">q", v)


def r_i64(r):
	return struct.unpack(">q", r.take(8))[0]


def java_partition(s, n):
	hsh = 0
	for ch in s:
		hsh = (31 * hsh + ord(ch)) & 0xFFFFFFFF
	return (hsh & 0x7FFFFFFF) % n


def call(port, api, version, body, flex=False):
	with kproto.Conn(h.HOST, port, timeout=30) as c:
		r = c.request(api, version, body, flexible_header=flex)
		if flex:
			r.skip_tags()
		return r


def find_txn_coordinator(port, txn_id, key_type=1):
	r = call(port, 10, 1, string(txn_id) + i8(key_type))
	r.i32()
	err = r.i16()
	r.string()
	return err, r.i32()


def init_pid(port, txn_id, timeout_ms=60000):
	r = call(port, 22, 1, string(txn_id) + i32(timeout_ms))
	r.i32()
	return r.i16(), r_i64(r), r.i16()


def add_partitions(port, txn_id, pid, epoch, topics):
	body = string(txn_id) + i64(pid) + i16(epoch) + i32(len(topics))
	for t, parts in topics.items():
		body += string(t) + i32(len(parts)) + b"".join(i32(p) for p in parts)
	r = call(port, 24, 1, body)
	r.i32()
	out = {}
	for _ in range(r.i32()):
		name = r.string()
		for _ in range(r.i32()):
			p = r.i32()
			out[(name, p)] = r.i16()
	return out


def add_partitions_v4(port, txns):
	"""txns: [(id, pid, epoch, verify_only, {topic: [p]})] -> (error, {id: {(topic, p): error}})."""
	def txn(t):
		tid, pid, epoch, verify, topics = t
		return compact_string(tid) + i64(pid) + i16(epoch) + i8(1 if verify else 0) + compact_array(
			[compact_string(n) + compact_array([i32(p) for p in ps]) + uvarint(0) for n, ps in topics.items()]) + \
			uvarint(0)
	r = call(port, 24, 4, compact_array([txn(t) for t in txns]) + uvarint(0), flex=True)
	r.i32()
	err = r.i16()
	out = {}

	def result():
		tid = r.compact_string()
		res = out.setdefault(tid, {})

		def topic():
			name = r.compact_string()

			def part():
				p = r.i32()
				res[(name, p)] = r.i16()
				r.skip_tags()
			r.compact_array(part)
			r.skip_tags()
		r.compact_array(topic)
		r.skip_tags()
	r.compact_array(result)
	return err, out


def add_offsets(port, txn_id, pid, epoch, group):
	r = call(port, 25, 1, string(txn_id) + i64(pid) + i16(epoch) + string(group))
	r.i32()
	return r.i16()


def txn_offset_commit(port, txn_id, group, pid, epoch, offsets, version=0, generation=-1, member=""):
	"""offsets: {topic: [(partition, offset)]} -> {(topic, partition): error}."""
	if version < 3:
		body = string(txn_id) + string(group) + i64(pid) + i16(epoch) + i32(len(offsets))
		for t, ps in offsets.items():
			body += string(t) + i32(len(ps)) + b"".join(i32(p) + i64(o) + string(None) for p, o in ps)
		r = call(port, 28, version, body)
		r.i32()
		out = {}
		for _ in range(r.i32()):
			name = r.string()
			for _ in range(r.i32()):
				p = r.i32()
				out[(name, p)] = r.i16()
		return out
	body = compact_string(txn_id) + compact_string(group) + i64(pid) + i16(epoch) + i32(generation) + \
		compact_string(member) + compact_string(None)
	body += compact_array([compact_string(t) + compact_array([i32(p) + i64(o) + i32(-1) + compact_string("") +
		uvarint(0) for p, o in ps]) + uvarint(0) for t, ps in offsets.items()]) + uvarint(0)
	r = call(port, 28, version, body, flex=True)
	r.i32()
	out = {}

	def topic():
		name = r.compact_string()

		def part():
			p = r.i32()
			out[(name, p)] = r.i16()
			r.skip_tags()
		r.compact_array(part)
		r.skip_tags()
	r.compact_array(topic)
	return out


def offset_fetch(port, group, topic, partition):
	"""OffsetFetch v1: (offset, error)."""
	r = call(port, 9, 1, string(group) + i32(1) + string(topic) + i32(1) + i32(partition))
	r.i32()
	r.string()
	r.i32()
	r.i32()
	off = r_i64(r)
	r.string()
	return off, r.i16()


def end_txn(port, txn_id, pid, epoch, commit):
	r = call(port, 26, 1, string(txn_id) + i64(pid) + i16(epoch) + i8(1 if commit else 0))
	r.i32()
	return r.i16()


def describe(port, txn_id):
	r = call(port, 65, 0, compact_array([compact_string(txn_id)]) + uvarint(0), flex=True)
	r.i32()

	def state():
		d = {"error": r.i16(), "id": r.compact_string(), "state": r.compact_string(), "timeout": r.i32(),
			"start": r_i64(r), "pid": r_i64(r), "epoch": r.i16()}

		def topic():
			t = r.compact_string()
			ps = r.compact_array(r.i32)
			r.skip_tags()
			return t, ps
		d["topics"] = {t: sorted(ps) for t, ps in r.compact_array(topic)}
		r.skip_tags()
		return d
	return r.compact_array(state)[0]


def list_txns(port, states=()):
	r = call(port, 66, 0, compact_array([compact_string(s) for s in states]) + compact_array([]) + uvarint(0),
		flex=True)
	r.i32()
	err = r.i16()
	unknown = r.compact_array(r.compact_string)

	def st():
		d = (r.compact_string(), r_i64(r), r.compact_string())
		r.skip_tags()
		return d
	return err, unknown, r.compact_array(st)


def decode_txn_log(key, value):
	"""Kafka's TransactionLogKey v0 and TransactionLogValue v0 (None for a tombstone)."""
	kr = kproto.Reader(key)
	assert kr.i16() == 0
	txn_id = kr.string()
	if value is None:
		return txn_id, None
	vr = kproto.Reader(value)
	ver = vr.i16()
	assert ver == 0, ver
	d = {"pid": r_i64(vr), "epoch": vr.i16(), "timeout": vr.i32(), "state": STATES[vr.i8()]}
	n = vr.i32()
	parts = None
	if n >= 0:
		parts = []
		for _ in range(n):
			t = vr.string()
			parts += [(t, vr.i32()) for _ in range(vr.i32())]
	d["partitions"] = None if parts is None else sorted(parts)
	d["update"] = r_i64(vr)
	d["start"] = r_i64(vr)
	assert vr.remaining() == 0
	return txn_id, d


class TxnCoordinator(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		c = cls.start_shared_cluster(brokers=2, first_id=1, props={
			"transaction.state.log.num.partitions": str(TXN_PARTS),
			"transaction.state.log.replication.factor": "2",
			"transaction.state.log.min.isr": "1",
			"transaction.abort.timed.out.transaction.cleanup.interval.ms": "500",
			"transaction.max.timeout.ms": "120000",
			"offsets.topic.replication.factor": "1",
		})
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in a.create_topics([NewTopic(TOPIC, 2, 1)], request_timeout=20).items():
			f.result(30)

		def led():
			t = a.list_topics(TOPIC, timeout=10).topics.get(TOPIC)
			return t is not None and len(t.partitions) == 2 and all(p.leader >= 0 for p in t.partitions.values())
		h.wait_until(led, 60, "leaders for %s" % TOPIC)
		with kproto.Conn(h.HOST, c.broker(1).port) as conn:
			_, apis = conn.api_versions()
		cls.markers_served = 27 in apis

	def coordinator(self, txn_id):
		"""Until FindCoordinator names a broker: its port (creates __transaction_state the first time)."""
		found = {}

		def ok():
			err, node = find_txn_coordinator(self.shared.broker(1).port, txn_id)
			found["node"] = node
			return err == NONE
		h.wait_until(ok, 90, "a coordinator for %s" % txn_id)
		node = found["node"]
		return self.shared.broker(node).port, node

	def other(self, node):
		return self.shared.broker(2 if node == 1 else 1).port

	def txn_records(self, txn_id):
		"""Every record of txn_id in its __transaction_state partition, decoded."""
		p = java_partition(txn_id, TXN_PARTS)
		cons = Consumer({"bootstrap.servers": self.shared.bootstrap, "group.id": "txn-log-reader-%f" % time.time(),
			"enable.auto.commit": False, "enable.partition.eof": True})
		cons.assign([TopicPartition("__transaction_state", p, 0)])
		out = []
		end = time.time() + 30
		while time.time() < end:
			m = cons.poll(1.0)
			if m is None:
				continue
			if m.error():
				if m.error().code() == -191:  # partition EOF
					break
				continue
			tid, v = decode_txn_log(m.key(), m.value())
			if tid == txn_id:
				out.append(v)
		cons.close()
		return out

	def test_1_placement_and_init(self):
		port, node = self.coordinator("tx-a")
		md = kproto.metadata(h.HOST, port, topics=["__transaction_state"])
		t = md["topics"][0]
		self.assertEqual(len(t["partitions"]), TXN_PARTS)
		leader = {p["partition_index"] if "partition_index" in p else p["partition"]: p["leader"]
			for p in t["partitions"]}
		self.assertEqual(node, leader[java_partition("tx-a", TXN_PARTS)])
		err, pid, epoch = init_pid(port, "tx-a")
		self.assertEqual((err, epoch), (NONE, 0))
		self.assertGreaterEqual(pid, 0)
		# Again: the same id, the next epoch.
		err, pid2, epoch = init_pid(port, "tx-a")
		self.assertEqual((err, pid2, epoch), (NONE, pid, 1))
		# Only the coordinator answers.
		self.assertEqual(init_pid(self.other(node), "tx-a")[0], NOT_COORDINATOR)
		recs = self.txn_records("tx-a")
		self.assertEqual([(r["state"], r["epoch"], r["partitions"]) for r in recs],
			[("Empty", 0, None), ("Empty", 1, None)])
		self.assertEqual(recs[0]["pid"], pid)
		self.assertEqual(recs[0]["timeout"], 60000)
		self.assertEqual(recs[0]["start"], -1)

	def test_2_bad_input(self):
		port, node = self.coordinator("tx-bad")
		self.assertEqual(init_pid(port, "tx-bad", timeout_ms=120001)[0], INVALID_TRANSACTION_TIMEOUT)
		self.assertEqual(init_pid(port, "tx-bad", timeout_ms=0)[0], INVALID_TRANSACTION_TIMEOUT)
		self.assertEqual(self.txn_records("tx-bad"), [])  # nothing written
		# Unknown transactional ids.
		self.assertEqual(end_txn(port, "tx-bad", 5, 0, True), INVALID_PRODUCER_ID_MAPPING)
		self.assertEqual(set(add_partitions(port, "tx-bad", 5, 0, {TOPIC: [0]}).values()),
			{INVALID_PRODUCER_ID_MAPPING})
		err, pid, epoch = init_pid(port, "tx-bad")
		self.assertEqual(err, NONE)
		# Wrong producer id, wrong epoch, nothing to end, unknown partition.
		self.assertEqual(set(add_partitions(port, "tx-bad", pid + 1, epoch, {TOPIC: [0]}).values()),
			{INVALID_PRODUCER_ID_MAPPING})
		self.assertEqual(set(add_partitions(port, "tx-bad", pid, epoch + 1, {TOPIC: [0]}).values()),
			{PRODUCER_FENCED})
		self.assertEqual(end_txn(port, "tx-bad", pid, epoch, True), INVALID_TXN_STATE)
		self.assertEqual(end_txn(port, "tx-bad", pid, epoch + 3, False), PRODUCER_FENCED)
		res = add_partitions(port, "tx-bad", pid, epoch, {TOPIC: [0], "no-such-topic": [0]})
		self.assertEqual(res, {(TOPIC, 0): OPERATION_NOT_ATTEMPTED, ("no-such-topic", 0): UNKNOWN_TOPIC_OR_PARTITION})
		self.assertEqual(add_offsets(port, "tx-bad", pid, epoch + 1, "g"), PRODUCER_FENCED)
		self.assertEqual(describe(port, "tx-bad")["state"], "Empty")
		self.assertEqual(describe(port, "tx-none")["error"] in (TRANSACTIONAL_ID_NOT_FOUND, NOT_COORDINATOR), True)
		# Only the init record was written.
		self.assertEqual([r["state"] for r in self.txn_records("tx-bad")], ["Empty"])

	def test_2b_add_partitions_v4(self):
		"""v4's batched form: additions written, verify_only answered from the transaction."""
		port, node = self.coordinator("tx-v4a")
		err, pa, ea = init_pid(port, "tx-v4a")
		self.assertEqual(err, NONE)
		err, out = add_partitions_v4(port, [("tx-v4a", pa, ea, False, {TOPIC: [0]})])
		self.assertEqual((err, out), (NONE, {"tx-v4a": {(TOPIC, 0): NONE}}))
		self.assertEqual(describe(port, "tx-v4a")["topics"], {TOPIC: [0]})
		err, out = add_partitions_v4(port, [("tx-v4a", pa, ea, True, {TOPIC: [0, 1]}),
			("tx-v4a-unknown", 1, 0, True, {TOPIC: [0]})])
		self.assertEqual(err, NONE)
		self.assertEqual(out["tx-v4a"], {(TOPIC, 0): NONE, (TOPIC, 1): INVALID_TXN_STATE})
		self.assertIn(out["tx-v4a-unknown"][(TOPIC, 0)], (INVALID_PRODUCER_ID_MAPPING, NOT_COORDINATOR))
		self.assertEqual([r["state"] for r in self.txn_records("tx-v4a")], ["Empty", "Ongoing"])
		self.assertEqual(end_txn(port, "tx-v4a", pa, ea, False), NONE)

	def test_3_commit(self):
		port, node = self.coordinator("tx-c")
		err, pid, epoch = init_pid(port, "tx-c")
		self.assertEqual(err, NONE)
		self.assertEqual(add_partitions(port, "tx-c", pid, epoch, {TOPIC: [0, 1]}),
			{(TOPIC, 0): NONE, (TOPIC, 1): NONE})
		# Partitions already in the transaction: answered without a write.
		self.assertEqual(add_partitions(port, "tx-c", pid, epoch, {TOPIC: [1]}), {(TOPIC, 1): NONE})
		self.assertEqual(add_offsets(port, "tx-c", pid, epoch, "txn-group"), NONE)
		d = describe(port, "tx-c")
		self.assertEqual(d["state"], "Ongoing")
		offsets_p = java_partition("txn-group", 50)
		self.assertEqual(d["topics"], {TOPIC: [0, 1], "__consumer_offsets": [offsets_p]})
		self.assertGreater(d["start"], 0)
		self.assertEqual(end_txn(port, "tx-c", pid, epoch, True), NONE)
		# Aborting it now: CONCURRENT_TRANSACTIONS while the markers are out (the pending
		# transition is checked first, as in Kafka), INVALID_TXN_STATE once it is complete.
		self.assertIn(end_txn(port, "tx-c", pid, epoch, False), (CONCURRENT_TRANSACTIONS, INVALID_TXN_STATE))
		if self.markers_served:
			h.wait_until(lambda: describe(port, "tx-c")["state"] == "CompleteCommit", 60, "CompleteCommit")
			self.assertEqual(end_txn(port, "tx-c", pid, epoch, True), NONE)  # a retry of a done commit
			self.assertEqual(end_txn(port, "tx-c", pid, epoch, False), INVALID_TXN_STATE)
		else:
			time.sleep(1.5)
			self.assertEqual(describe(port, "tx-c")["state"], "PrepareCommit")
			self.assertEqual(end_txn(port, "tx-c", pid, epoch, True), CONCURRENT_TRANSACTIONS)
			self.assertEqual(init_pid(port, "tx-c")[0], CONCURRENT_TRANSACTIONS)
			logs = "".join(b.log_text() for b in self.shared.brokers.values())
			self.assertIn("WriteTxnMarkers", logs)
		recs = self.txn_records("tx-c")
		states = [r["state"] for r in recs]
		self.assertEqual(states[:4], ["Empty", "Ongoing", "Ongoing", "PrepareCommit"])
		self.assertEqual(recs[1]["partitions"], [(TOPIC, 0), (TOPIC, 1)])
		self.assertEqual(recs[3]["partitions"], sorted([(TOPIC, 0), (TOPIC, 1), ("__consumer_offsets", offsets_p)]))
		self.assertEqual(recs[3]["start"], recs[1]["start"])
		if self.markers_served:
			self.assertEqual(states[4:], ["CompleteCommit"])
			self.assertEqual(recs[4]["partitions"], [])

	def test_3b_txn_offset_commit(self):
		"""TxnOffsetCommit: written in a transactional batch, invisible until the commit marker."""
		group = "txn-og"
		gport, gnode = None, None
		def gc():
			err, node = find_txn_coordinator(self.shared.broker(1).port, group, key_type=0)
			self.__dict__["gnode"] = node
			return err == NONE
		h.wait_until(gc, 90, "a group coordinator")
		gnode = self.__dict__["gnode"]
		gport = self.shared.broker(gnode).port
		port, node = self.coordinator("tx-o")
		err, pid, epoch = init_pid(port, "tx-o")
		self.assertEqual(err, NONE)
		self.assertEqual(add_offsets(port, "tx-o", pid, epoch, group), NONE)
		self.assertEqual(txn_offset_commit(gport, "tx-o", group, pid, epoch, {TOPIC: [(0, 42)]}), {(TOPIC, 0): NONE})
		self.assertEqual(offset_fetch(gport, group, TOPIC, 0), (-1, NONE))  # pending
		# v3's member checks against the (empty) group; unknown partitions.
		self.assertEqual(txn_offset_commit(gport, "tx-o", group, pid, epoch, {TOPIC: [(1, 7)]}, version=3,
			generation=5), {(TOPIC, 1): 22})  # ILLEGAL_GENERATION
		self.assertEqual(txn_offset_commit(gport, "tx-o", group, pid, epoch, {TOPIC: [(1, 7)]}, version=3,
			member="nobody"), {(TOPIC, 1): 25})  # UNKNOWN_MEMBER_ID
		self.assertEqual(txn_offset_commit(gport, "tx-o", group, pid, epoch, {"no-such": [(0, 1)]}),
			{("no-such", 0): UNKNOWN_TOPIC_OR_PARTITION})
		self.assertEqual(txn_offset_commit(gport, "tx-o", "", pid, epoch, {TOPIC: [(0, 1)]}), {(TOPIC, 0): 24})
		# On disk: a transactional batch with the producer's id and epoch.
		gp = java_partition(group, 50)
		d = os.path.join(self.shared.broker(gnode).data_dir, "__consumer_offsets-%d" % gp)
		out = h.samsa_cli("dump-log", "--files", os.path.join(d, "00000000000000000000.log"))
		self.assertIn("producerId: %d producerEpoch: %d" % (pid, epoch), out.stdout)
		self.assertIn("isTransactional: true", out.stdout)
		self.assertEqual(end_txn(port, "tx-o", pid, epoch, True), NONE)
		if self.markers_served:
			h.wait_until(lambda: offset_fetch(gport, group, TOPIC, 0) == (42, NONE), 60, "the committed offset")
		else:
			time.sleep(1)
			self.assertEqual(offset_fetch(gport, group, TOPIC, 0), (-1, NONE))

	def test_4_fencing(self):
		port, node = self.coordinator("tx-f")
		err, pid, epoch = init_pid(port, "tx-f")
		self.assertEqual(err, NONE)
		self.assertEqual(add_partitions(port, "tx-f", pid, epoch, {TOPIC: [0]}), {(TOPIC, 0): NONE})
		# A second producer with the same id: the open transaction is aborted with a bumped epoch.
		self.assertEqual(init_pid(port, "tx-f")[0], CONCURRENT_TRANSACTIONS)
		h.wait_until(lambda: describe(port, "tx-f")["epoch"] == epoch + 1, 30, "the fenced epoch")
		self.assertEqual(end_txn(port, "tx-f", pid, epoch, True), PRODUCER_FENCED)
		self.assertEqual(set(add_partitions(port, "tx-f", pid, epoch, {TOPIC: [1]}).values()), {PRODUCER_FENCED})
		recs = self.txn_records("tx-f")
		self.assertEqual([(r["state"], r["epoch"]) for r in recs][:3],
			[("Empty", 0), ("Ongoing", 0), ("PrepareAbort", 1)])
		if self.markers_served:
			def bumped():
				err, pid2, e2 = init_pid(port, "tx-f")
				return err == NONE and pid2 == pid and e2 == epoch + 2
			h.wait_until(bumped, 60, "the new producer's epoch")
		else:
			self.assertEqual(describe(port, "tx-f")["state"], "PrepareAbort")

	def test_5_timeout_abort(self):
		port, node = self.coordinator("tx-t")
		err, pid, epoch = init_pid(port, "tx-t", timeout_ms=1000)
		self.assertEqual(err, NONE)
		self.assertEqual(add_partitions(port, "tx-t", pid, epoch, {TOPIC: [1]}), {(TOPIC, 1): NONE})
		h.wait_until(lambda: describe(port, "tx-t")["state"] in ("PrepareAbort", "CompleteAbort"), 30,
			"the timed-out transaction aborted")
		d = describe(port, "tx-t")
		self.assertEqual(d["epoch"], epoch + 1)
		self.assertEqual(end_txn(port, "tx-t", pid, epoch, True), PRODUCER_FENCED)
		recs = self.txn_records("tx-t")
		self.assertEqual([(r["state"], r["epoch"]) for r in recs][:3],
			[("Empty", 0), ("Ongoing", 0), ("PrepareAbort", 1)])

	def test_6_list(self):
		port, node = self.coordinator("tx-a")
		err, unknown, states = list_txns(port, ["Empty", "Bogus"])
		self.assertEqual((err, unknown), (NONE, ["Bogus"]))
		ids = {s[0] for s in states}
		self.assertIn("tx-a", ids)
		self.assertTrue(all(s[2] == "Empty" for s in states))
		err, _, states = list_txns(self.other(node), [])
		self.assertEqual(err, NONE)
		self.assertNotIn("tx-a", {s[0] for s in states})

	def test_7_confluent_init_transactions(self):
		p = Producer({"bootstrap.servers": self.shared.bootstrap, "transactional.id": "tx-ck"})
		p.init_transactions(60)
		port, node = self.coordinator("tx-ck")
		d = describe(port, "tx-ck")
		self.assertEqual((d["error"], d["state"], d["epoch"]), (NONE, "Empty", 0))
		p.begin_transaction()
		# A second client with the same transactional id takes over with the next epoch.
		p2 = Producer({"bootstrap.servers": self.shared.bootstrap, "transactional.id": "tx-ck"})
		p2.init_transactions(60)
		self.assertEqual(describe(port, "tx-ck")["epoch"], 1)
		del p, p2

	def test_8_cli(self):
		"""samsa transactions list / describe, laid out as kafka-transactions.sh prints them."""
		port, node = self.coordinator("tx-c")
		out = h.samsa_cli("transactions", "--bootstrap-server", self.shared.bootstrap, "list")
		self.assertEqual(out.returncode, 0, out.stderr)
		lines = out.stdout.splitlines()
		self.assertEqual(lines[0].split(), ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"])
		rows = {l.split()[0]: l.split()[1:] for l in lines[1:]}
		self.assertEqual(rows["tx-c"][0], str(node))
		self.assertIn(rows["tx-c"][2], ("PrepareCommit", "CompleteCommit"))
		self.assertIn("tx-a", rows)
		out = h.samsa_cli("transactions", "--bootstrap-server", self.shared.bootstrap, "describe",
			"--transactional-id", "tx-c")
		self.assertEqual(out.returncode, 0, out.stderr)
		head, row = out.stdout.splitlines()
		self.assertEqual(head.split(), ["CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch",
			"TransactionState", "TransactionTimeoutMs", "CurrentTransactionStartTimeMs", "TransactionDurationMs",
			"TopicPartitions"])
		f = row.split()
		self.assertEqual((f[0], f[1], f[5]), (str(node), "tx-c", "60000"))
		if f[4] == "PrepareCommit":
			self.assertEqual(set(f[8].split(",")), {TOPIC + "-0", TOPIC + "-1",
				"__consumer_offsets-%d" % java_partition("txn-group", 50)})
		out = h.samsa_cli("transactions", "--bootstrap-server", self.shared.bootstrap, "describe",
			"--transactional-id", "tx-never")
		self.assertEqual(out.returncode, 1)
		self.assertIn("TRANSACTIONAL_ID_NOT_FOUND", out.stderr)
		self.assertEqual(h.samsa_cli("transactions", "--bootstrap-server", self.shared.bootstrap).returncode, 2)

	def test_9_failover(self):
		"""The new leader of a __transaction_state partition loads it and takes up every
		transaction left in Prepare*."""
		port, node = self.coordinator("tx-fo")
		err, pid, epoch = init_pid(port, "tx-fo")
		self.assertEqual(err, NONE)
		self.assertEqual(add_partitions(port, "tx-fo", pid, epoch, {TOPIC: [0, 1]}), {(TOPIC, 0): NONE, (TOPIC, 1): NONE})
		self.assertEqual(end_txn(port, "tx-fo", pid, epoch, False), NONE)
		old = self.shared.broker(node)
		old.terminate()
		try:
			survivor = 2 if node == 1 else 1
			def moved():
				err, n = find_txn_coordinator(self.shared.broker(survivor).port, "tx-fo")
				return err == NONE and n == survivor
			h.wait_until(moved, 60, "the coordinator moving to broker %d" % survivor)
			sport = self.shared.broker(survivor).port
			h.wait_until(lambda: describe(sport, "tx-fo")["error"] == NONE, 30, "tx-fo loaded")
			d = describe(sport, "tx-fo")
			self.assertEqual((d["pid"], d["epoch"]), (pid, epoch))
			self.assertIn(d["state"], ("PrepareAbort", "CompleteAbort"))
			log = self.shared.broker(survivor).log_text()
			# Markers that reach the leaders complete the abort before the failover; else the new
			# coordinator finds it in PrepareAbort and takes it up.
			self.assertRegex(log, r"loaded \d+ transactional ids from __transaction_state-%d .*%s to complete"
				% (java_partition("tx-fo", TXN_PARTS), r"\d+" if self.markers_served else r"[1-9]\d*"))
			if self.markers_served:
				h.wait_until(lambda: describe(sport, "tx-fo")["state"] == "CompleteAbort", 60, "CompleteAbort")
			else:
				self.assertEqual(end_txn(sport, "tx-fo", pid, epoch, False), CONCURRENT_TRANSACTIONS)
		finally:
			old.start()


if __name__ == "__main__":
	unittest.main()
