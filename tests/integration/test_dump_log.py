"""samsa dump-log (kafka-dump-log.sh) on a partition directory the broker wrote:
messages under every codec in several segments verify clean with the right
counts, --print-data-log shows every key, value and header, and copies with a
flipped byte, a cut-off tail or an index entry pointing into the middle of a
batch fail with exit status 1 and the problem named with its file and position."""

import os
import re
import shutil
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402

from confluent_kafka import Producer  # noqa: E402

BROKER_ID = 1
TOPIC = "dumplog"
# The librdkafka here (2.0.2) sends lz4 batches uncompressed to samsa (its debug log:
# "Broker does not support compression type lz4"), so the lz4 batches come from the
# broker re-compressing for a topic with compression.type=lz4, dumped alongside.
LZ4_TOPIC = "dumplog-lz4"
CODECS = ("none", "gzip", "snappy", "zstd")
ALL_CODECS = CODECS + ("lz4",)
PER_CODEC = 300
SUMMARY = re.compile(r"^(\d+) batches, (\d+) records, (\d+) index entries checked, (\d+) problems$", re.M)


def dump_log(*args):
	return h.samsa_cli("dump-log", *args, timeout=120)


def batches(path):
	"""[(position, base offset, size)] of a .log file."""
	data = open(path, "rb").read()
	pos, out = 0, []
	while pos + 12 <= len(data):
		base, length = struct.unpack(">qi", data[pos:pos + 12])
		out.append((pos, base, length + 12))
		pos += length + 12
	return out


