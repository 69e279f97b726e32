/**
 * Zero lost conversations across each injected fault, with provenance telling what was captured live and
 * what was repaired from the Platform API.
 *
 * Each test runs its own emulator (120x: two simulated minutes per second) and ingest. Conversations:
 * `before` spans the fault (captured live before and after it), `inside` starts and ends while ingest is
 * cut off (so it can only be reconciled), `after` starts once ingest is back (live).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationScript, GroundTruthLeg } from '../../../dev/emulator/model.ts';
import { restartKafka } from '../../../infra/local.ts';
import { capturedLeg, compareWithGroundTruth, provenanceCounts } from '../../support/ground-truth.ts';
import { infra } from '../../support/clients.ts';
import { startIngestHarness, type IngestHarness } from '../../support/ingest-harness.ts';

const START = Date.parse('2026-03-03T09:00:00.000Z');
const MIN = 60_000;
const FAULT_AT = START + 4 * MIN;
const OUTAGE_MS = 3 * MIN;

const scenario = {
  seed: 3,
  start: new Date(START).toISOString(),
  conversations: [
    { kind: 'consult-transfer' as const, at: new Date(START + 2 * MIN).toISOString(), durationSeconds: 420 },
    {
      kind: 'inbound-acd-webrtc' as const,
      at: new Date(FAULT_AT + 20_000).toISOString(),
      durationSeconds: 60,
    },
    {
      kind: 'outbound-webrtc' as const,
      at: new Date(FAULT_AT + OUTAGE_MS + 3 * MIN).toISOString(),
      durationSeconds: 120,
    },
  ],
};

/** Fields the Platform API (analytics + REST) also knows, so a reconciled leg must match them. */
const RECONCILABLE: ReadonlyArray<keyof GroundTruthLeg> = [
  'communicationId',
  'userId',
  'purpose',
  'direction',
  'peerId',
  'provider',
];

