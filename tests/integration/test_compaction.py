"""Log compaction (cleanup.policy=compact): a topic written with 1,000,000
records over 1,000 keys (lz4 batches) plus tombstones is compacted to the
latest value per key, read back with a real consumer; tombstones stay until
delete.retention.ms has passed and then vanish; consumers reading from the
beginning while the cleaner works see offsets only rise and end every pass
with the latest value of every key. A kill -9 at each step of the cleaner's
swap (the fault points cleaner-cleaned, cleaner-swap, cleaner-deleted,
cleaner-swapped) leaves a directory `samsa dump-log --verify` accepts, and the
restarted broker holds the same latest values. A live change of
cleanup.policy from delete to compact starts cleaning; __consumer_offsets
stays small under a commit storm, and the offsets committed last survive a
restart that reloads the group from the compacted log."""

import glob
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402

BROKER_ID = 1
PROPS = {"log.cleaner.backoff.ms": 200, "log.retention.check.interval.ms": 1000}


def cleaner_offset(data_dir, topic, partition):
	"""The partition's entry in cleaner-offset-checkpoint, or -1."""
	try:
		with open(os.path.join(data_dir, "cleaner-offset-checkpoint")) as f:
			lines = f.read().split("\n")
	except OSError:
		return -1
	for line in lines[2:]:
		parts = line.split(" ")
		if len(parts) == 3 and parts[0] == topic and parts[1] == str(partition):
			return int(parts[2])
	return -1


def log_bytes(pdir):
	return sum(os.path.getsize(p) for p in glob.glob(os.path.join(pdir, "*.log")))


def read_all(address, topic, partition=0, timeout=120, check=None):
	"""Every (offset, key, value) from the start to the high watermark at the
	time of the call; offsets must rise."""
	c = Consumer({"bootstrap.servers": address, "group.id": "cmp-read", "enable.auto.commit": False,
			"enable.partition.eof": True, "fetch.max.bytes": 4 << 20})
	out = []
	try:
		# Right after a (re)start the partition may still be loading.
		for attempt in range(60):
			try:
				lo, hi = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
				break
			except KafkaException:
				if attempt == 59:
					raise
				time.sleep(0.5)
		c.assign([TopicPartition(topic, partition, 0 if lo == 0 else lo)])
		deadline = time.time() + timeout
		last = -1
		while time.time() < deadline and last < hi - 1:
			for m in c.consume(num_messages=10000, timeout=1.0):
				if m.error():
					if m.error().code() == -191:  # _PARTITION_EOF
						continue
					raise AssertionError("consume error: %s" % m.error())
				if m.offset() <= last:
					raise AssertionError("offset %d after %d: not rising" % (m.offset(), last))
				last = m.offset()
				out.append((m.offset(), m.key(), m.value()))
			if last >= hi - 1:
				break
		if last < hi - 1:
			# The end of a compacted log may be records that were removed: the
			# last offset read can be below hi - 1 only if the consumer is at
			# the end; the position says so.
			pos = c.position([TopicPartition(topic, partition)])[0].offset
			if pos < hi:
				raise AssertionError("read up to %d of %d in %ds" % (last, hi, timeout))
	finally:
		c.close()
	return out


def latest_of(records):
	d = {}
	for _, k, v in records:
		d[k] = v
	return d


