"""Minimal Kafka wire-protocol client for integration tests.

Only what the tests need to talk to one specific broker directly, with no client
library deciding which broker to ask: framing, request headers, ApiVersions and
Metadata (v4, and any version 0-12 through metadata_any) encoding and decoding,
and raw byte access for tests that send malformed frames on purpose.
"""

import socket
import struct
import time

API_METADATA = 3
API_API_VERSIONS = 18

ERR_NONE = 0
ERR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERR_UNSUPPORTED_VERSION = 35


class ProtocolError(Exception):
	pass


class Closed(Exception):
	"""The broker closed the connection (or reset it)."""


# ---- encoding helpers -------------------------------------------------------

def i8(v):
	return struct.pack(">b", v)


def i16(v):
	return struct.pack(">h", v)


def i32(v):
	return struct.pack(">i", v)


def string(s):
	if s is None:
		return i16(-1)
	b = s.encode()
	return i16(len(b)) + b


def uvarint(v):
	out = bytearray()
	while True:
		b = v & 0x7F
		v >>= 7
		if v:
			out.append(b | 0x80)
		else:
			out.append(b)
			return bytes(out)


def compact_string(s):
	if s is None:
		return uvarint(0)
	b = s.encode()
	return uvarint(len(b) + 1) + b


def compact_array(items):
	"""A flexible-version array of already encoded items (None: the null array)."""
	if items is None:
		return uvarint(0)
	return uvarint(len(items) + 1) + b"".join(items)


def compact_int32s(ids):
	return compact_array(None if ids is None else [i32(i) for i in ids])


# An empty tagged-fields section.
TAGS = uvarint(0)


def request_header(api_key, api_version, correlation_id, client_id="samsa-itest",
		flexible=False):
	h = i16(api_key) + i16(api_version) + i32(correlation_id) + string(client_id)
	if flexible:
		h += uvarint(0)  # empty tagged fields
	return h


def frame(payload):
	return i32(len(payload)) + payload


# ---- decoding ---------------------------------------------------------------

class Reader:
	def __init__(self, data):
		self.data = data
		self.pos = 0

	def take(self, n):
		if n < 0 or self.pos + n > len(self.data):
			raise ProtocolError("short read: need %d at %d of %d"
					% (n, self.pos, len(self.data)))
		b = self.data[self.pos:self.pos + n]
		self.pos += n
		return b

	def i8(self):
		return struct.unpack(">b", self.take(1))[0]

	def i16(self):
		return struct.unpack(">h", self.take(2))[0]

	def i32(self):
		return struct.unpack(">i", self.take(4))[0]

	def boolean(self):
		return self.take(1) != b"\x00"

	def string(self):
		n = self.i16()
		if n == -1:
			return None
		return self.take(n).decode()

	def uvarint(self):
		shift = 0
		v = 0
		while True:
			b = self.take(1)[0]
			v |= (b & 0x7F) << shift
			if not b & 0x80:
				return v
			shift += 7
			if shift > 28:
				raise ProtocolError("varint too long")

	def array(self, fn):
		n = self.i32()
		if n == -1:
			return None
		return [fn() for _ in range(n)]

	def compact_string(self):
		n = self.uvarint()
		if n == 0:
			return None
		return self.take(n - 1).decode()

	def compact_array(self, fn):
		n = self.uvarint()
		if n == 0:
			return None
		return [fn() for _ in range(n - 1)]

	def skip_tags(self):
		for _ in range(self.uvarint()):
			self.uvarint()
			self.take(self.uvarint())

	def remaining(self):
		return len(self.data) - self.pos


# ---- connection -------------------------------------------------------------

