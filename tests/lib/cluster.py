"""Integration-test harness: a private ZooKeeper plus N samsa-server processes.

Everything runs on 127.0.0.1 on free ports inside one temporary directory, and
every process is stopped by its pid at teardown, also when a test fails. A broker
that dies on its own, or whose log carries a sanitizer report, fails the test and
the report is printed.

Environment:
  SAMSA_SERVER     broker binary (default: <repo>/build-check/src/samsa-server)
  SAMSA_TEST_TMP   parent directory for test data (default: system temp dir)
  SAMSA_KEEP       keep every test directory, not only those of failed tests
  SAMSA_TEST_TIMEOUT  seconds one test case may take (default 240)
"""

import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import logging
logging.getLogger("kazoo").setLevel(logging.CRITICAL)

from kazoo.client import KazooClient  # noqa: E402  (Debian python3-kazoo)

HOST = "127.0.0.1"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZK_SCRIPT = os.path.join(REPO, "scripts", "zk")

SANITIZER_MARKERS = (
	"ERROR: AddressSanitizer",
	"ERROR: LeakSanitizer",
	"AddressSanitizer:DEADLYSIGNAL",
	"runtime error:",
	"SUMMARY: UndefinedBehaviorSanitizer",
	"WARNING: ThreadSanitizer",
)

# Sanitizer settings for brokers unless the caller already chose some.
DEFAULT_ASAN_OPTIONS = "detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_string_checks=1"
DEFAULT_UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1"


def server_binary():
	return os.environ.get("SAMSA_SERVER") or os.path.join(REPO, "build-check", "src", "samsa-server")


def log(msg):
	sys.stderr.write("[harness %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
	sys.stderr.flush()


# ---- small utilities ------------------------------------------------------------

_handed_out = set()


def free_port():
	"""A loopback TCP port that is free now. Chosen below the kernel's ephemeral
	range so that outgoing connections (e.g. a broker's own ZooKeeper session)
	cannot grab it between our check and the broker's bind."""
	for _ in range(500):
		port = random.randint(20000, 32000)
		if port in _handed_out:
			continue
		s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		try:
			s.bind((HOST, port))
		except OSError:
			continue
		finally:
			s.close()
		_handed_out.add(port)
		return port
	raise RuntimeError("no free port found")


def port_open(port, host=HOST, timeout=1.0):
	try:
		with socket.create_connection((host, port), timeout=timeout):
			return True
	except OSError:
		return False


def wait_until(fn, timeout, what, interval=0.1):
	"""Poll fn() until it returns something truthy; return that value. On timeout
	raise AssertionError naming `what` and fn's last result or exception."""
	deadline = time.monotonic() + timeout
	last = None
	while True:
		try:
			v = fn()
			if v:
				return v
			last = v
		except Exception as e:  # the condition may legitimately fail while waiting
			last = e
		if time.monotonic() >= deadline:
			raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
					% (timeout, what, last))
		time.sleep(interval)


def run(cmd, timeout=60, check=False, **kw):
	"""subprocess.run with captured text output and a mandatory timeout."""
	if "input" not in kw:
		kw["stdin"] = subprocess.DEVNULL
	return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
			universal_newlines=True, timeout=timeout, check=check, **kw)


def wait_leaders(bootstrap, name, partitions, leader, timeout=60):
	"""Until the metadata from `bootstrap` shows topic `name` with `partitions`
	partitions, every one led by broker `leader` (by some broker if None)."""
	from confluent_kafka.admin import AdminClient  # only the tests that create topics need it
	a = AdminClient({"bootstrap.servers": bootstrap})

	def led():
		t = a.list_topics(name, timeout=10).topics.get(name)
		return t is not None and t.error is None and len(t.partitions) == partitions and all(
			p.leader == leader if leader is not None else p.leader >= 0 for p in t.partitions.values())
	wait_until(led, timeout, "leaders for %s" % name)


