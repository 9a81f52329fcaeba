"""SASL listeners: PLAIN with the users of the listener's JAAS config on
SASL_PLAINTEXT, SCRAM-SHA-256 and SCRAM-SHA-512 with credentials in ZooKeeper
on SASL_PLAINTEXT and SASL_SSL. A user made with `samsa configs --alter
--entity-type users` (AlterUserScramCredentials) gets a /config/users/<user>
znode in Kafka's format, checked here by deriving its stored and server keys
from the password independently, and a /config/changes notice; confluent-
kafka, kafka-python and kcat then produce and consume as that user, a wrong
password gets SASL_AUTHENTICATION_FAILED with Kafka's message and a closed
connection, and DescribeUserScramCredentials lists it. Requests before
authentication, SaslAuthenticate before SaslHandshake and unknown mechanisms
are refused as Kafka refuses them; connections.max.reauth.ms gives the
session's lifetime and closes an expired session at its next request."""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i8, i32, string, uvarint, compact_string  # noqa: E402
from test_tls import make_pki  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

API_SASL_HANDSHAKE, API_SASL_AUTHENTICATE = 17, 36
API_DESCRIBE_SCRAM, API_ALTER_SCRAM = 50, 51
NONE, UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 0, 33, 58
RESOURCE_NOT_FOUND, UNACCEPTABLE_CREDENTIAL = 91, 93
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" '
	'password="admin-secret" user_admin="admin-secret" user_carol="carol-secret";')


def scram_keys(algo, password, salt, iterations):
	salted = hashlib.pbkdf2_hmac(algo, password.encode(), salt, iterations)
	client_key = hmac.new(salted, b"Client Key", algo).digest()
	return hashlib.new(algo, client_key).digest(), hmac.new(salted, b"Server Key", algo).digest()


def handshake(conn, mechanism, version=1):
	r = conn.request(API_SASL_HANDSHAKE, version, string(mechanism))
	err = r.i16()
	return err, r.array(r.string)


def authenticate(conn, token, version=1):
	"""SaslAuthenticate v1 (not flexible): (error, message, bytes, session lifetime)."""
	r = conn.request(API_SASL_AUTHENTICATE, version, i32(len(token)) + token)
	err = r.i16()
	msg = r.string()
	n = r.i32()
	data = r.take(n) if n > 0 else b""
	life = struct.unpack(">q", r.take(8))[0] if version >= 1 else None
	return err, msg, data, life


