"""SSL listeners: kcat, confluent-kafka, kafka-python and KafkaJS produce and
consume over TLS with the broker's certificate verified against a test CA
(made here with openssl) and its hostname checked. One broker has three SSL
listeners, one per keystore kind: a PKCS12 file, a PEM file with an
encrypted key, and inline PEM settings (listener.name.<l>.ssl.*) with
ssl.client.auth=required. On the last, a client without a certificate fails
the handshake (logged once, the broker keeps serving) and one with a
certificate gets the principal that ssl.principal.mapping.rules makes of its
subject. Plaintext bytes to a TLS port and a TLS hello to the plaintext port
are closed cleanly. A JKS keystore stops the start with a message naming
PKCS12 and PEM."""

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import nodejs  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

JS_DIR = os.path.join(h.REPO, "tests", "js")


def openssl(*args, cwd):
	p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True, timeout=60)
	if p.returncode != 0:
		raise AssertionError("openssl %s failed: %s" % (" ".join(args[:2]), p.stderr))


def make_pki(d):
	"""A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM and PKCS12."""
	ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
	openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=samsa-test-ca",
		cwd=d)
	with open(os.path.join(d, "san.ext"), "w") as f:
		f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
	for name, subj in (("server", "/O=samsa-test/CN=localhost"), ("client", "/O=samsa-test/CN=Alice")):
		openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj, cwd=d)
		openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
			"-out", name + ".pem", "-days", "2", "-extfile", "san.ext", cwd=d)
	openssl("pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile", "ca.pem",
		"-out", "server.p12", "-passout", "pass:storepw", cwd=d)
	openssl("pkcs12", "-export", "-nokeys", "-in", "ca.pem", "-out", "trust.p12", "-passout", "pass:trustpw", cwd=d)
	openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:keypw", "-out", "server-enc.key", cwd=d)
	with open(os.path.join(d, "server-keystore.pem"), "w") as f:
		f.write(open(os.path.join(d, "server-enc.key")).read() + open(os.path.join(d, "server.pem")).read())


def one_line(path):
	"""A PEM file as Kafka's inline settings take it in a properties file: one line, newlines escaped."""
	return open(path).read().strip().replace("\n", "\\n")


