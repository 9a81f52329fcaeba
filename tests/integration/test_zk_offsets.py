"""Classic ZooKeeper consumer offsets: OffsetCommit v0 stores each offset as text at
/consumers/<group>/offsets/<topic>/<partition> and OffsetFetch v0 reads it back;
unknown partitions, bad group ids and oversized metadata get Kafka's error codes;
later versions are not advertised until the group coordinator exists."""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
import kproto  # noqa: E402
from kproto import i16, i32, string  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def commit_v0(conn, group, topic, offsets, metadata=""):
	body = string(group) + i32(1) + string(topic) + i32(len(offsets))
	for p, off in offsets.items():
		body += i32(p) + struct.pack(">q", off) + string(metadata)
	r = conn.request(8, 0, body)
	out = {}
	for _ in range(r.i32()):
		name = r.string()
		for _ in range(r.i32()):
			p = r.i32()
			out[(name, p)] = r.i16()
	return out


def fetch_v0(conn, group, topic, partitions):
	body = string(group) + i32(1) + string(topic) + i32(len(partitions)) + b"".join(i32(p) for p in partitions)
	r = conn.request(9, 0, body)
	out = {}
	for _ in range(r.i32()):
		name = r.string()
		for _ in range(r.i32()):
			p = r.i32()
			off = struct.unpack(">q", r.take(8))[0]
			meta = r.string()
			out[(name, p)] = (off, meta, r.i16())
	return out


class ZkOffsets(h.ClusterTestCase):
	def test_commit_and_fetch_v0(self):
		c = self.start_cluster(brokers=1, first_id=1)
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		a.create_topics([NewTopic("events", 2, 1)], request_timeout=20)["events"].result()
		b = c.broker(1)
		with kproto.Conn(h.HOST, b.port, 10) as conn:
			errs = commit_v0(conn, "legacy-group", "events", {0: 42, 1: 7})
			self.assertEqual(errs, {("events", 0): 0, ("events", 1): 0})
			data, _ = c.zk.get(c.zpath("/consumers/legacy-group/offsets/events/0"))
			self.assertEqual(data, b"42")
			data, _ = c.zk.get(c.zpath("/consumers/legacy-group/offsets/events/1"))
			self.assertEqual(data, b"7")
			# Overwrite.
			self.assertEqual(commit_v0(conn, "legacy-group", "events", {0: 43}), {("events", 0): 0})
			self.assertEqual(c.zk.get(c.zpath("/consumers/legacy-group/offsets/events/0"))[0], b"43")

			got = fetch_v0(conn, "legacy-group", "events", [0, 1])
			self.assertEqual(got, {("events", 0): (43, "", 0), ("events", 1): (7, "", 0)})
			# Nothing committed: -1, no error, as Kafka answers.
			self.assertEqual(fetch_v0(conn, "other-group", "events", [0]), {("events", 0): (-1, "", 0)})
			# A value written by an old tool straight into ZooKeeper is read too.
			c.zk.ensure_path(c.zpath("/consumers/tool-group/offsets/events"))
			c.zk.create(c.zpath("/consumers/tool-group/offsets/events/1"), b"1234")
			self.assertEqual(fetch_v0(conn, "tool-group", "events", [1]), {("events", 1): (1234, "", 0)})

			# Errors.
			self.assertEqual(commit_v0(conn, "legacy-group", "events", {5: 1}), {("events", 5): 3})
			self.assertEqual(commit_v0(conn, "legacy-group", "nope", {0: 1}), {("nope", 0): 3})
			self.assertEqual(commit_v0(conn, "a/b", "events", {0: 1}), {("events", 0): 24})
			self.assertEqual(commit_v0(conn, "", "events", {0: 1}), {("events", 0): 24})
			self.assertEqual(commit_v0(conn, "g", "events", {0: 1}, metadata="x" * 5000), {("events", 0): 12})
			self.assertIsNone(c.zk.exists(c.zpath("/consumers/g")))
			self.assertEqual(fetch_v0(conn, "legacy-group", "events", [9])[("events", 9)][2], 3)

			# v0 lives in ZooKeeper; v1+ belong to the group coordinator and never touch it.
			err, apis = conn.api_versions(0)
			self.assertEqual(err, 0)
			self.assertEqual(apis[8], (0, 9))
			self.assertEqual(apis[9], (0, 9))
		self.assertIsNone(c.zk.exists(c.zpath("/consumers/g")))
		self.assertTrue(b.alive())


if __name__ == "__main__":
	h.main()
