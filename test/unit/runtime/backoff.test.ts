import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { backoffDelay, retryUntilDone } from '../../../src/runtime/backoff.ts';
import { Conditions } from '../../../src/runtime/conditions.ts';
import { ShutdownError } from '../../../src/runtime/errors.ts';

function captureLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

const retriable = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and keeps half its step as a floor', () => {
    const policy = { initialMs: 100, maxMs: 1_000 };
    expect(backoffDelay(0, policy, () => 0)).toBe(50);
    expect(backoffDelay(0, policy, () => 1)).toBe(100);
    expect(backoffDelay(3, policy, () => 1)).toBe(800);
    expect(backoffDelay(10, policy, () => 1)).toBe(1_000);
    expect(backoffDelay(10, policy, () => 0)).toBe(500);
    expect(backoffDelay(1_000, policy, () => 0.5)).toBe(750);
  });
});

describe('retryUntilDone', () => {
  const fast = { initialMs: 1, maxMs: 4 };

  it('waits out retriable errors, logging once when it starts waiting and once when it recovers', async () => {
    const { log, lines } = captureLog();
    const conditions = new Conditions(log);
    let calls = 0;
    const seen: (string | undefined)[] = [];
    const result = await retryUntilDone(
      'Kafka',
      async () => {
        calls += 1;
        seen.push(conditions.notReadyReason());
        if (calls < 6) throw retriable();
        return 'ok';
      },
      { log, conditions, policy: fast },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(6);
    expect(seen[1]).toMatch(/^waiting for Kafka: .*ECONNREFUSED/);
    expect(conditions.notReadyReason()).toBeUndefined();
    const msgs = lines.map((l) => l['msg']);
    expect(msgs.filter((m) => m === 'Kafka: waiting (retrying with backoff)')).toHaveLength(1);
    expect(msgs.filter((m) => m === 'Kafka: recovered')).toHaveLength(1);
  });

  it('rethrows a non-retriable error at once', async () => {
    const { log } = captureLog();
    let calls = 0;
    await expect(
      retryUntilDone(
        'S3',
        async () => {
          calls += 1;
          throw new TypeError('bug');
        },
        { log, policy: fast },
      ),
    ).rejects.toThrow(TypeError);
    expect(calls).toBe(1);
  });

  it('gives up with ShutdownError when the process is stopping', async () => {
    const { log } = captureLog();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 20);
    await expect(
      retryUntilDone(
        'Genesys',
        async () => {
          throw retriable();
        },
        { log, signal: abort.signal, policy: { initialMs: 5, maxMs: 10 } },
      ),
    ).rejects.toBeInstanceOf(ShutdownError);
  });

  it('honours a longer server-given wait (Retry-After)', async () => {
    const { log } = captureLog();
    let calls = 0;
    const started = Date.now();
    await retryUntilDone(
      'Genesys',
      async () => {
        if (++calls === 1) throw Object.assign(retriable(), { retryAfterMs: 120 });
      },
      { log, policy: fast, retryAfterMs: (e) => (e as { retryAfterMs?: number }).retryAfterMs },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });
});
