import { describe, expect, it } from 'vitest';
import { describeError } from '../../../src/runtime/errors.ts';
import { STACK_TRACE_LINE } from '../../support/custody-process.ts';

describe('the stack-trace check of spawned processes', () => {
  it('recognises what Node prints for an uncaught error', () => {
    const e = new Error('boom');
    expect(STACK_TRACE_LINE.test(String(e.stack))).toBe(true);
    expect(
      STACK_TRACE_LINE.test('file:///x.js:1\n    at async Promise.all (index 0)\n    at file:///y.js:3:9'),
    ).toBe(true);
  });

  it('does not flag custody’s one-line error descriptions or JSON logs', () => {
    const line = describeError(
      new Error('wrapped', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9092') }),
    );
    expect(STACK_TRACE_LINE.test(line)).toBe(false);
    expect(STACK_TRACE_LINE.test(JSON.stringify({ level: 'fatal', msg: line }))).toBe(false);
  });
});
