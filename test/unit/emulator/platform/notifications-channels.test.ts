import { describe, expect, it } from 'vitest';
import { createSimClock } from '../../../../dev/emulator/platform/clock.ts';
import { createChannelRegistry } from '../../../../dev/emulator/platform/notifications-channels.ts';

const U = '0b5a1c9e-3f2d-4c8a-9b1e-7d6f5a4c3b2a';
const TOPIC = `v2.users.${U}.conversations`;

/** The sequence numbers of the deliveries the log shows after `sent` events to a channel without a socket. */
function shownAfter(sent: number, deliveryLogLimit: number): number[] {
  const clock = createSimClock({ startTime: Date.parse('2026-03-02T08:00:00Z'), speed: 1 });
  const registry = createChannelRegistry({
    clock,
    baseWsUrl: () => 'ws://127.0.0.1:1',
    channelTtlMs: 86_400_000,
    maxChannelsPerClient: 20,
    maxTopicsPerChannel: 1_000,
    topicRules: { allowDottedSuffixes: true },
    correlationIdPer: 'event',
    deliveryLogLimit,
  });
  try {
    const ch = registry.create('client', 'token');
    expect(registry.subscribe(ch, 'add', [TOPIC], false).ok).toBe(true);
    for (let i = 0; i < sent; i++) registry.publish({ topicName: TOPIC, eventBody: { i } as never });
    return registry.deliveries().map((d) => d.seq);
  } finally {
    registry.stop();
    clock.stop();
  }
}

describe('the emulator delivery log', () => {
  it.each([0, 1, 10, 25])('shows exactly the newest %i deliveries, oldest first', (limit) => {
    for (const sent of [0, limit, limit + 1, 2 * limit - 1, 2 * limit, 2 * limit + 1, 5 * limit + 3]) {
      const first = Math.max(0, sent - limit);
      expect(shownAfter(sent, limit)).toEqual(Array.from({ length: sent - first }, (_, i) => first + i));
    }
  });
});