let h: IngestHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function run(
  inject: (h: IngestHarness, channelId: string) => void | Promise<void>,
): Promise<{ scripts: readonly ConversationScript[] }> {
  h = await startIngestHarness(
    { scenario, speed: 120, seed: 5 },
    { gapRepair: { retryDelaysMs: [0, 1_000, 3_000, 6_000], marginMs: MIN } },
  );
  const harness = h;
  await harness.untilSimTime(FAULT_AT);
  const channelId = harness.ingest.channels()[0]?.channelId;
  if (!channelId) throw new Error('ingest has no channel');
  await inject(harness, channelId);
  const scripts = harness.emu.control.groundTruth();
  const lastEnd = Math.max(...scripts.map((s) => s.endTime));
  await harness.untilSimTime(lastEnd + 2 * MIN);
  // Every opened gap must reach its final repair attempt (the last one runs 6 s after the gap closed).
  const deadline = Date.now() + 30_000;
  while (harness.ingest.stats.gapsOpen > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  await harness.ingest.flush();
  return { scripts };
}

function byKind(scripts: readonly ConversationScript[], at: number): ConversationScript {
  const s = scripts.find((c) => c.startTime === at);
  if (!s) throw new Error(`no conversation at ${new Date(at).toISOString()}`);
  return s;
}

/** The checks every gap-producing fault must pass. */
async function expectRepaired(scripts: readonly ConversationScript[]): Promise<void> {
  const harness = h as IngestHarness;
  const snapshots = await harness.snapshots();
  expect(harness.ingest.stats.gapsRepaired).toBeGreaterThan(0);
  expect(harness.ingest.stats.gapsOpen).toBe(0);
  // Zero lost conversations, zero lost legs.
  for (const s of scripts) {
    expect(snapshots.has(s.conversationId), `${s.kind} captured`).toBe(true);
    for (const gt of s.groundTruth)
      expect(
        capturedLeg(snapshots.get(s.conversationId), gt),
        `${s.kind} leg ${gt.participantId}`,
      ).toBeDefined();
  }
  // The conversation that happened entirely inside the gap: reconciled, never presented as live.
  const inside = byKind(scripts, Date.parse(scenario.conversations[1]!.at));
  const insideCounts = provenanceCounts([inside], snapshots);
  expect(insideCounts.reconciled).toBeGreaterThan(0);
  expect(insideCounts.live).toBe(0);
  expect(compareWithGroundTruth([inside], snapshots, RECONCILABLE)).toEqual([]);
  // Fields only live events carry are absent, not invented.
  for (const gt of inside.groundTruth)
    expect(capturedLeg(snapshots.get(inside.conversationId), gt)?.publicIpAddress).toBeNull();
  // The conversation after the gap is complete and live.
  const after = byKind(scripts, Date.parse(scenario.conversations[2]!.at));
  expect(compareWithGroundTruth([after], snapshots)).toEqual([]);
  expect(provenanceCounts([after], snapshots).reconciled).toBe(0);
}

/**
 * The notification API failing for the whole outage: creating channels, or also (`allMethods`) checking,
 * subscribing and reconnecting an existing one — a dropped socket is otherwise reconnected to its channel at once.
 */
const channelPostOutage = (harness: IngestHarness, status = 503, allMethods = false) =>
  harness.emu.control.failRest({
    pathPrefix: '/api/v2/notifications/channels',
    method: allMethods ? undefined : 'POST',
    status,
    durationMs: OUTAGE_MS,
    retryAfterSeconds: 1,
  });

describe('custody ingest under faults', () => {
  it('a dropped socket (and the notification API failing for 3 minutes) loses no conversation', async () => {
    const { scripts } = await run((harness, channelId) => {
      channelPostOutage(harness, 503, true);
      harness.emu.control.dropSocket(channelId);
    });
    await expectRepaired(scripts);
  });

  it('a socket that stays open but goes silent (no heartbeats, no pong) is detected and repaired', async () => {
    const { scripts } = await run((harness, channelId) => {
      channelPostOutage(harness);
      harness.emu.control.stallSocket(channelId);
    });
    await expectRepaired(scripts);
    const reconnects = await h!.metrics.reconnects.get();
    expect(reconnects.values.find((v) => v.labels.reason === 'heartbeat-timeout')?.value).toBe(1);
  });

  it('an expired channel is rebuilt and its gap repaired', async () => {
    const { scripts } = await run((harness, channelId) => {
      channelPostOutage(harness);
      harness.emu.control.expireChannel(channelId);
    });
    await expectRepaired(scripts);
  });

  it('an evicted channel is rebuilt and its gap repaired', async () => {
    const { scripts } = await run((harness, channelId) => {
      channelPostOutage(harness);
      harness.emu.control.evictChannel(channelId);
    });
    await expectRepaired(scripts);
  });

  it('429s with Retry-After while rebuilding are honoured and nothing is lost', async () => {
    let throttled: { hits: number } | undefined;
    const { scripts } = await run((harness, channelId) => {
      throttled = channelPostOutage(harness, 429, true);
      harness.emu.control.dropSocket(channelId);
    });
    await expectRepaired(scripts);
    expect(throttled?.hits).toBeGreaterThan(0);
  });

  it('socket_closing: the replacement connects before the old socket closes, so there is no gap and no duplicate', async () => {
    const { scripts } = await run((harness, channelId) => {
      harness.emu.control.sendSocketClosing(channelId);
    });
    const harness = h as IngestHarness;
    const snapshots = await harness.snapshots();
    expect(harness.ingest.stats.gapsOpen + harness.ingest.stats.gapsRepaired).toBe(0);
    expect(compareWithGroundTruth(scripts, snapshots)).toEqual([]);
    expect(provenanceCounts(scripts, snapshots).reconciled).toBe(0);
    const channels = new Set(harness.ingest.channels().map((c) => c.channelId));
    expect(channels.has(undefined)).toBe(false);
    // Each conversation event reached the evidence log once, however many sockets carried it.
    const records = (await harness.notifications()).filter((n) => n.conversationId !== null);
    const bodies = records.map(
      (n) => `${n.topicName}|${JSON.stringify((JSON.parse(n.rawFrame) as { eventBody: unknown }).eventBody)}`,
    );
    expect(new Set(bodies).size).toBe(bodies.length);
  });

  it('socket_closing whose connectUri refuses the reconnect: a new channel overlaps the old one, and each event is kept once', async () => {
    let overlapped: { oldChannel: string; newChannel: string; reached: number } | undefined;
    const { scripts } = await run((harness, channelId) => {
      const { control, org } = harness.emu;
      // A user in no conversation of the scenario, re-associated with its own station: ground truth is unchanged.
      const busy = new Set(control.groundTruth().flatMap((s) => s.groundTruth.map((leg) => leg.userId)));
      const user = org.users.find((u) => u.stationId !== undefined && !busy.has(u.id));
      if (!user?.stationId) throw new Error('the scenario has no idle user with a station');
      const stationId = user.stationId;
      // The moment the replacement channel's socket is attached, the old socket is still open (custody closes it
      // once the new one is live): an event published now reaches both channels.
      const stop = control.onSocketConnected((socket) => {
        if (socket.channelId === channelId) return;
        stop();
        const before = control.deliveries({ delivered: true }).length;
        control.changeStation(user.id, stationId);
        const sent = control.deliveries({ delivered: true }).slice(before);
        overlapped = { oldChannel: channelId, newChannel: socket.channelId, reached: sent.length };
      });
      expect(control.sendSocketClosing(channelId, { refuseReconnect: true })).toBe(true);
    });
    const harness = h as IngestHarness;
    expect(overlapped, 'a replacement channel was opened').toBeDefined();
    expect(overlapped?.newChannel).not.toBe(overlapped?.oldChannel);
    // Both channels carried the event: the overlap the dedupe exists for really happened.
    expect(overlapped?.reached).toBe(2);
    expect(harness.ingest.stats.duplicates).toBeGreaterThan(0);
    expect(harness.ingest.stats.gapsOpen + harness.ingest.stats.gapsRepaired).toBe(0);
    expect(compareWithGroundTruth(scripts, await harness.snapshots())).toEqual([]);
    // The emulator gives each published event one CorrelationId on every channel: every event delivered to a
    // socket is in the evidence log, and none twice.
    const delivered = new Set(
      harness.emu.control
        .deliveries({ delivered: true, kind: 'event' })
        .map((d) => d.correlationId)
        .filter((id): id is string => id !== undefined),
    );
    const logged = (await harness.notifications())
      .filter((n) => n.topicName?.startsWith('v2.users.') && n.correlationId !== null)
      .map((n) => n.correlationId as string);
    expect(logged.length).toBe(new Set(logged).size);
    expect(new Set(logged)).toEqual(delivered);
  });

  it.skipIf(infra().source !== 'local')(
    'a Kafka broker crash and restart loses nothing: frames wait in the buffer',
    async () => {
      const { scripts } = await run(async () => {
        await restartKafka({ name: infra().stateName as string, downMs: 1_500, log: () => undefined });
      });
      const harness = h as IngestHarness;
      const snapshots = await harness.snapshots();
      expect(compareWithGroundTruth(scripts, snapshots)).toEqual([]);
      expect(provenanceCounts(scripts, snapshots).reconciled).toBe(0);
      expect(harness.ingest.stats.deadLetters).toBe(0);
    },
  );

  it('malformed frames go to the DLQ with the reason, and ingest goes on', async () => {
    const bad = '00000000-0000-4000-8000-000000000001';
    const { scripts } = await run((harness) => {
      const user = harness.emu.org.users[0]!.id;
      harness.emu.control.emit({
        topicName: `v2.users.${user}.conversations`,
        eventBody: 'not an object' as never,
      });
      harness.emu.control.emit({
        topicName: `v2.users.${user}.conversations`,
        eventBody: { id: 'not-a-uuid', participants: [] } as never,
      });
      harness.emu.control.emit({
        topicName: `v2.users.${user}.conversations`,
        eventBody: { id: bad, participants: [{ id: 42 }] } as never,
      });
    });
    const harness = h as IngestHarness;
    const dlq = await harness.deadLetters();
    expect(dlq).toHaveLength(3);
    // The third frame is used in part: its one participant is invalid, so it is dropped and reported.
    expect(dlq.map((d) => d.errorCode)).toContain('CUSTODY_INGEST_PARTICIPANT_DROPPED');
    for (const d of dlq) {
      expect(d.stage).toBe('ingest');
      expect(d.errorCode).toMatch(/^CUSTODY_INGEST_/);
      expect(d.reason.length).toBeGreaterThan(10);
      expect(d.source.kind).toBe('websocket');
      expect(d.value?.toString()).toContain('v2.users.');
    }
    // The rest went on: everything else captured completely and live.
    const snapshots = await harness.snapshots();
    expect(compareWithGroundTruth(scripts, snapshots)).toEqual([]);
    const rejected = (await harness.notifications()).filter((n) => n.kind === 'rejected');
    expect(rejected).toHaveLength(2);
  });
});
