/**
 * The life of a long-running role (`custody ingest`, `exports watch`, `sink`): one policy for signals, uncaught
 * errors, background failures and exit codes, installed before the role touches any dependency.
 *
 * - SIGTERM/SIGINT at any moment (during start-up too) abort the role's signal; the role cleans up and the process
 *   exits 0. Cleanup has a deadline; a second signal or the deadline ends the process at once (exit 1).
 * - A background loop that stops for a reason retries cannot fix calls `fail(e)`: the role is stopped and the
 *   process exits non-zero, so a supervisor (docker `restart: unless-stopped`, systemd `Restart=on-failure`)
 *   starts it afresh. Nothing lingers healthy and idle.
 * - Uncaught exceptions and unhandled rejections are one structured log line and exit 70.
 * - A FatalError (credentials, permission, a port in use) is one line naming the setting, exit 78.
 * - Node.js process warnings (a deprecation, say) are one log line each at `warn`, instead
 *   of Node's plain-text lines on stderr that log pipelines reading JSON would not parse.
 * No path prints a stack trace: errors are described in one line (describeError).
 */
import type { Logger } from '../observability/logger.ts';
import { Conditions } from './conditions.ts';
import { describeError, FatalError, isFatal, ShutdownError } from './errors.ts';

/** Exit codes (sysexits.h): 0 stopped by a signal; 70 internal error; 78 configuration/permission to fix. */
export const EXIT = { ok: 0, software: 70, config: 78, shutdownTimeout: 1 } as const;

export type RoleContext = Readonly<{
  log: Logger;
  /** Aborted on SIGTERM/SIGINT or after `fail`: every wait and retry loop of the role honours it. */
  signal: AbortSignal;
  /** Not-ready reasons behind /readyz. */
  conditions: Conditions;
  /** A background part of the role died for good: stop the role and exit non-zero. */
  fail(error: unknown): void;
  /** Resolves on SIGTERM/SIGINT; rejects with the error given to `fail`. */
  untilStopped: Promise<void>;
  /**
   * Start-up is over: clears the `start-up` condition and logs `message` — unless a stop or a failure came first
   * (a background part may fail while start-up still runs), so a failed role never says it runs, nor is ready.
   */
  started(fields: Record<string, unknown>, message: string): void;
}>;

export type RoleOptions = Readonly<{
  name: string;
  log: Logger;
  /** Longest time cleanup may take after a stop was asked for. */
  shutdownDeadlineMs?: number;
  /** For tests: the process object whose signals and errors are handled. */
  proc?: NodeJS.Process;
}>;

/** Runs `body` as a role and resolves with the process exit code (the caller sets process.exitCode). */
export async function runRole(opts: RoleOptions, body: (ctx: RoleContext) => Promise<void>): Promise<number> {
  const proc = opts.proc ?? process;
  const log = opts.log;
  const abort = new AbortController();
  const conditions = new Conditions(log);
  let failure: unknown;
  let stopRequested: (() => void) | undefined;
  let failed: ((e: unknown) => void) | undefined;
  const untilStopped = new Promise<void>((resolve, reject) => {
    stopRequested = resolve;
    failed = reject;
  });
  // Nobody may be awaiting it yet (a failure during start-up): keep that from counting as unhandled.
  untilStopped.catch(() => undefined);

  const deadlineMs = opts.shutdownDeadlineMs ?? 30_000;
  let deadline: NodeJS.Timeout | undefined;
  const armDeadline = () => {
    deadline ??= setTimeout(() => {
      log.fatal(
        { role: opts.name, deadlineMs },
        `${opts.name} did not stop within ${deadlineMs} ms; exiting`,
      );
      proc.exit(EXIT.shutdownTimeout);
    }, deadlineMs);
    deadline.unref();
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      log.warn({ signal }, 'second signal: exiting now');
      proc.exit(EXIT.shutdownTimeout);
      return;
    }
    log.info({ signal }, `shutting down ${opts.name}`);
    abort.abort();
    armDeadline();
    stopRequested?.();
  };
  const fail = (e: unknown) => {
    if (failure !== undefined || abort.signal.aborted) return;
    failure = e;
    abort.abort();
    armDeadline();
    failed?.(e);
  };
  const onUncaught = (e: unknown) => {
    log.fatal({ role: opts.name, reason: describeError(e) }, 'uncaught error; exiting');
    proc.exit(EXIT.software);
  };
  proc.on('SIGTERM', onSignal);
  proc.on('SIGINT', onSignal);
  proc.on('uncaughtException', onUncaught);
  proc.on('unhandledRejection', onUncaught);
  // Node prints warnings through a listener of its own; it gives way to the log.
  proc.removeAllListeners('warning');
  proc.on('warning', (w: Error & { code?: string }) => {
    const fields = { role: opts.name, warning: w.name, code: w.code, reason: w.message };
    if (isKnownHarmless(w)) log.debug(fields, `Node.js warning: ${w.name} (known, harmless)`);
    else log.warn(fields, `Node.js warning: ${w.name}`);
  });

  try {
    const started = (fields: Record<string, unknown>, message: string) => {
      if (abort.signal.aborted) return;
      conditions.clear('start-up');
      log.info(fields, message);
    };
    await body({ log, signal: abort.signal, conditions, fail, untilStopped, started });
  } catch (e) {
    if (failure === undefined && !(e instanceof ShutdownError && abort.signal.aborted)) failure = e;
  } finally {
    if (deadline) clearTimeout(deadline);
    proc.off('SIGTERM', onSignal);
    proc.off('SIGINT', onSignal);
    // The uncaught handlers stay: a late rejection from a closing client is still one line, not a stack trace.
  }
  if (failure === undefined) {
    log.info(`${opts.name} stopped`);
    return EXIT.ok;
  }
  return exitFor(opts.name, failure, log);
}

/**
 * kafkajs's request queue arms a timer for `throttledUntil - Date.now()` while `throttledUntil` is still -1, a
 * negative delay that Node runs after 1 ms and (from Node 23) warns about. Nothing to act on, so not at `warn`.
 */
function isKnownHarmless(w: Error): boolean {
  return w.name === 'TimeoutNegativeWarning' && /[\\/]kafkajs[\\/]/.test(w.stack ?? '');
}

/** Logs the one line a failed role ends with and returns its exit code. */
export function exitFor(name: string, e: unknown, log: Logger): number {
  const setting = e instanceof FatalError ? e.setting : undefined;
  if (isFatal(e)) {
    log.fatal({ role: name, setting, reason: describeError(e) }, `${name} cannot run: ${describeError(e)}`);
    return EXIT.config;
  }
  log.fatal({ role: name, reason: describeError(e) }, `${name} failed: ${describeError(e)}`);
  return EXIT.software;
}
