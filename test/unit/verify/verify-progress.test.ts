import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressReporter } from '../../../src/verify/verify-command.ts';

function sink(isTTY: boolean) {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number; cursorTo?: unknown; clearLine?: unknown };
  stream.isTTY = isTTY;
  stream.columns = 120;
  // What cli-progress uses on a terminal stream.
  stream.cursorTo = (_x: number, _y?: number, cb?: () => void) => (cb?.(), true);
  stream.clearLine = (_dir: number, cb?: () => void) => (cb?.(), true);
  return { stream, text: () => text };
}

describe('verify progress', () => {
  it('draws a progress bar on a TTY', () => {
    const out = sink(true);
    const p = progressReporter({ stderr: out.stream, now: () => new Date(0) });
    p.update({ listed: 10, audited: 1, listingDone: false }, 4);
    p.update({ listed: 12, audited: 4, listingDone: true }, 4);
    p.stop();
    expect(out.text()).toMatch(/verify \[.*\] \d\/4 recordings \| 1\d objects listed/);
  });

  it('writes a plain line at most every interval otherwise', () => {
    const out = sink(false);
    let t = 0;
    const p = progressReporter({ stderr: out.stream, now: () => new Date(t), progressEveryMs: 1_000 });
    p.update({ listed: 10, audited: 1, listingDone: false }, 4);
    t = 1_500;
    p.update({ listed: 12, audited: 2, listingDone: false }, 4);
    t = 1_600;
    p.update({ listed: 12, audited: 3, listingDone: true }, 4);
    p.stop();
    expect(out.text()).toBe('verify: 2/4 recordings audited, 12 objects listed (listing)\n');
  });
});