def create_topic(bootstrap, name, partitions, leader, config=None, timeout=60):
	"""CreateTopics (replication factor 1, `config` as topic configs) through
	confluent-kafka's AdminClient, then wait_leaders."""
	from confluent_kafka.admin import AdminClient, NewTopic
	a = AdminClient({"bootstrap.servers": bootstrap})
	for _, f in a.create_topics([NewTopic(name, partitions, 1, config=config or {})], request_timeout=20).items():
		f.result(30)
	wait_leaders(bootstrap, name, partitions, leader, timeout)


def kcat(*args, timeout=30):
	return run(["kcat"] + list(args), timeout=timeout)


def kcat_metadata_json(bootstrap, timeout_s=10):
	"""kcat -L -J against bootstrap; returns the parsed JSON or raises."""
	p = kcat("-b", bootstrap, "-L", "-J", "-m", str(timeout_s), timeout=timeout_s + 20)
	if p.returncode != 0:
		raise AssertionError("kcat -L -J failed (%d): %s" % (p.returncode, p.stderr))
	return json.loads(p.stdout)


def tail(path, lines=80):
	try:
		with open(path, errors="replace") as f:
			data = f.read().splitlines()
	except OSError as e:
		return "<cannot read %s: %s>" % (path, e)
	return "\n".join(data[-lines:])


def sanitizer_report_spans(text):
	"""[(line number, excerpt)] of the sanitizer reports in a log text."""
	lines = text.splitlines()
	out = []
	i = 0
	while i < len(lines):
		if any(m in lines[i] for m in SANITIZER_MARKERS):
			out.append((i, "\n".join(lines[i:i + 60])))
			i += 60
		else:
			i += 1
	return out


def sanitizer_reports(text):
	"""The sanitizer report excerpts found in a log text."""
	return [rep for _, rep in sanitizer_report_spans(text)]


def samsa_cli(*args, timeout=60):
	"""Runs the samsa admin tool built beside the broker (args: its subcommand and
	options) and returns the CompletedProcess; a sanitizer report fails the test."""
	exe = os.path.join(os.path.dirname(server_binary()), "samsa")
	env = dict(os.environ)
	env.setdefault("ASAN_OPTIONS", DEFAULT_ASAN_OPTIONS)
	env.setdefault("UBSAN_OPTIONS", DEFAULT_UBSAN_OPTIONS)
	p = subprocess.run([exe] + list(args), capture_output=True, text=True, errors="replace", timeout=timeout,
			env=env)
	reports = sanitizer_reports(p.stderr)
	if reports:
		raise AssertionError("sanitizer report from samsa %s:\n%s" % (" ".join(args[:1]), reports[0]))
	return p


class BrokerDied(AssertionError):
	pass


# Clusters not yet stopped; killed outright if this process is told to stop
# (the runner sends SIGTERM when a test file overruns its time limit).
_LIVE = set()


def _emergency_stop(signum, frame):
	log("signal %d: killing %d live cluster(s)" % (signum, len(_LIVE)))
	for c in list(_LIVE):
		c.emergency_stop()
	os._exit(128 + signum)


def _at_exit():
	for c in list(_LIVE):
		c.emergency_stop()


signal.signal(signal.SIGTERM, _emergency_stop)
atexit.register(_at_exit)


# ---- ZooKeeper ------------------------------------------------------------------

class ZooKeeper:
	"""A standalone ZooKeeper (or ensemble) run through scripts/zk."""

	def __init__(self, directory, ensemble=None):
		self.dir = directory
		self.ensemble = ensemble
		self.connect = None
		self.started = False

	def start(self, timeout=120):
		if not os.access(ZK_SCRIPT, os.X_OK):
			raise AssertionError("%s is missing or not executable" % ZK_SCRIPT)
		cmd = [ZK_SCRIPT, "start", "--dir", self.dir]
		if self.ensemble:
			cmd += ["--ensemble", str(self.ensemble)]
		else:
			cmd += ["--port", str(free_port())]
		self.started = True  # from here on, teardown must run `zk stop`
		p = run(cmd, timeout=timeout)
		if p.returncode != 0:
			raise AssertionError("scripts/zk start failed (%d):\n%s\n%s"
					% (p.returncode, p.stdout, p.stderr))
		lines = [l.strip() for l in p.stdout.splitlines() if l.strip()]
		if not lines:
			raise AssertionError("scripts/zk start printed no connect string:\n%s" % p.stderr)
		self.connect = lines[-1]
		return self.connect

	def stop(self, timeout=60):
		if not self.started:
			return
		self.started = False
		p = run([ZK_SCRIPT, "stop", "--dir", self.dir], timeout=timeout)
		if p.returncode != 0:
			log("scripts/zk stop failed (%d): %s %s" % (p.returncode, p.stdout, p.stderr))

	def logs(self):
		found = []
		for root, _dirs, files in os.walk(self.dir):
			for f in files:
				if f.endswith((".log", ".out")):
					found.append(os.path.join(root, f))
		return sorted(found)


