"""Runs integration test files, each in its own /usr/bin/python3 process with a
time limit, and counts test cases.

  run.py [--results FILE] [--file-timeout SECONDS] tests/integration/test_x.py ...

Prints each test's outcome, then one summary line "integration tests: passed N, failed M,
skipped K"; with --results writes {"passed":N,"failed":M,"skipped":K,"failed_tests":[...]}.
Exits 1 if anything failed. A test file that crashes or overruns its time limit
counts every test case it did not report as failed. The limit is --file-timeout
(default 900 s, SAMSA_FILE_TIMEOUT) or, if longer, what the file asks for in a
line "# samsa-file-timeout: SECONDS".
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class CountingResult(unittest.TextTestResult):
	def __init__(self, *a, **kw):
		super().__init__(*a, **kw)
		self.outcomes = {}  # test id -> "pass" | "fail" | "skip"
		self.class_errors = []
		self.skipped_classes = set()  # "module.Class" whose setUpClass raised SkipTest

	def _set(self, test, outcome):
		if isinstance(test, unittest.TestCase):
			prev = self.outcomes.get(test.id())
			if prev == "fail":
				return  # a cleanup failing after a pass still fails the test
			self.outcomes[test.id()] = outcome
		else:  # setUpClass/tearDownClass/module fixture error
			self.class_errors.append(str(test))

	def addSuccess(self, test):
		super().addSuccess(test)
		self._set(test, "pass")

	def addFailure(self, test, err):
		super().addFailure(test, err)
		self._set(test, "fail")

	def addError(self, test, err):
		super().addError(test, err)
		if isinstance(test, unittest.TestCase):
			self.outcomes[test.id()] = "fail"
		else:
			self.class_errors.append(str(test))

	def addSkip(self, test, reason):
		super().addSkip(test, reason)
		if not isinstance(test, unittest.TestCase):
			# setUpClass raised SkipTest: unittest reports it once, as
			# "setUpClass (module.Class)"; every test of that class is skipped.
			desc = str(test)
			if desc.startswith("setUpClass (") and desc.endswith(")"):
				self.skipped_classes.add(desc[len("setUpClass ("):-1])
				return
		self._set(test, "skip")

	def addExpectedFailure(self, test, err):
		super().addExpectedFailure(test, err)
		self._set(test, "pass")

	def addUnexpectedSuccess(self, test):
		super().addUnexpectedSuccess(test)
		self._set(test, "fail")


def iter_tests(suite):
	for t in suite:
		if isinstance(t, unittest.TestSuite):
			yield from iter_tests(t)
		else:
			yield t


def load_file(path):
	name = os.path.splitext(os.path.basename(path))[0]
	sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
	sys.path.insert(0, HERE)
	spec = importlib.util.spec_from_file_location(name, path)
	mod = importlib.util.module_from_spec(spec)
	sys.modules[name] = mod
	spec.loader.exec_module(mod)
	return unittest.defaultTestLoader.loadTestsFromModule(mod)


def run_child(path, results):
	"""Run one file in this process and write its counts."""
	ids = []
	try:
		suite = load_file(path)
		ids = [t.id() for t in iter_tests(suite)]
		runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=CountingResult)
		res = runner.run(suite)
		outcomes = res.outcomes
		for i in ids:
			if i not in outcomes and i.rsplit(".", 1)[0] in res.skipped_classes:
				outcomes[i] = "skip"
		extra_fail = ["%s: %s" % (os.path.basename(path), e) for e in res.class_errors]
	except BaseException as e:  # import error, etc.
		print("ERROR loading/running %s: %r" % (path, e), flush=True)
		import traceback
		traceback.print_exc()
		outcomes = {}
		extra_fail = ["%s: %r" % (os.path.basename(path), e)] if not ids else []
	counts = summarize(ids, outcomes, extra_fail)
	with open(results, "w") as f:
		json.dump(counts, f)
	return counts


def summarize(ids, outcomes, extra_fail):
	passed = [i for i in ids if outcomes.get(i) == "pass"]
	skipped = [i for i in ids if outcomes.get(i) == "skip"]
	failed = [i for i in ids if outcomes.get(i) not in ("pass", "skip")]
	# A class fixture error with no test left to blame counts on its own.
	if extra_fail and not failed:
		failed = list(extra_fail)
	return {"passed": len(passed), "failed": len(failed), "skipped": len(skipped),
		"failed_tests": failed}


def file_timeout(path, default):
	"""A file may ask for a longer limit than the default with a line
	"# samsa-file-timeout: SECONDS" (a whole client test suite in one file)."""
	try:
		with open(path, errors="replace") as f:
			for line in f:
				if line.startswith("# samsa-file-timeout:"):
					return max(default, int(line.split(":", 1)[1]))
	except (OSError, ValueError):
		pass
	return default


def count_cases(path):
	"""Test ids of a file, for charging a crashed/overrun file."""
	code = ("import sys; sys.path.insert(0, %r); import run; "
		"print('\\n'.join(t.id() for t in run.iter_tests(run.load_file(%r))))" % (HERE, path))
	try:
		p = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
				stderr=subprocess.DEVNULL, universal_newlines=True, timeout=60)
		return [l for l in p.stdout.splitlines() if l.strip()]
	except Exception:
		return []


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("--results")
	ap.add_argument("--child", action="store_true")
	ap.add_argument("--file-timeout", type=int, default=int(os.environ.get("SAMSA_FILE_TIMEOUT", "900")))
	ap.add_argument("files", nargs="+")
	args = ap.parse_args()
	os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
	sys.dont_write_bytecode = True

	if args.child:
		c = run_child(args.files[0], args.results)
		sys.exit(0 if c["failed"] == 0 else 1)

	total = {"passed": 0, "failed": 0, "skipped": 0, "failed_tests": []}
	for path in args.files:
		print("==== %s" % path, flush=True)
		with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tf:
			rpath = tf.name
		t0 = time.monotonic()
		p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child",
				"--results", rpath, path], stdin=subprocess.DEVNULL)
		try:
			limit = file_timeout(path, args.file_timeout)
			rc = p.wait(timeout=limit)
		except subprocess.TimeoutExpired:
			# SIGTERM lets the harness kill its brokers and ZooKeeper first.
			print("TIMEOUT: %s exceeded %ds" % (path, limit), flush=True)
			p.terminate()
			try:
				rc = p.wait(timeout=90)
			except subprocess.TimeoutExpired:
				p.kill()
				rc = p.wait()
			try:
				os.unlink(rpath)  # partial results must not count
			except OSError:
				pass
		try:
			with open(rpath) as f:
				c = json.load(f)
		except (OSError, ValueError):
			ids = count_cases(path) or [os.path.basename(path)]
			print("%s did not report results (exit %s): counting %d test(s) as failed"
					% (path, rc, len(ids)), flush=True)
			c = {"passed": 0, "failed": len(ids), "skipped": 0, "failed_tests": ids}
		finally:
			try:
				os.unlink(rpath)
			except OSError:
				pass
		print("==== %s: passed %d, failed %d, skipped %d (%.0fs)"
				% (path, c["passed"], c["failed"], c["skipped"], time.monotonic() - t0), flush=True)
		for k in ("passed", "failed", "skipped"):
			total[k] += c[k]
		total["failed_tests"] += c["failed_tests"]

	if total["failed_tests"]:
		print("failed integration tests:")
		for t in total["failed_tests"]:
			print("  " + t)
	print("integration tests: passed %d, failed %d, skipped %d"
			% (total["passed"], total["failed"], total["skipped"]), flush=True)
	if args.results:
		with open(args.results, "w") as f:
			json.dump(total, f)
	sys.exit(0 if total["failed"] == 0 else 1)


if __name__ == "__main__":
	main()
