// kafka-node against samsa (tests/compat/test_kafka_node.py). Each subcommand
// prints one JSON line on stdout; kafka-node's own output goes to stderr.
//
//   node run.js produce BROKER TOPIC PARTITIONS N ACKS ATTRIBUTES VERSIONS BATCH
//   node run.js consume BROKER TOPIC COUNTS VERSIONS GROUP
//   node run.js group BROKER TOPIC GROUP PARTITIONS N VERSIONS
//
// VERSIONS is "negotiated" (KafkaClient asks ApiVersions and uses the newest
// version both sides know) or "old": the client ids start with kn-old-, whose
// ApiVersions request the test's relay swallows, so kafka-node gives up after
// its versions.requestTimeout (500 ms) and falls back to its fixed Kafka 0.9
// set, as against a broker older than 0.10. (versions.disabled would be the
// direct way, but kafka-node 5.0.0 then never marks the broker ready and hangs.)
// COUNTS is the message count of each partition, comma-separated.
'use strict';

const kafka = require('kafka-node');

const [cmd, broker, topic, ...rest] = process.argv.slice(2);

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function fail(what, err) {
  process.stderr.write(`run.js ${cmd}: ${what}: ${err && err.stack ? err.stack : JSON.stringify(err)}\n`);
  process.exit(1);
}

function clientId(name, versions) {
  return (versions === 'old' ? 'kn-old-' : 'kn-') + name;
}

// Negotiated: a generous ApiVersions timeout, so a slow broker does not send
// kafka-node to its fallback set by accident.
function versionOptions(versions) {
  return { disabled: false, requestTimeout: versions === 'old' ? 500 : 20000 };
}

function client(name, versions) {
  return new kafka.KafkaClient({
    kafkaHost: broker, clientId: clientId(name, versions), connectTimeout: 10000, requestTimeout: 30000,
    versions: versionOptions(versions),
  });
}

function watchdog(seconds, what) {
  return setTimeout(() => fail('timed out', what()), seconds * 1000);
}

function msgOut(m, member) {
  const o = { key: m.key === null || m.key === undefined ? null : m.key.toString(), value: m.value,
    partition: m.partition, offset: Number(m.offset),
    timestamp: m.timestamp ? m.timestamp.getTime() : null };
  if (member !== undefined) o.member = member;
  return o;
}

// Messages of round r: key kn-k<i>, a value long enough for gzip to matter,
// partition i % P and the timestamp base + i.
function makeMessages(prefix, n, partitions, base) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const m = new kafka.KeyedMessage(`${prefix}-k${i}`, `${prefix}-v${i}-` + 'abcdefgh'.repeat(10 + (i % 7)));
    m.timestamp = base + i;
    ms.push({ msg: m, partition: i % partitions, key: m.key, value: m.value, timestamp: m.timestamp });
  }
  return ms;
}

// Sends messages batch at a time, one payload per partition in each send();
// each message's offset is its payload's base offset plus its place in it.
function sendAll(producer, ms, attributes, batch, done) {
  const sent = [];
  let at = 0;
  const next = () => {
    if (at >= ms.length) return done(sent);
    const chunk = ms.slice(at, at + batch);
    at += batch;
    const byPartition = new Map();
    for (const m of chunk) {
      if (!byPartition.has(m.partition)) byPartition.set(m.partition, []);
      byPartition.get(m.partition).push(m);
    }
    const payloads = [...byPartition.entries()].map(([partition, list]) =>
      ({ topic, partition, attributes, messages: list.map((m) => m.msg) }));
    producer.send(payloads, (err, data) => {
      if (err) fail('send', err);
      for (const [partition, list] of byPartition.entries()) {
        const base = data[topic][partition];
        if (typeof base !== 'number') fail('no offset in produce response', data);
        list.forEach((m, j) => sent.push({ key: m.key, value: m.value, partition, offset: base + j,
          timestamp: m.timestamp }));
      }
      next();
    });
  };
  next();
}

function produce() {
  const [pArg, nArg, acks, attributes, versions, batch] = rest;
  const P = Number(pArg), N = Number(nArg);
  const c = client('produce', versions);
  const producer = new kafka.Producer(c, { requireAcks: Number(acks), ackTimeoutMs: 10000 });
  const t = watchdog(90, () => 'produce');
  producer.on('error', (e) => fail('producer error', e));
  producer.on('ready', () => {
    sendAll(producer, makeMessages('kn', N, P, Date.now() - 60000), Number(attributes), Number(batch), (sent) => {
      clearTimeout(t);
      producer.close(() => out({ sent }));
    });
  });
}

