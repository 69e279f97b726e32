/**
 * Building blocks of the hand-written fast paths in front of zod schemas (manifest-guards.ts, custody.ts,
 * src/sink/sink-record-guards.ts). A guard answers true only when its schema's safeParse would succeed AND return a
 * value deep-equal to the input (nothing stripped, filled in or transformed), so the caller may keep the input
 * itself; on false the caller runs the schema as before, which gives today's errors. A guard may therefore say
 * false where zod would accept (that costs only time), never true where zod would reject or change the value.
 *
 * The domain is data: what JSON.parse, the Avro codecs and custody's own builders produce. Objects
 * must be plain (prototype Object.prototype, as zod's output has), carry no symbol keys and no inherited or
 * non-enumerable fields a schema names; arrays must be plain arrays holding only their items. Anything else answers
 * false, and zod decides.
 */
import { z } from 'zod';

export type Guard = (v: unknown) => boolean;

/** The pattern `z.iso.datetime({ offset: true })` checks (that check is this regex and nothing else). */
export const ISO_DATETIME_WITH_OFFSET: RegExp = z.regexes.datetime({ offset: true });

/** A plain data object, as zod builds its output (`{}`). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' &&
    v !== null &&
    Object.getPrototypeOf(v) === Object.prototype &&
    Object.getOwnPropertySymbols(v).length === 0
  );
}

/** A plain array with no holes and nothing but its items (zod's output array has only the items). */
function isPlainArray(v: unknown): v is unknown[] {
  return (
    Array.isArray(v) &&
    Object.getPrototypeOf(v) === Array.prototype &&
    Object.keys(v).length === v.length &&
    Object.getOwnPropertySymbols(v).length === 0
  );
}

/** `z.string()` with `.min`, `.max` (UTF-16 code units, as zod counts) and `.regex`. */
export function string(min = 0, max = Infinity, pattern?: RegExp): Guard {
  return (v) =>
    typeof v === 'string' && v.length >= min && v.length <= max && (pattern === undefined || pattern.test(v));
}

/** `z.number().int()` (a safe integer) within [min, max]. */
export function integer(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Guard {
  return (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

/** `z.number()`: finite (zod 4 rejects NaN and ±Infinity). */
export const finiteNumber: Guard = (v) => typeof v === 'number' && Number.isFinite(v);

export const boolean: Guard = (v) => typeof v === 'boolean';

/** `z.enum([...])` of strings, or `z.literal(x)` with one value. */
export function oneOf(values: readonly (string | number)[]): Guard {
  const set = new Set<unknown>(values);
  return (v) => (typeof v === 'string' || typeof v === 'number') && set.has(v);
}

export function nullable(guard: Guard): Guard {
  return (v) => v === null || guard(v);
}

/** `z.array(item)` with `.max(max)`; a hole reads as undefined, which no item guard here accepts. */
export function array(item: Guard, max = Infinity): Guard {
  return (v) => {
    if (!isPlainArray(v) || v.length > max) return false;
    for (let i = 0; i < v.length; i++) if (!item(v[i])) return false;
    return true;
  };
}

/**
 * `z.strictObject({...required, ...optional})`, optional fields being `.optional()`. zod reads every field the shape
 * names (`key in input`) and copies it into its output as an own key; it rejects any other key `for...in` yields.
 * So the own enumerable keys must all be named by the shape and be exactly the fields present. (Inherited
 * enumerable keys are ruled out once per call by {@link prototypesAreClean}.) The last accepted key list is kept,
 * so objects built alike are checked by comparing their key lists.
 */
export function strictObject(
  required: Readonly<Record<string, Guard>>,
  optional: Readonly<Record<string, Guard>> = {},
): (v: unknown) => v is Record<string, unknown> {
  const reqKeys = Object.keys(required);
  const reqChecks = Object.values(required);
  const optKeys = Object.keys(optional);
  const optChecks = Object.values(optional);
  const known = new Set([...reqKeys, ...optKeys]);
  let lastKeys: string[] = [];
  return (v): v is Record<string, unknown> => {
    if (!isPlainObject(v)) return false;
    for (let i = 0; i < reqKeys.length; i++) {
      if (!(reqChecks[i] as Guard)(v[reqKeys[i] as string])) return false;
    }
    let present = reqKeys.length;
    for (let i = 0; i < optKeys.length; i++) {
      const key = optKeys[i] as string;
      const x = v[key];
      if (x === undefined) {
        // `{ k: undefined }` is valid for an optional field and zod keeps the key, as the input has it.
        if (key in v) present++;
      } else if ((optChecks[i] as Guard)(x)) present++;
      else return false;
    }
    // Every own enumerable key is a present field (named by the shape, so `in` found it), and there are as many
    // as fields present: the two sets are equal, so no field is present only as inherited or non-enumerable.
    const keys = Object.keys(v);
    if (keys.length !== present) return false;
    if (!sameKeys(keys, lastKeys)) {
      for (let i = 0; i < keys.length; i++) if (!known.has(keys[i] as string)) return false;
      lastKeys = keys;
    }
    return true;
  };
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * No enumerable property on Object.prototype or Array.prototype, which `for...in` and a read of an array hole
 * would see: the guards assume it, and each exported guard checks it once per call.
 */
export function prototypesAreClean(): boolean {
  for (const _ in Object.prototype) return false;
  for (const _ in Array.prototype) return false;
  return true;
}

/**
 * `z.json()` (string, finite number, boolean, null, array, string-keyed record of JSON). zod's record drops a
 * `__proto__` key from its output, so such an object answers false. Deeper than `maxDepth` answers false too.
 */
export function isJsonValue(v: unknown, maxDepth = 64): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (maxDepth <= 0) return false;
  if (isPlainArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isJsonValue(v[i], maxDepth - 1)) return false;
    return true;
  }
  return isJsonRecord(v, maxDepth);
}

/** `z.record(z.string(), z.json())`. */
export function isJsonRecord(v: unknown, maxDepth = 64): boolean {
  if (!isPlainObject(v) || maxDepth <= 0) return false;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === '__proto__' || !isJsonValue(v[key], maxDepth - 1)) return false;
  }
  return true;
}
