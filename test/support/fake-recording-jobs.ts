/**
 * Port-level fakes for `custody exports run`'s job runner (unit tests only; integration tests use the emulator):
 * a virtual clock whose `sleep` only resolves when the test drives time forward, and an in-memory recording-jobs
 * platform with Genesys's rules (two PENDING/PROCESSING jobs per org, only the creator executes, PENDING → READY
 * → PROCESSING → FULFILLED/FAILED on the virtual clock).
 */
import type { Models } from 'purecloud-platform-client-v2';
import { GenesysApiError } from '../../src/genesys/platform-client.ts';
import type { CoveragePage, RecordingJobsApi } from '../../src/exports/export-jobs-api.ts';

/** A clock that moves only when {@link VirtualTime.runUntilSettled} advances it to the next sleeper. */
export class VirtualTime {
  nowMs: number;
  readonly sleeps: number[] = [];
  #waiters: Array<{ at: number; seq: number; resolve: () => void }> = [];
  #seq = 0;

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  now = (): number => this.nowMs;

  sleep = (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    return new Promise((resolve) => this.#waiters.push({ at: this.nowMs + ms, seq: this.#seq++, resolve }));
  };

  /** Lets pending work run, then wakes sleepers in time order until `p` settles. */
  async runUntilSettled<T>(p: Promise<T>, maxSteps = 10_000): Promise<T> {
    let settled = false;
    const watched = p.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    for (let step = 0; step < maxSteps; step++) {
      await new Promise((r) => setImmediate(r));
      if (settled) return watched;
      this.#waiters.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#waiters.shift();
      if (next === undefined) throw new Error('deadlock: nothing sleeps and the run has not settled');
      this.nowMs = Math.max(this.nowMs, next.at);
      next.resolve();
    }
    throw new Error('virtual time: too many steps');
  }
}

type FakeJob = {
  id: string;
  owner: string;
  state: string;
  createdAt: number;
  readyAt: number;
  doneAt: number | undefined;
  query: Models.RecordingJobsQuery;
  fail: boolean;
};

const LIMIT_MESSAGE =
  'Each organization can run up to a maximum of 2 concurrent jobs that are either in pending or processing state';

/** The in-memory platform. */
export class FakeJobsPlatform {
  readonly jobs = new Map<string, FakeJob>();
  readonly calls: string[] = [];
  maxActiveSeen = 0;
  queryMs = 10_000;
  executeMs = 10_000;
  /** Jobs created from now on end FAILED with these failed recordings. */
  failWith: Array<{ conversationId: string; recordingId: string }> | undefined;
  /** The conversations the analytics query returns. */
  conversations: Array<{ conversationId: string; conversationStartMs: number }> = [];
  #seq = 0;
  readonly #time: VirtualTime;

  constructor(time: VirtualTime) {
    this.#time = time;
  }

  #advance(): void {
    const now = this.#time.now();
    for (const j of this.jobs.values()) {
      if (j.state === 'PENDING' && now >= j.readyAt) j.state = 'READY';
      if (j.state === 'PROCESSING' && j.doneAt !== undefined && now >= j.doneAt) {
        j.state = j.fail ? 'FAILED' : 'FULFILLED';
      }
    }
  }

  #active(): number {
    return [...this.jobs.values()].filter((j) => j.state === 'PENDING' || j.state === 'PROCESSING').length;
  }

  #view(j: FakeJob): Models.RecordingJob {
    const ready = j.state !== 'PENDING';
    return {
      id: j.id,
      user: { id: j.owner },
      state: j.state,
      dateCreated: new Date(j.createdAt).toISOString(),
      recordingJobsQuery: j.query,
      ...(ready
        ? {
            totalConversations: this.conversations.length,
            totalRecordings: this.conversations.length,
            totalProcessedRecordings: this.conversations.length - (j.fail ? (this.failWith?.length ?? 0) : 0),
            totalSkippedRecordings: 0,
            totalFailedRecordings: j.fail ? (this.failWith?.length ?? 0) : 0,
          }
        : {}),
      ...(j.state === 'FAILED' ? { errorMessage: 'some recordings failed' } : {}),
    };
  }

  #job(id: string, op: string): FakeJob {
    const j = this.jobs.get(id);
    if (j === undefined) throw new GenesysApiError(op, 404, 'not.found', 'job not found');
    return j;
  }

  #note(): void {
    this.maxActiveSeen = Math.max(this.maxActiveSeen, this.#active());
  }

  /** The API as seen by one OAuth client. */
  apiFor(owner: string): RecordingJobsApi {
    const op = (name: string) => this.calls.push(`${owner}:${name}`);
    return {
      createJob: async (query) => {
        op('create');
        this.#advance();
        const opName = 'POST /api/v2/recording/jobs';
        if (this.#active() >= 2) throw new GenesysApiError(opName, 400, 'bad.request', LIMIT_MESSAGE);
        const now = this.#time.now();
        const job: FakeJob = {
          id: `job-${++this.#seq}`,
          owner,
          state: 'PENDING',
          createdAt: now - 250,
          readyAt: now + this.queryMs,
          doneAt: undefined,
          query,
          fail: this.failWith !== undefined,
        };
        this.jobs.set(job.id, job);
        this.#note();
        return this.#view(job);
      },
      getJob: async (id) => {
        op('get');
        this.#advance();
        return this.#view(this.#job(id, 'GET /api/v2/recording/jobs/{jobId}'));
      },
      executeJob: async (id) => {
        op('execute');
        this.#advance();
        const opName = 'PUT /api/v2/recording/jobs/{jobId}';
        const j = this.#job(id, opName);
        if (j.owner !== owner) {
          throw new GenesysApiError(opName, 403, 'not.authorized', 'A job must be executed by the same user');
        }
        if (j.state !== 'READY') {
          throw new GenesysApiError(
            opName,
            400,
            'bad.request',
            `Job is ${j.state}; only a READY job can be executed`,
          );
        }
        if (this.#active() >= 2) throw new GenesysApiError(opName, 400, 'bad.request', LIMIT_MESSAGE);
        j.state = 'PROCESSING';
        j.doneAt = this.#time.now() + this.executeMs;
        this.#note();
        return this.#view(j);
      },
      failedRecordings: (id) => {
        op('failedrecordings');
        const j = this.#job(id, 'GET failedrecordings');
        const list = j.fail ? (this.failWith ?? []) : [];
        return (async function* () {
          for (const f of list)
            yield { conversation: { id: f.conversationId }, recording: { id: f.recordingId } };
        })();
      },
      coveredConversations: (query) => {
        op(`coverage:${query.interval}`);
        const conversations = this.conversations;
        return (async function* (): AsyncIterable<CoveragePage> {
          yield { conversations, totalHits: conversations.length };
        })();
      },
    };
  }
}
