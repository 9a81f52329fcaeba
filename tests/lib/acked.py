"""Helpers for tests that check acknowledged writes survive faults: a producer
thread that records every acknowledged (partition, offset) -> value, and a
reader that returns every (partition, offset) -> value of a topic, and the
read-to-the-end loop under it."""

import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition


class Checker:
	"""Produces with acks=all from a thread (or in batches with produce_n) and records
	what was acknowledged. One request in flight per connection keeps per-partition
	send order; retries are unbounded, so only non-retriable errors reach `errors`."""

	def __init__(self, bootstrap, topic, keyed=False, pause_every=200, pause_s=0.01, idempotent=False):
		self.topic = topic
		self.keyed = keyed
		self.pause_every = pause_every
		self.pause_s = pause_s
		self.acked = {}
		self.errors = []
		self.stop = threading.Event()
		# idempotent: librdkafka's idempotent producer with five requests in flight, which keeps
		# order and writes each message once through the broker's sequence checks.
		self.p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
				"enable.idempotence": idempotent, "retries": 1000000, "retry.backoff.ms": 100,
				"message.timeout.ms": 120000,
				"max.in.flight.requests.per.connection": 5 if idempotent else 1})
		self.t = threading.Thread(target=self.run, daemon=True)
		self.sent = 0

	def dr(self, err, msg):
		if err:
			self.errors.append(str(err))
		else:
			key = (msg.partition(), msg.offset())
			assert key not in self.acked, "offset %s acknowledged twice" % (key,)
			self.acked[key] = msg.value()

	def _produce_one(self):
		value = b"m-%08d" % self.sent
		if self.keyed:
			self.p.produce(self.topic, value, key=b"%d" % self.sent, on_delivery=self.dr)
		else:
			self.p.produce(self.topic, value, on_delivery=self.dr)
		self.sent += 1

	def produce_n(self, n):
		for _ in range(n):
			self._produce_one()
		self.p.flush(60)

	def run(self):
		while not self.stop.is_set():
			try:
				self._produce_one()
			except BufferError:
				# The producer's queue is full while a partition has no leader: wait for room.
				self.p.poll(0.1)
				continue
			self.p.poll(0)
			if self.sent % self.pause_every == 0:
				time.sleep(self.pause_s)
		self.p.flush(120)

	def start(self):
		self.t.start()

	def finish(self):
		self.stop.set()
		if self.t.ident is not None:
			self.t.join(180)


PARTITION_EOF = -191  # librdkafka's _PARTITION_EOF


def messages_to_end(bootstrap, group, assignment, timeout, poll_s=1.0, conf=None):
	"""Yields every message of the assigned TopicPartitions (and every error other
	than reaching a partition's end) until each has reached its end, or timeout
	seconds have passed."""
	c = Consumer(dict({"bootstrap.servers": bootstrap, "group.id": group,
			"enable.partition.eof": True, "enable.auto.commit": False}, **(conf or {})))
	try:
		c.assign(assignment)
		eof = set()
		deadline = time.time() + timeout
		while len(eof) < len(assignment) and time.time() < deadline:
			m = c.poll(poll_s)
			if m is None:
				continue
			if m.error() and m.error().code() == PARTITION_EOF:
				eof.add(m.partition())
				continue
			yield m
	finally:
		c.close()


def read_all(bootstrap, topic, partitions, group, timeout=120):
	"""Every (partition, offset) -> value of the topic, from the beginning to each end."""
	out = {}
	for m in messages_to_end(bootstrap, group, [TopicPartition(topic, p, 0) for p in range(partitions)], timeout):
		if not m.error():
			out[(m.partition(), m.offset())] = m.value()
	return out
