"""The Prometheus endpoint (samsa.metrics.listener=http://127.0.0.1:PORT,
/metrics) on three brokers, read with curl and parsed with Debian's
prometheus_client text-format parser.

1. During a produce run (confluent-kafka producing in a thread), two scrapes
   of the leader show kafka_server_brokertopicmetrics_messagesin_total and
   _bytesin_total of the topic rising, Produce requests counted per version and
   a Produce latency histogram; consuming makes _bytesout_total of the topic
   grow by at least the bytes read; the followers count replication bytes in.
   Exactly one broker reports ActiveControllerCount 1.
2. Killing a follower: the leader's UnderReplicatedPartitions goes above 0,
   IsrShrinks counts (and the partition's own
   kafka_cluster_partition_underreplicated is 1); once it is back, IsrExpands counts and URP returns to 0.
   A topic whose only replica is on the stopped broker shows in the
   controller's OfflinePartitionsCount.
3. A group that committed offset N of a partition whose high watermark is M:
   its coordinator reports kafka_consumergroup_lag M - N for it.
4. Log size per partition equals the bytes of the partition's segment files;
   a path other than /metrics is a 404.
Burrow reading the same cluster's lag is tests/compat/test_burrow.py."""

import glob
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

try:
	from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # scripts/deps installs python3-prometheus-client
	text_string_to_metric_families = None

TOPIC = "metered"
IDS = (1, 2, 3)


