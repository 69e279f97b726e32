/**
 * Snapshots of quiet conversations, kept packed: session-tags.v1 Avro, then raw DEFLATE. A call's events stop when
 * it ends, but ingest keeps its snapshot for `snapshotIdleMs` (6 h) so that late events (after-call work, recording
 * and export events) merge into it. Decoded, a four-leg call's snapshot is ~37 KB of heap; packed it is ~1 KB, so
 * memory follows the calls in progress rather than the last six hours of calls. Unpacking (~0.1 ms) happens only
 * when a quiet conversation hears from Genesys again.
 *
 * Unpacked, equal strings and equal tag sources are shared again, as merges build them (a frame's tags share one
 * source object): decoded naively a simulated snapshot took 36.9 KB of heap, shared 18.3 KB (built by merges:
 * 16.9 KB; `bench/ingest/snapshot-memory.ts`). Safe because snapshots are never changed in place (all Readonly).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import type { TagSource } from '../enrich/session-tags.ts';
import { loadCustodySchema } from '../kafka/avro-codec.ts';

const type = loadCustodySchema('session-tags.v1');

export function packSnapshot(snapshot: SessionTagsSnapshot): Buffer {
  return deflateRawSync(type.toBuffer(snapshot), { level: 1 });
}

export function unpackSnapshot(packed: Buffer): SessionTagsSnapshot {
  return plainShared(type.fromBuffer(inflateRawSync(packed)), new Map(), new Map()) as SessionTagsSnapshot;
}

const SOURCE_KEYS = [
  'kind',
  'topicName',
  'correlationId',
  'api',
  'field',
] as const satisfies readonly (keyof TagSource)[];

/** Avro's decoded records as plain data (as avro-codec's toPlainData), equal strings and equal sources shared. */
function plainShared(value: unknown, strings: Map<string, string>, sources: Map<string, object>): unknown {
  if (typeof value === 'string') {
    const known = strings.get(value);
    if (known !== undefined) return known;
    strings.set(value, value);
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => plainShared(v, strings, sources));
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = plainShared(v, strings, sources);
  }
  const keys = Object.keys(out);
  if (keys.length === SOURCE_KEYS.length && SOURCE_KEYS.every((k, i) => keys[i] === k)) {
    // A TagSource: its members are strings or null, so this key names it exactly.
    const key = JSON.stringify(SOURCE_KEYS.map((k) => out[k]));
    const known = sources.get(key);
    if (known !== undefined) return known;
    sources.set(key, out);
  }
  return out;
}