# ---- broker ---------------------------------------------------------------------

class Broker:
	def __init__(self, cluster, broker_id, port, props):
		self.cluster = cluster
		self.id = broker_id
		self.port = port
		self.dir = os.path.join(cluster.dir, "broker-%s" % broker_id)
		self.data_dir = os.path.join(self.dir, "data")
		self.config_path = os.path.join(self.dir, "server.properties")
		self.log_path = os.path.join(self.dir, "broker.log")
		self.props = props
		# Environment for this broker only (e.g. ASAN_OPTIONS for a memory test), over the runner's.
		self.extra_env = {}
		self.proc = None
		self.expected_running = False
		self.starts = 0
		os.makedirs(self.data_dir, exist_ok=True)

	@property
	def address(self):
		return "%s:%d" % (HOST, self.port)

	@property
	def pid(self):
		return self.proc.pid if self.proc else None

	def write_config(self):
		with open(self.config_path, "w") as f:
			f.write("# written by tests/lib/cluster.py\n")
			for k, v in self.props.items():
				f.write("%s=%s\n" % (k, v))

	def start(self, wait=True, timeout=60, extra_args=()):
		if self.alive():
			raise RuntimeError("broker %s already running (pid %d)" % (self.id, self.pid))
		self.write_config()
		env = dict(os.environ)
		env.setdefault("ASAN_OPTIONS", DEFAULT_ASAN_OPTIONS)
		env.setdefault("UBSAN_OPTIONS", DEFAULT_UBSAN_OPTIONS)
		env.update(self.extra_env)
		self.starts += 1
		logf = open(self.log_path, "a")
		logf.write("==== harness: start #%d of broker %s at %s ====\n"
				% (self.starts, self.id, time.strftime("%H:%M:%S")))
		logf.flush()
		try:
			self.proc = subprocess.Popen([server_binary(), self.config_path] + list(extra_args),
					stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
					env=env, cwd=self.dir, start_new_session=True)
		finally:
			logf.close()
		self.expected_running = True
		if wait:
			self.wait_ready(timeout)
		return self

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	def registered(self):
		return self.cluster.zk.exists(self.cluster.zpath("/brokers/ids/%s" % self.id)) is not None

	def wait_ready(self, timeout=60):
		"""Wait until the broker's /brokers/ids/<id> exists and its port accepts."""
		def ready():
			if not self.alive():
				raise BrokerDied("broker %s exited with %s during startup; log:\n%s"
						% (self.id, self.proc.returncode, tail(self.log_path)))
			return self.registered() and port_open(self.port)
		deadline = time.monotonic() + timeout
		while True:
			if ready():
				return
			if time.monotonic() >= deadline:
				raise AssertionError("broker %s not ready after %ds (registered=%s, port open=%s); log:\n%s"
						% (self.id, timeout, self.registered(), port_open(self.port),
							tail(self.log_path)))
			time.sleep(0.1)

	def signal(self, sig):
		if self.alive():
			os.kill(self.proc.pid, sig)

	def kill(self):
		"""SIGKILL, as a crash would."""
		self.expected_running = False
		self.signal(signal.SIGKILL)
		self.proc.wait(timeout=30)

	def pause(self):
		self.signal(signal.SIGSTOP)

	def resume(self):
		self.signal(signal.SIGCONT)

	def terminate(self, timeout=30):
		"""SIGTERM and wait; returns a problem string or None. A broker that
		ignores SIGTERM past `timeout` is killed and reported."""
		self.expected_running = False
		if self.proc is None or self.proc.poll() is not None:
			return None
		os.kill(self.proc.pid, signal.SIGCONT)  # in case it was paused
		os.kill(self.proc.pid, signal.SIGTERM)
		try:
			rc = self.proc.wait(timeout=timeout)
		except subprocess.TimeoutExpired:
			os.kill(self.proc.pid, signal.SIGKILL)
			self.proc.wait(timeout=30)
			return "broker %s did not exit within %ds of SIGTERM" % (self.id, timeout)
		if rc not in (0, -signal.SIGTERM):
			return "broker %s exited with status %s after SIGTERM" % (self.id, rc)
		return None

	def restart(self, wait=True, timeout=60):
		problem = self.terminate()
		if problem:
			raise AssertionError(problem)
		return self.start(wait=wait, timeout=timeout)

	def log_text(self):
		try:
			with open(self.log_path, errors="replace") as f:
				return f.read()
		except OSError:
			return ""


