/**
 * A scripted day of conversations of every kind, captured by `custody ingest` from the emulator into the
 * real Kafka broker, compared field by field with the emulator's ground truth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationScript } from '../../../dev/emulator/model.ts';
import type { SessionTagsSnapshot } from '../../../src/enrich/session-tags.ts';
import { materialForm } from '../../../src/enrich/session-tags-merge.ts';
import { compareWithGroundTruth, provenanceCounts, scenarioOfEveryKind } from '../../support/ground-truth.ts';
import { startIngestHarness, type IngestHarness } from '../../support/ingest-harness.ts';
import { INGEST_VERSION } from '../../../src/ingest/ingest-pipeline.ts';
import type { IngestOptions } from '../../../src/ingest/ingest-pipeline.ts';
import { SESSION_TAGS_HEADERS } from '../../../src/kafka/topics.ts';
import { readTopicToEnd } from '../../support/kafka-read.ts';

const DAY_MS = 24 * 3_600_000;
/** The instance name the ingest harness runs as. */
const INSTANCE = 'ingest-test';
const START = Date.parse('2026-03-02T00:00:00.000Z');

// Packing every quiet snapshot at once and often (the default waits a minute) makes every conversation go through
// pack and unpack between its frames: what ingest captures must not change. (Forgetting idle conversations runs
// as often; at 8,640x the default six hours would pass before the checks.)
const PACK_OFTEN: Partial<IngestOptions> = {
  snapshotPackAfterMs: 0,
  housekeepingMs: 25,
  snapshotIdleMs: 30 * DAY_MS,
};

describe.each([
  ['', {}],
  [', its quiet snapshots packed between frames', PACK_OFTEN],
])('custody ingest: a scripted day%s', (_, options: Partial<IngestOptions>) => {
  let h: IngestHarness;
  let scripts: readonly ConversationScript[];
  let snapshots: Map<string, SessionTagsSnapshot>;

  beforeAll(async () => {
    // 27 conversations (3 of each kind) over one simulated day, at 8,640x: the day passes in ~10 s. The
    // first six simulated hours (2.5 s) leave ingest time to subscribe before the first call.
    const scenario = scenarioOfEveryKind(START, START + 6 * 3_600_000, DAY_MS - 7 * 3_600_000, 3);
    h = await startIngestHarness({ scenario, speed: 8_640, seed: 11 }, options);
    scripts = h.emu.control.groundTruth();
    const lastEnd = Math.max(...scripts.map((s) => s.endTime));
    await h.untilSimTime(lastEnd + 10 * 60_000);
    await h.ingest.flush();
    snapshots = await h.snapshots();
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('names the ingest instance and version that captured each snapshot in its record headers', async () => {
    const records = (await readTopicToEnd(h.kafka, h.topics.sessionTags)).filter((r) => r.value);
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(r.headers[SESSION_TAGS_HEADERS.instance]).toBe(INSTANCE);
      expect(r.headers[SESSION_TAGS_HEADERS.version]).toBe(INGEST_VERSION);
    }
  });

  it('captures a snapshot for every conversation', () => {
    expect(scripts.length).toBe(27);
    const missing = scripts
      .filter((s) => !snapshots.has(s.conversationId))
      .map((s) => `${s.kind} ${s.conversationId}`);
    expect(missing).toEqual([]);
  });

  it('holds every leg with exactly the ground truth values (WebRTC session id, client IP, station, peer, addresses, times)', () => {
    const legs = scripts.flatMap((s) => s.groundTruth);
    expect(legs.filter((l) => l.isWebRtc).length).toBeGreaterThan(20);
    expect(legs.some((l) => !l.isWebRtc)).toBe(true);
    expect(compareWithGroundTruth(scripts, snapshots)).toEqual([]);
  });

  it('labels everything as captured live, since no event was missed', () => {
    const counts = provenanceCounts(scripts, snapshots);
    expect(counts.live).toBeGreaterThan(100);
    expect(counts.reconciled).toBe(0);
    expect(h.ingest.stats.gapsOpen).toBe(0);
  });

  it('writes every frame to the evidence log exactly as received, with nothing dead-lettered', async () => {
    const notifications = await h.notifications();
    const delivered = h.emu.control.deliveries();
    const conversationFrames = notifications.filter((n) => n.conversationId !== null);
    const sentConversationFrames = delivered.filter(
      (d) => d.delivered && /\.conversations/.test(d.topicName ?? ''),
    );
    expect(conversationFrames.length).toBe(sentConversationFrames.length);
    for (const n of notifications.slice(0, 50)) expect(JSON.parse(n.rawFrame)).toHaveProperty('topicName');
    expect(notifications.every((n) => n.ingestInstance === 'ingest-test' && n.receivedAtMs >= START)).toBe(
      true,
    );
    expect(await h.deadLetters()).toEqual([]);
  });

  it('answers for every conversation with the snapshot it wrote last, packed or not', async () => {
    // A frame that only re-confirms values moves their capture times and sources in ingest's snapshot without a new
    // record (not a material change: snapshotChanged), so what it holds equals what it wrote in material form.
    for (const [id, written] of snapshots) {
      const held = await h.ingest.snapshot(id);
      expect(held && materialForm(held), id).toBe(materialForm(written));
    }
    if (options.housekeepingMs !== undefined) expect(h.ingest.stats.snapshotsPacked).toBeGreaterThan(27);
    else expect(h.ingest.stats.snapshotsPacked).toBe(0);
  });

  it('reports on /metrics the conversations it holds and its snapshot worker heap', async () => {
    const text = await h.registry.metrics();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    // None is idle long enough to be forgotten here, so every conversation captured is held.
    expect(value('custody_ingest_conversations_held')).toBe(snapshots.size);
    const used = value('custody_ingest_snapshot_worker_heap_bytes{state="used"}') ?? 0;
    const total = value('custody_ingest_snapshot_worker_heap_bytes{state="total"}') ?? 0;
    expect(used).toBeGreaterThan(1024 * 1024);
    expect(total).toBeGreaterThanOrEqual(used);
    expect(value('custody_ingest_snapshot_worker_heap_bytes{state="limit"}')).toBeGreaterThan(total);
  });
});
