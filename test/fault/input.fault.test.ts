/**
 * Bad input from outside, while the roles run: a WebSocket frame larger than a Kafka record, and exports in the
 * bucket that are hostile or broken (metadata nested 20,000 levels, 50 MB of metadata, invalid UTF-8, zero-byte
 * audio, audio missing). Each gets a manifest that says what is wrong, or a dead letter that says why; no role
 * stops.
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';
import { waitUntil } from '../support/deployment.ts';
import { expectSound, NO_EXITS, runScenario } from './scenario.ts';

type Planted = {
  name: string;
  folder: string;
  recordingId: string;
  expect: { field: string; reason: RegExp };
};

describe('fault suite: hostile input', () => {
  it('oversized frame and hostile exports: findings and dead letters with reasons, no role stops', async () => {
    const planted: Planted[] = [];
    let frameDelivered = 0;
    const r = await runScenario({
      name: 'hostile-input',
      injected:
        'a 1.5 MB notification frame; metadata nested 20,000 levels, 50 MB, invalid UTF-8; zero-byte and missing audio',
      infra: inject('infra'),
      trafficMs: 15_000,
      fault: async ({ emulator, sleep }) => {
        const emu = emulator();
        if (!emu) throw new Error('no emulator');
        await sleep(6_000);
        const channels = (await emu.control<{ entities: Array<{ topics: string[] }> }>('GET', '/channels'))
          .entities;
        // Subscriptions may be combined (`v2.users.{id}?conversations&...`); the event goes to the plain topic.
        const userId = channels
          .flatMap((c) => c.topics)
          .map((t) => /^v2\.users\.([0-9a-f-]{36})/.exec(t)?.[1])
          .find((id) => id !== undefined);
        const topic = userId && `v2.users.${userId}.conversations`;
        if (!topic) throw new Error('no conversations topic subscribed');
        const big = await emu.control<{ delivered: number }>('POST', '/emit', {
          topicName: topic,
          eventBody: { id: randomUUID(), participants: [], padding: 'x'.repeat(1_500_000) },
        });
        frameDelivered = big.delivered;
      },
      afterTraffic: async ({ s3, deployment, emulator }) => {
        const orgId = emulator()?.orgId;
        if (!orgId) throw new Error('no org');
        const now = new Date();
        const folder = (conversationId: string) =>
          `${orgId}/year=${now.getUTCFullYear()}/month=${now.getUTCMonth() + 1}/day=${now.getUTCDate()}/hour=${now.getUTCHours()}/conversation_id=${conversationId}`;
        const put = (key: string, body: Buffer) =>
          s3.send(
            new PutObjectCommand({
              Bucket: deployment.bucket,
              Key: key,
              Body: body,
              ChecksumAlgorithm: 'SHA256',
            }),
          );
        const metadataOf = (conversationId: string, recordingId: string) =>
          Buffer.from(
            JSON.stringify({
              mediaType: 'Call',
              conversationId,
              recordingId,
              startTime: now.toISOString(),
              endTime: now.toISOString(),
              durationMs: 1000,
            }),
          );
        const plant = async (
          name: string,
          audio: Buffer | undefined,
          metadata: (c: string, r: string) => Buffer,
          expected: Planted['expect'],
        ) => {
          const conversationId = randomUUID();
          const recordingId = randomUUID();
          if (audio) await put(`${folder(conversationId)}/${recordingId}.opus`, audio);
          await put(
            `${folder(conversationId)}/${recordingId}.opus_metadata.json`,
            metadata(conversationId, recordingId),
          );
          planted.push({ name, folder: folder(conversationId), recordingId, expect: expected });
        };
        const audio = Buffer.from('OggS fake opus audio for a planted export');
        await plant(
          'deep nesting',
          audio,
          (c, rec) =>
            Buffer.from(
              `{"conversationId":"${c}","recordingId":"${rec}","x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
            ),
          { field: 'genesys_metadata', reason: /invalid-not-i-json/ },
        );
        await plant('50 MB metadata', audio, () => Buffer.alloc(50 * 1024 * 1024, 0x20), {
          field: 'genesys_metadata',
          reason: /invalid-too-large/,
        });
        await plant('invalid UTF-8', audio, () => Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), {
          field: 'genesys_metadata',
          reason: /invalid-not-utf8/,
        });
        await plant('zero-byte audio', Buffer.alloc(0), metadataOf, {
          field: 'audio',
          reason: /empty-object/,
        });
        await plant('missing audio', undefined, metadataOf, { field: 'audio', reason: /object-missing/ });
      },
    });
    expect(frameDelivered).toBeGreaterThan(0);
    expectSound(r);
    expect(r.audit.deadLetters.byCode['CUSTODY_INGEST_FRAME_TOO_LARGE']).toBeGreaterThan(0);
    expect(r.exits).toEqual(NO_EXITS);
    // Each planted export's manifest names what is wrong with it.
    const { s3Of } = await import('./scenario.ts');
    const s3 = s3Of(inject('infra'));
    try {
      for (const p of planted) {
        const key = `${p.folder}/${p.recordingId}.opus_manifest.json`;
        const manifest = await waitUntil(
          `manifest of ${p.name}`,
          async () => {
            const res = await s3.send(
              new GetObjectCommand({ Bucket: `hostile-input-${process.pid}-exports`, Key: key }),
            );
            return JSON.parse(
              await (res.Body as { transformToString(): Promise<string> }).transformToString(),
            ) as {
              completeness: { status: string; missing: Array<{ field: string; reason: string }> };
            };
          },
          5_000,
        );
        expect(manifest.completeness.status, p.name).toBe('incomplete');
        expect(
          manifest.completeness.missing.some(
            (m) => m.field === p.expect.field && p.expect.reason.test(m.reason),
          ),
          `${p.name}: ${JSON.stringify(manifest.completeness.missing)}`,
        ).toBe(true);
      }
    } finally {
      s3.destroy();
    }
  });
});
