// KafkaJS over TLS against samsa (tests/integration/test_tls.py): produces N
// messages to partition 0 of TOPIC, then reads partition 0 from the start and
// prints one JSON line with what it read.  The server certificate is verified
// against CA (a PEM file); with CERT and KEY the client presents a certificate.
//
//   node tls_run.js BROKER TOPIC N CA [CERT KEY]
'use strict';

const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

const [broker, topic, nArg, ca, cert, key] = process.argv.slice(2);
const N = parseInt(nArg, 10);
if (!broker || !topic || !(N > 0) || !ca) {
  process.stderr.write('usage: node tls_run.js BROKER TOPIC N CA [CERT KEY]\n');
  process.exit(2);
}

const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`[kafkajs ${level}] ${namespace}: ${log.message}\n`);
};

async function main() {
  const ssl = { ca: [fs.readFileSync(ca)], rejectUnauthorized: true };
  if (cert) {
    ssl.cert = fs.readFileSync(cert);
    ssl.key = fs.readFileSync(key);
  }
  const kafka = new Kafka({ clientId: 'samsa-js-tls', brokers: [broker], ssl, logLevel: logLevel.WARN, logCreator,
                            retry: { retries: 2 } });
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < N; i++) messages.push({ key: `k${i}`, value: `kafkajs-tls-${i}`, partition: 0 });
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `tls-${process.pid}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} messages in 60 s`)), 60000);
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        got.push([partition, Number(message.offset), message.key.toString(), message.value.toString()]);
        if (got.length >= N) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  process.stdout.write(JSON.stringify({ got }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`tls_run.js: ${e.stack || e}\n`);
  process.exit(1);
});
