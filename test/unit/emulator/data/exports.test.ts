import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Models } from 'purecloud-platform-client-v2';
import { oggCrc, pseudoOpusAudio } from '../../../../dev/emulator/platform/export-audio.ts';
import { exportKeys } from '../../../../dev/emulator/platform/export-layout.ts';
import { EXPORT_METADATA_KEYS, exportMetadata } from '../../../../dev/emulator/platform/export-metadata.ts';
import { registerConversationRoutes } from '../../../../dev/emulator/platform/conversations.ts';
import { registerRecordingJobRoutes } from '../../../../dev/emulator/platform/recording-jobs.ts';
import { flushExports, registerExports } from '../../../../dev/emulator/platform/exports.ts';
import { MIN, T0, script, testContext } from './support.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('export layout', () => {
  it('partitions by conversation start in UTC, month and (by default) day/hour unpadded', () => {
    const k = exportKeys('org', Date.parse('2025-03-04T09:59:59.999Z'), 'c1', 'r1');
    expect(k.audioKey).toBe('org/year=2025/month=3/day=4/hour=9/conversation_id=c1/r1.opus');
    expect(k.metadataKey).toBe('org/year=2025/month=3/day=4/hour=9/conversation_id=c1/r1.opus_metadata.json');
    expect(k.prefix).toBe('org/year=2025/month=3/day=4/hour=9/conversation_id=c1/');
    const padded = exportKeys('org', Date.parse('2025-12-31T23:00:00Z'), 'c1', 'r1', { padDayHour: true });
    expect(padded.prefix).toBe('org/year=2025/month=12/day=31/hour=23/conversation_id=c1/');
    expect(
      exportKeys('org', Date.parse('2025-01-05T07:00:00Z'), 'c', 'r', { padDayHour: true }).prefix,
    ).toContain('month=1/day=05/hour=07/');
  });
});

describe('pseudo-Opus audio', () => {
  it('uses the Ogg CRC (check value of "123456789")', () => {
    expect(oggCrc(Buffer.from('123456789'))).toBe(0x89a1897f);
  });

  it('starts with valid Ogg pages carrying OpusHead and OpusTags, is sized and deterministic', () => {
    const audio = pseudoOpusAudio('rec-1', 10_000);
    expect(audio.length).toBe(10_000);
    expect(audio.subarray(0, 4).toString('latin1')).toBe('OggS');
    expect(audio.subarray(28, 36).toString('latin1')).toBe('OpusHead');
    // The first page's CRC verifies: zero the field and recompute.
    const page = Buffer.from(audio.subarray(0, 47));
    const stored = page.readUInt32LE(22);
    page.writeUInt32LE(0, 22);
    expect(oggCrc(page)).toBe(stored);
    expect(audio.subarray(47, 51).toString('latin1')).toBe('OggS');
    expect(audio.subarray(75, 83).toString('latin1')).toBe('OpusTags');
    expect(pseudoOpusAudio('rec-1', 10_000).equals(audio)).toBe(true);
    expect(pseudoOpusAudio('rec-2', 10_000).equals(audio)).toBe(false);
    expect(pseudoOpusAudio('rec-1', 10).length).toBe(10);
  });
});

describe('export metadata', () => {
  it('has exactly the Genesys fields', () => {
    const conv = script({ start: T0, recordings: 2 });
    const rec = conv.recordings[1];
    if (!rec) throw new Error('fixture');
    const meta = exportMetadata(conv, rec);
    expect(Object.keys(meta).sort()).toEqual([...EXPORT_METADATA_KEYS].sort());
    expect(meta).toMatchObject({
      mediaType: 'Call',
      mediaSubtype: 'Consult',
      conversationId: conv.conversationId,
      recordingId: rec.recordingId,
      durationMs: rec.endTime - rec.startTime,
      initialDirection: 'inbound',
      userIds: ['user-a'],
    });
  });
});

