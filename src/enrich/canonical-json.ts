/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * The manifest's hash and signature are computed over these bytes, so any reader in any language that implements
 * RFC 8785 re-derives the same bytes from the same JSON data. The rules (RFC 8785 §3.2):
 * - no whitespace between tokens;
 * - object members sorted by their names compared as arrays of UTF-16 code units (JavaScript's default string
 *   order, which is what §3.2.3 prescribes);
 * - numbers serialised as ECMAScript `Number.prototype.toString` does (§3.2.2.3), `-0` as `0`;
 * - strings escaped as ECMAScript `JSON.stringify` does (§3.2.2.2).
 *
 * Input must be I-JSON (RFC 7493): finite numbers, no lone surrogates. Values that are not JSON data (`undefined`,
 * functions, symbols, bigint, class instances such as `Date` or `Map`, cycles) are programming errors here, so they
 * throw {@link CanonicalJsonError} naming the offending path rather than being silently dropped the way
 * `JSON.stringify` drops them — a silently dropped field would still verify, which is the wrong failure for evidence.
 */

/** A JSON value as the manifest code builds it. */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { readonly [k: string]: JsonValue };

/** Thrown when a value is not canonicalisable JSON data; `path` is a JSON Pointer (RFC 6901) to the culprit. */
export class CanonicalJsonError extends TypeError {
  readonly path: string;
  constructor(path: string, reason: string) {
    super(`not canonicalisable JSON at '${path}': ${reason}`);
    this.name = 'CanonicalJsonError';
    this.path = path;
  }
}

// A lone surrogate is a high surrogate not followed by a low one, or a low one not preceded by a high one. No `u`
// flag: the regex must see UTF-16 code units, not code points.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function pointer(path: string, token: string | number): string {
  return `${path}/${String(token).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function serializeString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s))
    throw new CanonicalJsonError(path, 'string contains a lone surrogate (not I-JSON)');
  return JSON.stringify(s);
}

function serializeNumber(n: number, path: string): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(path, `non-finite number ${String(n)}`);
  // JSON.stringify applies Number::toString for finite numbers and writes -0 as 0, exactly RFC 8785 §3.2.2.3.
  return JSON.stringify(n);
}

function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Deepest nesting accepted. Far beyond any real manifest or Genesys metadata (a handful of levels), and far below
 * what exhausts the call stack: a hostile 40 KB file nested 20,000 levels deep must be a clear rejection, not a
 * RangeError that stops a consumer.
 */
export const MAX_JSON_DEPTH = 256;

function serialize(value: unknown, path: string, stack: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value, path);
    case 'number':
      return serializeNumber(value, path);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      throw new CanonicalJsonError(path, 'undefined is not JSON');
    case 'bigint':
      throw new CanonicalJsonError(path, 'bigint is not JSON (encode it as a string)');
    case 'function':
      throw new CanonicalJsonError(path, 'a function is not JSON');
    case 'symbol':
      throw new CanonicalJsonError(path, 'a symbol is not JSON');
    case 'object':
      break;
  }
  if (value === null) return 'null';
  const obj: object = value as object;
  if (stack.has(obj)) throw new CanonicalJsonError(path, 'cycle');
  if (stack.size >= MAX_JSON_DEPTH)
    throw new CanonicalJsonError(path.slice(0, 200), `nested deeper than ${MAX_JSON_DEPTH} levels`);
  stack.add(obj);
  try {
    if (Array.isArray(obj)) {
      const parts: string[] = [];
      for (let i = 0; i < obj.length; i++) {
        // Sparse arrays have holes that JSON.stringify would write as null; treat them as the bug they are.
        if (!(i in obj)) throw new CanonicalJsonError(pointer(path, i), 'hole in a sparse array');
        parts.push(serialize((obj as unknown[])[i], pointer(path, i), stack));
      }
      return `[${parts.join(',')}]`;
    }
    if (!isPlainObject(obj)) {
      const name = (obj as { constructor?: { name?: unknown } }).constructor?.name;
      throw new CanonicalJsonError(
        path,
        `${typeof name === 'string' ? name : 'exotic'} object is not JSON data`,
      );
    }
    if (Object.getOwnPropertySymbols(obj).length > 0)
      throw new CanonicalJsonError(path, 'symbol-keyed property');
    const record = obj as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is RFC 8785 §3.2.3's order.
    const keys = Object.keys(record).sort();
    const parts: string[] = [];
    for (const key of keys) {
      const childPath = pointer(path, key);
      parts.push(`${serializeString(key, childPath)}:${serialize(record[key], childPath, stack)}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    stack.delete(obj);
  }
}

