import { describe, expect, it } from 'vitest';
import { repeatedKeys } from '../../support/custody-process.ts';

describe('repeatedKeys (the log check of the process tests)', () => {
  it('finds a top-level member written twice', () => {
    expect(repeatedKeys('{"level":"info","stage":"sink","stage":"sink","msg":"x"}')).toEqual(['stage']);
  });

  it('ignores names inside nested objects and arrays, and texts that look like members', () => {
    expect(repeatedKeys('{"a":1,"b":{"a":2},"c":[{"a":3}],"d":"\\"a\\":","e":"x"}')).toEqual([]);
    expect(repeatedKeys('{"msg":"a \\\\","msg2":"b"}')).toEqual([]);
  });
});
