"""Client quotas as Kafka's ZooKeeper mode keeps and enforces them.

AlterClientQuotas writes /config/users/<u>, /config/clients/<c> and their
<default> combinations in Kafka's JSON with a /config/changes notice (the
entity path), keeps what else a user's znode holds, refuses unknown keys and
non-integer byte rates with Kafka's errors naming the key; DescribeClientQuotas
filters by exact, default and any match, strict or not.  `samsa configs
--entity-type clients|users` does the same from the command line.  A producer
whose client id has producer_byte_rate=1 MiB/s is held to that rate within
+-20 % over 30 s, with throttle_time_ms reported to it, while an unthrottled
producer beside it runs well above; a malformed quota znode written by hand is
logged and ignored, the broker keeps throttling with its last good quota."""

import json
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i8, i32, string  # noqa: E402

INVALID_CONFIG, INVALID_REQUEST = 40, 42
API_DESCRIBE_CLIENT_QUOTAS, API_ALTER_CLIENT_QUOTAS = 48, 49
MIB = 1048576

PRODUCER = r'''
import json, sys, time
from confluent_kafka import Producer
bootstrap, client_id, topic, dur = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
throttles = []
p = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "linger.ms": 5,
		"batch.size": 65536, "acks": 1, "queue.buffering.max.kbytes": 2048,
		"throttle_cb": lambda ev: throttles.append(ev.throttle_time)})
value = b"q" * 1000
done = []
def cb(err, msg):
	if err is None:
		done.append(time.monotonic())
t0 = time.monotonic()
while time.monotonic() - t0 < dur:
	try:
		p.produce(topic, value, on_delivery=cb)
	except BufferError:
		p.poll(0.02)
		continue
	p.poll(0)
p.flush(120)
in_time = sum(1 for t in done if t - t0 < dur)
print(json.dumps({"bytes": in_time * len(value), "seconds": dur, "throttles": len(throttles),
		"max_throttle_s": max(throttles) if throttles else 0}))
'''

CONSUMER = r'''
import json, sys, time
from confluent_kafka import Consumer
bootstrap, client_id, topic, dur = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
throttles = []
c = Consumer({"bootstrap.servers": bootstrap, "client.id": client_id, "group.id": "g-" + client_id,
		"auto.offset.reset": "earliest", "enable.auto.commit": False,
		"throttle_cb": lambda ev: throttles.append(ev.throttle_time)})
c.subscribe([topic])
got = 0
t0 = None
while t0 is None or time.monotonic() - t0 < dur:
	m = c.poll(0.2)
	if m is None or m.error():
		continue
	if t0 is None:
		t0 = time.monotonic()
	got += len(m.value())
c.close()
print(json.dumps({"bytes": got, "seconds": dur, "throttles": len(throttles)}))
'''


def entity(parts):
	return i32(len(parts)) + b"".join(string(t) + string(n) for t, n in parts)


def alter(conn, entries, validate_only=False):
	"""AlterClientQuotas v0: entries [(entity parts, [(key, value or None to remove)])];
	returns [(error, message)]."""
	body = i32(len(entries))
	for parts, ops in entries:
		body += entity(parts) + i32(len(ops))
		for k, v in ops:
			body += string(k) + struct.pack(">d", v or 0.0) + i8(1 if v is None else 0)
	body += i8(1 if validate_only else 0)
	r = conn.request(API_ALTER_CLIENT_QUOTAS, 0, body)
	r.i32()
	out = []
	for _ in range(r.i32()):
		err, msg = r.i16(), r.string()
		r.array(lambda: (r.string(), r.string()))
		out.append((err, msg))
	return out


def describe(conn, components, strict=False):
	"""DescribeClientQuotas v0: components [(type, match_type, match)];
	returns (error, {((type, name), ...): {key: value}})."""
	body = i32(len(components)) + b"".join(string(t) + i8(m) + string(n) for t, m, n in components)
	body += i8(1 if strict else 0)
	r = conn.request(API_DESCRIBE_CLIENT_QUOTAS, 0, body)
	r.i32()
	err, _ = r.i16(), r.string()
	found = {}
	for _ in range(max(r.i32(), 0)):
		ent = tuple(r.array(lambda: (r.string(), r.string())))
		vals = dict(r.array(lambda: (r.string(), struct.unpack(">d", r.take(8))[0])))
		found[ent] = vals
	return err, found


