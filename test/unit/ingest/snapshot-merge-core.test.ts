import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createOrg, createRng, randomConversations } from '../../../dev/emulator/simulation/index.ts';
import { notificationFrameText, userTopicEvents } from '../../../dev/user-topic-events.ts';
import { summarizeFrame } from '../../../src/enrich/frame-summary.ts';
import { parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import { extractTagObservations } from '../../../src/enrich/session-tags-extract.ts';
import { HeldSnapshots } from '../../../src/ingest/held-snapshots.ts';
import { SnapshotMergeCore } from '../../../src/ingest/snapshot-merge-core.ts';
import { ConfluentCodec, loadCustodySchema, singleObjectCodecFor } from '../../../src/kafka/avro-codec.ts';
import type { RecordEncoder } from '../../../src/kafka/record-codecs.ts';
import type {
  EncodedSnapshots,
  FromWorker,
  SnapshotWorkerData,
  ToWorker,
} from '../../../src/ingest/snapshot-worker-protocol.ts';

const T0 = Date.parse('2026-03-01T08:00:00Z');
const org = createOrg(createRng(5), { users: 8 });
const frames = userTopicEvents(randomConversations(org, createRng(5), T0, T0 + 900_000, 6)).map((e, i) =>
  notificationFrameText(e.topicName, e.eventBody, i),
);
const data: SnapshotWorkerData = { restored: [], now: T0, snapshotFraming: null };

/** What ingest without a worker writes for the same frames sealed in the same groups: [conversation, snapshot]. */
function inProcess(groups: number[][]): Array<[string, unknown]> {
  const held = new HeldSnapshots(undefined, T0);
  const written: Array<[string, unknown]> = [];
  for (const group of groups) {
    const touched: string[] = [];
    for (const i of group) {
      const env = parseNotificationFrame(frames[i] as string);
      if (!env.ok) continue;
      const x = extractTagObservations(env.value, {
        receivedAt: T0 + i,
        provenance: 'live',
        userContext: () => undefined,
      });
      if (x.ok) touched.push(...held.absorb(x.value, T0 + i));
    }
    // Copied when written: the held snapshot changes in place with later merges.
    for (const s of held.seal(touched)) written.push([s.conversationId, structuredClone(s.snapshot)]);
  }
  return written;
}

/** Replies after groups of 1, 7 and 25 frames. */
function mixedGroups(): number[][] {
  const groups: number[][] = [];
  for (let i = 0, n = 1; i < frames.length; i += n, n = n === 1 ? 7 : n === 7 ? 25 : 1)
    groups.push([...Array(Math.min(n, frames.length - i)).keys()].map((k) => i + k));
  return groups;
}

/** An encoded reply's records: [conversation, bytes in hex] (hex: toEqual over Buffers is slow). */
function records(e: EncodedSnapshots | null | undefined): Array<[string, string]> {
  if (!e) return [];
  return e.conversationIds.map((id, i) => [
    id,
    Buffer.from(e.bytes.subarray(i === 0 ? 0 : e.ends[i - 1], e.ends[i])).toString('hex'),
  ]);
}

const FRAMED: ReadonlyArray<
  [string, RecordEncoder<never> & Required<Pick<RecordEncoder<never>, 'framing'>>]
> = [
  ['single-object', singleObjectCodecFor('session-tags.v1')],
  ['Confluent, schema id 7', new ConfluentCodec(loadCustodySchema('session-tags.v1'), 7)],
];

function framesMessage(group: number[], report: 0 | 1 = 0): ToWorker {
  return { t: 'frames', items: group.flatMap((i) => [i, frames[i] as string, T0 + i, report]) };
}

describe('SnapshotMergeCore', () => {
  it('writes what ingest without a worker writes, sealed per reply', () => {
    expect(frames.length).toBeGreaterThan(50);
    const groups = mixedGroups();
    const core = new SnapshotMergeCore(data);
    const written: Array<[string, unknown]> = [];
    for (const group of groups) {
      core.handle(framesMessage(group));
      const reply = core.reply();
      expect(reply?.through).toBe(group.at(-1));
      // Copied at once, as postMessage does: the core hands out the held snapshots.
      for (const { conversationId: id, snapshot } of reply?.snapshots ?? [])
        written.push([id, structuredClone(snapshot)]);
    }
    const expected = inProcess(groups);
    expect(expected.length).toBeGreaterThan(5);
    expect(written).toEqual(expected);
  });

  for (const [name, encoder] of FRAMED)
    it(`given the encoder's framing (${name}), replies with the bytes the encoder writes for those snapshots`, () => {
      const groups = mixedGroups();
      const core = new SnapshotMergeCore({ ...data, snapshotFraming: encoder.framing });
      const written: Array<[string, string]> = [];
      for (const group of groups) {
        core.handle(framesMessage(group));
        const reply = core.reply();
        expect(reply?.snapshots).toEqual([]);
        const e = reply?.encoded;
        // One buffer of exactly the records, owning its memory: what the worker transfers.
        if (e) expect(e.bytes.buffer.byteLength).toBe(e.ends.at(-1));
        written.push(...records(e));
      }
      const expected = inProcess(groups).map(([id, snapshot]): [string, string] => [
        id,
        encoder.encode(snapshot as never).toString('hex'),
      ]);
      expect(expected.length).toBeGreaterThan(5);
      expect(written).toEqual(expected);
    });

  it('refuses framing for another schema', () => {
    const other = singleObjectCodecFor('notification.v1').framing;
    expect(() => new SnapshotMergeCore({ ...data, snapshotFraming: other })).toThrow(/not for its schema/);
  });

  it('counts items with nothing to extract, and replies nothing when nothing came', () => {
    const core = new SnapshotMergeCore(data);
    expect(core.reply()).toBeUndefined();
    core.handle({ t: 'frames', items: [0, null, T0, 0, 1, null, T0 + 1, 0] });
    expect(core.reply()).toMatchObject({ through: 1, snapshots: [], outcomes: [] });
    expect(core.reply()).toBeUndefined();
  });

  it('refuses items out of order', () => {
    const core = new SnapshotMergeCore(data);
    core.handle({ t: 'frames', items: [3, null, T0, 0] });
    expect(() => core.handle({ t: 'frames', items: [3, null, T0, 0] })).toThrow(/must come in order/);
  });

  it('reports on every frame posted to be reported, as the main thread would summarise it, and merges the same', () => {
    const group = [...Array(20).keys()];
    const reported = new SnapshotMergeCore(data);
    reported.handle(framesMessage(group, 1));
    const withReports = reported.reply();
    const plain = new SnapshotMergeCore(data);
    plain.handle(framesMessage(group, 0));
    const without = plain.reply();
    expect(withReports?.outcomes.map((o) => o.seq)).toEqual(group);
    for (const o of withReports?.outcomes ?? [])
      expect(o.summary).toEqual(summarizeFrame(parseNotificationFrame(frames[o.seq] as string)));
    expect(without?.outcomes.every((o) => o.summary === null)).toBe(true);
    // The report changes nothing else: the same snapshots, event times and failures.
    expect(withReports?.snapshots).toEqual(without?.snapshots);
    expect(
      withReports?.outcomes
        .filter((o) => o.eventTime !== null || o.failure !== null)
        .map((o) => ({ ...o, summary: null })),
    ).toEqual(without?.outcomes);
  });

  it('reports a frame that does not parse as rejected, with the reason, and merges nothing from it', () => {
    const core = new SnapshotMergeCore(data);
    core.handle({ t: 'frames', items: [0, '{"topicName":', T0, 1] });
    const reply = core.reply();
    expect(reply?.snapshots).toEqual([]);
    expect(reply?.outcomes).toEqual([
      {
        seq: 0,
        eventTime: null,
        failure: null,
        summary: expect.objectContaining({
          kind: 'rejected',
          rejection: expect.objectContaining({ code: 'not-json' }),
        }),
      },
    ]);
  });

  it("reports each frame's event time, and the users of the conversations it touched", () => {
    const core = new SnapshotMergeCore(data);
    core.handle(framesMessage([0, 1, 2, 3, 4, 5]));
    const reply = core.reply();
    expect(reply?.outcomes.length).toBeGreaterThan(0);
    for (const o of reply?.outcomes ?? []) {
      expect(o.failure).toBeNull();
      expect(typeof o.eventTime).toBe('number');
    }
    expect(reply?.users.length).toBeGreaterThan(0);
    for (const [, users] of reply?.users ?? [])
      for (const u of users) expect(org.users.map((x) => x.id)).toContain(u);
  });

  it('runs as a worker thread: one reply for a backlog, snapshots transferred', async () => {
    const worker = new Worker(new URL('../../../src/ingest/snapshot-worker.ts', import.meta.url), {
      workerData: data,
    });
    try {
      const replies: FromWorker[] = [];
      const done = new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: FromWorker) => {
          replies.push(m);
          if (m.t === 'merged' && m.through === frames.length - 1) resolve();
        });
      });
      // Posted in one go: the worker handles the queued messages, then replies once.
      for (let i = 0; i < frames.length; i += 10)
        worker.postMessage(
          framesMessage([...Array(Math.min(10, frames.length - i)).keys()].map((k) => i + k)),
        );
      await done;
      const merged = replies.filter((r) => r.t === 'merged');
      expect(merged.length).toBeLessThan(Math.ceil(frames.length / 10));
      const written = merged.flatMap((r) => r.snapshots);
      expect(written.length).toBeGreaterThan(0);
    } finally {
      await worker.terminate();
    }
  });

  it('runs as a worker thread given framing: the snapshots arrive encoded, as the encoder writes them', async () => {
    const encoder = singleObjectCodecFor('session-tags.v1');
    const run = async (framed: boolean): Promise<Array<[string, string]>> => {
      const worker = new Worker(new URL('../../../src/ingest/snapshot-worker.ts', import.meta.url), {
        workerData: { ...data, snapshotFraming: framed ? encoder.framing : null },
      });
      try {
        const out: Array<[string, string]> = [];
        const done = new Promise<void>((resolve, reject) => {
          worker.on('error', reject);
          worker.on('message', (m: FromWorker) => {
            if (m.t !== 'merged') return;
            out.push(...records(m.encoded));
            for (const s of m.snapshots)
              out.push([s.conversationId, encoder.encode(s.snapshot).toString('hex')]);
            if (m.through === frames.length - 1) resolve();
          });
        });
        worker.postMessage(framesMessage([...frames.keys()]));
        await done;
        return out;
      } finally {
        await worker.terminate();
      }
    };
    const framed = await run(true);
    expect(framed.length).toBeGreaterThan(0);
    expect(framed).toEqual(await run(false));
  });
});
