import { describe, expect, it } from 'vitest';
import { newClusterId } from '../../../infra/local.ts';

describe('newClusterId', () => {
  it('never hands StorageTool an id that starts with "-" (it would be read as a flag)', () => {
    // 0xF8 encodes to "-" as the first base64url character: the 1-in-64 case that broke `infra:up`.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x11)];
    const id = newClusterId(() => draws.shift() as Buffer);
    expect(Buffer.alloc(16, 0xf8).toString('base64url').startsWith('-')).toBe(true);
    expect(id).toBe(Buffer.alloc(16, 0x11).toString('base64url'));
    expect(draws).toHaveLength(0);
  });

  it('is 22 base64url characters', () => {
    for (let i = 0; i < 200; i++) expect(newClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});
