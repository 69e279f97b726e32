/**
 * Genesys recording deletion protection of a conversation (research/genesys.md §4.1, §4.3): Genesys has no API
 * named "legal hold"; `PUT /api/v2/recordings/deletionprotection?protect=true|false` with
 * `{conversationIds: [...]}` protects (or unprotects) every recording of the listed conversations, and answers
 * `{failedUpdates: [...]}` for the ones it could not change. The conversation's recordings are listed
 * (`GET /api/v2/conversations/{id}/recordingmetadata`) only to record which recordings the protection covered.
 */
import type { Models } from 'purecloud-platform-client-v2';
import { GenesysApiError, GenesysPlatformClient, platformClient } from '../genesys/platform-client.ts';
import type { GenesysPlatformClientOptions } from '../genesys/platform-client.ts';

export interface DeletionProtectionApi {
  /** The conversation's recording ids; [] when Genesys knows no recording of it (404). */
  recordingIds(conversationId: string): Promise<string[]>;
  /** Applies (or revokes) protection; resolves with Genesys's reason when it refused this conversation. */
  setProtection(conversationId: string, protect: boolean): Promise<string | undefined>;
  close(): void;
}

/** The SDK adapter (retries 429/5xx/network errors with backoff inside GenesysPlatformClient.call). */
export class SdkDeletionProtectionApi implements DeletionProtectionApi {
  readonly #client: GenesysPlatformClient;
  readonly #recording: InstanceType<typeof platformClient.RecordingApi>;

  constructor(opts: GenesysPlatformClientOptions) {
    this.#client = new GenesysPlatformClient(opts);
    this.#recording = new platformClient.RecordingApi(this.#client.sdk);
  }

  async recordingIds(conversationId: string): Promise<string[]> {
    try {
      const list = await this.#client.call<Models.RecordingMetadata[]>(
        'GET /api/v2/conversations/{conversationId}/recordingmetadata',
        () => this.#recording.getConversationRecordingmetadata(conversationId),
      );
      return (Array.isArray(list) ? list : [])
        .map((r) => r.id)
        .filter((id): id is string => typeof id === 'string' && id.length > 0);
    } catch (e) {
      if (e instanceof GenesysApiError && e.status === 404) return [];
      throw e;
    }
  }

  async setProtection(conversationId: string, protect: boolean): Promise<string | undefined> {
    const body: Models.ConversationDeletionProtectionQuery = { conversationIds: [conversationId] };
    const result = await this.#client.call<Models.ManageDeleteProtectionResult>(
      'PUT /api/v2/recordings/deletionprotection',
      () => this.#recording.putRecordingsDeletionprotection({ protect, body }),
    );
    const failed = (result?.failedUpdates ?? []).find(
      (f) => f.conversation?.id === undefined || f.conversation.id === conversationId,
    );
    if (failed === undefined) return undefined;
    return `${failed.errorCode ?? 'error'}: ${(failed.errorMessage ?? 'no message').slice(0, 300)}`;
  }

  close(): void {
    this.#client.close();
  }
}
