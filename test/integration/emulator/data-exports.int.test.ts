/**
 * The simulated "AWS S3 recording bulk actions" integration against the real S3 server: a scripted
 * scenario of every conversation kind (incl. one crossing an hour boundary and one unrecorded) with a
 * media retention policy export, checked object by object against Genesys's export layout; and exports
 * that survive an S3 outage (retried, then written).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import platformClient from 'purecloud-platform-client-v2';
import {
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../dev/emulator/index.ts';
import type { ConversationKind, ConversationScript } from '../../../dev/emulator/model.ts';
import { flushExports, stopExports } from '../../../dev/emulator/platform/exports.ts';
import { infra, s3Client, uniqueName } from '../../support/clients.ts';

type ApiClient = typeof platformClient.ApiClient;
const CLIENT = { clientId: 'data-exports-client', clientSecret: 'data-exports-secret' };
const START = Date.parse('2025-03-04T08:00:00.000Z');
const MIN = 60_000;
const at = (m: number) => new Date(START + m * MIN).toISOString();
const EXPORT_AFTER_MINUTES = 15;
const ALLOWED_METADATA_KEYS = [
  'conversationId',
  'durationMs',
  'endTime',
  'initialDirection',
  'mediaSubtype',
  'mediaType',
  'provider',
  'recordingId',
  'startTime',
  'userIds',
];

async function listKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await res.Body?.transformToByteArray()) ?? []);
}

/** The export folder of a conversation, written out independently of the emulator's own layout code. */
function expectedPrefix(orgId: string, script: ConversationScript): string {
  const d = new Date(script.startTime);
  return (
    `${orgId}/year=${d.getUTCFullYear()}/month=${d.getUTCMonth() + 1}/day=${d.getUTCDate()}/hour=${d.getUTCHours()}` +
    `/conversation_id=${script.conversationId}/`
  );
}

let emu: RunningEmulator | undefined;
let proxy: Server | undefined;
const s3 = (): S3Client => s3Client();

async function start(bucket: string, opts: Partial<EmulatorOptions> = {}): Promise<RunningEmulator> {
  const i = infra();
  // Simulated time barely moves on its own (speed 0.001): the tests move it with clock.advance.
  emu = await startEmulator({
    ...CLIENT,
    speed: 0.001,
    exportAfterMinutes: EXPORT_AFTER_MINUTES,
    exportTarget: {
      endpoint: i.S3_ENDPOINT,
      region: i.S3_REGION,
      bucket,
      accessKeyId: i.AWS_ACCESS_KEY_ID,
      secretAccessKey: i.AWS_SECRET_ACCESS_KEY,
    },
    ...opts,
  });
  return emu;
}
afterEach(async () => {
  if (emu) await stopExports(emu);
  await emu?.close();
  emu = undefined;
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  proxy = undefined;
});

