/**
 * Expected failures in the pure core are values, not throws (style guide §6.5): a function that can fail on bad
 * input returns `Result<T, E>` and the shell decides what to do (dead-letter, retry, crash).
 */

/** A success carrying `value`. */
export type Ok<T> = Readonly<{ ok: true; value: T }>;

/** A failure carrying `error`. */
export type Err<E> = Readonly<{ ok: false; error: E }>;

/** Either a value or an expected failure. */
export type Result<T, E> = Ok<T> | Err<E>;

/** Wraps a success. */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/** Wraps a failure. */
export function err<E>(error: E): Err<E> {
  return { ok: false, error };
}

/** Applies `f` to a success; passes a failure through unchanged. */
export function mapResult<T, U, E>(r: Result<T, E>, f: (value: T) => U): Result<U, E> {
  return r.ok ? ok(f(r.value)) : r;
}

/** Chains a computation that can itself fail; the first failure wins. */
export function andThen<T, U, E>(r: Result<T, E>, f: (value: T) => Result<U, E>): Result<U, E> {
  return r.ok ? f(r.value) : r;
}

/**
 * Collects results: all values in order, or the first failure (by position, so the outcome does not depend on
 * anything but the input order).
 */
export function collectResults<T, E>(results: readonly Result<T, E>[]): Result<T[], E> {
  const values: T[] = [];
  for (const r of results) {
    if (!r.ok) return r;
    values.push(r.value);
  }
  return ok(values);
}