/**
 * Serialises `value` as RFC 8785 canonical JSON.
 *
 * Pure and deterministic: equal JSON data gives equal strings whatever the insertion order of object members.
 * @throws {CanonicalJsonError} when `value` is not I-JSON data (see the module comment).
 */
export function canonicalize(value: unknown): string {
  return canonicalizeWith(value);
}

/**
 * Canonical text of the objects at depth 1 of a value (a join state's tags, exports and holds), kept by identity.
 * Only for values that are never changed once built (the sink's join states, merged into new objects): a merge
 * that keeps a conversation's tags as they were then canonicalises only what changed. One depth only, and each
 * text flattened: texts kept for depths 1–3 as built (ropes of every member's piece) took ~6× the state's JSON
 * size, and made the sink's decoded states ~400 KB each.
 */
export type CanonicalMemo = WeakMap<object, string>;
const MEMO_DEPTHS = 1;

/**
 * The same text as one flat string: a text built by `+=` is a rope holding every piece it was built from, many
 * times the size of its characters. Converting a string to a number flattens it in V8 (as flatstr does).
 */
function flattened(text: string): string {
  Number(text);
  return text;
}

/** {@link canonicalize}, reusing (and filling) `memo` for the value's inner objects. */
export function canonicalizeWith(value: unknown, memo?: CanonicalMemo): string {
  try {
    return fast(value, 0, memo);
  } catch (e) {
    if (e !== NOT_PLAIN) throw e;
    return serialize(value, '', new Set());
  }
}

/** Thrown by {@link fast} at anything it does not expect; the path-tracking {@link serialize} then names it. */
const NOT_PLAIN = Symbol('not plain JSON data');

/**
 * The same bytes as {@link serialize} for I-JSON data, without building a JSON Pointer per member or a cycle set:
 * manifests and the sink's join state are canonicalised several times per record, and those were most of the cost.
 * Anything unusual (a lone surrogate, a non-finite number, a class instance, depth past the limit, which is also
 * where a cycle ends up) bails out to the slow path, so the errors are the slow path's own.
 */
function fast(value: unknown, depth: number, memo?: CanonicalMemo): string {
  switch (typeof value) {
    case 'string':
      return fastString(value);
    case 'number':
      if (!Number.isFinite(value)) throw NOT_PLAIN;
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw NOT_PLAIN;
  }
  if (value === null) return 'null';
  if (depth >= MAX_JSON_DEPTH) throw NOT_PLAIN;
  if (memo === undefined || depth === 0 || depth > MEMO_DEPTHS) return fastContainer(value, depth, memo);
  let text = memo.get(value);
  if (text === undefined) {
    text = flattened(fastContainer(value, depth, memo));
    memo.set(value, text);
  }
  return text;
}

/** Characters JSON.stringify escapes, and surrogates (which may be lone): most strings have none. */
// eslint-disable-next-line no-control-regex -- the control characters are exactly what JSON escapes
const SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/;

function fastString(s: string): string {
  if (!SPECIAL.test(s)) return `"${s}"`;
  if (LONE_SURROGATE.test(s)) throw NOT_PLAIN;
  return JSON.stringify(s);
}

