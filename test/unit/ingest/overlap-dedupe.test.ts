import { describe, expect, it } from 'vitest';
import { OverlapDedupe } from '../../../src/ingest/overlap-dedupe.ts';

describe('OverlapDedupe', () => {
  it('drops the same event seen on a second channel, keeps repeats on one channel', () => {
    const d = new OverlapDedupe({ windowMs: 1000 });
    d.arm(0);
    expect(d.isDuplicate('v2.users.u.conversations', '{"id":"c"}', 'ch-old', 0)).toBe(false);
    expect(d.isDuplicate('v2.users.u.conversations', '{"id":"c"}', 'ch-new', 10)).toBe(true);
    expect(d.isDuplicate('v2.users.u.conversations', '{"id":"c"}', 'ch-old', 20)).toBe(false);
    expect(d.isDuplicate('v2.users.v.conversations', '{"id":"c"}', 'ch-new', 30)).toBe(false);
  });

  it('forgets after the window and beyond the size bound', () => {
    const d = new OverlapDedupe({ windowMs: 100, maxEntries: 2, alwaysArmed: true });
    d.isDuplicate('t', 'a', 'c1', 0);
    expect(d.isDuplicate('t', 'a', 'c2', 200)).toBe(false);
    d.isDuplicate('t', 'b', 'c1', 201);
    d.isDuplicate('t', 'c', 'c1', 202);
    d.isDuplicate('t', 'd', 'c1', 203);
    expect(d.isDuplicate('t', 'b', 'c2', 204)).toBe(false);
  });
});

describe('OverlapDedupe arming (checks only while a second channel may carry a topic)', () => {
  it('checks from arm() for one window, then forgets what it remembered', () => {
    const d = new OverlapDedupe({ windowMs: 100 });
    // Not armed: one channel per topic, nothing to compare, nothing remembered.
    expect(d.isDuplicate('t', 'a', 'c1', 0)).toBe(false);
    expect(d.isDuplicate('t', 'a', 'c2', 1)).toBe(false);
    d.arm(10);
    expect(d.isDuplicate('t', 'b', 'c1', 20)).toBe(false);
    expect(d.isDuplicate('t', 'b', 'c2', 60)).toBe(true);
    // Re-arming extends the window from the later request (the first one ended at 110).
    d.arm(80);
    expect(d.isDuplicate('t', 'e', 'c1', 150)).toBe(false);
    expect(d.isDuplicate('t', 'e', 'c2', 175)).toBe(true);
    // Past the window: disarmed, and what was remembered is gone.
    expect(d.isDuplicate('t', 'e', 'c2', 181)).toBe(false);
    d.arm(300);
    expect(d.isDuplicate('t', 'e', 'c2', 300)).toBe(false);
    expect(d.isDuplicate('t', 'e', 'c1', 301)).toBe(true);
  });

  it('an arm() earlier than the current window does not shorten it', () => {
    const d = new OverlapDedupe({ windowMs: 100 });
    d.arm(100);
    d.arm(0);
    expect(d.isDuplicate('t', 'a', 'c1', 150)).toBe(false);
    expect(d.isDuplicate('t', 'a', 'c2', 199)).toBe(true);
  });

  it('always armed (EventBridge beside the sockets): a socket frame repeating a bridged event is a duplicate', () => {
    const d = new OverlapDedupe({ windowMs: 100, alwaysArmed: true });
    expect(d.seenBefore('t', 'a', 0)).toBe(false);
    expect(d.isDuplicate('t', 'a', 'c1', 1_000_000)).toBe(false);
    expect(d.isDuplicate('t', 'b', 'c1', 1_000_001)).toBe(false);
    expect(d.seenBefore('t', 'b', 1_000_002)).toBe(true);
  });
});

describe('OverlapDedupe.seenBefore (EventBridge: at-least-once delivery)', () => {
  it('drops any repeat of a topic and body within the window, on any source, and forgets after it', () => {
    const d = new OverlapDedupe({ windowMs: 1000 });
    expect(d.seenBefore('v2.users.u.conversations', '{"id":"c"}', 0)).toBe(false);
    expect(d.seenBefore('v2.users.u.conversations', '{"id":"c"}', 10)).toBe(true);
    expect(d.seenBefore('v2.users.v.conversations', '{"id":"c"}', 20)).toBe(false);
    expect(d.seenBefore('v2.users.u.conversations', '{"id":"d"}', 30)).toBe(false);
    expect(d.seenBefore('v2.users.u.conversations', '{"id":"c"}', 2_000)).toBe(false);
  });
});
