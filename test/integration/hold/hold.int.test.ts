/**
 * `custody hold` / `custody release` against real Kafka, real S3 (versitygw, Object Lock bucket) and the Genesys
 * emulator: a hold placed before a recording's export (before the sink even started, and while it runs), a hold
 * after the export, and a release with two matters; `custody verify` passes on held and released recordings.
 */
import { Writable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectLegalHoldCommand,
  PutBucketVersioningCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import platformClient from 'purecloud-platform-client-v2';
import type { Models } from 'purecloud-platform-client-v2';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { Scenario } from '../../../dev/emulator/model.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import { Secret } from '../../../src/config.ts';
import { GenesysPlatformClient } from '../../../src/genesys/platform-client.ts';
import { runHoldCommand } from '../../../src/hold/hold-command.ts';
import type { HoldArgs } from '../../../src/hold/hold-command.ts';
import { SdkDeletionProtectionApi } from '../../../src/hold/hold-genesys.ts';
import { singleObjectCodecFor } from '../../../src/kafka/avro-codec.ts';
import type { RecordingExport } from '../../../src/kafka/avro-codec.ts';
import { KafkaRecordProducer } from '../../../src/kafka/record-producer.ts';
import type { RunningSink } from '../../../src/sink/sink-pipeline.ts';
import type { SigningKey } from '../../../src/sink/signing-key.ts';
import { runVerifyCommand } from '../../../src/verify/verify-command.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import {
  createLockedBucket,
  createTopics,
  exportCodec,
  manifestKeyOf,
  objectVersions,
  produce,
  recordingExportsOf,
  runExportingEmulator,
  sinkTopics,
  snapshotsOf,
  startTestSink,
  tagsCodec,
  testSigningKey,
  testSinkOptions,
  waitForCaughtUp,
  writtenCodec,
} from '../../support/sink-fixtures.ts';

const SCENARIO: Scenario = {
  seed: 13,
  start: '2026-03-02T09:00:00Z',
  conversations: [
    { kind: 'inbound-acd-webrtc', at: '2026-03-02T09:02:00Z', durationSeconds: 120 },
    { kind: 'outbound-webrtc', at: '2026-03-02T09:05:00Z', durationSeconds: 90 },
  ],
};
const CLIENT = { clientId: 'sink-test', clientSecret: 'sink-test-secret' };
const legalHoldCodec = singleObjectCodecFor('legal-hold.v1');

let emu: RunningEmulator | undefined;
const sinks: RunningSink[] = [];
const closers: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const s of sinks.splice(0)) await s.stop();
  for (const c of closers.splice(0)) await c();
  if (emu) {
    await emu.exports.stop();
    await emu.close();
  }
  emu = undefined;
});

function sink(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  }) as Writable & { text(): string };
  w.text = () => Buffer.concat(chunks).toString('utf8');
  return w;
}

type Env = Readonly<{
  kafka: Kafka;
  s3: S3Client;
  bucket: string;
  topics: ReturnType<typeof sinkTopics>;
  groupId: string;
  emu: RunningEmulator;
}>;

async function hold(
  env: Env,
  args: Partial<HoldArgs> & Pick<HoldArgs, 'action' | 'conversationId' | 'matterId'>,
) {
  const producer = new KafkaRecordProducer(env.kafka);
  const genesys = new SdkDeletionProtectionApi({
    apiUrl: env.emu.baseUrl,
    clientId: CLIENT.clientId,
    clientSecret: new Secret(CLIENT.clientSecret),
  });
  const stdout = sink();
  const stderr = sink();
  try {
    const run = await runHoldCommand(
      {
        kafka: env.kafka,
        producer,
        codecs: { legalHold: legalHoldCodec, manifestWritten: writtenCodec },
        genesys,
        topics: { legalHolds: env.topics.legalHolds, manifests: env.topics.manifests },
        sinkGroupId: env.groupId,
        instance: 'hold-test',
        version: '0.1.0-test',
        stdout,
        stderr,
        now: () => Date.now(),
        retryForMs: 20_000,
      },
      {
        reason: null,
        actor: 'paralegal@example.com',
        json: true,
        wait: true,
        waitTimeoutMs: 60_000,
        genesys: true,
        ...args,
      },
    );
    expect(JSON.parse(stdout.text())).toEqual(run.result);
    return { ...run, stderr: stderr.text() };
  } finally {
    genesys.close();
    await producer.close();
  }
}

