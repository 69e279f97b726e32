/**
 * The Genesys Cloud calls `custody exports run` makes (research genesys.md §1.6), as a small port and its SDK
 * adapter: create, read and execute a recording bulk job, page through the recordings it failed for, and list the
 * conversations its query covers with the synchronous analytics conversation-detail query.
 *
 * The adapter sends every call through one {@link GenesysPlatformClient} (one OAuth client, one token): Genesys
 * lets only the job's creator execute it, so the same adapter instance must create and execute a job.
 */
import type { Models } from 'purecloud-platform-client-v2';
import { GenesysPlatformClient, platformClient } from '../genesys/platform-client.ts';
import type { GenesysPlatformClientOptions } from '../genesys/platform-client.ts';

/** A conversation a job's query covers: its id and start (which names the export's hour folder). */
export type CoveredConversation = Readonly<{ conversationId: string; conversationStartMs: number }>;

/** One page of the conversations a query covers, with the total the API reported. */
export type CoveragePage = Readonly<{ conversations: readonly CoveredConversation[]; totalHits: number }>;

/**
 * The recording bulk job calls. Every method rejects with a `GenesysApiError` (status, Genesys code and
 * message; retriable failures were already retried) and is safe to call again: only `createJob` has an effect
 * that a repeat would duplicate.
 */
export interface RecordingJobsApi {
  /** POST /api/v2/recording/jobs. Refused (400 in the emulator) while the org has two PENDING/PROCESSING jobs. */
  createJob(query: Models.RecordingJobsQuery): Promise<Models.RecordingJob>;
  /** GET /api/v2/recording/jobs/{jobId}. */
  getJob(jobId: string): Promise<Models.RecordingJob>;
  /** PUT /api/v2/recording/jobs/{jobId} `{state: "PROCESSING"}`: only the creator may, and only a READY job. */
  executeJob(jobId: string): Promise<Models.RecordingJob>;
  /** GET /api/v2/recording/jobs/{jobId}/failedrecordings, every page. */
  failedRecordings(jobId: string): AsyncIterable<Models.RecordingJobFailedRecording>;
  /**
   * POST /api/v2/analytics/conversations/details/query with the job's interval and filters: the conversations
   * (id and start) the job's query covers, one page at a time.
   */
  coveredConversations(query: Models.AsyncConversationQuery): AsyncIterable<CoveragePage>;
}

/** Conversations per analytics page (the API's maximum). */
const PAGE_SIZE = 100;

/** The SDK adapter of {@link RecordingJobsApi}. */
export class SdkRecordingJobsApi implements RecordingJobsApi {
  readonly #client: GenesysPlatformClient;
  readonly #recording: InstanceType<typeof platformClient.RecordingApi>;
  readonly #analytics: InstanceType<typeof platformClient.AnalyticsApi>;

  constructor(opts: GenesysPlatformClientOptions) {
    this.#client = new GenesysPlatformClient(opts);
    this.#recording = new platformClient.RecordingApi(this.#client.sdk);
    this.#analytics = new platformClient.AnalyticsApi(this.#client.sdk);
  }

  /** Stops the token renewal timer. */
  close(): void {
    this.#client.close();
  }

  createJob(query: Models.RecordingJobsQuery): Promise<Models.RecordingJob> {
    return this.#client.call('POST /api/v2/recording/jobs', () => this.#recording.postRecordingJobs(query));
  }

  getJob(jobId: string): Promise<Models.RecordingJob> {
    return this.#client.call('GET /api/v2/recording/jobs/{jobId}', () =>
      this.#recording.getRecordingJob(jobId),
    );
  }

  executeJob(jobId: string): Promise<Models.RecordingJob> {
    const body: Models.ExecuteRecordingJobsQuery = { state: 'PROCESSING' };
    return this.#client.call('PUT /api/v2/recording/jobs/{jobId}', () =>
      this.#recording.putRecordingJob(jobId, body),
    );
  }

  async *failedRecordings(jobId: string): AsyncIterable<Models.RecordingJobFailedRecording> {
    for (let pageNumber = 1; ; pageNumber++) {
      const page = await this.#client.call<Models.FailedRecordingEntityListing>(
        'GET /api/v2/recording/jobs/{jobId}/failedrecordings',
        () => this.#recording.getRecordingJobFailedrecordings(jobId, { pageSize: 100, pageNumber }),
      );
      const entities = page.entities ?? [];
      yield* entities;
      if (entities.length === 0 || !page.pageCount || pageNumber >= page.pageCount) return;
    }
  }

  async *coveredConversations(query: Models.AsyncConversationQuery): AsyncIterable<CoveragePage> {
    let seen = 0;
    for (let pageNumber = 1; ; pageNumber++) {
      const body: Models.ConversationQuery = {
        interval: query.interval,
        ...(query.conversationFilters ? { conversationFilters: query.conversationFilters } : {}),
        ...(query.segmentFilters ? { segmentFilters: query.segmentFilters } : {}),
        ...(query.evaluationFilters ? { evaluationFilters: query.evaluationFilters } : {}),
        ...(query.surveyFilters ? { surveyFilters: query.surveyFilters } : {}),
        ...(query.resolutionFilters ? { resolutionFilters: query.resolutionFilters } : {}),
        order: 'asc',
        orderBy: 'conversationStart',
        paging: { pageSize: PAGE_SIZE, pageNumber },
      };
      const res = await this.#client.call<Models.AnalyticsConversationQueryResponse>(
        'POST /api/v2/analytics/conversations/details/query',
        () => this.#analytics.postAnalyticsConversationsDetailsQuery(body),
      );
      const raw = res.conversations ?? [];
      seen += raw.length;
      const conversations: CoveredConversation[] = [];
      for (const c of raw) {
        const start = c.conversationStart === undefined ? Number.NaN : Date.parse(c.conversationStart);
        if (c.conversationId !== undefined && Number.isFinite(start)) {
          conversations.push({ conversationId: c.conversationId.toLowerCase(), conversationStartMs: start });
        }
      }
      const totalHits = res.totalHits ?? seen;
      yield { conversations, totalHits };
      if (raw.length < PAGE_SIZE || seen >= totalHits) return;
    }
  }
}
