"""confluent-kafka's transactional producer end to end on three brokers with
the transaction log's defaults (replication factor 3, min ISR 2): commit and
abort across partitions seen through read_committed and read_uncommitted
consumers, offsets sent to the transaction (TxnOffsetCommit) committed with
it, and a zombie producer fenced by a second one with the same
transactional.id.

This needs the partition leaders' side of transactions (WriteTxnMarkers,
transactional produce): the test skips while the broker does not offer
WriteTxnMarkers. With it, the coordinators' own appends (TxnOffsetCommit's
batches start at sequence 0 each time, as Kafka's do) must take the
partition's coordinator origin, without sequence checks; test 2 fails
otherwise."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "txn-e2e"
SOURCE = "txn-src"


def consume_all(bootstrap, topic, isolation, expect, timeout=60):
	c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader-%s-%f" % (isolation, time.time()),
		"enable.auto.commit": False, "isolation.level": isolation, "auto.offset.reset": "earliest"})
	c.assign([TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)])
	got = []
	end = time.time() + timeout
	idle = 0
	while time.time() < end:
		m = c.poll(0.5)
		if m is None:
			idle += 1
			if len(got) >= expect and idle > 4:
				break
			continue
		idle = 0
		if not m.error():
			got.append(m.value().decode())
	c.close()
	return got


class Transactions(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		c = cls.start_shared_cluster(brokers=3, first_id=1, props={
			"transaction.state.log.num.partitions": "5",
			"offsets.topic.num.partitions": "5",
		})
		with kproto.Conn(h.HOST, c.broker(1).port) as conn:
			_, apis = conn.api_versions()
		if 27 not in apis:
			raise unittest.SkipTest("the broker does not serve WriteTxnMarkers yet (partition side of transactions)")
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in a.create_topics([NewTopic(TOPIC, 2, 3), NewTopic(SOURCE, 2, 3)], request_timeout=30).items():
			f.result(60)

		def led():
			md = a.list_topics(timeout=10).topics
			return all(t in md and all(p.leader >= 0 for p in md[t].partitions.values()) for t in (TOPIC, SOURCE))
		h.wait_until(led, 60, "leaders")

	def producer(self, txn_id):
		p = Producer({"bootstrap.servers": self.shared.bootstrap, "transactional.id": txn_id, "linger.ms": 5})
		p.init_transactions(60)
		return p

	def test_1_commit_and_abort(self):
		p = self.producer("e2e-1")
		p.begin_transaction()
		for i in range(20):
			p.produce(TOPIC, ("c%d" % i).encode(), partition=i % 2)
		p.commit_transaction(60)
		p.begin_transaction()
		for i in range(6):
			p.produce(TOPIC, ("a%d" % i).encode(), partition=i % 2)
		p.flush(30)
		p.abort_transaction(60)
		p.begin_transaction()
		p.produce(TOPIC, b"last", partition=0)
		p.commit_transaction(60)
		committed = consume_all(self.shared.bootstrap, TOPIC, "read_committed", 21)
		self.assertEqual(sorted(committed), sorted(["c%d" % i for i in range(20)] + ["last"]))
		everything = consume_all(self.shared.bootstrap, TOPIC, "read_uncommitted", 27)
		self.assertEqual(sorted(everything), sorted(["c%d" % i for i in range(20)] + ["a%d" % i for i in range(6)] +
			["last"]))

	def test_2_offsets_in_transaction(self):
		src = Producer({"bootstrap.servers": self.shared.bootstrap})
		for i in range(5):
			src.produce(SOURCE, ("s%d" % i).encode(), partition=0)
		src.flush(30)
		group = "e2e-group"
		cons = Consumer({"bootstrap.servers": self.shared.bootstrap, "group.id": group, "enable.auto.commit": False,
			"auto.offset.reset": "earliest", "isolation.level": "read_committed"})
		cons.assign([TopicPartition(SOURCE, 0, 0)])
		n = 0
		end = time.time() + 60
		while n < 5 and time.time() < end:
			m = cons.poll(1.0)
			if m is not None and not m.error():
				n += 1
		self.assertEqual(n, 5)
		p = self.producer("e2e-2")
		p.begin_transaction()
		p.produce(TOPIC, b"copied", partition=1)
		p.send_offsets_to_transaction([TopicPartition(SOURCE, 0, 5)], cons.consumer_group_metadata(), 30)
		p.commit_transaction(60)

		def committed(n):
			return lambda: cons.committed([TopicPartition(SOURCE, 0)], timeout=10)[0].offset == n
		h.wait_until(committed(5), 60, "the transaction's offsets committed")
		# Again, and once more aborted: each TxnOffsetCommit batch starts at sequence 0, as
		# Kafka's coordinator writes it, and must not be refused as out of order.
		# (The second batch has two records, so a sequence check would see 0 after 0 as out of order.)
		for commit, offs in ((True, [(0, 7), (1, 0)]), (False, [(0, 9)])):
			p.begin_transaction()
			p.produce(TOPIC, b"copied-again", partition=1)
			p.send_offsets_to_transaction([TopicPartition(SOURCE, q, o) for q, o in offs],
				cons.consumer_group_metadata(), 30)
			if commit:
				p.commit_transaction(60)
			else:
				p.abort_transaction(60)
		h.wait_until(committed(7), 60, "the second transaction's offsets committed")
		time.sleep(1)
		self.assertEqual(cons.committed([TopicPartition(SOURCE, 0)], timeout=10)[0].offset, 7)  # the abort's dropped
		cons.close()

	def test_3_zombie_fenced(self):
		p1 = self.producer("e2e-3")
		p1.begin_transaction()
		p1.produce(TOPIC, b"zombie", partition=0)
		p1.flush(30)
		p2 = self.producer("e2e-3")
		with self.assertRaises(KafkaException) as cm:
			p1.commit_transaction(30)
		err = cm.exception.args[0]
		self.assertIn(err.code(), (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH))
		p2.begin_transaction()
		p2.produce(TOPIC, b"survivor", partition=0)
		p2.commit_transaction(60)
		got = consume_all(self.shared.bootstrap, TOPIC, "read_committed", 1)
		self.assertIn("survivor", got)
		self.assertNotIn("zombie", got)

	def test_4_cli_hung_transaction(self):
		"""samsa transactions describe-producers, find-hanging and abort on a producer that never ends."""
		p = Producer({"bootstrap.servers": self.shared.bootstrap, "transactional.id": "e2e-4", "linger.ms": 0})
		p.init_transactions(60)
		p.begin_transaction()
		p.produce(TOPIC, b"hung", partition=1)
		p.flush(30)
		bs = self.shared.bootstrap
		out = h.samsa_cli("transactions", "--bootstrap-server", bs, "describe-producers", "--topic", TOPIC,
			"--partition", "1")
		self.assertEqual(out.returncode, 0, out.stderr)
		rows = [l.split() for l in out.stdout.splitlines()[1:]]
		open_rows = [r for r in rows if r[5] != "None"]
		self.assertEqual(len(open_rows), 1, out.stdout)
		start = open_rows[0][5]
		# Its coordinator has it Ongoing: not hanging.
		a = AdminClient({"bootstrap.servers": bs})
		leader = a.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions[1].leader
		out = h.samsa_cli("transactions", "--bootstrap-server", bs, "find-hanging", "--broker-id", str(leader),
			"--max-transaction-timeout", "0")
		self.assertEqual(out.returncode, 0, out.stderr)
		self.assertEqual(out.stdout.splitlines()[1:], [])
		out = h.samsa_cli("transactions", "--bootstrap-server", bs, "abort", "--topic", TOPIC, "--partition", "1",
			"--start-offset", start)
		self.assertEqual(out.returncode, 0, out.stderr)
		out = h.samsa_cli("transactions", "--bootstrap-server", bs, "describe-producers", "--topic", TOPIC,
			"--partition", "1")
		self.assertTrue(all(l.split()[5] == "None" for l in out.stdout.splitlines()[1:]), out.stdout)
		out = h.samsa_cli("transactions", "--bootstrap-server", bs, "abort", "--topic", TOPIC, "--partition", "1",
			"--start-offset", start)
		self.assertEqual(out.returncode, 1)
		# The aborted records stay invisible to read_committed, and the partition is readable past them.
		got = consume_all(bs, TOPIC, "read_committed", 1)
		self.assertNotIn("hung", got)
		del p


if __name__ == "__main__":
	unittest.main()