async function legalHold(s3: S3Client, bucket: string, key: string, versionId?: string | null) {
  try {
    const res = await s3.send(
      new GetObjectLegalHoldCommand({ Bucket: bucket, Key: key, VersionId: versionId ?? undefined }),
    );
    return res.LegalHold?.Status ?? 'OFF';
  } catch (e) {
    // A version that never had a hold answers "no Object Lock configuration" on versitygw.
    if (e instanceof S3ServiceException && /NoSuchObjectLockConfiguration/.test(e.name)) return 'OFF';
    throw e;
  }
}

/** Every version of the manifest, oldest first, parsed. */
async function chain(s3: S3Client, bucket: string, e: RecordingExport) {
  const versions = await objectVersions(s3, bucket, manifestKeyOf(e));
  return versions
    .map((v) => ({
      versionId: v.versionId,
      manifest: JSON.parse(v.bytes.toString('utf8')) as SealedManifest,
    }))
    .sort((a, b) => a.manifest.manifest_version - b.manifest.manifest_version);
}

/** The Object Lock legal hold of the audio, the metadata and every manifest version of a recording. */
async function holdsOf(s3: S3Client, bucket: string, e: RecordingExport) {
  const manifests = await chain(s3, bucket, e);
  return {
    audio: await legalHold(s3, bucket, e.audio?.key ?? '', e.audio?.versionId),
    metadata: await legalHold(s3, bucket, e.metadata?.key ?? '', e.metadata?.versionId),
    manifests: await Promise.all(manifests.map((m) => legalHold(s3, bucket, manifestKeyOf(e), m.versionId))),
  };
}

async function genesysProtected(env: Env, conversationId: string): Promise<boolean> {
  const client = new GenesysPlatformClient({
    apiUrl: env.emu.baseUrl,
    clientId: CLIENT.clientId,
    clientSecret: new Secret(CLIENT.clientSecret),
  });
  try {
    const api = new platformClient.RecordingApi(client.sdk);
    const list = await client.call<Models.AddressableEntityRef[]>(
      'POST /api/v2/recordings/deletionprotection',
      () => api.postRecordingsDeletionprotection({ conversationIds: [conversationId] }),
    );
    return list.some((r) => r.id === conversationId);
  } finally {
    client.close();
  }
}

async function verify(env: Env, signer: SigningKey, conversations: string[], expectManifestHold: boolean) {
  const stdout = sink();
  const stderr = sink();
  const { code, report } = await runVerifyCommand(
    { s3: env.s3, stdout, stderr, now: () => new Date(), version: '0.1.0-test' },
    {
      scope: { bucket: env.bucket, prefix: '', conversations: new Set(conversations) },
      publicKeys: [signer.publicKey],
      expectManifestHold,
      concurrency: 4,
      json: true,
      htmlPath: null,
    },
  );
  return { code, report, stderr: stderr.text() };
}

async function setUp(name: string, objectLock = true): Promise<Env & { exports: RecordingExport[] }> {
  const kafka = kafkaClient(name);
  const s3 = s3Client();
  const bucket = uniqueName('hold');
  if (objectLock) await createLockedBucket(s3, bucket);
  else {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
  }
  emu = await runExportingEmulator(bucket, SCENARIO);
  const exports = await recordingExportsOf(s3, bucket);
  expect(new Set(exports.map((e) => e.conversationId)).size).toBe(2);
  const topics = sinkTopics();
  await createTopics(kafka, Object.values(topics));
  return { kafka, s3, bucket, topics, groupId: uniqueName('custody-sink'), emu, exports };
}

function produceConversation(env: Env, exports: RecordingExport[], conversationId: string) {
  const snapshot = snapshotsOf(env.emu).get(conversationId);
  if (snapshot === undefined) throw new Error('no snapshot');
  return Promise.all([
    produce(env.kafka, env.topics.sessionTags, [{ key: conversationId, value: tagsCodec.encode(snapshot) }]),
    produce(
      env.kafka,
      env.topics.recordingExports,
      exports
        .filter((e) => e.conversationId === conversationId)
        .map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
    ),
  ]);
}

const inputs = (env: Env) => [env.topics.sessionTags, env.topics.recordingExports, env.topics.legalHolds];

