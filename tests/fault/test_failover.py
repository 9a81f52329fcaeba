"""Failover on 3 brokers with RF=3, min.insync.replicas=2 and acks=all: while a
producer runs, the leader of every partition is SIGKILLed in turn and then the
controller; a checker records every acknowledged (partition, offset, value)
and at the end reads each partition from the beginning: every acknowledged
message is there at its offset, exactly once, in order, and the killed brokers
are back in every ISR. A second test partitions a leader away (SIGSTOP) after
it wrote data nobody replicated: once it returns as a follower it truncates
that data and holds exactly what the new leader holds."""

import filecmp
import glob
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import acked  # noqa: E402
import nodejs  # noqa: E402,F401
import cluster as h  # noqa: E402

from confluent_kafka import Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTITIONS = 3


class Failover(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		self.c = self.start_cluster(brokers=3, first_id=1, props={
			"replica.lag.time.max.ms": "4000",
			"min.insync.replicas": "2",
			"unclean.leader.election.enable": "false",
		})

	def create(self, name, config=None):
		a = AdminClient({"bootstrap.servers": self.c.bootstrap})
		for _, f in a.create_topics([NewTopic(name, PARTITIONS, 3, config=config or {})],
				request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: all(len(self.state(name, p)["isr"]) == 3 for p in range(PARTITIONS)), 60,
				"full ISRs for %s" % name)

	def state(self, topic, partition):
		return self.c.partition_state(topic, partition)

	def restart(self, broker_id):
		b = self.c.broker(broker_id)
		h.wait_until(lambda: not b.registered(), 60, "broker %d's registration to expire" % broker_id)
		b.start()

	def read_all(self, topic):
		return acked.read_all(self.c.bootstrap, topic, PARTITIONS, "failover-check")

	def test_kill_every_leader_then_the_controller(self):
		topic = "failover"
		self.create(topic)
		chk = acked.Checker(self.c.bootstrap, topic, keyed=True)
		got = self.kill_in_turn(topic, chk)
		# Offsets are dense. Without idempotence a retried send may be written twice (as in
		# Kafka), but never out of order: per partition, the acknowledged messages appear in
		# the order they were sent (one request in flight per connection).
		for part in range(PARTITIONS):
			offs = sorted(o for p, o in got if p == part)
			self.assertEqual(offs, list(range(len(offs))))
			seqs = [int(chk.acked[(part, o)][2:]) for o in offs if (part, o) in chk.acked]
			self.assertEqual(seqs, sorted(seqs), "partition %d out of order" % part)

	def test_idempotent_producer_exactly_once(self):
		"""The same kills under librdkafka's idempotent producer (five requests in flight):
		the partitions' producer state answers every retry of a batch already written with
		its original offsets, so every message is in the log exactly once, in send order."""
		topic = "failover-idem"
		self.create(topic)
		chk = acked.Checker(self.c.bootstrap, topic, keyed=True, idempotent=True)
		got = self.kill_in_turn(topic, chk)
		self.assertEqual(chk.errors, [])
		for part in range(PARTITIONS):
			offs = sorted(o for p, o in got if p == part)
			self.assertEqual(offs, list(range(len(offs))), "partition %d offsets not dense" % part)
			values = [got[(part, o)] for o in offs]
			self.assertEqual(len(values), len(set(values)), "partition %d holds a message twice" % part)
			seqs = [int(v[2:]) for v in values]
			self.assertEqual(seqs, sorted(seqs), "partition %d out of order" % part)
		# Nothing in the log that was not acknowledged at its offset, and nothing acknowledged missing.
		self.assertEqual(len(got), len(chk.acked))

	def test_kafkajs_idempotent_producer_exactly_once(self):
		"""KafkaJS's idempotent producer (maxInFlightRequests 5) through the same kills."""
		topic = "failover-js"
		self.create(topic)
		chk = JsChecker(self.c.bootstrap, topic, os.path.join(self.c.dir, "js-stop"))
		got = self.kill_in_turn(topic, chk)
		self.assertEqual(chk.errors, [])
		for part in range(PARTITIONS):
			offs = sorted(o for p, o in got if p == part)
			self.assertEqual(offs, list(range(len(offs))), "partition %d offsets not dense" % part)
			values = [got[(part, o)] for o in offs]
			self.assertEqual(len(values), len(set(values)), "partition %d holds a message twice" % part)
			seqs = [int(v.rsplit(b"-", 1)[1]) for v in values]
			self.assertEqual(seqs, sorted(seqs), "partition %d out of order" % part)

	def kill_in_turn(self, topic, chk):
		"""SIGKILL each partition's leader in turn, then the controller, under chk's producer;
		checks every acknowledged message is at its offset and returns what the topic holds."""
		chk.start()
		try:
			time.sleep(2)
			for part in range(PARTITIONS):
				old = self.state(topic, part)
				victim = old["leader"]
				self.c.broker(victim).kill()
				h.wait_until(lambda: self.state(topic, part)["leader"] not in (victim, -1), 60,
						"a new leader for %s-%d" % (topic, part))
				new = self.state(topic, part)
				self.assertIn(new["leader"], old["isr"])
				self.assertGreater(new["leader_epoch"], old["leader_epoch"])
				time.sleep(1)
				self.restart(victim)
				h.wait_until(lambda: all(len(self.state(topic, p)["isr"]) == 3 for p in range(PARTITIONS)), 90,
						"broker %d back in every ISR" % victim)
			ctl = self.c.controller_id()
			self.c.broker(ctl).kill()
			h.wait_until(lambda: self.c.controller_id() not in (None, ctl), 60, "a new controller")
			time.sleep(2)
			self.restart(ctl)
			h.wait_until(lambda: all(len(self.state(topic, p)["isr"]) == 3 for p in range(PARTITIONS)), 90,
					"broker %d back in every ISR" % ctl)
			time.sleep(2)
		finally:
			chk.finish()
		self.assertGreater(len(chk.acked), 1000)
		got = self.read_all(topic)
		missing = [k for k in chk.acked if got.get(k) != chk.acked[k]]
		self.assertEqual(missing[:10], [], "%d acknowledged messages lost or changed" % len(missing))
		return got

	def test_sigterm_producers_see_no_errors(self):
		"""Controlled shutdown moves leaderships away before the broker stops: an acks=all
		producer sees at most retriable errors (which the client retries), so no send fails."""
		topic = "sigterm"
		self.create(topic)
		chk = acked.Checker(self.c.bootstrap, topic, keyed=True)
		chk.start()
		try:
			time.sleep(2)
			ctl = self.c.controller_id()
			leaders = {self.state(topic, p)["leader"] for p in range(PARTITIONS)}
			victim = next(b for b in (1, 2, 3) if b != ctl and b in leaders)
			problem = self.c.broker(victim).terminate(timeout=60)
			self.assertIsNone(problem, problem)
			self.assertEqual(self.c.broker(victim).proc.returncode, 0)
			self.assertTrue(all(self.state(topic, p)["leader"] != victim for p in range(PARTITIONS)))
			time.sleep(2)
			self.c.broker(victim).start()
			h.wait_until(lambda: all(len(self.state(topic, p)["isr"]) == 3 for p in range(PARTITIONS)), 90,
					"broker %d back in every ISR" % victim)
			time.sleep(1)
		finally:
			chk.finish()
		self.assertEqual(chk.errors, [])
		self.assertGreater(len(chk.acked), 1000)
		got = self.read_all(topic)
		missing = [k for k in chk.acked if got.get(k) != chk.acked[k]]
		self.assertEqual(missing[:10], [], "%d acknowledged messages lost or changed" % len(missing))


class JsChecker:
	"""acked.Checker's interface over tests/js/idempotent_run.js."""

	def __init__(self, bootstrap, topic, stop_file):
		import nodejs
		self.js_dir = os.path.join(h.REPO, "tests", "js")
		node, _ = nodejs.tools()
		self.cmd = [node, os.path.join(self.js_dir, "idempotent_run.js"), bootstrap, topic, str(PARTITIONS), stop_file]
		self.env = dict(os.environ, NODE_PATH=nodejs.modules(self.js_dir, "kafkajs"))
		self.stop_file = stop_file
		self.acked = {}
		self.errors = []

	def start(self):
		import subprocess
		self.err = open(self.stop_file + ".stderr", "w")
		self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=self.err, env=self.env, cwd=self.js_dir)

	def finish(self):
		import json
		open(self.stop_file, "w").close()
		out, _ = self.proc.communicate(timeout=180)
		self.err.close()
		if self.proc.returncode != 0:
			raise AssertionError("idempotent_run.js failed (%s):\n%s" % (self.proc.returncode,
					h.tail(self.stop_file + ".stderr")))
		res = json.loads(out.decode().strip().splitlines()[-1])
		for p, o, v in res["acked"]:
			assert (p, o) not in self.acked, "offset %s acknowledged twice" % ((p, o),)
			self.acked[(p, o)] = v.encode()
		self.errors = res["errors"]


