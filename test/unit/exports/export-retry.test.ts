import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.ts';
import { Conditions } from '../../../src/runtime/conditions.ts';
import { ShutdownError } from '../../../src/runtime/errors.ts';
import { DependencyWaits } from '../../../src/exports/export-retry.ts';

function capture() {
  const lines: Array<{ msg: string }> = [];
  const log = createLogger({
    level: 'info',
    instance: 'test',
    destination: { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) },
  });
  return { log, msgs: () => lines.map((l) => l.msg) };
}

const noSuchBucket = () =>
  Object.assign(new Error('The specified bucket does not exist.'), { name: 'NoSuchBucket' });
const FAST = { initialMs: 1, maxMs: 4 };

describe('DependencyWaits', () => {
  it('one outage is one waiting line and one recovered line, however many calls wait at once', async () => {
    const { log, msgs } = capture();
    const conditions = new Conditions(log);
    const waits = new DependencyWaits({ log, conditions, policy: FAST });
    let down = true;
    const seen: string[] = [];
    const call = () =>
      waits.run('S3 bucket b', async () => {
        if (down) throw noSuchBucket();
        return 'ok';
      });
    const calls = Array.from({ length: 8 }, call);
    await new Promise((r) => setTimeout(r, 30));
    seen.push(conditions.notReadyReason() ?? '');
    expect(waits.waitingFor()).toEqual(['S3 bucket b']);
    down = false;
    expect(await Promise.all(calls)).toEqual(Array(8).fill('ok'));
    expect(seen[0]).toBe('waiting for S3 bucket b: NoSuchBucket: The specified bucket does not exist.');
    expect(msgs().filter((m) => m.startsWith('S3 bucket b:'))).toEqual([
      'S3 bucket b: waiting (retrying with backoff)',
      'S3 bucket b: recovered',
    ]);
    expect(conditions.notReadyReason()).toBeUndefined();
  });

  it('rethrows other errors at once, and ends a wait with ShutdownError when the signal aborts', async () => {
    const { log } = capture();
    const abort = new AbortController();
    const waits = new DependencyWaits({
      log,
      signal: abort.signal,
      policy: { initialMs: 60_000, maxMs: 60_000 },
    });
    let attempts = 0;
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    await expect(
      waits.run('S3 bucket b', async () => {
        attempts++;
        throw denied;
      }),
    ).rejects.toBe(denied);
    expect(attempts).toBe(1);
    const waiting = waits.run('Kafka', async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' });
    });
    setTimeout(() => abort.abort(), 10);
    await expect(waiting).rejects.toBeInstanceOf(ShutdownError);
    // After a stop, calls that succeed still go through (a healthy pass finishes).
    expect(await waits.run('Kafka', async () => 1)).toBe(1);
  });
});
