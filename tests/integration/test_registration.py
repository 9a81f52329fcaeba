"""Broker registration edge cases: a second process with a broker.id already in
use must refuse to start, and a chrooted zookeeper.connect keeps the whole
layout under the chroot."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402


class DuplicateBrokerId(h.ClusterTestCase):
	def test_second_broker_with_same_id_exits(self):
		c = self.start_cluster(brokers=1, first_id=1)
		first = c.broker(1)
		reg0, stat0 = c.zk.get(c.zpath("/brokers/ids/1"))

		dup = c.add_broker(1, start=False)
		dup.start(wait=False)
		dup.expected_running = False  # it is supposed to exit
		try:
			rc = dup.proc.wait(timeout=20)
		except Exception:
			dup.kill()
			self.fail("a second broker with broker.id=1 was still running after 20 s; log:\n%s"
					% h.tail(dup.log_path))
		out = dup.log_text()
		self.assertNotEqual(rc, 0, "duplicate broker exited with status 0; log:\n%s" % out)
		self.assertGreater(rc, 0, "duplicate broker died of signal %d instead of exiting; log:\n%s"
				% (-rc, out))
		self.assertRegex(out.lower(), r"already registered", out)
		self.assertEqual(h.sanitizer_reports(out), [])

		# The first broker is untouched and still serving.
		reg1, stat1 = c.zk.get(c.zpath("/brokers/ids/1"))
		self.assertEqual((reg1, stat1.ephemeralOwner, stat1.czxid),
				(reg0, stat0.ephemeralOwner, stat0.czxid))
		self.assertTrue(first.alive())
		md = kproto.metadata(h.HOST, first.port)
		self.assertEqual([(b["node_id"], b["port"]) for b in md["brokers"]], [(1, first.port)])
		# Nothing answers on the duplicate's port.
		self.assertFalse(h.port_open(dup.port))


class ZkChroot(h.ClusterTestCase):
	def test_chroot_layout(self):
		c = self.start_cluster(brokers=1, first_id=1, chroot="/samsa")
		zk = c.zk
		for p in ("/samsa/brokers/ids/1", "/samsa/cluster/id", "/samsa/controller",
				"/samsa/controller_epoch", "/samsa/brokers/topics"):
			self.assertIsNotNone(zk.exists(p), "%s missing" % p)
		for p in ("/brokers", "/cluster", "/controller", "/controller_epoch", "/config", "/admin"):
			self.assertIsNone(zk.exists(p), "%s created outside the chroot" % p)
		reg = json.loads(zk.get("/samsa/brokers/ids/1")[0].decode())
		self.assertEqual(reg["endpoints"], ["PLAINTEXT://127.0.0.1:%d" % c.broker(1).port])
		self.assertEqual(json.loads(zk.get("/samsa/controller")[0].decode())["brokerid"], 1)

		cid = json.loads(zk.get("/samsa/cluster/id")[0].decode())["id"]
		md = kproto.metadata(h.HOST, c.broker(1).port)
		self.assertEqual(md["cluster_id"], cid)
		self.assertEqual(md["controller_id"], 1)

		p = h.kcat("-b", c.broker(1).address, "-L", "-m", "10", timeout=40)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertRegex(p.stdout, r"(?m)^  broker 1 at 127\.0\.0\.1:%d \(controller\)$"
				% c.broker(1).port)


if __name__ == "__main__":
	h.main()
