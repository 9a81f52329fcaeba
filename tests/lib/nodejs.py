"""Node.js clients for the tests: `npm ci` of a package.json and
package-lock.json kept in the tree, into a cache directory outside it
($SAMSA_NPM_CACHE, else ~/.cache/samsa/npm, then <name>-<lock digest>), so
node_modules is never written into the checkout. Install scripts are not run
and optional packages (kafka-node's native snappy) are left out.

The install is a dependency step, run by scripts/deps
(`python3 tests/lib/nodejs.py install`), so the tests themselves contact
nothing but loopback: a test whose packages are missing fails and says to run
scripts/deps."""

import hashlib
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cluster as h  # noqa: E402

# Every package set the tests use: (directory in the tree, cache name).
PACKAGE_SETS = (("tests/js", "kafkajs"), ("tests/compat/kafka-node", "kafka-node"))


def tools():
	"""(node, npm) or SkipTest."""
	node, npm = shutil.which("node"), shutil.which("npm")
	if not node or not npm:
		raise unittest.SkipTest("node/npm not installed (scripts/deps installs nodejs and npm)")
	return node, npm


def _dest(src_dir, name):
	with open(os.path.join(src_dir, "package-lock.json"), "rb") as f:
		digest = hashlib.sha256(f.read()).hexdigest()[:16]
	base = os.environ.get("SAMSA_NPM_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "samsa", "npm")
	return os.path.join(base, "%s-%s" % (name, digest))


def install(src_dir, name):
	"""npm ci of src_dir's package files into the cache (from the registry: a
	dependency step, not a test's). A finished install for the same lock file is
	reused. Returns the node_modules directory."""
	_, npm = tools()
	dest = _dest(src_dir, name)
	done = os.path.join(dest, ".installed")
	if not os.path.exists(done):
		shutil.rmtree(dest, ignore_errors=True)
		os.makedirs(dest)
		for f in ("package.json", "package-lock.json"):
			shutil.copy(os.path.join(src_dir, f), dest)
		p = h.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=optional"],
				cwd=dest, timeout=600)
		if p.returncode != 0:
			raise AssertionError("npm ci in %s failed:\n%s\n%s" % (dest, p.stdout[-2000:], p.stderr[-4000:]))
		open(done, "w").close()
	return os.path.join(dest, "node_modules")


def modules(src_dir, name):
	"""The installed node_modules for src_dir's lock file, for a test: fails
	(rather than downloading) when scripts/deps has not installed it."""
	tools()
	dest = _dest(src_dir, name)
	if not os.path.exists(os.path.join(dest, ".installed")):
		raise AssertionError("npm packages of %s are not installed in %s: run scripts/deps "
				"(python3 tests/lib/nodejs.py install)" % (src_dir, dest))
	return os.path.join(dest, "node_modules")


def run(script, args, node_modules, timeout=180):
	"""node script args..., with NODE_PATH at node_modules; returns the JSON of the
	last stdout line, or fails with stderr's tail."""
	import json
	node, _ = tools()
	env = dict(os.environ, NODE_PATH=node_modules)
	p = h.run([node, script] + [str(a) for a in args], timeout=timeout, env=env)
	if p.returncode != 0:
		raise AssertionError("node %s %s failed (%d):\n%s" % (os.path.basename(script), " ".join(map(str, args[:1])),
				p.returncode, p.stderr[-6000:]))
	lines = p.stdout.strip().splitlines()
	if not lines:
		raise AssertionError("node %s printed nothing:\n%s" % (script, p.stderr[-4000:]))
	return json.loads(lines[-1])


if __name__ == "__main__":
	if sys.argv[1:] != ["install"]:
		sys.exit("usage: nodejs.py install")
	for d, name in PACKAGE_SETS:
		print("npm packages of %s: %s" % (d, install(os.path.join(h.REPO, d), name)))
