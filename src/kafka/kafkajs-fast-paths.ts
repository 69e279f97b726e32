/**
 * Two of kafkajs's own costs on custody's produce path, replaced by equivalents that write the same bytes.
 *
 * kafkajs 2.2.4 (its last release) computes each record batch's CRC32C one byte at a time in JavaScript, and its
 * protocol encoder grows by allocating a zero-filled buffer and copying into it: every record's encoder grows once
 * for its value, every batch body several times. In bench:ingest the two were ~12 % of ingest's busy time
 * (bench/README.md). Here the checksum is computed eight bytes at a time (slicing-by-8: ~3× faster, same result),
 * and the encoder grows into an uninitialised buffer: it only ever reads what it has written (`buffer` is the slice
 * up to `offset`), so the zero-fill bought nothing.
 *
 * Both replace internals of one kafkajs version, so they are installed only on that version; on any other the
 * client runs unmodified and the caller is told. The broker checks every batch's CRC, so a wrong checksum could not
 * go unnoticed: it would be refused as CORRUPT_MESSAGE.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The kafkajs release whose internals these replace. */
export const PATCHED_KAFKAJS_VERSION = '2.2.4';

export interface FastPaths {
  readonly kafkajsVersion: string;
  /** The record batch checksum is `crc32c` below. */
  readonly crc32c: boolean;
  /** The protocol encoder grows without zero-filling. */
  readonly encoderGrowth: boolean;
  /** Why a fast path is not in use, when one is not. */
  readonly reason?: string;
}

// --- CRC32C (Castagnoli), slicing-by-8 ------------------------------------------------------------------------

const CASTAGNOLI_REFLECTED = 0x82f63b78;

/** Table k (k = 0..7) at [k * 256, (k + 1) * 256): the CRC of a byte followed by k zero bytes. */
const TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[i] as number;
    for (let k = 1; k < 8; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + i] = c;
    }
  }
  return t;
})();

/** CRC32C of `bytes` as an unsigned 32-bit number (what Kafka's record batch v2 carries). */
export function crc32c(bytes: Uint8Array): number {
  const t = TABLES;
  const n = bytes.length;
  const end = n - (n & 7);
  let crc = -1;
  let i = 0;
  for (; i < end; i += 8) {
    const a = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < n; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
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
} as const;

let installed: FastPaths | undefined;

/**
 * Installs both fast paths into this process's kafkajs (once; later calls answer the first result). Call it before
 * the first produce: kafkajs's record batch module takes its checksum function when it is first loaded, at the
 * first produce request.
 */
export function installKafkajsFastPaths(): FastPaths {
  if (installed) return installed;
  const kafkajsVersion = (require('kafkajs/package.json') as { version: string }).version;
  if (kafkajsVersion !== PATCHED_KAFKAJS_VERSION) {
    installed = {
      kafkajsVersion,
      crc32c: false,
      encoderGrowth: false,
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
  installed = {
    kafkajsVersion,
    crc32c: crcPatchable,
    encoderGrowth: true,
    ...(crcPatchable ? {} : { reason: 'kafkajs had produced before the fast paths were installed' }),
  };
  return installed;
}