class Metrics(h.ClusterTestCase):
	@classmethod
	def setUpClass(cls):
		if text_string_to_metric_families is None:
			raise unittest.SkipTest("prometheus_client missing (scripts/deps installs python3-prometheus-client)")
		cls.mports = {i: h.free_port() for i in IDS}
		cls.start_shared_cluster(brokers=3, first_id=1, props={
			"replica.lag.time.max.ms": 3000,
			"offsets.topic.replication.factor": 3,
			"offsets.topic.num.partitions": 3,
		}, broker_props={i: {"samsa.metrics.listener": "http://127.0.0.1:%d" % cls.mports[i]} for i in IDS})
		a = AdminClient({"bootstrap.servers": cls.shared.bootstrap})
		for _, f in a.create_topics([NewTopic(TOPIC, 1, 3)], request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: cls.leader_of(TOPIC, 0) is not None, 60, "a leader for %s" % TOPIC)

	@classmethod
	def leader_of(cls, topic, partition):
		md = h.kcat_metadata_json(cls.shared.bootstrap)
		for t in md.get("topics", []):
			if t["topic"] == topic:
				for p in t.get("partitions", []):
					if p["partition"] == partition and p.get("leader", -1) >= 0:
						return p["leader"]
		return None

	def scrape_text(self, broker_id, path="/metrics"):
		p = h.run(["curl", "-sS", "-w", "\n%{http_code}", "http://127.0.0.1:%d%s" % (self.mports[broker_id], path)],
			  timeout=30)
		self.assertEqual(p.returncode, 0, p.stderr)
		body, _, code = p.stdout.rpartition("\n")
		return int(code), body

	def scrape(self, broker_id):
		"""{(name, frozenset(labels)): value} of one broker's page, parsed by prometheus_client."""
		code, text = self.scrape_text(broker_id)
		self.assertEqual(code, 200)
		out = {}
		for fam in text_string_to_metric_families(text):
			for s in fam.samples:
				out[(s.name, frozenset(s.labels.items()))] = s.value
		return out

	@staticmethod
	def value(m, name, **labels):
		return m.get((name, frozenset((k, str(v)) for k, v in labels.items())))

	def test_1_produce_run(self):
		leader = self.leader_of(TOPIC, 0)
		followers = [i for i in IDS if i != leader]
		stop = threading.Event()
		sent = [0]

		def produce():
			p = Producer({"bootstrap.servers": self.shared.bootstrap, "linger.ms": 5, "acks": "all"})
			while not stop.is_set():
				for _ in range(50):
					p.produce(TOPIC, value=b"x" * 100)
					sent[0] += 1
				p.flush(10)
				time.sleep(0.05)
			p.flush(30)
		t = threading.Thread(target=produce)
		t.start()
		try:
			h.wait_until(lambda: sent[0] >= 200, 60, "the producer to get going")
			m1 = self.scrape(leader)
			h.wait_until(lambda: sent[0] >= 1000, 60, "more produced")
			m2 = self.scrape(leader)
		finally:
			stop.set()
			t.join(60)
		name = "kafka_server_brokertopicmetrics_messagesin_total"
		in1, in2 = self.value(m1, name, topic=TOPIC), self.value(m2, name, topic=TOPIC)
		self.assertIsNotNone(in1)
		self.assertGreater(in1, 0)
		self.assertGreater(in2, in1, "messages in did not rise during the produce run")
		b1 = self.value(m1, "kafka_server_brokertopicmetrics_bytesin_total", topic=TOPIC)
		b2 = self.value(m2, "kafka_server_brokertopicmetrics_bytesin_total", topic=TOPIC)
		self.assertGreater(b2, b1)
		self.assertGreaterEqual(b2, in2 * 100, "bytes in counts at least the values")
		# The all-topics figure is at least the topic's.
		self.assertGreaterEqual(self.value(m2, name), in2)
		produce_reqs = sum(v for (n, l), v in m2.items()
				   if n == "kafka_network_requestmetrics_requests_total" and ("request", "Produce") in l)
		produce_reqs1 = sum(v for (n, l), v in m1.items()
				    if n == "kafka_network_requestmetrics_requests_total" and ("request", "Produce") in l)
		self.assertGreater(produce_reqs, produce_reqs1)
		cnt = self.value(m2, "kafka_network_requestmetrics_totaltimems_count", request="Produce")
		inf = self.value(m2, "kafka_network_requestmetrics_totaltimems_bucket", request="Produce", le="+Inf")
		self.assertGreater(cnt, 0)
		self.assertEqual(cnt, inf)
		self.assertGreater(self.value(m2, "kafka_network_requestmetrics_totaltimems_sum", request="Produce"), 0)
		idle = self.value(m2, "kafka_network_socketserver_networkprocessoravgidlepercent")
		self.assertTrue(0.0 <= idle <= 1.0, idle)

		# Everything produced, now read it all: bytes out of the topic grows by at least what was read.
		total = self.value(self.scrape(leader), "kafka_log_log_logendoffset", topic=TOPIC, partition=0)
		out1 = self.value(self.scrape(leader), "kafka_server_brokertopicmetrics_bytesout_total", topic=TOPIC) or 0
		c = Consumer({"bootstrap.servers": self.shared.bootstrap, "group.id": "metrics-reader",
			      "enable.auto.commit": False, "auto.offset.reset": "earliest"})
		c.assign([TopicPartition(TOPIC, 0, 0)])
		got, deadline = 0, time.time() + 60
		while got < total and time.time() < deadline:
			msg = c.poll(1)
			if msg is not None and not msg.error():
				got += 1
		c.close()
		self.assertEqual(got, total)
		out2 = self.value(self.scrape(leader), "kafka_server_brokertopicmetrics_bytesout_total", topic=TOPIC)
		self.assertGreaterEqual(out2 - out1, total * 100)

		for f in followers:
			mf = self.scrape(f)
			self.assertGreater(self.value(mf, "kafka_server_brokertopicmetrics_replicationbytesin_total"), 0)
			self.assertEqual(self.value(mf, "kafka_log_log_logendoffset", topic=TOPIC, partition=0), total)
		self.assertGreater(self.value(self.scrape(leader), "kafka_server_brokertopicmetrics_replicationbytesout_total"), 0)
		active = [i for i in IDS
			  if self.value(self.scrape(i), "kafka_controller_kafkacontroller_activecontrollercount") == 1]
		self.assertEqual(active, [self.shared.controller_id()])

	def test_2_isr_shrink_expand_and_offline(self):
		leader = self.leader_of(TOPIC, 0)
		ctl = self.shared.controller_id()
		victim = next(i for i in IDS if i not in (leader, ctl))
		# A topic whose one replica lives on the victim: offline while it is down.
		a = AdminClient({"bootstrap.servers": self.shared.bootstrap})
		for _, f in a.create_topics([NewTopic("alone", 1, -1, replica_assignment=[[victim]])], request_timeout=20).items():
			f.result(30)
		h.wait_until(lambda: self.leader_of("alone", 0) == victim, 60, "a leader for alone")
		m0 = self.scrape(leader)
		self.assertEqual(self.value(m0, "kafka_server_replicamanager_underreplicatedpartitions"), 0)
		self.assertEqual(self.value(self.scrape(ctl), "kafka_controller_kafkacontroller_offlinepartitionscount"), 0)
		shrinks0 = self.value(m0, "kafka_server_replicamanager_isrshrinks_total")
		expands0 = self.value(m0, "kafka_server_replicamanager_isrexpands_total")

		self.shared.broker(victim).kill()
		self.addCleanup(lambda: self.shared.broker(victim).alive() or self.shared.broker(victim).start())
		p = Producer({"bootstrap.servers": self.shared.bootstrap, "acks": 1})
		p.produce(TOPIC, value=b"while-down")
		p.flush(30)

		def urp():
			m = self.scrape(leader)
			seen = [self.value(m, "kafka_server_replicamanager_underreplicatedpartitions"),
				   self.value(m, "kafka_cluster_partition_underreplicated", topic=TOPIC, partition=0)]
			# __consumer_offsets partitions it leads are under-replicated too.
			if not (seen[0] >= 1 and seen[1] == 1):
				raise AssertionError("URP and partition gauge: %s" % seen)
			return True
		h.wait_until(urp, 60, "the leader to report an under-replicated partition")
		self.assertGreater(self.value(self.scrape(leader), "kafka_server_replicamanager_isrshrinks_total"), shrinks0)
		h.wait_until(lambda: self.value(self.scrape(ctl), "kafka_controller_kafkacontroller_offlinepartitionscount")
			     == 1, 60, "the controller to count alone-0 offline")

		self.shared.broker(victim).start()
		h.wait_until(lambda: self.value(self.scrape(leader), "kafka_server_replicamanager_underreplicatedpartitions")
			     == 0, 90, "the ISR to be whole again")
		self.assertGreater(self.value(self.scrape(leader), "kafka_server_replicamanager_isrexpands_total"), expands0)
		h.wait_until(lambda: self.value(self.scrape(ctl), "kafka_controller_kafkacontroller_offlinepartitionscount")
			     == 0, 60, "alone-0 back online")

	def test_3_consumer_lag(self):
		group = "lagging"
		p = Producer({"bootstrap.servers": self.shared.bootstrap, "acks": "all"})
		for i in range(20):
			p.produce(TOPIC, value=b"v%d" % i)
		p.flush(30)
		c = Consumer({"bootstrap.servers": self.shared.bootstrap, "group.id": group, "enable.auto.commit": False})
		c.commit(offsets=[TopicPartition(TOPIC, 0, 5)], asynchronous=False)
		c.close()

		def lags():
			out = {}
			for i in IDS:
				m = self.scrape(i)
				v = self.value(m, "kafka_consumergroup_lag", consumergroup=group, topic=TOPIC, partition=0)
				if v is not None:
					hw = self.value(m, "kafka_log_log_logendoffset", topic=TOPIC, partition=0)
					out[i] = (v, self.value(m, "kafka_consumergroup_current_offset", consumergroup=group,
								 topic=TOPIC, partition=0), hw)
			return out
		h.wait_until(lambda: lags(), 30, "a broker to report the group's lag")
		found = lags()
		self.assertEqual(len(found), 1, found)  # only the coordinator knows the group's offsets
		coordinator = next(iter(found))
		leo = self.value(self.scrape(self.leader_of(TOPIC, 0)), "kafka_log_log_logendoffset", topic=TOPIC, partition=0)

		def settled():
			lag, committed, _ = lags()[coordinator]
			if (lag, committed) != (leo - 5, 5):
				raise AssertionError("lag %s, committed %s, want %s and 5" % (lag, committed, leo - 5))
			return True
		# A follower's high watermark follows the leader's on its next fetch.
		h.wait_until(settled, 30, "the coordinator's lag to be the high watermark minus 5")
		self.assertGreaterEqual(leo - 5, 15)

	def test_4_log_size_and_paths(self):
		leader = self.leader_of(TOPIC, 0)
		b = self.shared.broker(leader)
		m = self.scrape(leader)
		files = glob.glob(os.path.join(b.props["log.dirs"], "%s-0" % TOPIC, "*.log"))
		on_disk = sum(os.path.getsize(f) for f in files)
		self.assertEqual(self.value(m, "kafka_log_log_size", topic=TOPIC, partition=0), on_disk)
		self.assertEqual(self.value(m, "kafka_log_log_numlogsegments", topic=TOPIC, partition=0), len(files))
		code, _ = self.scrape_text(leader, "/nothing")
		self.assertEqual(code, 404)
		code, text = self.scrape_text(leader, "/metrics?name[]=x")
		self.assertEqual(code, 200)
		self.assertIn("# TYPE kafka_server_brokertopicmetrics_messagesin_total counter", text)


if __name__ == "__main__":
	h.main()