class Tls(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pki = tempfile.mkdtemp(prefix="samsa-pki-")
		make_pki(cls.pki)
		p = lambda n: os.path.join(cls.pki, n)  # noqa: E731
		cls.ports = {name: h.free_port() for name in ("P12", "PEM", "MTLS")}
		plain = h.free_port()
		listeners = ",".join(["PLAINTEXT://127.0.0.1:%d" % plain] +
				["%s://127.0.0.1:%d" % (n, port) for n, port in cls.ports.items()])
		props = {
			"listeners": listeners,
			"advertised.listeners": listeners,
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,P12:SSL,PEM:SSL,MTLS:SSL",
			"inter.broker.listener.name": "PLAINTEXT",
			# The broker-wide settings serve P12; PEM and MTLS override them per listener.
			"ssl.keystore.type": "PKCS12",
			"ssl.keystore.location": p("server.p12"),
			"ssl.keystore.password": "storepw",
			"listener.name.pem.ssl.keystore.type": "PEM",
			"listener.name.pem.ssl.keystore.location": p("server-keystore.pem"),
			"listener.name.pem.ssl.key.password": "keypw",
			"listener.name.mtls.ssl.keystore.type": "PEM",
			"listener.name.mtls.ssl.keystore.certificate.chain": one_line(p("server.pem")),
			"listener.name.mtls.ssl.keystore.key": one_line(p("server.key")),
			"listener.name.mtls.ssl.truststore.type": "PKCS12",
			"listener.name.mtls.ssl.truststore.location": p("trust.p12"),
			"listener.name.mtls.ssl.truststore.password": "trustpw",
			"listener.name.mtls.ssl.client.auth": "required",
			"listener.name.mtls.ssl.principal.mapping.rules": "RULE:^CN=(.*),O=samsa-test$/$1/L,DEFAULT",
		}
		c = cls.start_shared_cluster(brokers=0)
		cls.b = c.add_broker(1, props=props, port=plain)
		cls.ca = p("ca.pem")

	@classmethod
	def tearDownClass(cls):
		super().tearDownClass()
		shutil.rmtree(cls.pki, ignore_errors=True)

	def addr(self, listener):
		return "127.0.0.1:%d" % self.ports[listener]

	def create(self, topic):
		a = AdminClient({"bootstrap.servers": self.addr("P12"), "security.protocol": "SSL",
				"ssl.ca.location": self.ca})
		for _, f in a.create_topics([NewTopic(topic, 1, 1)], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(self.b.address, topic, 1, 1)

	def confluent(self, listener, extra=None):
		conf = {"bootstrap.servers": self.addr(listener), "security.protocol": "SSL", "ssl.ca.location": self.ca,
			"ssl.endpoint.identification.algorithm": "https"}
		conf.update(extra or {})
		return conf

	def roundtrip_confluent(self, listener, topic, extra=None, n=50):
		self.create(topic)
		p = Producer(self.confluent(listener, dict({"linger.ms": 5}, **(extra or {}))))
		failed = []
		for i in range(n):
			p.produce(topic, key=b"k%d" % i, value=b"over-tls-%d" % i, partition=0,
					on_delivery=lambda err, msg: err and failed.append(err))
		self.assertEqual(p.flush(30), 0)
		self.assertEqual(failed, [])
		c = Consumer(self.confluent(listener, dict({"group.id": "tls-" + topic, "enable.auto.commit": False},
				**(extra or {}))))
		got = []
		try:
			c.assign([TopicPartition(topic, 0, 0)])
			deadline = time.time() + 30
			while time.time() < deadline and len(got) < n:
				m = c.poll(1.0)
				if m is None or m.error():
					continue
				got.append((m.offset(), m.key(), m.value()))
		finally:
			c.close()
		self.assertEqual(got, [(i, b"k%d" % i, b"over-tls-%d" % i) for i in range(n)])

	def test_confluent_kafka_pkcs12_and_pem_keystores(self):
		self.roundtrip_confluent("P12", "tls-p12")
		self.roundtrip_confluent("PEM", "tls-pem")
		log = self.b.log_text()
		self.assertIn("TLS connection from", log)
		self.assertIn("principal User:ANONYMOUS", log)

	def test_kcat(self):
		topic = "tls-kcat"
		self.create(topic)
		args = ["-b", self.addr("PEM"), "-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + self.ca]
		lines = "".join("kcat-%d\n" % i for i in range(20))
		p = subprocess.run(["kcat"] + args + ["-P", "-t", topic, "-p", "0"], input=lines, text=True,
				capture_output=True, timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		p = subprocess.run(["kcat"] + args + ["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%o %s\n"],
				text=True, capture_output=True, timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout.splitlines(), ["%d kcat-%d" % (i, i) for i in range(20)])

	def test_kafka_python(self):
		from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KTP
		topic = "tls-kpy"
		self.create(topic)
		kw = dict(bootstrap_servers=self.addr("P12"), security_protocol="SSL", ssl_cafile=self.ca,
				ssl_check_hostname=True)
		prod = KafkaProducer(acks="all", **kw)
		for i in range(30):
			prod.send(topic, key=b"k%d" % i, value=b"kafka-python-%d" % i, partition=0)
		prod.flush(30)
		prod.close()
		cons = KafkaConsumer(consumer_timeout_ms=10000, **kw)
		cons.assign([KTP(topic, 0)])
		cons.seek_to_beginning()
		got = [(m.offset, m.key, m.value) for m in cons]
		cons.close()
		self.assertEqual(got, [(i, b"k%d" % i, b"kafka-python-%d" % i) for i in range(30)])

	def test_kafkajs(self):
		node, _ = nodejs.tools()
		modules = nodejs.modules(JS_DIR, "kafkajs")
		topic = "tls-js"
		self.create(topic)
		out = nodejs.run(os.path.join(JS_DIR, "tls_run.js"), [self.addr("P12"), topic, 25, self.ca], modules)
		self.assertEqual(out["got"], [[0, i, "k%d" % i, "kafkajs-tls-%d" % i] for i in range(25)])

	def test_client_certificate_required(self):
		p = lambda n: os.path.join(self.pki, n)  # noqa: E731
		# Without a certificate the handshake fails; the broker logs it and goes on.
		before = self.b.log_text().count("TLS handshake with")
		prod = Producer(self.confluent("MTLS", {"message.timeout.ms": 4000, "socket.timeout.ms": 3000}))
		failed = []
		prod.produce("tls-mtls-none", b"x", on_delivery=lambda err, msg: failed.append(err))
		prod.flush(15)
		self.assertEqual(len(failed), 1)
		self.assertIsNotNone(failed[0])
		h.wait_until(lambda: self.b.log_text().count("TLS handshake with") > before, 20, "the failed handshake logged")
		self.assertTrue(self.b.alive())
		# With one it works, and the principal is the mapped subject.
		self.roundtrip_confluent("MTLS", "tls-mtls", {"ssl.certificate.location": p("client.pem"),
				"ssl.key.location": p("client.key")})
		self.assertIn("principal User:alice", self.b.log_text())

	def test_plaintext_to_tls_port_and_tls_to_plaintext_port(self):
		# Plaintext Kafka bytes to a TLS port: the handshake fails, the connection closes.
		s = socket.create_connection(("127.0.0.1", self.ports["P12"]), timeout=10)
		s.sendall(b"\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x01\x00\x04test")
		try:
			first = s.recv(4096)[:1]
			if first == b"\x15":  # a TLS alert, then the close
				while s.recv(4096):
					pass
			else:
				self.assertEqual(first, b"")
		except ConnectionResetError:
			pass  # closed with our bytes unread: a reset
		s.close()
		h.wait_until(lambda: "TLS handshake with" in self.b.log_text(), 20, "the failed handshake logged")
		# A TLS hello to the plaintext port: a frame size no broker takes, so a clean close.
		ctx = ssl.create_default_context(cafile=self.ca)
		raw = socket.create_connection(("127.0.0.1", self.b.port), timeout=10)
		with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
			ctx.wrap_socket(raw, server_hostname="localhost")
		raw.close()
		# Both listeners still serve.
		self.roundtrip_confluent("P12", "tls-after-garbage", n=5)
		with socket.create_connection(("127.0.0.1", self.b.port), timeout=10):
			pass


class InterBroker(h.ClusterTestCase):
	"""Three brokers whose inter-broker listener is SSL with client certificates
	required: the controller's channels and the replica fetchers connect over
	TLS, acks=all produce replicates to all three, and after the leader is
	killed the survivors carry on with every acknowledged message."""

	def test_replicates_over_tls_and_survives_a_leader_kill(self):
		pki = tempfile.mkdtemp(prefix="samsa-pki-")
		self.addCleanup(shutil.rmtree, pki, True)
		make_pki(pki)
		p = lambda n: os.path.join(pki, n)  # noqa: E731
		c = self.start_cluster(brokers=0)
		for bid in (1, 2, 3):
			plain, internal = h.free_port(), h.free_port()
			listeners = "PLAINTEXT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d" % (plain, internal)
			c.add_broker(bid, port=plain, start=False, props={
				"listeners": listeners, "advertised.listeners": listeners,
				"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SSL",
				"inter.broker.listener.name": "INTERNAL",
				"ssl.keystore.type": "PEM", "ssl.keystore.location": p("server-keystore.pem"),
				"ssl.key.password": "keypw",
				"ssl.truststore.type": "PEM", "ssl.truststore.location": p("ca.pem"),
				"listener.name.internal.ssl.client.auth": "required",
				"default.replication.factor": 3, "min.insync.replicas": 2,
				"offsets.topic.replication.factor": 3,
			})
		for b in c.brokers.values():
			b.start(wait=False)
		for b in c.brokers.values():
			b.wait_ready(90)
		c.wait_metadata(60)
		topic = "tls-rf3"
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in a.create_topics([NewTopic(topic, 1, 3)], request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: sorted(c.partition_state(topic, 0)["isr"]) == [1, 2, 3], 60,
				"all three in the ISR (replicating over TLS)")

		def produce(first, n):
			prod = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 5,
					"message.timeout.ms": 60000})
			failed = []
			for i in range(first, first + n):
				prod.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0,
						on_delivery=lambda err, msg: err and failed.append(err))
			self.assertEqual(prod.flush(90), 0)
			self.assertEqual(failed, [])
		produce(0, 200)
		leader = c.partition_state(topic, 0)["leader"]
		log = c.broker(leader).log_text()
		self.assertIn("on listener INTERNAL: TLS", log)
		self.assertIn("principal User:CN=localhost,O=samsa-test", log)
		c.broker(leader).kill()
		h.wait_until(lambda: c.partition_state(topic, 0)["leader"] not in (leader, -1), 60, "a new leader")
		produce(200, 100)
		live = [b for b in c.brokers.values() if b.alive()]
		cons = Consumer({"bootstrap.servers": ",".join(b.address for b in live), "group.id": "tls-rf3",
				"enable.auto.commit": False})
		got = []
		try:
			cons.assign([TopicPartition(topic, 0, 0)])
			deadline = time.time() + 60
			while time.time() < deadline and len(got) < 300:
				m = cons.poll(1.0)
				if m is None or m.error():
					continue
				got.append((m.offset(), m.key()))
		finally:
			cons.close()
		self.assertEqual(got, [(i, b"k%d" % i) for i in range(300)])


class JksRefused(h.ClusterTestCase):
	def test_jks_keystore_stops_the_start(self):
		d = tempfile.mkdtemp(prefix="samsa-jks-")
		self.addCleanup(shutil.rmtree, d, True)
		jks = os.path.join(d, "server.jks")
		if shutil.which("keytool"):
			r = subprocess.run(["keytool", "-genkeypair", "-keystore", jks, "-storetype", "JKS", "-storepass",
					"storepw", "-keypass", "storepw", "-alias", "b", "-keyalg", "EC", "-dname", "CN=localhost"],
					capture_output=True, timeout=120)
			self.assertEqual(r.returncode, 0, r.stderr)
		else:
			with open(jks, "wb") as f:
				f.write(b"\xfe\xed\xfe\xed" + b"\x00" * 64)  # the JKS magic
		port = h.free_port()
		c = self.start_cluster(brokers=0)
		b = c.add_broker(1, port=port, props={
			"listeners": "SSL://127.0.0.1:%d" % port, "advertised.listeners": "SSL://127.0.0.1:%d" % port,
			"security.inter.broker.protocol": "SSL",
			"ssl.keystore.location": jks, "ssl.keystore.password": "storepw"}, start=False)
		b.start(wait=False)
		h.wait_until(lambda: not b.alive(), 60, "the broker to refuse to start")
		b.expected_running = False
		self.assertNotEqual(b.proc.returncode, 0)
		log = b.log_text()
		self.assertIn("is a JKS keystore", log)
		self.assertIn("PKCS12", log)
		self.assertIn("PEM", log)


class UnenforceableSecurityRefused(h.ClusterTestCase):
	"""Settings that promise protection samsa cannot give yet stop the start with a
	message, rather than let the broker serve everyone."""

	def test_refused(self):
		c = self.start_cluster(brokers=0)
		cases = (
			# KRaft's authorizer has no meaning in ZooKeeper mode; the ZooKeeper one works (test_acls.py).
			({"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer"},
				"samsa has only the ZooKeeper ACL authorizer"),
			({"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer", "super.users": "alice"},
				"is not a principal"),
			({"zookeeper.set.acl": "true"}, "cannot write znodes with Kafka's ACLs"),
			({"zookeeper.ssl.client.enable": "true"}, "has no TLS"),
		)
		for i, (props, message) in enumerate(cases):
			with self.subTest(props=props):
				b = c.add_broker(10 + i, props=props, start=False)
				b.start(wait=False)
				h.wait_until(lambda: not b.alive(), 60, "the broker to refuse to start")
				b.expected_running = False
				self.assertNotEqual(b.proc.returncode, 0)
				self.assertIn(message, b.log_text())


if __name__ == "__main__":
	h.main()
