/**
 * Ingest as users run it unattended: dependencies that are not there yet at start, refusals only an operator can
 * fix, channels that fail or go silent, frames too large for Kafka, and a shutdown while Kafka is down. Each case
 * is one observed failure; real Kafka and the Genesys emulator throughout (the one dead broker is a closed port).
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import { startEmulator } from '../../../dev/emulator/index.ts';
import { freePort } from '../../../infra/local.ts';
import { restoreSnapshots } from '../../../src/ingest/snapshot-restore.ts';
import { KafkaRecordProducer } from '../../../src/kafka/record-producer.ts';
import { Conditions } from '../../../src/runtime/conditions.ts';
import { FatalError } from '../../../src/runtime/errors.ts';
import { infra, uniqueName } from '../../support/clients.ts';
import type { IngestRun, LogLine } from './ingest-runner.ts';
import {
  capturingLogger,
  CLIENT_ID,
  CLIENT_SECRET,
  createWorld,
  genesysApi,
  startRun,
  until,
} from './ingest-runner.ts';

const START = Date.parse('2026-03-06T09:00:00.000Z');

let emu: RunningEmulator | undefined;
const runs: IngestRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.stop().catch(() => undefined);
  await emu?.close();
  emu = undefined;
});

async function emulator(port?: number): Promise<RunningEmulator> {
  emu = await startEmulator({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    startTime: START,
    speed: 120,
    seed: 8,
    port,
  });
  return emu;
}

async function run(e: RunningEmulator, opts: Parameters<typeof startRun>[2] = {}): Promise<IngestRun> {
  const r = await startRun(e, await createWorld(), opts);
  runs.push(r);
  return r;
}

describe('start-up waits for its dependencies', () => {
  it('restoring snapshots waits out a retriable Kafka error (topic not there yet) instead of dying', async () => {
    // No client-side retries: the broker's UNKNOWN_TOPIC_OR_PARTITION reaches custody as it would after kafkajs's own.
    const kafka = new Kafka({
      clientId: 'restore-test',
      brokers: infra().KAFKA_BROKERS.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
    const topic = uniqueName('late-tags');
    const lines: LogLine[] = [];
    const log = capturingLogger(lines);
    const conditions = new Conditions(log);
    const world = await createWorld();
    const restoring = restoreSnapshots({
      kafka,
      topic,
      decoders: world.decoders,
      since: Date.now() - 3_600_000,
      log,
      conditions,
      policy: { initialMs: 50, maxMs: 300 },
    });
    await until('restore to report that it waits', () => conditions.notReadyReason() !== undefined);
    expect(conditions.notReadyReason()).toMatch(/session-tags restore/);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const restored = await restoring;
    expect(restored.conversations.size).toBe(0);
    expect(conditions.notReadyReason()).toBeUndefined();
    expect(lines.filter((l) => l.msg.includes('waiting (retrying with backoff)')).length).toBeGreaterThan(0);
  });

  it('Genesys not reachable yet: ingest waits, reports not ready, and subscribes once it answers', async () => {
    const port = await freePort();
    const world = await createWorld();
    const lines: LogLine[] = [];
    const log = capturingLogger(lines);
    const conditions = new Conditions(log);
    const { SdkGenesysApi } = await import('../../../src/ingest/genesys-api.ts');
    const { Secret } = await import('../../../src/config.ts');
    const { startIngest } = await import('../../../src/ingest/ingest-pipeline.ts');
    const { createRegistry, ingestMetrics } = await import('../../../src/observability/metrics.ts');
    const api = new SdkGenesysApi({
      apiUrl: `http://127.0.0.1:${port}`,
      clientId: CLIENT_ID,
      clientSecret: new Secret(CLIENT_SECRET),
      baseBackoffMs: 20,
      maxBackoffMs: 100,
      maxRetries: 1,
    });
    const starting = startIngest(
      {
        api,
        producer: new KafkaRecordProducer(world.kafka),
        encoders: world.encoders,
        topics: world.topics,
        instance: 'ingest-test',
        log,
        metrics: ingestMetrics(createRegistry()),
        conditions,
      },
      { startRetry: { initialMs: 50, maxMs: 300 }, userRefreshMs: 3_600_000 },
    );
    await until(
      'ingest to report that it waits for Genesys',
      () => conditions.notReadyReason() !== undefined,
    );
    expect(conditions.notReadyReason()).toMatch(/Genesys user directory.*ECONNREFUSED/);
    await new Promise((r) => setTimeout(r, 500));
    await startEmulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, startTime: START, port }).then(
      (e) => (emu = e),
    );
    const ingest = await starting;
    runs.push({
      ingest,
      api,
      metrics: ingestMetrics(createRegistry()),
      logs: lines,
      stop: () => ingest.stop(),
    });
    await until('the channel to connect', () => ingest.channels().every((c) => c.connected));
    expect(conditions.notReadyReason()).toBeUndefined();
    expect(ingest.notReadyReason()).toBeUndefined();
    api.close();
  });

  it('wrong OAuth credentials end start-up with a FatalError naming the settings, without retrying', async () => {
    const e = await emulator();
    const started = Date.now();
    const err = await run(e, { api: genesysApi(e, { secret: 'not-the-secret' }) }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(FatalError);
    expect((err as FatalError).setting).toBe('GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET');
    expect((err as FatalError).message).toMatch(/GENESYS_CLIENT_ID\/GENESYS_CLIENT_SECRET/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a missing permission (403) ends start-up with a FatalError naming the call', async () => {
    const e = await emulator();
    e.control.failRest({ pathPrefix: '/api/v2/users', status: 403 });
    const err = await run(e).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(FatalError);
    expect((err as FatalError).setting).toMatch(/GET \/api\/v2\/users/);
  });
});

describe('notification channels', () => {
  it('a shard whose channel cannot be created keeps retrying with backoff, not ready meanwhile', async () => {
    const e = await emulator();
    // The first three channel creations fail (a count, not a time: a loaded machine must not outlast the fault).
    e.control.failRest({
      pathPrefix: '/api/v2/notifications/channels',
      method: 'POST',
      status: 503,
      count: 3,
    });
    const r = await run(e);
    expect(r.ingest.channels().some((c) => !c.connected)).toBe(true);
    expect(r.ingest.notReadyReason()).toMatch(/not connected/);
    await until('the shard to connect', () => r.ingest.channels().every((c) => c.connected));
    expect(r.ingest.notReadyReason()).toBeUndefined();
  });

  it('a dropped socket reconnects to the same channel; a silent channel is released before a new one is made', async () => {
    const e = await emulator();
    const r = await run(e);
    await until('the socket', () => r.ingest.channels()[0]?.connected === true);
    const first = r.ingest.channels()[0]?.channelId as string;
    e.control.dropSocket(first);
    await until('the reconnect', () => r.logs.some((l) => l.msg === 'reconnected to the same channel'));
    await until('the socket', () => r.ingest.channels()[0]?.connected === true);
    expect(r.ingest.channels()[0]?.channelId).toBe(first);
    expect(e.control.channels()).toHaveLength(1);

    e.control.stallSocket(first);
    await until(
      'a new channel',
      () => r.ingest.channels()[0]?.connected === true && r.ingest.channels()[0]?.channelId !== first,
    );
    const held = e.control.channels();
    expect(held.filter((c) => c.topics.length > 0).map((c) => c.id)).toEqual([
      r.ingest.channels()[0]?.channelId,
    ]);
    expect(held.find((c) => c.id === first)?.topics).toEqual([]);
  });

  it('socket_closing reconnects to the same connectUri: no new channel, no gap', async () => {
    const e = await emulator();
    const r = await run(e);
    const first = r.ingest.channels()[0]?.channelId as string;
    e.control.sendSocketClosing(first);
    await until('the rotation', () => r.logs.some((l) => l.msg === 'rotated socket after socket_closing'));
    await until('the socket', () => r.ingest.channels()[0]?.connected === true);
    expect(r.ingest.channels()[0]?.channelId).toBe(first);
    expect(e.control.channels()).toHaveLength(1);
    expect(r.ingest.stats.gapsOpen + r.ingest.stats.gapsRepaired).toBe(0);
    // Neither the start nor a rotation on one channel lets two channels carry a topic: frames are not compared.
    expect(r.logs.filter((l) => l.msg.startsWith('two channels may carry'))).toEqual([]);
  });

  it('socket_closing on a connectUri that refuses: a new channel, and the overlap is checked for duplicates', async () => {
    const e = await emulator();
    const r = await run(e);
    const first = r.ingest.channels()[0]?.channelId as string;
    e.control.sendSocketClosing(first, { refuseReconnect: true });
    await until('the rotation', () => r.logs.some((l) => l.msg === 'rotated socket after socket_closing'));
    await until('the socket', () => r.ingest.channels()[0]?.connected === true);
    const next = r.ingest.channels()[0]?.channelId as string;
    expect(next).not.toBe(first);
    const armed = r.logs.filter((l) => l.msg.startsWith('two channels may carry'));
    expect(armed.length).toBeGreaterThan(0);
    expect(armed.every((l) => l['channelId'] === next)).toBe(true);
    expect(r.ingest.stats.gapsOpen + r.ingest.stats.gapsRepaired).toBe(0);
  });
});

describe('frames too large', () => {
  it('a frame over the Kafka record limit goes to the DLQ (size, SHA-256, prefix), its conversation is repaired, capture goes on', async () => {
    const e = await emulator();
    const world = await createWorld();
    const r = await startRun(e, world);
    runs.push(r);
    const user = e.org.users[0]!.id;
    const conversationId = randomUUID();
    const padding = 'x'.repeat(1_200_000);
    e.control.emit({
      topicName: `v2.users.${user}.conversations`,
      eventBody: { id: conversationId, participants: [], padding } as never,
    });
    await until('the dead letter', () => r.ingest.stats.deadLetters === 1);
    const framesAtDlq = r.ingest.stats.frames;
    await until('more frames after it', () => r.ingest.stats.frames > framesAtDlq + 2);
    await r.ingest.flush();
    const dlq = await world.deadLetters();
    expect(dlq).toHaveLength(1);
    const d = dlq[0]!;
    expect(d.errorCode).toBe('CUSTODY_INGEST_FRAME_TOO_LARGE');
    expect(d.key?.toString()).toBe(conversationId);
    expect(d.value?.length).toBeLessThanOrEqual(4_096);
    const bytes = Number(d.headers['custody.frame.bytes']?.toString());
    expect(bytes).toBeGreaterThan(1_200_000);
    expect(d.headers['custody.frame.sha256']?.toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(d.reason).toContain(d.headers['custody.frame.sha256']?.toString());
    expect(d.reason).toContain(conversationId);
    // Recorded as a gap for that conversation, and repaired.
    await until('the gap repair', () =>
      r.logs.some((l) => l.msg === 'gap reconciled' && l['reason'] === 'frame too large for Kafka'),
    );
    // Capture went on: frames received after the oversized one reached the evidence log.
    const evidence = await world.notifications();
    expect(evidence.every((n) => n.rawFrame.length < 1_000_000)).toBe(true);
    expect(evidence.filter((n) => n.receivedAtMs > d.firstSeenAtMs).length).toBeGreaterThan(0);
  });

  it('a frame over maxPayloadBytes closes the socket before it is buffered; the reconnect gap is repaired', async () => {
    const e = await emulator();
    const r = await run(e, { options: { channel: { maxPayloadBytes: 256 * 1024 } } });
    const user = e.org.users[0]!.id;
    e.control.emit({
      topicName: `v2.users.${user}.conversations`,
      eventBody: { id: randomUUID(), participants: [], padding: 'x'.repeat(300 * 1024) } as never,
    });
    await until('the oversized message to be refused', () =>
      r.logs.some((l) => l.msg.startsWith('a frame exceeded the largest accepted size')),
    );
    await until(
      'the reconnect',
      () => r.ingest.channels()[0]?.connected === true && r.ingest.stats.gapsRepaired > 0,
    );
    expect(r.ingest.stats.deadLetters).toBe(0);
  });
});

describe('back-pressure', () => {
  it('a burst the snapshot worker has not merged yet pauses the sockets, not ready meanwhile; nothing is lost', async () => {
    const e = await emulator();
    const world = await createWorld();
    const readiness: LogLine[] = [];
    const conditions = new Conditions(capturingLogger(readiness));
    // Water marks low enough that one burst of frames, read faster than the worker's 2-ms reply, crosses them.
    const r = await startRun(e, world, {
      options: { delivery: { highWater: 5, lowWater: 2 } },
      deps: { conditions },
    });
    runs.push(r);
    const user = e.org.users[0]!.id;
    const conversationId = randomUUID();
    const BURST = 40;
    for (let i = 0; i < BURST; i++)
      e.control.emit({
        topicName: `v2.users.${user}.conversations`,
        eventBody: { id: conversationId, participants: [], burst: i } as never,
      });
    await until('the pause', () =>
      r.logs.some((l) => l.msg === 'the snapshot worker is behind: pausing sockets'),
    );
    await until('the resume', () =>
      r.logs.some((l) => l.msg === 'the snapshot worker caught up: resuming sockets'),
    );
    const paused = r.logs.find((l) => l.msg === 'the snapshot worker is behind: pausing sockets');
    expect(paused?.['waiting']).toBeGreaterThanOrEqual(5);
    // Not ready while paused, with the reason, and ready again after.
    expect(readiness.find((l) => l['condition'] === 'snapshot worker')?.['reason']).toMatch(
      /the snapshot worker is behind by \d+ frames/,
    );
    await until('ready again', () => conditions.notReadyReason() === undefined);
    // Paused, not dropped: every frame of the burst reaches the evidence log, once (frames held in the paused socket
    // arrive after the resume, and may pause it again).
    const ofBurst = async () => {
      await r.ingest.flush();
      return (await world.notifications()).filter((n) => n.conversationId === conversationId);
    };
    const deadline = Date.now() + 20_000;
    let evidence = await ofBurst();
    while (evidence.length < BURST && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      evidence = await ofBurst();
    }
    expect(evidence).toHaveLength(BURST);
    expect(new Set(evidence.map((n) => n.rawFrameSha256)).size).toBe(BURST);
    expect(r.ingest.stats.deadLetters).toBe(0);
  });
});

describe('shutdown', () => {
  it('stop() returns within its deadline when Kafka is down and reports what was not flushed', async () => {
    const e = await emulator();
    const dead = new Kafka({
      clientId: 'dead-broker',
      brokers: [`127.0.0.1:${await freePort()}`],
      logLevel: logLevel.NOTHING,
    });
    const r = await run(e, {
      deps: { producer: new KafkaRecordProducer(dead) },
      options: { stopTimeoutMs: 1_500 },
    });
    await until('frames waiting for Kafka', () => r.ingest.stats.frames > 3);
    // The operator's line names the cause (it logged "[object Object]" when handed a summary object).
    await until('the send failure logged', () => r.logs.some((l) => l.msg.startsWith('Kafka send failed')));
    const failed = r.logs.find((l) => l.msg.startsWith('Kafka send failed'));
    expect((failed?.['err'] as { message: string }).message).toMatch(
      /^KafkaJS\w+: .*(ECONNREFUSED|connect)/i,
    );
    const started = Date.now();
    const report = await r.stop();
    runs.splice(runs.indexOf(r), 1);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(report.timedOut).toBe(true);
    expect(report.unflushed.frames).toBeGreaterThan(3);
    expect(report.unflushed.from).toBeLessThanOrEqual(report.unflushed.to as number);
    expect(r.logs.some((l) => l.msg.startsWith('frames not written to Kafka before the stop deadline'))).toBe(
      true,
    );
  }, 20_000);
});
