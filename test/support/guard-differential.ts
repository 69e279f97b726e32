/**
 * Differential checks of a hand-written guard against its zod schema (src/enrich/data-guards.ts): a guard may
 * answer true only when the schema accepts the value and gives it back deep-equal. `mutationsOf` damages a valid
 * value at every node (deleted, replaced by hostile values of every JSON type, boundary strings and numbers, extra
 * keys, objects that are not plain data), so each check the guard mirrors is exercised on both of its sides.
 */
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import type { z } from 'zod';

export type Path = readonly (string | number)[];
const DELETE: unique symbol = Symbol('delete');
type Replacement = unknown;

/** `root` with the node at `path` replaced (or deleted): copies only the containers along the path. */
export function withAt(root: unknown, path: Path, value: Replacement | typeof DELETE): unknown {
  if (path.length === 0) return value === DELETE ? undefined : value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(root)) {
    const copy = root.slice();
    if (value === DELETE && rest.length === 0) copy.splice(head as number, 1);
    else copy[head as number] = withAt(root[head as number], rest, value);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(root as Record<string, unknown>) };
  if (value === DELETE && rest.length === 0) delete copy[head];
  else copy[head] = withAt((root as Record<string, unknown>)[head], rest, value);
  return copy;
}

/** Every node of a data value with its path (depth-first, containers before their members). */
export function nodesOf(value: unknown, path: Path = []): [Path, unknown][] {
  const out: [Path, unknown][] = [[path, value]];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...nodesOf(v, [...path, i])));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push(...nodesOf(v, [...path, k]));
  }
  return out;
}

const GENERIC: unknown[] = [
  null,
  undefined,
  '',
  'x',
  0,
  -1,
  1.5,
  -0,
  Number.NaN,
  Infinity,
  true,
  false,
  [],
  {},
];

function stringVariants(s: string): unknown[] {
  return [
    `${s} `,
    `${s}\n`,
    `\n${s}`,
    s.toUpperCase(),
    s.slice(0, -1),
    s.slice(1),
    `${s}${s.slice(-1)}`,
    `${s}\ud800`,
    s.replace(/[0-9]/, 'g'),
    s.replace(/Z$/, '+01:00'),
    s.replace(/\.\d{3}Z$/, 'Z'),
    'x'.repeat(1024),
    'x'.repeat(1025),
    'x'.repeat(4096),
    'x'.repeat(4097),
  ];
}

function numberVariants(n: number): unknown[] {
  return [
    n + 1,
    n - 1,
    n + 0.5,
    -n,
    -1,
    2 ** 53,
    2 ** 53 - 1,
    8_640_000_000_000_000,
    8_640_000_000_000_001,
    String(n),
  ];
}

function objectVariants(o: Record<string, unknown>): unknown[] {
  const keys = Object.keys(o);
  const nullProto = Object.assign(Object.create(null) as object, o);
  const withSymbol = { ...o, [Symbol('s')]: 1 };
  const inherited = Object.create(o) as object;
  const withProtoKey = Object.assign(JSON.parse('{"__proto__": 1}') as object, o);
  const variants: unknown[] = [
    { ...o, extra: 1 },
    { ...o, extra: undefined },
    nullProto,
    withSymbol,
    inherited,
    withProtoKey,
    new Date(0),
    [o],
  ];
  // A key renamed (the first and the last): same number of keys, one of them unknown.
  for (const k of new Set([keys[0], keys.at(-1)])) {
    if (k === undefined) continue;
    const renamed: Record<string, unknown> = { ...o, [`${k}_`]: o[k] };
    delete renamed[k];
    variants.push(renamed);
  }
  const first = keys[0];
  if (first !== undefined) {
    // A named field present but not enumerable (zod reads it; a deep-equal check does not).
    const hidden = { ...o };
    delete hidden[first];
    Object.defineProperty(hidden, first, { value: o[first], enumerable: false });
    variants.push(hidden);
    // ... and an unknown key in its place, so the key count still matches.
    const hiddenPlusExtra: Record<string, unknown> = { ...o, extra: 1 };
    delete hiddenPlusExtra[first];
    Object.defineProperty(hiddenPlusExtra, first, { value: o[first], enumerable: false });
    variants.push(hiddenPlusExtra);
    // The same field inherited instead of own.
    const rest = { ...o };
    delete rest[first];
    variants.push(Object.assign(Object.create({ [first]: o[first] }) as object, rest));
  }
  return variants;
}

function arrayVariants(a: unknown[]): unknown[] {
  const sparse: unknown[] = new Array<unknown>(a.length + 1);
  a.forEach((v, i) => (sparse[i] = v));
  const withProp = Object.assign(a.slice(), { extra: 1 });
  return [
    [],
    [...a, a[0]],
    [...a, null],
    a.slice(1),
    sparse,
    withProp,
    { ...a },
    Array.from({ length: 1001 }, () => a[0]),
  ];
}

/**
 * Damaged copies of `valid`: every node (or every node `only` picks) deleted and replaced by generic and
 * type-specific hostile values.
 */
export function mutationsOf(valid: unknown, only: (path: Path) => boolean = () => true): unknown[] {
  const out: unknown[] = [];
  for (const [path, node] of nodesOf(valid)) {
    if (!only(path)) continue;
    if (path.length > 0) out.push(withAt(valid, path, DELETE));
    const specific =
      typeof node === 'string'
        ? stringVariants(node)
        : typeof node === 'number'
          ? numberVariants(node)
          : typeof node === 'boolean'
            ? [!node, String(node), Number(node)]
            : Array.isArray(node)
              ? arrayVariants(node)
              : typeof node === 'object' && node !== null
                ? objectVariants(node as Record<string, unknown>)
                : [];
    for (const v of [...GENERIC, ...specific]) out.push(withAt(valid, path, v));
  }
  return out;
}

/**
 * The soundness rule: guard(x) ⇒ the schema accepts x and gives it back deep-equal. Returns how many inputs the
 * guard and the schema accepted, so a test can also check the guard is not vacuous.
 */
export function expectSound(
  guard: (v: unknown) => boolean,
  schema: z.ZodType,
  inputs: readonly unknown[],
): { guardTrue: number; zodTrue: number } {
  let guardTrue = 0;
  let zodTrue = 0;
  for (const x of inputs) {
    const parsed = schema.safeParse(x);
    if (parsed.success) zodTrue++;
    if (!guard(x)) continue;
    guardTrue++;
    if (!parsed.success || !isDeepStrictEqual(parsed.data, x)) {
      expect.fail(
        `guard said true but zod ${parsed.success ? 'changed the value' : `rejected it: ${parsed.error.message.slice(0, 500)}`}\n${JSON.stringify(x).slice(0, 2000)}`,
      );
    }
  }
  return { guardTrue, zodTrue };
}
