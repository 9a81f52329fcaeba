"""Three brokers: one controller elected through /controller, agreed on by every
broker's Metadata; controller failover after SIGKILL and SIGTERM; the killed
broker's registration expiring with its ZooKeeper session; and the controller's
UpdateMetadata bringing every survivor's broker list up to date."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

SESSION_MS = 6000


class ControllerFailover(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		self.c = self.start_cluster(brokers=3, first_id=1, session_timeout_ms=SESSION_MS)

	def metadata_of(self, b):
		"""Metadata v4 asked of broker b itself."""
		return kproto.metadata(h.HOST, b.port, timeout=5)

	def wait_agreement(self, live, timeout=20):
		"""Wait until /controller names a live broker and every live broker's
		Metadata lists exactly `live` with that controller; return its id."""
		want = sorted(b.id for b in live)

		def agreed():
			ctl = self.c.controller_id()
			if ctl not in want:
				return None
			for b in live:
				md = self.metadata_of(b)
				got = sorted(x["node_id"] for x in md["brokers"])
				if got != want or md["controller_id"] != ctl:
					return None
				for x in md["brokers"]:
					if (x["host"], x["port"]) != (h.HOST, self.c.broker(x["node_id"]).port):
						return None
			return ctl
		return h.wait_until(agreed, timeout,
				"all of %s to list brokers %s and agree on the controller" % (want, want))

	def test_exactly_one_controller(self):
		live = list(self.c.brokers.values())
		ctl = self.wait_agreement(live)
		self.assertEqual(self.c.registered_ids(), [1, 2, 3])
		self.assertGreaterEqual(self.c.controller_epoch(), 1)
		# The /controller znode belongs to the controller's own ZK session.
		_, cstat = self.c.zk.get(self.c.zpath("/controller"))
		_, rstat = self.c.zk.get(self.c.zpath("/brokers/ids/%d" % ctl))
		self.assertEqual(cstat.ephemeralOwner, rstat.ephemeralOwner)
		# kcat marks exactly that broker as controller.
		p = h.kcat("-b", self.c.bootstrap, "-L", "-m", "10", timeout=40)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertRegex(p.stdout, r"(?m)^ 3 brokers:$")
		marked = [l for l in p.stdout.splitlines() if l.endswith("(controller)")]
		self.assertEqual(marked, ["  broker %d at 127.0.0.1:%d (controller)"
				% (ctl, self.c.broker(ctl).port)], p.stdout)

	def test_sigkill_controller_fails_over(self):
		live = list(self.c.brokers.values())
		old = self.wait_agreement(live)
		epoch0 = self.c.controller_epoch()

		victim = self.c.broker(old)
		t0 = time.monotonic()
		victim.kill()
		survivors = [b for b in live if b.id != old]

		new = h.wait_until(lambda: (self.c.controller_id() not in (None, old)) and self.c.controller_id(),
				10 - (time.monotonic() - t0), "a new controller within 10 s of SIGKILL", interval=0.05)
		self.assertIn(new, [b.id for b in survivors])
		self.assertGreater(self.c.controller_epoch(), epoch0)

		# The dead broker's registration went with its session.
		h.wait_until(lambda: not victim.registered(), SESSION_MS / 1000.0 + 10,
				"/brokers/ids/%d to expire" % old)
		self.assertEqual(self.c.registered_ids(), sorted(b.id for b in survivors))

		# Every survivor learns (through UpdateMetadata) that only two are left.
		self.assertEqual(self.wait_agreement(survivors), new)
		md = h.kcat_metadata_json(",".join(b.address for b in survivors))
		self.assertEqual(sorted(x["id"] for x in md["brokers"]), sorted(b.id for b in survivors))

		# The old controller comes back as an ordinary broker: no re-election.
		epoch1 = self.c.controller_epoch()
		victim.start()
		self.assertEqual(self.wait_agreement(live, timeout=30), new)
		self.assertEqual(self.c.controller_epoch(), epoch1)

	def test_sigkill_non_controller(self):
		live = list(self.c.brokers.values())
		ctl = self.wait_agreement(live)
		epoch0 = self.c.controller_epoch()
		victim = [b for b in live if b.id != ctl][0]
		victim.kill()
		survivors = [b for b in live if b is not victim]
		h.wait_until(lambda: not victim.registered(), SESSION_MS / 1000.0 + 10,
				"/brokers/ids/%d to expire" % victim.id)
		self.assertEqual(self.wait_agreement(survivors), ctl)
		self.assertEqual(self.c.controller_epoch(), epoch0)

	def test_sigterm_controller_hands_over(self):
		live = list(self.c.brokers.values())
		old = self.wait_agreement(live)
		epoch0 = self.c.controller_epoch()
		victim = self.c.broker(old)
		t0 = time.monotonic()
		problem = victim.terminate(timeout=30)
		self.assertIsNone(problem, problem)
		survivors = [b for b in live if b is not victim]
		new = h.wait_until(lambda: (self.c.controller_id() not in (None, old)) and self.c.controller_id(),
				max(1.0, 10 - (time.monotonic() - t0)), "a new controller within 10 s of SIGTERM")
		self.assertGreater(self.c.controller_epoch(), epoch0)
		self.assertFalse(victim.registered(), "a cleanly stopped broker must deregister")
		self.assertEqual(self.wait_agreement(survivors), new)


if __name__ == "__main__":
	h.main()
