"""The controller's duties when brokers come and go, as Kafka's ZooKeeper-mode
controller does them: a dead leader is replaced from the ISR (leader epoch + 1,
the dead broker out of every ISR), a restarted broker gets its LeaderAndIsr back,
a partition with no live ISR member has leader -1 unless unclean leader election
is enabled for its topic, a new controller after failover carries on, SIGTERM
runs a controlled shutdown that moves leaderships before the broker's znode goes,
and ISR change notifications written by leaders reach every broker's Metadata."""

import json
import os
import shutil
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SESSION_MS = 6000
# A dead broker's znode goes with its session; the controller acts at once then.
DEATH_WAIT = SESSION_MS / 1000.0 + 15


class ControllerDuties(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		self.c = self.start_cluster(brokers=3, first_id=1, session_timeout_ms=SESSION_MS)
		self._admin = None

	# ---- helpers ----

	def admin(self):
		if self._admin is None:
			self._admin = AdminClient({"bootstrap.servers": self.c.bootstrap})
		return self._admin

	def create(self, topic, partitions=None, rf=None, assignment=None, config=None):
		if assignment is not None:
			nt = NewTopic(topic, num_partitions=len(assignment), replica_assignment=assignment, config=config or {})
			partitions = len(assignment)
		else:
			nt = NewTopic(topic, partitions, rf, config=config or {})
		for f in self.admin().create_topics([nt], request_timeout=20).values():
			f.result()
		# Every partition has its state and every broker's Metadata shows the leaders.
		h.wait_until(lambda: all(self.state(topic, p)[0]["leader"] >= 0 for p in range(partitions)),
				20, "states of %s" % topic)
		self.wait_metadata_matches(topic, partitions, self.c.live_brokers())

	def state(self, topic, p):
		data, stat = self.c.zk.get(self.c.zpath("/brokers/topics/%s/partitions/%d/state" % (topic, p)))
		return json.loads(data.decode()), stat

	def states(self, topic, n):
		return {p: self.state(topic, p)[0] for p in range(n)}

	def assignment(self, topic):
		data, _ = self.c.zk.get(self.c.zpath("/brokers/topics/%s" % topic))
		return {int(p): r for p, r in json.loads(data.decode())["partitions"].items()}

	def set_isr(self, topic, p, isr):
		"""Rewrites a state znode's ISR by hand, as a leader would (same leader and epoch)."""
		st, stat = self.state(topic, p)
		st["isr"] = isr
		self.c.zk.set(self.c.zpath("/brokers/topics/%s/partitions/%d/state" % (topic, p)),
				json.dumps(st).encode(), version=stat.version)
		return st

	def metadata_partitions(self, b, topic):
		md = kproto.metadata(h.HOST, b.port, topics=[topic], timeout=5)
		return {x["partition"]: x for x in md["topics"][0]["partitions"]}

	def wait_metadata_matches(self, topic, n, brokers, timeout=20):
		"""Until every broker in `brokers` reports the leader and ISR of the state znodes
		(Metadata v1+ shows the ISR as written, dead members included, as Kafka does)."""
		def agree():
			want = self.states(topic, n)
			for b in brokers:
				got = self.metadata_partitions(b, topic)
				for p in range(n):
					if p not in got or got[p]["leader"] != want[p]["leader"] \
							or got[p]["isr"] != want[p]["isr"]:
						return None
			return want
		return h.wait_until(agree, timeout, "Metadata of %s from %s to match ZooKeeper"
				% (topic, [b.id for b in brokers]))

	def non_controllers(self):
		ctl = self.c.controller_id()
		return [b for b in self.c.live_brokers() if b.id != ctl]

	def check_failover_of(self, topic, before, dead, after, controller_died=False):
		"""Kafka's outcome of broker `dead` failing, partition by partition. When the
		controller itself died, its successor's startup first takes it out of the ISRs
		(leader -1 where it led: one epoch) and then elects (another epoch), as Kafka's
		replica state machine starts before the partition state machine."""
		for p, old in before.items():
			new = after[p]
			if dead not in old["isr"]:
				self.assertEqual(new, old, "partition %d did not involve broker %d" % (p, dead))
				continue
			bumps = 2 if controller_died and old["leader"] == dead else 1
			self.assertEqual(new["leader_epoch"], old["leader_epoch"] + bumps, (p, old, new))
			self.assertEqual(new["isr"], [r for r in old["isr"] if r != dead], (p, old, new))
			if old["leader"] == dead:
				self.assertIn(new["leader"], old["isr"])
				self.assertNotEqual(new["leader"], dead)
				# The first ISR member in assignment order.
				asg = self.assignment(topic)[p]
				self.assertEqual(new["leader"], [r for r in asg if r in old["isr"] and r != dead][0])
			else:
				self.assertEqual(new["leader"], old["leader"])
			self.assertEqual(new["controller_epoch"], self.c.controller_epoch())

	# ---- tests ----

	def test_dead_leader_replaced_from_isr_and_restart_gets_leader_and_isr(self):
		self.create("t", 6, 3)
		victim = self.non_controllers()[0]
		before = self.states("t", 6)
		led = [p for p, st in before.items() if st["leader"] == victim.id]
		t0 = time.monotonic()
		victim.kill()
		h.wait_until(lambda: all(self.state("t", p)[0]["leader"] != victim.id for p in led)
				and all(victim.id not in st["isr"] for st in self.states("t", 6).values()),
				DEATH_WAIT, "new leaders for %s and broker %d out of every ISR" % (led, victim.id))
		h.log("leaders moved %.1fs after SIGKILL" % (time.monotonic() - t0))
		after = self.states("t", 6)
		self.check_failover_of("t", before, victim.id, after)
		survivors = self.c.live_brokers()
		self.wait_metadata_matches("t", 6, survivors)
		# Offline replicas are reported as such.
		for b in survivors:
			for p, pm in self.metadata_partitions(b, "t").items():
				self.assertNotEqual(pm["leader"], victim.id)

		# Restart with an empty data dir: the controller's LeaderAndIsr recreates every log.
		shutil.rmtree(victim.data_dir)
		os.makedirs(victim.data_dir)
		victim.start()
		want = sorted("t-%d" % p for p in range(6))
		h.wait_until(lambda: sorted(d for d in os.listdir(victim.data_dir) if d.startswith("t-")) == want,
				20, "broker %d to recreate %s" % (victim.id, want))
		# Leaders stay where they are (no preferred election); the restarted broker knows them.
		now = self.states("t", 6)
		for p in range(6):
			self.assertNotEqual(now[p]["leader"], victim.id)
		h.wait_until(lambda: all(pm["leader"] == self.state("t", p)[0]["leader"]
				for p, pm in self.metadata_partitions(victim, "t").items()),
				20, "the restarted broker's Metadata to list the leaders")
		self.assertIn("Controller %d: new broker startup callback for %d"
				% (self.c.controller_id(), victim.id), self.c.broker(self.c.controller_id()).log_text())

	def test_new_controller_elects_after_failover(self):
		self.create("f", 6, 3)
		old_ctl = self.c.controller_id()
		before = self.states("f", 6)
		self.c.broker(old_ctl).kill()
		new_ctl = h.wait_until(lambda: self.c.controller_id() not in (None, old_ctl) and self.c.controller_id(),
				DEATH_WAIT, "a new controller")
		# The new controller reads every state from ZooKeeper and treats the old one as failed.
		# Leader -1 is the step between the two (see check_failover_of): wait past it.
		h.wait_until(lambda: all(old_ctl not in st["isr"] and st["leader"] not in (old_ctl, -1)
				for st in self.states("f", 6).values()), DEATH_WAIT,
				"partitions of the dead controller %d to move" % old_ctl)
		self.check_failover_of("f", before, old_ctl, self.states("f", 6), controller_died=True)

		# A broker killed afterwards: the new controller handles it too.
		other = [b for b in self.c.live_brokers() if b.id != new_ctl][0]
		mid = self.states("f", 6)
		other.kill()
		h.wait_until(lambda: all(st["leader"] == new_ctl and st["isr"] == [new_ctl]
				for st in self.states("f", 6).values()), DEATH_WAIT,
				"every partition led by %d alone" % new_ctl)
		self.check_failover_of("f", mid, other.id, self.states("f", 6))
		self.wait_metadata_matches("f", 6, [self.c.broker(new_ctl)])

	def test_rf1_partition_goes_leaderless_and_comes_back(self):
		victim = self.non_controllers()[0]
		self.create("solo", assignment=[[victim.id]])
		st0 = self.state("solo", 0)[0]
		self.assertEqual((st0["leader"], st0["isr"]), (victim.id, [victim.id]))
		victim.kill()
		h.wait_until(lambda: self.state("solo", 0)[0]["leader"] == -1, DEATH_WAIT, "leader -1")
		st1 = self.state("solo", 0)[0]
		# Kafka leaves the last ISR member in the ISR.
		self.assertEqual(st1["isr"], [victim.id])
		self.assertEqual(st1["leader_epoch"], st0["leader_epoch"] + 1)
		self.wait_metadata_matches("solo", 1, self.c.live_brokers())

		victim.start()
		h.wait_until(lambda: self.state("solo", 0)[0]["leader"] == victim.id, 20, "leader back on restart")
		st2 = self.state("solo", 0)[0]
		self.assertEqual(st2["isr"], [victim.id])
		self.assertEqual(st2["leader_epoch"], st1["leader_epoch"] + 1)
		self.wait_metadata_matches("solo", 1, self.c.live_brokers())

	def test_unclean_leader_election_per_topic(self):
		ctl = self.c.controller_id()
		x, y = [b.id for b in self.non_controllers()]
		asg = [[x, y, ctl]]
		self.create("clean", assignment=asg)
		self.create("dirty", assignment=asg, config={"unclean.leader.election.enable": "true"})
		self.c.broker(x).kill()
		# Before the session expires, the ISR shrinks to the dead leader alone (as if the
		# followers had fallen behind): no ISR member survives.
		before = {t: self.set_isr(t, 0, [x]) for t in ("clean", "dirty")}
		h.wait_until(lambda: self.state("clean", 0)[0]["leader"] == -1
				and self.state("dirty", 0)[0]["leader"] == y, DEATH_WAIT,
				"no leader for 'clean', an unclean one for 'dirty'")
		clean, dirty = self.state("clean", 0)[0], self.state("dirty", 0)[0]
		self.assertEqual(clean["isr"], [x])
		self.assertEqual(clean["leader_epoch"], before["clean"]["leader_epoch"] + 1)
		# The controller wrote [y]; the new leader may since have let the caught-up follower back in.
		self.assertIn(y, dirty["isr"])
		self.assertNotIn(x, dirty["isr"])
		self.assertGreaterEqual(dirty["leader_epoch"], before["dirty"]["leader_epoch"] + 1)
		live = self.c.live_brokers()
		self.wait_metadata_matches("clean", 1, live)
		self.wait_metadata_matches("dirty", 1, live)
		log = self.c.broker(ctl).log_text()
		self.assertIn("unclean leader election for dirty-0", log)
		self.assertRegex(log, r"changed partition dirty-0 \(offline partition leader election\): leader %d -> %d, "
				r"leader epoch %d, ISR \[%d\] -> \[%d\]" % (x, y, before["dirty"]["leader_epoch"] + 1, x, y))
		self.assertNotIn("changed partition clean-0 (offline partition leader election)", log)

	def test_sigterm_moves_leaderships_before_deregistering(self):
		self.create("cs", 6, 3)
		victim = self.non_controllers()[0]
		before = self.states("cs", 6)
		led = [p for p, st in before.items() if st["leader"] == victim.id]
		self.assertTrue(led)

		# Watch the state znodes and the broker's registration: ZooKeeper delivers the
		# events in the order the writes happened.
		lock = threading.Lock()
		seq = [0]
		moved = {}   # partition -> (order, mzxid) when its leader first was not the victim
		gone = []    # (order, pzxid of /brokers/ids) when the victim's znode went
		watches_ready = threading.Event()

		def next_seq():
			with lock:
				seq[0] += 1
				return seq[0]

		def state_watch(p):
			def cb(data, stat, *_):
				if data is None:
					return
				st = json.loads(data.decode())
				if st["leader"] != victim.id and p not in moved:
					moved[p] = (next_seq(), stat.mzxid, st)
			return cb
		for p in led:
			self.c.zk.DataWatch(self.c.zpath("/brokers/topics/cs/partitions/%d/state" % p), state_watch(p))

		def ids_watch(children):
			if str(victim.id) not in children and not gone:
				_, stat = self.c.zk.get(self.c.zpath("/brokers/ids"))
				gone.append((next_seq(), stat.pzxid))
			watches_ready.set()
		self.c.zk.ChildrenWatch(self.c.zpath("/brokers/ids"), ids_watch)
		self.assertTrue(watches_ready.wait(10))
		self.assertEqual(moved, {})

		t0 = time.monotonic()
		problem = victim.terminate(timeout=60)
		took = time.monotonic() - t0
		self.assertIsNone(problem, problem)
		self.assertEqual(victim.proc.returncode, 0)
		h.wait_until(lambda: gone and len(moved) == len(led), 10, "the watches to fire")
		for p in led:
			self.assertLess(moved[p][0], gone[0][0], "partition %d moved after the broker deregistered" % p)
			self.assertLess(moved[p][1], gone[0][1])
		log = victim.log_text()
		self.assertIn("Controlled shutdown request returned successfully", log)
		self.assertLess(log.index("Starting controlled shutdown"),
				log.index("Controlled shutdown request returned successfully"))
		h.log("controlled shutdown of broker %d took %.1fs" % (victim.id, took))
		self.assertLess(took, 15)

		# What the controller wrote [ControlledShutdownLeaderElectionStrategy]: the first
		# ISR member not shutting down leads, the ISR without the broker, one epoch more.
		asg = self.assignment("cs")
		for p in led:
			old, first = before[p], moved[p][2]
			self.assertEqual(first["leader"], [r for r in asg[p] if r in old["isr"] and r != victim.id][0])
			self.assertEqual(first["isr"], [r for r in old["isr"] if r != victim.id])
			self.assertEqual(first["leader_epoch"], old["leader_epoch"] + 1)
		# Until it stopped, the broker followed the new leaders, which may have let it back
		# into their ISRs (leaders write ISRs themselves on this path); once its znode is
		# gone the controller takes it out of every ISR.
		h.wait_until(lambda: all(victim.id not in st["isr"] and st["leader"] != victim.id
				for st in self.states("cs", 6).values()), 10, "broker %d out of every ISR" % victim.id)
		self.wait_metadata_matches("cs", 6, self.c.live_brokers())

	def test_controlled_shutdown_of_the_controller(self):
		self.create("cc", 3, 3)
		ctl = self.c.broker(self.c.controller_id())
		led = [p for p, st in self.states("cc", 3).items() if st["leader"] == ctl.id]
		self.assertTrue(led)
		problem = ctl.terminate(timeout=60)
		self.assertIsNone(problem, problem)
		self.assertEqual(ctl.proc.returncode, 0)
		self.assertIn("Controlled shutdown request returned successfully", ctl.log_text())
		# It moved its own leaderships while it still was the controller...
		for p in led:
			self.assertIn("changed partition cc-%d (controlled shutdown): leader %d -> " % (p, ctl.id), ctl.log_text())
		for p, st in self.states("cc", 3).items():
			self.assertNotEqual(st["leader"], ctl.id)
		# ...and its successor takes it out of the ISRs it may have rejoined meanwhile.
		h.wait_until(lambda: all(ctl.id not in st["isr"] for st in self.states("cc", 3).values()), DEATH_WAIT,
				"broker %d out of every ISR" % ctl.id)
		self.wait_metadata_matches("cc", 3, self.c.live_brokers())

	def test_controlled_shutdown_retries_while_partitions_remain(self):
		victim, other = self.non_controllers()
		victim.props["controlled.shutdown.max.retries"] = 2
		victim.props["controlled.shutdown.retry.backoff.ms"] = 300
		victim.restart()
		self.c.wait_metadata()
		# RF 1 partitions do not count (nobody could take them); an RF 2 partition whose
		# other replica is dead does.
		self.create("one", assignment=[[victim.id]])
		self.create("two", assignment=[[victim.id, other.id]])
		other.kill()
		h.wait_until(lambda: self.state("two", 0)[0]["isr"] == [victim.id], DEATH_WAIT,
				"broker %d out of the ISR of two-0" % other.id)
		problem = victim.terminate(timeout=60)
		self.assertIsNone(problem, problem)
		self.assertEqual(victim.proc.returncode, 0)
		log = victim.log_text()
		self.assertIn("with 1 partitions remaining to move", log)
		self.assertIn("Retrying controlled shutdown (1 retries remaining)", log)
		self.assertIn("Proceeding to do an unclean shutdown as all the controlled shutdown attempts failed", log)
		# With its last replica gone, two-0 has no leader; one-0 likewise.
		h.wait_until(lambda: self.state("two", 0)[0]["leader"] == -1 and self.state("one", 0)[0]["leader"] == -1,
				DEATH_WAIT, "leader -1 for one-0 and two-0")

	def test_rf1_leader_does_not_hold_up_controlled_shutdown(self):
		victim = self.non_controllers()[0]
		self.create("single", assignment=[[victim.id], [victim.id]])
		t0 = time.monotonic()
		problem = victim.terminate(timeout=60)
		self.assertIsNone(problem, problem)
		self.assertLess(time.monotonic() - t0, 4)
		self.assertIn("Controlled shutdown request returned successfully", victim.log_text())
		self.assertNotIn("Retrying controlled shutdown", victim.log_text())

	def test_isr_change_notification_reaches_every_broker(self):
		self.create("n", 2, 3)
		st = self.state("n", 1)[0]
		shrunk = [st["leader"]] + [r for r in st["isr"] if r != st["leader"]][:1]
		self.set_isr("n", 1, shrunk)
		path = self.c.zk.create(self.c.zpath("/isr_change_notification/isr_change_"),
				json.dumps({"version": 1, "partitions": [{"topic": "n", "partition": 1}]}).encode(),
				sequence=True)
		h.wait_until(lambda: all(sorted(self.metadata_partitions(b, "n")[1]["isr"]) == sorted(shrunk)
				for b in self.c.live_brokers()), 20, "every broker's Metadata to show ISR %s" % shrunk)
		h.wait_until(lambda: self.c.zk.exists(path) is None, 10, "the notification to be deleted")
		self.assertEqual(self.c.zk.get_children(self.c.zpath("/isr_change_notification")), [])
		# The controller now decides from that ISR: the leader's death elects the one
		# follower left in it. (The new leader may then let the other follower back in.)
		victim = self.c.broker(st["leader"])
		if victim.id == self.c.controller_id():
			return
		victim.kill()
		h.wait_until(lambda: self.state("n", 1)[0]["leader"] == shrunk[1], DEATH_WAIT,
				"%d to lead n-1" % shrunk[1])
		after = self.state("n", 1)[0]
		self.assertNotIn(victim.id, after["isr"])
		self.assertEqual(after["leader_epoch"], st["leader_epoch"] + 1)


if __name__ == "__main__":
	h.main()
