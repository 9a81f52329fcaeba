"""ACLs with authorizer.class.name=kafka.security.authorizer.AclAuthorizer:
two brokers with a SASL_PLAINTEXT PLAIN listener (users admin, alice, bob;
admin is the inter-broker user and the only super user) and a PLAINTEXT one
(User:ANONYMOUS). A principal allowed Write but not Read on a topic produces
and cannot consume; group ACLs gate consumer groups; a principal without
Describe does not see the topic in Metadata; the super user passes
everything; the ACL znodes and change notices carry Kafka's JSON; an ACL made
through one broker, or written into ZooKeeper directly, is enforced by the
other within seconds; prefixed, wildcard, deny and host rules decide as in
Kafka; ClusterAction gates the inter-broker APIs; CreateAcls, DescribeAcls
and DeleteAcls answer Kafka's error codes; `samsa acls` takes
kafka-acls.sh's flags and kafka-python's admin client its ACL calls."""

import json
import os
import shutil
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i8, i32, string  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

NONE, UNKNOWN_SERVER_ERROR, TOPIC_AUTH, GROUP_AUTH, CLUSTER_AUTH, INVALID_REQUEST = 0, -1, 29, 30, 31, 42
API_CONTROLLED_SHUTDOWN, API_DESCRIBE_ACLS, API_CREATE_ACLS, API_DELETE_ACLS = 7, 29, 30, 31
TOPIC, GROUP, CLUSTER = 2, 3, 4
LITERAL, PREFIXED = 3, 4
OP_ANY, OP_ALL, OP_READ, OP_WRITE, OP_DESCRIBE, OP_ALTER = 1, 2, 3, 4, 8, 7
ALLOW, DENY = 3, 2
USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" '
	'password="admin-secret" ' + " ".join('user_%s="%s"' % kv for kv in USERS.items()) + ";")


def creation(rtype, name, principal, op, perm=ALLOW, host="*", pattern=LITERAL):
	return i8(rtype) + string(name) + i8(pattern) + string(principal) + string(host) + i8(op) + i8(perm)


