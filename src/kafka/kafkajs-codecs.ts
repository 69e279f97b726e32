/**
 * Record batch compression for kafkajs: zstd, which kafkajs lacks, and a faster gzip, both from Node's own zlib
 * (zstd needs Node ≥ 22.15).
 *
 * Reading: registered in every role, because a batch's codec is the writer's choice, not the reader's. A topic
 * whose `compression.type` is zstd (a common storage setting) is recompressed by the broker, and then every consumer
 * must read zstd whatever custody's producers send; kafkajs alone stops at the first such batch with "ZSTD
 * compression not implemented".
 *
 * Writing (`KAFKA_COMPRESSION`): notification frames and session-tag snapshots are JSON-heavy and alike, so a
 * request of them shrinks ~10× at zstd level 1 (bench/README.md). Compression runs synchronously on the producer's
 * thread: a request is at most ~1 MB, a few ms at ~300 MB/s, and handing each one to libuv's thread pool instead
 * cost ingest more CPU than the compression itself (measured: +200 CPU ms per 1,000 frames at 5,000 frames/s).
 * kafkajs's own gzip runs at zlib's default level 6; level 1 is ~3× faster for ~10 % more bytes.
 */
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import type * as Kafkajs from 'kafkajs';
import { zstdAvailable } from '../config.ts';
import type { KafkaCompression } from '../config.ts';

// kafkajs is CommonJS, and Node's ESM loader does not find `CompressionCodecs` among its named exports.
const { CompressionCodecs, CompressionTypes } = createRequire(import.meta.url)('kafkajs') as typeof Kafkajs;

/** kafkajs's code for a compression. */
export function compressionType(c: KafkaCompression): Kafkajs.CompressionTypes {
  switch (c) {
    case 'none':
      return CompressionTypes.None;
    case 'gzip':
      return CompressionTypes.GZIP;
    case 'zstd':
      return CompressionTypes.ZSTD;
  }
}

/**
 * Largest record batch a compressed batch may inflate to. A batch is bounded by the topic's `max.message.bytes`
 * compressed, but a small compressed batch can claim to expand without bound; past this inflating fails with
 * ERR_BUFFER_TOO_LARGE instead of the process running out of memory. Far above any batch a Kafka client
 * writes (kafkajs and the Java client default to 1 MB requests).
 */
export const MAX_INFLATED_BATCH_BYTES = 256 * 1024 * 1024;

/** Levels for writing: the lowest of each; higher levels cost CPU for a few per cent fewer bytes. */
const ZSTD_LEVEL = 1;
const GZIP_LEVEL = 1;

/** A codec as kafkajs calls it: `compress` gets the encoded records, `decompress` a batch's record bytes. */
export interface BatchCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** zstd at level 1; a batch inflating past `maxInflatedBytes` is refused (ERR_BUFFER_TOO_LARGE). */
export function zstdCodec(maxInflatedBytes = MAX_INFLATED_BATCH_BYTES): BatchCodec {
  const level = { params: { [zlib.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } };
  return {
    compress: async (encoder) => zlib.zstdCompressSync(encoder.buffer, level),
    decompress: async (buffer) => zlib.zstdDecompressSync(buffer, { maxOutputLength: maxInflatedBytes }),
  };
}

/** gzip at level 1; reads gzip and zlib streams, as kafkajs's own; bounded like {@link zstdCodec}. */
export function gzipCodec(maxInflatedBytes = MAX_INFLATED_BATCH_BYTES): BatchCodec {
  return {
    compress: async (encoder) => zlib.gzipSync(encoder.buffer, { level: GZIP_LEVEL }),
    decompress: async (buffer) => zlib.unzipSync(buffer, { maxOutputLength: maxInflatedBytes }),
  };
}

let registered = false;

/**
 * Registers the codecs with kafkajs (idempotent, process-wide: kafkajs keeps one table). On a Node without zstd only
 * gzip is registered; reading a zstd batch then fails with kafkajs's own error, and `KAFKA_COMPRESSION=zstd` is
 * refused when the configuration is read.
 */
export function registerKafkajsCodecs(): void {
  if (registered) return;
  registered = true;
  const gzip = gzipCodec();
  CompressionCodecs[CompressionTypes.GZIP] = () => gzip;
  if (!zstdAvailable()) return;
  const zstd = zstdCodec();
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstd;
}