class Quotas(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		c = cls.start_shared_cluster(brokers=1, first_id=1)
		cls.c = c
		cls.b = c.broker(1)
		for t in ("qfast", "qslow", "qmal", "qcons"):
			h.create_topic(cls.b.address, t, 1, 1)

	def conn(self):
		host, port = self.b.address.split(":")
		return kproto.Conn(host, int(port), timeout=30)

	def znode(self, path):
		data, _ = self.c.zk.get(self.c.zpath(path))
		return json.loads(data.decode())

	def notices(self):
		out = []
		for n in sorted(self.c.zk.get_children(self.c.zpath("/config/changes"))):
			data, _ = self.c.zk.get(self.c.zpath("/config/changes/" + n))
			out.append(json.loads(data.decode()))
		return out

	def wait_applied(self, entity_path, count=1):
		needle = "Quotas: reloading /config/" + entity_path
		h.wait_until(lambda: self.b.log_text().count(needle) >= count, 30, "the broker reloads " + entity_path)

	def test_alter_and_describe(self):
		with self.conn() as c:
			res = alter(c, [
				([("user", "alice")], [("producer_byte_rate", 2048000.0), ("consumer_byte_rate", 4096000.0)]),
				([("user", "alice"), ("client-id", "app 1")], [("request_percentage", 25.5)]),
				([("user", None)], [("producer_byte_rate", 5000000.0)]),
				([("client-id", None)], [("controller_mutation_rate", 10.0)]),
			])
			self.assertEqual([e for e, _ in res], [0, 0, 0, 0], res)
			self.assertEqual(self.znode("/config/users/alice"),
					{"version": 1, "config": {"producer_byte_rate": "2048000", "consumer_byte_rate": "4096000"}})
			self.assertEqual(self.znode("/config/users/alice/clients/app%201"),
					{"version": 1, "config": {"request_percentage": "25.5"}})
			self.assertEqual(self.znode("/config/users/<default>")["config"], {"producer_byte_rate": "5000000"})
			self.assertEqual(self.znode("/config/clients/<default>")["config"], {"controller_mutation_rate": "10.0"})
			paths = [n.get("entity_path") for n in self.notices()]
			for p in ("users/alice", "users/alice/clients/app%201", "users/<default>", "clients/<default>"):
				self.assertIn(p, paths)
			self.assertTrue(all(n.get("version") == 2 for n in self.notices()))

			err, found = describe(c, [("user", 0, "alice")], strict=True)
			self.assertEqual(err, 0)
			self.assertEqual(found, {(("user", "alice"),): {"producer_byte_rate": 2048000.0,
					"consumer_byte_rate": 4096000.0}})
			err, found = describe(c, [("user", 0, "alice")])
			self.assertEqual(set(found), {(("user", "alice"),), (("user", "alice"), ("client-id", "app 1"))})
			err, found = describe(c, [("user", 1, None)])
			self.assertEqual(found, {(("user", None),): {"producer_byte_rate": 5000000.0}})
			err, found = describe(c, [("client-id", 2, None)], strict=True)
			self.assertEqual(found, {(("client-id", None),): {"controller_mutation_rate": 10.0}})
			err, found = describe(c, [("user", 0, "alice"), ("user", 1, None)])
			self.assertEqual(err, INVALID_REQUEST)

			# Bad input: Kafka's errors naming the key; nothing written.
			res = alter(c, [([("user", "bob")], [("producer_byte_rates", 1.0)]),
					([("user", "bob")], [("producer_byte_rate", 1.5)]),
					([("user", "bob")], [("producer_byte_rate", 0.0)]),
					([("group", "g")], [("producer_byte_rate", 1.0)])])
			self.assertEqual(res[0][0], INVALID_REQUEST)
			self.assertIn("producer_byte_rates", res[0][1])
			self.assertEqual(res[1][0], INVALID_REQUEST)
			self.assertIn("producer_byte_rate", res[1][1])
			self.assertEqual(res[2][0], INVALID_CONFIG)
			self.assertEqual(res[3][0], INVALID_REQUEST)
			self.assertIsNone(self.c.zk.exists(self.c.zpath("/config/users/bob")))
			# validate_only checks without writing
			self.assertEqual(alter(c, [([("user", "carol")], [("producer_byte_rate", 1000.0)])], True)[0][0], 0)
			self.assertIsNone(self.c.zk.exists(self.c.zpath("/config/users/carol")))

			# Removing one key keeps the other, and the rest of a user's znode (SCRAM credentials).
			self.c.zk.set(self.c.zpath("/config/users/alice"), json.dumps({"version": 1, "config": {
				"producer_byte_rate": "2048000", "consumer_byte_rate": "4096000",
				"SCRAM-SHA-256": "salt=c2FsdA==,stored_key=a2V5,server_key=a2V5,iterations=4096"}}).encode())
			self.assertEqual(alter(c, [([("user", "alice")], [("producer_byte_rate", None)])])[0][0], 0)
			cfg = self.znode("/config/users/alice")["config"]
			self.assertEqual(set(cfg), {"consumer_byte_rate", "SCRAM-SHA-256"})

			# The defaults would apply to every producer of the other tests: removed again.
			res = alter(c, [([("user", None)], [("producer_byte_rate", None)]),
					([("client-id", None)], [("controller_mutation_rate", None)])])
			self.assertEqual([e for e, _ in res], [0, 0], res)
			self.assertEqual(self.znode("/config/users/<default>"), {"version": 1, "config": {}})
			err, found = describe(c, [("user", 1, None)])
			self.assertEqual(found, {})
			self.wait_applied("users/<default>", 2)

	def test_cli(self):
		r = h.samsa_cli("configs", "--bootstrap-server", self.b.address, "--entity-type", "clients",
				"--entity-name", "cli-app", "--alter", "--add-config", "producer_byte_rate=777000,consumer_byte_rate=888000")
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertEqual(self.znode("/config/clients/cli-app")["config"],
				{"producer_byte_rate": "777000", "consumer_byte_rate": "888000"})
		r = h.samsa_cli("configs", "--bootstrap-server", self.b.address, "--entity-type", "clients",
				"--entity-name", "cli-app", "--alter", "--delete-config", "consumer_byte_rate")
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		r = h.samsa_cli("configs", "--bootstrap-server", self.b.address, "--entity-type", "clients",
				"--entity-name", "cli-app", "--describe")
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertIn("producer_byte_rate=777000", r.stdout)
		self.assertNotIn("consumer_byte_rate", r.stdout)
		r = h.samsa_cli("configs", "--bootstrap-server", self.b.address, "--entity-type", "users",
				"--entity-default", "--alter", "--add-config", "request_percentage=200")
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertEqual(self.znode("/config/users/<default>")["config"].get("request_percentage"), "200.0")
		r = h.samsa_cli("configs", "--bootstrap-server", self.b.address, "--entity-type", "users",
				"--entity-name", "x", "--alter", "--add-config", "no_such_quota=1")
		self.assertNotEqual(r.returncode, 0)
		self.assertIn("no_such_quota", r.stdout + r.stderr)

	def run_producers(self, specs, seconds, script=PRODUCER):
		procs = [subprocess.Popen(["/usr/bin/python3", "-c", script, self.b.address, cid, topic, str(seconds)],
				stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cid, topic in specs]
		out = []
		for p in procs:
			o, e = p.communicate(timeout=seconds + 150)
			self.assertEqual(p.returncode, 0, e[-2000:])
			out.append(json.loads(o.strip().splitlines()[-1]))
		return out

	def test_producer_throttled_to_quota(self):
		with self.conn() as c:
			self.assertEqual(alter(c, [([("client-id", "slow")], [("producer_byte_rate", float(MIB))])])[0][0], 0)
		self.wait_applied("clients/slow")
		slow, fast = self.run_producers([("slow", "qslow"), ("fast", "qfast")], 30)
		h.log("throttled: %s; unthrottled: %s" % (slow, fast))
		rate = slow["bytes"] / slow["seconds"]
		self.assertGreater(slow["throttles"], 0, "throttle_time_ms reported to the throttled producer")
		self.assertGreaterEqual(rate, 0.8 * MIB, slow)
		self.assertLessEqual(rate, 1.2 * MIB, slow)
		self.assertEqual(fast["throttles"], 0)
		self.assertGreater(fast["bytes"] / fast["seconds"], 2.5 * MIB, fast)

	def test_consumer_throttled_to_quota(self):
		from confluent_kafka import Producer
		p = Producer({"bootstrap.servers": self.b.address, "client.id": "loader", "linger.ms": 20})
		for _ in range(5000):
			while True:
				try:
					p.produce("qcons", b"c" * 10000)
					break
				except BufferError:
					p.poll(0.1)
			p.poll(0)
		self.assertEqual(p.flush(60), 0)
		with self.conn() as c:
			self.assertEqual(alter(c, [([("client-id", "slowc")], [("consumer_byte_rate", float(MIB))])])[0][0], 0)
		self.wait_applied("clients/slowc")
		slow, fast = self.run_producers([("slowc", "qcons"), ("fastc", "qcons")], 25, CONSUMER)
		h.log("throttled consumer: %s; unthrottled: %s" % (slow, fast))
		rate = slow["bytes"] / slow["seconds"]
		self.assertGreater(slow["throttles"], 0, slow)
		self.assertLessEqual(rate, 1.3 * MIB, slow)
		self.assertGreaterEqual(rate, 0.6 * MIB, slow)
		self.assertEqual(fast["throttles"], 0, fast)
		self.assertEqual(fast["bytes"], 50000000, fast)
		self.assertLess(slow["bytes"], 50000000, slow)

	def test_malformed_znode_keeps_last_good_quota(self):
		with self.conn() as c:
			self.assertEqual(alter(c, [([("client-id", "mal")], [("producer_byte_rate", 100000.0)])])[0][0], 0)
		self.wait_applied("clients/mal")
		path = self.c.zpath("/config/clients/mal")
		self.c.zk.set(path, b"{this is not json")
		self.c.zk.create(self.c.zpath("/config/changes/config_change_"),
				json.dumps({"version": 2, "entity_path": "clients/mal"}).encode(), sequence=True)
		self.wait_applied("clients/mal", 2)
		h.wait_until(lambda: "/config/clients/mal is not Kafka's config JSON" in self.b.log_text(), 30,
				"the malformed znode is logged")
		self.assertTrue(self.b.alive())
		self.assertEqual(self.b.log_text().count("/config/clients/mal is not Kafka's config JSON"), 1)
		# The last good quota (100 kB/s) still holds: 8 s of producing is throttled.
		res, = self.run_producers([("mal", "qmal")], 8)
		self.assertGreater(res["throttles"], 0, res)
		self.assertLess(res["bytes"] / res["seconds"], 0.5 * MIB, res)


if __name__ == "__main__":
	import unittest
	unittest.main()
