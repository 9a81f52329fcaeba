"""Preferred replica election as Kafka's ZooKeeper-mode controller does it:
after a broker restart leaves leadership away from the preferred (first)
replicas, ElectLeaders (preferred) on the controller moves it back, with
Kafka's per-partition errors (ELECTION_NOT_NEEDED where the preferred replica
already leads, PREFERRED_LEADER_NOT_AVAILABLE where it is not live,
UNKNOWN_TOPIC_OR_PARTITION); /admin/preferred_replica_election does the same
and is deleted; with auto.leader.rebalance.enable and a short
leader.imbalance.check.interval.seconds the controller does it by itself.

confluent-kafka 1.7 has no elect_leaders, so ElectLeaders v2 is sent raw."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SESSION_MS = 6000
API_ELECT_LEADERS = 43

ERR_NONE = 0
ERR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERR_NOT_CONTROLLER = 41
ERR_PREFERRED_LEADER_NOT_AVAILABLE = 80
ERR_ELECTION_NOT_NEEDED = 84

PREFERRED = 0
UNCLEAN = 1

ASSIGNMENT = [[1, 2, 3], [2, 3, 1], [3, 1, 2]]


def elect_leaders(port, partitions, election_type=PREFERRED):
	"""ElectLeaders v2. partitions: [(topic, p)] or None for all. Returns (error, {(topic, p): error})."""
	if partitions is None:
		tps = None
	else:
		by_topic = {}
		for t, p in partitions:
			by_topic.setdefault(t, []).append(p)
		tps = [kproto.compact_string(t) + kproto.compact_array([kproto.i32(p) for p in ps]) + kproto.TAGS
			for t, ps in by_topic.items()]
	body = kproto.i8(election_type) + kproto.compact_array(tps) + kproto.i32(30000) + kproto.TAGS
	with kproto.Conn(h.HOST, port, timeout=60) as c:
		r = c.request(API_ELECT_LEADERS, 2, body, flexible_header=True, timeout=60)
	r.skip_tags()
	r.i32()
	err = r.i16()
	out = {}

	def partition(topic):
		p = r.i32()
		e = r.i16()
		r.compact_string()
		r.skip_tags()
		out[(topic, p)] = e

	def topic():
		name = r.compact_string()
		r.compact_array(lambda: partition(name))
		r.skip_tags()
	r.compact_array(topic)
	r.skip_tags()
	if r.remaining():
		raise kproto.ProtocolError("%d trailing bytes in ElectLeaders response" % r.remaining())
	return err, out


class LeaderElection(h.ClusterTestCase):
	def start(self, auto):
		props = {"auto.leader.rebalance.enable": "true" if auto else "false"}
		if auto:
			props["leader.imbalance.check.interval.seconds"] = "2"
		self.c = self.start_cluster(brokers=3, first_id=1, session_timeout_ms=SESSION_MS, props=props)
		a = AdminClient({"bootstrap.servers": self.c.bootstrap})
		for f in a.create_topics([NewTopic("p", num_partitions=3, replica_assignment=ASSIGNMENT)],
				request_timeout=20).values():
			f.result(30)
		self.wait_balanced()

	def state(self, p):
		return self.c.partition_state("p", p)

	def leaders(self):
		return [self.state(p)["leader"] for p in range(3)]

	def full_isrs(self):
		return all(sorted(self.state(p)["isr"]) == [1, 2, 3] for p in range(3))

	def wait_balanced(self, timeout=60):
		h.wait_until(lambda: self.leaders() == [1, 2, 3] and self.full_isrs(), timeout,
				"every partition led by its preferred replica with a full ISR")

	def controller(self):
		return self.c.broker(self.c.controller_id())

	def metadata_leaders(self, b):
		md = kproto.metadata(h.HOST, b.port, topics=["p"], timeout=5)
		return {x["partition"]: x["leader"] for x in md["topics"][0]["partitions"]}

	def kill(self, broker_id):
		b = self.c.broker(broker_id)
		b.kill()
		h.wait_until(lambda: not b.registered(), 30, "broker %d's znode to go" % broker_id)
		h.wait_until(lambda: broker_id not in self.leaders(), 30, "leaders off broker %d" % broker_id)

	def bounce(self, broker_id):
		"""Broker 1 dies and comes back: partition 0 stays led by its second replica."""
		self.kill(broker_id)
		self.c.broker(broker_id).start()
		h.wait_until(self.full_isrs, 60, "broker %d back in every ISR" % broker_id)

	# ---- tests ----

	def test_elect_leaders_moves_leadership_back_to_the_preferred_replicas(self):
		self.start(auto=False)
		self.bounce(1)
		self.assertEqual(self.leaders(), [2, 2, 3])
		before = self.state(0)
		port = self.controller().port
		err, res = elect_leaders(port, [("p", 0), ("p", 1), ("p", 2), ("p", 7), ("nope", 0)])
		self.assertEqual(err, ERR_NONE)
		self.assertEqual(res, {("p", 0): ERR_NONE, ("p", 1): ERR_ELECTION_NOT_NEEDED,
				("p", 2): ERR_ELECTION_NOT_NEEDED, ("p", 7): ERR_UNKNOWN_TOPIC_OR_PARTITION,
				("nope", 0): ERR_UNKNOWN_TOPIC_OR_PARTITION})
		after = self.state(0)
		self.assertEqual(after["leader"], 1)
		self.assertEqual(after["leader_epoch"], before["leader_epoch"] + 1)
		self.assertEqual(sorted(after["isr"]), [1, 2, 3])
		self.assertEqual(self.leaders(), [1, 2, 3])
		h.wait_until(lambda: all(self.metadata_leaders(b) == {0: 1, 1: 2, 2: 3} for b in self.c.live_brokers()),
				30, "every broker's metadata to show the preferred leaders")
		# Nothing left to do; an unclean election is not needed where a leader is live.
		err, res = elect_leaders(port, None)
		self.assertEqual((err, res), (ERR_NONE, {}))
		err, res = elect_leaders(port, [("p", 0)], UNCLEAN)
		self.assertEqual(res, {("p", 0): ERR_ELECTION_NOT_NEEDED})
		# Another broker is not the controller.
		other = [b for b in self.c.live_brokers() if b.id != self.c.controller_id()][0]
		err, res = elect_leaders(other.port, [("p", 0)])
		self.assertEqual(res, {("p", 0): ERR_NOT_CONTROLLER})

	def test_all_partitions_and_preferred_leader_not_available(self):
		self.start(auto=False)
		self.bounce(1)
		err, res = elect_leaders(self.controller().port, None)
		self.assertEqual((err, res), (ERR_NONE, {("p", 0): ERR_NONE}))
		self.assertEqual(self.leaders(), [1, 2, 3])
		# With broker 1 dead its partition cannot go back to it.
		self.kill(1)
		err, res = elect_leaders(self.controller().port, [("p", 0), ("p", 1)])
		self.assertEqual(res, {("p", 0): ERR_PREFERRED_LEADER_NOT_AVAILABLE, ("p", 1): ERR_ELECTION_NOT_NEEDED})
		self.assertEqual(self.state(0)["leader"], 2)

	def test_preferred_replica_election_znode(self):
		self.start(auto=False)
		self.bounce(1)
		self.assertEqual(self.leaders()[0], 2)
		path = self.c.zpath("/admin/preferred_replica_election")
		self.c.zk.create(path, json.dumps({"version": 1, "partitions": [
			{"topic": "p", "partition": 0}, {"topic": "nope", "partition": 0}]}).encode())
		h.wait_until(lambda: self.leaders() == [1, 2, 3], 30, "partition 0 back on broker 1")
		h.wait_until(lambda: self.c.zk.exists(path) is None, 30, "the znode to be deleted")
		# It works again the next time.
		self.bounce(1)
		self.c.zk.create(path, json.dumps({"version": 1, "partitions": [{"topic": "p", "partition": 0}]}).encode())
		h.wait_until(lambda: self.leaders() == [1, 2, 3], 30, "partition 0 back on broker 1 again")

	def test_auto_leader_rebalance(self):
		self.start(auto=True)
		self.kill(1)
		self.assertEqual(self.leaders()[0], 2)
		self.c.broker(1).start()
		# Once broker 1 is back in the ISR the next check (every 2 s) moves partition 0 back.
		h.wait_until(lambda: self.leaders() == [1, 2, 3], 60, "partition 0 back on broker 1 by itself")
		self.assertIn("leader imbalance ratio for broker 1", self.controller().log_text())


if __name__ == "__main__":
	h.main()
