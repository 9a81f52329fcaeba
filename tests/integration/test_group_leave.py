"""A member leaving a three-consumer group on a three-broker cluster, as users met
it: six partitions of a replication-factor-1 topic spread over the brokers, 600
messages already there, three confluent-kafka consumers with librdkafka's
defaults (range,roundrobin; no auto commit) that poll until the group has been
stable for 2 s; then the consumer that joined last closes (LeaveGroup).  The two
left must share all six partitions between them and read every message; the
departed member's partitions must not be left unassigned.  The variant that
always worked (replication factor 3, no data, auto commit on) runs beside it, and
a third case closes whichever consumer holds partition 0, with librdkafka's
default client.id, as in the report."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402
from members import GroupMember, poll_until  # noqa: E402

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTITIONS = 6
PER_PARTITION = 100
PROPS = {
	"offsets.topic.num.partitions": "5",
	"group.initial.rebalance.delay.ms": "0",
}


def poll_until_stable(readers, seconds, timeout, what):
	"""Poll until the open readers' assignments cover every partition and have not
	changed for `seconds`."""
	state = {"asg": None, "since": time.monotonic()}

	def stable():
		asg = tuple(tuple(r.assignment()) for r in readers if not r.closed)
		covered = sorted(p for a in asg for p in a) == list(range(PARTITIONS))
		if asg != state["asg"] or not covered or not all(asg):
			state["asg"], state["since"] = asg, time.monotonic()
			return False
		return time.monotonic() - state["since"] >= seconds
	poll_until(readers, stable, timeout, what)


class GroupLeave(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		cls.start_shared_cluster(brokers=3, first_id=1, props=PROPS)

	def create_topic(self, name, rf):
		c = self.shared
		a = AdminClient({"bootstrap.servers": c.bootstrap})
		for _, f in a.create_topics([NewTopic(name, PARTITIONS, rf)], request_timeout=20).items():
			f.result(30)

		def led():
			t = a.list_topics(name, timeout=10).topics.get(name)
			return (t is not None and t.error is None and len(t.partitions) == PARTITIONS
					and all(p.leader >= 0 and len(p.isrs) == rf for p in t.partitions.values()))
		h.wait_until(led, 60, "leaders for %s" % name)
		leaders = {p.leader for p in a.list_topics(name, timeout=10).topics[name].partitions.values()}
		return leaders

	def produce(self, topic):
		p = Producer({"bootstrap.servers": self.shared.bootstrap, "linger.ms": 5, "acks": "all"})
		errors = []
		for part in range(PARTITIONS):
			for i in range(PER_PARTITION):
				p.produce(topic, b"m-%d-%d" % (part, i), partition=part,
						on_delivery=lambda err, m: errors.append(err) if err else None)
		self.assertEqual(p.flush(60), 0)
		self.assertEqual(errors, [])

	def leave_case(self, topic, group, rf, data, auto_commit, client_ids=True, leaver=None):
		leaders = self.create_topic(topic, rf)
		if rf == 1:
			self.assertEqual(len(leaders), 3, "the partitions should spread over the brokers")
		if data:
			self.produce(topic)
		rs = []
		try:
			for i in range(3):
				rs.append(GroupMember(self.shared.bootstrap, group, topic, "c%d" % i, client_ids,
						**{"enable.auto.commit": auto_commit}))
			poll_until_stable(rs, 2.0, 90, "three consumers sharing the partitions")
			before = {r.name: r.assignment() for r in rs}
			h.log("before the leave: %s" % before)
			last = leaver(rs) if leaver else rs[2]
			h.log("closing %s" % last.name)
			last.close()
			left = [r for r in rs if r is not last]
			poll_until(left, lambda: sorted(p for r in left for p in r.assignment()) == list(range(PARTITIONS)),
					30, "the two remaining consumers to cover every partition (before: %s)" % before)
			if data:
				want = {(p, o) for p in range(PARTITIONS) for o in range(PER_PARTITION)}
				poll_until(left, lambda: set().union(*(r.seen for r in left)) == want, 60,
						"the two remaining consumers to read all %d messages" % len(want))
			for r in left:
				self.assertEqual(r.errors, [], r.name)
		finally:
			for r in rs:
				r.close()

	def test_1_leave_rf1_with_data_no_autocommit(self):
		self.leave_case("leave-rf1", "g-leave-rf1", rf=1, data=True, auto_commit=False)

	def test_2_leave_rf3_no_data_autocommit(self):
		self.leave_case("leave-rf3", "g-leave-rf3", rf=3, data=False, auto_commit=True)

	def test_3_leave_owner_of_partition_0_default_client_ids(self):
		"""As the report had it: the departed consumer held partitions 0 and 1, the ones
		left unconsumed; member ids all start with librdkafka's "rdkafka"."""
		self.leave_case("leave-p0", "g-leave-p0", rf=1, data=True, auto_commit=False, client_ids=False,
				leaver=lambda rs: next(r for r in rs if 0 in r.assignment()))


if __name__ == "__main__":
	h.main()
