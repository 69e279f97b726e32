/**
 * `tsx bench/ingest/hot-path.ts`: CPU per 1,000 frames of ingest's per-frame work without Kafka or sockets — parse
 * and validate, overlap-dedupe digest, tag extraction, the merge of each frame's observations into its
 * conversation's snapshot, evidence SHA-256, the Avro evidence record, and once per batch the snapshots that changed
 * encoded — over the same pool of realistic `v2.users.*` frames bench:ingest offers. Deterministic and quick, so
 * before/after comparisons of the hot path depend far less on what else the (shared) machine runs, though a busy
 * host still moves its totals by ~20 % (compare interleaved runs); bench:ingest stays the end-to-end measure. Options (env): HOT_PATH_FRAMES=200000 HOT_PATH_ROUNDS=5 HOT_PATH_FRAMES_PER_MS=5
 * HOT_PATH_BATCH=500 (frames per batch; at 1,000 frames/s the delivery buffer's batches hold ~4, so changed snapshots
 * are encoded ~8× as often)
 * HOT_PATH_DEDUPE_ARMED=1: the overlap dedupe checks every frame, as for 5 minutes after a subscription request (by
 * default it is idle, as in steady operation)
 * HOT_PATH_ALLOC=all|survivors: also samples the measured rounds' allocations (V8's sampling heap profiler) and prints
 * the bytes per frame by function: `all` is what feeds the young-generation GCs, `survivors` what outlives them.
 */
import { hash } from 'node:crypto';
import {
  eventBodyText,
  notificationKeys,
  parseNotificationFrame,
} from '../../src/enrich/genesys-envelope.ts';
import { extractTagObservations } from '../../src/enrich/session-tags-extract.ts';
import {
  absorbOrStart,
  changedMaterially,
  forEachConversationRun,
  newSnapshotChanges,
} from '../../src/enrich/session-tags-merge.ts';
import type { OwnedSnapshot, SnapshotChanges } from '../../src/enrich/session-tags-merge.ts';
import type { TagObservation } from '../../src/enrich/session-tags.ts';
import { OverlapDedupe } from '../../src/ingest/overlap-dedupe.ts';
import { createEncoders } from '../../src/kafka/record-codecs.ts';
import { allocationSamplingFrom, allocationTable, median, sampleAllocations } from '../support.ts';
import { benchFrames } from './frame-pool.ts';

const FRAMES = Number(process.env['HOT_PATH_FRAMES'] ?? 200_000);
const ROUNDS = Number(process.env['HOT_PATH_ROUNDS'] ?? 5);
const ALLOC = allocationSamplingFrom('HOT_PATH_ALLOC');

const pool = await benchFrames();
const encoders = await createEncoders({ brokers: [], clientId: 'bench', ssl: false }, {} as never);

type Stage = 'parse' | 'dedupe' | 'extract' | 'merge' | 'evidence' | 'seal';
/** Frames per batch (500: the delivery buffer's batches at saturation): a changed snapshot is encoded once per batch. */
const BATCH = Number(process.env['HOT_PATH_BATCH'] ?? 500);
/**
 * Frames received in the same millisecond (5 at 5,000 frames/s). Frames of a conversation that share their receive
 * time tie in the merge's ranking up to their sources, so with 1 (every frame its own millisecond, as before
 * 2026-12-07) the merge cost ~40 % less than in bench:ingest.
 */
