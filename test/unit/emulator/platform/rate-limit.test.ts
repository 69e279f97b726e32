import { describe, expect, it } from 'vitest';
import { createFaultInjector, createRateLimiter } from '../../../../dev/emulator/platform/rate-limit.ts';

describe('createRateLimiter', () => {
  it('allows perMinute requests per client per real minute, then answers 429 with Retry-After', () => {
    let now = 0;
    const limiter = createRateLimiter(3, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(limiter.take('b')).toBeUndefined();
    now = 15_000;
    const limited = limiter.take('a');
    expect(limited?.status).toBe(429);
    expect(limited?.headers?.['retry-after']).toBe('45');
    expect(limited?.body).toMatchObject({ status: 429, code: 'too.many.requests.retry.after' });
    now = 60_000;
    expect(limiter.take('a')).toBeUndefined();
  });

  it('reset forgets the windows', () => {
    const limiter = createRateLimiter(1, () => 0);
    limiter.take('a');
    expect(limiter.take('a')?.status).toBe(429);
    limiter.reset();
    expect(limiter.take('a')).toBeUndefined();
  });
});

describe('createFaultInjector', () => {
  it('forces a status on matching paths for `count` requests', () => {
    const faults = createFaultInjector(() => 0);
    faults.add({ pathPrefix: '/api/v2/conversations', status: 503, count: 2 });
    expect(faults.match('GET', '/api/v2/users')).toBeUndefined();
    expect(faults.match('GET', '/api/v2/conversations/calls/x')?.status).toBe(503);
    expect(faults.match('GET', '/api/v2/conversations/calls/x')?.status).toBe(503);
    expect(faults.match('GET', '/api/v2/conversations/calls/x')).toBeUndefined();
  });

  it('ends a fault after its simulated duration and gives 429s a Retry-After', () => {
    let sim = 1_000;
    const faults = createFaultInjector(() => sim);
    faults.add({ pathPrefix: '/api', status: 429, durationMs: 5_000, retryAfterSeconds: 7 });
    expect(faults.match('POST', '/api/v2/x')?.headers?.['retry-after']).toBe('7');
    sim = 6_000;
    expect(faults.match('POST', '/api/v2/x')).toBeUndefined();
  });

  it('matches the method when given and rejects non-error statuses', () => {
    const faults = createFaultInjector(() => 0);
    faults.add({ pathPrefix: '/api', status: 500, method: 'post' });
    expect(faults.match('GET', '/api/v2/x')).toBeUndefined();
    expect(faults.match('POST', '/api/v2/x')?.status).toBe(500);
    expect(() => faults.add({ pathPrefix: '/api', status: 200 })).toThrow(RangeError);
  });
});