# ---- cluster --------------------------------------------------------------------

class Cluster:
	"""A ZooKeeper and brokers with ids first_id..first_id+brokers-1.

	props: server.properties entries for every broker (override defaults);
	broker_props: {id: {key: value}} per-broker entries;
	chroot: e.g. "/samsa" to use zookeeper.connect=host:port/samsa.
	"""

	def __init__(self, brokers=1, first_id=1, props=None, broker_props=None, chroot=None,
			session_timeout_ms=6000, name="cluster", zk_ensemble=None):
		base = os.environ.get("SAMSA_TEST_TMP") or None
		if base:
			os.makedirs(base, exist_ok=True)
		safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-60:]
		self.dir = tempfile.mkdtemp(prefix="samsa-%s-" % safe, dir=base)
		self.n = brokers
		self.first_id = first_id
		self.props = dict(props or {})
		self.broker_props = dict(broker_props or {})
		self.chroot = chroot or ""
		self.session_timeout_ms = session_timeout_ms
		self.zookeeper = ZooKeeper(os.path.join(self.dir, "zookeeper"), zk_ensemble)
		self.zk = None
		self.brokers = {}
		self._reported = set()
		self.stopped = False

	# -- addressing --

	def zpath(self, path):
		return self.chroot + path if path != "/" else (self.chroot or "/")

	@property
	def zk_connect(self):
		return self.zookeeper.connect + self.chroot

	@property
	def bootstrap(self):
		return ",".join(b.address for b in self.brokers.values() if b.expected_running) \
			or ",".join(b.address for b in self.brokers.values())

	def broker(self, broker_id):
		return self.brokers[broker_id]

	def live_brokers(self):
		return [b for b in self.brokers.values() if b.expected_running]

	# -- lifecycle --

	def start(self, timeout=90):
		_LIVE.add(self)
		self.zookeeper.start()
		log("zookeeper at %s (dir %s)" % (self.zookeeper.connect, self.dir))
		self.zk = KazooClient(hosts=self.zookeeper.connect, timeout=10.0)
		self.zk.start(timeout=30)
		for i in range(self.first_id, self.first_id + self.n):
			self.add_broker(i, start=False)
		for b in self.brokers.values():
			b.start(wait=False)
		for b in self.brokers.values():
			b.wait_ready(timeout)
		self.wait_metadata(timeout)
		return self

	def wait_metadata(self, timeout=60):
		"""Until every running broker's Metadata lists every running broker: the
		controller's UpdateMetadata has reached them all. Before that a broker
		knows no brokers, as in Kafka, and cannot place a new topic."""
		import kproto
		want = sorted(int(b.props.get("broker.id", b.id)) for b in self.brokers.values() if b.alive())

		def seen():
			for b in self.brokers.values():
				if not b.alive():
					continue
				try:
					md = kproto.metadata(HOST, b.port, topics=[], timeout=5)
				except (OSError, kproto.ProtocolError):
					return False
				if sorted(x["node_id"] for x in md["brokers"]) != want:
					return False
			return True
		wait_until(seen, timeout, "every broker's metadata to list brokers %s" % want)

	def broker_config(self, broker_id, port, extra=None):
		props = {
			"broker.id": broker_id,
			"listeners": "PLAINTEXT://%s:%d" % (HOST, port),
			"zookeeper.connect": self.zk_connect,
			"zookeeper.session.timeout.ms": self.session_timeout_ms,
			"zookeeper.connection.timeout.ms": 30000,
			"log.dirs": None,  # filled in below, per broker
			"num.partitions": 1,
			"default.replication.factor": 1,
			"offsets.topic.replication.factor": 1,
			"transaction.state.log.replication.factor": 1,
			"transaction.state.log.min.isr": 1,
			"auto.create.topics.enable": "false",
			"group.initial.rebalance.delay.ms": 0,
			"controlled.shutdown.retry.backoff.ms": 200,
		}
		props.update(self.props)
		props.update(self.broker_props.get(broker_id, {}))
		props.update(extra or {})
		return props

	def add_broker(self, broker_id, props=None, start=True, wait=True, port=None):
		"""Create (and by default start) a broker. Its id need not be unique:
		tests of duplicate registration add a second broker with a used id
		under another key via props={'broker.id': n}."""
		port = port or free_port()
		key = broker_id
		while key in self.brokers:
			key = "%s-dup%d" % (broker_id, len(self.brokers))
		b = Broker(self, key, port, {})
		b.props = self.broker_config(broker_id, port, props)
		if b.props.get("log.dirs") is None:
			b.props["log.dirs"] = b.data_dir
		self.brokers[key] = b
		if start:
			b.start(wait=wait)
		return b

	def partition_state(self, topic, partition):
		"""The partition state znode, as a dict (leader, leader_epoch, isr, ...)."""
		data, _ = self.zk.get(self.zpath("/brokers/topics/%s/partitions/%d/state" % (topic, partition)))
		return json.loads(data.decode())

	def controller_id(self):
		"""brokerid from /controller, or None if there is no controller."""
		try:
			data, _ = self.zk.get(self.zpath("/controller"))
		except Exception:
			return None
		return json.loads(data.decode())["brokerid"]

	def controller_epoch(self):
		data, _ = self.zk.get(self.zpath("/controller_epoch"))
		return int(data.decode())

	def registered_ids(self):
		return sorted(int(c) for c in self.zk.get_children(self.zpath("/brokers/ids")))

	def check(self):
		"""Problems not reported before: brokers that died on their own, and
		sanitizer reports in any broker log."""
		problems = []
		for b in self.brokers.values():
			if b.expected_running and b.proc is not None and b.proc.poll() is not None:
				key = ("died", b.id, b.starts)
				if key not in self._reported:
					self._reported.add(key)
					problems.append("broker %s (pid %d) died unexpectedly with status %s; log tail:\n%s"
							% (b.id, b.proc.pid, b.proc.returncode, tail(b.log_path)))
			for line, rep in sanitizer_report_spans(b.log_text()):
				key = ("san", b.id, line)
				if key not in self._reported:
					self._reported.add(key)
					problems.append("sanitizer report in broker %s log (%s):\n%s"
							% (b.id, b.log_path, rep))
		return problems

	def stop(self):
		"""Stop every broker (SIGTERM, then SIGKILL) and ZooKeeper, by pid.
		Returns the list of problems found (never raises)."""
		if self.stopped:
			return []
		self.stopped = True
		_LIVE.discard(self)
		problems = self.check()
		for b in self.brokers.values():
			try:
				p = b.terminate()
				if p:
					problems.append(p + "; log tail:\n" + tail(b.log_path))
			except Exception as e:
				problems.append("stopping broker %s: %r" % (b.id, e))
		problems += self.check()  # leaks are reported at exit
		if self.zk is not None:
			try:
				self.zk.stop()
				self.zk.close()
			except Exception:
				pass
		try:
			self.zookeeper.stop()
		except Exception as e:
			problems.append("stopping zookeeper: %r" % (e,))
		return problems

	def emergency_stop(self):
		"""SIGKILL every broker and stop ZooKeeper; for abnormal exits only."""
		_LIVE.discard(self)
		self.stopped = True
		for b in self.brokers.values():
			if b.alive():
				try:
					os.kill(b.proc.pid, signal.SIGKILL)
				except OSError:
					pass
		try:
			self.zookeeper.stop(timeout=30)
		except Exception:
			pass
		log("emergency stop of %s; kept for inspection" % self.dir)

	def dump_logs(self, out=sys.stderr, lines=120):
		out.write("---- logs of %s ----\n" % self.dir)
		for b in self.brokers.values():
			out.write("---- broker %s (%s), last %d lines ----\n%s\n"
					% (b.id, b.log_path, lines, tail(b.log_path, lines)))
		for path in self.zookeeper.logs():
			out.write("---- zookeeper %s, last 30 lines ----\n%s\n" % (path, tail(path, 30)))
		out.flush()

	def remove(self):
		shutil.rmtree(self.dir, ignore_errors=True)


