/**
 * Three of kafkajs's own costs on custody's produce path, replaced by equivalents that write the same bytes.
 *
 * kafkajs 2.2.4 (its last release) computes each record batch's CRC32C one byte at a time in JavaScript, its protocol
 * encoder grows by allocating a zero-filled buffer and copying into it, and a Produce request is built from nested
 * encoders that copy every record's bytes seven times. In bench:ingest the first two were ~12 % of ingest's busy
 * time, and the copies' buffers started its major GCs (bench/README.md). Here the checksum is computed eight bytes at
 * a time (`crc32c.ts`), the encoder grows into an uninitialised buffer (it only ever reads what it has written:
 * `buffer` is the slice up to `offset`), and a Produce request is written once into a buffer of its exact size
 * (`produce-request.ts`).
 *
 * All replace internals of one kafkajs version, so they are installed only on that version; on any other the client
 * runs unmodified and the caller is told. The broker checks every batch's CRC, so a wrong checksum could not go
 * unnoticed: it would be refused as CORRUPT_MESSAGE. test/unit/kafka/kafkajs-fast-paths.test.ts holds the requests
 * byte for byte equal to kafkajs's as published.
 */
import { createRequire } from 'node:module';
import { crc32c } from './crc32c.ts';
import { exactProduceRequest } from './produce-request.ts';
import type { KafkajsInternals, ProduceRequestV3 } from './produce-request.ts';

const require = createRequire(import.meta.url);

/** The kafkajs release whose internals these replace. */
export const PATCHED_KAFKAJS_VERSION = '2.2.4';

export interface FastPaths {
  readonly kafkajsVersion: string;
  /** The record batch checksum is `crc32c.ts`'s. */
  readonly crc32c: boolean;
  /** The protocol encoder grows without zero-filling. */
  readonly encoderGrowth: boolean;
  /** Produce requests are written once, into a buffer of their size. */
  readonly produceRequest: boolean;
  /** Why a fast path is not in use, when one is not. */
  readonly reason?: string;
}

// --- the encoder -------------------------------------------------------------------------------------------------

interface EncoderInternals {
  buf: Buffer;
  offset: number;
}

/** kafkajs's `Encoder#ensureAvailable`, growing to the same power of two, without zero-filling the new buffer. */
export function ensureAvailableUninitialised(this: EncoderInternals, length: number): void {
  if (this.offset + length > this.buf.length) {
    const grown = Buffer.allocUnsafe(1 << (32 - Math.clz32(this.offset + length)));
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  }
}

// --- installing them -------------------------------------------------------------------------------------------

const paths = {
  crc: 'kafkajs/src/protocol/recordBatch/crc32C/index.js',
  recordBatch: 'kafkajs/src/protocol/recordBatch/v0/index.js',
  encoder: 'kafkajs/src/protocol/encoder.js',
  long: 'kafkajs/src/utils/long.js',
  produceV3: 'kafkajs/src/protocol/requests/produce/v3/request.js',
} as const;

let installed: FastPaths | undefined;

/**
 * Installs the fast paths into this process's kafkajs (once; later calls answer the first result). Call it before
 * the first produce: kafkajs's record batch module takes its checksum function, and the Produce request modules of
 * versions 4 to 7 take version 3's, when they are first loaded, at the first produce request.
 */
export function installKafkajsFastPaths(): FastPaths {
  if (installed) return installed;
  const kafkajsVersion = (require('kafkajs/package.json') as { version: string }).version;
  if (kafkajsVersion !== PATCHED_KAFKAJS_VERSION) {
    installed = {
      kafkajsVersion,
      crc32c: false,
      encoderGrowth: false,
      produceRequest: false,
      reason: `kafkajs ${kafkajsVersion} is not ${PATCHED_KAFKAJS_VERSION}, whose internals these replace`,
    };
    return installed;
  }

  const encoder = require(paths.encoder) as { prototype: { ensureAvailable: unknown } };
  encoder.prototype.ensureAvailable = ensureAvailableUninitialised;

  // The record batch module keeps the checksum function it was loaded with; once loaded it cannot be changed.
  const crcPath = require.resolve(paths.crc);
  const crcPatchable = require.cache[require.resolve(paths.recordBatch)] === undefined;
  if (crcPatchable) {
    require(crcPath);
    const cached = require.cache[crcPath];
    if (cached) cached.exports = crc32c;
  }
  // After the checksum: version 3's module loads the record batch module.
  const producePath = require.resolve(paths.produceV3);
  const producePatchable = require.cache[producePath] === undefined;
  if (producePatchable) {
    const original = require(producePath) as ProduceRequestV3;
    const cached = require.cache[producePath];
    if (cached)
      cached.exports = exactProduceRequest(original, {
        Encoder: encoder,
        Long: require(paths.long) as KafkajsInternals['Long'],
      });
  }
  installed = {
    kafkajsVersion,
    crc32c: crcPatchable,
    encoderGrowth: true,
    produceRequest: producePatchable,
    ...(crcPatchable && producePatchable
      ? {}
      : { reason: 'kafkajs had produced before the fast paths were installed' }),
  };
  return installed;
}
