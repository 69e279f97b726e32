/**
 * Runs the real `custody` command (bin/custody.js) as a child process, configured only by environment
 * variables as in production, for tests of the composition roots, signals and process crashes.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { infra } from './clients.ts';

const BIN = new URL('../../bin/custody.js', import.meta.url).pathname;

export type CustodyProcess = Readonly<{
  child: ChildProcess;
  /** Every JSON log line so far (stdout). */
  logs: () => readonly Record<string, unknown>[];
  /** Resolves with the first log line whose `msg` is `msg`; rejects if the process exits first. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stderr: () => string;
  /** Raw stdout so far. */
  stdout: () => string;
  args: readonly string[];
}>;

/** A line of a JavaScript stack trace (`    at fn (file:1:2)` or `    at file:1:2`). */
export const STACK_TRACE_LINE = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;

/** Every process spawned by this test file, so the setup file can check their output after each test. */
const spawned: CustodyProcess[] = [];

/** The spawned processes whose stdout or stderr so far holds a stack trace, with the first such line. */
export function stackTraces(): Array<{ args: string; line: string }> {
  const found: Array<{ args: string; line: string }> = [];
  for (const p of spawned) {
    const text = `${p.stdout()}\n${p.stderr()}`;
    const m = STACK_TRACE_LINE.exec(text);
    if (m) found.push({ args: p.args.join(' '), line: m[0].trim() });
  }
  return found;
}

/** The member names a JSON object text has more than once at its top level (JSON.parse keeps only the last). */
export function repeatedKeys(json: string): string[] {
  const seen = new Set<string>();
  const repeated: string[] = [];
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let end = i + 1;
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const text = json.slice(i, end + 1);
      i = end;
      // A string at the top level followed by a colon is a member name.
      if (depth === 1 && /^\s*:/.test(json.slice(end + 1, end + 3))) {
        const name = JSON.parse(text) as string;
        if (seen.has(name) && !repeated.includes(name)) repeated.push(name);
        seen.add(name);
      }
    }
  }
  return repeated;
}

/** The spawned processes' JSON log lines that write a member twice, with the names repeated. */
export function repeatedLogKeys(): Array<{ args: string; keys: string[]; msg: unknown }> {
  const found: Array<{ args: string; keys: string[]; msg: unknown }> = [];
  for (const p of spawned) {
    for (const text of p.stdout().split('\n')) {
      if (!text.startsWith('{')) continue;
      const keys = repeatedKeys(text);
      if (keys.length > 0)
        found.push({ args: p.args.join(' '), keys, msg: (JSON.parse(text) as { msg?: unknown }).msg });
    }
  }
  return found;
}

/** Forgets the processes checked so far. */
export function clearSpawned(): void {
  spawned.length = 0;
}

/** The infrastructure settings of the test servers, as a deployment would set them. */
export function infraEnv(): Record<string, string> {
  const i = infra();
  return {
    KAFKA_BROKERS: i.KAFKA_BROKERS,
    S3_ENDPOINT: i.S3_ENDPOINT,
    S3_REGION: i.S3_REGION,
    AWS_ACCESS_KEY_ID: i.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: i.AWS_SECRET_ACCESS_KEY,
  };
}

/**
 * Starts `custody <args>` with exactly `env` plus PATH/HOME (nothing else leaks in from the test runner). `bin`:
 * another bin/custody.js, e.g. of a compiled build (see compiled-custody.ts).
 */
export function spawnCustody(
  args: readonly string[],
  env: Record<string, string>,
  bin = BIN,
): CustodyProcess {
  const child = spawn(process.execPath, [bin, ...args], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<{ msg: string; resolve: (l: Record<string, unknown>) => void }> = [];
  let err = '';
  let out = '';
  let partial = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    partial += d.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) {
      if (!text.trim()) continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text, unstructured: true };
      }
      lines.push(line);
      for (const w of waiters.filter((x) => x.msg === line['msg'])) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const proc: CustodyProcess = {
    child,
    args,
    logs: () => lines,
    stderr: () => err,
    stdout: () => out,
    exited,
    waitForLog(msg, timeoutMs = 30_000) {
      const seen = lines.find((l) => l['msg'] === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`custody ${args.join(' ')}: no "${msg}" log within ${timeoutMs} ms\n${err}`)),
          timeoutMs,
        );
        waiters.push({
          msg,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`custody ${args.join(' ')} exited (${code}) before "${msg}"\n${err}`));
        });
      });
    },
  };
  spawned.push(proc);
  return proc;
}
