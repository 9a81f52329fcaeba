# bench/lib.sh: shared by bench/run and bench/run_replicated. Sourced, not run.
#
# The caller sets ROOT (the source tree), HOST (127.0.0.1) and BUILD (the build
# directory, BENCH_BUILD_DIR) before sourcing it, and owns the trap that stops what
# it started: nothing here installs a trap.

say() { printf '\n== %s\n' "$*" >&2; }

# Stop one process by pid: SIG (default TERM), up to 10 s, then KILL.
stop_pid() {
	local pid=$1 sig=${2:-TERM}
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -"$sig" "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
}

# A loopback port free now, below the ephemeral range (as tests/lib/cluster.py does),
# and none of the ports given as arguments (handed out earlier, not yet bound).
free_port() {
	python3 - "$@" <<'PY'
import random, socket, sys
taken = set(int(a) for a in sys.argv[1:] if a)
for _ in range(500):
    p = random.randint(20000, 32000)
    if p in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
PY
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# Build samsa -O2 without sanitizers in $BUILD and bench/samsa_bench.c next to it.
# Sets BENCH, SERVER and CLI.
bench_build() {
	say "build: samsa -O2 without sanitizers in $BUILD, samsa_bench"
	mkdir -p "$BUILD"
	if [ ! -x "$ROOT/configure" ]; then
		(cd "$ROOT" && autoreconf -fi) >"$BUILD/autoreconf.log" 2>&1
	fi
	if [ ! -f "$BUILD/Makefile" ]; then
		(cd "$BUILD" && "$ROOT/configure" CFLAGS="-O2 -g") >"$BUILD/configure.log" 2>&1 ||
			{ tail -n 30 "$BUILD/configure.log" >&2; return 1; }
	fi
	make -C "$BUILD" -j"$(nproc)" >"$BUILD/make.log" 2>&1 || { tail -n 40 "$BUILD/make.log" >&2; return 1; }
	BENCH=$BUILD/samsa_bench
	cc -O2 -g -Wall -Wextra -o "$BENCH" "$ROOT/bench/samsa_bench.c" -lrdkafka -lpthread -lm
	SERVER=$BUILD/src/samsa-server
	CLI=$BUILD/src/samsa
}

# broker_start DIR ID PORT ZK DATA [KEY=VALUE...]: write DIR/server.properties
# (Kafka's defaults but for what a private benchmark cluster needs, then the extra
# KEY=VALUE lines) and start $SERVER in the background, its output in DIR/broker.log.
# Sets STARTED_PID.
broker_start() {
	local dir=$1 id=$2 port=$3 zk=$4 data=$5
	shift 5
	mkdir -p "$dir"
	cat >"$dir/server.properties" <<EOF
broker.id=$id
listeners=PLAINTEXT://$HOST:$port
zookeeper.connect=$zk
zookeeper.session.timeout.ms=6000
zookeeper.connection.timeout.ms=30000
log.dirs=$data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
EOF
	[ $# -eq 0 ] || printf '%s\n' "$@" >>"$dir/server.properties"
	(cd "$dir" && exec "$SERVER" "$dir/server.properties" >"$dir/broker.log" 2>&1 </dev/null) &
	STARTED_PID=$!
}

# broker_wait PID HOST:PORT LOG: until the broker answers a topic listing
# (registered, controller up, port open); fails if it exits first.
broker_wait() {
	local pid=$1 boot=$2 log=$3
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || { echo "broker $pid exited; $log:" >&2; tail -n 40 "$log" >&2; return 1; }
		"$CLI" topics --bootstrap-server "$boot" --list >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "broker $pid at $boot not ready after 60 s; $log:" >&2
	tail -n 40 "$log" >&2
	return 1
}

# bench_one ARGS...: one samsa_bench workload; its RESULT line goes to $RESULTS and
# stderr. Uses $BENCH, $RESULTS and $WORK.
bench_one() {
	local out
	echo "+ samsa_bench $*" >&2
	out=$("$BENCH" "$@" 2>"$WORK/bench.err") || { cat "$WORK/bench.err" >&2; return 1; }
	grep -v '^%[0-9]|' "$WORK/bench.err" >&2 || true
	echo "$out" | grep '^RESULT ' | tee -a "$RESULTS" >&2
}
