import { describe, expect, it } from 'vitest';
import { GenesysApiError } from '../../../src/genesys/platform-client.ts';
import {
  backoffMs,
  classifyJobFailure,
  executedAtMs,
  exportJobFacts,
  exportJobQuery,
  invalidRequestReason,
  isTerminalState,
  jobTotals,
  mergeObservedStates,
  observeJobState,
} from '../../../src/exports/export-job-state.ts';
import type { ObservedJobState } from '../../../src/exports/export-job-state.ts';

const T = Date.parse('2026-03-01T10:00:00.000Z');
const CREATED = '2026-03-01T09:59:59.250Z';

describe('observed job states', () => {
  it('records a state once, at the first answer that shows it; the first carries Genesys dateCreated', () => {
    let s: readonly ObservedJobState[] = [];
    s = observeJobState(s, { state: 'PENDING', dateCreated: CREATED }, T);
    const same = observeJobState(s, { state: 'PENDING', dateCreated: CREATED }, T + 2000);
    expect(same).toBe(s);
    s = observeJobState(s, { state: 'READY', dateCreated: CREATED }, T + 4000);
    expect(s).toEqual([
      {
        state: 'PENDING',
        observedAtMs: T,
        genesys: { field: 'dateCreated', atMs: Date.parse(CREATED), text: CREATED },
      },
      { state: 'READY', observedAtMs: T + 4000, genesys: null },
    ]);
  });

  it('never invents a state it did not see (PENDING straight to FAILED)', () => {
    let s = observeJobState([], { state: 'PENDING' }, T);
    s = observeJobState(s, { state: 'FAILED' }, T + 10);
    expect(s.map((x) => x.state)).toEqual(['PENDING', 'FAILED']);
    expect(s[0]?.genesys).toBeNull();
  });

  it('merges two observation lists: earliest per state, time order, commutative and idempotent', () => {
    const a: ObservedJobState[] = [
      { state: 'PENDING', observedAtMs: T, genesys: null },
      { state: 'PROCESSING', observedAtMs: T + 30, genesys: null },
    ];
    const b: ObservedJobState[] = [
      { state: 'PENDING', observedAtMs: T + 5, genesys: null },
      { state: 'READY', observedAtMs: T + 20, genesys: null },
      { state: 'FULFILLED', observedAtMs: T + 40, genesys: null },
    ];
    const ab = mergeObservedStates(a, b);
    expect(ab.map((s) => [s.state, s.observedAtMs - T])).toEqual([
      ['PENDING', 0],
      ['READY', 20],
      ['PROCESSING', 30],
      ['FULFILLED', 40],
    ]);
    expect(mergeObservedStates(b, a)).toEqual(ab);
    expect(mergeObservedStates(ab, ab)).toEqual(ab);
  });

  it('knows when the job was executed and which states are final', () => {
    expect(executedAtMs([{ state: 'READY', observedAtMs: T, genesys: null }])).toBeUndefined();
    expect(
      executedAtMs([
        { state: 'READY', observedAtMs: T, genesys: null },
        { state: 'PROCESSING', observedAtMs: T + 7, genesys: null },
        { state: 'FULFILLED', observedAtMs: T + 9, genesys: null },
      ]),
    ).toBe(T + 7);
    expect(executedAtMs([{ state: 'FULFILLED', observedAtMs: T + 9, genesys: null }])).toBe(T + 9);
    expect(['FULFILLED', 'FAILED', 'CANCELLED'].every(isTerminalState)).toBe(true);
    expect(['PENDING', 'READY', 'PROCESSING'].some(isTerminalState)).toBe(false);
  });

  it('reads job states in any case (Genesys enums are compared case-insensitively)', () => {
    expect(['fulfilled', 'Failed', 'cancelled'].every(isTerminalState)).toBe(true);
    expect(['ready', 'processing'].some(isTerminalState)).toBe(false);
    expect(executedAtMs([{ state: 'processing', observedAtMs: T + 3, genesys: null }])).toBe(T + 3);
    expect(executedAtMs([{ state: 'fulfilled', observedAtMs: T + 4, genesys: null }])).toBe(T + 4);
  });

  it('turns observations into the Avro job facts (custody times only)', () => {
    const s = observeJobState([], { state: 'PENDING', dateCreated: CREATED }, T);
    expect(exportJobFacts('job-1', 'client-1', s)).toEqual({
      jobId: 'job-1',
      createdBy: 'client-1',
      states: [{ state: 'PENDING', observedAtMs: T }],
    });
  });
});

