/**
 * Snapshots of quiet conversations, kept packed: session-tags.v1 Avro, then raw DEFLATE. A call's events stop when
 * it ends, but ingest keeps its snapshot for `snapshotIdleMs` (6 h) so that late events (after-call work, recording
 * and export events) merge into it. Decoded, a four-leg call's snapshot is ~37 KB of heap; packed it is ~1 KB, so
 * memory follows the calls in progress rather than the last six hours of calls. Unpacking (~0.1 ms) happens only
 * when a quiet conversation hears from Genesys again.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import { loadCustodySchema, toPlainData } from '../kafka/avro-codec.ts';

const type = loadCustodySchema('session-tags.v1');

export function packSnapshot(snapshot: SessionTagsSnapshot): Buffer {
  return deflateRawSync(type.toBuffer(snapshot), { level: 1 });
}

export function unpackSnapshot(packed: Buffer): SessionTagsSnapshot {
  return toPlainData(type.fromBuffer(inflateRawSync(packed))) as SessionTagsSnapshot;
}
