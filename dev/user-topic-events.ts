/**
 * The notifications a user subscription receives from a simulation, in event-time order, and the WebSocket frame
 * text of one. Shared by bench:ingest's load generator, its hot-path benchmark and the ingest golden test, so it
 * imports nothing from vitest.
 */
import type { ConversationScript, ScriptedEvent } from './emulator/model.ts';

/** Every `v2.users.*` event of the scripts, by event time (ties by topic name, so the order never depends on input). */
export function userTopicEvents(scripts: readonly ConversationScript[]): ScriptedEvent[] {
  return scripts
    .flatMap((s) => s.events)
    .filter((e) => e.topicName.startsWith('v2.users.'))
    .sort((a, b) => a.at - b.at || (a.topicName < b.topicName ? -1 : a.topicName > b.topicName ? 1 : 0));
}

/** A notification frame as the WebSocket carries it; `n` numbers its CorrelationId. */
export function notificationFrameText(topicName: string, eventBody: unknown, n: number): string {
  return JSON.stringify({
    topicName,
    version: '2',
    eventBody,
    metadata: { CorrelationId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` },
  });
}
