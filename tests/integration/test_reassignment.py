"""Partition reassignment the way Kafka's ZooKeeper-mode controller does it
(KIP-455): AlterPartitionReassignments / ListPartitionReassignments on the
controller and the /admin/reassign_partitions znode. On 4 brokers a partition
on {1,2,3} moves to {2,3,4} while an acks=all producer runs: the topic znode
ends at [2,3,4] without adding/removing replicas, the ISR becomes {2,3,4},
broker 1's copy is deleted, every acknowledged message reads back at its
offset and nothing is listed as reassigning any more. Cancellation reverts to
the original replicas; bad requests get Kafka's errors.

confluent-kafka 1.7 has no alter_partition_reassignments, so the requests are
sent raw (flexible v0)."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import acked  # noqa: E402
import cluster as h  # noqa: E402
import kproto  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SESSION_MS = 6000

API_ALTER_PARTITION_REASSIGNMENTS = 45
API_LIST_PARTITION_REASSIGNMENTS = 46

ERR_NONE = 0
ERR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERR_INVALID_REPLICA_ASSIGNMENT = 39
ERR_NOT_CONTROLLER = 41
ERR_NO_REASSIGNMENT_IN_PROGRESS = 85


def alter_reassignments(port, reassignments, timeout_ms=30000):
	"""reassignments: {(topic, partition): [ids] or None}. Returns (error, {(topic, p): (error, message)})."""
	by_topic = {}
	for (t, p), ids in reassignments.items():
		by_topic.setdefault(t, []).append((p, ids))
	topics = [kproto.compact_string(t) + kproto.compact_array(
		[kproto.i32(p) + kproto.compact_int32s(ids) + kproto.TAGS for p, ids in parts]) + kproto.TAGS
		for t, parts in by_topic.items()]
	body = kproto.i32(timeout_ms) + kproto.compact_array(topics) + kproto.TAGS
	with kproto.Conn(h.HOST, port, timeout=60) as c:
		r = c.request(API_ALTER_PARTITION_REASSIGNMENTS, 0, body, flexible_header=True, timeout=60)
	r.skip_tags()
	r.i32()  # throttle
	err = r.i16()
	r.compact_string()
	out = {}

	def partition(topic):
		p = r.i32()
		e = r.i16()
		msg = r.compact_string()
		r.skip_tags()
		out[(topic, p)] = (e, msg)

	def topic():
		name = r.compact_string()
		r.compact_array(lambda: partition(name))
		r.skip_tags()
	r.compact_array(topic)
	return err, out


def list_reassignments(port, partitions=None):
	"""Returns (error, {(topic, p): {"replicas", "adding", "removing"}})."""
	if partitions is None:
		topics = None
	else:
		by_topic = {}
		for t, p in partitions:
			by_topic.setdefault(t, []).append(p)
		topics = [kproto.compact_string(t) + kproto.compact_int32s(ps) + kproto.TAGS for t, ps in by_topic.items()]
	body = kproto.i32(30000) + kproto.compact_array(topics) + kproto.TAGS
	with kproto.Conn(h.HOST, port, timeout=30) as c:
		r = c.request(API_LIST_PARTITION_REASSIGNMENTS, 0, body, flexible_header=True)
	r.skip_tags()
	r.i32()
	err = r.i16()
	r.compact_string()
	out = {}

	def ids():
		return r.compact_array(r.i32)

	def partition(topic):
		p = r.i32()
		out[(topic, p)] = {"replicas": ids(), "adding": ids(), "removing": ids()}
		r.skip_tags()

	def topic():
		name = r.compact_string()
		r.compact_array(lambda: partition(name))
		r.skip_tags()
	r.compact_array(topic)
	return err, out


class Reassignment(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		self.c = self.start_cluster(brokers=4, first_id=1, session_timeout_ms=SESSION_MS, props={
			"replica.lag.time.max.ms": "5000",
			"min.insync.replicas": "2",
		})

	# ---- helpers ----

	def create(self, topic, assignment):
		a = AdminClient({"bootstrap.servers": self.c.bootstrap})
		nt = NewTopic(topic, num_partitions=len(assignment), replica_assignment=assignment)
		for f in a.create_topics([nt], request_timeout=20).values():
			f.result(30)
		h.wait_until(lambda: all(sorted(self.state(topic, p)["isr"]) == sorted(asg)
				for p, asg in enumerate(assignment)), 60, "full ISRs of %s" % topic)

	def state(self, topic, p):
		return self.c.partition_state(topic, p)

	def topic_znode(self, topic):
		data, _ = self.c.zk.get(self.c.zpath("/brokers/topics/%s" % topic))
		return json.loads(data.decode())

	def controller(self):
		return self.c.broker(self.c.controller_id())

	def partition_dir(self, broker_id, topic, p):
		return os.path.join(self.c.broker(broker_id).data_dir, "%s-%d" % (topic, p))

	def read_all(self, topic, partitions):
		return acked.read_all(self.c.bootstrap, topic, partitions, "reassign-check")

	def wait_reassigned(self, topic, p, target):
		def done():
			z = self.topic_znode(topic)
			st = self.state(topic, p)
			return z["partitions"][str(p)] == target and not z.get("adding_replicas") \
				and not z.get("removing_replicas") and sorted(st["isr"]) == sorted(target) \
				and st["leader"] in target
		h.wait_until(done, 90, "%s-%d reassigned to %s" % (topic, p, target))

	def check_moved(self, topic, chk, before_epoch):
		self.wait_reassigned(topic, 0, [2, 3, 4])
		st = self.state(topic, 0)
		self.assertGreater(st["leader_epoch"], before_epoch)
		h.wait_until(lambda: not os.path.exists(self.partition_dir(1, topic, 0)), 30,
				"broker 1's copy of %s-0 to be deleted" % topic)
		self.assertTrue(os.path.isdir(self.partition_dir(4, topic, 0)))
		err, listed = list_reassignments(self.controller().port)
		self.assertEqual(err, ERR_NONE)
		self.assertEqual(listed, {})
		# Every broker's metadata shows the new replicas.
		def md_ok():
			for b in self.c.live_brokers():
				md = kproto.metadata(h.HOST, b.port, topics=[topic], timeout=5)
				part = md["topics"][0]["partitions"][0]
				if sorted(part["replicas"]) != [2, 3, 4] or sorted(part["isr"]) != [2, 3, 4]:
					return False
			return True
		h.wait_until(md_ok, 30, "every broker's metadata to show %s-0 on [2,3,4]" % topic)
		chk.produce_n(50)
		chk.finish()
		self.assertEqual(chk.errors, [])
		self.assertGreater(len(chk.acked), 200)
		got = self.read_all(topic, 1)
		for key, value in chk.acked.items():
			self.assertEqual(got.get(key), value, "acknowledged message at %s" % (key,))
		self.assertEqual(sorted(got), [(0, o) for o in range(len(got))], "offsets are dense")

	def start_producing(self, topic):
		"""The topic on [1, 2, 3] with 200 acknowledged messages and an acks=all producer
		running for a second; returns the checker and the partition state before."""
		self.create(topic, [[1, 2, 3]])
		chk = acked.Checker(self.c.bootstrap, topic, pause_every=100, pause_s=0.02)
		chk.produce_n(200)
		before = self.state(topic, 0)
		chk.start()
		time.sleep(1)
		return chk, before

	# ---- tests ----

	def test_reassign_through_the_api_while_producing(self):
		topic = "moving"
		chk, before = self.start_producing(topic)
		err, res = alter_reassignments(self.controller().port, {(topic, 0): [2, 3, 4]})
		self.assertEqual(err, ERR_NONE)
		self.assertEqual(res, {(topic, 0): (ERR_NONE, None)})
		self.check_moved(topic, chk, before["leader_epoch"])
		# The controller's log tells the phases.
		log = self.controller().log_text()
		self.assertIn("adding [4], removing [1]", log)
		self.assertIn("reassignment of %s-0 to [2,3,4] completed" % topic, log)

	def test_reassign_through_the_znode_while_producing(self):
		topic = "zmoving"
		chk, before = self.start_producing(topic)
		self.c.zk.create(self.c.zpath("/admin/reassign_partitions"), json.dumps({"version": 1, "partitions": [
			{"topic": topic, "partition": 0, "replicas": [2, 3, 4]}]}).encode())
		self.check_moved(topic, chk, before["leader_epoch"])
		# The znode goes once its last partition is done.
		h.wait_until(lambda: self.c.zk.exists(self.c.zpath("/admin/reassign_partitions")) is None, 30,
				"/admin/reassign_partitions to be deleted")

	def test_znode_entries_that_fail_are_dropped(self):
		self.create("zt", [[1, 2]])
		self.c.zk.create(self.c.zpath("/admin/reassign_partitions"), json.dumps({"version": 1, "partitions": [
			{"topic": "nope", "partition": 0, "replicas": [1, 2]},
			{"topic": "zt", "partition": 0, "replicas": [3, 4]}]}).encode())
		self.wait_reassigned("zt", 0, [3, 4])
		h.wait_until(lambda: self.c.zk.exists(self.c.zpath("/admin/reassign_partitions")) is None, 30,
				"/admin/reassign_partitions to be deleted")

	def test_errors(self):
		self.create("e", [[1, 2, 3]])
		port = self.controller().port
		err, res = alter_reassignments(port, {
			("e", 0): [1, 2, 9],       # broker 9 does not exist
			("e", 1): [1, 2, 3],       # no such partition
			("nope", 0): [1, 2, 3],    # no such topic
		})
		self.assertEqual(err, ERR_NONE)
		self.assertEqual(res[("e", 0)][0], ERR_INVALID_REPLICA_ASSIGNMENT)
		self.assertEqual(res[("e", 1)][0], ERR_UNKNOWN_TOPIC_OR_PARTITION)
		self.assertEqual(res[("nope", 0)][0], ERR_UNKNOWN_TOPIC_OR_PARTITION)
		err, res = alter_reassignments(port, {("e", 0): [2, 2, 3]})
		self.assertEqual(res[("e", 0)][0], ERR_INVALID_REPLICA_ASSIGNMENT)
		err, res = alter_reassignments(port, {("e", 0): []})
		self.assertEqual(res[("e", 0)][0], ERR_INVALID_REPLICA_ASSIGNMENT)
		err, res = alter_reassignments(port, {("e", 0): None})
		self.assertEqual(res[("e", 0)][0], ERR_NO_REASSIGNMENT_IN_PROGRESS)
		# A dead broker is no target either.
		self.c.broker(4).kill()
		h.wait_until(lambda: 4 not in self.c.registered_ids(), 30, "broker 4's znode to go")
		time.sleep(1)
		port = self.controller().port
		err, res = alter_reassignments(port, {("e", 0): [1, 2, 4]})
		self.assertEqual(res[("e", 0)][0], ERR_INVALID_REPLICA_ASSIGNMENT)
		# Nothing changed.
		self.assertEqual(self.topic_znode("e")["partitions"]["0"], [1, 2, 3])
		# Brokers other than the controller answer NOT_CONTROLLER.
		other = [b for b in self.c.live_brokers() if b.id != self.c.controller_id()][0]
		err, res = alter_reassignments(other.port, {("e", 0): [1, 2, 3]})
		self.assertEqual(err, ERR_NOT_CONTROLLER)
		err, _ = list_reassignments(other.port)
		self.assertEqual(err, ERR_NOT_CONTROLLER)

	def test_list_and_cancel_reverts_to_the_original_replicas(self):
		topic = "cancel"
		# The broker that is added and kept stopped must not be the controller, which answers
		# the requests below (a stopped controller would time them out and lose its session).
		ctl = self.c.controller_id()
		spare = 4 if ctl != 4 else 1
		o = [b for b in (1, 2, 3, 4) if b != spare]
		self.create(topic, [o])
		chk = acked.Checker(self.c.bootstrap, topic, pause_every=100, pause_s=0.02)
		chk.produce_n(100)
		chk.finish()
		before = self.state(topic, 0)
		bs = self.c.broker(spare)
		# The spare broker cannot catch up while it is stopped (its session outlives the test's steps).
		bs.pause()
		try:
			port = self.controller().port
			err, res = alter_reassignments(port, {(topic, 0): [o[0], o[1], spare]})
			self.assertEqual(res[(topic, 0)][0], ERR_NONE)
			z = self.topic_znode(topic)
			self.assertEqual(z["partitions"]["0"], [o[0], o[1], spare, o[2]])
			self.assertEqual(z["adding_replicas"], {"0": [spare]})
			self.assertEqual(z["removing_replicas"], {"0": [o[2]]})
			self.assertEqual(self.state(topic, 0)["leader_epoch"], before["leader_epoch"] + 1)
			err, listed = list_reassignments(port)
			self.assertEqual(err, ERR_NONE)
			self.assertEqual(listed, {(topic, 0): {"replicas": [o[0], o[1], spare, o[2]], "adding": [spare],
					"removing": [o[2]]}})
			err, listed = list_reassignments(port, [(topic, 0), (topic, 5), ("nope", 0)])
			self.assertEqual(list(listed), [(topic, 0)])
			err, res = alter_reassignments(port, {(topic, 0): None})
			self.assertEqual(res[(topic, 0)][0], ERR_NONE)
			z = self.topic_znode(topic)
			self.assertEqual(z["partitions"]["0"], o)
			self.assertEqual(z["adding_replicas"], {})
			self.assertEqual(z["removing_replicas"], {})
			err, listed = list_reassignments(port)
			self.assertEqual(listed, {})
			err, res = alter_reassignments(port, {(topic, 0): None})
			self.assertEqual(res[(topic, 0)][0], ERR_NO_REASSIGNMENT_IN_PROGRESS)
		finally:
			bs.resume()
		st = self.state(topic, 0)
		self.assertEqual(sorted(st["isr"]), sorted(o))
		self.assertEqual(st["leader"], before["leader"])
		# The spare broker got the partition and then its deletion.
		h.wait_until(lambda: not os.path.exists(self.partition_dir(spare, topic, 0)), 30,
				"broker %d's copy of %s-0 to be deleted" % (spare, topic))
		got = self.read_all(topic, 1)
		self.assertEqual(len(got), 100)

	def test_new_controller_resumes_a_reassignment(self):
		"""The reassignment lives in the topic znode: a controller that dies in phase A
		leaves it to its successor, which completes it."""
		topic = "resume"
		ctl = self.c.controller_id()
		new = [i for i in (1, 2, 3, 4) if i != ctl][0]
		orig = [i for i in (1, 2, 3, 4) if i != new]
		target = [i for i in orig if i != ctl] + [new]
		self.create(topic, [orig])
		chk = acked.Checker(self.c.bootstrap, topic, pause_every=100, pause_s=0.02)
		chk.produce_n(100)
		chk.finish()
		b_new = self.c.broker(new)
		b_new.pause()
		try:
			err, res = alter_reassignments(self.c.broker(ctl).port, {(topic, 0): target})
			self.assertEqual(res[(topic, 0)][0], ERR_NONE)
			z = self.topic_znode(topic)
			self.assertEqual(z["adding_replicas"], {"0": [new]})
			self.assertEqual(z["removing_replicas"], {"0": [ctl]})
			self.c.broker(ctl).kill()
		finally:
			b_new.resume()
		h.wait_until(lambda: self.c.controller_id() not in (None, ctl), 60, "a new controller")
		self.wait_reassigned(topic, 0, target)
		self.assertIn("resuming the reassignment of %s-0" % topic, self.controller().log_text())
		got = self.read_all(topic, 1)
		self.assertEqual(sorted(got.items()), sorted(chk.acked.items()))


if __name__ == "__main__":
	h.main()