function consume() {
  const [countsArg, versions, groupId] = rest;
  const counts = countsArg.split(',').map(Number);
  const want = counts.reduce((a, b) => a + b, 0);
  const c = client('consume', versions);
  const payloads = counts.map((_, p) => ({ topic, partition: p, offset: 0 }));
  const consumer = new kafka.Consumer(c, payloads, { groupId, autoCommit: false, fromOffset: true,
    fetchMaxWaitMs: 100 });
  const got = [];
  let finished = false;
  const t = watchdog(90, () => `${got.length} of ${want} read`);
  consumer.on('error', (e) => fail('consumer error', e));
  consumer.on('offsetOutOfRange', (e) => fail('offset out of range', e));
  consumer.on('message', (m) => {
    got.push(msgOut(m));
    if (got.length < want || finished) return;
    finished = true;
    // kafka-node moves its offsets on the 'done' after a fetch's messages; a
    // moment later commit(true) sends each partition's next offset (OffsetCommit),
    // then they are read back.
    setTimeout(() => consumer.commit(true, (err) => {
      if (err) fail('commit', err);
      consumer.fetchOffset(counts.map((_, p) => ({ topic, partition: p })), (err2, offsets) => {
        if (err2) fail('fetchOffset', err2);
        clearTimeout(t);
        // A moment for anything fetched beyond `want` to show up as an extra message.
        setTimeout(() => consumer.close(() => out({ got, committed: offsets[topic] })), 300);
      });
    }), 1000);
  });
}

function group() {
  const [groupId, pArg, nArg, versions] = rest;
  const P = Number(pArg), N = Number(nArg);
  const got = [];
  const seen = new Set();
  let duplicates = 0;
  const members = [0, 1].map((i) => {
    const cg = new kafka.ConsumerGroup({
      kafkaHost: broker, id: clientId(`g${i}`, versions), groupId, sessionTimeout: 10000, autoCommit: false,
      fromOffset: 'earliest', protocol: ['roundrobin'], fetchMaxWaitMs: 100,
      versions: versionOptions(versions), connectTimeout: 10000, requestTimeout: 30000,
    }, [topic]);
    cg.on('error', (e) => fail(`member ${i} error`, e));
    cg.on('message', (m) => {
      const k = `${m.partition}/${m.offset}`;
      if (seen.has(k)) duplicates++;
      else { seen.add(k); got.push(msgOut(m, i)); }
      if (seen.size === N) finish();
    });
    return cg;
  });
  const claims = () => members.map((cg) => (cg.topicPayloads || []).map((p) => p.partition).sort());
  let sent = null;
  let finishing = false;
  const t = watchdog(150, () => `${seen.size} of ${N} read, claims ${JSON.stringify(claims())}`);
  const finish = () => {
    if (finishing || sent === null) return;
    finishing = true;
    const held = claims();
    // Both commit what they read (OffsetCommit; kafka-node moves its offsets on
    // the 'done' after a fetch's messages, hence the wait), leave and close.
    let left = members.length;
    setTimeout(() => members.forEach((cg, i) => cg.commit(true, (err) => {
      if (err) fail(`member ${i} commit`, err);
      if (--left > 0) return;
      setTimeout(() => {
        let closed = members.length;
        members.forEach((m) => m.close(false, () => {
          if (--closed > 0) return;
          clearTimeout(t);
          out({ claims: held, sent, got, duplicates });
        }));
      }, 300);
    })), 1000);
  };
  // Produce only once both members hold partitions: nothing is read before the
  // group settles, so nothing is read twice across the rebalance.
  const settle = setInterval(() => {
    const cl = claims();
    if (!members.every((cg) => cg.ready) || cl[0].length === 0 || cl[1].length === 0
        || cl[0].length + cl[1].length !== P) return;
    clearInterval(settle);
    const producer = new kafka.Producer(client('produce', versions), { requireAcks: -1 });
    producer.on('error', (e) => fail('producer error', e));
    producer.on('ready', () => sendAll(producer, makeMessages('kng', N, P, Date.now() - 60000), 0, 16, (s) => {
      producer.close(() => { sent = s; if (seen.size === N) finish(); });
    }));
  }, 200);
}

const commands = { produce, consume, group };
if (!commands[cmd] || !broker || !topic) {
  process.stderr.write('usage: node run.js produce|consume|group BROKER TOPIC ...\n');
  process.exit(2);
}
commands[cmd]();