describe('export scheduling without an S3 target', () => {
  it('marks recordings exported at the policy date, and at a job-set date instead', async () => {
    const a = script({ start: T0 + MIN, durationMs: 5 * MIN });
    const b = script({ start: T0 + 2 * MIN, durationMs: 5 * MIN });
    const ctx = testContext([a, b], { exportAfterMinutes: 60 });
    registerConversationRoutes(ctx);
    registerRecordingJobRoutes(ctx, { queryDelayMs: 1000, executeDelayMs: 1000 });
    const exports = registerExports(ctx, { logger: silent });
    const meta = async (id: string) =>
      (
        (await ctx.routes.call('GET', `/api/v2/conversations/${id}/recordingmetadata`))
          .body as Models.RecordingMetadata[]
      )[0];

    await ctx.clock.advance(20 * MIN);
    // An EXPORT job for b only, due at T0+30min (earlier than the policy's T0+67min; a's is T0+66min).
    const job = (
      await ctx.routes.call('POST', '/api/v2/recording/jobs', {
        body: {
          action: 'EXPORT',
          actionDate: new Date(T0 + 30 * MIN).toISOString(),
          integrationId: 'integration-1',
          conversationQuery: {
            interval: `${new Date(T0).toISOString()}/${new Date(T0 + 60 * MIN).toISOString()}`,
            conversationFilters: [
              { type: 'and', predicates: [{ dimension: 'conversationId', value: b.conversationId }] },
            ],
          },
        },
      })
    ).body as Models.RecordingJob;
    await ctx.clock.advance(1000);
    await ctx.routes.call('PUT', `/api/v2/recording/jobs/${job.id ?? ''}`, { body: { state: 'PROCESSING' } });
    await ctx.clock.advance(1000);
    expect((await meta(b.conversationId))?.exportDate).toBe(new Date(T0 + 30 * MIN).toISOString());
    expect((await meta(b.conversationId))?.exportedDate).toBeUndefined();

    await ctx.clock.advance(T0 + 30 * MIN - ctx.clock.now());
    await flushExports(ctx);
    expect((await meta(b.conversationId))?.exportedDate).toBe(new Date(T0 + 30 * MIN).toISOString());
    expect((await meta(a.conversationId))?.exportedDate).toBeUndefined();
    expect(exports.writtenCount()).toBe(1);

    await ctx.clock.advance(T0 + 66 * MIN - 1 - ctx.clock.now());
    await flushExports(ctx);
    expect((await meta(a.conversationId))?.exportedDate).toBeUndefined();
    await ctx.clock.advance(MIN);
    await flushExports(ctx);
    expect((await meta(a.conversationId))?.exportedDate).toBe(new Date(T0 + 66 * MIN).toISOString());
    // b is not exported a second time by the policy.
    expect(exports.writtenCount()).toBe(2);
    await exports.stop();
  });
});

describe('export failures', () => {
  it('retries with back-off, logs every failure, and stop() ends the back-off and reports the abandoned export', async () => {
    // A port with nothing listening: every write is refused.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    const conv = script({ start: T0 + MIN });
    const ctx = testContext([conv], {
      exportAfterMinutes: 0,
      exportTarget: {
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        bucket: 'b',
        accessKeyId: 'k',
        secretAccessKey: 's',
      },
    });
    const lines: { level: string; msg: string; fields: object }[] = [];
    const logger = {
      info: (fields: object, msg: string) => lines.push({ level: 'info', msg, fields }),
      warn: (fields: object, msg: string) => lines.push({ level: 'warn', msg, fields }),
      error: (fields: object, msg: string) => lines.push({ level: 'error', msg, fields }),
    };
    const exports = registerExports(ctx, { logger, retryBaseMs: 1_000, maxRetryDelayMs: 60_000 });
    await ctx.clock.advance(10 * MIN);
    // Attempts at ~0 s and ~1 s; at 1.5 s the writer sleeps until ~3 s.
    await expect(exports.flush(1_500)).rejects.toThrow(/1 pending.*ECONNREFUSED/);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]?.fields).toMatchObject({
      conversationId: conv.conversationId,
      attempt: 1,
      retryInMs: 1_000,
    });
    expect(warnings[1]?.fields).toMatchObject({ attempt: 2, retryInMs: 2_000 });
    const started = Date.now();
    await exports.stop();
    expect(Date.now() - started).toBeLessThan(500);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      'export abandoned at shutdown; the recording was not written',
    ]);
    expect(exports.writtenCount()).toBe(0);
  });
});
