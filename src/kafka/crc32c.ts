/**
 * CRC32C (Castagnoli), what Kafka's record batch v2 carries, computed eight bytes at a time (slicing-by-8): ~3× faster
 * than kafkajs's byte-at-a-time JavaScript, with the same result (test/unit/kafka/kafkajs-fast-paths.test.ts).
 */
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
