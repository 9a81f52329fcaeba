"""The group coordinator with real clients: confluent-kafka groups (eager and
cooperative-sticky) share partitions, rebalance when a member leaves, commit and
resume exactly at their committed offsets; static members come back without a
rebalance; kafka-python and KafkaJS groups do the same; committed offsets
survive a coordinator restart and are in __consumer_offsets in Kafka's record
format; and bad group requests sent as raw protocol get Kafka's error codes
(a join storm included, with the broker's memory staying bounded)."""

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import acked  # noqa: E402
import cluster as h  # noqa: E402
import nodejs  # noqa: E402
import kproto  # noqa: E402
from members import GroupMember, poll_until  # noqa: E402
from kproto import i8, i16, i32, string  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

BROKER_ID = 1
JS_DIR = os.path.join(h.REPO, "tests", "js")
PROPS = {
	"offsets.topic.num.partitions": "5",
	"group.initial.rebalance.delay.ms": "0",
	"group.min.session.timeout.ms": "1000",
}

# Kafka error codes
NONE = 0
OFFSET_METADATA_TOO_LARGE = 12
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79

# API keys
OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, JOIN_GROUP, HEARTBEAT = 8, 9, 10, 11, 12
LEAVE_GROUP, SYNC_GROUP, DESCRIBE_GROUPS, LIST_GROUPS, DELETE_GROUPS = 13, 14, 15, 16, 42


def i64(v):
	return struct.pack(">q", v)


def nbytes(b):
	return i32(-1) if b is None else i32(len(b)) + b


def subscription(topics):
	"""ConsumerProtocolSubscription v0: version, topics, user data."""
	return i16(0) + i32(len(topics)) + b"".join(string(t) for t in topics) + i32(-1)


def raw_state(raw, group):
	return raw.describe([group])[group]["state"]


def rss_kb(pid):
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			if line.startswith("VmRSS:"):
				return int(line.split()[1])
	raise AssertionError("no VmRSS for pid %d" % pid)


# ---- raw group requests ------------------------------------------------------------

class Raw:
	"""Group APIs in their non-flexible versions over one kproto connection."""

	def __init__(self, port):
		self.c = kproto.Conn(h.HOST, port, timeout=30)

	def close(self):
		self.c.close()

	def find_coordinator(self, group):
		r = self.c.request(FIND_COORDINATOR, 1, string(group) + i8(0))
		r.i32()
		err = r.i16()
		r.string()
		return err, r.i32()

	def join_body(self, group, member_id="", session_ms=10000, rebalance_ms=10000, version=4,
			instance_id=None, topics=("t",)):
		body = string(group) + i32(session_ms)
		if version >= 1:
			body += i32(rebalance_ms)
		body += string(member_id)
		if version >= 5:
			body += string(instance_id)
		body += string("consumer") + i32(1) + string("range") + nbytes(subscription(list(topics)))
		return body

	@staticmethod
	def decode_join(r, version=4):
		if version >= 2:
			r.i32()
		out = {"error": r.i16(), "generation": r.i32(), "protocol": r.string(), "leader": r.string(),
			"member_id": r.string()}

		def member():
			m = {"member_id": r.string()}
			if version >= 5:
				m["instance_id"] = r.string()
			n = r.i32()
			m["metadata"] = r.take(n) if n >= 0 else None
			return m
		out["members"] = r.array(member) or []
		return out

	def join(self, group, **kw):
		version = kw.get("version", 4)
		r = self.c.request(JOIN_GROUP, version, self.join_body(group, **kw), timeout=60)
		return self.decode_join(r, version)

	def sync(self, group, generation, member_id, assignments=()):
		body = string(group) + i32(generation) + string(member_id)
		body += i32(len(assignments)) + b"".join(string(m) + nbytes(a) for m, a in assignments)
		r = self.c.request(SYNC_GROUP, 2, body, timeout=60)
		r.i32()
		err = r.i16()
		n = r.i32()
		return err, (r.take(n) if n >= 0 else None)

	def heartbeat(self, group, generation, member_id):
		r = self.c.request(HEARTBEAT, 2, string(group) + i32(generation) + string(member_id))
		r.i32()
		return r.i16()

	def leave(self, group, member_id):
		r = self.c.request(LEAVE_GROUP, 2, string(group) + string(member_id))
		r.i32()
		return r.i16()

	def offset_commit(self, group, generation, member_id, offsets, retention=-1):
		"""OffsetCommit v2; offsets: [(topic, partition, offset, metadata)]; returns {(t, p): error}."""
		by_topic = {}
		for t, p, o, md in offsets:
			by_topic.setdefault(t, []).append((p, o, md))
		body = string(group) + i32(generation) + string(member_id) + i64(retention) + i32(len(by_topic))
		for t, parts in by_topic.items():
			body += string(t) + i32(len(parts))
			for p, o, md in parts:
				body += i32(p) + i64(o) + string(md)
		r = self.c.request(OFFSET_COMMIT, 2, body)
		out = {}
		for _ in range(r.i32()):
			t = r.string()
			for _ in range(r.i32()):
				p = r.i32()
				out[(t, p)] = r.i16()
		return out

	def offset_fetch(self, group, topic, partitions):
		"""OffsetFetch v3; returns (group error, {partition: (offset, metadata, error)})."""
		body = string(group) + i32(1) + string(topic) + i32(len(partitions)) + b"".join(i32(p) for p in partitions)
		r = self.c.request(OFFSET_FETCH, 3, body)
		r.i32()
		out = {}
		for _ in range(r.i32()):
			r.string()
			for _ in range(r.i32()):
				p = r.i32()
				off = struct.unpack(">q", r.take(8))[0]
				md = r.string()
				out[p] = (off, md, r.i16())
		return r.i16(), out

	def describe(self, groups):
		"""DescribeGroups v1; returns {group: {error, state, protocol_type, protocol, members}}."""
		r = self.c.request(DESCRIBE_GROUPS, 1, i32(len(groups)) + b"".join(string(g) for g in groups))
		r.i32()
		out = {}

		def member():
			m = {"member_id": r.string(), "client_id": r.string(), "client_host": r.string()}
			n = r.i32()
			m["metadata"] = r.take(n) if n >= 0 else None
			n = r.i32()
			m["assignment"] = r.take(n) if n >= 0 else None
			return m
		for _ in range(r.i32()):
			d = {"error": r.i16()}
			gid = r.string()
			d["state"] = r.string()
			d["protocol_type"] = r.string()
			d["protocol"] = r.string()
			d["members"] = r.array(member) or []
			out[gid] = d
		return out

	def list_groups(self):
		r = self.c.request(LIST_GROUPS, 1, b"")
		r.i32()
		err = r.i16()
		return err, dict(r.array(lambda: (r.string(), r.string())) or [])

	def delete_groups(self, groups):
		r = self.c.request(DELETE_GROUPS, 1, i32(len(groups)) + b"".join(string(g) for g in groups))
		r.i32()
		return dict(r.array(lambda: (r.string(), r.i16())) or [])