# ---- unittest integration ------------------------------------------------------

class TestTimeout(AssertionError):
	pass


def _alarm(signum, frame):
	raise TestTimeout("test exceeded its time limit")


class ClusterTestCase(unittest.TestCase):
	"""Base class: per-test clusters via self.start_cluster(), or one cluster
	per class via cls.start_shared_cluster() in setUpClass. Each test has a
	time limit (SAMSA_TEST_TIMEOUT, default 240 s) enforced with SIGALRM."""

	shared = None

	@classmethod
	def start_shared_cluster(cls, **kw):
		kw.setdefault("name", cls.__name__)
		c = Cluster(**kw)
		cls.shared = c
		try:
			c.start()
		except BaseException:
			problems = c.stop()
			c.dump_logs()
			for p in problems:
				sys.stderr.write(p + "\n")
			cls.shared = None
			raise
		return c

	@classmethod
	def tearDownClass(cls):
		c = cls.shared
		if c is None:
			return
		cls.shared = None
		problems = c.stop()
		if problems or getattr(cls, "_any_failed", False):
			c.dump_logs()
		if not problems and not os.environ.get("SAMSA_KEEP") and not getattr(cls, "_any_failed", False):
			c.remove()
		else:
			log("kept %s" % c.dir)
		if problems:
			raise AssertionError("\n\n".join(problems))

	def setUp(self):
		signal.signal(signal.SIGALRM, _alarm)
		signal.alarm(int(os.environ.get("SAMSA_TEST_TIMEOUT", "240")))
		self.addCleanup(signal.alarm, 0)
		if self.shared is not None:
			self.addCleanup(self._check_shared)

	def _failed(self):
		"""Whether this test has failed so far.  Asked from cleanups, where unittest's
		outcome.success cannot tell (it is reset to True for each cleanup), so look at
		what the result recorded against this test (or one of its subtests)."""
		result = getattr(getattr(self, "_outcome", None), "result", None)
		if result is None:
			return True
		return any(getattr(t, "test_case", t) is self for t, _ in list(result.failures) + list(result.errors))

	def _check_shared(self):
		problems = self.shared.check() if self.shared is not None else []
		if self._failed() or problems:
			type(self)._any_failed = True
		if problems:
			self.fail("\n\n".join(problems))

	def start_cluster(self, **kw):
		kw.setdefault("name", self.id().split(".")[-1])
		c = Cluster(**kw)
		self.addCleanup(self._stop_cluster, c)
		c.start()
		return c

	def _stop_cluster(self, c):
		problems = c.stop()
		failed = self._failed() or bool(problems)
		if failed:
			c.dump_logs()
		if failed or os.environ.get("SAMSA_KEEP"):
			log("kept %s" % c.dir)
		else:
			c.remove()
		if problems:
			self.fail("\n\n".join(problems))


def main():
	"""unittest.main() for a test file run on its own."""
	unittest.main(verbosity=2)
