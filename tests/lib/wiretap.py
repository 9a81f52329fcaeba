"""A recording TCP relay in front of one broker, to measure which request
versions a client really sends.

The broker advertises the relay's port (advertised.listeners), so a client that
bootstraps through the relay also reaches that broker through it after reading
Metadata. The relay copies bytes both ways unchanged and, on the way to the
broker, reads each request frame's header: (api key, api version, client id)
is recorded for every request; chosen requests can be swallowed, or kept whole
to be replayed. Loopback only; threads end when the sockets close or stop()
is called."""

import socket
import struct
import threading

HOST = "127.0.0.1"


class Wiretap:
	def __init__(self, listen_port, target_port=None):
		self.listen_port = listen_port
		self.target_port = target_port
		self.lock = threading.Lock()
		self.requests = []  # [(api_key, api_version, client_id)]
		self._socks = []
		self._stopped = False
		self.drop = None  # drop(api_key, api_version, client_id) -> swallow that request
		self.keep = None  # keep(api_key, api_version, client_id) -> also store the whole frame
		self.frames = []  # [(api_key, api_version, client_id, frame bytes)] of the kept requests
		self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self._srv.bind((HOST, listen_port))
		self._srv.listen(64)
		threading.Thread(target=self._accept, daemon=True).start()

	def _accept(self):
		while not self._stopped:
			try:
				c, _ = self._srv.accept()
			except OSError:
				return
			if self.target_port is None:  # set once the broker's own port is known
				c.close()
				continue
			try:
				b = socket.create_connection((HOST, self.target_port), timeout=10)
				b.settimeout(None)
			except OSError:
				c.close()
				continue
			with self.lock:
				self._socks += [c, b]
			threading.Thread(target=self._upstream, args=(c, b), daemon=True).start()
			threading.Thread(target=self._pump, args=(b, c), daemon=True).start()

	def _pump(self, src, dst):
		try:
			while True:
				data = src.recv(65536)
				if not data:
					break
				dst.sendall(data)
		except OSError:
			pass
		for s in (src, dst):
			try:
				s.shutdown(socket.SHUT_RDWR)
			except OSError:
				pass

	def _upstream(self, src, dst):
		"""Client to broker: whole frames, each recorded and forwarded unless
		self.drop says to swallow it (the client then sees no answer, as from a
		broker that does not know the request)."""
		buf = bytearray()
		try:
			while True:
				data = src.recv(65536)
				if not data:
					break
				buf += data
				pos = 0
				while len(buf) - pos >= 4:
					size = struct.unpack_from(">i", buf, pos)[0]
					if size < 10:
						raise OSError("bad frame")
					if len(buf) - pos < 4 + size:
						break
					key, ver, _, n = struct.unpack_from(">hhih", buf, pos + 4)
					cid = bytes(buf[pos + 14:pos + 14 + n]).decode(errors="replace") if 0 <= n <= size - 10 else None
					with self.lock:
						self.requests.append((key, ver, cid))
						if self.keep and self.keep(key, ver, cid):
							self.frames.append((key, ver, cid, bytes(buf[pos:pos + 4 + size])))
					if not (self.drop and self.drop(key, ver, cid)):
						dst.sendall(buf[pos:pos + 4 + size])
					pos += 4 + size
				del buf[:pos]
		except (OSError, struct.error):
			pass
		for s in (src, dst):
			try:
				s.shutdown(socket.SHUT_RDWR)
			except OSError:
				pass

	def clear(self):
		with self.lock:
			self.requests = []
			self.frames = []

	def seen(self, client_id=None):
		"""{api_key: sorted versions} of the requests recorded (only those whose
		client id is client_id, if given)."""
		out = {}
		with self.lock:
			for key, ver, cid in self.requests:
				if client_id is None or cid == client_id:
					out.setdefault(key, set()).add(ver)
		return {k: sorted(v) for k, v in out.items()}

	def stop(self):
		self._stopped = True
		try:
			self._srv.close()
		except OSError:
			pass
		with self.lock:
			socks, self._socks = self._socks, []
		for s in socks:
			try:
				s.close()
			except OSError:
				pass


def start_tapped_cluster(test_class, brokers):
	"""For a ClusterTestCase class (from setUpClass): its shared cluster of
	`brokers` brokers, each advertising a Wiretap of its own. Returns
	({broker id: Wiretap}, bootstrap through the relays)."""
	from cluster import free_port
	taps = {}
	try:
		test_class.start_shared_cluster(brokers=0)  # ZooKeeper only
		for i in range(1, brokers + 1):
			tap_port, port = free_port(), free_port()
			taps[i] = Wiretap(tap_port, port)
			test_class.shared.add_broker(i, port=port, props={
				"advertised.listeners": "PLAINTEXT://%s:%d" % (HOST, tap_port)})
		test_class.shared.wait_metadata()
	except BaseException:
		for t in taps.values():
			t.stop()
		raise
	return taps, ",".join("%s:%d" % (HOST, t.listen_port) for t in taps.values())


def seen_all(taps, client_id=None):
	"""Wiretap.seen over several relays: {api key: sorted versions}."""
	out = {}
	for t in taps.values():
		for k, v in t.seen(client_id).items():
			out[k] = sorted(set(out.get(k, [])) | set(v))
	return out
