// KafkaJS's idempotent producer under faults (tests/fault/test_failover.py):
// one send loop per partition (acks=-1, ten messages a send, each send awaited,
// so the order of a partition's messages is the order they were sent) until
// STOPFILE exists; then one JSON line on stdout: every acknowledged
// [partition, offset, value] and the errors of sends that failed for good.
// A failed send is not sent again (that would be a new message to the broker).
//
//   node idempotent_run.js BROKERS TOPIC PARTITIONS STOPFILE
'use strict';

const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

const [brokers, topic, partsArg, stopFile] = process.argv.slice(2);
const partitions = parseInt(partsArg, 10);
if (!brokers || !topic || !(partitions > 0) || !stopFile) {
  process.stderr.write('usage: node idempotent_run.js BROKERS TOPIC PARTITIONS STOPFILE\n');
  process.exit(2);
}

const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`[kafkajs ${level}] ${namespace}: ${log.message}\n`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const kafka = new Kafka({ clientId: 'samsa-js-idem', brokers: brokers.split(','), logLevel: logLevel.WARN, logCreator,
    retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: Number.MAX_SAFE_INTEGER } });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  await producer.connect();
  const acked = [];
  const errors = [];
  async function loop(p) {
    let i = 0;
    while (!fs.existsSync(stopFile)) {
      const values = [];
      for (let k = 0; k < 10; k++) values.push(`j-${p}-${String(i + k).padStart(8, '0')}`);
      i += 10;
      try {
        const res = await producer.send({ topic, acks: -1, timeout: 30000,
          messages: values.map((value) => ({ partition: p, value })) });
        const base = BigInt(res[0].baseOffset);
        values.forEach((v, k) => acked.push([p, Number(base + BigInt(k)), v]));
      } catch (e) {
        errors.push(String(e && e.message ? e.message : e));
        await sleep(200);
      }
    }
  }
  const loops = [];
  for (let p = 0; p < partitions; p++) loops.push(loop(p));
  await Promise.all(loops);
  await producer.disconnect();
  process.stdout.write(JSON.stringify({ acked, errors }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`idempotent_run.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