describe('S3 recording exports (retention policy)', () => {
  it('writes exactly the Genesys export layout for every recorded conversation of a scenario', async () => {
    const bucket = uniqueName('emu-exports');
    const kinds: ConversationKind[] = [
      'inbound-acd-webrtc',
      'outbound-webrtc',
      'blind-transfer',
      'consult-transfer',
      'same-agent-multiple-legs',
      'persistent-connection',
      'sip-desk-phone',
      'unrecorded',
    ];
    const e = await start(bucket, {
      scenario: {
        start: at(0),
        seed: 3,
        conversations: [
          ...kinds.map((kind, n) => ({ kind, at: at(2 + n * 3), durationSeconds: 150 })),
          // Moved to hh:59:xx by the simulation, so it crosses into the next hour.
          { kind: 'hour-boundary' as const, at: at(30) },
        ],
      },
    });
    const scripts = e.conversations.all();
    const lastEnd = Math.max(...scripts.map((s) => s.endTime));
    const client = s3();

    // Nothing is exported before the policy's export date: the first conversation's recordings are due
    // EXPORT_AFTER_MINUTES after it ends.
    const first = scripts[0];
    if (!first) throw new Error('scenario');
    await e.clock.advance(first.endTime + (EXPORT_AFTER_MINUTES - 1) * MIN - e.clock.now());
    await flushExports(e);
    expect(await listKeys(client, bucket).catch(() => [])).toEqual([]);

    await e.clock.advance(lastEnd + EXPORT_AFTER_MINUTES * MIN - e.clock.now());
    await flushExports(e);

    // The bucket did not exist: the integration created it, with Object Lock.
    const lock = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    expect(lock.ObjectLockConfiguration?.ObjectLockEnabled).toBe('Enabled');

    const expected = scripts
      .flatMap((s) =>
        s.recordings.flatMap((r) => [
          `${expectedPrefix(e.org.orgId, s)}${r.recordingId}.opus`,
          `${expectedPrefix(e.org.orgId, s)}${r.recordingId}.opus_metadata.json`,
        ]),
      )
      .sort();
    const keys = await listKeys(client, bucket);
    expect(keys).toEqual(expected);

    const unrecorded = scripts.filter((s) => s.kind === 'unrecorded');
    expect(unrecorded).toHaveLength(1);
    for (const s of unrecorded) expect(keys.some((k) => k.includes(s.conversationId))).toBe(false);
    const recorded = scripts.filter((s) => s.kind !== 'unrecorded');
    for (const s of recorded) expect(s.recordings.length).toBeGreaterThan(0);
    expect(scripts.some((s) => s.recordings.length > 1)).toBe(true);

    // The hour-boundary call lands under its START hour although it (and a recording) ends in the next.
    const boundary = scripts.find((s) => s.kind === 'hour-boundary');
    if (!boundary) throw new Error('scenario');
    const startHour = new Date(boundary.startTime).getUTCHours();
    expect(new Date(boundary.endTime).getUTCHours()).not.toBe(startHour);
    expect(boundary.recordings.some((r) => new Date(r.endTime).getUTCHours() !== startHour)).toBe(true);
    for (const r of boundary.recordings) {
      expect(keys).toContain(
        `${e.org.orgId}/year=2025/month=3/day=4/hour=${startHour}/conversation_id=${boundary.conversationId}/${r.recordingId}.opus`,
      );
    }

    for (const s of recorded) {
      for (const r of s.recordings) {
        const base = `${expectedPrefix(e.org.orgId, s)}${r.recordingId}.opus`;
        const audio = await getBytes(client, bucket, base);
        expect(audio.length).toBe(r.sizeBytes);
        expect(audio.subarray(0, 4).toString('latin1')).toBe('OggS');
        expect(audio.subarray(28, 36).toString('latin1')).toBe('OpusHead');
        const meta = JSON.parse(
          (await getBytes(client, bucket, `${base}_metadata.json`)).toString('utf8'),
        ) as Record<string, unknown>;
        expect(Object.keys(meta).sort()).toEqual(ALLOWED_METADATA_KEYS);
        expect(meta).toMatchObject({
          mediaType: 'Call',
          mediaSubtype: r.mediaSubtype,
          conversationId: s.conversationId,
          recordingId: r.recordingId,
          userIds: [...r.userIds],
          startTime: new Date(r.startTime).toISOString(),
          endTime: new Date(r.endTime).toISOString(),
          durationMs: r.endTime - r.startTime,
          initialDirection: r.direction,
        });
      }
    }

    // And the REST view says so.
    const Ctor = platformClient.ApiClient.constructor as new () => ApiClient;
    const api = new Ctor();
    api.setGateway({
      host: '127.0.0.1',
      protocol: 'http',
      port: e.port,
      path_params_login: '',
      path_params_api: '',
    });
    await api.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
    const recording = new platformClient.RecordingApi(api);
    for (const s of recorded) {
      for (const m of await recording.getConversationRecordingmetadata(s.conversationId)) {
        expect(m.exportDate).toBe(new Date(s.endTime + EXPORT_AFTER_MINUTES * MIN).toISOString());
        expect(Date.parse(m.exportedDate ?? '')).toBeGreaterThanOrEqual(
          s.endTime + EXPORT_AFTER_MINUTES * MIN,
        );
      }
    }
    client.destroy();
  });

  it('retries exports while S3 is unreachable and writes them once it is back', async () => {
    const bucket = uniqueName('emu-outage');
    // A TCP port that refuses connections until the proxy to the real S3 server starts listening on it.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    const real = new URL(infra().S3_ENDPOINT);

    const i = infra();
    const e = await start(bucket, {
      exportTarget: {
        endpoint: `http://127.0.0.1:${port}`,
        region: i.S3_REGION,
        bucket,
        accessKeyId: i.AWS_ACCESS_KEY_ID,
        secretAccessKey: i.AWS_SECRET_ACCESS_KEY,
      },
      scenario: {
        start: at(0),
        seed: 9,
        conversations: [{ kind: 'inbound-acd-webrtc', at: at(1), durationSeconds: 60 }],
      },
    });
    const [conv] = e.conversations.all();
    if (!conv) throw new Error('scenario');
    await e.clock.advance(conv.endTime + EXPORT_AFTER_MINUTES * MIN - e.clock.now());
    await expect(flushExports(e, 1_500)).rejects.toThrow(/pending/);

    const sockets = new Set<Socket>();
    proxy = createServer((inbound) => {
      const outbound = connect(Number(real.port), real.hostname);
      sockets.add(inbound);
      inbound.pipe(outbound).pipe(inbound);
      const end = () => {
        inbound.destroy();
        outbound.destroy();
        sockets.delete(inbound);
      };
      inbound.on('error', end).on('close', end);
      outbound.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => proxy?.listen(port, '127.0.0.1', resolve));
    await flushExports(e, 30_000);
    const keys = await listKeys(s3(), bucket);
    expect(keys).toEqual(
      conv.recordings
        .flatMap((r) => [
          `${expectedPrefix(e.org.orgId, conv)}${r.recordingId}.opus`,
          `${expectedPrefix(e.org.orgId, conv)}${r.recordingId}.opus_metadata.json`,
        ])
        .sort(),
    );
    await stopExports(e);
    for (const s of sockets) s.destroy();
  });
});