class DumpLog(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		c = cls.start_shared_cluster(brokers=1, first_id=BROKER_ID)
		b = c.broker(BROKER_ID)
		# Small segments and a dense index: several segments, each with index entries.
		cfg = {"segment.bytes": "40000", "index.interval.bytes": "1024"}
		h.create_topic(b.address, TOPIC, 1, BROKER_ID, config=cfg)
		h.create_topic(b.address, LZ4_TOPIC, 1, BROKER_ID, config=dict(cfg, **{"compression.type": "lz4"}))
		cls.sent = []
		for codec in ALL_CODECS:
			topic = LZ4_TOPIC if codec == "lz4" else TOPIC
			p = Producer({"bootstrap.servers": b.address, "compression.codec": codec, "linger.ms": 5,
					"acks": "all", "batch.num.messages": 50})
			for i in range(PER_CODEC):
				k = b"key-%s-%d" % (codec.encode(), i)
				v = b"value-%s-%d-" % (codec.encode(), i) + os.urandom(8).hex().encode() + b"-padding" * 6  # compressible: librdkafka sends a batch uncompressed unless the codec shrinks it
				p.produce(topic, v, k, partition=0, headers=[("hdr", b"h%d" % i)])
				cls.sent.append((k, v))
			assert p.flush(30) == 0, "messages left unsent"
		problem = b.terminate()  # a clean stop: indexes trimmed, nothing half-written
		assert problem is None, problem
		cls.pdir = os.path.join(b.props["log.dirs"], "%s-0" % TOPIC)
		cls.lz4dir = os.path.join(b.props["log.dirs"], "%s-0" % LZ4_TOPIC)

	def setUp(self):
		super().setUp()
		self.tmp = tempfile.mkdtemp(prefix="dumplog-")
		self.addCleanup(shutil.rmtree, self.tmp, True)

	def copy(self):
		d = os.path.join(self.tmp, "%s-0" % TOPIC)
		shutil.copytree(self.pdir, d)
		return d

	def segments(self, d):
		return sorted(f for f in os.listdir(d) if f.endswith(".log"))

	def test_verify_clean_directory(self):
		segs = self.segments(self.pdir)
		self.assertGreater(len(segs), 1, "segment.bytes should have rolled the log")
		p = dump_log("--verify", "--files", "%s,%s" % (self.pdir, self.lz4dir))
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stderr, "")
		m = SUMMARY.search(p.stdout)
		self.assertIsNotNone(m, p.stdout)
		n_batches, n_records, n_index, n_problems = map(int, m.groups())
		self.assertEqual(n_records, len(self.sent))
		self.assertEqual(n_batches, sum(len(batches(os.path.join(d, s))) for d in (self.pdir, self.lz4dir)
				for s in self.segments(d)))
		self.assertGreater(n_index, 0)
		self.assertEqual(n_problems, 0)
		# --verify prints nothing but the summary.
		self.assertEqual(p.stdout.strip().splitlines(), [m.group(0)])
		# Several --files, comma lists and single files give the same verdict.
		files = [os.path.join(self.pdir, s[:-4] + ext) for s in segs for ext in (".log", ".index", ".timeindex")]
		p = dump_log("--verify", "--files", ",".join(files[:3]), "--files", ",".join(files[3:]),
				"--files", self.lz4dir)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(SUMMARY.search(p.stdout).group(2), str(len(self.sent)))

	def test_print_data_log(self):
		p = dump_log("--print-data-log", "--files", self.pdir, "--files", self.lz4dir)
		self.assertEqual(p.returncode, 0, p.stderr)
		out = p.stdout
		codecs = re.findall(r"^baseOffset: .* compresscodec: (\w+) crc: \d+ isvalid: (\w+)$", out, re.M)
		self.assertEqual(sorted(set(c for c, _ in codecs)), sorted(ALL_CODECS))
		self.assertEqual(set(v for _, v in codecs), {"true"})
		records = re.findall(r"^\| offset: (\d+) CreateTime: \d+ .* key: (\S+) payload: (\S+) headers: \[(.*)\]$",
				out, re.M)
		self.assertEqual([(k.encode(), v.encode()) for _, k, v, _ in records], self.sent)
		n = PER_CODEC * len(CODECS)
		self.assertEqual([int(o) for o, _, _, _ in records], list(range(n)) + list(range(PER_CODEC)))
		self.assertEqual(records[7][3], "hdr=h7")
		self.assertRegex(out, r"(?m)^offset: \d+ position: \d+$")
		self.assertRegex(out, r"(?m)^timestamp: \d+ offset: \d+$")
		# Without --print-data-log: batches only.
		p = dump_log("--files", self.pdir)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertNotIn("| offset:", p.stdout)
		self.assertIn("baseOffset: 0 lastOffset: ", p.stdout)

	def test_flipped_byte(self):
		d = self.copy()
		seg = os.path.join(d, self.segments(d)[0])
		pos, base, size = batches(seg)[2]
		data = bytearray(open(seg, "rb").read())
		data[pos + size - 3] ^= 0x40  # inside the records, covered by the CRC
		open(seg, "wb").write(data)
		p = dump_log("--verify", "--files", d)
		self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
		self.assertIn("%s: position %d: batch at offset %d: CRC mismatch" % (seg, pos, base), p.stderr)
		self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)  # reported once
		self.assertEqual(SUMMARY.search(p.stdout).group(4), "1")
		p = dump_log("--files", seg)
		self.assertEqual(p.returncode, 1)
		self.assertIn("position: %d " % pos, p.stdout)
		self.assertIn("isvalid: false", p.stdout)

	def test_truncated_segment(self):
		d = self.copy()
		seg = os.path.join(d, self.segments(d)[-1])
		pos, base, size = batches(seg)[-1]
		os.truncate(seg, pos + size // 2)
		p = dump_log("--verify", "--files", seg)
		self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
		self.assertRegex(p.stderr, r"%s: position %d: torn batch" % (re.escape(seg), pos))
		# A cut inside the 12-byte entry header too.
		os.truncate(seg, pos + 5)
		p = dump_log("--verify", "--files", d)
		self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
		self.assertRegex(p.stderr, r"%s: position %d: torn batch" % (re.escape(seg), pos))

	def test_index_entry_mid_batch(self):
		d = self.copy()
		name = self.segments(d)[0][:-4]
		ix = os.path.join(d, name + ".index")
		data = bytearray(open(ix, "rb").read())
		self.assertGreaterEqual(len(data), 8)
		rel, position = struct.unpack(">ii", data[:8])
		self.assertIn(position, [b[0] for b in batches(os.path.join(d, name + ".log"))])
		data[:8] = struct.pack(">ii", rel, position + 7)
		open(ix, "wb").write(data)
		p = dump_log("--verify", "--files", d)
		self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
		self.assertIn("%s: position 0: entry 0 (offset %d): position %d is not the start of a batch"
				% (ix, int(name) + rel, position + 7), p.stderr)
		self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
		p = dump_log("--verify", "--files", ix)  # alone: the sibling .log is found by name
		self.assertEqual(p.returncode, 1, p.stdout + p.stderr)

	def test_usage(self):
		for args in ([], ["--files"], ["--verify"], ["--no-such-flag", "--files", self.pdir],
				["--files", self.pdir, "stray"]):
			p = dump_log(*args)
			self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
			self.assertIn("usage: samsa dump-log", p.stderr)
		p = dump_log("--verify", "--files", os.path.join(self.tmp, "%020d.log" % 0))
		self.assertEqual(p.returncode, 1)
		self.assertIn("cannot read", p.stderr)


if __name__ == "__main__":
	unittest.main()