class Sasl(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pki = tempfile.mkdtemp(prefix="samsa-pki-")
		make_pki(cls.pki)
		p = lambda n: os.path.join(cls.pki, n)  # noqa: E731
		cls.ports = {"SASLP": h.free_port(), "SASLS": h.free_port(), "SHORT": h.free_port()}
		plain = h.free_port()
		listeners = ",".join(["PLAINTEXT://127.0.0.1:%d" % plain] +
				["%s://127.0.0.1:%d" % (n, port) for n, port in cls.ports.items()])
		props = {
			"listeners": listeners, "advertised.listeners": listeners,
			"listener.security.protocol.map":
				"PLAINTEXT:PLAINTEXT,SASLP:SASL_PLAINTEXT,SASLS:SASL_SSL,SHORT:SASL_PLAINTEXT",
			"inter.broker.listener.name": "PLAINTEXT",
			"listener.name.saslp.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
			"listener.name.saslp.plain.sasl.jaas.config": JAAS,
			"listener.name.sasls.sasl.enabled.mechanisms": "SCRAM-SHA-512",
			"listener.name.short.sasl.enabled.mechanisms": "PLAIN",
			"listener.name.short.plain.sasl.jaas.config": JAAS,
			"listener.name.short.connections.max.reauth.ms": "1500",
			"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p("server.p12"),
			"ssl.keystore.password": "storepw",
		}
		c = cls.start_shared_cluster(brokers=0)
		cls.b = c.add_broker(1, props=props, port=plain)
		cls.ca = p("ca.pem")
		a = AdminClient({"bootstrap.servers": cls.b.address})
		for _, f in a.create_topics([NewTopic("sasl", 1, 1)], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(cls.b.address, "sasl", 1, 1)
		r = h.samsa_cli("configs", "--bootstrap-server", cls.b.address, "--alter", "--entity-type", "users",
				"--entity-name", "alice", "--add-config", "SCRAM-SHA-512=[iterations=8192,password=alice-secret]")
		assert r.returncode == 0, r.stderr
		r = h.samsa_cli("configs", "--bootstrap-server", cls.b.address, "--alter", "--entity-type", "users",
				"--entity-name", "bob", "--add-config", "SCRAM-SHA-256=[password=bob-secret]")
		assert r.returncode == 0, r.stderr

	@classmethod
	def tearDownClass(cls):
		super().tearDownClass()
		shutil.rmtree(cls.pki, ignore_errors=True)

	def addr(self, listener):
		return "127.0.0.1:%d" % self.ports[listener]

	def conf(self, listener, mech, user, password, **extra):
		c = {"bootstrap.servers": self.addr(listener),
			"security.protocol": "SASL_SSL" if listener == "SASLS" else "SASL_PLAINTEXT",
			"sasl.mechanism": mech, "sasl.username": user, "sasl.password": password}
		if listener == "SASLS":
			c["ssl.ca.location"] = self.ca
		c.update(extra)
		return c

	def roundtrip(self, conf, tag, n=20):
		p = Producer(dict(conf, **{"linger.ms": 5}))
		failed = []
		for i in range(n):
			p.produce("sasl", value=b"%s-%d" % (tag.encode(), i), partition=0,
					on_delivery=lambda err, msg: err and failed.append(err))
		self.assertEqual(p.flush(30), 0)
		self.assertEqual(failed, [])
		c = Consumer(dict(conf, **{"group.id": "sasl-" + tag, "enable.auto.commit": False}))
		got = []
		try:
			c.assign([TopicPartition("sasl", 0, 0)])
			deadline = time.time() + 30
			while time.time() < deadline:
				m = c.poll(0.5)
				if m is None:
					if sum(1 for v in got if v.startswith(tag.encode())) >= n:
						break
					continue
				if not m.error():
					got.append(m.value())
		finally:
			c.close()
		self.assertEqual([v for v in got if v.startswith(tag.encode() + b"-")],
				[b"%s-%d" % (tag.encode(), i) for i in range(n)])

	def test_scram_user_znode_in_kafkas_format(self):
		data, _ = self.shared.zk.get(self.shared.zpath("/config/users/alice"))
		doc = json.loads(data.decode())
		self.assertEqual(doc["version"], 1)
		cred = doc["config"]["SCRAM-SHA-512"]
		m = re.fullmatch(r"salt=([A-Za-z0-9+/=]+),stored_key=([A-Za-z0-9+/=]+),server_key=([A-Za-z0-9+/=]+),"
				r"iterations=8192", cred)
		self.assertIsNotNone(m, cred)
		stored, server = scram_keys("sha512", "alice-secret", base64.b64decode(m.group(1)), 8192)
		self.assertEqual(base64.b64decode(m.group(2)), stored)
		self.assertEqual(base64.b64decode(m.group(3)), server)
		notes = [json.loads(self.shared.zk.get(self.shared.zpath("/config/changes/" + c))[0].decode())
			for c in self.shared.zk.get_children(self.shared.zpath("/config/changes"))]
		self.assertIn({"version": 2, "entity_path": "users/alice"}, notes)
		self.assertIn("SCRAM-SHA-256", json.loads(self.shared.zk.get(self.shared.zpath("/config/users/bob"))[0])["config"])
		out = h.samsa_cli("configs", "--bootstrap-server", self.b.address, "--describe", "--entity-type", "users",
				"--entity-name", "alice")
		self.assertEqual(out.returncode, 0, out.stderr)
		self.assertIn("SCRAM-SHA-512=iterations=8192", out.stdout)

	def test_confluent_kafka_scram_sha_512_over_sasl_ssl(self):
		self.roundtrip(self.conf("SASLS", "SCRAM-SHA-512", "alice", "alice-secret"), "ssl512")
		self.assertIn("SASL SCRAM-SHA-512 authentication of", self.b.log_text())
		self.assertIn("principal User:alice", self.b.log_text())

	def test_confluent_kafka_scram_sha_256_and_plain(self):
		self.roundtrip(self.conf("SASLP", "SCRAM-SHA-256", "bob", "bob-secret"), "p256")
		self.roundtrip(self.conf("SASLP", "PLAIN", "carol", "carol-secret"), "plain")

	def test_kafka_python_and_kcat(self):
		from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KTP
		kw = dict(bootstrap_servers=self.addr("SASLP"), security_protocol="SASL_PLAINTEXT",
				sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="alice", sasl_plain_password="alice-secret")
		prod = KafkaProducer(acks="all", **kw)
		base = prod.send("sasl", value=b"kafka-python-0", partition=0).get(30).offset
		for i in range(1, 10):
			prod.send("sasl", value=b"kafka-python-%d" % i, partition=0)
		prod.flush(30)
		prod.close()
		cons = KafkaConsumer(consumer_timeout_ms=10000, **kw)
		cons.assign([KTP("sasl", 0)])
		cons.seek(KTP("sasl", 0), base)
		got = [m.value for m in cons][:10]
		cons.close()
		self.assertEqual(got, [b"kafka-python-%d" % i for i in range(10)])
		args = ["-b", self.addr("SASLP"), "-X", "security.protocol=sasl_plaintext", "-X", "sasl.mechanisms=PLAIN",
			"-X", "sasl.username=admin", "-X", "sasl.password=admin-secret"]
		p = subprocess.run(["kcat"] + args + ["-L", "-t", "sasl"], capture_output=True, text=True, timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertIn('topic "sasl" with 1 partitions', p.stdout)

	def test_wrong_password_is_refused(self):
		with kproto.Conn(h.HOST, self.ports["SASLP"]) as conn:
			self.assertEqual(handshake(conn, "PLAIN")[0], NONE)
			err, msg, _, _ = authenticate(conn, b"\x00carol\x00wrong")
			self.assertEqual((err, msg), (SASL_AUTHENTICATION_FAILED,
					"Authentication failed: Invalid username or password"))
			conn.wait_closed(10)
		p = Producer(self.conf("SASLP", "SCRAM-SHA-512", "alice", "not-her-password",
				**{"message.timeout.ms": 4000}))
		failed = []
		p.produce("sasl", b"x", partition=0, on_delivery=lambda err, msg: failed.append(err))
		p.flush(15)
		self.assertEqual(len(failed), 1)
		self.assertIsNotNone(failed[0])
		self.assertIn("SASL SCRAM-SHA-512 authentication of", self.b.log_text())
		self.assertIn("failed for user alice", self.b.log_text())
		self.assertTrue(self.b.alive())

	def test_raw_handshake_rules(self):
		# Unknown mechanism: Kafka's error with the enabled ones, then a closed connection.
		with kproto.Conn(h.HOST, self.ports["SASLP"]) as conn:
			err, mechs = handshake(conn, "GSSAPI")
			self.assertEqual(err, UNSUPPORTED_SASL_MECHANISM)
			self.assertEqual(mechs, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
			conn.wait_closed(10)
		# A request before authentication: closed.
		with kproto.Conn(h.HOST, self.ports["SASLP"]) as conn:
			conn.send_raw(kproto.frame(kproto.request_header(3, 4, 7) + i32(-1) + i8(0)))
			conn.wait_closed(10)
		# SaslAuthenticate before SaslHandshake: closed.
		with kproto.Conn(h.HOST, self.ports["SASLP"]) as conn:
			conn.send_raw(kproto.frame(kproto.request_header(API_SASL_AUTHENTICATE, 1, 8) + i32(1) + b"x"))
			conn.wait_closed(10)
		# ApiVersions is allowed before, and a handshake v0 takes raw tokens.
		with kproto.Conn(h.HOST, self.ports["SASLP"]) as conn:
			err, apis = conn.api_versions(0)
			self.assertEqual(err, NONE)
			self.assertIn(API_SASL_AUTHENTICATE, apis)
			self.assertEqual(handshake(conn, "PLAIN", version=0)[0], NONE)
			conn.send_raw(kproto.frame(b"\x00admin\x00admin-secret"))
			# PLAIN's answer is an empty token: a zero size and nothing else.
			self.assertEqual(conn._recv_exact(4, time.monotonic() + 10), b"\x00\x00\x00\x00")
			md = conn.metadata(["sasl"])
			self.assertEqual([t["name"] for t in md["topics"]], ["sasl"])
		# DescribeUserScramCredentials (not flexible header? v0 is flexible).
		with kproto.Conn(h.HOST, self.b.port) as conn:
			body = uvarint(3) + compact_string("alice") + uvarint(0) + compact_string("nobody") + uvarint(0) + uvarint(0)
			r = conn.request(API_DESCRIBE_SCRAM, 0, body, flexible_header=True)
			r.skip_tags()
			r.i32()
			self.assertEqual(r.i16(), NONE)
			r.compact_string()

			def result():
				user, err, _ = r.compact_string(), r.i16(), r.compact_string()

				def info():
					v = (r.i8(), r.i32())
					r.skip_tags()
					return v
				infos = r.compact_array(info)
				r.skip_tags()
				return user, err, infos
			self.assertEqual(r.compact_array(result), [("alice", NONE, [(2, 8192)]), ("nobody", RESOURCE_NOT_FOUND, [])])

	def test_alter_refuses_bad_credentials(self):
		salt = os.urandom(16)
		salted = hashlib.pbkdf2_hmac("sha512", b"pw", salt, 1000)
		up = (compact_string("dave") + i8(2) + i32(1000) + uvarint(len(salt) + 1) + salt
			+ uvarint(len(salted) + 1) + salted + uvarint(0))
		body = uvarint(1) + uvarint(2) + up + uvarint(0)
		ctl = self.shared.controller_id()
		with kproto.Conn(h.HOST, self.b.port) as conn:
			self.assertEqual(ctl, 1)
			r = conn.request(API_ALTER_SCRAM, 0, body, flexible_header=True)
			r.skip_tags()
			r.i32()

			def result():
				v = (r.compact_string(), r.i16(), r.compact_string())
				r.skip_tags()
				return v
			self.assertEqual(r.compact_array(result), [("dave", UNACCEPTABLE_CREDENTIAL, "Too few iterations")])

	def test_cli_over_sasl_ssl_with_command_config(self):
		props = os.path.join(self.pki, "alice.properties")
		with open(props, "w") as f:
			f.write("security.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location=%s\n"
				"sasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram."
				"ScramLoginModule required username=\"alice\" password=\"alice-secret\";\n" % self.ca)
		out = h.samsa_cli("topics", "--bootstrap-server", self.addr("SASLS"), "--list", "--command-config", props)
		self.assertEqual(out.returncode, 0, out.stderr)
		self.assertIn("sasl", out.stdout.split())
		out = h.samsa_cli("configs", "--command-config", props, "--bootstrap-server", self.addr("SASLS"),
				"--describe", "--entity-type", "users", "--entity-name", "bob")
		self.assertEqual(out.returncode, 0, out.stderr)
		self.assertIn("SCRAM-SHA-256=iterations=4096", out.stdout)
		with open(props, "a") as f:
			f.write("sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
				"username=\"alice\" password=\"wrong\";\n")
		out = h.samsa_cli("topics", "--bootstrap-server", self.addr("SASLS"), "--list", "--command-config", props)
		self.assertNotEqual(out.returncode, 0)

	def test_session_lifetime_and_expiry(self):
		with kproto.Conn(h.HOST, self.ports["SHORT"]) as conn:
			self.assertEqual(handshake(conn, "PLAIN")[0], NONE)
			err, _, _, life = authenticate(conn, b"\x00admin\x00admin-secret")
			self.assertEqual((err, life), (NONE, 1500))
			self.assertEqual([t["name"] for t in conn.metadata(["sasl"])["topics"]], ["sasl"])
			time.sleep(2.0)
			conn.send_raw(kproto.frame(kproto.request_header(3, 4, 9) + i32(1) + string("sasl") + i8(0)))
			conn.wait_closed(10)
		self.assertIn("SASL session expired", self.b.log_text())


class InterBrokerSaslSsl(h.ClusterTestCase):
	"""Three brokers whose inter-broker listener is SASL_SSL with SCRAM-SHA-512:
	the broker user's credential is written to ZooKeeper before they start (as
	an operator does with kafka-configs --zookeeper), then the fetchers and the
	controller's channels authenticate with it; acks=all replicates to all three
	and survives a leader kill."""

	def test_replicates_over_sasl_ssl(self):
		pki = tempfile.mkdtemp(prefix="samsa-pki-")
		self.addCleanup(shutil.rmtree, pki, True)
		make_pki(pki)
		p = lambda n: os.path.join(pki, n)  # noqa: E731
		c = self.start_cluster(brokers=0)
		salt = os.urandom(24)
		stored, server = scram_keys("sha512", "broker-secret", salt, 4096)
		cred = "salt=%s,stored_key=%s,server_key=%s,iterations=4096" % tuple(
			base64.b64encode(x).decode() for x in (salt, stored, server))
		c.zk.ensure_path(c.zpath("/config/users"))
		c.zk.create(c.zpath("/config/users/broker"),
				json.dumps({"version": 1, "config": {"SCRAM-SHA-512": cred}}).encode())
		for bid in (1, 2, 3):
			plain, internal = h.free_port(), h.free_port()
			listeners = "PLAINTEXT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d" % (plain, internal)
			c.add_broker(bid, port=plain, start=False, props={
				"listeners": listeners, "advertised.listeners": listeners,
				"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL",
				"inter.broker.listener.name": "INTERNAL",
				"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
				"listener.name.internal.sasl.enabled.mechanisms": "SCRAM-SHA-512",
				"listener.name.internal.scram-sha-512.sasl.jaas.config":
					'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" '
					'password="broker-secret";',
				"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p("server.p12"),
				"ssl.keystore.password": "storepw",
				"ssl.truststore.type": "PEM", "ssl.truststore.location": p("ca.pem"),
				"default.replication.factor": 3, "min.insync.replicas": 2,
			})
		for b in c.brokers.values():
			b.start(wait=False)
		for b in c.brokers.values():
			b.wait_ready(90)
		c.wait_metadata(60)
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in a.create_topics([NewTopic("sasl-rf3", 1, 3)], request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: sorted(c.partition_state("sasl-rf3", 0)["isr"]) == [1, 2, 3], 60,
				"all three in the ISR (replicating over SASL_SSL)")

		def produce(first, n):
			prod = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 5,
					"message.timeout.ms": 60000})
			failed = []
			for i in range(first, first + n):
				prod.produce("sasl-rf3", value=b"v%d" % i, partition=0,
						on_delivery=lambda err, msg: err and failed.append(err))
			self.assertEqual(prod.flush(90), 0)
			self.assertEqual(failed, [])
		produce(0, 100)
		leader = c.partition_state("sasl-rf3", 0)["leader"]
		self.assertIn("SASL SCRAM-SHA-512 authentication of", c.broker(leader).log_text())
		self.assertIn("principal User:broker", c.broker(leader).log_text())
		c.broker(leader).kill()
		h.wait_until(lambda: c.partition_state("sasl-rf3", 0)["leader"] not in (leader, -1), 60, "a new leader")
		produce(100, 50)
		live = [b for b in c.brokers.values() if b.alive()]
		cons = Consumer({"bootstrap.servers": ",".join(b.address for b in live), "group.id": "sasl-rf3",
				"enable.auto.commit": False})
		got = []
		try:
			cons.assign([TopicPartition("sasl-rf3", 0, 0)])
			deadline = time.time() + 60
			while time.time() < deadline and len(got) < 150:
				m = cons.poll(1.0)
				if m is None or m.error():
					continue
				got.append((m.offset(), m.value()))
		finally:
			cons.close()
		self.assertEqual(got, [(i, b"v%d" % i) for i in range(150)])


if __name__ == "__main__":
	h.main()
