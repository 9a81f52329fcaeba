"""Brokers against a 3-node ZooKeeper ensemble (scripts/zk --ensemble 3): the
connect string lists every node, registration and election work, and losing
one ZooKeeper node (not a quorum) does not disturb the cluster."""

import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402


class Ensemble(h.ClusterTestCase):
	def test_cluster_on_ensemble(self):
		c = self.start_cluster(brokers=2, first_id=1, zk_ensemble=3, chroot="/kafka")
		self.assertEqual(len(c.zookeeper.connect.split(",")), 3)
		self.assertEqual(c.registered_ids(), [1, 2])
		ctl = h.wait_until(lambda: c.controller_id() if c.controller_id() in (1, 2) else None, 20, "a controller")

		# Stop one ZooKeeper node that is not the leader: the quorum survives.
		zkdir = c.zookeeper.dir
		victim = None
		for n in (1, 2, 3):
			port = int(open(os.path.join(zkdir, "node%d" % n, "port")).read())
			import socket
			s = socket.create_connection((h.HOST, port), timeout=5)
			s.sendall(b"srvr")
			reply = s.recv(4096).decode(errors="replace")
			s.close()
			if "Mode: follower" in reply:
				victim = n
				break
		self.assertIsNotNone(victim)
		pid = int(open(os.path.join(zkdir, "node%d" % victim, "zookeeper.pid")).read())
		os.kill(pid, signal.SIGKILL)

		# Brokers keep (or regain) their sessions: nothing changes in the cluster.
		def stable():
			for b in c.brokers.values():
				md = kproto.metadata(h.HOST, b.port, timeout=5)
				if sorted(x["node_id"] for x in md["brokers"]) != [1, 2] or md["controller_id"] != ctl:
					return False
			return c.registered_ids() == [1, 2] and c.controller_id() == ctl
		h.wait_until(stable, 30, "the cluster to be unchanged after losing one ZooKeeper node")
		for b in c.brokers.values():
			self.assertTrue(b.alive())


if __name__ == "__main__":
	h.main()
