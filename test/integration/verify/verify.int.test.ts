/**
 * `custody verify` (the real CLI, as a process) against a bucket the real sink filled from the Genesys emulator's
 * exports, on real Kafka and S3: a clean bucket passes with exit 0; then one tamper per recording is planted
 * (a changed audio byte, a deleted manifest, an edited manifest field, a removed legal hold, a broken chain, a
 * manifest signed by another key) and each is reported on its object key, with exit 1. The HTML report of that
 * run is opened in a real headless Chromium (from npm: @sparticuz/chromium, driven by puppeteer-core).
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { Scenario } from '../../../dev/emulator/model.ts';
import type { FindingRow, VerifyReport } from '../../../src/enrich/audit.ts';
import {
  keyIdFor,
  manifestSha256,
  sealManifest,
  serializeSealedManifest,
} from '../../../src/enrich/integrity.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import type { Manifest } from '../../../src/enrich/manifest.ts';
import type { RunningSink } from '../../../src/sink/sink-pipeline.ts';
import { signingKeyOf } from '../../../src/sink/signing-key.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import { auditBucket } from '../../support/custody-audit.ts';
import { infraEnv, spawnCustody } from '../../support/custody-process.ts';
import {
  createLockedBucket,
  createTopics,
  exportCodec,
  getBytes,
  manifestKeyOf,
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
} from '../../support/sink-fixtures.ts';
import type { RecordingExport } from '../../../src/kafka/avro-codec.ts';

const SCENARIO: Scenario = {
  seed: 13,
  start: '2026-03-02T09:00:00Z',
  conversations: [
    { kind: 'inbound-acd-webrtc', at: '2026-03-02T09:02:00Z', durationSeconds: 60 },
    { kind: 'outbound-webrtc', at: '2026-03-02T09:04:00Z', durationSeconds: 60 },
    { kind: 'inbound-acd-webrtc', at: '2026-03-02T09:06:00Z', durationSeconds: 60 },
    { kind: 'outbound-webrtc', at: '2026-03-02T09:08:00Z', durationSeconds: 60 },
    { kind: 'inbound-acd-webrtc', at: '2026-03-02T09:10:00Z', durationSeconds: 60 },
    { kind: 'outbound-webrtc', at: '2026-03-02T09:12:00Z', durationSeconds: 60 },
    { kind: 'inbound-acd-webrtc', at: '2026-03-02T09:14:00Z', durationSeconds: 60 },
  ],
};

const s3 = s3Client();
const bucket = uniqueName('verify');
const dir = mkdtempSync(join(tmpdir(), 'custody-verify-'));
const signer = testSigningKey();
const publicKeyFile = join(dir, 'public.pem');
let emu: RunningEmulator | undefined;
let sink: RunningSink | undefined;
let exports: RecordingExport[] = [];

beforeAll(async () => {
  writeFileSync(publicKeyFile, signer.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const kafka = kafkaClient('verify');
  await createLockedBucket(s3, bucket);
  emu = await runExportingEmulator(bucket, SCENARIO);
  exports = await recordingExportsOf(s3, bucket);
  const topics = sinkTopics();
  await createTopics(kafka, Object.values(topics));
  await produce(
    kafka,
    topics.sessionTags,
    [...snapshotsOf(emu)].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
  );
  await produce(
    kafka,
    topics.recordingExports,
    exports.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
  );
  const options = testSinkOptions(topics, uniqueName('verify-sink'), 'verify-sink');
  sink = await startTestSink(kafka, s3, signer, options);
  await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags, topics.recordingExports]);
  await sink.stop();
  sink = undefined;
}, 180_000);

afterAll(async () => {
  await sink?.stop();
  if (emu) {
    await emu.exports.stop();
    await emu.close();
  }
});

async function verify(args: readonly string[]) {
  const p = spawnCustody(['verify', '--public-key', publicKeyFile, ...args], {
    ...infraEnv(),
    S3_BUCKET: bucket,
    CUSTODY_MANIFEST_LEGAL_HOLD: 'true',
  });
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** The newest manifest version of a recording: id, bytes, parsed. */
async function newestManifest(e: RecordingExport) {
  const key = manifestKeyOf(e);
  const res = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  const versions = (res.Versions ?? []).filter((v) => v.Key === key);
  const parsed = await Promise.all(
    versions.map(async (v) => {
      const bytes = await getBytes(s3, bucket, key, v.VersionId);
      return {
        versionId: v.VersionId as string,
        bytes,
        m: JSON.parse(bytes.toString('utf8')) as SealedManifest,
      };
    }),
  );
  parsed.sort((a, b) => b.m.manifest_version - a.m.manifest_version);
  return { key, ...(parsed[0] as (typeof parsed)[number]) };
}

