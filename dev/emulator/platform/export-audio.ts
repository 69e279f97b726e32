/**
 * Deterministic stand-in for an exported Opus recording: a valid Ogg Opus header (an `OpusHead` page
 * and an `OpusTags` page, with real Ogg CRCs) followed by pseudo-random bytes, `sizeBytes` long in
 * total. The same recording id always gives the same bytes, so tests can compare digests.
 */

const OGG_CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/** Ogg's CRC-32 (polynomial 0x04c11db7, no reflection, zero initial value). */
export function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ (OGG_CRC_TABLE[((crc >>> 24) ^ b) & 0xff] ?? 0)) >>> 0;
  return crc;
}

function oggPage(headerType: number, serial: number, sequence: number, payload: Buffer): Buffer {
  // One segment is enough for the short header packets (< 255 bytes).
  const header = Buffer.alloc(28);
  header.write('OggS', 0, 'latin1');
  header.writeUInt8(0, 4); // version
  header.writeUInt8(headerType, 5);
  header.writeBigUInt64LE(0n, 6); // granule position
  header.writeUInt32LE(serial, 14);
  header.writeUInt32LE(sequence, 18);
  header.writeUInt8(1, 26); // segment count
  header.writeUInt8(payload.length, 27);
  const page = Buffer.concat([header, payload]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** The Ogg Opus header pages (mono, 48 kHz, pre-skip 312) for a stream with this serial number. */
export function opusHeaderPages(serial: number): Buffer {
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head.writeUInt8(1, 8); // version
  head.writeUInt8(1, 9); // channels
  head.writeUInt16LE(312, 10); // pre-skip
  head.writeUInt32LE(48_000, 12); // input sample rate
  head.writeInt16LE(0, 16); // output gain
  head.writeUInt8(0, 18); // channel mapping family
  const vendor = Buffer.from('genesys-emulator', 'latin1');
  const tags = Buffer.alloc(8 + 4 + vendor.length + 4);
  tags.write('OpusTags', 0, 'latin1');
  tags.writeUInt32LE(vendor.length, 8);
  vendor.copy(tags, 12);
  tags.writeUInt32LE(0, 12 + vendor.length); // no user comments
  return Buffer.concat([oggPage(0x02, serial, 0, head), oggPage(0x00, serial, 1, tags)]);
}

/** `sizeBytes` of pseudo-Opus audio for `recordingId` (deterministic). */
export function pseudoOpusAudio(recordingId: string, sizeBytes: number): Buffer {
  const size = Math.max(0, Math.floor(sizeBytes));
  const seed = seedOf(recordingId);
  const out = Buffer.alloc(size);
  const header = opusHeaderPages(seed);
  header.copy(out, 0, 0, Math.min(size, header.length));
  // mulberry32: fast, deterministic filler for the "audio" after the headers.
  let state = seed;
  for (let i = header.length; i < size; i += 4) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const word = (t ^ (t >>> 14)) >>> 0;
    for (let k = 0; k < 4 && i + k < size; k++) out[i + k] = (word >>> (k * 8)) & 0xff;
  }
  return out;
}
