/**
 * `custody backfill` (the real CLI, as a process) against the Genesys emulator, real Kafka and real S3 with
 * Object Lock. The emulator's calls were exported before custody ever ran: no ingest, no exports watch, no sink,
 * empty topics. The backfill must find every export, reconstruct the tags from analytics (marked `reconciled`,
 * never `live`), and write one verified manifest per recording; run again it changes nothing; killed half-way and
 * run again it finishes without forking or duplicating a chain; and the live sink's consumer group is never
 * touched.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { Scenario } from '../../../dev/emulator/model.ts';
import type { BackfillReport } from '../../../src/backfill/backfill.ts';
import { keyIdFor } from '../../../src/enrich/integrity.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import { auditBucket } from '../../support/custody-audit.ts';
import { infraEnv, spawnCustody } from '../../support/custody-process.ts';
import {
  createLockedBucket,
  createTopics,
  listKeys,
  runExportingEmulator,
  sinkTopics,
  testSigningKey,
} from '../../support/sink-fixtures.ts';
import { waitUntil } from '../../support/deployment.ts';

const FIRST_HOUR = '2026-03-02T09:00:00Z';
const SECOND_HOUR = '2026-03-02T10:00:00Z';
const THIRD_HOUR = '2026-03-02T11:00:00Z';

/** A few calls in the first hour; many in the second, so a backfill of it can be killed half-way. */
const SCENARIO: Scenario = {
  seed: 21,
  start: '2026-03-02T08:55:00Z',
  conversations: [
    { kind: 'inbound-acd-webrtc', at: '2026-03-02T09:02:00Z', durationSeconds: 60 },
    { kind: 'outbound-webrtc', at: '2026-03-02T09:05:00Z', durationSeconds: 60 },
    { kind: 'inbound-acd-webrtc', at: '2026-03-02T09:08:00Z', durationSeconds: 60 },
    ...Array.from({ length: 40 }, (_, i) => ({
      kind: i % 2 === 0 ? ('inbound-acd-webrtc' as const) : ('outbound-webrtc' as const),
      at: new Date(Date.parse('2026-03-02T10:00:30Z') + i * 80_000).toISOString(),
      durationSeconds: 45,
    })),
  ],
};

const s3 = s3Client();
const kafka = kafkaClient('backfill-test');
const bucket = uniqueName('backfill');
const topics = sinkTopics();
const liveGroup = uniqueName('live-sink');
const dir = mkdtempSync(join(tmpdir(), 'custody-backfill-'));
const signer = testSigningKey();
const keyFile = join(dir, 'signing.pem');
const publicKeys = new Map([[keyIdFor(signer.publicKey), signer.publicKey]]);
let emu: RunningEmulator | undefined;
let env: Record<string, string> = {};

beforeAll(async () => {
  writeFileSync(keyFile, signer.pem, { mode: 0o600 });
  await createLockedBucket(s3, bucket);
  emu = await runExportingEmulator(bucket, SCENARIO);
  await createTopics(kafka, Object.values(topics));
  env = {
    ...infraEnv(),
    S3_BUCKET: bucket,
    GENESYS_API_URL: emu.baseUrl,
    GENESYS_CLIENT_ID: 'sink-test',
    GENESYS_CLIENT_SECRET: 'sink-test-secret',
    CUSTODY_SIGNING_KEY_FILE: keyFile,
    CUSTODY_TOPIC_SESSION_TAGS: topics.sessionTags,
    CUSTODY_TOPIC_RECORDING_EXPORTS: topics.recordingExports,
    CUSTODY_TOPIC_LEGAL_HOLDS: topics.legalHolds,
    CUSTODY_TOPIC_SINK_STATE: topics.sinkState,
    CUSTODY_TOPIC_MANIFESTS: topics.manifests,
    CUSTODY_TOPIC_DLQ: topics.dlq,
    CUSTODY_TOPIC_PARTITIONS: '3',
    CUSTODY_SINK_GROUP_ID: liveGroup,
    CUSTODY_EXPORTS_WATCH_NAME: uniqueName('watch'),
    CUSTODY_INSTANCE_ID: 'backfill-test',
    CUSTODY_LOG_LEVEL: 'warn',
  };
}, 240_000);

afterAll(async () => {
  if (emu) {
    await emu.exports.stop();
    await emu.close();
  }
});

async function backfill(args: readonly string[]) {
  const p = spawnCustody(['backfill', ...args, '--json'], env);
  const code = await p.exited;
  const out = p.stdout();
  return { code, report: code === 0 || code === 1 ? (JSON.parse(out) as BackfillReport) : undefined, p };
}

/** Manifest versions per manifest key under a partition hour. */
async function manifestVersions(hourPrefix: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    const page = await s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
    );
    for (const v of page.Versions ?? []) {
      const k = v.Key ?? '';
      if (k.endsWith('.opus_manifest.json') && k.includes(hourPrefix))
        counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
  // A listing page that ends among a key's versions repeats them on the next (versitygw): count each once.
  return counts;
}

