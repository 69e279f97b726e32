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

export function capturedSnapshots(
  org: SimOrg,
  scripts: readonly ConversationScript[],
): Map<string, SessionTagsSnapshot> {
  const stationOf = new Map<string, string | undefined>(org.users.map((u) => [u.id, u.stationId]));
  const typeOf = new Map(org.stations.map((s) => [s.id, s.type]));
  const userContext = (userId: string): UserContext | undefined => {
    const stationId = stationOf.get(userId);
    return stationId === undefined ? undefined : { stationId, stationType: typeOf.get(stationId) };
  };
  const out = new Map<string, SessionTagsSnapshot>();
  for (const script of scripts) {
    const observations: TagObservation[] = [];
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
      observations.push(...r.value.filter((o) => o.conversationId === script.conversationId));
    }
    if (observations.length > 0) out.set(script.conversationId, mergeSessionTags(undefined, observations));
  }
  return out;
}
