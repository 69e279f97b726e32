import { describe, expect, it } from 'vitest';
import {
  backfillGroupId,
  checkJobId,
  checkScope,
  defaultJobId,
  inScope,
  replayStartMs,
} from '../../../src/backfill/backfill-plan.ts';

const C1 = '0f4c3a2e-1b7d-4c55-9e0a-3d2f6b8a9c10';
const C2 = '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const at = (iso: string) => Date.parse(iso);

describe('backfill scope', () => {
  it('accepts a range with from before to, and refuses the others', () => {
    expect(
      checkScope({ kind: 'range', fromMs: at('2026-03-01T00:00Z'), toMs: at('2026-03-02T00:00Z') }),
    ).toEqual({ kind: 'range', fromMs: at('2026-03-01T00:00Z'), toMs: at('2026-03-02T00:00Z') });
    expect(
      checkScope({ kind: 'range', fromMs: at('2026-03-02T00:00Z'), toMs: at('2026-03-01T00:00Z') }),
    ).toBe('--from must be before --to');
    expect(checkScope({ kind: 'range', fromMs: NaN, toMs: 1 })).toBe('the range needs two times');
  });

  it('deduplicates and sorts a conversation list, and names a bad id', () => {
    expect(checkScope({ kind: 'conversations', ids: [C2, C1, C2, ' '] })).toEqual({
      kind: 'conversations',
      ids: [C1, C2],
    });
    expect(checkScope({ kind: 'conversations', ids: [] })).toBe('no conversation id given');
    expect(checkScope({ kind: 'conversations', ids: ['../etc'] })).toMatch(/not a conversation id/);
  });

  it('derives the same job id from the same scope (a rerun resumes) and another from another', () => {
    const a = defaultJobId({ kind: 'conversations', ids: [C1, C2] });
    expect(defaultJobId({ kind: 'conversations', ids: [C2, C1] })).toBe(a);
    expect(defaultJobId({ kind: 'conversations', ids: [C1] })).not.toBe(a);
    expect(checkJobId(a)).toBeUndefined();
    expect(checkJobId('a/b')).toMatch(/job id/);
    expect(backfillGroupId('custody-sink', a)).toBe(`custody-sink.backfill.${a}`);
  });

  it('selects recordings by export hour folder (overlapping hours count) or by conversation', () => {
    const range = { kind: 'range' as const, fromMs: at('2026-03-01T09:30Z'), toMs: at('2026-03-01T11:00Z') };
    expect(inScope(range, C1, '2026-03-01T09:00:00.000Z')).toBe(true);
    expect(inScope(range, C1, '2026-03-01T10:00:00.000Z')).toBe(true);
    expect(inScope(range, C1, '2026-03-01T11:00:00.000Z')).toBe(false);
    expect(inScope(range, C1, '2026-03-01T08:00:00.000Z')).toBe(false);
    expect(inScope(range, C1, 'not a time')).toBe(false);
    const list = { kind: 'conversations' as const, ids: [C1] };
    expect(inScope(list, C1, '2020-01-01T00:00:00.000Z')).toBe(true);
    expect(inScope(list, C2, '2026-03-01T09:00:00.000Z')).toBe(false);
  });

  it('starts the replay the lookback before the range’s first hour (a list: from the start)', () => {
    const range = { kind: 'range' as const, fromMs: at('2026-03-01T09:30Z'), toMs: at('2026-03-01T11:00Z') };
    expect(replayStartMs(range, 3_600_000)).toBe(at('2026-03-01T08:00Z'));
    expect(replayStartMs({ kind: 'conversations', ids: [C1] }, 3_600_000)).toBeUndefined();
  });
});
