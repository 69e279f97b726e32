import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { GenesysApiError } from '../../../src/genesys/platform-client.ts';
import {
  DEFAULT_JOB_RUNNER_OPTIONS,
  ExportJobError,
  runExportJob,
} from '../../../src/exports/export-job-runner.ts';
import type { JobProgress, JobRunnerOptions } from '../../../src/exports/export-job-runner.ts';
import { exportJobQuery } from '../../../src/exports/export-job-state.ts';
import { FakeJobsPlatform, VirtualTime } from '../../support/fake-recording-jobs.ts';

const T = Date.parse('2026-03-01T10:00:00.000Z');
const QUERY = exportJobQuery({
  fromMs: Date.parse('2026-03-01T00:00:00Z'),
  toMs: Date.parse('2026-03-01T09:00:00Z'),
  integrationId: 'int-1',
  actionDateMs: T,
});
const OPTIONS: JobRunnerOptions = {
  ...DEFAULT_JOB_RUNNER_OPTIONS,
  pollIntervalMs: 1_000,
  maxPollIntervalMs: 8_000,
  orgLimitBackoffMs: 4_000,
  maxOrgLimitBackoffMs: 30_000,
  timeoutMs: 3_600_000,
};

function memoryLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

function setup() {
  const time = new VirtualTime(T);
  const platform = new FakeJobsPlatform(time);
  const { log, lines } = memoryLogger();
  const deps = (owner = 'client-a') => ({
    api: platform.apiFor(owner),
    now: time.now,
    sleep: time.sleep,
    random: () => 0.5,
    log,
  });
  return { time, platform, deps, lines };
}

