# samsa-file-timeout: 3600
"""The Debian package, end to end, on this machine (needs root and apt-get):

1. debian/ builds with `dpkg-buildpackage -us -uc` from a copy of the tracked
   tree. lintian reports no errors on the result.
2. `dpkg -i` installs the package. It lays out /usr/bin/samsa-server,
   /usr/bin/samsa, /etc/samsa/server.properties, the man pages and
   /lib/systemd/system/samsa.service (enabled, not started: the broker needs
   its ZooKeeper first), and creates the samsa system user.
3. The unit's ExecStart runs as the unit's User= against a test ZooKeeper on
   loopback, with --override for the ports and the log dir. Where systemd is
   PID 1 this goes through `systemctl start` with a drop-in; elsewhere (a
   container) the unit's command line runs by hand with runuser.
4. kcat produces three records and reads them back.
5. SIGTERM (what `systemctl stop` sends) makes the broker shut down cleanly:
   it exits with status 0, its log shows the controlled shutdown and
   "shut down completed", the log dir has Kafka's .kafka_cleanshutdown marker
   (written as the samsa user), and its /brokers/ids znode is gone.
6. The package is purged again (SAMSA_KEEP_DEB=1 keeps it). The samsa user
   stays, as Debian's packages leave system users behind.

Not part of scripts/check: it installs into the machine and takes minutes.
.ci/run runs it after scripts/check.

    sudo /usr/bin/python3 tests/packaging/test_deb.py"""

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import cluster as h  # noqa: E402

UNIT = "/lib/systemd/system/samsa.service"