const PER_MS = Number(process.env['HOT_PATH_FRAMES_PER_MS'] ?? 5);
const DEDUPE_ARMED = process.env['HOT_PATH_DEDUPE_ARMED'] === '1';
function round(): Record<Stage | 'total', number> {
  const dedupe = new OverlapDedupe({ alwaysArmed: DEDUPE_ARMED });
  const ms: Record<Stage, number> = { parse: 0, dedupe: 0, extract: 0, merge: 0, evidence: 0, seal: 0 };
  const snapshots = new Map<string, OwnedSnapshot>();
  const changed = new Map<string, SnapshotChanges>();
  // As ingest-pipeline's absorb: each frame's observations merged into their conversation's snapshot in place.
  const merge = (observations: readonly TagObservation[]): void =>
    forEachConversationRun(observations, (id, run) => {
      let c = changed.get(id);
      if (c === undefined) changed.set(id, (c = newSnapshotChanges()));
      snapshots.set(id, absorbOrStart(snapshots.get(id), run, c));
    });
  // As its sealSnapshots: once per batch, the snapshots that changed are encoded.
  const seal = (): void => {
    const t0 = performance.now();
    for (const [id, c] of changed)
      if (changedMaterially(c)) encoders['session-tags.v1'].encode(snapshots.get(id) as OwnedSnapshot);
    changed.clear();
    ms.seal += performance.now() - t0;
  };
  const t = (): number => performance.now();
  const start = process.cpuUsage();
  for (let i = 0; i < FRAMES; i++) {
    const text = pool[i % pool.length] as string;
    const receivedAt = 1_780_000_000_000 + Math.floor(i / PER_MS);
    let t0 = t();
    const parsed = parseNotificationFrame(text);
    let t1 = t();
    ms.parse += t1 - t0;
    if (!parsed.ok || parsed.value.topicName === undefined) continue;
    const env = parsed.value;
    t0 = t1;
    // The same call ingest-pipeline makes (see onFrame).
    if (dedupe.checks(receivedAt)) dedupe.isDuplicate(env.topicName!, eventBodyText(env), 'ch-1', receivedAt);
    t1 = t();
    ms.dedupe += t1 - t0;
    t0 = t1;
    const extracted = extractTagObservations(env, {
      receivedAt,
      provenance: 'live',
      userContext: () => undefined,
    });
    t1 = t();
    ms.extract += t1 - t0;
    t0 = t1;
    if (extracted.ok) merge(extracted.value);
    t1 = t();
    ms.merge += t1 - t0;
    t0 = t1;
    const keys = notificationKeys(env);
    encoders['notification.v1'].encode({
      topicName: env.topicName ?? null,
      kind: env.kind,
      version: env.version ?? null,
      correlationId: env.correlationId ?? null,
      rejectionCode: null,
      rawFrame: text,
      rawFrameSha256: hash('sha256', text, 'hex'),
      receivedAtMs: receivedAt,
      channelId: 'ch-1',
      frameSequence: i,
      ingestInstance: 'bench',
      ingestVersion: '0',
      conversationId: keys.conversationId ?? null,
      entityId: keys.entityId ?? null,
      transport: null,
      eventBridge: null,
    });
    ms.evidence += t() - t0;
    if ((i + 1) % BATCH === 0) seal();
  }
  const cpu = process.cpuUsage(start);
  const per1k = (v: number) => (v * 1000) / FRAMES;
  return {
    parse: per1k(ms.parse),
    dedupe: per1k(ms.dedupe),
    extract: per1k(ms.extract),
    merge: per1k(ms.merge),
    evidence: per1k(ms.evidence),
    seal: per1k(ms.seal),
    total: per1k((cpu.user + cpu.system) / 1000),
  };
}

round(); // warm-up
const alloc = ALLOC ? await sampleAllocations(ALLOC) : undefined;
const rounds = Array.from({ length: ROUNDS }, round);
if (alloc && ALLOC) {
  const rows = await alloc.stop(FRAMES * ROUNDS);
  process.stdout.write(`allocated (${ALLOC}): ${allocationTable(rows, 'frame')}`);
}
const out: Record<string, number> = {};
for (const k of ['parse', 'dedupe', 'extract', 'merge', 'evidence', 'seal', 'total'] as const)
  out[k] = Math.round(median(rounds.map((r) => r[k])) * 10) / 10;
process.stdout.write(
  `${pool.length} distinct frames, ${FRAMES} per round, median of ${ROUNDS}: ms per 1,000 frames ` +
    `(stages: wall time; total: CPU time of the process)\n${JSON.stringify(out)}\n`,
);
