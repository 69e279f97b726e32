/**
 * Prints, as one JSON line, the bytes kafkajs encodes for a fixed produce request (two record batches of records
 * from 0 bytes to past every encoder growth step), with custody's kafkajs fast paths installed when run with
 * `--fast-paths` and kafkajs as published otherwise. Run in its own process so the two never share kafkajs.
 */
import { createRequire } from 'node:module';
import { installKafkajsFastPaths } from '../../src/kafka/kafkajs-fast-paths.ts';

const require = createRequire(import.meta.url);
const fastPaths = process.argv.includes('--fast-paths') ? installKafkajsFastPaths() : undefined;

type Encode = (args: Record<string, unknown>) => { encode(): Promise<{ buffer: Buffer }> };
const produceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as Encode;

// Deterministic bytes: value i of a record is (seed + i) mod 251.
const bytes = (length: number, seed: number) =>
  Buffer.from(Array.from({ length }, (_, i) => (seed + i) % 251));
const sizes = [0, 1, 7, 8, 9, 500, 511, 512, 513, 4_096, 4_500, 8_193, 70_000, 300_000];
const messages = sizes.map((size, i) => ({
  key: i % 3 === 0 ? null : `conversation-${i}`,
  value: bytes(size, i),
  headers: i % 2 === 0 ? { 'custody.schema': `v${i}`, 'custody.sha256': bytes(64, i) } : undefined,
  timestamp: 1_790_000_000_000 + i,
}));

const request = produceV3({
  acks: -1,
  timeout: 30_000,
  producerId: 7,
  producerEpoch: 0,
  topicData: [
    {
      topic: 'custody.notifications.v1',
      partitions: [
        { partition: 0, firstSequence: 0, messages: messages.slice(0, 9) },
        { partition: 3, firstSequence: 12, messages: messages.slice(9) },
      ],
    },
  ],
});
const encoded = (await request.encode()).buffer;
console.log(JSON.stringify({ fastPaths, hex: encoded.toString('hex') }));
