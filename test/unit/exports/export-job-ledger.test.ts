import { describe, expect, it } from 'vitest';
import {
  attributeExport,
  LEDGER_FORMAT,
  ledgerAttribution,
  ledgerIsTerminal,
  ledgerKey,
  mergeLedgers,
  parseLedger,
} from '../../../src/exports/export-job-ledger.ts';
import type { ExportJobLedger, LedgerAttribution } from '../../../src/exports/export-job-ledger.ts';

const T = Date.parse('2026-03-01T10:00:00.000Z');
const C1 = '7c1d1a8e-5a0e-4b7e-9d55-1f0b8c6f2a11';
const C2 = '7c1d1a8e-5a0e-4b7e-9d55-1f0b8c6f2a22';

function ledger(over: Partial<ExportJobLedger> = {}): ExportJobLedger {
  return {
    format: LEDGER_FORMAT,
    jobId: 'job-1',
    createdBy: 'client-1',
    runner: { instance: 'run-a', version: '0.1.0' },
    request: {
      action: 'EXPORT',
      actionDate: '2026-03-01T10:00:00.000Z',
      integrationId: 'int-1',
      interval: '2026-03-01T00:00:00.000Z/2026-03-01T09:00:00.000Z',
    },
    states: [{ state: 'PENDING', observedAtMs: T, genesys: null }],
    totals: null,
    errorMessage: null,
    coverage: null,
    failedRecordings: [],
    published: [],
    updatedAtMs: T,
    ...over,
  };
}

describe('job ledger', () => {
  it('round-trips through JSON and rejects anything else, naming fields only', () => {
    const l = ledger({
      coverage: {
        listedAtMs: T,
        totalHits: 1,
        jobTotalConversations: 1,
        conversations: { [C1]: T - 3600_000 },
      },
    });
    expect(parseLedger(Buffer.from(JSON.stringify(l)))).toEqual(l);
    expect(parseLedger(Buffer.from('{'))).toBe('not UTF-8 JSON');
    const bad = parseLedger(
      Buffer.from(JSON.stringify({ ...l, states: [{ state: 'X' }], secret: 's3cr3t' })),
    );
    expect(typeof bad).toBe('string');
    expect(bad).not.toContain('s3cr3t');
    expect(ledgerKey('0a1b')).toBe('_custody/export-jobs/0a1b.json');
  });

  it('merges two versions of one job without losing anything, in either order', () => {
    const a = ledger({
      coverage: { listedAtMs: T + 10, totalHits: 1, jobTotalConversations: 2, conversations: { [C1]: T } },
      failedRecordings: [{ conversationId: C1, recordingId: 'r1' }],
      published: [`${C1}/r2`],
    });
    const b = ledger({
      states: [
        { state: 'PENDING', observedAtMs: T + 1, genesys: null },
        { state: 'READY', observedAtMs: T + 5, genesys: null },
        { state: 'PROCESSING', observedAtMs: T + 20, genesys: null },
        { state: 'FULFILLED', observedAtMs: T + 40, genesys: null },
      ],
      totals: { conversations: 2, recordings: 3, processed: 2, skipped: 0, failed: 1 },
      errorMessage: 'one failed',
      coverage: { listedAtMs: T + 12, totalHits: 2, jobTotalConversations: 2, conversations: { [C2]: T } },
      published: [`${C2}/r3`],
      updatedAtMs: T + 50,
    });
    const ab = mergeLedgers(a, b);
    expect(mergeLedgers(b, a)).toEqual(ab);
    expect(mergeLedgers(ab, ab)).toEqual(ab);
    expect(ab.states.map((s) => [s.state, s.observedAtMs - T])).toEqual([
      ['PENDING', 0],
      ['READY', 5],
      ['PROCESSING', 20],
      ['FULFILLED', 40],
    ]);
    expect(ab.totals?.processed).toBe(2);
    expect(ab.errorMessage).toBe('one failed');
    expect(Object.keys(ab.coverage?.conversations ?? {}).sort()).toEqual([C1, C2]);
    expect(ab.coverage?.listedAtMs).toBe(T + 10);
    expect(ab.published).toEqual([`${C1}/r2`, `${C2}/r3`]);
    expect(ab.failedRecordings).toHaveLength(1);
    expect(ledgerIsTerminal(ab)).toBe(true);
    expect(ledgerIsTerminal(a)).toBe(false);
    expect(() => mergeLedgers(a, ledger({ jobId: 'job-2' }))).toThrow(RangeError);
  });

  it('attributes exports only once custody saw the job executed', () => {
    expect(ledgerAttribution(ledger())).toBeUndefined();
    const executed = ledger({
      states: [
        { state: 'PENDING', observedAtMs: T, genesys: null },
        { state: 'PROCESSING', observedAtMs: T + 20, genesys: null },
      ],
    });
    expect(ledgerAttribution(executed)).toEqual({
      executedAtMs: T + 20,
      facts: {
        jobId: 'job-1',
        createdBy: 'client-1',
        states: [
          { state: 'PENDING', observedAtMs: T },
          { state: 'PROCESSING', observedAtMs: T + 20 },
        ],
      },
    });
  });
});

describe('attributing an export to a job', () => {
  const job = (jobId: string, executedAtMs: number): LedgerAttribution => ({
    executedAtMs,
    facts: { jobId, createdBy: null, states: [{ state: 'PROCESSING', observedAtMs: executedAtMs }] },
  });
  const SKEW = 5 * 60_000;

  it('never attributes an export written before the job ran (e.g. by a retention policy)', () => {
    expect(attributeExport([job('j1', T)], T - SKEW - 1, SKEW)).toBeUndefined();
    // Within the allowed clock skew (S3 LastModified has one-second precision).
    expect(attributeExport([job('j1', T)], T - 999, SKEW)?.jobId).toBe('j1');
    expect(attributeExport([], T, SKEW)).toBeUndefined();
  });

  it('picks the latest job executed before the export when several cover the conversation', () => {
    const jobs = [job('j1', T), job('j2', T + 3_600_000), job('j3', T + 7_200_000)];
    expect(attributeExport(jobs, T + 3_700_000, 0)?.jobId).toBe('j2');
    expect(attributeExport(jobs, T + 10, 0)?.jobId).toBe('j1');
    expect(attributeExport([...jobs].reverse(), T + 9_000_000, 0)?.jobId).toBe('j3');
    // Same execution time: deterministic (larger job id).
    expect(attributeExport([job('a', T), job('b', T)], T, 0)?.jobId).toBe('b');
  });
});
