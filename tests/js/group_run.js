// KafkaJS against samsa (tests/integration/test_groups.py): produces N messages
// tagged with this run to a topic (round-robin over its partitions), consumes
// them through a consumer group (consumer.run), commits what it read and prints
// one JSON summary line on stdout; KafkaJS's own logs go to stderr.
//
//   node group_run.js BROKER TOPIC GROUP N
'use strict';

const { Kafka, logLevel } = require('kafkajs');

const [broker, topic, groupId, nArg] = process.argv.slice(2);
const N = parseInt(nArg, 10);
if (!broker || !topic || !groupId || !(N > 0)) {
  process.stderr.write('usage: node group_run.js BROKER TOPIC GROUP N\n');
  process.exit(2);
}

const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`[kafkajs ${level}] ${namespace}: ${log.message}\n`);
};

async function main() {
  const kafka = new Kafka({ clientId: 'samsa-js', brokers: [broker], logLevel: logLevel.WARN, logCreator });
  const admin = kafka.admin();
  await admin.connect();
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  const partitions = md.topics[0].partitions.length;

  const tag = `run-${process.pid}-${Date.now()}`;
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < N; i++) messages.push({ partition: i % partitions, value: `${tag}-${i}` });
  await producer.send({ topic, messages });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500, rebalanceTimeout: 20000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const seen = new Set();
  const next = {}; // partition -> offset after the last one read
  let consumed = 0, foreign = 0, duplicates = 0;
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      consumed++;
      const v = message.value.toString();
      if (!v.startsWith(`${tag}-`)) foreign++;
      else if (seen.has(v)) duplicates++;
      else seen.add(v);
      const after = BigInt(message.offset) + 1n;
      if (next[partition] === undefined || after > BigInt(next[partition])) next[partition] = after.toString();
      if (seen.size === N) done();
    },
  });
  const timer = setTimeout(() => {
    process.stderr.write(`timed out: ${seen.size} of ${N} read\n`);
    process.exit(1);
  }, 90000);
  await finished;
  clearTimeout(timer);
  await consumer.commitOffsets(Object.entries(next).map(([partition, offset]) => ({ topic, partition: Number(partition), offset })));
  await consumer.disconnect();

  const fetched = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = {};
  for (const p of fetched[0].partitions) committed[p.partition] = p.offset;
  await admin.disconnect();
  process.stdout.write(JSON.stringify({ produced: N, consumed, unique: seen.size, foreign, duplicates, committed }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`group_run.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
