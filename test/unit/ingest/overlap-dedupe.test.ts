import { describe, expect, it } from 'vitest';
import { OverlapDedupe } from '../../../src/ingest/overlap-dedupe.ts';

describe('OverlapDedupe', () => {
  it('drops the same event seen on a second channel, keeps repeats on one channel', () => {
    const d = new OverlapDedupe({ windowMs: 1000 });
    expect(d.isDuplicate('v2.users.u.conversations', '{"id":"c"}', 'ch-old', 0)).toBe(false);
    expect(d.isDuplicate('v2.users.u.conversations', '{"id":"c"}', 'ch-new', 10)).toBe(true);
    expect(d.isDuplicate('v2.users.u.conversations', '{"id":"c"}', 'ch-old', 20)).toBe(false);
    expect(d.isDuplicate('v2.users.v.conversations', '{"id":"c"}', 'ch-new', 30)).toBe(false);
  });

  it('forgets after the window and beyond the size bound', () => {
    const d = new OverlapDedupe({ windowMs: 100, maxEntries: 2 });
    d.isDuplicate('t', 'a', 'c1', 0);
    expect(d.isDuplicate('t', 'a', 'c2', 200)).toBe(false);
    d.isDuplicate('t', 'b', 'c1', 201);
    d.isDuplicate('t', 'c', 'c1', 202);
    d.isDuplicate('t', 'd', 'c1', 203);
    expect(d.isDuplicate('t', 'b', 'c2', 204)).toBe(false);
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
