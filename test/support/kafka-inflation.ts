/**
 * Counts the record batches kafkajs inflates in this process, per codec: the proof that a topic holds compressed
 * batches (a consumer inflates only what was stored compressed). Wraps the codecs custody registers.
 */
import { createRequire } from 'node:module';
import type * as Kafkajs from 'kafkajs';
import { registerKafkajsCodecs } from '../../src/kafka/kafkajs-codecs.ts';

type Codec = { compress(e: unknown): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };

export type InflationCounter = {
  readonly counts: { zstd: number; gzip: number };
  reset(): void;
  /** Puts the codecs back as registered. */
  restore(): void;
};

export function countInflatedBatches(): InflationCounter {
  registerKafkajsCodecs();
  const { CompressionCodecs, CompressionTypes } = createRequire(import.meta.url)('kafkajs') as typeof Kafkajs;
  const codecs = CompressionCodecs as Record<number, () => Codec>;
  const counts = { zstd: 0, gzip: 0 };
  const registered = new Map<number, () => Codec>();
  for (const [type, name] of [
    [CompressionTypes.ZSTD, 'zstd'],
    [CompressionTypes.GZIP, 'gzip'],
  ] as const) {
    const codec = codecs[type] as () => Codec;
    registered.set(type, codec);
    codecs[type] = () => {
      const c = codec();
      return {
        compress: (e: unknown) => c.compress(e),
        decompress: (b: Buffer) => {
          counts[name] += 1;
          return c.decompress(b);
        },
      };
    };
  }
  return {
    counts,
    reset: () => {
      counts.zstd = 0;
      counts.gzip = 0;
    },
    restore: () => {
      for (const [type, codec] of registered) codecs[type] = codec;
    },
  };
}
