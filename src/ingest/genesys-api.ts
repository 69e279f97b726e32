/**
 * The Genesys Cloud Platform API calls ingest makes, through the official SDK
 * (purecloud-platform-client-v2): only these, never the whole SDK surface.
 *
 * Auth, token renewal, retries (429 with `Retry-After`, 5xx, network) and error sanitising live in the shared
 * `GenesysPlatformClient` (src/genesys/platform-client.ts): errors are `GenesysApiError`s with status, Genesys
 * error code and message only, never the SDK's own errors (which carry the bearer token and Basic credentials).
 */
import type { Models } from 'purecloud-platform-client-v2';
import { GenesysApiError, GenesysPlatformClient, platformClient } from '../genesys/platform-client.ts';
import type { GenesysPlatformClientOptions } from '../genesys/platform-client.ts';

export { GenesysApiError, sanitize } from '../genesys/platform-client.ts';

/** The calls ingest needs. A port, so tests of the pipeline logic can substitute a recording fake. */
export interface GenesysApi {
  /**
   * Called after each token renewal. Genesys ends a channel when the token that last subscribed it expires,
   * so ingest resubscribes every channel with the new token.
   */
  onTokenRenewed(listener: () => void): void;
  listUsers(): AsyncIterable<Models.User>;
  getUserStations(userId: string): Promise<Models.UserStations>;
  getStation(stationId: string): Promise<Models.Station | undefined>;
  /** Every station of the org (paged), so a station's type is known before anyone logs in to it. */
  listStations(): AsyncIterable<Models.Station>;
  createChannel(): Promise<Models.Channel>;
  /** Replaces the channel's subscriptions (also extends the channel's life by 24 h). */
  putSubscriptions(channelId: string, topics: readonly string[]): Promise<Models.ChannelTopicEntityListing>;
  channelExists(channelId: string): Promise<boolean>;
  /**
   * Removes every subscription of a channel custody gives up (the platform has no call that deletes a channel):
   * it stops receiving events and, having no socket, is the first one Genesys removes when a new channel would
   * exceed the 20-channel limit. A channel that no longer exists counts as done.
   */
  deleteSubscriptions(channelId: string): Promise<void>;
  getCallConversation(conversationId: string): Promise<Models.CallConversation | undefined>;
  /** Conversations overlapping `interval` (ISO `start/end`) in which any of `userIds` took part. */
  queryConversationDetails(
    interval: string,
    userIds: readonly string[],
  ): Promise<Models.AnalyticsConversationWithoutAttributes[]>;
}

/** Connection settings and retry tuning (see {@link GenesysPlatformClientOptions}). */
export type SdkGenesysApiOptions = GenesysPlatformClientOptions;

export class SdkGenesysApi implements GenesysApi {
  readonly #client: GenesysPlatformClient;

  constructor(opts: SdkGenesysApiOptions) {
    this.#client = new GenesysPlatformClient(opts);
  }

  onTokenRenewed(listener: () => void): void {
    this.#client.onTokenRenewed(listener);
  }

  /** Stops the renewal timer. */
  close(): void {
    this.#client.close();
  }