function bodyOf(m: SealedManifest): Manifest {
  const { integrity: _integrity, ...body } = m;
  return body as Manifest;
}

async function putManifest(key: string, bytes: Buffer): Promise<string> {
  const put = await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: 'application/json' }),
  );
  return put.VersionId as string;
}

const has = (findings: readonly FindingRow[], check: string, key: string, detail?: RegExp) =>
  findings.some((f) => f.check === check && f.key === key && (detail === undefined || detail.test(f.detail)));

describe('custody verify', () => {
  let tampered: { report: VerifyReport; html: string } | undefined;

  it('passes a bucket the sink wrote, with exit 0 and every recording verified', async () => {
    expect(exports.length).toBeGreaterThanOrEqual(6);
    const html = join(dir, 'clean.html');
    const run = await verify(['--json', '--html', html]);
    // stderr carries the HTML path (and nothing custody wrote besides; Node may add its own warnings).
    expect(run.stderr).toContain(`HTML report: ${html}\n`);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as VerifyReport;
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts.recordings).toBe(exports.length);
    expect(report.counts.verified).toBe(exports.length);
    expect(report.counts.complete + report.counts.incomplete).toBe(exports.length);
    expect(report.scope.publicKeyIds).toEqual([signer.keyId]);
    expect(report.scope.objectLock).toBe(true);
    expect(report.byDay.map((d) => d.day)).toEqual(['2026-03-02']);
    expect(readFileSync(html, 'utf8')).toContain('id="verdict" class="verdict PASS"');

    // Listing pages that end in the middle of a key's versions: versitygw repeats those versions on the next
    // page; a version listed twice must not look like a second version (a fork).
    for (const pageSize of [2, 3, 5]) {
      const paged = await auditBucket({
        s3,
        bucket,
        publicKeys: new Map([[signer.keyId, signer.publicKey]]),
        pageSize,
      });
      expect(paged.failures).toEqual([]);
      expect(paged.forks).toBe(0);
      expect(paged.expected).toBe(exports.length);
    }
  });

  it('prints a summary on a non-TTY and reports the range and conversation filters', async () => {
    const one = exports[0] as RecordingExport;
    const byConversation = await verify(['--conversations', one.conversationId, '--no-html']);
    expect(byConversation.code).toBe(0);
    const recordingsOfOne = exports.filter((e) => e.conversationId === one.conversationId).length;
    expect(byConversation.stdout).toContain(
      `recordings ${recordingsOfOne}: verified ${recordingsOfOne}, failed 0`,
    );
    expect(byConversation.stdout).toContain('PASS: no findings');

    const outside = await verify([
      '--from',
      '2026-03-03T00:00:00Z',
      '--to',
      '2026-03-04T00:00:00Z',
      '--no-html',
    ]);
    expect(outside.code).toBe(0);
    expect(outside.stdout).toContain('recordings 0:');
  });

  it('catches every planted tamper, on its object key, with exit 1', async () => {
    const [audioT, deletedT, editedT, holdT, chainT, otherKeyT] = exports;
    if (!audioT || !deletedT || !editedT || !holdT || !chainT || !otherKeyT) throw new Error('6 recordings');

    // 1. One changed audio byte: a new version of the audio object.
    const audioKey = audioT.audio?.key as string;
    const audio = await getBytes(s3, bucket, audioKey);
    const middle = Math.floor(audio.length / 2);
    audio[middle] = (audio[middle] as number) ^ 0x01;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: audioKey, Body: audio }));

    // 2. A deleted manifest (a delete marker: the held versions themselves cannot be deleted).
    const deletedKey = manifestKeyOf(deletedT);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: deletedKey }));

    // 3. An edited manifest field, written back as a new version with the old integrity member.
    const edited = await newestManifest(editedT);
    const editedVersion = await putManifest(
      edited.key,
      serializeSealedManifest({ ...edited.m, duration_ms: (edited.m.duration_ms ?? 0) + 1000 }),
    );

    // 4. A removed legal hold on the newest manifest version.
    const held = await newestManifest(holdT);
    await s3.send(
      new PutObjectLegalHoldCommand({
        Bucket: bucket,
        Key: held.key,
        VersionId: held.versionId,
        LegalHold: { Status: 'OFF' },
      }),
    );

    // 5. A broken chain: a correctly signed next version that links to a hash no version has.
    const chained = await newestManifest(chainT);
    const broken = sealManifest(
      {
        ...bodyOf(chained.m),
        manifest_version: chained.m.manifest_version + 1,
        previous_manifest_sha256: 'ab'.repeat(32),
      },
      signer,
    );
    const brokenVersion = await putManifest(chained.key, serializeSealedManifest(broken));

    // 6. A manifest signed by another key, claiming the trusted key's id.
    const other = await newestManifest(otherKeyT);
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = sealManifest(
      {
        ...bodyOf(other.m),
        manifest_version: other.m.manifest_version + 1,
        previous_manifest_sha256: manifestSha256(other.m),
      },
      signingKeyOf(privateKey),
    );
    expect(keyIdFor(privateKey)).not.toBe(signer.keyId);
    const forgedVersion = await putManifest(
      other.key,
      serializeSealedManifest({ ...forged, integrity: { ...forged.integrity, key_id: signer.keyId } }),
    );

    const html = join(dir, 'tampered.html');
    const run = await verify(['--json', '--html', html]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as VerifyReport;
    const f = report.findings;
    expect(report.ok).toBe(false);

    expect(has(f, 'audio-sha256', audioKey, /object hashes to/)).toBe(true);
    expect(has(f, 'object-version', audioKey)).toBe(true);
    expect(has(f, 'manifest-deleted', deletedKey)).toBe(true);
    expect(has(f, 'manifest-invalid', `${edited.key}@${editedVersion}`, /^hash: /)).toBe(true);
    expect(has(f, 'fork', edited.key)).toBe(true);
    expect(has(f, 'legal-hold', `${held.key}@${held.versionId}`, /no legal hold/)).toBe(true);
    expect(has(f, 'chain', `${chained.key}@${brokenVersion}`, /previous_manifest_sha256/)).toBe(true);
    expect(has(f, 'manifest-invalid', `${other.key}@${forgedVersion}`, /^signature: .*does not verify/)).toBe(
      true,
    );

    // Nothing else is reported: the seventh recording (and the rest) are still clean.
    const tamperedRecordings = new Set(
      [audioT, deletedT, editedT, holdT, chainT, otherKeyT].map((e) => e.recordingId),
    );
    expect(f.filter((x) => !tamperedRecordings.has(x.recordingId))).toEqual([]);
    expect(report.counts.failed).toBe(6);
    expect(report.counts.verified).toBe(exports.length - 6);
    tampered = { report, html };

    // The tests' bucket auditor (fault suite, soak) is the same implementation: it finds the same things.
    const helper = await auditBucket({
      s3,
      bucket,
      publicKeys: new Map([[signer.keyId, signer.publicKey]]),
      expectManifestHold: true,
    });
    expect(helper.expected).toBe(report.counts.recordings);
    expect(helper.failures.map((x) => x.key).sort()).toEqual(f.map((x) => x.key).sort());
  });

  it('renders the findings report in a real headless browser, offline and without console errors', async () => {
    if (!tampered) throw new Error('runs after the tamper test');
    const { default: chromium } = await import('@sparticuz/chromium');
    const { default: puppeteer } = await import('puppeteer-core');
    const browser = await puppeteer.launch({
      args: chromium.args,
      executablePath: await chromium.executablePath(),
      headless: true,
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(tampered.html).href, { waitUntil: 'load' });

      const { report } = tampered;
      const counts = await page.$$eval('[data-count]', (els) =>
        Object.fromEntries(els.map((e) => [e.getAttribute('data-count'), Number(e.textContent)])),
      );
      expect(counts).toMatchObject({
        recordings: report.counts.recordings,
        verified: report.counts.verified,
        failed: report.counts.failed,
        complete: report.counts.complete,
        findings: report.findings.length,
      });
      expect(await page.$eval('#verdict', (e) => e.textContent)).toBe('FAIL');
      const rows = await page.$$eval('tr.finding', (els) =>
        els.map((e) => ({ check: e.getAttribute('data-check'), key: e.querySelector('.key')?.textContent })),
      );
      expect(rows).toEqual(report.findings.map((x) => ({ check: x.check, key: x.key })));
      // The chart is drawn: one bar segment per kind present that day, each with a visible size.
      const bars = await page.$$eval('#completeness-chart rect.bar', (els) =>
        els.map((e) => (e as unknown as { getBBox(): { height: number } }).getBBox().height),
      );
      expect(bars.length).toBeGreaterThan(0);
      expect(bars.every((h) => h > 0)).toBe(true);
      expect(problems).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('with --pending-grace, counts a fresh export without a manifest yet as pending, not as a finding', async () => {
    const model = exports[0] as RecordingExport;
    const conversationId = randomUUID();
    const recordingId = randomUUID();
    const audioKey = (model.audio?.key as string)
      .replace(model.conversationId, conversationId)
      .replace(model.recordingId, recordingId);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: audioKey, Body: Buffer.from('fresh audio') }));
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: `${audioKey}_metadata.json`, Body: Buffer.from('{}') }),
    );
    const scope = ['--conversations', conversationId, '--no-html'];

    const strict = await verify(scope);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain('recordings 1: verified 0, failed 1 (no manifest 1)\n');

    const live = await verify([...scope, '--pending-grace', '15', '--json']);
    expect(live.code).toBe(0);
    const report = JSON.parse(live.stdout) as VerifyReport;
    expect(report.counts).toMatchObject({ recordings: 1, verified: 0, failed: 0, pending: 1, findings: 0 });
    expect(report.scope.pendingGraceMinutes).toBe(15);
    expect(report.ok).toBe(true);

    const summary = await verify([...scope, '--pending-grace', '15']);
    expect(summary.stdout).toContain(
      'recordings 1: verified 0, failed 0 (no manifest 0), pending 1 (exported in the last 15 min, no manifest yet)',
    );
    expect((await verify([...scope, '--pending-grace', 'soon'])).code).toBe(64);
  });

  it('says it could not run, with exit 69 and one line, when the bucket does not exist', async () => {
    const p = spawnCustody(['verify', '--public-key', publicKeyFile, '--no-html'], {
      ...infraEnv(),
      S3_BUCKET: uniqueName('absent'),
    });
    expect(await p.exited).toBe(69);
    expect(p.stderr()).toMatch(/^custody verify: could not run: bucket absent-\S+ does not exist$/m);
    expect(p.stdout()).toBe('');
  });
});
