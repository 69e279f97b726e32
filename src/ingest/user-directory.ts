/**
 * What ingest knows about users: who they are (to subscribe to their topics), which station each uses
 * and whether it is a WebRTC softphone, and the persistent-connection state of their softphone.
 *
 * Conversation events do not say which station a leg used or its type (genesys.md §3.1-3.2), so the
 * station is resolved through REST (`GET /api/v2/users/{id}/station`, `GET /api/v2/stations/{id}`),
 * cached per station id, and refreshed when a `v2.users.{id}.station` event says it changed.
 */
import type { Models } from 'purecloud-platform-client-v2';
import type { GenesysApi } from './genesys-api.ts';

export interface UserContext {
  readonly stationId?: string;
  readonly stationType?: string;
  readonly persistentConnectionState?: string;
  /** When custody learnt the station (receive or REST time), epoch ms. */
  readonly stationKnownAt?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class UserDirectory {
  readonly #api: GenesysApi;
  readonly #now: () => number;
  readonly #users = new Map<string, UserContext>();
  readonly #stationTypes = new Map<string, string>();
  #listener: ((userId: string, context: UserContext | undefined) => void) | undefined;

  constructor(api: GenesysApi, now: () => number = () => Date.now()) {
    this.#api = api;
    this.#now = now;
  }

  userIds(): string[] {
    return [...this.#users.keys()].sort();
  }

  /** Told of every change to a user's context (undefined: the user is gone), as it happens. */
  onChange(listener: (userId: string, context: UserContext | undefined) => void): void {
    this.#listener = listener;
  }

  #put(userId: string, context: UserContext | undefined): void {
    if (context === undefined) this.#users.delete(userId);
    else this.#users.set(userId, context);
    this.#listener?.(userId, context);
  }

  context(userId: string): UserContext | undefined {
    return this.#users.get(userId);
  }

  /**
   * Loads every active user and resolves their effective station. Returns the user ids; ids that are not
   * UUIDs are skipped and returned separately (they would become topic names and Kafka keys).
   */
  async load(): Promise<{ userIds: string[]; invalid: string[] }> {
    const invalid: string[] = [];
    const seen = new Set<string>();
    for await (const user of this.#api.listUsers()) {
      if (!user.id || !UUID.test(user.id)) {
        invalid.push(String(user.id));
        continue;
      }
      seen.add(user.id);
      if (!this.#users.has(user.id)) this.#put(user.id, {});
    }
    for (const id of [...this.#users.keys()]) if (!seen.has(id)) this.#put(id, undefined);
    // Every station's type, so a user who logs in to a station (hot desk) later is resolved at once: a call can
    // follow a login within seconds, before a per-station lookup would answer.
    for await (const station of this.#api.listStations())
      if (station.id && station.type) this.#stationTypes.set(station.id, station.type);
    // Sequential on purpose: a large org would otherwise burst past the API rate limit at start-up.
    for (const id of seen) await this.refreshStation(id);
    return { userIds: [...seen].sort(), invalid };
  }

  /** Re-reads a user's effective station (after a station event, or at start-up). */
  async refreshStation(userId: string): Promise<void> {
    const stations: Models.UserStations = await this.#api.getUserStations(userId);
    const effective = stations.effectiveStation ?? stations.associatedStation;
    await this.#setStation(userId, effective?.id, effective?.type);
  }

  /** A `v2.users.{id}.station` event: the body names the station but not its type, so resolve it. */
  async onStationEvent(userId: string, stationId: string | undefined): Promise<void> {
    await this.#setStation(userId, stationId, undefined);
  }

  onPersistentConnection(userId: string, state: string | undefined): void {
    const prev = this.#users.get(userId) ?? {};
    this.#put(userId, { ...prev, persistentConnectionState: state });
  }

  async #setStation(
    userId: string,
    stationId: string | undefined,
    knownType: string | undefined,
  ): Promise<void> {
    const prev = this.#users.get(userId) ?? {};
    const cached = stationId ? (knownType ?? this.#stationTypes.get(stationId)) : undefined;
    // The station id is in the event itself: it holds from now on, before its type is looked up (a call can
    // start right after a hot-desk login).
    const next: UserContext = { ...prev, stationId, stationType: cached, stationKnownAt: this.#now() };
    this.#put(userId, next);
    if (stationId && cached) this.#stationTypes.set(stationId, cached);
    if (!stationId || cached) return;
    const type = (await this.#api.getStation(stationId))?.type;
    if (type) this.#stationTypes.set(stationId, type);
    // A later station event (a logout, another login) may have come in while this lookup ran: it wins.
    if (this.#users.get(userId) !== next) return;
    this.#put(userId, { ...next, stationType: type });
  }
}