class Compaction(h.ClusterTestCase):
	def setUp(self):
		super().setUp()
		self.c = self.start_cluster(brokers=1, first_id=BROKER_ID, props=PROPS)
		self.b = self.c.broker(BROKER_ID)
		self.data = self.b.props["log.dirs"]

	def pdir(self, topic, partition=0):
		return os.path.join(self.data, "%s-%d" % (topic, partition))

	def produce(self, topic, items, compression="lz4", timeout_ms=300000, acked=None, batch_size=262144,
			idempotent=False):
		"""Send (key, value) items; acked (a dict) gets key -> value of the
		latest acknowledged write of each key."""
		p = Producer({"bootstrap.servers": self.b.address, "linger.ms": 20, "batch.size": batch_size,
				"compression.type": compression, "queue.buffering.max.messages": 500000,
				"message.timeout.ms": timeout_ms, "enable.idempotence": idempotent})
		failed = []
		best = {}

		def done(err, msg):
			if err:
				failed.append(err)
			elif acked is not None and msg.offset() >= best.get(msg.key(), -1):
				best[msg.key()] = msg.offset()
				acked[msg.key()] = msg.value()
		n = 0
		for k, v in items:
			while True:
				try:
					p.produce(topic, key=k, value=v, partition=0, on_delivery=done)
					break
				except BufferError:
					p.poll(0.1)
			n += 1
			if n % 10000 == 0:
				p.poll(0)
		left = p.flush(timeout_ms / 1000 + 30)
		self.assertEqual(left, 0)
		self.assertEqual(failed, [])

	def cleaned_lines(self, topic):
		return len(re.findall(r"cleaned log \S*/%s-0 " % re.escape(topic), self.b.log_text()))

	def wait_cleaned_to(self, topic, offset, timeout=180):
		h.wait_until(lambda: cleaner_offset(self.data, topic, 0) >= offset, timeout,
				"cleaner offset of %s to reach %d" % (topic, offset), interval=0.5)

	def restart_after_kill(self):
		h.wait_until(lambda: not self.b.registered(), 60, "old registration to expire")
		self.b.extra_env = {}
		self.b.start()

	def verify_dir(self, pdir):
		r = h.samsa_cli("dump-log", "--verify", "--files", pdir, timeout=300)
		self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-3000:])
		return r

	def verify_crashed_dir(self, pdir):
		"""verify_dir for a directory the broker was killed in: the producer
		may have been appending to the active (newest) segment, and a kill can
		leave that write partly in the file. A torn tail there is crash state
		the broker truncates when it starts; any other problem is a defect."""
		r = h.samsa_cli("dump-log", "--verify", "--files", pdir, timeout=300)
		if r.returncode == 0:
			return r
		logs = sorted(x for x in os.listdir(pdir) if x.endswith(".log"))
		active = logs[-1] if logs else None
		problems = [line for line in r.stderr.splitlines() if ": position " in line]
		self.assertTrue(problems, r.stdout[-2000:] + r.stderr[-3000:])
		for line in problems:
			path, _, rest = line.partition(": position ")
			self.assertTrue(os.path.basename(path) == active and ": torn batch: " in rest,
					"not a torn tail of the active segment %s: %s" % (active, line))
		h.log("crash left a torn tail in the active segment: %s" % "; ".join(problems))
		return r

	def test_million_records_over_1000_keys(self):
		topic = "cmp"
		h.create_topic(self.b.address, topic, 1, BROKER_ID, config={
			"cleanup.policy": "compact", "segment.bytes": "1048576", "min.cleanable.dirty.ratio": "0.01",
			"delete.retention.ms": "15000"})
		expect = {}

		def main_load():
			for i in range(1000000):
				k = b"key-%04d" % (i % 1000)
				v = b"value-%07d" % i
				expect[k] = v
				yield k, v
			for j in range(100):  # the last word on keys 0..99: a tombstone
				k = b"key-%04d" % j
				expect[k] = None
				yield k, None

		def filler(first, n):
			for i in range(first, first + n):
				k = b"key-%04d" % (100 + i % 900)
				v = b"filler-%07d-" % i + os.urandom(24).hex().encode()
				expect[k] = v
				yield k, v

		# Readers from the beginning while the log is written and cleaned:
		# each pass sees offsets rise; a pass begun after the last write ends
		# with the latest value of every key.
		passes = []
		stop = threading.Event()
		errors = []
		produced = [None]

		def reader():
			while not stop.is_set():
				start, before = time.time(), self.cleaned_lines(topic)
				try:
					recs = read_all(self.b.address, topic, timeout=300)
				except AssertionError as e:
					errors.append(str(e))
					return
				passes.append((start, before, self.cleaned_lines(topic), latest_of(recs), len(recs)))
				time.sleep(0.5)
		t = threading.Thread(target=reader)
		t0 = time.time()
		t.start()
		try:
			self.produce(topic, main_load())
			# Enough behind the tombstones that they leave the active segment.
			self.produce(topic, filler(0, 40000))
			produced[0] = time.time()
			h.log("produced 1,040,100 records in %.1f s" % (produced[0] - t0))
			self.wait_cleaned_to(topic, 1000100)
			h.wait_until(lambda: sum(1 for p in passes if p[0] > produced[0]) >= 2 or errors, 300,
					"two reader passes after the last write")
		finally:
			stop.set()
			t.join(300)
		self.assertEqual(errors, [])
		self.assertTrue(any(a != b for _, a, b, _, _ in passes),
				"no reader pass overlapped a swap: %s" % [(a, b, n) for _, a, b, _, n in passes])
		for start, _, _, seen, n in passes:
			if start > produced[0]:
				self.assertEqual(seen, expect)
		h.log("reader passes: %s" % [(a, b, n) for _, a, b, _, n in passes])

		# Compacted: the latest value of each key, tombstones still there (within delete.retention.ms).
		recs = read_all(self.b.address, topic)
		self.assertEqual(latest_of(recs), expect)
		keys = [k for _, k, _ in recs if int(k[4:]) < 100]
		self.assertEqual(len(keys), 100, "one tombstone per deleted key")
		self.assertEqual(len(set(keys)), 100)
		self.assertLess(log_bytes(self.pdir(topic)), 4 << 20)
		h.log("compacted to %d records, %d bytes of .log" % (len(recs), log_bytes(self.pdir(topic))))

		# Cleaned batches keep their codec (the first segments may have been emptied: the first with batches).
		first = [p for p in sorted(glob.glob(os.path.join(self.pdir(topic), "*.log"))) if os.path.getsize(p) > 0][0]
		r = h.samsa_cli("dump-log", "--files", first, timeout=120)
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertIn("compresscodec: lz4", r.stdout)
		self.assertNotIn("compresscodec: none", r.stdout)

		# Past delete.retention.ms, the next cleaning removes the tombstones.
		time.sleep(16)
		before = cleaner_offset(self.data, topic, 0)
		self.produce(topic, filler(40000, 40000))
		self.wait_cleaned_to(topic, before + 1)
		for _ in range(60):
			recs = read_all(self.b.address, topic)
			if not any(v is None for _, _, v in recs):
				break
			time.sleep(1)
		expect = {k: v for k, v in expect.items() if v is not None}
		self.assertEqual(latest_of(recs), expect)
		self.assertEqual([k for _, k, v in recs if v is None], [])

		# Whole on disk, and again after a restart.
		self.assertIsNone(self.b.terminate())
		self.verify_dir(self.pdir(topic))
		self.b.start()
		h.wait_leaders(self.b.address, topic, 1, BROKER_ID)
		self.assertEqual(latest_of(read_all(self.b.address, topic)), expect)

	def test_kill_9_at_each_cleaner_step(self):
		topic = "crash"
		h.create_topic(self.b.address, topic, 1, BROKER_ID, config={
			"cleanup.policy": "compact", "segment.bytes": "65536", "min.cleanable.dirty.ratio": "0.01",
			"file.delete.delay.ms": "600000"})
		n = [0]

		def load(count):
			for _ in range(count):
				i = n[0]
				n[0] += 1
				yield b"k%03d" % (i % 100), b"v%07d-" % i + os.urandom(8).hex().encode()

		def seq(v):
			return int(v[1:8])

		leftovers = {"cleaner-cleaned": ".cleaned", "cleaner-swap": ".swap", "cleaner-deleted": ".deleted",
				"cleaner-swapped": ".deleted"}
		have = {}  # key -> value the log held after the last restart
		for point in ["cleaner-cleaned", "cleaner-swap", "cleaner-deleted", "cleaner-swapped"]:
			# The broker kills itself at the point the first time the cleaner gets there.
			self.assertIsNone(self.b.terminate())
			self.b.extra_env = {"SAMSA_FAULT_CRASH_AT": point}
			self.b.start()
			h.wait_leaders(self.b.address, topic, 1, BROKER_ID)
			self.b.expected_running = False
			acked = dict(have)
			try:
				self.produce(topic, load(20000), compression="none", timeout_ms=10000, acked=acked, batch_size=16384)
			except AssertionError as e:  # the broker may die under the producer
				h.log("produce during %s: %s" % (point, e))
			h.wait_until(lambda: not self.b.alive(), 120, "the broker to die at %s" % point)
			self.assertIn("Fault injection: killed at %s" % point, self.b.log_text())
			pdir = self.pdir(topic)
			names = os.listdir(pdir)
			self.assertTrue(any(x.endswith(leftovers[point]) for x in names), "%s: %s" % (point, sorted(names)))
			self.verify_crashed_dir(pdir)
			self.restart_after_kill()
			h.wait_leaders(self.b.address, topic, 1, BROKER_ID)
			got = latest_of(read_all(self.b.address, topic))
			# Every key holds its latest acknowledged value, or a later one
			# the crash caught between write and acknowledgement.
			self.assertEqual(set(got), set(acked), point)
			for k, v in acked.items():
				self.assertGreaterEqual(seq(got[k]), seq(v), (point, k))
			have = got
			self.assertFalse(any(x.endswith((".cleaned", ".swap")) for x in os.listdir(pdir)),
					sorted(os.listdir(pdir)))
		# The cleaner goes on cleaning it afterwards, and the values stay.
		self.b.expected_running = True
		before = cleaner_offset(self.data, topic, 0)
		acked = dict(have)
		self.produce(topic, load(20000), compression="none", acked=acked, batch_size=16384)
		self.wait_cleaned_to(topic, before + 1)
		self.assertEqual(latest_of(read_all(self.b.address, topic)), acked)
		self.assertIsNone(self.b.terminate())
		self.verify_dir(self.pdir(topic))
		self.b.start()
		h.wait_leaders(self.b.address, topic, 1, BROKER_ID)
		self.assertEqual(latest_of(read_all(self.b.address, topic)), acked)

	def test_crash_check_accepts_only_a_torn_active_tail(self):
		"""verify_crashed_dir, which the kill -9 test leans on, lets through a
		partial write at the end of the newest segment and nothing else."""
		import shutil
		topic = "tornck"
		h.create_topic(self.b.address, topic, 1, BROKER_ID, config={"segment.bytes": "65536"})
		self.produce(topic, ((b"k%d" % i, b"v" * 200) for i in range(2000)), compression="none", batch_size=16384)
		self.assertIsNone(self.b.terminate())
		src = self.pdir(topic)
		logs = sorted(x for x in os.listdir(src) if x.endswith(".log"))
		self.assertGreater(len(logs), 2, logs)
		for victim, ok in ((logs[-1], True), (logs[0], False)):
			d = os.path.join(self.c.dir, "torn-%s" % ok)
			shutil.copytree(src, d)
			# What a kill in the middle of an append leaves: the start of a
			# batch (here a copy of the segment's first one) after the rest.
			path = os.path.join(d, victim)
			with open(path, "rb") as f:
				head = f.read(12)
				first = head + f.read(int.from_bytes(head[8:12], "big"))
			with open(path, "ab") as f:
				f.write(first[:len(first) // 2])
			if ok:
				self.assertNotEqual(self.verify_crashed_dir(d).returncode, 0)
			else:
				with self.assertRaises(AssertionError):
					self.verify_crashed_dir(d)
		self.b.start()

	def test_idempotent_producer_batches(self):
		"""Batches of an idempotent producer keep their producer id, epoch and
		sequences; one whose records all go stays as an empty batch (Kafka
		keeps the producer's last so; samsa keeps every such batch)."""
		topic = "idem"
		h.create_topic(self.b.address, topic, 1, BROKER_ID, config={
			"cleanup.policy": "compact", "segment.bytes": "16384", "min.cleanable.dirty.ratio": "0.01"})
		items = [(b"k%d" % (i % 5), b"value-%06d" % i) for i in range(5000)]
		self.produce(topic, items, compression="none", batch_size=4096, idempotent=True)
		self.wait_cleaned_to(topic, 1)
		self.assertEqual(latest_of(read_all(self.b.address, topic)), latest_of([(0, k, v) for k, v in items]))
		self.assertIsNone(self.b.terminate())
		r = self.verify_dir(self.pdir(topic))
		r = h.samsa_cli("dump-log", "--files", os.path.join(self.pdir(topic), "%020d.log" % 0), timeout=120)
		self.assertEqual(r.returncode, 0, r.stderr)
		pids = set(re.findall(r"producerId: (-?\d+)", r.stdout))
		self.assertEqual(len(pids), 1, pids)
		self.assertNotEqual(pids, {"-1"})
		self.assertIn("count: 0 ", r.stdout)
		self.b.start()

	def test_live_policy_change(self):
		topic = "live"
		h.create_topic(self.b.address, topic, 1, BROKER_ID, config={
			"cleanup.policy": "delete", "segment.bytes": "32768", "min.cleanable.dirty.ratio": "0.01"})
		items = [(b"k%d" % (i % 10), b"value-%06d" % i) for i in range(20000)]
		self.produce(topic, items, compression="none", batch_size=8192)
		time.sleep(2)
		self.assertEqual(cleaner_offset(self.data, topic, 0), -1, "a delete-policy log is not cleaned")
		size = log_bytes(self.pdir(topic))
		r = h.samsa_cli("configs", "--bootstrap-server", self.b.address, "--alter", "--entity-type", "topics",
				"--entity-name", topic, "--add-config", "cleanup.policy=compact")
		self.assertEqual(r.returncode, 0, r.stderr)
		self.wait_cleaned_to(topic, 1)
		self.assertLess(log_bytes(self.pdir(topic)), size / 2)
		self.assertEqual(latest_of(read_all(self.b.address, topic)), latest_of([(0, k, v) for k, v in items]))


class ConsumerOffsets(h.ClusterTestCase):
	def test_commit_storm_stays_small(self):
		c = self.start_cluster(brokers=1, first_id=BROKER_ID, props=dict(PROPS, **{
			"offsets.topic.num.partitions": 1, "offsets.topic.segment.bytes": 65536}))
		b = c.broker(BROKER_ID)
		h.create_topic(b.address, "storm", 10, BROKER_ID)
		cons = Consumer({"bootstrap.servers": b.address, "group.id": "storm", "enable.auto.commit": False})
		try:
			tps = [TopicPartition("storm", p) for p in range(10)]
			cons.assign(tps)
			for i in range(1, 3001):
				cons.commit(offsets=[TopicPartition("storm", p, i * 10 + p) for p in range(10)],
						asynchronous=False)
		finally:
			cons.close()
		pdir = os.path.join(b.props["log.dirs"], "__consumer_offsets-0")
		# 30,000 offset records, well over 2 MB, were written.
		h.wait_until(lambda: cleaner_offset(b.props["log.dirs"], "__consumer_offsets", 0) > 0, 120,
				"__consumer_offsets cleaned", interval=0.5)
		h.wait_until(lambda: log_bytes(pdir) < 400000, 120, "__consumer_offsets to shrink (%d)" % log_bytes(pdir),
				interval=0.5)
		# The group reloads from the compacted log with the offsets committed last.
		self.assertIsNone(b.terminate())
		r = h.samsa_cli("dump-log", "--verify", "--files", pdir, timeout=120)
		self.assertEqual(r.returncode, 0, r.stderr[-3000:])
		b.start()
		h.wait_leaders(b.address, "storm", 10, BROKER_ID)
		cons = Consumer({"bootstrap.servers": b.address, "group.id": "storm", "enable.auto.commit": False})
		try:
			got = cons.committed([TopicPartition("storm", p) for p in range(10)], timeout=30)
		finally:
			cons.close()
		self.assertEqual(sorted((t.partition, t.offset) for t in got), [(p, 30000 + p) for p in range(10)])


if __name__ == "__main__":
	import unittest
	unittest.main()
