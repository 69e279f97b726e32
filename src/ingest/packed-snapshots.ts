/**
 * Snapshots of quiet conversations, kept packed: session-tags.v1 Avro, then raw DEFLATE. A call's events stop when
 * it ends, but ingest keeps its snapshot for `snapshotIdleMs` (6 h) so that late events (after-call work, recording
 * and export events) merge into it. Decoded, a four-leg call's snapshot is ~11 KB of heap; packed it is ~1 KB, so
 * memory follows the calls in progress rather than the last six hours of calls. Unpacking (~0.1 ms) happens only
 * when a quiet conversation hears from Genesys again.
 *
 * Unpacked, equal strings and equal tag sources are shared again, as merges build them (a frame's tags share one
 * source object): decoded naively a simulated snapshot takes 27 KB of heap, shared 11.4 KB (built by merges:
 * 11.0 KB; `bench/ingest/snapshot-memory.ts`). Safe because strings and tag sources are never changed in place: a
 * merge into ingest's own snapshot (absorbSessionTags) gives a tag another source, it never edits one.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import type { TagSource } from '../enrich/session-tags.ts';
import { loadCustodySchema, toPlainData } from '../kafka/avro-codec.ts';
import type { PlainDataSharing } from '../kafka/avro-codec.ts';

const type = loadCustodySchema('session-tags.v1');

export function packSnapshot(snapshot: SessionTagsSnapshot): Buffer {
  return deflateRawSync(type.toBuffer(snapshot), { level: 1 });
}

export function unpackSnapshot(packed: Buffer): SessionTagsSnapshot {
  return toPlainData(type.fromBuffer(inflateRawSync(packed)), sharing()) as SessionTagsSnapshot;
}

const SOURCE_KEYS = [
  'kind',
  'topicName',
  'correlationId',
  'api',
  'field',
] as const satisfies readonly (keyof TagSource)[];

/** One snapshot's sharing: equal strings, and equal tag sources (recognised by their members). */
function sharing(): PlainDataSharing {
  const strings = new Map<string, string>();
  const sources = new Map<string, object>();
  return {
    string(value) {
      const known = strings.get(value);
      if (known !== undefined) return known;
      strings.set(value, value);
      return value;
    },
    object(value) {
      const keys = Object.keys(value);
      if (keys.length !== SOURCE_KEYS.length || !SOURCE_KEYS.every((k, i) => keys[i] === k)) return value;
      // A TagSource: its members are strings or null, so this key names it exactly.
      const key = JSON.stringify(SOURCE_KEYS.map((k) => value[k]));
      const known = sources.get(key);
      if (known !== undefined) return known;
      sources.set(key, value);
      return value;
    },
  };
}