describe('custody hold', () => {
  it('holds recordings exported after the hold: on arrival, from manifest version 1', async () => {
    const env = await setUp('hold-before');
    const [c1, c2] = [...new Set(env.exports.map((e) => e.conversationId))] as [string, string];
    const signer = testSigningKey();

    // C1: held, and exported, before any sink runs: the sink catches the holds up before it processes exports.
    const early = await hold(env, { action: 'hold', conversationId: c1, matterId: 'MATTER-1', wait: false });
    expect(early.code).toBe(0);
    expect(early.result).toMatchObject({
      ok: true,
      heldBy: ['MATTER-1'],
      genesys: { status: 'protected' },
      sink: { status: 'not-waited' },
    });
    expect(early.result.genesys.recordingIds.length).toBeGreaterThan(0);
    expect(await genesysProtected(env, c1)).toBe(true);
    await produceConversation(env, env.exports, c1);

    const options = testSinkOptions(env.topics, env.groupId, 'sink-a');
    sinks.push(await startTestSink(env.kafka, env.s3, signer, options));
    await waitForCaughtUp(env.kafka, env.groupId, inputs(env));

    // C2: held while the sink runs and before its export; the command waits for the sink.
    const running = await hold(env, {
      action: 'hold',
      conversationId: c2,
      matterId: 'MATTER-2',
      reason: 'preservation letter 2026-17',
    });
    expect(running.code).toBe(0);
    expect(running.result.sink).toEqual({ status: 'processed', manifests: [] });
    expect(running.result.message).toContain('recordings exported later get the hold on arrival');
    await produceConversation(env, env.exports, c2);
    await waitForCaughtUp(env.kafka, env.groupId, inputs(env));

    for (const e of env.exports) {
      const versions = await chain(env.s3, env.bucket, e);
      const first = versions[0]?.manifest;
      expect(first?.legal_hold_status, e.recordingId).toMatchObject({
        status: 'on',
        matter: e.conversationId === c1 ? 'MATTER-1' : 'MATTER-2',
        enforced: true,
      });
      expect(first?.chain_of_custody.filter((c) => c.event === 'legal_hold_applied')).toEqual([
        expect.objectContaining({
          actor: { kind: 'custody', component: 'custody-hold', version: '0.1.0-test', instance: 'hold-test' },
          evidence: { kafka: expect.objectContaining({ topic: env.topics.legalHolds }) },
          detail: expect.objectContaining({ requested_by: 'paralegal@example.com' }),
        }),
      ]);
      const h = await holdsOf(env.s3, env.bucket, e);
      expect(h.audio).toBe('ON');
      expect(h.metadata).toBe('ON');
      expect(h.manifests.every((s) => s === 'ON')).toBe(true);
    }

    const v = await verify(env, signer, [c1, c2], true);
    expect(v.code, v.stderr).toBe(0);
    expect(v.report?.counts.failed).toBe(0);
  });

  it('holds exported recordings, and releases only when the last of two matters releases', async () => {
    const env = await setUp('hold-release');
    const conversation = env.exports[0]?.conversationId as string;
    const mine = env.exports.filter((e) => e.conversationId === conversation);
    const signer = testSigningKey();
    // Manifest versions are not held by configuration here, so the release turns every hold off.
    const options = { ...testSinkOptions(env.topics, env.groupId, 'sink-b'), lock: undefined };
    sinks.push(await startTestSink(env.kafka, env.s3, signer, options));
    await produceConversation(env, env.exports, conversation);
    await waitForCaughtUp(env.kafka, env.groupId, inputs(env));
    const before = await chain(env.s3, env.bucket, mine[0] as RecordingExport);
    expect(before.at(-1)?.manifest.legal_hold_status.status).toBe('none');
    for (const e of mine) expect((await holdsOf(env.s3, env.bucket, e)).audio).toBe('OFF');

    // Two matters hold it.
    const a = await hold(env, {
      action: 'hold',
      conversationId: conversation,
      matterId: 'A-100',
      reason: 'case A',
    });
    expect(a.code).toBe(0);
    expect(a.result.sink.manifests.map((m) => m.recordingId).sort()).toEqual(
      mine.map((e) => e.recordingId).sort(),
    );
    const b = await hold(env, { action: 'hold', conversationId: conversation, matterId: 'B-200' });
    expect(b.result.heldBy).toEqual(['A-100', 'B-200']);
    for (const e of mine) {
      const h = await holdsOf(env.s3, env.bucket, e);
      // Versions written before the hold are held too.
      expect(h).toEqual({ audio: 'ON', metadata: 'ON', manifests: h.manifests.map(() => 'ON') });
      expect(h.manifests.length).toBeGreaterThanOrEqual(3);
    }
    expect((await verify(env, signer, [conversation], false)).code).toBe(0);

    // A releases: B still holds; Genesys protection stays.
    const ra = await hold(env, { action: 'release', conversationId: conversation, matterId: 'A-100' });
    expect(ra.code).toBe(0);
    expect(ra.result).toMatchObject({ heldBy: ['B-200'], genesys: { status: 'kept-protected' } });
    expect(await genesysProtected(env, conversation)).toBe(true);
    for (const e of mine) {
      const m = (await chain(env.s3, env.bucket, e)).at(-1)?.manifest;
      expect(m?.legal_hold_status).toMatchObject({ status: 'on', matter: 'B-200' });
      expect(m?.legal_hold_status.matters?.map((x) => [x.matter, x.status])).toEqual([
        ['A-100', 'released'],
        ['B-200', 'on'],
      ]);
      const h = await holdsOf(env.s3, env.bucket, e);
      expect([h.audio, h.metadata, ...h.manifests].every((s) => s === 'ON')).toBe(true);
    }
    expect((await verify(env, signer, [conversation], false)).code).toBe(0);

    // Releasing A again is refused (nothing to release).
    const again = await hold(env, { action: 'release', conversationId: conversation, matterId: 'A-100' });
    expect(again.code).toBe(1);
    expect(again.result.event).toBeNull();

    // B releases: no matter holds it any more.
    const rb = await hold(env, { action: 'release', conversationId: conversation, matterId: 'B-200' });
    expect(rb.code).toBe(0);
    expect(rb.result).toMatchObject({ heldBy: [], genesys: { status: 'unprotected' } });
    expect(await genesysProtected(env, conversation)).toBe(false);
    for (const e of mine) {
      const m = (await chain(env.s3, env.bucket, e)).at(-1)?.manifest;
      expect(m?.legal_hold_status).toMatchObject({
        status: 'released',
        matter: 'B-200',
        enforced: true,
      });
      const events = m?.chain_of_custody
        .filter((c) => c.event.startsWith('legal_hold_'))
        .map((c) => `${c.event} ${c.detail?.matter}`);
      expect(events).toEqual([
        'legal_hold_applied A-100',
        'legal_hold_applied B-200',
        'legal_hold_released A-100',
        'legal_hold_released B-200',
      ]);
      const h = await holdsOf(env.s3, env.bucket, e);
      expect([h.audio, h.metadata, ...h.manifests].every((s) => s === 'OFF')).toBe(true);
    }
    const v = await verify(env, signer, [conversation], false);
    expect(v.code, v.stderr).toBe(0);
    expect(v.report?.counts.failed).toBe(0);
  });

  it('records a hold it cannot enforce in a bucket without Object Lock, and custody verify says so', async () => {
    const env = await setUp('hold-nolock', false);
    const conversation = env.exports[0]?.conversationId as string;
    const mine = env.exports.filter((e) => e.conversationId === conversation);
    const signer = testSigningKey();
    const options = { ...testSinkOptions(env.topics, env.groupId, 'sink-c'), lock: undefined };
    sinks.push(await startTestSink(env.kafka, env.s3, signer, options));
    await produceConversation(env, env.exports, conversation);
    await waitForCaughtUp(env.kafka, env.groupId, inputs(env));

    const run = await hold(env, { action: 'hold', conversationId: conversation, matterId: 'C-300' });
    expect(run.code).toBe(0);
    expect(run.result.sink.manifests.length).toBe(mine.length);
    for (const e of mine) {
      const m = (await chain(env.s3, env.bucket, e)).at(-1)?.manifest;
      expect(m?.legal_hold_status).toMatchObject({ status: 'on', matter: 'C-300', enforced: false });
    }
    const v = await verify(env, signer, [conversation], false);
    expect(v.code).toBe(1);
    expect(v.report?.findings.map((f) => f.check)).toContain('legal-hold');
  });
});
