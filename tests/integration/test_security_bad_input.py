"""Bad input on TLS and SASL listeners: 1,000 half-open TLS connections and 200
truncated ClientHellos while a real TLS client produces and consumes; SASL
tokens larger than sasl.server.max.receive.size; malformed PLAIN and SCRAM
tokens; random bytes to a SASL port. Each gets a clean close or Kafka's error,
the broker keeps serving the other clients, and its log stays free of
sanitizer reports (the harness checks that for every test)."""

import os
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i32, string  # noqa: E402
from test_tls import make_pki  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SASL_AUTHENTICATION_FAILED = 58
HALF_OPEN = 1000

# 1,200 sockets here and as many in the broker (started from this process): lift the soft limit.
try:
	import resource
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
	if soft < want:
		resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
	HALF_OPEN = min(HALF_OPEN, max(100, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 1500))
except (ImportError, ValueError, OSError):
	pass
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";')


def client_hello(ca):
	"""The first flight of a real TLS client, as bytes."""
	ctx = ssl.create_default_context(cafile=ca)
	inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
	obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
	try:
		obj.do_handshake()
	except ssl.SSLWantReadError:
		pass
	return out.read()


class SecurityBadInput(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pki = tempfile.mkdtemp(prefix="samsa-pki-")
		make_pki(cls.pki)
		p = lambda n: os.path.join(cls.pki, n)  # noqa: E731
		cls.tls_port, cls.sasl_port, plain = h.free_port(), h.free_port(), h.free_port()
		listeners = "PLAINTEXT://127.0.0.1:%d,TLS://127.0.0.1:%d,SASLP://127.0.0.1:%d" % (
			plain, cls.tls_port, cls.sasl_port)
		c = cls.start_shared_cluster(brokers=0)
		cls.b = c.add_broker(1, port=plain, props={
			"listeners": listeners, "advertised.listeners": listeners,
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,TLS:SSL,SASLP:SASL_PLAINTEXT",
			"inter.broker.listener.name": "PLAINTEXT",
			"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p("server.p12"), "ssl.keystore.password": "storepw",
			"listener.name.saslp.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
			"listener.name.saslp.plain.sasl.jaas.config": JAAS,
		})
		cls.ca = p("ca.pem")
		a = AdminClient({"bootstrap.servers": cls.b.address})
		for _, f in a.create_topics([NewTopic("bad-sec", 1, 1)], request_timeout=20).items():
			f.result(30)
		h.wait_leaders(cls.b.address, "bad-sec", 1, 1)

	@classmethod
	def tearDownClass(cls):
		super().tearDownClass()
		shutil.rmtree(cls.pki, ignore_errors=True)

	def tls_roundtrip(self, tag, n=20):
		conf = {"bootstrap.servers": "127.0.0.1:%d" % self.tls_port, "security.protocol": "SSL",
			"ssl.ca.location": self.ca}
		p = Producer(dict(conf, **{"linger.ms": 5}))
		for i in range(n):
			p.produce("bad-sec", value=b"%s-%d" % (tag, i), partition=0)
		self.assertEqual(p.flush(30), 0)
		c = Consumer(dict(conf, **{"group.id": "bad-sec-%s" % tag.decode(), "enable.auto.commit": False}))
		got = []
		try:
			c.assign([TopicPartition("bad-sec", 0, 0)])
			deadline = time.time() + 30
			while time.time() < deadline and len([v for v in got if v.startswith(tag + b"-")]) < n:
				m = c.poll(0.5)
				if m is not None and not m.error():
					got.append(m.value())
		finally:
			c.close()
		self.assertEqual([v for v in got if v.startswith(tag + b"-")], [b"%s-%d" % (tag, i) for i in range(n)])

	def test_half_open_and_truncated_tls_connections(self):
		hello = client_hello(self.ca)
		self.assertGreater(len(hello), 100)
		idle, partial = [], []
		try:
			for _ in range(HALF_OPEN):
				idle.append(socket.create_connection(("127.0.0.1", self.tls_port), timeout=10))
			for _ in range(200):
				s = socket.create_connection(("127.0.0.1", self.tls_port), timeout=10)
				s.sendall(hello[:len(hello) // 2])
				partial.append(s)
			# The broker still serves a real client meanwhile.
			self.tls_roundtrip(b"during")
		finally:
			for s in idle + partial:
				s.close()
		h.wait_until(lambda: self.b.log_text().count("TLS handshake with") >= HALF_OPEN, 60,
				"the abandoned handshakes logged")
		self.assertTrue(self.b.alive())
		self.tls_roundtrip(b"after")

	def test_oversized_and_malformed_sasl_tokens(self):
		# Larger than sasl.server.max.receive.size (512 KiB) before authentication: closed at the size.
		with kproto.Conn(h.HOST, self.sasl_port) as conn:
			conn.send_raw(struct.pack(">i", 600 * 1024) + b"\x00" * 1024)
			conn.wait_closed(10)
		self.assertIn("sasl.server.max.receive.size", self.b.log_text())
		# A PLAIN token without its separators, a SCRAM first message that is not one.
		for mech, token in (("PLAIN", b"admin-secret"), ("SCRAM-SHA-512", b"zzz"),
				("SCRAM-SHA-512", b"n,,n=,r="), ("PLAIN", b"\x00admin\x00admin-secret\x00extra")):
			with kproto.Conn(h.HOST, self.sasl_port) as conn:
				r = conn.request(17, 1, string(mech))
				self.assertEqual(r.i16(), 0)
				r = conn.request(36, 1, i32(len(token)) + token)
				self.assertEqual(r.i16(), SASL_AUTHENTICATION_FAILED, (mech, token))
				conn.wait_closed(10)
		# Random bytes to the SASL port.
		with kproto.Conn(h.HOST, self.sasl_port) as conn:
			conn.send_raw(os.urandom(64))
			conn.wait_closed(10)
		# A good PLAIN login still works.
		with kproto.Conn(h.HOST, self.sasl_port) as conn:
			self.assertEqual(conn.request(17, 1, string("PLAIN")).i16(), 0)
			token = b"\x00admin\x00admin-secret"
			self.assertEqual(conn.request(36, 1, i32(len(token)) + token).i16(), 0)
			self.assertEqual([t["name"] for t in conn.metadata(["bad-sec"])["topics"]], ["bad-sec"])
		self.assertTrue(self.b.alive())


if __name__ == "__main__":
	h.main()
