"""ZooKeeper session expiry: a broker frozen (SIGSTOP) past its session timeout
loses its ephemeral /brokers/ids/<id> and, if it was controller, the /controller
znode. Thawed (SIGCONT), it must notice the expiry, open a new session, register
again with a new broker epoch and take part in elections again, as Kafka does."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402

SESSION_MS = 4000


class SessionExpiry(h.ClusterTestCase):
	def test_frozen_controller_reregisters(self):
		c = self.start_cluster(brokers=2, first_id=1, session_timeout_ms=SESSION_MS)
		ctl = h.wait_until(lambda: c.controller_id() if c.controller_id() in (1, 2) else None, 20,
				"a controller")
		other = 2 if ctl == 1 else 1
		_, before = c.zk.get(c.zpath("/brokers/ids/%d" % ctl))
		epoch_before = c.controller_epoch()

		frozen = c.broker(ctl)
		frozen.pause()
		try:
			# Its session expires: the registration goes, the other broker takes over.
			h.wait_until(lambda: c.zk.exists(c.zpath("/brokers/ids/%d" % ctl)) is None, 30,
					"/brokers/ids/%d to vanish with the frozen broker's session" % ctl)
			h.wait_until(lambda: c.controller_id() == other, 20, "broker %d to become controller" % other)
			self.assertGreater(c.controller_epoch(), epoch_before)
		finally:
			frozen.resume()

		# Thawed: registered again under a new session, so with a new broker epoch (czxid).
		def reregistered():
			st = c.zk.exists(c.zpath("/brokers/ids/%d" % ctl))
			return st if st is not None and st.czxid != before.czxid else None
		after = h.wait_until(reregistered, 30, "broker %d to register again" % ctl)
		self.assertNotEqual(after.ephemeralOwner, before.ephemeralOwner)

		# The controller sees it come back and tells everyone, the thawed broker included.
		def both_listed():
			for b in (c.broker(1), c.broker(2)):
				md = kproto.metadata(h.HOST, b.port, timeout=5)
				if sorted(x["node_id"] for x in md["brokers"]) != [1, 2] or md["controller_id"] != other:
					return False
			return True
		h.wait_until(both_listed, 30, "both brokers to list brokers [1, 2] with controller %d" % other)
		self.assertTrue(frozen.alive())


if __name__ == "__main__":
	h.main()