class Acls(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.tmp = tempfile.mkdtemp(prefix="samsa-acls-")
		c = cls.start_shared_cluster(brokers=0)
		cls.sasl = {}
		for bid in (1, 2):
			plain, sasl = h.free_port(), h.free_port()
			cls.sasl[bid] = "127.0.0.1:%d" % sasl
			listeners = "PLAINTEXT://127.0.0.1:%d,SASLP://127.0.0.1:%d" % (plain, sasl)
			c.add_broker(bid, port=plain, start=False, props={
				"listeners": listeners, "advertised.listeners": listeners,
				"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASLP:SASL_PLAINTEXT",
				"inter.broker.listener.name": "SASLP",
				"sasl.mechanism.inter.broker.protocol": "PLAIN",
				"listener.name.saslp.sasl.enabled.mechanisms": "PLAIN",
				"listener.name.saslp.plain.sasl.jaas.config": JAAS,
				"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
				"super.users": "User:admin",
			})
		for b in c.brokers.values():
			b.start(wait=False)
		for b in c.brokers.values():
			b.wait_ready(90)
		c.wait_metadata(60)
		cls.c = c
		cls.admin_props = os.path.join(cls.tmp, "admin.properties")
		with open(cls.admin_props, "w") as f:
			f.write("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config="
				"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" "
				"password=\"admin-secret\";\n")
		a = AdminClient(cls.conf("admin"))
		topics = [NewTopic("acl-wr", 1, 1), NewTopic("acl-grp", 1, 1), NewTopic("acl-hidden", 1, 1),
			NewTopic("pre-one", 1, 1), NewTopic("pre-secret", 1, 1), NewTopic("acl-rf2", 1, 2)]
		for _, f in a.create_topics(topics, request_timeout=30).items():
			f.result(60)
		for t in ("acl-wr", "acl-grp", "acl-hidden", "pre-one", "pre-secret"):
			h.wait_until(lambda t=t: t in cls.topics_seen("admin"), 60, "topic %s in admin's metadata" % t)

	@classmethod
	def tearDownClass(cls):
		super().tearDownClass()
		shutil.rmtree(cls.tmp, ignore_errors=True)

	@classmethod
	def conf(cls, user, broker=1, **extra):
		d = {"bootstrap.servers": cls.sasl[broker], "security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": USERS[user]}
		d.update(extra)
		return d

	@classmethod
	def topics_seen(cls, user, broker=1):
		"""Topics in an all-topics Metadata answer to `user` from `broker`."""
		p = Producer(cls.conf(user, broker))
		try:
			return set(p.list_topics(timeout=10).topics)
		finally:
			p.flush(1)

	def cli(self, *args, broker=1):
		r = h.samsa_cli("acls", "--bootstrap-server", self.sasl[broker], "--command-config", self.admin_props,
				*args)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		return r.stdout

	def acl_znode(self, path):
		data, _ = self.c.zk.get(self.c.zpath(path))
		return json.loads(data.decode())

	def produce(self, user, topic, n=5):
		p = Producer(self.conf(user, **{"linger.ms": 5, "message.timeout.ms": 15000}))
		errs = []
		for i in range(n):
			p.produce(topic, value=b"%s-%d" % (user.encode(), i), partition=0,
					on_delivery=lambda err, msg: errs.append(err))
		p.flush(30)
		return errs

	# -- the list ------------------------------------------------------------------

	def test_write_without_read_produces_but_cannot_consume(self):
		out = self.cli("--add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", "acl-wr")
		self.assertIn("ResourcePattern(resourceType=TOPIC, name=acl-wr, patternType=LITERAL)", out)
		self.assertIn("(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)", out)
		self.assertEqual(self.produce("alice", "acl-wr"), [None] * 5)
		# Write implies Describe: alice sees the topic.
		self.assertIn("acl-wr", self.topics_seen("alice"))
		# A consumer without a group (kafka-python, assign) fetches: TOPIC_AUTHORIZATION_FAILED.
		from kafka import KafkaConsumer, TopicPartition as KTP
		from kafka.errors import TopicAuthorizationFailedError
		kc = KafkaConsumer(bootstrap_servers=self.sasl[1], security_protocol="SASL_PLAINTEXT",
				sasl_mechanism="PLAIN", sasl_plain_username="alice", sasl_plain_password="alice-secret",
				group_id=None, auto_offset_reset="earliest", consumer_timeout_ms=5000)
		try:
			kc.assign([KTP("acl-wr", 0)])
			kc.seek(KTP("acl-wr", 0), 0)
			refused, other = False, []
			deadline = time.time() + 20
			while time.time() < deadline and not refused:
				try:
					kc.poll(timeout_ms=500)
				except TopicAuthorizationFailedError:
					refused = True
				except Exception as e:  # kafka-python 2.0.2 trips over its own metadata at times
					other.append(repr(e))
			self.assertTrue(refused, "no TOPIC_AUTHORIZATION_FAILED; other errors: %s" % other)
		finally:
			kc.close()
		# bob has nothing: his produce is refused with Kafka's code.
		errs = self.produce("bob", "acl-wr", 1)
		self.assertEqual([e.code() for e in errs], [KafkaError.TOPIC_AUTHORIZATION_FAILED])

	def test_group_acls_gate_consumer_groups(self):
		self.assertEqual(self.produce("admin", "acl-grp", 3), [None] * 3)
		self.cli("--add", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "acl-grp")

		def consume(group, want):
			c = Consumer(self.conf("alice", **{"group.id": group, "auto.offset.reset": "earliest",
							"enable.auto.commit": False}))
			got, errors = [], []
			try:
				c.subscribe(["acl-grp"])
				deadline = time.time() + 30
				while time.time() < deadline and len(got) < want and not errors:
					m = c.poll(0.5)
					if m is None:
						continue
					if m.error():
						errors.append(m.error().code())
					else:
						got.append(m.value())
				if got:
					c.commit(asynchronous=False)
			finally:
				c.close()
			return got, errors
		got, errors = consume("g-denied", 3)
		self.assertEqual(got, [])
		self.assertIn(KafkaError.GROUP_AUTHORIZATION_FAILED, errors)
		self.cli("--add", "--allow-principal", "User:alice", "--operation", "Read", "--group", "g-allowed")
		got, errors = consume("g-allowed", 3)
		self.assertEqual(errors, [])
		self.assertEqual(got, [b"admin-0", b"admin-1", b"admin-2"])
		# The committed offset is there for the group alice may read (OffsetFetch needs Describe on the group).
		c = Consumer(self.conf("alice", **{"group.id": "g-allowed"}))
		try:
			self.assertEqual(c.committed([TopicPartition("acl-grp", 0)], timeout=15)[0].offset, 3)
		finally:
			c.close()

	def test_metadata_hides_topics_without_describe(self):
		self.assertNotIn("acl-hidden", self.topics_seen("bob"))
		self.assertNotIn("acl-hidden", self.topics_seen("alice"))
		self.assertIn("acl-hidden", self.topics_seen("admin"))
		# Asked by name: TOPIC_AUTHORIZATION_FAILED, with nothing about the topic.
		md = kproto.metadata("127.0.0.1", self.c.broker(1).port, topics=["acl-hidden"])
		t = md["topics"][0]
		self.assertEqual((t["name"], t["error_code"], t["partitions"]), ("acl-hidden", TOPIC_AUTH, []))
		# A topic that does not exist reads the same (existence is not disclosed).
		md = kproto.metadata("127.0.0.1", self.c.broker(1).port, topics=["no-such-topic"])
		self.assertEqual(md["topics"][0]["error_code"], TOPIC_AUTH)

	def test_super_user_bypasses_acls(self):
		self.assertEqual(self.produce("admin", "acl-hidden", 2), [None] * 2)
		c = Consumer(self.conf("admin", **{"group.id": "g-admin", "auto.offset.reset": "earliest"}))
		got = []
		try:
			c.assign([TopicPartition("acl-hidden", 0, 0)])
			deadline = time.time() + 20
			while time.time() < deadline and len(got) < 2:
				m = c.poll(0.5)
				if m is not None and not m.error():
					got.append(m.value())
		finally:
			c.close()
		self.assertEqual(got, [b"admin-0", b"admin-1"])
		# The brokers' own user (a super user) replicates: RF 2 gets both into the ISR.
		h.wait_until(lambda: sorted(self.c.partition_state("acl-rf2", 0)["isr"]) == [1, 2], 60,
				"both brokers in the ISR of acl-rf2")

	def test_znodes_match_kafkas_json(self):
		self.cli("--add", "--allow-principal", "User:alice", "--allow-principal", "User:bob", "--operation", "Read",
			"--operation", "Describe", "--group", "znode-g")
		z = self.acl_znode("/kafka-acl/Group/znode-g")
		self.assertEqual(z["version"], 1)
		self.assertEqual(sorted((a["principal"], a["permissionType"], a["operation"], a["host"]) for a in z["acls"]),
				sorted((p, "Allow", o, "*") for p in ("User:alice", "User:bob") for o in ("Read", "Describe")))
		self.assertEqual(sorted(z["acls"][0].keys()), ["host", "operation", "permissionType", "principal"])
		self.cli("--add", "--deny-principal", "User:bob", "--deny-host", "127.0.0.9", "--operation", "Write",
			"--topic", "znode-", "--resource-pattern-type", "prefixed")
		z = self.acl_znode("/kafka-acl-extended/prefixed/Topic/znode-")
		self.assertEqual(z, {"version": 1, "acls": [{"principal": "User:bob", "permissionType": "Deny",
								"operation": "Write", "host": "127.0.0.9"}]})
		zk = self.c.zk
		lit = [zk.get(self.c.zpath("/kafka-acl-changes/" + n))[0].decode()
			for n in zk.get_children(self.c.zpath("/kafka-acl-changes"))]
		self.assertIn("Group:znode-g", lit)
		ext = [json.loads(zk.get(self.c.zpath("/kafka-acl-extended-changes/" + n))[0].decode())
			for n in zk.get_children(self.c.zpath("/kafka-acl-extended-changes"))]
		self.assertIn({"version": 1, "resourceType": "TOPIC", "name": "znode-", "patternType": "PREFIXED"}, ext)
		for n in zk.get_children(self.c.zpath("/kafka-acl-changes")):
			self.assertRegex(n, r"^acl_changes_\d{10}$")
		for t in ("Topic", "Group", "Cluster", "TransactionalId", "DelegationToken", "User"):
			self.assertIsNotNone(zk.exists(self.c.zpath("/kafka-acl/" + t)))
			self.assertIsNotNone(zk.exists(self.c.zpath("/kafka-acl-extended/prefixed/" + t)))
		# --remove takes them away; the znode goes with its last ACL.
		self.cli("--remove", "--force", "--group", "znode-g")
		self.assertIsNone(zk.exists(self.c.zpath("/kafka-acl/Group/znode-g")))
		out = self.cli("--list", "--group", "znode-g")
		self.assertNotIn("principal=", out)

	def test_change_on_one_broker_is_enforced_by_the_other(self):
		self.assertNotIn("pre-one", self.topics_seen("bob", broker=2))
		self.cli("--add", "--allow-principal", "User:bob", "--operation", "Describe", "--topic", "pre-one", broker=1)
		start = time.monotonic()
		h.wait_until(lambda: "pre-one" in self.topics_seen("bob", broker=2), 10, "broker 2 to let bob describe pre-one")
		self.assertLess(time.monotonic() - start, 10)
		self.cli("--remove", "--force", "--allow-principal", "User:bob", "--operation", "Describe", "--topic", "pre-one",
			broker=2)
		h.wait_until(lambda: "pre-one" not in self.topics_seen("bob", broker=1), 10,
				"broker 1 to hide pre-one from bob again")
		# Written straight into ZooKeeper, as kafka-acls.sh --authorizer-properties zookeeper.connect=... does.
		zk = self.c.zk
		zk.create(self.c.zpath("/kafka-acl/Topic/pre-one"), json.dumps({"version": 1, "acls": [
			{"principal": "User:bob", "permissionType": "Allow", "operation": "Read", "host": "*"}]}).encode())
		zk.create(self.c.zpath("/kafka-acl-changes/acl_changes_"), b"Topic:pre-one", sequence=True)
		for bid in (1, 2):
			h.wait_until(lambda bid=bid: "pre-one" in self.topics_seen("bob", broker=bid), 10,
					"broker %d to apply the ACL written in ZooKeeper" % bid)
		zk.delete(self.c.zpath("/kafka-acl/Topic/pre-one"))
		zk.create(self.c.zpath("/kafka-acl-changes/acl_changes_"), b"Topic:pre-one", sequence=True)
		for bid in (1, 2):
			h.wait_until(lambda bid=bid: "pre-one" not in self.topics_seen("bob", broker=bid), 10,
					"broker %d to drop it again" % bid)

	def test_prefixed_wildcard_deny_and_host(self):
		self.cli("--add", "--allow-principal", "User:alice", "--operation", "Describe", "--topic", "pre-",
			"--resource-pattern-type", "prefixed")
		self.cli("--add", "--deny-principal", "User:alice", "--operation", "Describe", "--topic", "pre-secret")
		seen = self.topics_seen("alice")
		self.assertIn("pre-one", seen)        # the prefix allows
		self.assertNotIn("pre-secret", seen)  # deny beats allow
		# A host that is not ours allows nothing; "*" for every principal (User:*) allows everyone.
		self.cli("--add", "--allow-principal", "User:bob", "--allow-host", "127.0.0.9", "--operation", "Describe",
			"--topic", "acl-hidden")
		self.assertNotIn("acl-hidden", self.topics_seen("bob"))
		self.cli("--add", "--allow-principal", "User:*", "--operation", "Describe", "--topic", "*")
		try:
			h.wait_until(lambda: {"acl-hidden", "pre-one"} <= self.topics_seen("bob"), 10, "the wildcard ACL")
			self.assertNotIn("pre-secret", self.topics_seen("alice"))  # still denied
		finally:
			self.cli("--remove", "--force", "--allow-principal", "User:*", "--operation", "Describe", "--topic", "*")
		out = self.cli("--list", "--topic", "pre-", "--resource-pattern-type", "prefixed")
		self.assertIn("ResourcePattern(resourceType=TOPIC, name=pre-, patternType=PREFIXED)", out)
		self.assertIn("(principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW)", out)
		out = self.cli("--list", "--principal", "User:alice")
		self.assertIn("name=pre-secret, patternType=LITERAL", out)
		self.assertIn("permissionType=DENY", out)

	def test_cluster_action_gates_inter_broker_apis(self):
		with kproto.Conn("127.0.0.1", self.c.broker(1).port) as conn:
			r = conn.request(API_CONTROLLED_SHUTDOWN, 1, i32(2))
			self.assertEqual(r.i16(), CLUSTER_AUTH)
		self.assertTrue(self.c.broker(2).alive())

	def test_acl_apis_answer_kafkas_errors(self):
		port = self.c.broker(1).port
		# ANONYMOUS may not create ACLs: CLUSTER_AUTHORIZATION_FAILED for each.
		with kproto.Conn("127.0.0.1", port) as conn:
			r = conn.request(API_CREATE_ACLS, 1, i32(1) + creation(TOPIC, "x", "User:alice", OP_READ))
			r.i32()
			self.assertEqual(r.array(lambda: (r.i16(), r.string()))[0][0], CLUSTER_AUTH)
			r = conn.request(API_DESCRIBE_ACLS, 1, i8(1) + string(None) + i8(1) + string(None) + string(None) +
					i8(OP_ANY) + i8(1))
			r.i32()
			self.assertEqual(r.i16(), CLUSTER_AUTH)
		self.cli("--add", "--allow-principal", "User:ANONYMOUS", "--operation", "Alter", "--operation", "Describe",
			"--cluster")
		try:
			with kproto.Conn("127.0.0.1", port) as conn:
				body = i32(6) + creation(CLUSTER, "my-cluster", "User:alice", OP_ALTER) + \
					creation(TOPIC, "", "User:alice", OP_READ) + \
					creation(TOPIC, "a/b", "User:alice", OP_READ) + \
					creation(TOPIC, "bad-principal", "alice", OP_READ) + \
					creation(TOPIC, "good", "User:alice", OP_READ) + \
					creation(TOPIC, "good", "User:bob", OP_WRITE, DENY, "127.0.0.2")
				r = conn.request(API_CREATE_ACLS, 1, body)
				r.i32()
				res = r.array(lambda: (r.i16(), r.string()))
				self.assertEqual([e for e, _ in res], [INVALID_REQUEST, INVALID_REQUEST, INVALID_REQUEST,
									UNKNOWN_SERVER_ERROR, NONE, NONE])
				self.assertEqual(res[0][1], "The only valid name for the CLUSTER resource is kafka-cluster")
				self.assertEqual(res[1][1], "Invalid empty resource name")
				# An ANY operation cannot be a binding: the whole request fails.
				r = conn.request(API_CREATE_ACLS, 1, i32(2) + creation(TOPIC, "good", "User:alice", OP_ANY) +
						creation(TOPIC, "good2", "User:alice", OP_READ))
				r.i32()
				self.assertEqual([e for e, _ in r.array(lambda: (r.i16(), r.string()))],
						[UNKNOWN_SERVER_ERROR, UNKNOWN_SERVER_ERROR])
				# Describe what "good" has: both, grouped under one resource.
				r = conn.request(API_DESCRIBE_ACLS, 1, i8(TOPIC) + string("good") + i8(LITERAL) + string(None) +
						string(None) + i8(OP_ANY) + i8(1))
				r.i32()
				self.assertEqual((r.i16(), r.string()), (NONE, None))
				res = r.array(lambda: (r.i8(), r.string(), r.i8(),
							r.array(lambda: (r.string(), r.string(), r.i8(), r.i8()))))
				self.assertEqual(len(res), 1)
				self.assertEqual(res[0][:3], (TOPIC, "good", LITERAL))
				self.assertEqual(sorted(res[0][3]), [("User:alice", "*", OP_READ, ALLOW),
								("User:bob", "127.0.0.2", OP_WRITE, DENY)])
				# DeleteAcls: a filter for bob's deny deletes it alone; one matching nothing deletes nothing.
				def filt(name, principal):
					return i8(TOPIC) + string(name) + i8(LITERAL) + string(principal) + string(None) + \
						i8(OP_ANY) + i8(1)
				r = conn.request(API_DELETE_ACLS, 1, i32(2) + filt("good", "User:bob") + filt("nothing", None))
				r.i32()
				fr = r.array(lambda: (r.i16(), r.string(), r.array(lambda: (
					r.i16(), r.string(), r.i8(), r.string(), r.i8(), r.string(), r.string(), r.i8(), r.i8()))))
				self.assertEqual(fr[0][0], NONE)
				self.assertEqual([m[3] + "/" + m[5] for m in fr[0][2]], ["good/User:bob"])
				self.assertEqual(fr[1], (NONE, None, []))
			z = self.acl_znode("/kafka-acl/Topic/good")
			self.assertEqual([a["principal"] for a in z["acls"]], ["User:alice"])
			# An UNKNOWN (0) element cannot be parsed: Kafka closes the connection.
			with kproto.Conn("127.0.0.1", port) as conn:
				with self.assertRaises((kproto.Closed, OSError, kproto.ProtocolError)):
					conn.request(API_CREATE_ACLS, 1, i32(1) + creation(TOPIC, "t", "User:alice", 0), timeout=5)
			with kproto.Conn("127.0.0.1", port) as conn:
				with self.assertRaises((kproto.Closed, OSError, kproto.ProtocolError)):
					conn.request(API_DESCRIBE_ACLS, 1, i8(0) + string(None) + i8(1) + string(None) + string(None) +
							i8(OP_ANY) + i8(1), timeout=5)
		finally:
			self.cli("--remove", "--force", "--cluster")
			self.cli("--remove", "--force", "--topic", "good")
		self.assertTrue(self.c.broker(1).alive())

	def test_init_producer_id_checks(self):
		"""InitProducerId: an idempotent producer needs IdempotentWrite on the cluster or Write on some
		topic (CLUSTER_AUTHORIZATION_FAILED), a transactional one Write on its transactional id."""
		API_INIT_PRODUCER_ID, TXN_AUTH, NOT_COORDINATOR = 22, 53, 16
		port = self.c.broker(1).port

		def init(txn):
			with kproto.Conn("127.0.0.1", port) as conn:
				r = conn.request(API_INIT_PRODUCER_ID, 0, string(txn) + i32(60000))
				r.i32()
				return r.i16()
		self.assertEqual(init(None), CLUSTER_AUTH)
		self.assertEqual(init("acl-txn"), TXN_AUTH)
		self.cli("--add", "--allow-principal", "User:ANONYMOUS", "--operation", "Write", "--topic", "anon-",
			"--resource-pattern-type", "prefixed")
		self.cli("--add", "--allow-principal", "User:ANONYMOUS", "--operation", "Write", "--transactional-id",
			"acl-txn")
		try:
			h.wait_until(lambda: init(None) == NONE, 10, "Write on a topic prefix to allow InitProducerId")
			self.assertNotEqual(init("acl-txn"), TXN_AUTH)
			self.assertIn(init("acl-txn"), (NOT_COORDINATOR, NONE))
			# A Deny covering the prefix takes it away again.
			self.cli("--add", "--deny-principal", "User:ANONYMOUS", "--operation", "Write", "--topic", "an",
				"--resource-pattern-type", "prefixed")
			h.wait_until(lambda: init(None) == CLUSTER_AUTH, 10, "the prefixed Deny to cover the Allow")
		finally:
			self.cli("--remove", "--force", "--topic", "anon-", "--resource-pattern-type", "prefixed")
			self.cli("--remove", "--force", "--topic", "an", "--resource-pattern-type", "prefixed")
			self.cli("--remove", "--force", "--transactional-id", "acl-txn")

	def test_kafka_python_admin_acls(self):
		from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, KafkaAdminClient,
					ResourcePattern, ResourcePatternFilter, ResourceType)
		from kafka.admin.acl_resource import ACLResourcePatternType
		a = KafkaAdminClient(bootstrap_servers=self.sasl[2], security_protocol="SASL_PLAINTEXT",
				sasl_mechanism="PLAIN", sasl_plain_username="admin", sasl_plain_password="admin-secret")
		try:
			acl = ACL(principal="User:alice", host="*", operation=ACLOperation.READ,
				permission_type=ACLPermissionType.ALLOW,
				resource_pattern=ResourcePattern(ResourceType.TOPIC, "kp-topic"))
			res = a.create_acls([acl])
			self.assertEqual(res["failed"], [])
			flt = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
					permission_type=ACLPermissionType.ANY,
					resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, "kp-topic",
										ACLResourcePatternType.LITERAL))
			acls, err = a.describe_acls(flt)
			self.assertEqual(err.errno, 0)
			self.assertEqual([(x.principal, x.operation) for x in acls], [("User:alice", ACLOperation.READ)])
			deleted = a.delete_acls([flt])
			self.assertEqual(len(deleted[0][1]), 1)
			acls, err = a.describe_acls(flt)
			self.assertEqual(acls, [])
		finally:
			a.close()
		self.assertIsNone(self.c.zk.exists(self.c.zpath("/kafka-acl/Topic/kp-topic")))


class NoAuthorizer(h.ClusterTestCase):
	"""Without authorizer.class.name every request is allowed and the ACL APIs answer
	SECURITY_DISABLED, as Kafka's brokers do."""

	def test_security_disabled(self):
		SECURITY_DISABLED = 54
		c = self.start_cluster(brokers=1)
		with kproto.Conn("127.0.0.1", c.broker(1).port) as conn:
			r = conn.request(API_CREATE_ACLS, 1, i32(1) + creation(TOPIC, "x", "User:alice", OP_READ))
			r.i32()
			self.assertEqual(r.array(lambda: (r.i16(), r.string())), [(SECURITY_DISABLED, "No Authorizer is configured.")])
			r = conn.request(API_DESCRIBE_ACLS, 1, i8(1) + string(None) + i8(1) + string(None) + string(None) +
					i8(OP_ANY) + i8(1))
			r.i32()
			self.assertEqual((r.i16(), r.string()), (SECURITY_DISABLED, "No Authorizer is configured."))
		self.assertIsNone(c.zk.exists(c.zpath("/kafka-acl")))


if __name__ == "__main__":
	import unittest
	unittest.main()