# ---- confluent-kafka group members -----------------------------------------------------

def Member(bootstrap, group, topic, name, **conf):
	"""A group member with the settings these tests share: manual commits, short
	session and heartbeat, quick metadata refresh."""
	cfg = {"enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 300,
		"topic.metadata.refresh.interval.ms": 2000}
	cfg.update(conf)
	return GroupMember(bootstrap, group, topic, name, **cfg)


def balanced(members, n_partitions):
	"""Every open member's assignment, disjoint and covering every partition evenly."""
	live = [m for m in members if not m.closed]
	asg = [m.assignment() for m in live]
	flat = sorted(p for a in asg for p in a)
	if flat != list(range(n_partitions)):
		return False
	sizes = sorted(len(a) for a in asg)
	return sizes[-1] - sizes[0] <= 1


# ---- __consumer_offsets records ----------------------------------------------------------

class Rd:
	def __init__(self, b):
		self.b, self.p = b, 0

	def take(self, n):
		v = self.b[self.p:self.p + n]
		if len(v) != n:
			raise ValueError("short record")
		self.p += n
		return v

	def i16(self):
		return struct.unpack(">h", self.take(2))[0]

	def i32(self):
		return struct.unpack(">i", self.take(4))[0]

	def i64(self):
		return struct.unpack(">q", self.take(8))[0]

	def string(self):
		n = self.i16()
		return None if n < 0 else self.take(n).decode()


def decode_offset_record(key, value):
	"""An OffsetCommitKey (versions 0-1) record as ((group, topic, partition), value dict or None);
	None for other keys (group metadata)."""
	k = Rd(key)
	kv = k.i16()
	if kv not in (0, 1):
		return None
	gtp = (k.string(), k.string(), k.i32())
	if k.p != len(key):
		raise AssertionError("trailing bytes in offset key %r" % key)
	if value is None:
		return gtp, None
	v = Rd(value)
	vv = v.i16()
	out = {"version": vv, "offset": v.i64()}
	if vv >= 3:
		out["leader_epoch"] = v.i32()
	out["metadata"] = v.string()
	out["commit_timestamp"] = v.i64()
	if vv == 1:
		out["expire_timestamp"] = v.i64()
	if v.p != len(value):
		raise AssertionError("trailing bytes in offset value v%d %r" % (vv, value))
	return gtp, out


# ---- tests -------------------------------------------------------------------------------

