/**
 * A small seeded PRNG (mulberry32). The simulation takes every id and every random value from one of
 * these, never from Math.random or crypto, so the same seed always yields the same org and scripts.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, maxInclusive]. */
  int(min: number, maxInclusive: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** An RFC 4122 version-4-shaped UUID (lower-case hex, version nibble 4, variant 10xx). */
  uuid(): string;
  /** True with probability `pTrue`. */
  bool(pTrue: number): boolean;
}

/** Creates a deterministic generator; any finite number is a valid seed (it is folded to 32 bits). */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`createRng: seed must be a finite number, got ${seed}`);
  let state = Math.trunc(seed) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, maxInclusive: number): number => {
    if (!Number.isInteger(min) || !Number.isInteger(maxInclusive) || maxInclusive < min) {
      throw new Error(`Rng.int: need integers min <= max, got ${min}..${maxInclusive}`);
    }
    return min + Math.floor(next() * (maxInclusive - min + 1));
  };
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return {
    next,
    int,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error('Rng.pick: empty array');
      return items[int(0, items.length - 1)] as T;
    },
    uuid(): string {
      const b = Array.from({ length: 16 }, () => int(0, 255));
      b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
      b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
      const h = b.map(hex).join('');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
    bool(pTrue: number): boolean {
      return next() < pTrue;
    },
  };
}
