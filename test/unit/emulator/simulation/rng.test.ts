import { describe, expect, it } from 'vitest';
import { createRng } from '../../../../dev/emulator/simulation/index.ts';

describe('createRng', () => {
  it('repeats the same sequence for the same seed and differs for another seed', () => {
    const a = createRng(123);
    const b = createRng(123);
    const c = createRng(124);
    const seqA = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c.next())).not.toEqual(seqA);
    for (const x of seqA) expect(x >= 0 && x < 1).toBe(true);
  });

  it('makes RFC 4122 v4-shaped uuids', () => {
    const rng = createRng(9);
    const ids = Array.from({ length: 200 }, () => rng.uuid());
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps int() within bounds and reaches both ends', () => {
    const rng = createRng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const n = rng.int(3, 7);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(7);
      seen.add(n);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
    expect(() => rng.int(5, 4)).toThrow(/min <= max/);
    expect(() => rng.pick([])).toThrow(/empty/);
  });

  it('bool() follows its probability roughly', () => {
    const rng = createRng(77);
    let trues = 0;
    for (let i = 0; i < 10_000; i++) if (rng.bool(0.25)) trues++;
    expect(trues).toBeGreaterThan(2300);
    expect(trues).toBeLessThan(2700);
  });
});
