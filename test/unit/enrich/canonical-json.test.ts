import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CanonicalJsonError,
  canonicalBytes,
  canonicalize,
  canonicalizeWith,
  isCanonicalizable,
} from '../../../src/enrich/canonical-json.ts';
import type { CanonicalMemo } from '../../../src/enrich/canonical-json.ts';

function fromHex(bits: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${bits}`));
  return view.getFloat64(0);
}

describe('canonicalize (RFC 8785)', () => {
  it('reproduces the §3.2.2 sample', () => {
    // The input as JSON text, so the parser (not this test) turns 333333333.33333329 etc. into numbers.
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        ' "literals": [null, true, false]}',
    );
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts member names by UTF-16 code units (§3.2.3)', () => {
    const input = JSON.parse(
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",' +
        '"\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
    );
    const out = canonicalize(input);
    expect(out).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  // RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
  const vectors: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  it.each(vectors)('serialises the number with bits %s as %s', (bits, text) => {
    expect(canonicalize(fromHex(bits))).toBe(text);
  });

  it.each([
    ['1e21', '1e+21'],
    ['1e-7', '1e-7'],
    ['-0', '0'],
    ['333333333.33333329', '333333333.3333333'],
    ['4.50', '4.5'],
    ['2e-3', '0.002'],
    ['0.000001', '0.000001'],
  ])('serialises the parsed number %s as %s', (source, text) => {
    expect(canonicalize(JSON.parse(source))).toBe(text);
  });

  it('writes nested structures without whitespace and ignores insertion order', () => {
    const a = { b: [1, { y: 2, x: 'é' }], a: null, c: { e: false, d: true } };
    const b = { c: { d: true, e: false }, a: null, b: [1, { x: 'é', y: 2 }] };
    expect(canonicalize(a)).toBe('{"a":null,"b":[1,{"x":"é","y":2}],"c":{"d":true,"e":false}}');
    expect(canonicalize(b)).toBe(canonicalize(a));
    expect(canonicalBytes(a).toString('utf8')).toBe(canonicalize(a));
    expect(canonicalBytes({ x: '€' })).toEqual(
      Buffer.from([0x7b, 0x22, 0x78, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0xac, 0x22, 0x7d]),
    );
  });

  it.each([
    ['NaN', { a: Number.NaN }, '/a'],
    ['Infinity', [1, Number.POSITIVE_INFINITY], '/1'],
    ['undefined member', { a: { b: undefined } }, '/a/b'],
    ['undefined root', undefined, ''],
    ['function', { f: () => 1 }, '/f'],
    ['bigint', { 'n/m': 1n }, '/n~1m'],
    ['symbol', [Symbol('s')], '/0'],
    ['Date', { d: new Date(0) }, '/d'],
    ['Map', { m: new Map() }, '/m'],
    ['lone high surrogate', { s: 'a\uD800b' }, '/s'],
    ['lone low surrogate key', { '\uDC00': 1 }, '/\uDC00'],
    // eslint-disable-next-line no-sparse-arrays
    ['sparse array', [1, , 3], '/1'],
  ])('rejects %s with its JSON Pointer', (_name, value, path) => {
    let caught: unknown;
    try {
      canonicalize(value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CanonicalJsonError);
    expect((caught as CanonicalJsonError).path).toBe(path);
    expect(isCanonicalizable(value)).toBe(false);
  });

  it('rejects cycles but accepts shared (acyclic) references', () => {
    const shared = { v: 1 };
    expect(canonicalize({ a: shared, b: shared })).toBe('{"a":{"v":1},"b":{"v":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => canonicalize(cyclic)).toThrow(CanonicalJsonError);
  });

  it('accepts surrogate pairs and null-prototype objects', () => {
    const o = Object.assign(Object.create(null) as object, { z: '😀', a: 1 });
    expect(canonicalize(o)).toBe('{"a":1,"z":"😀"}');
    expect(isCanonicalizable(o)).toBe(true);
  });
});

/** RFC 8785 written out plainly, as a reference for the fast path: sorted names, JSON.stringify for the rest. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const names = Object.keys(value).sort();
    const members = names.map(
      (k) => `${JSON.stringify(k)}:${reference((value as Record<string, unknown>)[k])}`,
    );
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The same members, inserted in another order (so another shape of the same names). */
function reordered(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => reordered(v, seed + i));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const rotated = entries.map((_, i) => entries[(i + seed) % entries.length] as [string, unknown]);
  return Object.fromEntries(rotated.reverse().map(([k, v]) => [k, reordered(v, seed + 1)]));
}

describe('canonicalize: member order of shapes seen before', () => {
  it('writes what the plain reference writes, for objects of the same names inserted in any order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(7), (value, seed) => {
        const text = reference(value);
        expect(canonicalize(value)).toBe(text);
        expect(canonicalize(reordered(value, seed))).toBe(text);
        expect(canonicalize(value)).toBe(text); // its shapes now known
      }),
      { numRuns: 400 },
    );
  });

  it('tells apart shapes that share a first name or are prefixes of each other', () => {
    const objects = [{ a: 1, b: 2 }, { a: 1, b: 2, c: 3 }, { a: 1, c: 3, b: 2 }, { a: 1 }, { a: 1, '': 0 }];
    for (let round = 0; round < 2; round++)
      for (const o of objects) expect(canonicalize(o)).toBe(reference(o));
  });

  it('stays right past the bound on shapes kept (names from outside may be anything)', () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({ [`k${i}`]: i, a: [i], [`\u00e9${i % 7}`]: null }));
    for (let round = 0; round < 2; round++) for (const o of many) expect(canonicalize(o)).toBe(reference(o));
    const sameFirst = Array.from({ length: 100 }, (_, i) => ({ a: i, [`z${i}`]: i, [`b${i % 3}`]: [] }));
    for (let round = 0; round < 2; round++)
      for (const o of sameFirst) expect(canonicalize(o)).toBe(reference(o));
  });

  it('keeps no shape of a name that is not I-JSON', () => {
    for (let round = 0; round < 2; round++) {
      expect(() => canonicalize({ b: 1, '\uDC00': 1 })).toThrow(/at '\/\uDC00': .*lone surrogate/);
    }
  });
});

describe('canonicalizeWith (memo of inner objects)', () => {
  it('writes the same text as canonicalize, with or without the memo filled, on generated JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const memo: CanonicalMemo = new WeakMap();
        const plain = canonicalize(value);
        expect(canonicalizeWith(value, memo)).toBe(plain);
        expect(canonicalizeWith(value, memo)).toBe(plain); // second time from the memo
        // Byte-for-byte what a reader re-derives from the text.
        expect(canonicalize(JSON.parse(plain))).toBe(plain);
      }),
      { numRuns: 300 },
    );
  });

  it('reuses the text of an inner object kept by identity, and names problems with their path', () => {
    const memo: CanonicalMemo = new WeakMap();
    const tags = { b: 1, a: [1, 2] };
    expect(canonicalizeWith({ tags, n: 1 }, memo)).toBe('{"n":1,"tags":{"a":[1,2],"b":1}}');
    expect(memo.get(tags)).toBe('{"a":[1,2],"b":1}');
    expect(canonicalizeWith({ tags, n: 2 }, memo)).toBe('{"n":2,"tags":{"a":[1,2],"b":1}}');
    expect(() => canonicalizeWith({ tags, bad: [Number.NaN] }, memo)).toThrow(
      /not canonicalisable JSON at '\/bad\/0': non-finite number NaN/,
    );
  });
});
