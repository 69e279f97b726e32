import type * as v8 from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';

const setFlagsFromString = vi.fn();
vi.mock('node:v8', async (importOriginal) => ({
  ...(await importOriginal<typeof v8>()),
  setFlagsFromString,
}));
const { HEAP_GROWING_PERCENT, tuneHeapGrowth } = await import('../../../src/runtime/heap-growth.ts');

afterEach(() => setFlagsFromString.mockClear());

describe('tuneHeapGrowth', () => {
  it("sets V8's heap growing factor to 2 when the command line did not choose one", () => {
    expect(tuneHeapGrowth(['--experimental-strip-types', '--max-old-space-size=512'])).toBe(100);
    expect(HEAP_GROWING_PERCENT).toBe(100);
    expect(setFlagsFromString).toHaveBeenCalledExactlyOnceWith('--heap-growing-percent=100');
  });

  it("keeps a value given on Node's command line, in either spelling", () => {
    for (const argv of [
      ['--heap-growing-percent=50'],
      ['--expose-gc', '--heap_growing_percent=300'],
      ['--heap-growing-percent', '50'],
    ]) {
      expect(tuneHeapGrowth(argv)).toBe('command line');
    }
    expect(setFlagsFromString).not.toHaveBeenCalled();
  });

  it('is not fooled by a flag that only starts alike', () => {
    expect(tuneHeapGrowth(['--heap-growing-percentage=5'])).toBe(100);
    expect(setFlagsFromString).toHaveBeenCalledOnce();
  });
});
