"""The samsa admin CLI against a real cluster: cluster, broker-api-versions and
topics (kafka-topics.sh flags), checked against ZooKeeper and Metadata."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402


def cli(*args):
	return h.samsa_cli(*args)


class Cli(h.ClusterTestCase):
	def test_cli(self):
		c = self.start_cluster(brokers=2, first_id=1)
		bs = ["--bootstrap-server", c.bootstrap.split(",")[0]]

		p = cli("cluster", *bs)
		self.assertEqual(p.returncode, 0, p.stderr)
		cid = json.loads(c.zk.get(c.zpath("/cluster/id"))[0].decode())["id"]
		self.assertIn("Cluster ID: %s" % cid, p.stdout)
		self.assertIn("Controller: %d" % c.controller_id(), p.stdout)

		p = cli("broker-api-versions", *bs)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertIn("Metadata(3): 0 to 12", p.stdout)
		self.assertIn("OffsetCommit(8): 0 to 9", p.stdout)
		self.assertIn("JoinGroup(11): 0 to 9", p.stdout)

		p = cli("topics", *bs, "--create", "--topic", "cli-t", "--partitions", "3", "--replication-factor", "2",
				"--config", "retention.ms=5000")
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout.strip(), "Created topic cli-t.")
		asg = json.loads(c.zk.get(c.zpath("/brokers/topics/cli-t"))[0].decode())
		self.assertEqual(len(asg["partitions"]), 3)
		cfg = json.loads(c.zk.get(c.zpath("/config/topics/cli-t"))[0].decode())
		self.assertEqual(cfg["config"], {"retention.ms": "5000"})

		p = cli("topics", *bs, "--create", "--topic", "cli-t", "--partitions", "1")
		self.assertEqual(p.returncode, 1)
		self.assertIn("TOPIC_ALREADY_EXISTS", p.stderr)

		def described():
			p = cli("topics", *bs, "--describe", "--topic", "cli-t")
			return p if p.returncode == 0 and p.stdout.count("\tPartition: ") == 3 else None
		p = h.wait_until(described, 20, "cli-t described with 3 partitions")
		self.assertIn("PartitionCount: 3\tReplicationFactor: 2", p.stdout)
		for part, replicas in asg["partitions"].items():
			self.assertIn("Partition: %s\tLeader: %d\tReplicas: %s" % (part, replicas[0],
					",".join(str(r) for r in replicas)), p.stdout)

		self.assertEqual(cli("topics", *bs, "--list").stdout.split(), ["cli-t"])
		p = cli("topics", *bs, "--delete", "--topic", "cli-t")
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertIsNone(c.zk.exists(c.zpath("/brokers/topics/cli-t")))
		p = cli("topics", *bs, "--describe", "--topic", "cli-t")
		self.assertEqual(p.returncode, 1)
		self.assertIn("UNKNOWN_TOPIC_OR_PARTITION", p.stderr)


if __name__ == "__main__":
	h.main()