function hourPrefix(iso: string): string {
  const d = new Date(iso);
  return `year=${d.getUTCFullYear()}/month=${d.getUTCMonth() + 1}/day=${d.getUTCDate()}/hour=${d.getUTCHours()}/`;
}

async function recordingsIn(iso: string): Promise<number> {
  const keys = await listKeys(s3, bucket);
  return keys.filter((k) => k.endsWith('.opus') && k.includes(hourPrefix(iso))).length;
}

describe('custody backfill', () => {
  it('backfills conversations exported before ingest ever ran: tags reconstructed and marked reconciled', async () => {
    const expected = await recordingsIn(FIRST_HOUR);
    expect(expected).toBe(3);
    const { code, report, p } = await backfill(['--from', FIRST_HOUR, '--to', SECOND_HOUR]);
    expect(code, p.stderr()).toBe(0);
    expect(report?.resumed).toBe(false);
    expect(report?.rescan?.published).toBe(expected);
    expect(report?.conversations).toBe(3);
    expect(report?.recordings).toBe(expected);
    expect(report?.reconstruction).toEqual({ needed: 3, published: 3, failed: [] });
    expect(report?.manifests.written).toBe(expected);
    expect(report?.manifests.deadLettered).toBe(0);

    const versions = await manifestVersions(hourPrefix(FIRST_HOUR));
    expect(versions.size).toBe(expected);
    const audit = await auditBucket({ s3, bucket, publicKeys });
    const first = audit.newest.filter((m: SealedManifest) =>
      (m.audio?.s3.key ?? '').includes(hourPrefix(FIRST_HOUR)),
    );
    expect(first).toHaveLength(expected);
    expect(audit.forks).toBe(0);
    expect(audit.failures.filter((f) => f.key.includes(hourPrefix(FIRST_HOUR)))).toEqual([]);
    for (const m of first) {
      expect(m.participants.length).toBeGreaterThan(0);
      // Every field taken from a reconstructed leg says so; none claims to have been captured live.
      const provenances = new Set(
        [...JSON.stringify(m).matchAll(/"provenance":"([a-z]+)"/g)].map((x) => x[1]),
      );
      expect(provenances.has('live')).toBe(false);
      expect(provenances.has('reconciled')).toBe(true);
    }
    // Its own consumer group: the live sink's offsets are untouched.
    const admin = kafka.admin();
    await admin.connect();
    const live = await admin.fetchOffsets({ groupId: liveGroup, topics: [topics.recordingExports] });
    await admin.disconnect();
    expect(live.flatMap((t) => t.partitions).every((x) => x.offset === '-1')).toBe(true);
  }, 180_000);

  it('run again, changes nothing', async () => {
    const before = await manifestVersions(hourPrefix(FIRST_HOUR));
    const { code, report, p } = await backfill(['--from', FIRST_HOUR, '--to', SECOND_HOUR]);
    expect(code, p.stderr()).toBe(0);
    expect(report?.resumed).toBe(true);
    expect(report?.rescan?.published).toBe(0);
    expect(report?.reconstruction.needed).toBe(0);
    expect(report?.manifests.written).toBe(0);
    expect(await manifestVersions(hourPrefix(FIRST_HOUR))).toEqual(before);
  }, 180_000);

  it('killed half-way and run again, finishes with one manifest version per recording', async () => {
    const expected = await recordingsIn(SECOND_HOUR);
    expect(expected).toBe(40);
    const args = ['backfill', '--from', SECOND_HOUR, '--to', THIRD_HOUR];
    const first = spawnCustody(args, env);
    // Killed (no chance to clean up) once the join has written some manifests of the hour, not all.
    const partial = await waitUntil(
      'the first manifests of the hour',
      async () => {
        const n = (await manifestVersions(hourPrefix(SECOND_HOUR))).size;
        return n > 0 ? n : undefined;
      },
      120_000,
      50,
    );
    first.child.kill('SIGKILL');
    await first.exited;
    expect(partial).toBeLessThan(expected);

    const { code, report, p } = await backfill(['--from', SECOND_HOUR, '--to', THIRD_HOUR]);
    expect(code, p.stderr()).toBe(0);
    expect(report?.recordings).toBe(expected);
    const versions = await manifestVersions(hourPrefix(SECOND_HOUR));
    expect(versions.size).toBe(expected);
    // Neither the kill nor the second run made a second version of any manifest.
    expect([...versions].filter(([, n]) => n !== 1)).toEqual([]);
    const audit = await auditBucket({ s3, bucket, publicKeys });
    expect(audit.lost).toEqual([]);
    expect(audit.forks).toBe(0);
    expect(audit.failures).toEqual([]);
  }, 240_000);
});