class Conn:
	"""One TCP connection to a broker; every operation has a timeout."""

	def __init__(self, host, port, timeout=10.0):
		self.timeout = timeout
		self.sock = socket.create_connection((host, port), timeout=timeout)
		self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
		self.next_corr = 1

	def close(self):
		try:
			self.sock.close()
		except OSError:
			pass

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()

	def send_raw(self, data):
		try:
			self.sock.sendall(data)
		except (BrokenPipeError, ConnectionResetError) as e:
			raise Closed(str(e))

	def _recv_exact(self, n, deadline):
		buf = bytearray()
		while len(buf) < n:
			left = deadline - time.monotonic()
			if left <= 0:
				raise socket.timeout("timed out waiting for %d bytes" % n)
			self.sock.settimeout(left)
			try:
				chunk = self.sock.recv(n - len(buf))
			except ConnectionResetError as e:
				raise Closed(str(e))
			if not chunk:
				raise Closed("connection closed by broker after %d of %d bytes"
						% (len(buf), n))
			buf += chunk
		return bytes(buf)

	def recv_frame(self, timeout=None):
		deadline = time.monotonic() + (timeout or self.timeout)
		size = struct.unpack(">i", self._recv_exact(4, deadline))[0]
		if size < 4 or size > 64 * 1024 * 1024:
			raise ProtocolError("bad response size %d" % size)
		return self._recv_exact(size, deadline)

	def wait_closed(self, timeout=10.0):
		"""Return True if the broker closes the connection (EOF or reset)
		within timeout without sending anything; raise if it sends data."""
		deadline = time.monotonic() + timeout
		while True:
			left = deadline - time.monotonic()
			if left <= 0:
				return False
			self.sock.settimeout(left)
			try:
				chunk = self.sock.recv(4096)
			except ConnectionResetError:
				return True
			except socket.timeout:
				return False
			if not chunk:
				return True
			raise ProtocolError("expected the broker to close the connection, "
					"got %d bytes: %r" % (len(chunk), chunk[:64]))

	def request(self, api_key, api_version, body, flexible_header=False, timeout=None):
		"""Send one request; return (correlation_id, Reader over the response
		body after the correlation id). Response header tagged fields, when the
		response header is v1, are left for the caller."""
		corr = self.next_corr
		self.next_corr += 1
		hdr = request_header(api_key, api_version, corr, flexible=flexible_header)
		self.send_raw(frame(hdr + body))
		data = self.recv_frame(timeout)
		r = Reader(data)
		got = r.i32()
		if got != corr:
			raise ProtocolError("correlation id %d, expected %d" % (got, corr))
		return r

	# -- ApiVersions --

	def api_versions(self, version=0):
		"""Return (error_code, {api_key: (min, max)}) for ApiVersions v0..v3."""
		if version >= 3:
			body = compact_string("samsa-itest") + compact_string("0.1") + uvarint(0)
			r = self.request(API_API_VERSIONS, version, body, flexible_header=True)
		else:
			r = self.request(API_API_VERSIONS, version, b"")
		return decode_api_versions(r, version)

	# -- Metadata v4 --

	def metadata(self, topics=None, allow_auto_create=False):
		"""Metadata v4. topics=None asks for all topics."""
		if topics is None:
			body = i32(-1)
		else:
			body = i32(len(topics)) + b"".join(string(t) for t in topics)
		body += i8(1 if allow_auto_create else 0)
		r = self.request(API_METADATA, 4, body)
		return decode_metadata_v4(r)

	# -- Metadata, any version --

	def metadata_any(self, version, topics=None, allow_auto_create=False):
		"""Metadata v0..v12 by topic name. topics=None asks for all topics (at v0,
		where the array is not nullable, that is the empty list)."""
		return decode_metadata(self.request(API_METADATA, version,
				encode_metadata_request(version, topics, allow_auto_create),
				flexible_header=version >= 9), version)