class Groups(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=BROKER_ID, props=PROPS)

	def setUp(self):
		super().setUp()
		self.b = self.shared.broker(BROKER_ID)

	# -- helpers -------------------------------------------------------------------------

	def create(self, name, partitions, broker=None):
		b = broker or self.b
		h.create_topic(b.address, name, partitions, BROKER_ID)

	def produce(self, topic, per_partition, partitions, tag, broker=None):
		"""per_partition messages to each partition; values name their partition and tag."""
		b = broker or self.b
		p = Producer({"bootstrap.servers": b.address, "linger.ms": 5, "acks": "all"})
		errors = []
		for part in range(partitions):
			for i in range(per_partition):
				p.produce(topic, ("%s-p%d-%d" % (tag, part, i)).encode(), partition=part,
						on_delivery=lambda err, m: errors.append(err) if err else None)
		self.assertEqual(p.flush(60), 0)
		self.assertEqual(errors, [])

	def raw(self, broker=None):
		r = Raw((broker or self.b).port)
		self.addCleanup(r.close)
		return r

	def wait_coordinator(self, raw, group):
		h.wait_until(lambda: raw.find_coordinator(group)[0] == NONE, 60, "coordinator for %s" % group)

	def committed(self, group, topic, partitions, broker=None):
		b = broker or self.b
		c = Consumer({"bootstrap.servers": b.address, "group.id": group})
		try:
			return {tp.partition: tp.offset for tp in
				c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=20)}
		finally:
			c.close()

	def check_share_and_resume(self, topic, group, strategy):
		"""Cases 1 and 2: three members share six partitions, one leaves, the rest
		take over from the committed offsets, and a restarted group resumes exactly."""
		P = 6
		self.create(topic, P)
		conf = {"partition.assignment.strategy": strategy}
		ms = [Member(self.b.address, group, topic, "m%d" % i, **conf) for i in range(3)]
		try:
			poll_until(ms, lambda: balanced(ms, P) and all(len(m.assignment()) == 2 for m in ms), 60,
					"three members with two partitions each")
			before = {m.name: m.assignment() for m in ms}

			# Round 1: 10 per partition, read by whoever owns the partition, committed.
			self.produce(topic, 10, P, "r1")
			poll_until(ms, lambda: sum(len(m.msgs) for m in ms) >= 10 * P, 60, "round 1 consumed")
			for m in ms:
				self.assertEqual(sorted({p for p, _, _ in m.msgs}), before[m.name], m.name)
				m.commit()
			self.assertEqual(self.committed(group, topic, P), {p: 10 for p in range(P)})

			# m2 leaves; m0 and m1 take its partitions (cooperative: keeping their own).
			ms[2].close()
			poll_until(ms, lambda: balanced(ms, P) and all(len(m.assignment()) == 3 for m in ms[:2]), 60,
					"two members with three partitions each")
			if strategy == "cooperative-sticky":
				for m in ms[:2]:
					self.assertTrue(set(before[m.name]) <= set(m.assignment()),
							"%s lost partitions: %s -> %s" % (m.name, before[m.name], m.assignment()))

			# Round 2: the new owners start at the committed offsets (nothing re-read).
			self.produce(topic, 10, P, "r2")
			poll_until(ms, lambda: sum(len(m.msgs) for m in ms) >= 20 * P, 60, "round 2 consumed")
			time.sleep(1)
			for m in ms[:2]:
				m.poll(0.2)
				m.commit()
			seen = [(p, o) for m in ms for p, o, _ in m.msgs]
			self.assertEqual(len(seen), len(set(seen)), "a message was read twice")
			self.assertEqual(sorted(seen), sorted((p, o) for p in range(P) for o in range(20)))
			for m in ms:
				self.assertEqual(m.errors, [])
		finally:
			for m in ms:
				m.close()
		self.assertEqual(self.committed(group, topic, P), {p: 20 for p in range(P)})

		# A restarted group starts at the committed offsets: it reads exactly round 3 (produced
		# once it is balanced, so no partition changes hands with uncommitted reads).
		ms2 = [Member(self.b.address, group, topic, "n%d" % i, **conf) for i in range(2)]
		try:
			poll_until(ms2, lambda: balanced(ms2, P) and all(len(m.assignment()) == 3 for m in ms2), 60,
					"the restarted group balanced")
			self.produce(topic, 10, P, "r3")
			poll_until(ms2, lambda: sum(len(m.msgs) for m in ms2) >= 10 * P, 60, "round 3 consumed")
			time.sleep(1.5)
			for m in ms2:
				m.poll(0.2)
			got = sorted((p, o) for m in ms2 for p, o, _ in m.msgs)
			self.assertEqual(got, sorted((p, o) for p in range(P) for o in range(20, 30)))
			self.assertTrue(all(v.startswith(b"r3-") for m in ms2 for _, _, v in m.msgs))
		finally:
			for m in ms2:
				m.close()

	# -- 1, 2: confluent-kafka groups -----------------------------------------------------

	def test_1_confluent_eager_share_rebalance_resume(self):
		self.check_share_and_resume("grp-eager", "g-eager", "range")

	def test_2_confluent_cooperative_sticky(self):
		self.check_share_and_resume("grp-coop", "g-coop", "cooperative-sticky")

	# -- 3: static membership ----------------------------------------------------------------

	def test_3_static_member_restart_without_rebalance(self):
		topic, group, P = "grp-static", "g-static", 6
		self.create(topic, P)

		def member(i):
			return Member(self.b.address, group, topic, "s%d" % i, **{
				"group.instance.id": "inst-%d" % i, "session.timeout.ms": 10000})
		ms = [member(i) for i in range(3)]
		raw = self.raw()
		try:
			poll_until(ms, lambda: balanced(ms, P) and all(len(m.assignment()) == 2 for m in ms), 60,
					"three static members with two partitions each")
			# Settle: no rebalance pending.
			poll_until(ms, lambda: raw.describe([group])[group]["state"] == "Stable", 30, "group Stable")
			t_end = time.monotonic() + 2
			poll_until(ms, lambda: time.monotonic() > t_end, 10, "settle")
			counts = [(m.assigns, m.revokes) for m in ms[:2]]
			old = ms[2].assignment()
			ids_before = sorted(m["member_id"] for m in raw.describe([group])[group]["members"])

			# s2 goes away without LeaveGroup and comes back well within its session timeout.
			ms[2].close()
			time.sleep(1)
			d = raw.describe([group])[group]
			self.assertEqual(d["state"], "Stable")
			self.assertEqual(sorted(m["member_id"] for m in d["members"]), ids_before,
					"the static member was removed on close")
			ms[2] = member(2)
			poll_until(ms, lambda: ms[2].assignment() != [], 30, "the restarted static member's assignment")
			t_end = time.monotonic() + 3
			poll_until(ms, lambda: time.monotonic() > t_end, 10, "settle")
			self.assertEqual(ms[2].assignment(), old)
			self.assertEqual([(m.assigns, m.revokes) for m in ms[:2]], counts,
					"the other members saw a rebalance")
			d = raw.describe([group])[group]
			self.assertEqual(d["state"], "Stable")
			self.assertEqual(len(d["members"]), 3)
			ids_after = sorted(m["member_id"] for m in d["members"])
			self.assertEqual(len(set(ids_after) - set(ids_before)), 1, "exactly one new member id")
			for m in ms:
				self.assertEqual(m.errors, [])
		finally:
			for m in ms:
				m.close()

	# -- 4: kafka-python ---------------------------------------------------------------------

	def test_4_kafka_python_group(self):
		"""kafka-python: 3 members share 6 partitions, one leaves and the other two take its
		partitions, commits, and a restarted group resumes exactly at the committed offsets."""
		from kafka import KafkaConsumer
		topic, group, P = "grp-kpy", "g-kpy", 6
		self.create(topic, P)
		commit_now = threading.Event()
		state = {}
		lock = threading.Lock()

		def run(name, out):
			c = KafkaConsumer(topic, bootstrap_servers=self.b.address, group_id=group, client_id=name,
					enable_auto_commit=False, auto_offset_reset="earliest",
					session_timeout_ms=6000, heartbeat_interval_ms=300, max_poll_interval_ms=30000)
			committed = False
			try:
				while not out["stop"].is_set():
					recs = c.poll(timeout_ms=100)
					with lock:
						for tp, batch in recs.items():
							for r in batch:
								out["msgs"].append((tp.partition, r.offset, r.value))
						out["assignment"] = sorted(tp.partition for tp in c.assignment())
					if commit_now.is_set() and not committed:
						c.commit()
						committed = True
						out["committed"] = True
			except Exception as e:  # reported by the main thread
				out["error"] = repr(e)
			finally:
				c.close()  # kafka-python sends LeaveGroup here

		def start(names):
			for n in names:
				state[n] = {"msgs": [], "assignment": [], "stop": threading.Event()}
				t = threading.Thread(target=run, args=(n, state[n]), daemon=True)
				state[n]["thread"] = t
				t.start()

		def stop(names):
			for n in names:
				state[n]["stop"].set()
			for n in names:
				state[n]["thread"].join(30)

		def snapshot():
			with lock:
				return {n: (list(s["assignment"]), len(s["msgs"]), s.get("error")) for n, s in state.items()}

		def until(fn, what, timeout=60):
			def ok():
				snap = snapshot()
				errs = [s[2] for s in snap.values() if s[2]]
				if errs:
					raise AssertionError("consumer error: %s" % errs)
				return fn(snap)
			try:
				h.wait_until(ok, timeout, what)
			except AssertionError as e:
				raise AssertionError("%s; state %s" % (e, snapshot()))

		three = ["k0", "k1", "k2"]
		start(three)
		try:
			until(lambda s: sorted(p for n in three for p in s[n][0]) == list(range(P)) and
					all(len(s[n][0]) == 2 for n in three), "three kafka-python members with 2 partitions each")
			self.produce(topic, 10, P, "a")
			until(lambda s: sum(s[n][1] for n in three) >= 10 * P, "60 messages consumed")
			for n in three:
				parts = {p for p, _, _ in state[n]["msgs"]}
				self.assertEqual(sorted(parts), state[n]["assignment"], n)
			# k2 leaves: k0 and k1 take its partitions between them.
			left = state["k2"]["assignment"]
			stop(["k2"])
			two = ["k0", "k1"]
			until(lambda s: sorted(p for n in two for p in s[n][0]) == list(range(P)) and
					all(len(s[n][0]) == 3 for n in two), "k2's partitions taken over by k0 and k1")
			self.assertTrue(set(left) <= {p for n in two for p in state[n]["assignment"]})
			self.produce(topic, 5, P, "b")

			def covered(_s):
				with lock:
					seen = {(p, o) for n in two for p, o, _ in state[n]["msgs"]}
				return all((p, o) in seen for p in range(P) for o in range(10, 15))
			until(covered, "the 30 new messages consumed by k0 and k1")
			commit_now.set()
			until(lambda s: all(state[n].get("committed") for n in two), "commits")
		finally:
			stop([n for n in three if not state[n]["stop"].is_set()])
		seen = [(p, o) for n in three for p, o, _ in state[n]["msgs"]]
		self.assertEqual(sorted(set(seen)), sorted((p, o) for p in range(P) for o in range(15)))
		self.assertEqual(self.committed(group, topic, P), {p: 15 for p in range(P)})

		# Resume: a restarted group reads exactly what was produced after the commit.
		self.produce(topic, 5, P, "c")
		commit_now.clear()
		state.clear()
		start(["k3"])
		try:
			until(lambda s: s["k3"][1] >= 5 * P, "30 new messages consumed")
			time.sleep(1.5)
		finally:
			stop(["k3"])
		got = sorted((p, o) for p, o, _ in state["k3"]["msgs"])
		self.assertEqual(got, sorted((p, o) for p in range(P) for o in range(15, 20)))

	# -- 5: KafkaJS ------------------------------------------------------------------------------

	def test_5_kafkajs_group(self):
		node, _ = nodejs.tools()
		node_modules = nodejs.modules(JS_DIR, "kafkajs")
		topic, group, P, N = "grp-js", "g-js", 3, 30
		self.create(topic, P)

		def run_js(n):
			p = h.run([node, os.path.join(JS_DIR, "group_run.js"), self.b.address, topic, group, str(n)],
					timeout=120, cwd=JS_DIR, env=dict(os.environ, NODE_PATH=node_modules))
			self.assertEqual(p.returncode, 0, "group_run.js failed:\n%s\n%s" % (p.stdout, p.stderr[-4000:]))
			return json.loads(p.stdout.strip().splitlines()[-1])

		s1 = run_js(N)
		self.assertEqual(s1["produced"], N)
		self.assertEqual(s1["consumed"], N)
		self.assertEqual(s1["unique"], N)
		self.assertEqual(s1["duplicates"], 0)
		self.assertEqual(sum(int(o) for o in s1["committed"].values()), N)
		self.assertEqual(self.committed(group, topic, P), {int(p): int(o) for p, o in s1["committed"].items()})
		# A second run resumes after the first: it reads only its own N messages.
		s2 = run_js(N)
		self.assertEqual((s2["produced"], s2["consumed"], s2["unique"], s2["foreign"]), (N, N, N, 0))
		self.assertEqual(sum(int(o) for o in s2["committed"].values()), 2 * N)

	# -- __consumer_offsets in Kafka's format ------------------------------------------------------

	def test_consumer_offsets_records(self):
		topic, group, P = "grp-rec", "g-rec", 3
		self.create(topic, P)
		self.produce(topic, 5, P, "x")
		c = Consumer({"bootstrap.servers": self.b.address, "group.id": group, "enable.auto.commit": False})
		try:
			c.assign([TopicPartition(topic, p) for p in range(P)])
			c.commit(offsets=[TopicPartition(topic, p, 3 + p) for p in range(P)], asynchronous=False)
			c.commit(offsets=[TopicPartition(topic, 1, 5)], asynchronous=False)
		finally:
			c.close()
		want = {(group, topic, 0): 3, (group, topic, 1): 5, (group, topic, 2): 5}
		latest = {}
		for m in acked.messages_to_end(self.b.address, "g-rec-reader",
				[TopicPartition("__consumer_offsets", p, -2) for p in range(5)], 60, poll_s=0.5):
			if m.error():
				raise AssertionError("reading __consumer_offsets: %s" % m.error())
			d = decode_offset_record(m.key(), m.value())
			if d and d[0][0] == group:
				latest[d[0]] = d[1]
				self.assertEqual(m.partition(), self.partition_for(group))
		self.assertEqual({k: v["offset"] for k, v in latest.items()}, want)
		now = time.time() * 1000
		for v in latest.values():
			self.assertEqual(v["version"], 3)
			self.assertEqual(v["leader_epoch"], -1)
			self.assertEqual(v["metadata"], "")
			self.assertLess(abs(v["commit_timestamp"] - now), 120000)

	@staticmethod
	def partition_for(group):
		hsh = 0
		for ch in group:
			hsh = (31 * hsh + ord(ch)) & 0xFFFFFFFF
		return (hsh & 0x7FFFFFFF) % 5

	# -- 7: bad input as raw protocol --------------------------------------------------------------

	def test_7a_offset_commit_errors(self):
		raw = self.raw()
		self.create("grp-raw", 2)
		self.wait_coordinator(raw, "g-raw-unknown")
		# An unknown group with a real generation: ILLEGAL_GENERATION; -1 and no member: a simple commit.
		self.assertEqual(raw.offset_commit("g-raw-unknown", 5, "m", [("grp-raw", 0, 1, "")]),
				{("grp-raw", 0): ILLEGAL_GENERATION})
		self.assertEqual(raw.offset_commit("g-raw-simple", -1, "", [("grp-raw", 0, 7, "hello"), ("grp-raw", 1, 9, None)]),
				{("grp-raw", 0): NONE, ("grp-raw", 1): NONE})
		err, got = raw.offset_fetch("g-raw-simple", "grp-raw", [0, 1])
		self.assertEqual(err, NONE)
		self.assertEqual((got[0][0], got[0][1], got[1][0]), (7, "hello", 9))
		# offset.metadata.max.bytes (default 4096): the partition fails, the other commits.
		res = raw.offset_commit("g-raw-simple", -1, "", [("grp-raw", 0, 8, "x" * 4097), ("grp-raw", 1, 10, "ok")])
		self.assertEqual(res, {("grp-raw", 0): OFFSET_METADATA_TOO_LARGE, ("grp-raw", 1): NONE})
		_, got = raw.offset_fetch("g-raw-simple", "grp-raw", [0, 1])
		self.assertEqual((got[0][0], got[1][0]), (7, 10))
		self.assertNotIn("g-raw-unknown", raw.list_groups()[1])

	def test_7b_membership_errors(self):
		raw = self.raw()
		group = "g-raw-join"
		self.wait_coordinator(raw, group)
		# v4+: an empty member id gets MEMBER_ID_REQUIRED and an id to come back with.
		j = raw.join(group)
		self.assertEqual(j["error"], MEMBER_ID_REQUIRED)
		self.assertTrue(j["member_id"].startswith("samsa-itest-"), j)
		mid = j["member_id"]
		# Session timeouts outside group.min/max.session.timeout.ms.
		self.assertEqual(raw.join(group, member_id=mid, session_ms=500)["error"], INVALID_SESSION_TIMEOUT)
		self.assertEqual(raw.join(group, member_id=mid, session_ms=1800001)["error"], INVALID_SESSION_TIMEOUT)
		j = raw.join(group, member_id=mid)
		self.assertEqual((j["error"], j["generation"], j["leader"], j["member_id"]), (NONE, 1, mid, mid))
		self.assertEqual([m["member_id"] for m in j["members"]], [mid])
		err, _ = raw.sync(group, 1, mid, [(mid, b"assignment-bytes")])
		self.assertEqual(err, NONE)
		self.assertEqual(raw.heartbeat(group, 1, mid), NONE)
		self.assertEqual(raw.heartbeat(group, 2, mid), ILLEGAL_GENERATION)
		self.assertEqual(raw.heartbeat(group, 1, "nobody"), UNKNOWN_MEMBER_ID)
		self.assertEqual(raw.heartbeat("g-raw-nogroup", 1, mid), UNKNOWN_MEMBER_ID)
		# Commits by the member at its generation; a wrong generation or member fails.
		self.create("grp-raw2", 1)
		self.assertEqual(raw.offset_commit(group, 1, mid, [("grp-raw2", 0, 3, "")]), {("grp-raw2", 0): NONE})
		self.assertEqual(raw.offset_commit(group, 2, mid, [("grp-raw2", 0, 4, "")]),
				{("grp-raw2", 0): ILLEGAL_GENERATION})
		self.assertEqual(raw.offset_commit(group, 1, "nobody", [("grp-raw2", 0, 4, "")]),
				{("grp-raw2", 0): UNKNOWN_MEMBER_ID})
		self.assertEqual(raw.offset_commit(group, -1, "", [("grp-raw2", 0, 4, "")]),
				{("grp-raw2", 0): UNKNOWN_MEMBER_ID})
		# DescribeGroups / ListGroups / DeleteGroups.
		d = raw.describe([group, "g-raw-nogroup"])
		self.assertEqual((d[group]["error"], d[group]["state"], d[group]["protocol_type"], d[group]["protocol"]),
				(NONE, "Stable", "consumer", "range"))
		self.assertEqual([(m["member_id"], m["client_id"], m["client_host"], m["assignment"])
				for m in d[group]["members"]], [(mid, "samsa-itest", "/127.0.0.1", b"assignment-bytes")])
		self.assertEqual((d["g-raw-nogroup"]["error"], d["g-raw-nogroup"]["state"]), (NONE, "Dead"))
		err, groups = raw.list_groups()
		self.assertEqual(err, NONE)
		self.assertEqual(groups.get(group), "consumer")
		self.assertEqual(raw.delete_groups([group, "g-raw-nogroup"]),
				{group: NON_EMPTY_GROUP, "g-raw-nogroup": GROUP_ID_NOT_FOUND})
		self.assertEqual(raw.leave(group, mid), NONE)
		# The last member's leave starts a rebalance that completes at once with nobody in it
		# (Kafka's delayed join, here too): PreparingRebalance for a moment, then Empty.
		h.wait_until(lambda: raw.describe([group])[group]["state"] == "Empty", 10, "the group to be Empty")
		self.assertEqual(raw.delete_groups([group]), {group: NONE})
		self.assertEqual(raw.describe([group])[group]["state"], "Dead")
		self.assertNotIn(group, raw.list_groups()[1])
		err, got = raw.offset_fetch(group, "grp-raw2", [0])
		self.assertEqual((err, got[0][0]), (NONE, -1))
		self.assertEqual(raw.delete_groups([group]), {group: GROUP_ID_NOT_FOUND})

	def test_7d_static_members_raw(self):
		"""Kafka's static membership: a static member that misses a rebalance stays in the
		group (onCompleteJoin drops only dynamic ones), the leader moves to a member that
		joined; a static member coming back under a new id in a Stable group keeps the
		generation (JoinGroup < v9: the old leader id and no member list)."""
		group, topic = "g-raw-static", "t"
		a, b = self.raw(), self.raw()
		self.wait_coordinator(a, group)
		ja = a.join(group, version=5, instance_id="sa", rebalance_ms=2000)
		self.assertEqual((ja["error"], ja["generation"], ja["leader"]), (NONE, 1, ja["member_id"]))
		ida = ja["member_id"]
		self.assertEqual(a.sync(group, 1, ida, [(ida, b"A1")]), (NONE, b"A1"))
		# sb joins; sa (the leader) does not rejoin: after the rebalance timeout the
		# group moves on with sb as leader and sa still a member.
		jb = b.join(group, version=5, instance_id="sb", rebalance_ms=2000)
		idb = jb["member_id"]
		self.assertEqual((jb["error"], jb["generation"], jb["leader"]), (NONE, 2, idb))
		self.assertEqual(sorted((m["member_id"], m["instance_id"]) for m in jb["members"]),
				sorted([(ida, "sa"), (idb, "sb")]))
		self.assertEqual(a.heartbeat(group, 2, ida), NONE)
		self.assertEqual(b.sync(group, 2, idb, [(ida, b"A2"), (idb, b"B2")]), (NONE, b"B2"))
		self.assertEqual(a.sync(group, 2, ida), (NONE, b"A2"))
		# sa restarts (unknown member id, same instance id, other subscription bytes but the
		# same protocol): no rebalance, generation 2, the old leader id and no members.
		a2 = self.raw()
		j = a2.join(group, version=5, instance_id="sa", rebalance_ms=2000, topics=("t", "u"))
		self.assertEqual(j["error"], NONE)
		self.assertNotEqual(j["member_id"], ida)
		self.assertEqual((j["generation"], j["leader"], j["members"]), (2, idb, []))
		self.assertEqual(a2.sync(group, 2, j["member_id"]), (NONE, b"A2"))
		self.assertEqual(b.heartbeat(group, 2, idb), NONE)
		self.assertEqual(a.heartbeat(group, 2, ida), UNKNOWN_MEMBER_ID)
		self.assertEqual(raw_state(a, group), "Stable")
		# The leader restarting: still generation 2, and it is not told it leads (< v9).
		b2 = self.raw()
		j = b2.join(group, version=5, instance_id="sb", rebalance_ms=2000)
		self.assertEqual((j["error"], j["generation"], j["leader"], j["members"]), (NONE, 2, idb, []))
		self.assertEqual(b2.sync(group, 2, j["member_id"]), (NONE, b"B2"))
		self.assertEqual(raw_state(a, group), "Stable")

	def test_7e_commit_checks_member_before_rebalance_state(self):
		"""Kafka's validateOffsetCommit: the member and generation are checked before the
		CompletingRebalance state answers REBALANCE_IN_PROGRESS."""
		group = "g-raw-completing"
		self.create("grp-raw3", 1)
		a, b = self.raw(), self.raw()
		self.wait_coordinator(a, group)
		ja = a.join(group, version=5, instance_id="ca", rebalance_ms=5000)
		ida = ja["member_id"]
		self.assertEqual(a.sync(group, 1, ida, [(ida, b"x")])[0], NONE)
		# cb joins; ca rejoins: generation 2 in CompletingRebalance until the leader syncs.
		b.c.send_raw(kproto.frame(kproto.request_header(JOIN_GROUP, 5, 99) +
				b.join_body(group, version=5, instance_id="cb", rebalance_ms=5000)))
		# cb's join must reach the coordinator first, or ca's rejoin completes a round alone.
		h.wait_until(lambda: raw_state(a, group) == "PreparingRebalance", 10, "cb's join to start a rebalance")
		ja = a.join(group, member_id=ida, version=5, instance_id="ca", rebalance_ms=5000)
		self.assertEqual((ja["error"], ja["generation"]), (NONE, 2))
		self.assertEqual(raw_state(a, group), "CompletingRebalance")
		commit = [("grp-raw3", 0, 1, "")]
		self.assertEqual(a.offset_commit(group, 2, ida, commit), {("grp-raw3", 0): REBALANCE_IN_PROGRESS})
		self.assertEqual(a.offset_commit(group, 1, ida, commit), {("grp-raw3", 0): ILLEGAL_GENERATION})
		self.assertEqual(a.offset_commit(group, 2, "nobody", commit), {("grp-raw3", 0): UNKNOWN_MEMBER_ID})
		rd = kproto.Reader(b.c.recv_frame(30))
		rd.i32()
		self.assertEqual(Raw.decode_join(rd, 5)["error"], NONE)

	def test_7f_member_that_never_syncs_is_removed(self):
		"""Kafka's pending-sync expiry: a member that joined a generation but sends no
		SyncGroup within the rebalance timeout is removed even after the leader's
		SyncGroup made the group Stable (heartbeats do not keep it in)."""
		group = "g-raw-nosync"
		a, b = self.raw(), self.raw()
		self.wait_coordinator(a, group)
		ja = a.join(group, version=5, instance_id=None, rebalance_ms=2000)
		ida = a.join(group, member_id=ja["member_id"], rebalance_ms=2000)["member_id"]
		self.assertEqual(a.sync(group, 1, ida, [(ida, b"a")])[0], NONE)
		jb = b.join(group, rebalance_ms=2000)
		self.assertEqual(jb["error"], MEMBER_ID_REQUIRED)
		idb = jb["member_id"]
		b.c.send_raw(kproto.frame(kproto.request_header(JOIN_GROUP, 4, 77) +
				b.join_body(group, member_id=idb, rebalance_ms=2000)))
		# a learns of the rebalance from its heartbeat and rejoins; both are in generation 2.
		h.wait_until(lambda: a.heartbeat(group, 1, ida) == REBALANCE_IN_PROGRESS, 10, "rebalance")
		j = a.join(group, member_id=ida, rebalance_ms=2000)
		self.assertEqual((j["error"], j["generation"]), (NONE, 2))
		rd = kproto.Reader(b.c.recv_frame(30))
		rd.i32()
		self.assertEqual(Raw.decode_join(rd, 4)["generation"], 2)
		leader = j["leader"]
		other = idb if leader == ida else ida
		lconn = a if leader == ida else b
		oconn = b if leader == ida else a
		self.assertEqual(lconn.sync(group, 2, leader, [(ida, b"a2"), (idb, b"b2")])[0], NONE)
		self.assertEqual(raw_state(a, group), "Stable")
		# The other member heartbeats but never syncs: out after the rebalance timeout.
		t0 = time.monotonic()
		leader_hb = []

		def gone():
			leader_hb.append(lconn.heartbeat(group, 2, leader))
			return oconn.heartbeat(group, 2, other) == UNKNOWN_MEMBER_ID
		h.wait_until(gone, 8, "the member that never synced to be removed", interval=0.3)
		self.assertGreater(time.monotonic() - t0, 1.0)
		self.assertNotIn(UNKNOWN_MEMBER_ID, leader_hb)
		self.assertEqual(lconn.heartbeat(group, 2, leader), REBALANCE_IN_PROGRESS)
		self.assertEqual(lconn.leave(group, leader), NONE)

	def test_7c_join_storm(self):
		storm = "g-storm"
		raws = [self.raw() for _ in range(4)]
		self.wait_coordinator(raws[0], storm)
		self.wait_coordinator(raws[0], "g-after-storm")
		pid = self.b.pid
		before = rss_kb(pid)
		body = raws[0].join_body(storm, session_ms=5000)
		answers = []
		per_conn = 250
		for r in raws:
			# Pipelined: every request sent before reading any answer.
			frames = b""
			first = r.c.next_corr
			for k in range(per_conn):
				frames += kproto.frame(kproto.request_header(JOIN_GROUP, 4, first + k) + body)
			r.c.next_corr += per_conn
			r.c.send_raw(frames)
		for r in raws:
			for _ in range(per_conn):
				rd = kproto.Reader(r.c.recv_frame(30))
				rd.i32()
				answers.append(Raw.decode_join(rd, 4))
		self.assertEqual(len(answers), 1000)
		self.assertEqual({a["error"] for a in answers}, {MEMBER_ID_REQUIRED})
		self.assertEqual(len({a["member_id"] for a in answers}), 1000)
		after = rss_kb(pid)
		self.assertLess(after - before, 64 * 1024, "RSS grew from %d kB to %d kB" % (before, after))
		# The broker still serves a real group, and the storm's pending ids expire.
		self.create("grp-storm", 2)
		ms = [Member(self.b.address, "g-after-storm", "grp-storm", "a%d" % i) for i in range(2)]
		try:
			poll_until(ms, lambda: balanced(ms, 2) and all(len(m.assignment()) == 1 for m in ms), 60, "group after the storm")
		finally:
			for m in ms:
				m.close()
		h.wait_until(lambda: storm not in raws[1].list_groups()[1] or
				raws[1].describe([storm])[storm]["state"] in ("Empty", "Dead"), 30, "the storm group to settle")
		self.assertLess(rss_kb(pid) - before, 64 * 1024)


