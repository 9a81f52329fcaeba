"""Hostile and malformed input on the wire. Each case checks what Kafka does (close
the connection, or answer ApiVersions with UNSUPPORTED_VERSION per KIP-511), and
that the broker keeps serving everybody else: a connection opened before the
garbage, new connections, and kcat. The harness fails the test if the broker
dies or its log carries a sanitizer report."""

import os
import random
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i16, i32, frame, string, uvarint, compact_string  # noqa: E402


class BadInput(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=1)

	def setUp(self):
		super().setUp()
		self.b = self.shared.broker(1)
		self.bystander = kproto.Conn(h.HOST, self.b.port)
		self.addCleanup(self.bystander.close)
		err, _ = self.bystander.api_versions(0)
		self.assertEqual(err, 0)

	def conn(self):
		c = kproto.Conn(h.HOST, self.b.port, timeout=10)
		self.addCleanup(c.close)
		return c

	def assert_still_serving(self):
		self.assertTrue(self.b.alive(), "broker died; log:\n%s" % h.tail(self.b.log_path))
		# the connection opened before the bad input still works
		err, apis = self.bystander.api_versions(0)
		self.assertEqual(err, 0)
		self.assertIn(kproto.API_METADATA, apis)
		# new connections work
		md = kproto.metadata(h.HOST, self.b.port)
		self.assertEqual([x["node_id"] for x in md["brokers"]], [1])
		p = h.kcat("-b", self.b.address, "-L", "-m", "10", timeout=40)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertRegex(p.stdout, r"(?m)^  broker 1 at 127\.0\.0\.1:%d \(controller\)$" % self.b.port)

	def assert_closed(self, c, what):
		self.assertTrue(c.wait_closed(10), "broker did not close the connection after %s" % what)

	# -- framing -----------------------------------------------------------------

	def test_huge_size_prefix(self):
		c = self.conn()
		c.send_raw(i32(0x7FFFFFFF) + b"\x00" * 64)
		self.assert_closed(c, "a 2 GiB size prefix")
		self.assert_still_serving()

	def test_size_above_socket_request_max_bytes(self):
		# socket.request.max.bytes defaults to 104857600
		c = self.conn()
		c.send_raw(i32(104857600 + 1) + b"\x00" * 64)
		self.assert_closed(c, "a size prefix above socket.request.max.bytes")
		self.assert_still_serving()

	def test_negative_size_prefix(self):
		c = self.conn()
		c.send_raw(i32(-1) + b"\x00" * 16)
		self.assert_closed(c, "a negative size prefix")
		self.assert_still_serving()

	def test_zero_size_frame(self):
		c = self.conn()
		c.send_raw(i32(0))
		self.assert_closed(c, "an empty frame")
		self.assert_still_serving()

	def test_truncated_header(self):
		c = self.conn()
		c.send_raw(frame(b"\x00\x12\x00"))  # api key, then half an api version
		self.assert_closed(c, "a 3-byte request header")
		self.assert_still_serving()

	def test_client_id_longer_than_frame(self):
		c = self.conn()
		c.send_raw(frame(i16(18) + i16(0) + i32(7) + i16(30000) + b"ab"))
		self.assert_closed(c, "a client id length past the end of the frame")
		self.assert_still_serving()

	def test_partial_frame_does_not_block_others(self):
		c = self.conn()
		c.send_raw(i32(100) + b"\x00\x03\x00\x04")  # promises 100 bytes, sends 4
		self.assert_still_serving()  # while the partial frame is pending
		c.close()
		self.assert_still_serving()

	# -- headers -----------------------------------------------------------------

	def test_unknown_api_key(self):
		c = self.conn()
		c.send_raw(frame(kproto.request_header(999, 0, 42) + b"\x00" * 8))
		self.assert_closed(c, "api key 999")
		self.assert_still_serving()

	def test_api_versions_unsupported_version(self):
		# KIP-511: an ApiVersions request of a version the broker does not know
		# gets a v0 response with UNSUPPORTED_VERSION and the versions of
		# ApiVersions itself, so the client can retry with one it supports.
		c = self.conn()
		body = compact_string("samsa-itest") + compact_string("0.1") + uvarint(0)
		c.send_raw(frame(kproto.request_header(kproto.API_API_VERSIONS, 99, 77, flexible=True) + body))
		r = kproto.Reader(c.recv_frame())
		self.assertEqual(r.i32(), 77)
		err, apis = kproto.decode_api_versions(r, 0)
		self.assertEqual(err, kproto.ERR_UNSUPPORTED_VERSION)
		self.assertIn(kproto.API_API_VERSIONS, apis)
		lo, hi = apis[kproto.API_API_VERSIONS]
		self.assertEqual(lo, 0)
		self.assertGreaterEqual(hi, 3)
		self.assertEqual(r.remaining(), 0, "v0 response has nothing after the api list")
		# the connection stays usable: retry the way clients do
		err, apis = c.api_versions(hi)
		self.assertEqual(err, 0)
		self.assertIn(kproto.API_METADATA, apis)
		self.assert_still_serving()

	def test_metadata_unsupported_version(self):
		c = self.conn()
		c.send_raw(frame(kproto.request_header(kproto.API_METADATA, 99, 5, flexible=True)
				+ uvarint(0) + b"\x00\x00" + uvarint(0)))
		self.assert_closed(c, "Metadata v99")
		self.assert_still_serving()

	def test_metadata_truncated_body(self):
		c = self.conn()
		# v4 body cut short: a topic array of 3 names with only one present
		c.send_raw(frame(kproto.request_header(kproto.API_METADATA, 4, 6)
				+ i32(3) + string("abc")))
		self.assert_closed(c, "a truncated Metadata v4 body")
		self.assert_still_serving()

	def test_metadata_huge_array_count(self):
		c = self.conn()
		c.send_raw(frame(kproto.request_header(kproto.API_METADATA, 4, 8)
				+ i32(0x7FFFFFFF) + b"\x00\x01a" + b"\x00"))
		self.assert_closed(c, "a Metadata topic count of 2^31-1")
		self.assert_still_serving()

	# -- many random frames ------------------------------------------------------

	def test_random_frames(self):
		rnd = random.Random(20240611)
		# Inter-broker APIs (LeaderAndIsr, StopReplica, UpdateMetadata,
		# ControlledShutdown) are left out: a random frame that happened to
		# decode as one would be obeyed by Kafka too.
		keys = [k for k in range(0, 70) if k not in (4, 5, 6, 7)] + [999, -1, 32767]
		for i in range(120):
			hdr = kproto.request_header(rnd.choice(keys), rnd.randint(-1, 20), i,
					client_id=None if rnd.random() < 0.1 else "x" * rnd.randint(0, 40),
					flexible=rnd.random() < 0.5)
			body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))
			try:
				c = kproto.Conn(h.HOST, self.b.port, timeout=5)
			except OSError as e:
				self.fail("connect %d failed: %r" % (i, e))
			try:
				c.send_raw(frame(hdr + body))
				if i % 2:
					# read whatever comes back (a response or a close); never hang
					try:
						c.sock.settimeout(0.3)
						c.sock.recv(65536)
					except (socket.timeout, OSError):
						pass
			except kproto.Closed:
				pass
			finally:
				c.close()
			if i % 40 == 39:
				self.assertTrue(self.b.alive(), "broker died after random frame %d" % i)
		self.assert_still_serving()

	def test_many_connections_hang_up(self):
		conns = []
		for _ in range(100):
			conns.append(socket.create_connection((h.HOST, self.b.port), timeout=5))
		for s in conns:
			s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
			s.close()  # RST
		time.sleep(0.2)
		self.assert_still_serving()


if __name__ == "__main__":
	h.main()
