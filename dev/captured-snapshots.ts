/**
 * The session-tag snapshots `custody ingest` would capture from a simulation: every scripted event parsed as a
 * WebSocket frame and run through the pure extraction, with the user's station (from the org, updated by station
 * events) as user context, received 50 ms after it was published. Shared by the sink tests and bench:sink, so it
 * imports nothing from vitest.
 */
import type { ConversationScript, SimOrg } from './emulator/model.ts';
import { parseNotificationFrame } from '../src/enrich/genesys-envelope.ts';
import { extractTagObservations } from '../src/enrich/session-tags-extract.ts';
import { mergeSessionTags } from '../src/enrich/session-tags-merge.ts';
import type { SessionTagsSnapshot, TagObservation, UserContext } from '../src/enrich/session-tags.ts';

/** One capture: the conversation's snapshot right after an event that gave it observations. */
export type CapturedUpdate = Readonly<{
  conversationId: string;
  receivedAtMs: number;
  snapshot: SessionTagsSnapshot;
}>;

/** Each conversation's final snapshot (every event of its script folded in). */
export function capturedSnapshots(
  org: SimOrg,
  scripts: readonly ConversationScript[],
): Map<string, SessionTagsSnapshot> {
  const out = new Map<string, SessionTagsSnapshot>();
  for (const [conversationId, events] of scriptObservations(org, scripts)) {
    const all = events.flatMap((e) => e.observations);
    if (all.length > 0) out.set(conversationId, mergeSessionTags(undefined, all));
  }
  return out;
}

/**
 * Every snapshot ingest would send at the lowest rates (one per event that gave the conversation observations;
 * at higher rates a producer batch folds several events into one), in the order they were received across all
 * conversations. The last of each conversation is its {@link capturedSnapshots} one.
 */
export function capturedUpdates(org: SimOrg, scripts: readonly ConversationScript[]): CapturedUpdate[] {
  const out: CapturedUpdate[] = [];
  for (const [conversationId, events] of scriptObservations(org, scripts)) {
    const soFar: TagObservation[] = [];
    for (const { receivedAtMs, observations } of events) {
      soFar.push(...observations);
      // Folded from the start each time, so the last equals capturedSnapshots' exactly.
      out.push({ conversationId, receivedAtMs, snapshot: mergeSessionTags(undefined, soFar) });
    }
  }
  return out.sort((a, b) => a.receivedAtMs - b.receivedAtMs);
}

/** Per conversation, the observations of each of its events that gave any, with when they were received. */
function scriptObservations(
  org: SimOrg,
  scripts: readonly ConversationScript[],
): Map<string, { receivedAtMs: number; observations: TagObservation[] }[]> {
  const stationOf = new Map<string, string | undefined>(org.users.map((u) => [u.id, u.stationId]));
  const typeOf = new Map(org.stations.map((s) => [s.id, s.type]));
  const userContext = (userId: string): UserContext | undefined => {
    const stationId = stationOf.get(userId);
    return stationId === undefined ? undefined : { stationId, stationType: typeOf.get(stationId) };
  };
  const out = new Map<string, { receivedAtMs: number; observations: TagObservation[] }[]>();
  for (const script of scripts) {
    const events: { receivedAtMs: number; observations: TagObservation[] }[] = [];
    for (const [n, ev] of script.events.entries()) {
      const frame = JSON.stringify({
        topicName: ev.topicName,
        version: '2',
        eventBody: ev.eventBody,
        metadata: { CorrelationId: `corr-${script.conversationId.slice(0, 8)}-${n}` },
      });
      const env = parseNotificationFrame(frame);
      if (!env.ok) throw new Error(`simulated frame rejected: ${env.error.reason}`);
      if (env.value.kind === 'user-station') {
        stationOf.set(env.value.userId, env.value.body.associatedStation?.id);
        continue;
      }
      const r = extractTagObservations(env.value, {
        receivedAt: ev.at + 50,
        provenance: 'live',
        userContext,
      });
      if (!r.ok) throw new Error(`simulated extraction failed: ${r.error.reason}`);
      const observations = r.value.filter((o) => o.conversationId === script.conversationId);
      if (observations.length > 0) events.push({ receivedAtMs: ev.at + 50, observations });
    }
    out.set(script.conversationId, events);
  }
  return out;
}
