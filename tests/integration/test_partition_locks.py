"""One partition's lock is that partition's only (docs/architecture.md).

Both tests stall the appends of one partition with the broker's fault hook
(SAMSA_FAULT_STALL_APPEND=<topic>-<partition>:<gate file>: an append waits
just before its write while the gate file exists), then:

- a stalled append to one partition does not hold up produce (acks=all, so
  replication too) and fetch of another partition on the same broker;
- a LeaderAndIsr that demotes the partition while produce requests for it
  are in flight: the append already past the leadership check completes, the
  demotion then applies, and every produce queued behind it is answered
  NOT_LEADER_OR_FOLLOWER and never written.

The brokers run many network threads (connections are dealt to them in turn)
so each test connection below gets a thread of its own: what is measured is
the broker's locking, not two connections sharing one thread.
"""

import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
import records  # noqa: E402
from kproto import i8, i16, i32, string  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

NONE = 0
NOT_LEADER_OR_FOLLOWER = 6

PROPS = {"num.network.threads": 16, "default.replication.factor": 2, "min.insync.replicas": 1,
	"replica.fetch.wait.max.ms": 100}


def produce_body(topic, partition, batch, acks=1, timeout_ms=30000):
	"""Produce v7 with one partition."""
	return (i16(-1) + i16(acks) + i32(timeout_ms) + i32(1) + string(topic) + i32(1) + i32(partition)
		+ i32(len(batch)) + batch)


def send_produce(conn, corr, topic, partition, batch, acks=1):
	payload = kproto.request_header(0, 7, corr) + produce_body(topic, partition, batch, acks)
	conn.send_raw(kproto.frame(payload))


def read_produce(conn, timeout):
	"""(correlation id, error, base offset) of one Produce v7 answer."""
	r = kproto.Reader(conn.recv_frame(timeout=timeout))
	corr = r.i32()
	assert r.i32() == 1
	r.string()
	assert r.i32() == 1
	r.i32()  # partition
	err = r.i16()
	base = struct.unpack(">q", r.take(8))[0]
	return corr, err, base


def no_answer_within(conn, seconds):
	"""True when nothing arrives on conn for `seconds`."""
	try:
		conn.recv_frame(timeout=seconds)
	except TimeoutError:
		return True
	return False


