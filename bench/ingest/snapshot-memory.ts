/**
 * `node --experimental-strip-types --expose-gc bench/ingest/snapshot-memory.ts`: heap per session-tags snapshot as
 * ingest holds it — built by merging the observations of bench:ingest's frame pool (four frames per merge, as at
 * 1,000 frames/s), unpacked by packed-snapshots.ts (a quiet conversation that hears from Genesys again), and
 * decoded naively (avro-codec's toPlainData) for comparison — with the packed size. Deterministic (seed 42).
 */
import { inflateRawSync } from 'node:zlib';
import { parseNotificationFrame } from '../../src/enrich/genesys-envelope.ts';
import { extractTagObservations } from '../../src/enrich/session-tags-extract.ts';
import { mergeSessionTags } from '../../src/enrich/session-tags-merge.ts';
import type { SessionTagsSnapshot, TagObservation } from '../../src/enrich/session-tags.ts';
import { packSnapshot, unpackSnapshot } from '../../src/ingest/packed-snapshots.ts';
import { loadCustodySchema, toPlainData } from '../../src/kafka/avro-codec.ts';
import { benchFrames } from './frame-pool.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heapUsed = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const frames = await benchFrames();

const built = new Map<string, SessionTagsSnapshot>();
let pending: TagObservation[] = [];
const merge = (): void => {
  const byConversation = new Map<string, TagObservation[]>();
  for (const o of pending) {
    const list = byConversation.get(o.conversationId);
    if (list) list.push(o);
    else byConversation.set(o.conversationId, [o]);
  }
  for (const [id, obs] of byConversation) built.set(id, mergeSessionTags(built.get(id), obs));
  pending = [];
};
frames.forEach((text, i) => {
  const parsed = parseNotificationFrame(text);
  if (!parsed.ok || parsed.value.topicName === undefined) return;
  const extracted = extractTagObservations(parsed.value, {
    receivedAt: 1_780_000_000_000 + i * 1000,
    provenance: 'live',
    userContext: () => undefined,
  });
  if (extracted.ok) pending.push(...extracted.value);
  if ((i + 1) % 4 === 0) merge();
});
merge();
frames.length = 0;

const n = built.size;
const packed = [...built.values()].map(packSnapshot);
const kb = (bytes: number): number => Math.round((bytes / n / 1024) * 10) / 10;
/** Heap per snapshot held by what `make` returns. */
const measure = (make: () => unknown[]): number => {
  const before = heapUsed();
  const held = make();
  const after = heapUsed();
  if (held.length !== n) throw new Error('lost snapshots');
  return kb(after - before);
};
const heldBuilt = [...built.values()];
built.clear();
const withBuilt = heapUsed();
heldBuilt.length = 0;
const result = {
  conversations: n,
  legsPerSnapshot:
    Math.round((packed.map(unpackSnapshot).reduce((s, x) => s + x.legs.length, 0) / n) * 100) / 100,
  packedKB: kb(packed.reduce((s, b) => s + b.byteLength, 0)),
  builtByMergesKB: kb(withBuilt - heapUsed()),
  unpackedKB: measure(() => packed.map(unpackSnapshot)),
  naiveDecodeKB: (() => {
    const type = loadCustodySchema('session-tags.v1');
    return measure(() => packed.map((p) => toPlainData(type.fromBuffer(inflateRawSync(p)))));
  })(),
};
process.stdout.write(`heap per snapshot (KB), ${n} simulated conversations:\n${JSON.stringify(result)}\n`);