def sh(cmd, timeout=1800, check=True, **kw):
	h.log("$ " + (cmd if isinstance(cmd, str) else " ".join(cmd)))
	p = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, timeout=timeout, **kw)
	if check and p.returncode != 0:
		raise AssertionError("%s failed (%d):\n%s\n%s" % (cmd, p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
	return p


def unit_value(text, key):
	m = re.search(r"^%s=(.*)$" % re.escape(key), text, re.M)
	return m.group(1).strip() if m else None


class DebPackage(unittest.TestCase):
	@classmethod
	def setUpClass(cls):
		if os.geteuid() != 0:
			raise unittest.SkipTest("installs a package: run as root")
		if not shutil.which("apt-get"):
			raise unittest.SkipTest("no apt-get: not a Debian system")
		sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q debhelper lintian dpkg-dev kcat", timeout=1800)
		base = os.environ.get("SAMSA_TEST_TMP")
		if base:
			os.makedirs(base, exist_ok=True)
		cls.work = tempfile.mkdtemp(prefix="samsa-deb-", dir=base)
		src = os.path.join(cls.work, "samsa-0.1.0")
		os.makedirs(src)
		files = sh(["git", "-C", ROOT, "ls-files", "-z"]).stdout.split("\0")
		for f in files:
			if not f or not os.path.lexists(os.path.join(ROOT, f)):
				continue
			os.makedirs(os.path.dirname(os.path.join(src, f)), exist_ok=True)
			shutil.copy2(os.path.join(ROOT, f), os.path.join(src, f), follow_symlinks=False)
		env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
		p = sh(["dpkg-buildpackage", "-us", "-uc"], cwd=src, env=env, timeout=3600)
		with open(os.path.join(cls.work, "build.log"), "w") as f:
			f.write(p.stdout + p.stderr)
		debs = glob.glob(os.path.join(cls.work, "samsa_*.deb"))
		if len(debs) != 1:
			raise AssertionError("expected one samsa .deb in %s, found %s" % (cls.work, debs))
		cls.deb = debs[0]
		cls.changes = glob.glob(os.path.join(cls.work, "samsa_*.changes"))[0]

	@classmethod
	def tearDownClass(cls):
		if getattr(cls, "installed", False) and not os.environ.get("SAMSA_KEEP_DEB"):
			sh(["dpkg", "--purge", "samsa"], check=False)
		if not os.environ.get("SAMSA_KEEP"):
			shutil.rmtree(cls.work, ignore_errors=True)

	def test_1_lintian(self):
		p = sh(["lintian", "--no-tag-display-limit", self.changes], check=False)
		h.log(p.stdout)
		errors = [l for l in p.stdout.splitlines() if l.startswith("E:")]
		self.assertEqual(errors, [], p.stdout)
		self.assertIn(p.returncode, (0, 1, 2), p.stderr)

	def test_2_install_run_stop(self):
		sh(["dpkg", "-i", self.deb])
		type(self).installed = True
		for path in ("/usr/bin/samsa-server", "/usr/bin/samsa", "/etc/samsa/server.properties", UNIT,
			     "/usr/share/man/man8/samsa-server.8.gz", "/usr/share/man/man1/samsa.1.gz"):
			self.assertTrue(os.path.exists(path), path)
		# Enabled (deb-systemd-helper links it even where systemd is not running), not started.
		self.assertTrue(os.path.islink("/etc/systemd/system/multi-user.target.wants/samsa.service"))
		user = pwd.getpwnam("samsa")
		self.assertLess(user.pw_uid, 1000)  # a system user
		self.assertIn(sh(["dpkg-query", "-W", "-f=${Conffiles}", "samsa"]).stdout.strip().split()[0],
			      "/etc/samsa/server.properties")
		with open(UNIT) as f:
			unit = f.read()
		exec_start = unit_value(unit, "ExecStart")
		self.assertEqual(unit_value(unit, "User"), "samsa")
		self.assertEqual(unit_value(unit, "KillSignal"), "SIGTERM")
		self.assertEqual(exec_start, "/usr/bin/samsa-server /etc/samsa/server.properties")
		self.assertEqual(sh(["/usr/bin/samsa-server", "--version"]).stdout.strip(), "samsa-server 0.1.0")

		zk = h.ZooKeeper(os.path.join(self.work, "zookeeper"))
		self.addCleanup(zk.stop)
		connect = zk.start()
		port = h.free_port()
		logdir = os.path.join(self.work, "data")
		os.makedirs(logdir)
		os.chmod(self.work, 0o755)
		os.chown(logdir, user.pw_uid, user.pw_gid)
		overrides = ["--override", "zookeeper.connect=%s" % connect,
			     "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % port,
			     "--override", "log.dirs=%s" % logdir,
			     "--override", "broker.id=7",
			     "--override", "auto.create.topics.enable=true"]
		log_path = os.path.join(self.work, "broker.log")
		if os.path.isdir("/run/systemd/system"):
			self.run_with_systemd(exec_start, overrides, port, logdir, connect)
			return
		# No systemd here: the unit's command line, by hand, as its user.
		out = open(log_path, "w")
		proc = subprocess.Popen(["runuser", "-u", "samsa", "--"] + exec_start.split() + overrides,
					stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
		out.close()

		def stop():
			if proc.poll() is None:
				os.kill(proc.pid, signal.SIGKILL)
				proc.wait()
		self.addCleanup(stop)
		h.wait_until(lambda: proc.poll() is None and h.port_open(port), 60, "the packaged broker to listen")
		owner = sh(["ps", "-o", "user=", "-p", str(self.server_pid(proc.pid))]).stdout.strip()
		self.assertEqual(owner, "samsa")
		self.produce_consume(port)
		os.kill(self.server_pid(proc.pid), signal.SIGTERM)
		rc = proc.wait(timeout=120)
		text = open(log_path).read()
		self.assertEqual(rc, 0, text[-3000:])
		self.assertIn("Received SIGTERM, shutting down", text)
		self.assertIn("Controlled shutdown request returned successfully", text)
		self.assertIn("shut down completed", text)
		self.assertFalse(re.search(r"ERROR|AddressSanitizer", text), text[-3000:])
		# Kafka's clean-shutdown marker: the next start needs no log recovery.
		self.assertTrue(os.path.exists(os.path.join(logdir, ".kafka_cleanshutdown")))
		self.assertEqual(os.stat(os.path.join(logdir, "meta.properties")).st_uid, user.pw_uid)
		self.assertNotIn("7", self.zk_children(connect, "/brokers/ids"))

	def server_pid(self, runuser_pid):
		"""runuser forks the command: the broker is its child."""
		p = sh(["pgrep", "-P", str(runuser_pid)], check=False)
		kids = [int(x) for x in p.stdout.split()]
		return kids[0] if kids else runuser_pid

	def zk_children(self, connect, path):
		from kazoo.client import KazooClient
		zk = KazooClient(hosts=connect, timeout=10.0)
		zk.start(timeout=30)
		try:
			return zk.get_children(path)
		finally:
			zk.stop()
			zk.close()

	def produce_consume(self, port):
		b = "127.0.0.1:%d" % port
		topic = "packaged"
		p = subprocess.run(["kcat", "-b", b, "-P", "-t", topic, "-p", "0"], input="one\ntwo\nthree\n", text=True,
				   capture_output=True, timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		p = subprocess.run(["kcat", "-b", b, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q"],
				   text=True, capture_output=True, timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stdout.split(), ["one", "two", "three"])

	def run_with_systemd(self, exec_start, overrides, port, logdir, connect):
		d = "/run/systemd/system/samsa.service.d"
		os.makedirs(d, exist_ok=True)
		with open(os.path.join(d, "test.conf"), "w") as f:
			f.write("[Service]\nExecStart=\nExecStart=%s %s\nReadWritePaths=%s\n"
				% (exec_start, " ".join(overrides), logdir))
		self.addCleanup(lambda: (shutil.rmtree(d, ignore_errors=True), sh(["systemctl", "daemon-reload"])))
		sh(["systemctl", "daemon-reload"])
		sh(["systemctl", "start", "samsa"])
		self.addCleanup(lambda: sh(["systemctl", "stop", "samsa"], check=False))
		h.wait_until(lambda: h.port_open(port), 60, "the samsa service to listen")
		self.produce_consume(port)
		sh(["systemctl", "stop", "samsa"])
		show = sh(["systemctl", "show", "-p", "ExecMainStatus", "-p", "Result", "samsa"]).stdout
		self.assertIn("Result=success", show)
		self.assertIn("ExecMainStatus=0", show)
		self.assertNotIn("7", self.zk_children(connect, "/brokers/ids"))


if __name__ == "__main__":
	h.main()