class Diverge(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		# Followers stay in the ISR while stopped (a long lag), so the old leader's writes
		# are acknowledged with acks=1 but never replicated.
		self.c = self.start_cluster(brokers=3, first_id=1, props={"replica.lag.time.max.ms": "60000"})

	def state(self, topic, partition):
		return self.c.partition_state(topic, partition)

	def test_partitioned_leader_truncates_what_it_alone_wrote(self):
		topic = "diverge"
		a = AdminClient({"bootstrap.servers": self.c.bootstrap})
		for _, f in a.create_topics([NewTopic(topic, 1, 3)], request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: len(self.state(topic, 0)["isr"]) == 3, 60, "full ISR")
		p = Producer({"bootstrap.servers": self.c.bootstrap, "acks": "all"})
		for i in range(100):
			p.produce(topic, b"shared-%d" % i)
		self.assertEqual(p.flush(30), 0)
		st = self.state(topic, 0)
		leader = st["leader"]
		followers = [b for b in (1, 2, 3) if b != leader]
		h.wait_until(lambda: all(
			filecmp.cmp(self.seg(leader, topic), self.seg(f, topic), shallow=False) for f in followers), 30,
			"followers in step")
		for f in followers:
			self.c.broker(f).signal(signal.SIGSTOP)
		# Fetches the followers already sent may be waiting in the leader's purgatory; let them
		# be answered (into the stopped followers' sockets) before writing, or those answers
		# would carry the new data and it would be replicated after all.
		time.sleep(1.5)
		lone = Producer({"bootstrap.servers": self.c.broker(leader).address, "acks": 1})
		for i in range(50):
			lone.produce(topic, b"lonely-%d" % i)
		self.assertEqual(lone.flush(30), 0)
		leader_size = os.path.getsize(self.seg(leader, topic))
		self.c.broker(leader).signal(signal.SIGSTOP)
		for f in followers:
			self.c.broker(f).signal(signal.SIGCONT)
		# The stopped leader's session expires; the controller elects a follower.
		h.wait_until(lambda: self.state(topic, 0)["leader"] in followers, 60, "a follower to take over")
		p2 = Producer({"bootstrap.servers": ",".join(self.c.broker(f).address for f in followers), "acks": 1})
		for i in range(30):
			p2.produce(topic, b"after-%d" % i)
		self.assertEqual(p2.flush(30), 0)
		self.c.broker(leader).signal(signal.SIGCONT)
		new_leader = self.state(topic, 0)["leader"]
		h.wait_until(lambda: filecmp.cmp(self.seg(new_leader, topic), self.seg(leader, topic), shallow=False), 90,
				"the old leader to match the new one")
		self.assertTrue(any("diverged" in l or "truncated" in l for l in self.c.broker(leader).log_text().splitlines()))
		self.assertNotEqual(os.path.getsize(self.seg(leader, topic)), leader_size)
		got = self.read_all_one(topic)
		self.assertEqual([v for v in got if v.startswith(b"lonely")], [])
		self.assertEqual(len([v for v in got if v.startswith(b"shared")]), 100)
		self.assertEqual(len([v for v in got if v.startswith(b"after")]), 30)

	def seg(self, broker_id, topic):
		d = os.path.join(self.c.broker(broker_id).props["log.dirs"], "%s-0" % topic)
		return sorted(glob.glob(os.path.join(d, "*.log")))[-1]

	def read_all_one(self, topic):
		return [m.value() for m in acked.messages_to_end(self.c.bootstrap, "diverge-check",
				[TopicPartition(topic, 0, 0)], 60) if not m.error()]


if __name__ == "__main__":
	h.main()