def decode_api_versions(r, version):
	err = r.i16()
	if version >= 3:
		def entry():
			e = (r.i16(), r.i16(), r.i16())
			r.skip_tags()
			return e
		entries = r.compact_array(entry) or []
	else:
		entries = r.array(lambda: (r.i16(), r.i16(), r.i16())) or []
	if version >= 1:
		r.i32()  # throttle_time_ms
	if version >= 3:
		r.skip_tags()
	return err, {k: (lo, hi) for k, lo, hi in entries}


def decode_metadata_v4(r):
	md = {"throttle_time_ms": r.i32()}

	def broker():
		return {"node_id": r.i32(), "host": r.string(), "port": r.i32(), "rack": r.string()}

	md["brokers"] = r.array(broker) or []
	md["cluster_id"] = r.string()
	md["controller_id"] = r.i32()

	def partition():
		return {"error_code": r.i16(), "partition": r.i32(), "leader": r.i32(),
			"replicas": r.array(r.i32), "isr": r.array(r.i32)}

	def topic():
		return {"error_code": r.i16(), "name": r.string(), "is_internal": r.boolean(),
			"partitions": r.array(partition) or []}

	md["topics"] = r.array(topic) or []
	if r.remaining():
		raise ProtocolError("%d trailing bytes in Metadata v4 response" % r.remaining())
	return md


def encode_metadata_request(version, topics, allow_auto_create):
	flexible = version >= 9
	if topics is None and version == 0:
		topics = []
	if flexible:
		def topic(name):
			return (b"\x00" * 16 if version >= 10 else b"") + compact_string(name) + TAGS
		body = compact_array(None if topics is None else [topic(t) for t in topics])
	else:
		body = i32(-1) if topics is None else i32(len(topics)) + b"".join(string(t) for t in topics)
	if version >= 4:
		body += i8(1 if allow_auto_create else 0)
	if 8 <= version <= 10:
		body += i8(0)  # include_cluster_authorized_operations
	if version >= 8:
		body += i8(0)  # include_topic_authorized_operations
	if flexible:
		body += TAGS
	return body


def decode_metadata(r, version):
	"""A Metadata response of any version 0-12 as a dict; fields a version lacks
	are absent (offline_replicas before v5, leader_epoch before v7, ...)."""
	flexible = version >= 9
	if flexible:
		r.skip_tags()  # response header v1
	text = r.compact_string if flexible else r.string
	arr = r.compact_array if flexible else r.array
	md = {}
	if version >= 3:
		md["throttle_time_ms"] = r.i32()

	def tags():
		if flexible:
			r.skip_tags()

	def broker():
		b = {"node_id": r.i32(), "host": text(), "port": r.i32()}
		if version >= 1:
			b["rack"] = text()
		tags()
		return b

	md["brokers"] = arr(broker) or []
	if version >= 2:
		md["cluster_id"] = text()
	if version >= 1:
		md["controller_id"] = r.i32()

	def ids():
		return arr(r.i32)

	def partition():
		p = {"error_code": r.i16(), "partition": r.i32(), "leader": r.i32()}
		if version >= 7:
			p["leader_epoch"] = r.i32()
		p["replicas"] = ids()
		p["isr"] = ids()
		if version >= 5:
			p["offline_replicas"] = ids()
		tags()
		return p

	def topic():
		t = {"error_code": r.i16(), "name": text()}
		if version >= 10:
			t["topic_id"] = r.take(16)
		if version >= 1:
			t["is_internal"] = r.boolean()
		t["partitions"] = arr(partition) or []
		if version >= 8:
			t["topic_authorized_operations"] = r.i32()
		tags()
		return t

	md["topics"] = arr(topic) or []
	if 8 <= version <= 10:
		md["cluster_authorized_operations"] = r.i32()
	tags()
	if r.remaining():
		raise ProtocolError("%d trailing bytes in Metadata v%d response" % (r.remaining(), version))
	return md


def metadata(host, port, topics=None, timeout=10.0, allow_auto_create=False):
	with Conn(host, port, timeout) as c:
		return c.metadata(topics, allow_auto_create)
