/**
 * Downtime across an ingest restart is a gap like any other: ingest runs, is stopped, conversations happen while
 * it is down, and the restarted ingest finds its last capture in the evidence log, records the interval until its
 * sockets are up as a gap, and repairs it from the Platform API — the missed conversation's tags are there,
 * labelled reconciled, never live.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GroundTruthLeg } from '../../../dev/emulator/model.ts';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import { startEmulator } from '../../../dev/emulator/index.ts';
import { unpackSnapshot } from '../../../src/ingest/packed-snapshots.ts';
import { restoreSnapshots } from '../../../src/ingest/snapshot-restore.ts';
import { capturedLeg, compareWithGroundTruth, provenanceCounts } from '../../support/ground-truth.ts';
import type { IngestRun } from './ingest-runner.ts';
import { CLIENT_ID, CLIENT_SECRET, createWorld, startRun, until, untilSimTime } from './ingest-runner.ts';

const START = Date.parse('2026-03-05T09:00:00.000Z');
const MIN = 60_000;
const STOP_AT = START + 6 * MIN;
const RESTART_AT = START + 12 * MIN;

const scenario = {
  seed: 4,
  start: new Date(START).toISOString(),
  conversations: [
    {
      kind: 'inbound-acd-webrtc' as const,
      at: new Date(START + 2 * MIN).toISOString(),
      durationSeconds: 120,
    },
    // Entirely while ingest is down: only the restart gap's repair can know it.
    { kind: 'outbound-webrtc' as const, at: new Date(START + 8 * MIN).toISOString(), durationSeconds: 60 },
    {
      kind: 'inbound-acd-webrtc' as const,
      at: new Date(START + 14 * MIN).toISOString(),
      durationSeconds: 120,
    },
  ],
};

const RECONCILABLE: ReadonlyArray<keyof GroundTruthLeg> = [
  'communicationId',
  'userId',
  'purpose',
  'direction',
  'peerId',
  'provider',
];

let emu: RunningEmulator | undefined;
const runs: IngestRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.stop().catch(() => undefined);
  await emu?.close();
  emu = undefined;
});

describe('custody ingest across a restart', () => {
  it('records the downtime as a gap and reconstructs the missed conversation as reconciled', async () => {
    emu = await startEmulator({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      scenario,
      speed: 120,
      seed: 6,
    });
    const world = await createWorld();
    const evidenceLog = { kafka: world.kafka, decoders: world.decoders };

    // First run: a first start finds no earlier capture, so it records no restart gap.
    const first = await startRun(emu, world, { deps: { evidenceLog } });
    runs.push(first);
    await untilSimTime(emu, STOP_AT);
    await first.ingest.flush();
    const stopReport = await first.stop();
    runs.splice(runs.indexOf(first), 1);
    const stoppedAt = emu.clock.now();
    expect(stopReport.unflushed.frames).toBe(0);
    expect(first.ingest.stats.gapsOpen + first.ingest.stats.gapsRepaired).toBe(0);
    expect(first.logs.some((l) => l.msg.startsWith('no earlier capture'))).toBe(true);
    const lastWritten = Math.max(...(await world.notifications()).map((n) => n.receivedAtMs));

    // Down while the second conversation happens.
    await untilSimTime(emu, RESTART_AT);
    const restored = await restoreSnapshots({
      kafka: world.kafka,
      topic: world.topics.sessionTags,
      decoders: world.decoders,
      since: emu.clock.now() - 24 * 3_600_000,
      decodedWhileReading: 1, // every conversation packed and unpacked again while its records are read
    });
    // Restored packed: each unpacks to its conversation's snapshot as the first run last wrote it.
    const written = await world.snapshots();
    expect(restored.conversations.size).toBeGreaterThan(0);
    for (const [id, r] of restored.conversations) expect(unpackSnapshot(r.packed)).toEqual(written.get(id));
    const second = await startRun(emu, world, { deps: { evidenceLog, restored: restored.conversations } });
    runs.push(second);

    // The gap: from the newest frame the first run wrote until the second run's socket was up.
    const restartLine = second.logs.find((l) => l.msg.startsWith('restart gap'));
    expect(restartLine?.['lastCapturedAt']).toBe(new Date(lastWritten).toISOString());
    expect(restartLine?.['matchedBy']).toBe('instance');
    expect(lastWritten).toBeLessThanOrEqual(stoppedAt);
    const opened = second.logs.find((l) => l.msg === 'notification gap opened');
    expect(opened?.['reason']).toBe('ingest was not running');
    expect(opened?.['from']).toBe(lastWritten);

    const scripts = emu.control.groundTruth();
    const lastEnd = Math.max(...scripts.map((s) => s.endTime));
    await untilSimTime(emu, lastEnd + 2 * MIN);
    await until(
      'the restart gap to be repaired',
      () => second.ingest.stats.gapsRepaired > 0 && second.ingest.stats.gapsOpen === 0,
    );
    await second.ingest.flush();

    const snapshots = await world.snapshots();
    const [before, missed, after] = [...scripts].sort((a, b) => a.startTime - b.startTime);
    // The conversation nobody saw live: reconstructed, and labelled as repaired.
    expect(snapshots.has(missed!.conversationId)).toBe(true);
    const counts = provenanceCounts([missed!], snapshots);
    expect(counts.reconciled).toBeGreaterThan(0);
    expect(counts.live).toBe(0);
    expect(compareWithGroundTruth([missed!], snapshots, RECONCILABLE)).toEqual([]);
    for (const gt of missed!.groundTruth)
      expect(capturedLeg(snapshots.get(missed!.conversationId), gt)?.publicIpAddress).toBeNull();
    // Before the stop and after the restart: captured live and complete.
    expect(compareWithGroundTruth([before!, after!], snapshots)).toEqual([]);
    expect(provenanceCounts([after!], snapshots).reconciled).toBe(0);
    expect(provenanceCounts([before!], snapshots).live).toBeGreaterThan(0);
  }, 90_000);
});
