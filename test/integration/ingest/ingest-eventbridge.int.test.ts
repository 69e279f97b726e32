/**
 * `custody ingest --source eventbridge`: the emulator delivers every event through its Amazon EventBridge
 * integration into a real Kafka topic (the user's bridge), and ingest reads it with its own consumer group. The
 * session tags match the ground truth as on the WebSocket path, the evidence log keeps each event as read and
 * says it came via EventBridge, a redelivered event is dropped as a duplicate, a malformed one is dead-lettered
 * with its bridge coordinates while reading goes on, and the group's offsets reach the end of the topic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import { startEmulator } from '../../../dev/emulator/index.ts';
import type { ConversationScript } from '../../../dev/emulator/model.ts';
import { parseEventBridgeEvent } from '../../../src/enrich/eventbridge-event.ts';
import type { SessionTagsSnapshot } from '../../../src/enrich/session-tags.ts';
import { compareWithGroundTruth, provenanceCounts, scenarioOfEveryKind } from '../../support/ground-truth.ts';
import { infra, uniqueName } from '../../support/clients.ts';
import type { IngestRun, IngestWorld } from './ingest-runner.ts';
import { CLIENT_ID, CLIENT_SECRET, createWorld, startRun, until, untilSimTime } from './ingest-runner.ts';

async function eventually(what: string, cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const START = Date.parse('2026-03-09T00:00:00.000Z');
const HOUR = 3_600_000;

describe('custody ingest from EventBridge (bridged into Kafka)', () => {
  let emu: RunningEmulator;
  let world: IngestWorld;
  let run: IngestRun;
  let scripts: readonly ConversationScript[];
  let snapshots: Map<string, SessionTagsSnapshot>;
  let groupId: string;

  const consumedAll = async (): Promise<boolean> => {
    const admin = world.kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(world.topics.eventBridge);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [world.topics.eventBridge] });
      return ends.every(
        (e) => committed?.partitions.find((p) => p.partition === e.partition)?.offset === e.high,
      );
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    world = await createWorld();
    const admin = world.kafka.admin();
    await admin.connect();
    // The bridge topic is the user's: custody reads it and never creates it. (A broker that has just started may
    // answer the creation's metadata wait with a retriable error: the topic is then there, or created again.)
    await eventually('the bridge topic to exist', async () => {
      await admin
        .createTopics({
          topics: [{ topic: world.topics.eventBridge, numPartitions: 3 }],
          waitForLeaders: true,
        })
        .catch(() => false);
      const listed: string[] = await admin.listTopics().catch(() => []);
      return listed.includes(world.topics.eventBridge);
    });
    await admin.disconnect();
    emu = await startEmulator({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      scenario: scenarioOfEveryKind(START, START + 2 * HOUR, 10 * HOUR, 1),
      speed: 4_000,
      seed: 12,
      eventBridge: { brokers: infra().KAFKA_BROKERS.split(','), topic: world.topics.eventBridge },
    });
    groupId = uniqueName('ingest-eventbridge');
    run = await startRun(emu, world, {
      deps: { eventBridge: { kafka: world.kafka, topic: world.topics.eventBridge, groupId } },
    });
    scripts = emu.control.groundTruth();
    const lastEnd = Math.max(...scripts.map((s) => s.endTime));
    await untilSimTime(emu, lastEnd + 10 * 60_000);
    await emu.eventBridge?.flush();
    const sent = emu.eventBridge?.sent() ?? 0;
    await until('ingest to read every bridged event', () => run.ingest.stats.frames >= sent, 60_000);
    await run.ingest.flush();
    snapshots = await world.snapshots();
  }, 120_000);

  afterAll(async () => {
    await run?.stop();
    await emu?.close();
  });

  it('captures every conversation with exactly the ground truth values, live, with no gap and no socket', () => {
    expect(scripts.length).toBe(9);
    expect(run.ingest.channels()).toEqual([]);
    expect(compareWithGroundTruth(scripts, snapshots)).toEqual([]);
    expect(provenanceCounts(scripts, snapshots).reconciled).toBe(0);
    expect(run.ingest.stats.gapsOpen).toBe(0);
  });

  it('keeps each event as read in the evidence log, marked eventbridge with its id, detail-type and source', async () => {
    const notifications = await world.notifications();
    expect(notifications.length).toBe(emu.eventBridge?.sent());
    for (const n of notifications) {
      expect(n.transport).toBe('eventbridge');
      const event = parseEventBridgeEvent(n.rawFrame);
      if (!event.ok) throw new Error(event.error.reason);
      expect(n.eventBridge?.id).toBe(event.value.origin.id);
      expect(n.eventBridge?.detailType).toBe(event.value.origin.detailType);
      expect(n.eventBridge?.source).toBe(`aws.partner/genesys.com/cloud/${emu.org.orgId}/custody-emulator`);
      expect(n.eventBridge?.bridgeTopic).toBe(world.topics.eventBridge);
      expect(n.channelId).toBe(n.eventBridge?.source);
      expect(n.frameSequence).toBeNull();
      expect(n.topicName).toBe(
        (JSON.parse(n.rawFrame) as { detail: { topicName: string } }).detail.topicName,
      );
    }
    expect(notifications.filter((n) => n.conversationId !== null).length).toBeGreaterThan(50);
    expect(await world.deadLetters()).toEqual([]);
    await eventually('the group to commit to the end', consumedAll);
  });

  it('drops redelivered events as duplicates, dead-letters a malformed event and keeps reading', async () => {
    const before = await world.notifications();
    const framesBefore = run.ingest.stats.frames;
    const redelivered = emu.eventBridge?.redeliver(5) ?? 0;
    expect(redelivered).toBe(5);
    emu.eventBridge?.sendRaw(
      '{"version":"0","id":"not a uuid","detail-type":"x","source":"aws.partner/genesys.com/x"',
    );
    emu.eventBridge?.sendRaw(
      JSON.stringify({
        version: '0',
        id: 'c0a5f3de-7d0b-4a2e-9f61-3d1b8e0c2a77',
        'detail-type': 'Object Created',
        source: 'aws.s3',
        detail: {},
      }),
    );
    const script = emu.control.scheduleConversation('inbound-acd-webrtc', { durationSeconds: 60 });
    await untilSimTime(emu, script.endTime + 10 * 60_000);
    await emu.eventBridge?.flush();
    const sent = emu.eventBridge?.sent() ?? 0;
    await until('ingest to read the new events', () => run.ingest.stats.frames >= sent, 60_000);
    await run.ingest.flush();

    expect(run.ingest.stats.duplicates).toBe(5);
    const after = await world.notifications();

    // Every new event but the five duplicates is in the evidence log; the two malformed ones as rejected.
    expect(after.length - before.length).toBe(run.ingest.stats.frames - framesBefore - 5);
    // (The log is read partition by partition: the new records are not at its end.)
    const rejected = after.filter((n) => n.kind === 'rejected');
    expect(rejected.map((n) => n.rejectionCode).sort()).toEqual([
      'eventbridge-not-genesys',
      'eventbridge-not-json',
    ]);
    expect(rejected.every((n) => n.transport === 'eventbridge' && n.eventBridge === null)).toBe(true);
    const dead = await world.deadLetters();
    expect(dead.map((d) => d.errorCode).sort()).toEqual([
      'CUSTODY_INGEST_EVENTBRIDGE_NOT_GENESYS',
      'CUSTODY_INGEST_EVENTBRIDGE_NOT_JSON',
    ]);
    for (const d of dead) {
      expect(d.source.kind).toBe('kafka');
      expect(d.source.topic).toBe(world.topics.eventBridge);
      expect(d.source.offset).not.toBeNull();
      expect(d.reason.length).toBeGreaterThan(10);
      // The original bytes, as in the evidence log.
      expect(rejected.map((n) => n.rawFrame)).toContain(d.value?.toString('utf8'));
    }
    // Reading went on: the conversation after the bad events is captured like the others.
    expect(compareWithGroundTruth([script], await world.snapshots())).toEqual([]);
    await eventually('the group to commit to the end', consumedAll);
  }, 90_000);
});
