/**
 * The records ingest derives from frames are byte for byte what they were before the hot-path work of issue 12
 * (hand-written body guards instead of zod, snapshot comparison without serialising): over a realistic corpus (the
 * emulator's simulated conversations, as bench:ingest offers them, with every 7th frame's participant corrupted so
 * that dropped participants are covered too), the parse verdicts, tag observations, changed snapshots and their
 * encoded session-tags and evidence records hash to the digest the zod-based code (commit 15ae178) gave.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../../dev/emulator/index.ts';
import { createRng, randomConversations } from '../../../dev/emulator/simulation/index.ts';
import { notificationFrameText, userTopicEvents } from '../../../dev/user-topic-events.ts';
import { notificationKeys, parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import { extractTagObservations } from '../../../src/enrich/session-tags-extract.ts';
import { mergeSessionTags, snapshotChanged } from '../../../src/enrich/session-tags-merge.ts';
import type { SessionTagsSnapshot, TagObservation } from '../../../src/enrich/session-tags.ts';
import { createEncoders } from '../../../src/kafka/record-codecs.ts';

const FRAMES = 6_000;
/** Frames per batch: snapshots are merged and compared once per conversation per batch, as ingest does. */
const BATCH = 50;
const EXPECTED = 'c224355999bc0e3eb2c4620eb68f17a2acd1fc7e04d4931b7f3ee363c629785a';

async function corpus(): Promise<string[]> {
  const emu = await startEmulator({ clientId: 'golden', clientSecret: 'golden-secret', seed: 42, users: 40 });
  const scripts = randomConversations(
    emu.org,
    createRng(42),
    Date.parse('2026-03-01T08:00:00Z'),
    Date.parse('2026-03-01T09:30:00Z'),
    8,
  );
  await emu.close();
  return userTopicEvents(scripts)
    .slice(0, FRAMES)
    .map((e, i) => {
      const body = structuredClone(e.eventBody) as { participants?: Record<string, unknown>[] };
      const p = body.participants?.[i % 3];
      if (i % 7 === 0 && p) {
        if (i % 2 === 0) p['startAcwTime'] = 'yesterday';
        else p['id'] = 'not-a-uuid';
      }
      return notificationFrameText(e.topicName, body, i);
    });
}

describe('records derived from frames', () => {
  it('are byte-identical to those of the zod-based parser', async () => {
    const frames = await corpus();
    expect(frames.length).toBe(FRAMES);
    const encoders = await createEncoders({ brokers: [], clientId: 'golden', ssl: false }, {} as never);
    const digest = createHash('sha256');
    const snapshots = new Map<string, SessionTagsSnapshot>();
    let pending: TagObservation[] = [];
    let changed = 0;
    let dropped = 0;
    const seal = (): void => {
      const byConversation = new Map<string, TagObservation[]>();
      for (const o of pending)
        byConversation.set(o.conversationId, [...(byConversation.get(o.conversationId) ?? []), o]);
      for (const [id, obs] of byConversation) {
        const prev = snapshots.get(id);
        const next = mergeSessionTags(prev, obs);
        snapshots.set(id, next);
        if (snapshotChanged(prev, next)) {
          changed++;
          digest.update(encoders['session-tags.v1'].encode(next));
        }
      }
      pending = [];
    };
    frames.forEach((text, i) => {
      const receivedAt = 1_780_000_000_000 + i * 3;
      const parsed = parseNotificationFrame(text);
      if (!parsed.ok) {
        digest.update(JSON.stringify(parsed.error));
        return;
      }
      const env = parsed.value;
      const keys = notificationKeys(env);
      if ('dropped' in env) dropped += env.dropped.length;
      digest.update(JSON.stringify([env.kind, keys, 'dropped' in env ? env.dropped : null]));
      const extracted = extractTagObservations(env, {
        receivedAt,
        provenance: 'live',
        userContext: (userId) =>
          userId.endsWith('0') ? undefined : { stationId: undefined, stationType: 'inin_webrtc_softphone' },
      });
      digest.update(JSON.stringify(extracted));
      if (extracted.ok) pending.push(...extracted.value);
      digest.update(
        encoders['notification.v1'].encode({
          topicName: env.topicName ?? null,
          kind: env.kind,
          version: env.version ?? null,
          correlationId: env.correlationId ?? null,
          rejectionCode: null,
          rawFrame: text,
          rawFrameSha256: createHash('sha256').update(text).digest('hex'),
          receivedAtMs: receivedAt,
          channelId: 'golden',
          frameSequence: i,
          ingestInstance: 'golden',
          ingestVersion: '0',
          conversationId: keys.conversationId ?? null,
          entityId: keys.entityId ?? null,
          transport: null,
          eventBridge: null,
        }),
      );
      if ((i + 1) % BATCH === 0) seal();
    });
    seal();
    // The corpus exercises what it is meant to: changed snapshots and dropped participants.
    expect(changed).toBeGreaterThan(1_000);
    expect(dropped).toBeGreaterThan(100);
    expect(digest.digest('hex')).toBe(EXPECTED);
  }, 60_000);
});
