/**
 * The `custody` command as deployed: each role in its own process, configured only by environment variables,
 * against the emulator and the real servers. Covers what in-process tests cannot: the composition roots,
 * config errors at start-up, /readyz and /metrics, and a clean exit on SIGTERM.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../dev/emulator/index.ts';
import type { RunningEmulator } from '../../dev/emulator/index.ts';
import { createRng, randomConversations } from '../../dev/emulator/simulation/index.ts';
import type { SealedManifest } from '../../src/enrich/integrity.ts';
import { verifyManifest } from '../../src/enrich/verify.ts';
import { singleObjectCodecFor } from '../../src/kafka/avro-codec.ts';
import { kafkaClient, s3Client, uniqueName } from '../support/clients.ts';
import { compileCustody } from '../support/compiled-custody.ts';
import { infraEnv, spawnCustody, STACK_TRACE_LINE } from '../support/custody-process.ts';
import type { CustodyProcess } from '../support/custody-process.ts';
import { readTopicToEnd } from '../support/kafka-read.ts';
import {
  createLockedBucket,
  createTopics,
  getBytes,
  manifestKeyOf,
  produce,
  recordingExportsOf,
  runExportingEmulator,
  sinkTopics,
  snapshotsOf,
  tagsCodec,
  testSigningKey,
} from '../support/sink-fixtures.ts';

let emu: RunningEmulator | undefined;
const procs: CustodyProcess[] = [];
afterEach(async (ctx) => {
  for (const p of procs.splice(0)) {
    // On failure, the processes' own account of what happened is the first thing to read.
    if (ctx.task.result?.state === 'fail')
      process.stderr.write(
        `${p
          .logs()
          .slice(-40)
          .map((l) => JSON.stringify(l))
          .join('\n')}\n${p.stderr()}\n`,
      );
    p.child.kill('SIGKILL');
  }
  if (emu) {
    await emu.exports.stop();
    await emu.close();
  }
  emu = undefined;
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const get = async (port: unknown, path: string) => {
  const res = await fetch(`http://127.0.0.1:${String(port)}${path}`);
  return { status: res.status, text: await res.text() };
};

describe('custody as processes', () => {
  it('reports every missing setting by name at start-up, without a stack trace or a secret', async () => {
    const p = spawnCustody(['sink'], {
      AWS_ACCESS_KEY_ID: 'k',
      AWS_SECRET_ACCESS_KEY: 'do-not-print-this-42',
    });
    expect(await p.exited).toBe(78);
    const err = p.stderr();
    for (const name of ['KAFKA_BROKERS', 'S3_BUCKET', 'CUSTODY_SIGNING_KEY_FILE'])
      expect(err).toContain(name);
    expect(err).not.toContain('do-not-print-this-42');
    expect(err).not.toMatch(/\n\s+at /);
  });

  it.each([
    { build: 'from the TypeScript sources (tsx)', compiled: false },
    { build: 'compiled (npm run build, as the image runs it)', compiled: true },
  ])(
    'exports watch (backfilling an old day) and sink write every manifest, serve metrics, and stop on SIGTERM: $build',
    async ({ compiled }) => {
      const bin = compiled ? compileCustody() : undefined;
      const s3 = s3Client();
      const kafka = kafkaClient('cli-test');
      const bucket = uniqueName('cli');
      await createLockedBucket(s3, bucket);
      emu = await runExportingEmulator(bucket, {
        seed: 21,
        start: '2026-03-01T09:00:00Z',
        conversations: [
          { kind: 'inbound-acd-webrtc', at: '2026-03-01T09:02:00Z', durationSeconds: 60 },
          { kind: 'outbound-webrtc', at: '2026-03-01T09:04:00Z', durationSeconds: 60 },
        ],
      });
      const expected = await recordingExportsOf(s3, bucket);
      expect(expected.length).toBeGreaterThan(0);
      const topics = sinkTopics();
      await createTopics(kafka, Object.values(topics));
      await produce(
        kafka,
        topics.sessionTags,
        [...snapshotsOf(emu)].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
      );
      const signer = testSigningKey();
      const keyFile = join(mkdtempSync(join(tmpdir(), 'cli-key-')), 'signing.pem');
      writeFileSync(keyFile, signer.pem, { mode: 0o600 });
      const env = {
        ...infraEnv(),
        S3_BUCKET: bucket,
        CUSTODY_HTTP_PORT: '0',
        CUSTODY_TOPIC_PARTITIONS: '3',
        CUSTODY_TOPIC_SESSION_TAGS: topics.sessionTags,
        CUSTODY_TOPIC_RECORDING_EXPORTS: topics.recordingExports,
        CUSTODY_TOPIC_LEGAL_HOLDS: topics.legalHolds,
        CUSTODY_TOPIC_SINK_STATE: topics.sinkState,
        CUSTODY_TOPIC_MANIFESTS: topics.manifests,
        CUSTODY_TOPIC_DLQ: topics.dlq,
      };
      // The scenario's day is far older than the lookback window: only the backfill range finds it.
      const watch = spawnCustody(
        [
          'exports',
          'watch',
          '--backfill-from',
          '2026-03-01T00:00:00Z',
          '--backfill-to',
          '2026-03-01T23:00:00Z',
        ],
        { ...env, CUSTODY_EXPORTS_SCAN_INTERVAL_MS: '300', CUSTODY_INSTANCE_ID: 'cli-watch' },
        bin,
      );
      const sink = spawnCustody(
        ['sink'],
        {
          ...env,
          CUSTODY_SIGNING_KEY_FILE: keyFile,
          CUSTODY_INSTANCE_ID: 'cli-sink',
          CUSTODY_SINK_GROUP_ID: uniqueName('cli-sink'),
          CUSTODY_MANIFEST_LEGAL_HOLD: 'true',
        },
        bin,
      );
      procs.push(watch, sink);
      const sinkPort = (await sink.waitForLog('custody sink running'))['httpPort'];
      const watchPort = (await watch.waitForLog('custody exports watch running'))['httpPort'];

      for (const e of expected) {
        const key = manifestKeyOf(e);
        const bytes = await until(`manifest ${key}`, async () => {
          const b = await getBytes(s3, bucket, key).catch(() => undefined);
          const m = b && (JSON.parse(b.toString('utf8')) as SealedManifest);
          return m?.completeness.status === 'complete' ? b : undefined;
        });
        const report = verifyManifest(bytes, new Map([[signer.keyId, signer.publicKey]]));
        expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      }

      expect((await get(sinkPort, '/readyz')).status).toBe(200);
      expect((await get(watchPort, '/readyz')).status).toBe(200);
      const metrics = (await get(sinkPort, '/metrics')).text;
      const written = Number(
        /custody_sink_records_written_total\{kind="manifest"\} (\d+)/.exec(metrics)?.[1],
      );
      expect(written).toBeGreaterThanOrEqual(expected.length);
      expect((await get(watchPort, '/metrics')).text).toContain('custody_exports_watch_');

      sink.child.kill('SIGTERM');
      watch.child.kill('SIGTERM');
      expect(await sink.exited).toBe(0);
      expect(await watch.exited).toBe(0);
      expect(sink.logs().some((l) => l['msg'] === 'custody sink stopped')).toBe(true);
      expect(watch.logs().some((l) => l['msg'] === 'custody exports watch stopped')).toBe(true);
      procs.length = 0;
    },
    180_000,
  );

  it('exports watch lists hour folders ahead of now only as far as CUSTODY_EXPORTS_LOOKAHEAD_HOURS says', async () => {
    // A simulated clock five hours ahead of the wall clock (the emulator at --speed 60 after five minutes): its
    // exports are filed under hour folders the default window (one hour ahead) does not list.
    const s3 = s3Client();
    const kafka = kafkaClient('cli-lookahead');
    const bucket = uniqueName('cli-ahead');
    await createLockedBucket(s3, bucket);
    const start = new Date(Math.floor(Date.now() / 3_600_000 + 5) * 3_600_000).toISOString();
    emu = await runExportingEmulator(bucket, {
      seed: 22,
      start,
      conversations: [{ kind: 'outbound-webrtc', at: start, durationSeconds: 60 }],
    });
    const expected = await recordingExportsOf(s3, bucket);
    expect(expected.length).toBeGreaterThan(0);
    const watchWith = (name: string, extra: Record<string, string>) => {
      const exportsTopic = uniqueName(`cli-ahead-${name}`);
      const watch = spawnCustody(['exports', 'watch'], {
        ...infraEnv(),
        S3_BUCKET: bucket,
        CUSTODY_HTTP_PORT: '0',
        CUSTODY_TOPIC_PARTITIONS: '1',
        CUSTODY_TOPIC_RECORDING_EXPORTS: exportsTopic,
        CUSTODY_TOPIC_DLQ: uniqueName(`cli-ahead-${name}-dlq`),
        CUSTODY_EXPORTS_SCAN_INTERVAL_MS: '300',
        CUSTODY_EXPORTS_WATCH_NAME: name,
        CUSTODY_INSTANCE_ID: `cli-${name}`,
        ...extra,
      });
      procs.push(watch);
      return { watch, exportsTopic };
    };
    const near = watchWith('near', {});
    const port = (await near.watch.waitForLog('custody exports watch running'))['httpPort'];
    await until('three scan passes', async () => {
      const text = (await get(port, '/metrics')).text;
      const passes = Number(
        /custody_exports_watch_scan_duration_seconds_count\S* (\d+)/.exec(text)?.[1] ?? 0,
      );
      return passes >= 3 ? true : undefined;
    });
    expect(await readTopicToEnd(kafka, near.exportsTopic)).toEqual([]);

    const far = watchWith('far', { CUSTODY_EXPORTS_LOOKAHEAD_HOURS: '6' });
    const found = await until('the exports filed five hours ahead', async () => {
      const records = await readTopicToEnd(kafka, far.exportsTopic);
      return records.length >= expected.length ? records : undefined;
    });
    expect(found.map((r) => r.key).sort()).toEqual(expected.map((e) => e.conversationId).sort());
    s3.destroy();
  }, 120_000);

  it.each([
    { build: 'from the TypeScript sources', compiled: false },
    // The image runs dist/: the snapshot worker must load from there as snapshot-worker.js.
    { build: 'compiled (npm run build, as the image runs it)', compiled: true },
  ])(
    'ingest writes what the socket delivers to Kafka, with the snapshots its worker merged, keeps secrets out of its logs, and flushes on SIGTERM: $build',
    async ({ compiled }) => {
      const bin = compiled ? compileCustody() : undefined;
      const secret = 'cli-ingest-secret-value-7';
      emu = await startEmulator({ clientId: 'cli-ingest', clientSecret: secret, seed: 5, users: 6 });
      const kafka = kafkaClient('cli-ingest');
      const suffix = uniqueName('cli');
      const notifications = `${suffix}.notifications`;
      const ingest = spawnCustody(
        ['ingest'],
        {
          KAFKA_BROKERS: infraEnv()['KAFKA_BROKERS'] as string,
          GENESYS_API_URL: emu.baseUrl,
          GENESYS_CLIENT_ID: 'cli-ingest',
          GENESYS_CLIENT_SECRET: secret,
          CUSTODY_HTTP_PORT: '0',
          CUSTODY_LOG_LEVEL: 'debug',
          CUSTODY_INSTANCE_ID: 'cli-ingest',
          CUSTODY_TOPIC_NOTIFICATIONS: notifications,
          CUSTODY_TOPIC_SESSION_TAGS: `${suffix}.session-tags`,
          CUSTODY_TOPIC_DLQ: `${suffix}.dlq`,
        },
        bin,
      );
      procs.push(ingest);
      const port = (await ingest.waitForLog('custody ingest running'))['httpPort'];
      await until('ingest ready', async () =>
        (await get(port, '/readyz')).status === 200 ? true : undefined,
      );

      const org = emu.org;
      const [script] = randomConversations(org, createRng(3), emu.clock.now(), emu.clock.now() + 60_000, 4);
      const events = (script?.events ?? []).filter((e) => e.topicName.startsWith('v2.users.'));
      expect(events.length).toBeGreaterThan(0);
      let delivered = 0;
      for (const e of events)
        delivered += emu.control.emit({ topicName: e.topicName, eventBody: e.eventBody });
      expect(delivered).toBe(events.length);

      ingest.child.kill('SIGTERM');
      expect(await ingest.exited).toBe(0);
      // Everything delivered before SIGTERM was flushed to Kafka before the process exited.
      const records = await readTopicToEnd(kafka, notifications);
      const evidence = singleObjectCodecFor('notification.v1');
      const topicsWritten = records.map((r) => evidence.decode(r.value as Buffer).topicName);
      for (const e of events) expect(topicsWritten).toContain(e.topicName);
      expect(records.length).toBeGreaterThanOrEqual(events.length);
      // The snapshot worker merged the call's legs, and its snapshot reached Kafka before the exit.
      const conversationId = script?.conversationId;
      const tags = (await readTopicToEnd(kafka, `${suffix}.session-tags`)).filter(
        (r) => r.key?.toString() === conversationId,
      );
      expect(tags.length).toBeGreaterThan(0);
      const snapshot = tagsCodec.decode(tags.at(-1)?.value as Buffer);
      expect(snapshot.conversationId).toBe(conversationId);
      expect(snapshot.legs.length).toBeGreaterThan(0);
      const allOutput = JSON.stringify(ingest.logs()) + ingest.stderr();
      expect(allOutput).not.toContain(secret);
      expect(allOutput).not.toMatch(/"access_token"\s*:\s*"[^[]/);
      procs.length = 0;
    },
    120_000,
  );

  it('compiled ingest whose snapshot worker cannot start ends with one line naming it, never ready meanwhile', async () => {
    // An image whose dist/ lost the worker's module: the worker's 'error' is ingest's fatal failure, as an out-of-memory
    // worker's would be, so a supervisor restarts it instead of a process serving /healthz with no merging behind it.
    const bin = compileCustody();
    const worker = join(dirname(dirname(bin)), 'dist', 'ingest', 'snapshot-worker.js');
    expect(existsSync(worker)).toBe(true);
    rmSync(worker);
    emu = await startEmulator({
      clientId: 'cli-ingest-w',
      clientSecret: 'cli-ingest-w-secret',
      seed: 5,
      users: 6,
    });
    const suffix = uniqueName('cli-w');
    const ingest = spawnCustody(
      ['ingest'],
      {
        KAFKA_BROKERS: infraEnv()['KAFKA_BROKERS'] as string,
        GENESYS_API_URL: emu.baseUrl,
        GENESYS_CLIENT_ID: 'cli-ingest-w',
        GENESYS_CLIENT_SECRET: 'cli-ingest-w-secret',
        CUSTODY_HTTP_PORT: '0',
        CUSTODY_INSTANCE_ID: 'cli-ingest-w',
        CUSTODY_TOPIC_NOTIFICATIONS: `${suffix}.notifications`,
        CUSTODY_TOPIC_SESSION_TAGS: `${suffix}.session-tags`,
        CUSTODY_TOPIC_DLQ: `${suffix}.dlq`,
      },
      bin,
    );
    procs.push(ingest);
    const code = await Promise.race([
      ingest.exited,
      new Promise<string>((r) => setTimeout(() => r('still running after 60 s'), 60_000)),
    ]);
    expect(code).toBe(70);
    const fatal = ingest.logs().filter((l) => l['level'] === 'fatal' || l['level'] === 60);
    expect(fatal).toHaveLength(1);
    expect(JSON.stringify(fatal[0])).toMatch(/snapshot worker/);
    expect(ingest.logs().some((l) => l['msg'] === 'custody ingest running')).toBe(false);
    expect(`${ingest.stdout()}\n${ingest.stderr()}`).not.toMatch(STACK_TRACE_LINE);
    procs.length = 0;
  }, 120_000);

  it('ingest --source eventbridge reads the bridged events from Kafka, marks them in the evidence log, exits 0 on SIGTERM', async () => {
    const kafka = kafkaClient('cli-ingest-eventbridge');
    const suffix = uniqueName('cli-eb');
    const bridge = `${suffix}.eventbridge`;
    const notifications = `${suffix}.notifications`;
    const admin = kafka.admin();
    await admin.connect();
    await until('the bridge topic', async () => {
      await admin.createTopics({ topics: [{ topic: bridge, numPartitions: 2 }] }).catch(() => false);
      return (await admin.listTopics().catch((): string[] => [])).includes(bridge) ? true : undefined;
    });
    await admin.disconnect();
    emu = await startEmulator({
      clientId: 'cli-ingest-eb',
      clientSecret: 'cli-ingest-eb-secret',
      seed: 5,
      users: 6,
      eventBridge: { brokers: infraEnv()['KAFKA_BROKERS']?.split(',') ?? [], topic: bridge },
    });
    const ingest = spawnCustody(['ingest', '--source', 'eventbridge'], {
      KAFKA_BROKERS: infraEnv()['KAFKA_BROKERS'] as string,
      GENESYS_API_URL: emu.baseUrl,
      GENESYS_CLIENT_ID: 'cli-ingest-eb',
      GENESYS_CLIENT_SECRET: 'cli-ingest-eb-secret',
      CUSTODY_HTTP_PORT: '0',
      CUSTODY_INSTANCE_ID: 'cli-ingest-eb',
      CUSTODY_TOPIC_EVENTBRIDGE: bridge,
      CUSTODY_INGEST_EVENTBRIDGE_GROUP: `${suffix}.group`,
      CUSTODY_TOPIC_NOTIFICATIONS: notifications,
      CUSTODY_TOPIC_SESSION_TAGS: `${suffix}.session-tags`,
      CUSTODY_TOPIC_DLQ: `${suffix}.dlq`,
    });
    procs.push(ingest);
    await ingest.waitForLog('reading EventBridge events from Kafka');
    const [script] = randomConversations(emu.org, createRng(3), emu.clock.now(), emu.clock.now() + 60_000, 4);
    const events = script?.events ?? [];
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) emu.eventBridge?.publish({ topicName: e.topicName, eventBody: e.eventBody });
    await emu.eventBridge?.flush();
    const evidence = singleObjectCodecFor('notification.v1');
    const written = await until('every event in the evidence log', async () => {
      const records = await readTopicToEnd(kafka, notifications);
      return records.length >= events.length
        ? records.map((r) => evidence.decode(r.value as Buffer))
        : undefined;
    });
    expect(written.every((n) => n.transport === 'eventbridge' && n.eventBridge?.bridgeTopic === bridge)).toBe(
      true,
    );
    expect(written.map((n) => n.topicName).sort()).toEqual(events.map((e) => e.topicName).sort());
    ingest.child.kill('SIGTERM');
    expect(await ingest.exited).toBe(0);
    procs.length = 0;
  }, 90_000);
});
