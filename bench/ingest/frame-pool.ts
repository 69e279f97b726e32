/**
 * bench:ingest's load: the simulated calls of a 10-hour day for 40 users (seed 42), every event a user
 * subscription receives in event-time order. Shared by the load generator and the in-process benchmarks, so they
 * all measure the same frames.
 */
import { startEmulator } from '../../dev/emulator/index.ts';
import type { RunningEmulator as Emulator } from '../../dev/emulator/index.ts';
import { createRng, randomConversations } from '../../dev/emulator/simulation/index.ts';
import { notificationFrameText, userTopicEvents } from '../../dev/user-topic-events.ts';

export const startBenchEmulator = (): Promise<Emulator> =>
  startEmulator({ clientId: 'bench', clientSecret: 'bench-secret', seed: 42, users: 40 });

/** The day's events, from the emulator's org, and how many conversations they belong to. */
export function benchEvents(emu: Emulator): {
  events: ReturnType<typeof userTopicEvents>;
  conversations: number;
} {
  const scripts = randomConversations(
    emu.org,
    createRng(42),
    Date.parse('2026-03-01T08:00:00Z'),
    Date.parse('2026-03-01T18:00:00Z'),
    8,
  );
  return { events: userTopicEvents(scripts), conversations: scripts.length };
}

/** The day's events as the notification frames the WebSocket carries. */
export async function benchFrames(): Promise<string[]> {
  const emu = await startBenchEmulator();
  try {
    return benchEvents(emu).events.map((e, i) => notificationFrameText(e.topicName, e.eventBody, i));
  } finally {
    await emu.close();
  }
}