describe('job call failures', () => {
  const err = (status: number | undefined, message: string) =>
    new GenesysApiError('POST /api/v2/recording/jobs', status, 'bad.request', message);

  it('recognises the two-concurrent-jobs refusal by its documented wording, not its status', () => {
    const limit =
      'Each organization can run up to a maximum of 2 concurrent jobs that are either in pending or processing state';
    expect(classifyJobFailure(err(400, limit))).toBe('org-job-limit');
    expect(classifyJobFailure(err(409, limit))).toBe('org-job-limit');
    expect(classifyJobFailure(err(400, 'integrationId is required for the EXPORT action'))).toBe('fatal');
    expect(classifyJobFailure(err(403, 'A job must be executed by the same user'))).toBe('not-creator');
    expect(classifyJobFailure(err(undefined, 'ECONNREFUSED'))).toBe('fatal');
    expect(classifyJobFailure(new Error('concurrent jobs'))).toBe('fatal');
  });

  it('backs off exponentially with bounded jitter', () => {
    expect(backoffMs(0, 1000, 60_000, 0)).toBe(500);
    expect(backoffMs(0, 1000, 60_000, 0.999999)).toBe(1000);
    expect(backoffMs(3, 1000, 60_000, 0)).toBe(4000);
    expect(backoffMs(20, 1000, 60_000, 0.5)).toBe(45_000);
    for (let a = 0; a < 40; a++) expect(backoffMs(a, 1000, 60_000, 0.3)).toBeLessThanOrEqual(60_000);
  });
});

describe('the EXPORT job request', () => {
  const request = {
    fromMs: Date.parse('2026-03-01T00:00:00Z'),
    toMs: Date.parse('2026-03-02T00:00:00Z'),
    integrationId: 'int-1',
    actionDateMs: T,
  };

  it('is the tutorial shape: action, actionDate, integrationId, conversationQuery with the interval', () => {
    expect(exportJobQuery(request)).toEqual({
      action: 'EXPORT',
      actionDate: '2026-03-01T10:00:00.000Z',
      integrationId: 'int-1',
      includeScreenRecordings: true,
      includeRecordingsWithSensitiveData: false,
      conversationQuery: {
        interval: '2026-03-01T00:00:00.000Z/2026-03-02T00:00:00.000Z',
        order: 'asc',
        orderBy: 'conversationStart',
      },
    });
    const filtered = exportJobQuery({
      ...request,
      includeScreenRecordings: false,
      segmentFilters: [
        { type: 'or', predicates: [{ dimension: 'queueId', operator: 'matches', value: 'q1' }] },
      ],
    });
    expect(filtered.includeScreenRecordings).toBe(false);
    expect(filtered.conversationQuery?.segmentFilters).toHaveLength(1);
  });

  it('is refused before any call when it cannot be right', () => {
    expect(invalidRequestReason(request)).toBeUndefined();
    expect(invalidRequestReason({ ...request, toMs: request.fromMs })).toMatch(/after/);
    expect(invalidRequestReason({ ...request, fromMs: Number.NaN })).toMatch(/valid/);
    expect(invalidRequestReason({ ...request, integrationId: ' ' })).toMatch(/integrationId/);
    expect(invalidRequestReason({ ...request, actionDateMs: Number.NaN })).toMatch(/actionDate/);
  });

  it('reads totals only once the job query has run', () => {
    expect(jobTotals({ state: 'PENDING' })).toBeNull();
    expect(
      jobTotals({
        state: 'FULFILLED',
        totalConversations: 3,
        totalRecordings: 5,
        totalProcessedRecordings: 4,
        totalSkippedRecordings: 1,
        totalFailedRecordings: 0,
      }),
    ).toEqual({ conversations: 3, recordings: 5, processed: 4, skipped: 1, failed: 0 });
  });
});