describe('runExportJob', () => {
  it('creates, waits for READY, executes as the creator and follows the job to FULFILLED', async () => {
    const { time, platform, deps } = setup();
    const events: string[] = [];
    const hook = (name: string) => async (p: JobProgress) => {
      events.push(`${name}:${p.states.at(-1)?.state}`);
    };
    const outcome = await time.runUntilSettled(
      runExportJob(deps(), { create: QUERY }, OPTIONS, {
        onCreated: hook('created'),
        beforeExecute: async (p) => {
          events.push(`beforeExecute:${p.job.state}`);
          // The job is not executed before the hook has finished (the ledger must hold the coverage first).
          expect(platform.calls.filter((c) => c.endsWith(':execute'))).toHaveLength(0);
        },
        onState: hook('state'),
      }),
    );
    expect(outcome.finalState).toBe('FULFILLED');
    expect(outcome.jobId).toBe('job-1');
    expect(outcome.createdBy).toBe('client-a');
    expect(outcome.states.map((s) => s.state)).toEqual(['PENDING', 'READY', 'PROCESSING', 'FULFILLED']);
    // Custody's clock for each observation, Genesys's dateCreated on the first.
    expect(outcome.states[0]).toEqual({
      state: 'PENDING',
      observedAtMs: T,
      genesys: { field: 'dateCreated', atMs: T - 250, text: new Date(T - 250).toISOString() },
    });
    const times = outcome.states.map((s) => s.observedAtMs);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[1]).toBeGreaterThanOrEqual(T + platform.queryMs);
    expect(events).toEqual([
      'created:PENDING',
      'state:READY',
      'beforeExecute:READY',
      'state:PROCESSING',
      'state:FULFILLED',
    ]);
    expect(platform.calls.filter((c) => c.endsWith(':execute'))).toEqual(['client-a:execute']);
    expect(platform.calls).not.toContain('client-a:failedrecordings');
    expect(outcome.orgLimitWaits).toBe(0);
    // Polls back off while nothing changes, never beyond the maximum.
    expect(Math.max(...time.sleeps)).toBeLessThanOrEqual(OPTIONS.maxPollIntervalMs);
  });

  it('waits out the org limit of two pending/processing jobs: three runs all succeed, never three in flight', async () => {
    const { time, platform, deps, lines } = setup();
    const runs = [0, 1, 2].map(() => runExportJob(deps(), { create: QUERY }, OPTIONS));
    const outcomes = await time.runUntilSettled(Promise.all(runs));
    expect(outcomes.map((o) => o.finalState)).toEqual(['FULFILLED', 'FULFILLED', 'FULFILLED']);
    expect(new Set(outcomes.map((o) => o.jobId)).size).toBe(3);
    expect(platform.maxActiveSeen).toBe(2);
    const waits = outcomes.reduce((n, o) => n + o.orgLimitWaits, 0);
    expect(waits).toBeGreaterThan(0);
    const warned = lines.filter((l) => String(l['msg']).includes('maximum of two pending/processing'));
    expect(warned).toHaveLength(waits);
    expect(warned[0]).toMatchObject({ level: 40, step: expect.stringMatching(/create|execute/) });
  });

  it('retries an execute refused by the org limit, then executes', async () => {
    const { time, platform, deps } = setup();
    // Two other jobs of another client occupy the org until they finish.
    const other = platform.apiFor('client-b');
    const a = await other.createJob(QUERY);
    const b = await other.createJob(QUERY);
    platform.executeMs = 60_000;
    time.nowMs += platform.queryMs;
    await other.executeJob(a.id ?? '');
    await other.executeJob(b.id ?? '');
    // Now create is refused too: our run waits to create, then may wait to execute.
    const outcome = await time.runUntilSettled(runExportJob(deps(), { create: QUERY }, OPTIONS));
    expect(outcome.finalState).toBe('FULFILLED');
    expect(outcome.orgLimitWaits).toBeGreaterThan(0);
    expect(platform.maxActiveSeen).toBeLessThanOrEqual(2);
  });

  it('fails clearly when the job belongs to another client (only the creator may execute it)', async () => {
    const { time, platform, deps } = setup();
    const job = await platform.apiFor('client-b').createJob(QUERY);
    const run = runExportJob(deps('client-a'), { resume: job.id ?? '' }, OPTIONS);
    const error = await time.runUntilSettled(run).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExportJobError);
    expect(error).toMatchObject({
      code: 'CUSTODY_SINK_EXPORT_JOB_NOT_CREATOR',
      retriable: false,
      jobId: job.id,
    });
    expect(String((error as Error).message)).toContain('client-b');
    expect(platform.calls.filter((c) => c === 'client-a:execute')).toHaveLength(1);
  });

  it('rethrows other refusals at once (no retry loop on a bad request)', async () => {
    const { time, deps } = setup();
    const d = deps();
    const api = {
      ...d.api,
      createJob: async () => {
        throw new GenesysApiError(
          'POST /api/v2/recording/jobs',
          400,
          'bad.request',
          'integrationId is required',
        );
      },
    };
    const error = await time
      .runUntilSettled(runExportJob({ ...d, api }, { create: QUERY }, OPTIONS))
      .catch((e) => e);
    expect(error).toBeInstanceOf(GenesysApiError);
    expect(time.sleeps).toEqual([]);
  });

  it('returns the recordings a FAILED job failed for', async () => {
    const { time, platform, deps } = setup();
    platform.conversations = [
      { conversationId: 'c1', conversationStartMs: T - 3_600_000 },
      { conversationId: 'c2', conversationStartMs: T - 3_600_000 },
    ];
    platform.failWith = [{ conversationId: 'c2', recordingId: 'r2' }];
    const outcome = await time.runUntilSettled(runExportJob(deps(), { create: QUERY }, OPTIONS));
    expect(outcome.finalState).toBe('FAILED');
    expect(outcome.errorMessage).toBe('some recordings failed');
    expect(outcome.failedRecordings).toEqual([{ conversationId: 'c2', recordingId: 'r2' }]);
    expect(outcome.totals).toMatchObject({ processed: 1, failed: 1 });
  });

  it('resumes a job that an earlier (crashed) run already executed, without executing it again', async () => {
    const { time, platform, deps } = setup();
    const api = platform.apiFor('client-a');
    const job = await api.createJob(QUERY);
    time.nowMs += platform.queryMs;
    await api.executeJob(job.id ?? '');
    const earlier = [{ state: 'PENDING', observedAtMs: T, genesys: null }];
    const outcome = await time.runUntilSettled(
      runExportJob(deps(), { resume: job.id ?? '', states: earlier }, OPTIONS),
    );
    expect(outcome.finalState).toBe('FULFILLED');
    expect(outcome.states.map((s) => s.state)).toEqual(['PENDING', 'PROCESSING', 'FULFILLED']);
    expect(outcome.states[0]?.observedAtMs).toBe(T);
    expect(platform.calls.filter((c) => c.endsWith(':execute'))).toHaveLength(1);
  });

  it('continues when its PUT is refused because the job is no longer READY (executed by a crashed run)', async () => {
    const { time, platform, deps } = setup();
    const d = deps();
    let puts = 0;
    const api = {
      ...d.api,
      executeJob: async (id: string) => {
        puts++;
        await d.api.executeJob(id); // takes effect…
        throw new GenesysApiError(
          'PUT /api/v2/recording/jobs/{jobId}',
          400,
          'bad.request',
          'Job is PROCESSING',
        );
      },
    };
    const outcome = await time.runUntilSettled(runExportJob({ ...d, api }, { create: QUERY }, OPTIONS));
    expect(puts).toBe(1);
    expect(outcome.finalState).toBe('FULFILLED');
    expect(platform.jobs.size).toBe(1);
  });

  it('gives up with a resumable timeout when the job never ends', async () => {
    const { time, platform, deps } = setup();
    platform.executeMs = 10 * 3_600_000;
    const error = await time
      .runUntilSettled(runExportJob(deps(), { create: QUERY }, { ...OPTIONS, timeoutMs: 600_000 }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CUSTODY_SINK_EXPORT_JOB_TIMEOUT', retriable: true, jobId: 'job-1' });
    expect(time.nowMs - T).toBeLessThanOrEqual(600_000);
  });

  it('stops waiting when aborted', async () => {
    const { platform, deps } = setup();
    platform.queryMs = 3_600_000;
    const controller = new AbortController();
    const d = deps();
    const run = runExportJob(
      { ...d, sleep: undefined, signal: controller.signal },
      { create: QUERY },
      { ...OPTIONS, pollIntervalMs: 60_000 },
    );
    setTimeout(() => controller.abort(new Error('SIGTERM')), 20);
    await expect(run).rejects.toMatchObject({ code: 'CUSTODY_SINK_EXPORT_JOB_ABORTED', jobId: 'job-1' });
  });
});
