import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { retryUntilDone } from '../../../src/runtime/backoff.ts';
import { FatalError } from '../../../src/runtime/errors.ts';
import { EXIT, runRole } from '../../../src/runtime/role.ts';

/** A stand-in for `process`: its own signals and error events, and an exit that is recorded, not taken. */
function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const proc = Object.assign(emitter, { exit: (code: number) => void exits.push(code) });
  return { proc: proc as unknown as NodeJS.Process, emitter, exits };
}

function captureLog() {
  const text: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), text };
}

describe('runRole', () => {
  it('stops cleanly on SIGTERM with exit 0', async () => {
    const { proc, emitter } = fakeProcess();
    const { log } = captureLog();
    let cleaned = false;
    const code = runRole({ name: 'role', log, proc }, async (ctx) => {
      try {
        await ctx.untilStopped;
      } finally {
        cleaned = true;
      }
    });
    setTimeout(() => emitter.emit('SIGTERM', 'SIGTERM'), 5);
    expect(await code).toBe(EXIT.ok);
    expect(cleaned).toBe(true);
  });

  it('a SIGTERM during start-up ends a retry loop and exits 0 (signal handlers exist before start-up)', async () => {
    const { proc, emitter } = fakeProcess();
    const { log } = captureLog();
    const code = runRole({ name: 'role', log, proc }, async (ctx) => {
      await retryUntilDone(
        'Kafka',
        async () => {
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        },
        { ...ctx, policy: { initialMs: 5, maxMs: 10 } },
      );
    });
    setTimeout(() => emitter.emit('SIGTERM', 'SIGTERM'), 30);
    expect(await code).toBe(EXIT.ok);
  });

  it('a background failure stops the role and exits non-zero with one line, no stack', async () => {
    const { proc } = fakeProcess();
    const { log, text } = captureLog();
    const code = await runRole({ name: 'custody sink', log, proc }, async (ctx) => {
      setTimeout(() => ctx.fail(new Error('consumer stopped')), 5);
      await ctx.untilStopped;
    });
    expect(code).toBe(EXIT.software);
    const fatal = text.filter((l) => l.includes('"level":60'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain('custody sink failed: Error: consumer stopped');
    expect(text.join('')).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('a role that failed while starting never says it runs, nor clears its start-up condition', async () => {
    const { proc } = fakeProcess();
    const { log, text } = captureLog();
    let reason: string | undefined;
    const code = await runRole({ name: 'custody ingest', log, proc }, async (ctx) => {
      ctx.conditions.set('start-up', 'starting');
      ctx.fail(new Error('the snapshot worker failed: gone'));
      ctx.started({ httpPort: 1 }, 'custody ingest running');
      reason = ctx.conditions.notReadyReason();
      await ctx.untilStopped;
    });
    expect(code).toBe(EXIT.software);
    expect(reason).toMatch(/starting/);
    expect(text.join('')).not.toContain('custody ingest running');
  });

  it('a role that started clears its start-up condition and says so once', async () => {
    const { proc, emitter } = fakeProcess();
    const { log, text } = captureLog();
    let reason: string | undefined = 'unset';
    const code = runRole({ name: 'custody ingest', log, proc }, async (ctx) => {
      ctx.conditions.set('start-up', 'starting');
      ctx.started({ httpPort: 1 }, 'custody ingest running');
      reason = ctx.conditions.notReadyReason();
      await ctx.untilStopped;
    });
    setTimeout(() => emitter.emit('SIGTERM', 'SIGTERM'), 5);
    expect(await code).toBe(EXIT.ok);
    expect(reason).toBeUndefined();
    expect(text.filter((l) => l.includes('custody ingest running'))).toHaveLength(1);
  });

  it('a FatalError names its setting and exits 78', async () => {
    const { proc } = fakeProcess();
    const { log, text } = captureLog();
    const code = await runRole({ name: 'custody sink', log, proc }, async () => {
      throw new FatalError('port 9466 is in use', { setting: 'CUSTODY_HTTP_PORT' });
    });
    expect(code).toBe(EXIT.config);
    expect(text.join('')).toContain('"setting":"CUSTODY_HTTP_PORT"');
  });

  it("a Node.js process warning is one log line, not Node's plain-text output", async () => {
    const { proc, emitter } = fakeProcess();
    const printed: Error[] = [];
    emitter.on('warning', (w: Error) => printed.push(w)); // Node's own printer
    const { log, text } = captureLog();
    const code = runRole({ name: 'custody sink', log, proc }, async (ctx) => {
      const warning = Object.assign(new Error('-1796431841659 is a negative number.'), {
        name: 'TimeoutNegativeWarning',
      });
      emitter.emit('warning', warning);
      emitter.emit('SIGTERM', 'SIGTERM');
      await ctx.untilStopped;
    });
    expect(await code).toBe(EXIT.ok);
    expect(printed).toEqual([]);
    const lines = text
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        role: 'custody sink',
        warning: 'TimeoutNegativeWarning',
        reason: '-1796431841659 is a negative number.',
      }),
    );
  });

  it("kafkajs's negative-timer warning is logged at debug, not warn", async () => {
    const { proc, emitter } = fakeProcess();
    const text: string[] = [];
    const log = pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          text.push(chunk.toString('utf8'));
          cb();
        },
      }),
    );
    const code = runRole({ name: 'custody sink', log, proc }, async (ctx) => {
      const warning = Object.assign(new Error('-1796431841659 is a negative number.'), {
        name: 'TimeoutNegativeWarning',
        stack:
          'TimeoutNegativeWarning: -1796431841659 is a negative number.\n' +
          '    at RequestQueue.scheduleCheckPendingRequests (/app/node_modules/kafkajs/src/network/requestQueue/index.js:317:39)',
      });
      emitter.emit('warning', warning);
      emitter.emit('SIGTERM', 'SIGTERM');
      await ctx.untilStopped;
    });
    expect(await code).toBe(EXIT.ok);
    const lines = text
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const logged = lines.filter((l) => l['warning'] === 'TimeoutNegativeWarning');
    expect(logged).toEqual([expect.objectContaining({ level: 20 })]);
  });

  it('an unhandled rejection is one structured line and exit 70', async () => {
    const { proc, emitter, exits } = fakeProcess();
    const { log, text } = captureLog();
    const done = runRole({ name: 'role', log, proc }, async (ctx) => {
      emitter.emit('unhandledRejection', new TypeError('boom'));
      ctx.fail(new Error('stop'));
      await ctx.untilStopped.catch(() => undefined);
    });
    await done;
    expect(exits).toEqual([EXIT.software]);
    expect(text.join('')).toContain('uncaught error; exiting');
    expect(text.join('')).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('cleanup that hangs past the deadline ends the process', async () => {
    const { proc, emitter, exits } = fakeProcess();
    const { log } = captureLog();
    void runRole({ name: 'role', log, proc, shutdownDeadlineMs: 20 }, async (ctx) => {
      await ctx.untilStopped;
      await new Promise(() => undefined); // a flush that never ends
    });
    emitter.emit('SIGTERM', 'SIGTERM');
    await new Promise((r) => setTimeout(r, 60));
    expect(exits).toEqual([EXIT.shutdownTimeout]);
  });
});
