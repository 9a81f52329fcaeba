"""kcat (Debian's kcat 1.7, librdkafka inside) against samsa, once per codec (none,
gzip, snappy, lz4, zstd): a 16-partition topic gets SAMSA_KCAT_MESSAGES keyed
messages (default 1,000,000) from one kcat producer per partition, every message
carrying the same three headers (a value, an empty value, a null value). kcat
reads the whole topic back and every partition must hold exactly what its
producer sent, in order, at offsets 0, 1, 2, ... with the headers intact. The
log segments the broker wrote must show batches of the codec asked for (so a
client silently falling back to uncompressed batches cannot pass), and kcat's
start-at-timestamp (-o s@T, ListOffsets by time) must land on the first message
of the partition whose CreateTime is >= T, worked out from the timestamps read
back; past the last timestamp there is nothing to read."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402


BROKER_ID = 1
PARTITIONS = 16
MESSAGES = int(os.environ.get("SAMSA_KCAT_MESSAGES", "1000000"))
# What kcat prints per message; keys and values never hold a tab or a newline,
# so a line splits into exactly these six fields.
FORMAT = r"%p\t%o\t%T\t%k\t%s\t%h\n"
# Every byte but the two separators (\t splits key from value on input and fields
# on output, \n ends a message), so NUL, \r, '|', ',' and high bytes all travel.
POOL = bytes(b for b in range(256) if b not in (9, 10)) * 2


def key_of(i):
	# Now and then an empty (not null) key: kcat sends "" for a line that starts
	# with the key delimiter.
	return b"" if i % 101 == 50 else b"key-%d" % i


def value_of(i):
	"""0..60 bytes: the sequence number, then bytes of every kind. Zero-length
	values are sent as empty (not null) values, as kcat does without -Z."""
	n = (i * 13) % 61
	head = b"%d:" % i
	if not key_of(i):
		n = max(n, len(head))  # a message with an empty key still says who it is
	return (head + POOL[i % 251:i % 251 + 60])[:n]


def headers_arg(codec, p):
	"""kcat -H arguments: a value naming the codec and partition (so a header
	landing on the wrong partition shows), an empty value and a null one."""
	return ["-H", "part=%s/%d" % (codec, p), "-H", "empty=", "-H", "null"]


def headers_printed(codec, p):
	# %h prints name=value pairs joined by commas, a null value as NULL.
	return b"part=%s/%d,empty=,null=NULL" % (codec.encode(), p)


def dump_log(*args):
	return h.samsa_cli("dump-log", *args, timeout=300)


DUMPING = re.compile(r"^Dumping (.*)/(\d{20})\.(log|index|timeindex)$")
BATCH = re.compile(r"^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .* size: (\d+) magic: 2 "
		r"compresscodec: (\w+) crc: \d+ isvalid: (\w+)$")
# The largest batch (bytes on disk, 61 of them the batch header) librdkafka may
# leave uncompressed although a codec was asked for: about three of these records.
SMALL_BATCH = 400


class KcatCodecs(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=1, first_id=BROKER_ID)

	def setUp(self):
		super().setUp()
		self.tmp = tempfile.mkdtemp(prefix="kcat-codecs-")
		self.addCleanup(shutil.rmtree, self.tmp, True)

	@property
	def bootstrap(self):
		return self.shared.broker(BROKER_ID).address

	def create(self, name):
		h.create_topic(self.bootstrap, name, PARTITIONS, BROKER_ID)

	def expected(self, codec, p):
		"""[(offset, key, value, headers as %h prints them)] of partition p:
		message i goes to partition i % 16, so it sits at offset i // 16."""
		hd = headers_printed(codec, p)
		return [(j, key_of(i), value_of(i), hd) for j, i in enumerate(range(p, MESSAGES, PARTITIONS))]

	def produce(self, topic, codec):
		"""One kcat per partition (-p N), all at once, each reading its share from
		a file; returns the wall-clock window (ms) the produce ran in."""
		procs = []
		t0 = int(time.time() * 1000)
		try:
			for p in range(PARTITIONS):
				path = os.path.join(self.tmp, "in-%d" % p)
				with open(path, "wb") as f:
					f.write(b"".join(key_of(i) + b"\t" + value_of(i) + b"\n"
							for i in range(p, MESSAGES, PARTITIONS)))
			for p in range(PARTITIONS):
				with open(os.path.join(self.tmp, "in-%d" % p), "rb") as fin, \
						open(os.path.join(self.tmp, "err-%d" % p), "wb") as ferr:
					procs.append(subprocess.Popen(
						["kcat", "-b", self.bootstrap, "-t", topic, "-P", "-p", str(p), "-K", r"\t",
							"-z", codec, "-m", "30", "-X", "acks=all"] + headers_arg(codec, p),
						stdin=fin, stdout=subprocess.DEVNULL, stderr=ferr))
			for p, proc in enumerate(procs):
				rc = proc.wait(timeout=180)
				with open(os.path.join(self.tmp, "err-%d" % p), "rb") as f:
					err = f.read().decode(errors="replace")
				# kcat exits 1 when any delivery report carried an error, and says
				# so on stderr; librdkafka's own errors would also land there.
				self.assertEqual(rc, 0, "kcat producer for partition %d: %s" % (p, err))
				self.assertNotIn("Delivery failed", err)
				self.assertNotIn("ERROR", err)
		finally:
			for proc in procs:
				if proc.poll() is None:
					proc.kill()
					proc.wait()
		return t0, int(time.time() * 1000)

	def consume(self, topic):
		"""Every partition from the beginning to the end, as one kcat prints them:
		{partition: [(offset, timestamp, key, value, headers)]} in the order read."""
		path = os.path.join(self.tmp, "out")
		with open(path, "wb") as fout:
			p = subprocess.run(["kcat", "-b", self.bootstrap, "-t", topic, "-C", "-e", "-q", "-m", "30",
					"-o", "beginning", "-f", FORMAT], stdin=subprocess.DEVNULL, stdout=fout,
					stderr=subprocess.PIPE, timeout=300)
		self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
		self.assertEqual(p.stderr, b"")
		with open(path, "rb") as f:
			data = f.read()
		self.assertTrue(data.endswith(b"\n"), data[-200:])
		got = {p: [] for p in range(PARTITIONS)}
		for line in data[:-1].split(b"\n"):
			f = line.split(b"\t")
			self.assertEqual(len(f), 6, line)
			got[int(f[0])].append((int(f[1]), int(f[2]), f[3], f[4], f[5]))
		return got

	def assert_partition(self, codec, p, got):
		want = self.expected(codec, p)
		have = [(o, k, v, hd) for o, _, k, v, hd in got]
		if have == want:
			return
		# Name the first difference rather than diffing 60,000-element lists.
		for n, (a, b) in enumerate(zip(have, want)):
			if a != b:
				self.fail("partition %d, message %d: read %r, sent %r" % (p, n, a, b))
		self.fail("partition %d: read %d messages, sent %d" % (p, len(have), len(want)))

	def check_codec_on_disk(self, topic, codec, got):
		"""The partition logs, as samsa dump-log reads them: contiguous valid
		batches, counts matching what was read, and the batches in the codec asked
		for. librdkafka sends every batch uncompressed if it finds the broker lacks
		the codec, and nothing else here would notice. It also sends a batch
		uncompressed when the codec would make it bigger (rdkafka_msgset_writer.c),
		which happens to a batch of one or two records: their values are mostly
		incompressible, and the codec's framing outweighs the repeated headers it
		saves. At 1,000,000 messages a topic got up to about twenty such
		single-record batches (lz4, zstd; snappy shrinks most lone records). Those small batches, and only those, may be
		uncompressed."""
		dirs = [os.path.join(self.shared.broker(BROKER_ID).props["log.dirs"], "%s-%d" % (topic, p))
				for p in range(PARTITIONS)]
		d = dump_log("--files", ",".join(dirs))
		self.assertEqual(d.returncode, 0, d.stderr)
		per = {}  # partition -> [(base, last, count, size, codec, valid)]
		current = None
		for line in d.stdout.splitlines():
			m = DUMPING.match(line)
			if m:
				current = int(m.group(1).rsplit("-", 1)[1]) if m.group(3) == "log" else None
				continue
			m = BATCH.match(line)
			if m:
				self.assertIsNotNone(current, "batch line outside a .log: %s" % line)
				b, l, n, z, c, v = m.groups()
				per.setdefault(current, []).append((int(b), int(l), int(n), int(z), c, v))
		self.assertEqual(sorted(per), list(range(PARTITIONS)), d.stdout[:2000])
		wrong = []
		for p, bl in per.items():
			nxt = 0
			for base, last, count, size, c, valid in bl:
				self.assertEqual((base, valid), (nxt, "true"), "partition %d batch %r" % (p, (base, last, count, c)))
				self.assertEqual(last - base + 1, count)
				if c != codec and not (c == "none" and size <= SMALL_BATCH):
					wrong.append("partition %d batch at %d: %d records, %d bytes, %s" % (p, base, count, size, c))
				nxt = last + 1
			self.assertEqual(nxt, len(got[p]), "partition %d: log ends at %d" % (p, nxt))
			# Even with a small partition, the codec must have been used somewhere.
			self.assertIn(codec, [x[4] for x in bl], "partition %d: %r" % (p, bl))
		self.assertEqual(wrong, [], "batches not in %s" % codec)

	def offset_at(self, topic, p, ts):
		"""kcat's answer to "first message of partition p at or after ts": the
		offset it starts consuming from with -o s@ts, or None if it reads nothing."""
		r = h.run(["kcat", "-b", self.bootstrap, "-t", topic, "-C", "-p", str(p), "-o", "s@%d" % ts,
				"-e", "-c", "1", "-q", "-m", "30", "-f", r"%o\n"], timeout=60)
		self.assertEqual(r.returncode, 0, r.stderr)
		return int(r.stdout) if r.stdout else None

	def check_offsets_for_times(self, topic, got):
		# kcat's producer cannot set timestamps: they are the CreateTime librdkafka
		# stamped, and many messages share a millisecond. The right answer for a
		# time t is worked out from the timestamps read back: the first offset whose
		# timestamp is >= t, often an offset before that of the probe message.
		for p in (1, 6, 11, 15):
			ts = [t for _, t, _, _, _ in got[p]]
			n = len(ts)

			def first_at(t):
				return next((j for j, x in enumerate(ts) if x >= t), None)
			# A message sharing its millisecond with the one before it: the answer
			# is an earlier offset than its own.
			shared = next((j for j in range(n // 2, n) if ts[j] == ts[j - 1]), n // 2)
			probes = sorted({0, n // 3, shared, n - 1})
			for j in probes:
				self.assertEqual(self.offset_at(topic, p, ts[j]), first_at(ts[j]),
						"partition %d, timestamp %d of offset %d" % (p, ts[j], j))
			# A millisecond after a message's: the next millisecond that has messages
			# (usually in the middle of a batch, so the broker must look inside it).
			j = 2 * n // 3
			self.assertEqual(self.offset_at(topic, p, ts[j] + 1), first_at(ts[j] + 1),
					"partition %d, timestamp %d + 1 of offset %d" % (p, ts[j], j))
			# Before every message: the first one.
			self.assertEqual(self.offset_at(topic, p, min(ts) - 1000), 0)
			# After every message: ListOffsets finds none (-1), so kcat starts at the
			# end and, with -e, reads nothing.
			self.assertIsNone(self.offset_at(topic, p, max(ts) + 1))
			q = h.kcat("-b", self.bootstrap, "-Q", "-m", "30", "-t", "%s:%d:%d" % (topic, p, max(ts) + 1),
					timeout=60)
			self.assertEqual((q.returncode, q.stdout.strip()), (0, "%s [%d] offset -1" % (topic, p)), q.stderr)

	def check_null_header(self, topic):
		# %h prints a null header value as NULL, like the text "NULL"; kcat's JSON
		# says null. A few messages are enough: every message has the same headers.
		r = h.run(["kcat", "-b", self.bootstrap, "-t", topic, "-C", "-p", "3", "-o", "beginning",
				"-c", "3", "-e", "-q", "-m", "30", "-J"], timeout=60)
		self.assertEqual(r.returncode, 0, r.stderr)
		lines = r.stdout.splitlines()
		self.assertEqual(len(lines), min(3, len(range(3, MESSAGES, PARTITIONS))))
		for line in lines:
			self.assertIn('"tstype":"create"', line)
			self.assertRegex(line, r'"headers":\["part","[a-z0-9]+/3","empty","","null",null\]')

	def check_round_trip(self, codec):
		topic = "kcat-" + codec
		self.create(topic)
		t0, t1 = self.produce(topic, codec)
		got = self.consume(topic)
		self.assertEqual(sum(len(v) for v in got.values()), MESSAGES)
		for p in range(PARTITIONS):
			self.assert_partition(codec, p, got[p])
			# CreateTime as kcat stamped it: within the produce, not rewritten.
			for o, t, _, _, _ in got[p]:
				if not t0 - 1000 <= t <= t1 + 1000:
					self.fail("partition %d offset %d: timestamp %d outside the produce (%d..%d)"
							% (p, o, t, t0, t1))
		self.check_codec_on_disk(topic, codec, got)
		self.check_null_header(topic)
		self.check_offsets_for_times(topic, got)

	def test_codec_none(self):
		self.check_round_trip("none")

	def test_codec_gzip(self):
		self.check_round_trip("gzip")

	def test_codec_snappy(self):
		self.check_round_trip("snappy")

	def test_codec_lz4(self):
		self.check_round_trip("lz4")

	def test_codec_zstd(self):
		self.check_round_trip("zstd")


if __name__ == "__main__":
	unittest.main()
