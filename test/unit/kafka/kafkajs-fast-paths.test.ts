import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../src/kafka/crc32c.ts';
import {
  ensureAvailableUninitialised,
  PATCHED_KAFKAJS_VERSION,
} from '../../../src/kafka/kafkajs-fast-paths.ts';

const require = createRequire(import.meta.url);
// kafkajs's own byte-at-a-time CRC32C (the module the fast path stands in for wraps this one).
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

describe('crc32c', () => {
  it('gives the published CRC-32C check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
  });

  it("equals kafkajs's own CRC32C on every length around the 8-byte stride, and on views into larger buffers", () => {
    for (let length = 0; length <= 67; length++) {
      const bytes = randomBytes(length);
      expect(crc32c(bytes), `length ${length}`).toBe(kafkajsCrc32c(bytes));
    }
    const big = randomBytes(1 << 20);
    expect(crc32c(big)).toBe(kafkajsCrc32c(big));
    for (const [start, end] of [
      [1, 4_099],
      [3, 1 << 19],
      [13, (1 << 20) - 5],
    ] as const) {
      const view = big.subarray(start, end);
      expect(crc32c(view)).toBe(kafkajsCrc32c(view));
    }
  });
});

describe('ensureAvailableUninitialised', () => {
  it('grows to the next power of two past what is needed, keeping what was written', () => {
    const encoder = { buf: Buffer.from([1, 2, 3, 4]), offset: 3 };
    ensureAvailableUninitialised.call(encoder, 1);
    expect(encoder.buf.length).toBe(4); // fits: unchanged
    ensureAvailableUninitialised.call(encoder, 2);
    expect(encoder.buf.length).toBe(8);
    expect([...encoder.buf.subarray(0, 3)]).toEqual([1, 2, 3]);
    encoder.offset = 8;
    ensureAvailableUninitialised.call(encoder, 4_089);
    expect(encoder.buf.length).toBe(8_192);
  });
});

describe('kafkajs with the fast paths installed', () => {
  // Each side in its own process, so one never sees the other's kafkajs.
  const encodeIn = (...args: string[]) =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', 'test/support/kafkajs-batch-bytes.ts', ...args], {
        encoding: 'utf8',
      }),
    ) as { fastPaths?: Record<string, unknown>; hex: string };

  it('encodes a produce request to exactly the bytes kafkajs as published does', () => {
    const published = encodeIn();
    const fast = encodeIn('--fast-paths');
    expect(fast.fastPaths).toEqual({
      kafkajsVersion: PATCHED_KAFKAJS_VERSION,
      crc32c: true,
      encoderGrowth: true,
      produceRequest: true,
    });
    expect(published.fastPaths).toBeUndefined();
    expect(fast.hex.length).toBeGreaterThan(2 * 380_000);
    expect(fast.hex).toBe(published.hex);
  }, 30_000);

  it('is installed on the kafkajs this project depends on (a new kafkajs must be checked before it is trusted)', () => {
    expect((require('kafkajs/package.json') as { version: string }).version).toBe(PATCHED_KAFKAJS_VERSION);
  });
});