class PartitionLocks(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		self.gate = os.path.join(os.environ.get("SAMSA_TEST_TMP") or "/tmp", "stall-gate-%d-%s" % (
			os.getpid(), self.id().rsplit(".", 1)[-1]))
		self.addCleanup(self._open_gate)

	def _open_gate(self):
		if os.path.exists(self.gate):
			os.unlink(self.gate)

	def start_with_stall(self, topic_partition):
		os.environ["SAMSA_FAULT_STALL_APPEND"] = "%s:%s" % (topic_partition, self.gate)
		try:
			c = self.start_cluster(brokers=2, props=PROPS)
		finally:
			del os.environ["SAMSA_FAULT_STALL_APPEND"]
		return c

	def create(self, c, topic, assignment):
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in a.create_topics([NewTopic(topic, len(assignment), replica_assignment=assignment)], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(c.bootstrap, topic, len(assignment), assignment[0][0])

		def isr_full():
			return all(len(c.partition_state(topic, p)["isr"]) == len(assignment[p]) for p in range(len(assignment)))
		h.wait_until(isr_full, 60, "full ISRs for %s" % topic)

	def wait_stalled(self, broker, topic_partition):
		h.wait_until(lambda: ("an append to %s is stalled" % topic_partition) in broker.log_text(), 30,
			"the append to %s to reach the stall point" % topic_partition)

	def test_stalled_append_blocks_only_its_partition(self):
		c = self.start_with_stall("stall-0")
		b1 = c.broker(1)
		self.create(c, "stall", [[1, 2], [1, 2]])

		open(self.gate, "w").close()
		stalled = kproto.Conn(h.HOST, b1.port, timeout=60)
		self.addCleanup(stalled.close)
		send_produce(stalled, 7, "stall", 0, records.batch([(b"k", b"held back")]))
		self.wait_stalled(b1, "stall-0")

		# Meanwhile: acks=all produce to partition 1 (its follower fetches from the same broker,
		# in the same Fetch as partition 0), and a consumer reading it back.
		p = Producer({"bootstrap.servers": b1.address, "acks": "all", "linger.ms": 5})
		acked = []

		def dr(err, msg):
			self.assertIsNone(err)
			acked.append(msg.offset())
		for i in range(200):
			p.produce("stall", value=b"flowing-%d" % i, partition=1, on_delivery=dr)
		left = p.flush(60)
		self.assertEqual(left, 0, "produce to partition 1 stalled behind partition 0")
		self.assertEqual(sorted(acked), list(range(200)))

		cons = Consumer({"bootstrap.servers": b1.address, "group.id": "stall-reader",
			"enable.auto.commit": False})
		self.addCleanup(cons.close)
		cons.assign([TopicPartition("stall", 1, 0)])
		got = []
		deadline = time.time() + 60
		while len(got) < 200 and time.time() < deadline:
			m = cons.poll(1.0)
			if m is not None and m.error() is None:
				got.append(m.value())
		self.assertEqual(got, [b"flowing-%d" % i for i in range(200)])

		# All along, the stalled request was still waiting.
		self.assertTrue(no_answer_within(stalled, 0.5), "the stalled produce was answered while stalled")
		self.assertIn("an append to stall-0 is stalled", b1.log_text())
		self.assertNotIn("the append to stall-0 goes on", b1.log_text())

		self._open_gate()
		corr, err, base = read_produce(stalled, timeout=30)
		self.assertEqual((corr, err, base), (7, NONE, 0))
		cons.assign([TopicPartition("stall", 0, 0)])
		m = None
		deadline = time.time() + 30
		while time.time() < deadline:
			m = cons.poll(1.0)
			if m is not None and m.error() is None:
				break
		self.assertIsNotNone(m)
		self.assertEqual(m.value(), b"held back")

	def leader_and_isr_v1(self, c, topic, leader, leader_epoch, isr, replicas, zk_version):
		"""A LeaderAndIsr v1 as the current controller would send it."""
		controller = c.controller_id()
		epoch = c.controller_epoch()
		state = (string(topic) + i32(0) + i32(epoch) + i32(leader) + i32(leader_epoch)
			+ i32(len(isr)) + b"".join(i32(x) for x in isr) + i32(zk_version)
			+ i32(len(replicas)) + b"".join(i32(x) for x in replicas) + i8(0))
		live = i32(1) + i32(leader) + string(h.HOST) + i32(c.broker(leader).port)
		return i32(controller) + i32(epoch) + i32(1) + state + live

	def test_demotion_fences_inflight_produces(self):
		c = self.start_with_stall("demote-0")
		b1 = c.broker(1)
		self.create(c, "demote", [[1, 2]])
		# Broker 2 goes, so no follower fetch is in flight on broker 1 during the stall: what holds
		# the demotion back below is the append in progress, nothing else.
		c.broker(2).terminate()
		h.wait_until(lambda: c.partition_state("demote", 0)["isr"] == [1], 60, "broker 2 to leave the ISR")
		h.wait_until(lambda: ("Broker 1 is now leader of demote-0 (leader epoch %d)"
			% c.partition_state("demote", 0)["leader_epoch"]) in b1.log_text(), 30, "broker 1 to lead the new epoch")
		# If broker 2 was the controller, broker 1 takes over and resends LeaderAndIsr at the same
		# epoch; that must be in before the stall, or it races the demotion below.
		h.wait_until(lambda: c.controller_id() == 1, 60, "broker 1 to be the controller")

		def failover_applied():
			log = b1.log_text()
			at = log.rfind("Broker 1 is now the controller")
			return at >= 0 and ("Broker 1 is now leader of demote-0 (leader epoch %d)"
					% c.partition_state("demote", 0)["leader_epoch"]) in log[at:]
		h.wait_until(failover_applied, 60, "the controller's LeaderAndIsr for demote-0 applied")
		st = c.partition_state("demote", 0)

		open(self.gate, "w").close()
		first = kproto.Conn(h.HOST, b1.port, timeout=60)
		self.addCleanup(first.close)
		send_produce(first, 1, "demote", 0, records.batch([(b"k", b"before the demotion")]))
		self.wait_stalled(b1, "demote-0")

		# The controller's word: broker 2 leads from the next epoch.  It waits for the stalled append.
		ctl = kproto.Conn(h.HOST, b1.port, timeout=60)
		self.addCleanup(ctl.close)
		body = self.leader_and_isr_v1(c, "demote", 2, st["leader_epoch"] + 1, [1, 2], [1, 2],
			c.zk.get(c.zpath("/brokers/topics/demote/partitions/0/state"))[1].version)
		ctl.send_raw(kproto.frame(kproto.request_header(4, 1, 99) + body))
		self.assertTrue(no_answer_within(ctl, 1.0), "the demotion did not wait for the append in progress")

		# Produces that arrive now queue behind the demotion.
		late = []
		for i in range(3):
			conn = kproto.Conn(h.HOST, b1.port, timeout=60)
			self.addCleanup(conn.close)
			send_produce(conn, 10 + i, "demote", 0, records.batch([(b"k", b"after the demotion %d" % i)]))
			late.append(conn)
		for conn in late:
			self.assertTrue(no_answer_within(conn, 0.3), "a produce passed a waiting demotion")

		self._open_gate()
		self.assertEqual(read_produce(first, timeout=30), (1, NONE, 0))
		r = kproto.Reader(ctl.recv_frame(timeout=30))
		self.assertEqual(r.i32(), 99)
		self.assertEqual(r.i16(), NONE)  # top-level error
		self.assertEqual(r.i32(), 1)
		self.assertEqual(r.string(), "demote")
		self.assertEqual(r.i32(), 0)
		self.assertEqual(r.i16(), NONE)
		for i, conn in enumerate(late):
			corr, err, base = read_produce(conn, timeout=30)
			self.assertEqual((corr, err, base), (10 + i, NOT_LEADER_OR_FOLLOWER, -1))

		# The log holds the one batch appended before the demotion, and nothing after it.
		out = h.samsa_cli("dump-log", "--print-data-log", "--files", os.path.join(b1.data_dir, "demote-0"))
		self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
		text = out.stdout
		self.assertIn("before the demotion", text)
		self.assertNotIn("after the demotion", text)
		self.assertIn("Broker 1 is now a follower of demote-0 (leader epoch %d)" % (st["leader_epoch"] + 1),
			b1.log_text())


if __name__ == "__main__":
	h.main()
