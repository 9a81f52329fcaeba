"""samsa consumer-groups (kafka-consumer-groups.sh flags) against a real broker and a
real confluent-kafka consumer group: --list, --describe (offsets and lag, members,
state), --reset-offsets dry runs and --execute checked with OffsetFetch
(committed()), and --delete refused while the group is active."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

GROUP = "cg1"
TOPIC = "cg-t"
OTHER = "cg-u"  # committed by the group but not subscribed: rows without a consumer
SIZES = {(TOPIC, 0): 10, (TOPIC, 1): 20, (TOPIC, 2): 30, (OTHER, 0): 8}
COMMITS = {(TOPIC, 0): 4, (TOPIC, 1): 10, (TOPIC, 2): 30, (OTHER, 0): 3}
# Record i of every partition has timestamp BASE_TS + i seconds (recent: retention must not touch it).
BASE_TS = (int(time.time()) - 3600) * 1000


def cli(*args):
	return h.samsa_cli("consumer-groups", *args)


def utc(ms):
	return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)


def table(out, first="GROUP"):
	"""Rows of the table whose header starts with `first`, as lists of words."""
	lines = out.splitlines()
	for i, line in enumerate(lines):
		if line.startswith(first + " "):
			return [ln.split() for ln in lines[i + 1:] if ln.strip()]
	return None


class ConsumerGroupsCli(h.ClusterTestCase):
	def run_ok(self, *args):
		p = cli(*args)
		self.assertEqual(p.returncode, 0, "%s\nstdout:\n%s\nstderr:\n%s" % (args, p.stdout, p.stderr))
		return p

	def committed(self, bs, group, tps):
		c = Consumer({"bootstrap.servers": bs, "group.id": group, "enable.auto.commit": False})
		try:
			res = c.committed([TopicPartition(t, p) for t, p in tps], timeout=20)
			return {(r.topic, r.partition): r.offset for r in res}
		finally:
			c.close()

	def test_consumer_groups(self):
		c = self.start_cluster(brokers=1, first_id=1,
				props={"offsets.topic.num.partitions": "5", "group.initial.rebalance.delay.ms": "0"})
		bs = c.bootstrap
		BS = ["--bootstrap-server", bs]
		admin = AdminClient({"bootstrap.servers": bs})
		for f in admin.create_topics([NewTopic(TOPIC, 3, 1), NewTopic(OTHER, 1, 1)], request_timeout=20).values():
			f.result()
		prod = Producer({"bootstrap.servers": bs, "linger.ms": 5})
		for (t, p), n in sorted(SIZES.items()):
			for i in range(n):
				prod.produce(t, value=b"v%d" % i, partition=p, timestamp=BASE_TS + i * 1000)
		self.assertEqual(prod.flush(30), 0)

		# Usage errors exit 2.
		self.assertEqual(cli("--list").returncode, 2)
		self.assertEqual(cli(*BS, "--describe").returncode, 2)
		self.assertEqual(cli(*BS, "--reset-offsets", "--group", GROUP, "--all-topics").returncode, 2)
		p = cli(*BS, "--list", "--state", "bogus")
		self.assertEqual(p.returncode, 2)
		self.assertIn("Invalid state list 'bogus'", p.stderr)

		# Two consumers split the topic's three partitions, then commit known offsets.
		def consumer(cid):
			k = Consumer({"bootstrap.servers": bs, "group.id": GROUP, "client.id": cid, "enable.auto.commit": False,
					"auto.offset.reset": "earliest", "session.timeout.ms": 10000, "heartbeat.interval.ms": 300})
			k.subscribe([TOPIC])
			return k
		ca, cb = consumer("cgc-a"), consumer("cgc-b")
		consumers = [ca, cb]
		try:
			def assigned():
				for k in consumers:
					k.poll(0.2)
				sizes = [len(k.assignment()) for k in consumers]
				if sum(sizes) != 3 or 0 in sizes:
					return False
				p = cli(*BS, "--describe", "--group", GROUP, "--members")
				rows = table(p.stdout) if p.returncode == 0 else None
				return rows is not None and len(rows) == 2 and sorted(int(r[4]) for r in rows) == sorted(sizes)
			h.wait_until(assigned, 60, "both consumers assigned and the group Stable")
			owner = {}
			for k in consumers:
				for tp in k.assignment():
					owner[(tp.topic, tp.partition)] = k

			def commit():
				try:
					for (t, p), off in COMMITS.items():
						k = owner.get((t, p), ca)
						k.commit(offsets=[TopicPartition(t, p, off)], asynchronous=False)
					return True
				except KafkaException as e:
					h.log("commit: %s" % e)
					for k in consumers:
						k.poll(0.1)
					return False
			h.wait_until(commit, 30, "offsets committed")
			self.assertEqual(self.committed(bs, GROUP, COMMITS.keys()), COMMITS)

			# --list, with and without states.
			self.assertIn(GROUP, self.run_ok(*BS, "--list").stdout.split())
			p = self.run_ok(*BS, "--list", "--state")
			self.assertIn([GROUP, "Stable"], table(p.stdout))
			p = self.run_ok(*BS, "--list", "--state", "stable,Empty")
			self.assertIn([GROUP, "Stable"], table(p.stdout))
			p = self.run_ok(*BS, "--list", "--state", "Empty")
			self.assertEqual(table(p.stdout), [])

			# --describe: offsets and lag against what was produced and committed.
			# This confluent-kafka has no memberid(): learn the member ids by client id.
			clients = {ca: "cgc-a", cb: "cgc-b"}
			p = self.run_ok(*BS, "--describe", "--group", GROUP, "--members")
			by_client = {r[3]: r[1] for r in table(p.stdout)}
			self.assertEqual(sorted(by_client), ["cgc-a", "cgc-b"])
			ids = {k: by_client[clients[k]] for k in consumers}
			for k in consumers:
				self.assertTrue(ids[k].startswith(clients[k] + "-"), ids[k])
			p = self.run_ok(*BS, "--describe", "--group", GROUP)
			self.assertIn("GROUP TOPIC", re.sub(r" +", " ", p.stdout))
			rows = table(p.stdout)
			self.assertEqual(len(rows), 4, p.stdout)
			for r in rows:
				self.assertEqual(len(r), 9, p.stdout)
				tp = (r[1], int(r[2]))
				lag = SIZES[tp] - COMMITS[tp]
				self.assertEqual(r[0], GROUP)
				self.assertEqual(r[3:6], [str(COMMITS[tp]), str(SIZES[tp]), str(lag)], r)
				if tp in owner:
					self.assertEqual(r[6], ids[owner[tp]])
					self.assertIn("127.0.0.1", r[7])
					self.assertEqual(r[8], clients[owner[tp]])
				else:
					self.assertEqual(r[6:], ["-", "-", "-"])
			self.assertEqual([(r[1], int(r[2])) for r in rows], sorted(SIZES))

			# --members [--verbose]
			p = self.run_ok(*BS, "--describe", "--group", GROUP, "--members")
			rows = table(p.stdout)
			self.assertEqual(sorted((r[1], r[3], int(r[4])) for r in rows),
					sorted((ids[k], clients[k], len(k.assignment())) for k in consumers))
			p = self.run_ok(*BS, "--describe", "--group", GROUP, "--members", "--verbose")
			rows = table(p.stdout)
			for k in consumers:
				want = "%s(%s)" % (TOPIC, ",".join(str(tp.partition) for tp in
						sorted(k.assignment(), key=lambda tp: tp.partition)))
				row = [r for r in rows if r[1] == ids[k]]
				self.assertEqual(len(row), 1, p.stdout)
				self.assertEqual(row[0][2], "-")  # GROUP-INSTANCE-ID: not static members
				self.assertEqual(row[0][5:], [str(len(k.assignment())), want])

			# --state
			p = self.run_ok(*BS, "--describe", "--group", GROUP, "--state")
			m = re.search(r"^%s +(\S+):(\d+) \((\d+)\) +(\S+) +(\S+) +(\d+)$" % GROUP, p.stdout, re.M)
			self.assertIsNotNone(m, p.stdout)
			self.assertEqual(int(m.group(2)), c.broker(1).port)
			self.assertEqual(m.group(3), "1")
			self.assertEqual(m.groups()[3:], ("range", "Stable", "2"))

			# A group that does not exist.
			for view in ([], ["--members"], ["--state"]):
				p = cli(*BS, "--describe", "--group", "nope", *view)
				self.assertEqual(p.returncode, 1, p.stdout)
				self.assertIn("Consumer group 'nope' does not exist.", p.stderr)

			# Not while the group is active.
			p = cli(*BS, "--delete", "--group", GROUP)
			self.assertEqual(p.returncode, 1)
			self.assertIn("* Group '%s' could not be deleted due to: NON_EMPTY_GROUP" % GROUP, p.stdout)
			p = cli(*BS, "--reset-offsets", "--group", GROUP, "--topic", TOPIC, "--to-earliest", "--execute")
			self.assertEqual(p.returncode, 1)
			self.assertIn("Assignments can only be reset if the group '%s' is inactive, but the current state is "
					"Stable." % GROUP, p.stderr)
			self.assertEqual(self.committed(bs, GROUP, COMMITS.keys()), COMMITS)
		finally:
			for k in consumers:
				k.close()

		# Closed consumers left the group: Empty, the committed offsets remain without consumers.
		h.wait_until(lambda: [GROUP, "Empty"] in (table(cli(*BS, "--list", "--state").stdout) or []), 30,
				"the group Empty")
		p = self.run_ok(*BS, "--describe", "--group", GROUP)
		self.assertIn("Consumer group '%s' has no active members." % GROUP, p.stderr)
		rows = table(p.stdout)
		self.assertEqual([(r[1], int(r[2]), int(r[3]), int(r[4]), r[6]) for r in rows],
				[(t, pa, COMMITS[(t, pa)], SIZES[(t, pa)], "-") for t, pa in sorted(SIZES)])
		p = self.run_ok(*BS, "--describe", "--group", GROUP, "--state")
		self.assertRegex(p.stdout, r"\n%s +\S+:\d+ \(1\) +Empty +0\n" % GROUP)
		p = self.run_ok(*BS, "--describe", "--group", GROUP, "--members")
		self.assertIsNone(table(p.stdout))

		def plan(*args):
			p = self.run_ok(*BS, "--reset-offsets", "--group", GROUP, *args)
			return {(r[1], int(r[2])): int(r[3]) for r in table(p.stdout)}

		# Dry runs (the default) change nothing.
		self.assertEqual(plan("--topic", TOPIC, "--to-earliest"), {(TOPIC, p): 0 for p in range(3)})
		self.assertEqual(plan("--all-topics", "--to-latest", "--dry-run"), SIZES)
		self.assertEqual(plan("--topic", TOPIC + ":0,1", "--shift-by", "-2"), {(TOPIC, 0): 2, (TOPIC, 1): 8})
		# shift-by is clamped into [earliest, latest].
		self.assertEqual(plan("--all-topics", "--shift-by", "7"),
				{tp: min(COMMITS[tp] + 7, SIZES[tp]) for tp in SIZES})
		self.assertEqual(plan("--all-topics", "--shift-by", "-5"),
				{tp: max(COMMITS[tp] - 5, 0) for tp in SIZES})
		self.assertEqual(plan("--topic", TOPIC, "--to-offset", "15"),
				{(TOPIC, p): min(15, SIZES[(TOPIC, p)]) for p in range(3)})
		self.assertEqual(plan("--topic", TOPIC, "--topic", OTHER, "--to-datetime", utc(BASE_TS + 5000)),
				{tp: 5 for tp in SIZES})
		self.assertEqual(plan("--topic", OTHER, "--to-datetime", utc(BASE_TS + 4500)), {(OTHER, 0): 5})
		# After the last record: the log end, with Kafka's warning.
		p = self.run_ok(*BS, "--reset-offsets", "--group", GROUP, "--topic", TOPIC + ":2", "--to-datetime",
				utc(BASE_TS + 86400 * 1000))
		self.assertIn("Partition 2 from topic %s is empty. Falling back to latest known offset." % TOPIC, p.stdout)
		self.assertEqual(table(p.stdout), [[GROUP, TOPIC, "2", "30"]])
		self.assertEqual(self.committed(bs, GROUP, COMMITS.keys()), COMMITS)
		p = cli(*BS, "--reset-offsets", "--group", GROUP, "--topic", "no-such-topic", "--to-earliest")
		self.assertEqual(p.returncode, 1)
		self.assertIn("UNKNOWN_TOPIC_OR_PARTITION", p.stderr)
		p = cli(*BS, "--reset-offsets", "--group", GROUP, "--to-datetime", "2024-13-01T00:00:00.000", "--all-topics")
		self.assertEqual(p.returncode, 2)

		# --execute commits, as OffsetFetch shows.
		want = {tp: 5 for tp in SIZES}
		self.assertEqual(plan("--all-topics", "--to-datetime", utc(BASE_TS + 5000), "--execute"), want)
		self.assertEqual(self.committed(bs, GROUP, SIZES.keys()), want)
		self.assertEqual(plan("--topic", TOPIC + ":1", "--shift-by", "-3", "--execute"), {(TOPIC, 1): 2})
		want[(TOPIC, 1)] = 2
		self.assertEqual(self.committed(bs, GROUP, SIZES.keys()), want)
		self.assertEqual(plan("--all-topics", "--to-earliest", "--execute"), {tp: 0 for tp in SIZES})
		self.assertEqual(self.committed(bs, GROUP, SIZES.keys()), {tp: 0 for tp in SIZES})
		self.assertEqual(plan("--topic", TOPIC, "--to-latest", "--execute"), {(TOPIC, p): SIZES[(TOPIC, p)] for p in range(3)})
		p = self.run_ok(*BS, "--describe", "--group", GROUP)
		self.assertEqual([(r[1], int(r[2]), r[3], r[5]) for r in table(p.stdout)],
				[(TOPIC, 0, "10", "0"), (TOPIC, 1, "20", "0"), (TOPIC, 2, "30", "0"), (OTHER, 0, "0", "8")])

		# Resetting a group that does not exist yet creates it, as in Kafka.
		self.assertEqual(self.committed(bs, "cg-new", [(OTHER, 0)]), {(OTHER, 0): -1001})
		p = self.run_ok(*BS, "--reset-offsets", "--group", "cg-new", "--topic", OTHER, "--to-offset", "6", "--execute")
		self.assertEqual(table(p.stdout), [["cg-new", OTHER, "0", "6"]])
		self.assertEqual(self.committed(bs, "cg-new", [(OTHER, 0)]), {(OTHER, 0): 6})
		self.assertEqual(self.run_ok(*BS, "--list").stdout.split(), sorted([GROUP, "cg-new"]))

		# --delete works once the consumers are gone; the offsets go with the group.
		p = self.run_ok(*BS, "--delete", "--group", GROUP, "--group", "cg-new")
		self.assertEqual(p.stdout.strip(), "Deletion of requested consumer groups ('%s', 'cg-new') was successful." % GROUP)
		self.assertEqual(self.run_ok(*BS, "--list").stdout.split(), [])
		p = cli(*BS, "--describe", "--group", GROUP)
		self.assertEqual(p.returncode, 1)
		self.assertIn("Consumer group '%s' does not exist." % GROUP, p.stderr)
		self.assertEqual(self.committed(bs, GROUP, [(TOPIC, 0)]), {(TOPIC, 0): -1001})
		p = cli(*BS, "--delete", "--group", GROUP)
		self.assertEqual(p.returncode, 1)
		self.assertIn("* Group '%s' could not be deleted due to: GROUP_ID_NOT_FOUND" % GROUP, p.stdout)


if __name__ == "__main__":
	h.main()