class Restart(h.ClusterTestCase):
	"""6: the coordinator broker restarts; committed offsets survive and the group re-forms."""

	def test_6_offsets_survive_coordinator_restart(self):
		c = self.start_cluster(brokers=1, first_id=BROKER_ID, props=PROPS)
		b = c.broker(BROKER_ID)
		t = Groups("test_1_confluent_eager_share_rebalance_resume")
		t.b = b
		topic, group, P = "grp-restart", "g-restart", 3
		t.create(topic, P)
		t.produce(topic, 10, P, "before")
		ms = [Member(b.address, group, topic, "r%d" % i) for i in range(2)]
		try:
			# Each member has read what it owns up to the end (an earlier owner's reads don't count).
			def caught_up():
				return balanced(ms, P) and all((p, 9) in {(q, o) for q, o, _ in m.msgs}
						for m in ms for p in m.assignment())
			poll_until(ms, caught_up, 60, "every owned partition read to its end")
			for m in ms:
				m.commit()
		finally:
			for m in ms:
				m.close()
		# A simple (generation -1) commit with metadata too, for another group.
		raw = Raw(b.port)
		try:
			self.assertEqual(raw.offset_commit("g-restart-simple", -1, "", [(topic, 0, 4, "md")]), {(topic, 0): NONE})
		finally:
			raw.close()
		self.assertEqual(t.committed(group, topic, P), {p: 10 for p in range(P)})

		problem = b.terminate()
		self.assertIsNone(problem)
		b.start()
		raw = Raw(b.port)
		try:
			h.wait_until(lambda: raw.find_coordinator(group)[0] == NONE, 60, "coordinator after restart")

			def fetched(g, parts):
				err, got = raw.offset_fetch(g, topic, parts)
				return got if err == NONE else None
			got = h.wait_until(lambda: fetched(group, list(range(P))), 60, "OffsetFetch after restart")
			self.assertEqual({p: v[0] for p, v in got.items()}, {p: 10 for p in range(P)})
			got = fetched("g-restart-simple", [0])
			self.assertEqual(got[0][:2], (4, "md"))
			d = raw.describe([group])[group]
			self.assertEqual((d["error"], d["state"]), (NONE, "Empty"))
		finally:
			raw.close()
		ms = [Member(b.address, group, topic, "q%d" % i) for i in range(2)]
		try:
			poll_until(ms, lambda: balanced(ms, P) and all(m.assignment() for m in ms), 60, "the group re-formed")
			t.produce(topic, 5, P, "after")
			poll_until(ms, lambda: sum(len(m.msgs) for m in ms) >= 5 * P, 60, "15 consumed after restart")
			time.sleep(1.5)
			for m in ms:
				m.poll(0.2)
			got = sorted((p, o) for m in ms for p, o, _ in m.msgs)
			self.assertEqual(got, sorted((p, o) for p in range(P) for o in range(10, 15)))
		finally:
			for m in ms:
				m.close()

	def test_max_size_counts_members_not_pending_ids(self):
		"""Kafka's acceptJoiningMember: an Empty group hands out member ids without limit;
		group.max.size bounds the members (awaiting ones while a rebalance prepares)."""
		c = self.start_cluster(brokers=1, first_id=BROKER_ID, props=dict(PROPS, **{"group.max.size": "2"}))
		b = c.broker(BROKER_ID)
		group = "g-max"
		conns = [Raw(b.port) for _ in range(4)]
		try:
			h.wait_until(lambda: conns[0].find_coordinator(group)[0] == NONE, 60, "coordinator")
			ids = [conns[i].join(group, rebalance_ms=3000)["member_id"] for i in range(3)]
			self.assertEqual(len(set(ids)), 3)
			# Two come back with their ids and form a Stable group of two.
			j0 = conns[0].join(group, member_id=ids[0], rebalance_ms=3000)
			self.assertEqual((j0["error"], j0["generation"]), (NONE, 1))
			self.assertEqual(conns[0].sync(group, 1, ids[0], [(ids[0], b"0")])[0], NONE)
			conns[1].c.send_raw(kproto.frame(kproto.request_header(JOIN_GROUP, 4, 501) +
					conns[1].join_body(group, member_id=ids[1], rebalance_ms=3000)))
			h.wait_until(lambda: conns[0].heartbeat(group, 1, ids[0]) == REBALANCE_IN_PROGRESS, 10, "rebalance")
			j0 = conns[0].join(group, member_id=ids[0], rebalance_ms=3000)
			self.assertEqual((j0["error"], j0["generation"], j0["leader"]), (NONE, 2, ids[0]))
			rd = kproto.Reader(conns[1].c.recv_frame(30))
			rd.i32()
			self.assertEqual(Raw.decode_join(rd, 4)["error"], NONE)
			self.assertEqual(conns[0].sync(group, 2, ids[0], [(ids[0], b"0"), (ids[1], b"1")])[0], NONE)
			self.assertEqual(conns[1].sync(group, 2, ids[1]), (NONE, b"1"))
			# The third id is one member too many for a Stable group of two.
			j = conns[2].join(group, member_id=ids[2], rebalance_ms=3000)
			self.assertEqual(j["error"], 81)  # GROUP_MAX_SIZE_REACHED
			self.assertEqual(raw_state(conns[3], group), "Stable")
			# A known member id with a group.instance.id that is no static member: UNKNOWN_MEMBER_ID.
			j = conns[0].join(group, member_id=ids[0], version=5, instance_id="nobody", rebalance_ms=3000)
			self.assertEqual(j["error"], UNKNOWN_MEMBER_ID)
		finally:
			for r in conns:
				r.close()


if __name__ == "__main__":
	h.main()
