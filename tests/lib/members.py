"""confluent-kafka consumers in a group, polled in turn from one test thread:
each records its assignment callbacks and every message it reads, and
poll_until() drives them all until a condition holds."""

import time

from confluent_kafka import Consumer


class GroupMember:
	"""One consumer subscribed to `topic` in `group`, reading from the earliest offset.
	client.id is `name` unless client_id is False (then librdkafka's "rdkafka", and
	member ids sort at random); `conf` adds or overrides settings."""

	def __init__(self, bootstrap, group, topic, name, client_id=True, **conf):
		cfg = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"}
		if client_id:
			cfg["client.id"] = name
		cfg.update(conf)
		self.name = name
		self.c = Consumer(cfg)
		self.assigns = 0
		self.revokes = 0
		self.msgs = []  # (partition, offset, value) in the order read
		self.errors = []
		self.closed = False
		self.c.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

	def _on_assign(self, c, parts):
		self.assigns += 1

	def _on_revoke(self, c, parts):
		self.revokes += 1

	@property
	def seen(self):
		"""Every (partition, offset) read."""
		return {(p, o) for p, o, _ in self.msgs}

	def assignment(self):
		return sorted(tp.partition for tp in self.c.assignment())

	def poll(self, timeout=0.05):
		m = self.c.poll(timeout)
		if m is None:
			return
		if m.error():
			self.errors.append(str(m.error()))
			return
		self.msgs.append((m.partition(), m.offset(), m.value()))

	def commit(self):
		self.c.commit(asynchronous=False)

	def close(self):
		if not self.closed:
			self.closed = True
			self.c.close()


def poll_until(members, cond, timeout, what):
	"""Poll every open member in turn until cond() holds; fail after `timeout` seconds
	with each member's assignment, message count and last errors."""
	deadline = time.monotonic() + timeout
	while True:
		for m in members:
			if not m.closed:
				m.poll()
		if cond():
			return
		if time.monotonic() > deadline:
			raise AssertionError("timed out after %ds waiting for %s; assignments %s, messages %s, errors %s"
					% (timeout, what, {m.name: m.assignment() for m in members if not m.closed},
						{m.name: len(m.msgs) for m in members}, {m.name: m.errors[-3:] for m in members}))
