/**
 * `custody doctor` (the real CLI, as a process) against the Genesys emulator and real Kafka and S3: a deployment
 * set up as custody needs passes every check with exit 0; planted failures (a bucket without Object Lock, an
 * input topic with another partition count, a session-tags topic that is not compacted, an OAuth client missing
 * permissions and so notification topics, a wrong client secret) each fail their own check, with the fix, and nothing else fails.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../../dev/emulator/index.ts';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { DoctorReport } from '../../../src/doctor/doctor.ts';
import { REQUIRED_PERMISSIONS } from '../../../src/doctor/preflight.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import { infraEnv, spawnCustody } from '../../support/custody-process.ts';
import { createLockedBucket } from '../../support/sink-fixtures.ts';

const SECRET = 'doctor-secret-value-7f3a';
const LIMITED_SECRET = 'limited-secret-value-91b2';
const dir = mkdtempSync(join(tmpdir(), 'custody-doctor-'));
const keyFile = join(dir, 'signing.pem');
const { privateKey } = generateKeyPairSync('ed25519');
const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
const s3 = s3Client();
const goodBucket = uniqueName('doctor');
const unlockedBucket = uniqueName('doctor-nolock');
let emu: RunningEmulator | undefined;

type Topics = Record<
  'notifications' | 'sessionTags' | 'recordingExports' | 'legalHolds' | 'sinkState' | 'manifests' | 'dlq',
  string
>;
const topicsOf = (p: string): Topics => ({
  notifications: `${p}.notifications`,
  sessionTags: `${p}.session-tags`,
  recordingExports: `${p}.recording-exports`,
  legalHolds: `${p}.legal-holds`,
  sinkState: `${p}.sink-state`,
  manifests: `${p}.manifests`,
  dlq: `${p}.dlq`,
});
const good = topicsOf(uniqueName('doctor-ok'));
const bad = topicsOf(uniqueName('doctor-bad'));

async function createTopics(t: Topics, opts: { exportsPartitions: number; compactTags: boolean }) {
  const admin = kafkaClient('doctor-setup').admin();
  await admin.connect();
  const year = String(365 * 24 * 3_600_000);
  const spec = (topic: string, partitions: number, entries: Record<string, string>) => ({
    topic,
    numPartitions: partitions,
    configEntries: Object.entries(entries).map(([name, value]) => ({ name, value })),
  });
  // A broker that has just started may not host a new partition yet: create, then wait for every leader.
  await admin.createTopics({
    waitForLeaders: false,
    topics: [
      spec(t.notifications, 3, { 'cleanup.policy': 'delete', 'retention.ms': '-1' }),
      spec(t.sessionTags, 3, { 'cleanup.policy': opts.compactTags ? 'compact' : 'delete' }),
      spec(t.recordingExports, opts.exportsPartitions, { 'cleanup.policy': 'delete', 'retention.ms': year }),
      spec(t.legalHolds, 3, { 'cleanup.policy': 'compact' }),
      spec(t.sinkState, 3, { 'cleanup.policy': 'compact' }),
      spec(t.manifests, 3, { 'cleanup.policy': 'delete', 'retention.ms': year }),
      spec(t.dlq, 3, { 'cleanup.policy': 'delete', 'retention.ms': year }),
    ],
  });
  for (let i = 0; ; i++) {
    const meta = await admin.fetchTopicMetadata({ topics: Object.values(t) }).catch(() => undefined);
    if (meta?.topics.every((x) => x.partitions.length > 0 && x.partitions.every((p) => p.leader >= 0))) break;
    if (i > 100) throw new Error('topics without leaders');
    await new Promise((r) => setTimeout(r, 200));
  }
  await admin.disconnect();
}

beforeAll(async () => {
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await createLockedBucket(s3, goodBucket);
  await s3.send(new CreateBucketCommand({ Bucket: unlockedBucket }));
  await s3.send(
    new PutBucketVersioningCommand({
      Bucket: unlockedBucket,
      VersioningConfiguration: { Status: 'Enabled' },
    }),
  );
  await createTopics(good, { exportsPartitions: 3, compactTags: true });
  await createTopics(bad, { exportsPartitions: 4, compactTags: false });
  emu = await startEmulator({
    clientId: 'doctor',
    clientSecret: SECRET,
    extraClients: [{ clientId: 'doctor-limited', clientSecret: LIMITED_SECRET }],
    // The limited client lacks three permissions custody needs, one of them for two notification topics.
    permissions: {
      'doctor-limited': REQUIRED_PERMISSIONS.map((p) => p.permission).filter(
        (p) =>
          p !== 'recording:job:edit' &&
          p !== 'analytics:conversationDetail:view' &&
          p !== 'telephony:station:view',
      ),
    },
  });
}, 120_000);

afterAll(async () => {
  await emu?.close();
});

function env(over: Record<string, string> = {}, topics: Topics = good): Record<string, string> {
  return {
    ...infraEnv(),
    GENESYS_API_URL: emu?.baseUrl ?? '',
    GENESYS_CLIENT_ID: 'doctor',
    GENESYS_CLIENT_SECRET: SECRET,
    S3_BUCKET: goodBucket,
    CUSTODY_SIGNING_KEY_FILE: keyFile,
    CUSTODY_TOPIC_NOTIFICATIONS: topics.notifications,
    CUSTODY_TOPIC_SESSION_TAGS: topics.sessionTags,
    CUSTODY_TOPIC_RECORDING_EXPORTS: topics.recordingExports,
    CUSTODY_TOPIC_LEGAL_HOLDS: topics.legalHolds,
    CUSTODY_TOPIC_SINK_STATE: topics.sinkState,
    CUSTODY_TOPIC_MANIFESTS: topics.manifests,
    CUSTODY_TOPIC_DLQ: topics.dlq,
    ...over,
  };
}

async function doctor(e: Record<string, string>, args: string[] = ['--json']) {
  const p = spawnCustody(['doctor', ...args], e);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

const failed = (r: DoctorReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);

describe('custody doctor', () => {
  it('passes every check of a deployment set up as custody needs, and prints the public key', async () => {
    const run = await doctor(env());
    expect(run.code, run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as DoctorReport;
    expect(failed(report)).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual([
      'genesys oauth',
      'genesys permissions',
      'genesys subscriptions',
      'clock skew vs Genesys',
      'kafka',
      'kafka group start delay',
      ...Object.values(good).map((t) => `topic ${t}`),
      'topics co-partitioned',
      `s3 bucket ${goodBucket}`,
      `s3 versioning ${goodBucket}`,
      `s3 object lock ${goodBucket}`,
      'clock skew vs S3',
      'signing key',
    ]);
    expect(report.checks.find((c) => c.name === 'signing key')?.publicKeyPem).toBe(publicPem);
    // The test broker sets it to 0 (infra/local.ts), and doctor read it from the broker.
    expect(report.checks.find((c) => c.name === 'kafka group start delay')?.detail).toMatch(
      /^group\.initial\.rebalance\.delay\.ms is 0 \(broker \d+: 0 ms\)/,
    );

    const text = await doctor(env(), []);
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines.filter((l) => l.startsWith('PASS  '))).toHaveLength(report.checks.length);
    expect(lines.filter((l) => l.startsWith('FAIL  '))).toEqual([]);
    expect(text.stdout).toContain('doctor: every check passed');
    expect(text.stdout).toContain(publicPem.trimEnd());
  });

  it('fails a bucket without Object Lock, topics that do not co-partition or compact, and missing permissions', async () => {
    const run = await doctor(
      env(
        {
          S3_BUCKET: unlockedBucket,
          GENESYS_CLIENT_ID: 'doctor-limited',
          GENESYS_CLIENT_SECRET: LIMITED_SECRET,
        },
        bad,
      ),
    );
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as DoctorReport;
    expect(failed(report).sort()).toEqual(
      [
        'genesys permissions',
        'genesys subscriptions',
        `topic ${bad.sessionTags}`,
        'topics co-partitioned',
        `s3 object lock ${unlockedBucket}`,
      ].sort(),
    );
    const check = (name: string) => report.checks.find((c) => c.name === name);
    expect(check('genesys permissions')?.detail).toBe(
      'missing: analytics:conversationDetail:view (ingest), telephony:station:view (ingest), recording:job:edit (exports run)',
    );
    expect(check('genesys subscriptions')?.detail).toBe(
      'v2.users.{id}.station needs telephony:station:view; v2.users.{id}.persistentconnection needs telephony:station:view',
    );
    expect(check('topics co-partitioned')?.detail).toBe(
      `${bad.sessionTags}=3, ${bad.recordingExports}=4, ${bad.legalHolds}=3, ${bad.sinkState}=3`,
    );
    expect(check('topics co-partitioned')?.fix).toMatch(/same partition count/);
    expect(check(`topic ${bad.sessionTags}`)?.detail).toMatch(/not compact/);
    expect(check(`s3 object lock ${unlockedBucket}`)).toMatchObject({
      detail: 'Object Lock not enabled',
      fix: expect.stringMatching(/enable Object Lock/),
    });

    const text = await doctor(
      env(
        {
          S3_BUCKET: unlockedBucket,
          GENESYS_CLIENT_ID: 'doctor-limited',
          GENESYS_CLIENT_SECRET: LIMITED_SECRET,
        },
        bad,
      ),
      [],
    );
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(
      /^FAIL {2}s3 object lock \S+: Object Lock not enabled \| fix: enable Object Lock/m,
    );
    expect(text.stdout).toContain('doctor: 5 check(s) failed');
  });

  it('fails the OAuth check on a wrong secret, without printing it, and a missing topic and setting', async () => {
    const run = await doctor(
      env({ GENESYS_CLIENT_SECRET: 'wrong-secret-value-55c1', CUSTODY_TOPIC_DLQ: uniqueName('absent') }),
    );
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as DoctorReport;
    expect(failed(report)).toEqual(['genesys oauth', expect.stringMatching(/^topic absent-/)]);
    expect(report.checks.find((c) => c.name === 'genesys oauth')?.detail).toMatch(/login failed: 401/);
    expect(`${run.stdout}${run.stderr}`).not.toContain('wrong-secret-value-55c1');
    expect(`${run.stdout}${run.stderr}`).not.toContain(SECRET);
  });
});
