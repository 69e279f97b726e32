import { describe, expect, it } from 'vitest';
import { createSimClock } from '../../../../dev/emulator/platform/clock.ts';
import { createTokenStore, parseBasicAuth, parseBearer } from '../../../../dev/emulator/platform/auth.ts';

const clock = () => createSimClock({ startTime: 0, speed: 1, realNow: () => 0 });

describe('token store', () => {
  it('verifies a token until its simulated expiry, then reports it expired', async () => {
    const c = clock();
    const store = createTokenStore(c, 60);
    const invalidated: string[] = [];
    store.onInvalidated((key, reason) => invalidated.push(`${key}:${reason}`));
    const { token, expiresInSeconds } = store.issue('client-a');
    expect(expiresInSeconds).toBe(60);
    expect(store.verify(token)).toEqual({ clientId: 'client-a', expiresAt: 60_000 });
    await c.advance(59_999);
    expect(store.verify(token)?.clientId).toBe('client-a');
    await c.advance(1);
    expect(store.verify(token)).toBeUndefined();
    expect(invalidated).toEqual([`${store.keyOf(token)}:expired`]);
    c.stop();
  });

  it('revokes per client or all, and keys never contain the token', () => {
    const c = clock();
    const store = createTokenStore(c, 60);
    const a = store.issue('a').token;
    const b = store.issue('b').token;
    expect(store.keyOf(a)).not.toContain(a.slice(0, 8));
    expect(store.revoke('a')).toBe(1);
    expect(store.verify(a)).toBeUndefined();
    expect(store.verify(b)).toBeDefined();
    expect(store.revoke()).toBe(1);
    expect(store.verify(b)).toBeUndefined();
    c.stop();
  });
});

describe('header parsing', () => {
  it('parses Basic credentials (secrets may contain colons) and Bearer tokens', () => {
    const basic = `Basic ${Buffer.from('id-1:se:cret').toString('base64')}`;
    expect(parseBasicAuth(basic)).toEqual({ clientId: 'id-1', clientSecret: 'se:cret' });
    expect(parseBasicAuth('Basic !!!')).toBeUndefined();
    expect(parseBasicAuth(undefined)).toBeUndefined();
    expect(parseBasicAuth(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBeUndefined();
    expect(parseBearer('Bearer abc.def')).toBe('abc.def');
    expect(parseBearer('bearer x')).toBe('x');
    expect(parseBearer('Basic x')).toBeUndefined();
  });
});
