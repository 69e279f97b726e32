import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type * as Kafkajs from 'kafkajs';
import {
  compressionType,
  gzipCodec,
  registerKafkajsCodecs,
  zstdCodec,
} from '../../../src/kafka/kafkajs-codecs.ts';

// kafkajs's own codec lookup, as its record batch decoder uses it (not among the typed exports).
const require = createRequire(import.meta.url);
const { lookupCodec } = require('kafkajs/src/protocol/message/compression') as {
  lookupCodec(type: number): {
    compress(e: { buffer: Buffer }): Promise<Buffer>;
    decompress(b: Buffer): Promise<Buffer>;
  };
};
const { CompressionTypes } = require('kafkajs') as typeof Kafkajs;

/** Records alike the way snapshots are: the same JSON shape with different ids and times. */
function recordsLike(n: number): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < n; i++)
    parts.push(
      JSON.stringify({
        conversationId: `1d2c${String(i).padStart(4, '0')}-8f4e-4a7b-9c1d-2e3f4a5b6c7d`,
        legs: [
          { participantId: `p-${i}`, sessionId: { value: `s-${i * 7}`, capturedAt: 1_764_000_000_000 + i } },
        ],
      }),
    );
  return Buffer.from(parts.join(''));
}

describe('kafkajs codecs', () => {
  it('registers zstd and gzip with kafkajs, which then round-trips a batch through each', async () => {
    registerKafkajsCodecs();
    const records = recordsLike(200);
    for (const type of [CompressionTypes.ZSTD, CompressionTypes.GZIP]) {
      const codec = lookupCodec(type);
      const packed = await codec.compress({ buffer: records });
      expect(packed.length).toBeLessThan(records.length / 4);
      expect(Buffer.compare(await codec.decompress(packed), records)).toBe(0);
    }
  });

  it('refuses a batch that inflates past the bound instead of allocating it', async () => {
    const bomb = Buffer.alloc(2_000_000);
    for (const codec of [zstdCodec(1_000_000), gzipCodec(1_000_000)]) {
      const packed = await codec.compress({ buffer: bomb });
      expect(packed.length).toBeLessThan(10_000);
      await expect(codec.decompress(packed)).rejects.toMatchObject({ code: 'ERR_BUFFER_TOO_LARGE' });
      expect(
        (await codec.decompress(await codec.compress({ buffer: bomb.subarray(0, 999_999) }))).length,
      ).toBe(999_999);
    }
  });

  it('maps KAFKA_COMPRESSION to kafkajs codes', () => {
    expect([compressionType('none'), compressionType('gzip'), compressionType('zstd')]).toEqual([
      CompressionTypes.None,
      CompressionTypes.GZIP,
      CompressionTypes.ZSTD,
    ]);
  });
});