function fastContainer(value: object, depth: number, memo: CanonicalMemo | undefined): string {
  if (Array.isArray(value)) {
    const items = value as unknown[];
    let out = '[';
    for (let i = 0; i < items.length; i++) {
      if (!(i in items)) throw NOT_PLAIN;
      out += (i === 0 ? '' : ',') + fast(items[i], depth + 1, memo);
    }
    return `${out}]`;
  }
  if (!isPlainObject(value) || Object.getOwnPropertySymbols(value).length > 0) throw NOT_PLAIN;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 0) return '{}';
  const shape = shapeOf(keys);
  let out = '{';
  for (let i = 0; i < shape.sorted.length; i++) {
    out += (shape.heads[i] as string) + fast(record[shape.sorted[i] as string], depth + 1, memo);
  }
  return `${out}}`;
}

/**
 * An object's member names in the order `Object.keys` gave them, the same names in canonical order, and each one's
 * text as written (`"name":`, after a comma but the first).
 */
type Shape = {
  readonly keys: readonly string[];
  readonly sorted: readonly string[];
  readonly heads: readonly string[];
};

/**
 * Shapes seen, by first member name. The sink canonicalises the same few shapes (a tag, a leg, a pointer) tens of
 * thousands of times, almost none with sorted members (they are built, and decoded from Avro, in schema order), and
 * sorting each object's names and escaping them again was most of the cost. Bounded, since member names can come
 * from outside (export metadata): when full it starts over, and a first name shared by many shapes keeps only the
 * first few (a lookup scans them); either costs speed, never correctness.
 */
const SHAPES = new Map<string, Shape[]>();
const MAX_SHAPES = 2048;
const MAX_SHAPES_PER_NAME = 16;
let shapesHeld = 0;

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function shapeOf(keys: readonly string[]): Shape {
  const first = keys[0] as string;
  const known = SHAPES.get(first);
  if (known !== undefined) for (const shape of known) if (sameNames(shape.keys, keys)) return shape;
  // Default sort compares UTF-16 code units, which is RFC 8785 §3.2.3's order.
  const sorted = [...keys].sort();
  // fastString throws (to the slow path) on a name that is not I-JSON before anything is kept.
  const shape: Shape = {
    keys,
    sorted,
    heads: sorted.map((k, i) => `${i === 0 ? '' : ','}${fastString(k)}:`),
  };
  if (shapesHeld >= MAX_SHAPES) {
    SHAPES.clear();
    shapesHeld = 0;
  }
  const bucket = SHAPES.get(first);
  if (bucket === undefined) SHAPES.set(first, [shape]);
  else if (bucket.length < MAX_SHAPES_PER_NAME) bucket.push(shape);
  else return shape;
  shapesHeld++;
  return shape;
}

/** Canonical texts of documents never changed once built, by identity (see {@link canonicalizeFrozen}). */
const FROZEN_TEXTS = new WeakMap<object, string>();

/**
 * {@link canonicalize} for a document that is never changed once built (a manifest: checked as I-JSON when built,
 * then hashed and signed): computed once, then kept by identity.
 */
export function canonicalizeFrozen(value: object): string {
  let text = FROZEN_TEXTS.get(value);
  if (text === undefined) {
    text = canonicalize(value);
    FROZEN_TEXTS.set(value, text);
  }
  return text;
}

/** {@link canonicalize}, encoded as UTF-8 bytes: the exact bytes that are hashed and signed. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}

/** Whether `value` can be canonicalised (is I-JSON data); never throws. */
export function isCanonicalizable(value: unknown): boolean {
  return canonicalProblem(value) === undefined;
}

/** Why `value` cannot be canonicalised, or undefined when it can; never throws for JSON data. */
export function canonicalProblem(value: unknown): string | undefined {
  try {
    canonicalize(value);
    return undefined;
  } catch (err) {
    if (err instanceof CanonicalJsonError) return err.message;
    throw err;
  }
}