  #call<T>(operation: string, fn: () => Promise<unknown>): Promise<T> {
    return this.#client.call<T>(operation, fn);
  }

  async *listUsers(): AsyncIterable<Models.User> {
    const api = new platformClient.UsersApi(this.#client.sdk);
    for (let pageNumber = 1; ; pageNumber++) {
      const page = await this.#call<Models.UserEntityListing>('GET /api/v2/users', () =>
        api.getUsers({ pageSize: 500, pageNumber, state: 'active' }),
      );
      for (const u of page.entities ?? []) yield u;
      if (!page.pageCount || pageNumber >= page.pageCount || (page.entities ?? []).length === 0) return;
    }
  }

  getUserStations(userId: string): Promise<Models.UserStations> {
    const api = new platformClient.UsersApi(this.#client.sdk);
    return this.#call('GET /api/v2/users/{id}/station', () => api.getUserStation(userId));
  }

  async *listStations(): AsyncIterable<Models.Station> {
    const api = new platformClient.StationsApi(this.#client.sdk);
    for (let pageNumber = 1; ; pageNumber++) {
      const page = await this.#call<Models.StationEntityListing>('GET /api/v2/stations', () =>
        api.getStations({ pageSize: 100, pageNumber }),
      );
      for (const s of page.entities ?? []) yield s;
      if (!page.pageCount || pageNumber >= page.pageCount || (page.entities ?? []).length === 0) return;
    }
  }

  async getStation(stationId: string): Promise<Models.Station | undefined> {
    const api = new platformClient.StationsApi(this.#client.sdk);
    try {
      return await this.#call<Models.Station>('GET /api/v2/stations/{id}', () => api.getStation(stationId));
    } catch (e) {
      if (e instanceof GenesysApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  createChannel(): Promise<Models.Channel> {
    const api = new platformClient.NotificationsApi(this.#client.sdk);
    return this.#call('POST /api/v2/notifications/channels', () => api.postNotificationsChannels());
  }

  putSubscriptions(channelId: string, topics: readonly string[]): Promise<Models.ChannelTopicEntityListing> {
    const api = new platformClient.NotificationsApi(this.#client.sdk);
    return this.#call('PUT /api/v2/notifications/channels/{id}/subscriptions', () =>
      api.putNotificationsChannelSubscriptions(
        channelId,
        topics.map((id) => ({ id })),
        { ignoreErrors: true },
      ),
    );
  }

  async channelExists(channelId: string): Promise<boolean> {
    const api = new platformClient.NotificationsApi(this.#client.sdk);
    try {
      await this.#call('HEAD /api/v2/notifications/channels/{id}', () =>
        api.headNotificationsChannel(channelId),
      );
      return true;
    } catch (e) {
      if (e instanceof GenesysApiError && e.status === 404) return false;
      throw e;
    }
  }

  async deleteSubscriptions(channelId: string): Promise<void> {
    const api = new platformClient.NotificationsApi(this.#client.sdk);
    try {
      await this.#call('DELETE /api/v2/notifications/channels/{id}/subscriptions', () =>
        api.deleteNotificationsChannelSubscriptions(channelId),
      );
    } catch (e) {
      if (e instanceof GenesysApiError && e.status === 404) return;
      throw e;
    }
  }

  async getCallConversation(conversationId: string): Promise<Models.CallConversation | undefined> {
    const api = new platformClient.ConversationsApi(this.#client.sdk);
    try {
      return await this.#call<Models.CallConversation>('GET /api/v2/conversations/calls/{id}', () =>
        api.getConversationsCall(conversationId),
      );
    } catch (e) {
      if (e instanceof GenesysApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async queryConversationDetails(
    interval: string,
    userIds: readonly string[],
  ): Promise<Models.AnalyticsConversationWithoutAttributes[]> {
    const api = new platformClient.AnalyticsApi(this.#client.sdk);
    const out: Models.AnalyticsConversationWithoutAttributes[] = [];
    for (let pageNumber = 1; ; pageNumber++) {
      const body: Models.ConversationQuery = {
        interval,
        order: 'asc',
        orderBy: 'conversationStart',
        paging: { pageSize: 100, pageNumber },
        segmentFilters: [
          {
            type: 'or',
            predicates: userIds.map((id) => ({
              type: 'dimension',
              dimension: 'userId',
              operator: 'matches',
              value: id,
            })),
          },
        ],
      };
      const res = await this.#call<Models.AnalyticsConversationQueryResponse>(
        'POST /api/v2/analytics/conversations/details/query',
        () => api.postAnalyticsConversationsDetailsQuery(body),
      );
      const page = res.conversations ?? [];
      out.push(...page);
      if (page.length < 100 || out.length >= (res.totalHits ?? 0)) return out;
    }
  }
}
