/**
 * Setup file of the integration and fault projects: after every test, no `custody` process it spawned may have
 * printed a stack trace on stdout or stderr, whatever happened to it (killed, crashed, refused to start). Errors
 * reach operators as one line; a stack trace means some path escaped the runtime policy (src/runtime/role.ts).
 * Nor may a log line name a member twice: log pipelines keep one of the two values, or refuse the line.
 */
import { afterEach, expect } from 'vitest';
import { clearSpawned, repeatedLogKeys, stackTraces } from './custody-process.ts';

afterEach(() => {
  const found = stackTraces();
  const repeated = repeatedLogKeys();
  clearSpawned();
  expect(found, 'custody processes printed stack traces').toEqual([]);
  expect(repeated, 'custody log lines with a member written twice').toEqual([]);
});
