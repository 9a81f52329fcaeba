// KafkaJS against samsa (tests/compat/test_kafkajs.py). Each subcommand prints
// one JSON line on stdout; KafkaJS's own logs go to stderr.
//
//   node run.js create BROKERS NAME:PARTITIONS:RF[,...]
//   node run.js group BROKERS TOPIC GROUP N
//   node run.js delete BROKERS TOPIC
//
// BROKERS is a comma-separated bootstrap list.
'use strict';

const { Kafka, logLevel, CompressionTypes } = require('kafkajs');

const [cmd, brokers, ...rest] = process.argv.slice(2);

const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`[kafkajs ${level}] ${namespace}: ${log.message}\n`);
};

function kafka(clientId) {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.WARN, logCreator,
    connectionTimeout: 10000, requestTimeout: 30000, retry: { retries: 8 } });
}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function metadataOut(md) {
  return md.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({
    partition: p.partitionId, leader: p.leader, replicas: p.replicas.slice().sort(), isr: p.isr.slice().sort(),
    error: p.partitionErrorCode })).sort((a, b) => a.partition - b.partition) }));
}

async function create() {
  const specs = rest[0].split(',').map((s) => {
    const [topic, p, rf] = s.split(':');
    return { topic, numPartitions: Number(p), replicationFactor: Number(rf) };
  });
  const admin = kafka('kjs-admin').admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: specs, waitForLeaders: true, timeout: 30000 });
  // Again: KafkaJS resolves false when every topic already exists.
  let again;
  try {
    again = await admin.createTopics({ topics: specs, waitForLeaders: true, timeout: 30000 });
  } catch (e) {
    again = `error: ${e.message}`;
  }
  const md = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
  const listed = await admin.listTopics();
  await admin.disconnect();
  out({ created, again, metadata: metadataOut(md), listed });
}

async function del() {
  const topic = rest[0];
  const admin = kafka('kjs-admin').admin();
  await admin.connect();
  const before = await admin.listTopics();
  await admin.deleteTopics({ topics: [topic], timeout: 30000 });
  // Until the metadata no longer names it (deletion completes asynchronously).
  let after;
  for (let i = 0; i < 100; i++) {
    after = await admin.listTopics();
    if (!after.includes(topic)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await admin.disconnect();
  out({ before, after });
}

async function group() {
  const [topic, groupId, nArg] = rest;
  const N = Number(nArg);
  const k = kafka('kjs-admin');
  const admin = k.admin();
  await admin.connect();
  const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length;

  const got = [];
  const seen = new Set();
  let duplicates = 0;
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  const assigned = [null, null];
  const next = [{}, {}]; // per member: partition -> offset after the last one read
  const consumers = [];
  for (const i of [0, 1]) {
    const c = kafka(`kjs-c${i}`).consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500,
      rebalanceTimeout: 20000, maxWaitTimeInMs: 200 });
    c.on(c.events.GROUP_JOIN, (e) => { assigned[i] = (e.payload.memberAssignment[topic] || []).slice().sort(); });
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const key = `${partition}/${message.offset}`;
        if (seen.has(key)) { duplicates++; return; }
        seen.add(key);
        const headers = {};
        for (const [hk, hv] of Object.entries(message.headers || {})) headers[hk] = hv === null ? null : hv.toString();
        got.push({ member: i, partition, offset: Number(message.offset), key: message.key.toString(),
          value: message.value.toString(), timestamp: Number(message.timestamp), headers });
        next[i][partition] = (BigInt(message.offset) + 1n).toString();
        if (seen.size === N) done();
      },
    });
    consumers.push(c);
  }
  const timer = setTimeout(() => {
    process.stderr.write(`timed out: ${seen.size} of ${N} read; assignments ${JSON.stringify(assigned)}\n`);
    process.exit(1);
  }, 150000);

  // Produce only once the group has settled with both members holding partitions.
  for (;;) {
    const [a, b] = assigned;
    if (a && b && a.length && b.length && a.length + b.length === partitions
        && a.every((p) => !b.includes(p))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const held = assigned.map((a) => a.slice());
  const producer = k.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const sent = [];
  const base = Date.now() - 60000;
  for (let start = 0; start < N; start += 20) {
    const batch = [];
    for (let i = start; i < Math.min(N, start + 20); i++) {
      batch.push({ partition: i % partitions, key: `kjs-k${i}`, value: `kjs-v${i}-` + 'qrst'.repeat(20 + (i % 9)),
        timestamp: String(base + i), headers: { h1: `hv${i}`, empty: '' } });
    }
    const md = await producer.send({ topic, messages: batch, acks: -1, compression: CompressionTypes.GZIP });
    // One entry per partition: its base offset; messages keep their order within it.
    for (const r of md) {
      if (r.errorCode !== 0) throw new Error(`produce error ${r.errorCode} on ${r.partition}`);
      batch.filter((m) => m.partition === r.partition).forEach((m, j) => sent.push({ partition: m.partition,
        offset: Number(r.baseOffset) + j, key: m.key, value: m.value, timestamp: Number(m.timestamp),
        headers: { h1: m.headers.h1, empty: '' } }));
    }
  }
  await producer.disconnect();
  await finished;
  clearTimeout(timer);
  await new Promise((r) => setTimeout(r, 500)); // anything read twice would show by now
  const heldAtEnd = assigned.map((a) => a.slice()); // the same unless the group rebalanced meanwhile
  for (const i of [0, 1]) {
    await consumers[i].commitOffsets(Object.entries(next[i]).map(([partition, offset]) =>
      ({ topic, partition: Number(partition), offset })));
  }
  const listed = await admin.listGroups();
  const described = await admin.describeGroups([groupId]);
  const topicOffsets = await admin.fetchTopicOffsets(topic);
  const fetched = await admin.fetchOffsets({ groupId, topics: [topic] });
  for (const c of consumers) await c.disconnect();
  await admin.disconnect();
  out({
    partitions, assigned: held, assignedAtEnd: heldAtEnd, sent, got, duplicates,
    groups: listed.groups,
    described: described.groups.map((g) => ({ groupId: g.groupId, state: g.state, protocol: g.protocol,
      protocolType: g.protocolType, errorCode: g.errorCode,
      members: g.members.map((m) => ({ clientId: m.clientId, clientHost: m.clientHost })) })),
    topicOffsets: topicOffsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) })),
    committed: Object.fromEntries(fetched[0].partitions.map((p) => [p.partition, Number(p.offset)])),
  });
}

const commands = { create, group, delete: del };
if (!commands[cmd] || !brokers) {
  process.stderr.write('usage: node run.js create|group|delete BROKERS ...\n');
  process.exit(2);
}
commands[cmd]().catch((e) => {
  process.stderr.write(`run.js ${cmd}: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
