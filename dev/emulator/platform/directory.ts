/**
 * Directory endpoints: `GET /api/v2/users` (paged), `GET /api/v2/users/{id}/station` and
 * `GET /api/v2/stations/{id}`. Station associations start from the org (users' initial stations, at
 * emulator start) and follow every script's `stationChanges` whose time has come.
 */
import type { Models } from 'purecloud-platform-client-v2';
import type { ConversationScript, SimOrg, SimStation, SimUser } from '../model.ts';
import { apiError } from './context.ts';
import type { ApiRequest, ApiResponse, PlatformContext } from './context.ts';

/** A page of a Genesys `*EntityListing`. */
export interface EntityListing<T> {
  entities: T[];
  pageSize: number;
  pageNumber: number;
  total: number;
  pageCount: number;
  firstUri: string;
  lastUri: string;
  selfUri: string;
  nextUri?: string;
  previousUri?: string;
}

/** Validated `pageSize`/`pageNumber` query parameters, or the 400 the real API answers. */
export function readPaging(
  query: URLSearchParams,
  maxPageSize: number,
  defaultPageSize = 25,
): { pageSize: number; pageNumber: number } | ApiResponse {
  const size = readPositiveInt(query.get('pageSize'), defaultPageSize);
  const number = readPositiveInt(query.get('pageNumber'), 1);
  if (size === undefined || size > maxPageSize) {
    return apiError(400, 'bad.request', `pageSize must be an integer from 1 to ${maxPageSize}`);
  }
  if (number === undefined) return apiError(400, 'bad.request', 'pageNumber must be a positive integer');
  return { pageSize: size, pageNumber: number };
}

/** Cuts one page out of `all` and builds the listing's navigation URIs (other query params kept). */
export function pageListing<T>(
  all: readonly T[],
  paging: { pageSize: number; pageNumber: number },
  path: string,
  query: URLSearchParams,
): EntityListing<T> {
  const { pageSize, pageNumber } = paging;
  const pageCount = Math.max(1, Math.ceil(all.length / pageSize));
  const uri = (n: number): string => {
    const q = new URLSearchParams(query);
    q.set('pageSize', String(pageSize));
    q.set('pageNumber', String(n));
    return `${path}?${q.toString()}`;
  };
  return {
    entities: all.slice((pageNumber - 1) * pageSize, pageNumber * pageSize),
    pageSize,
    pageNumber,
    total: all.length,
    pageCount,
    firstUri: uri(1),
    lastUri: uri(pageCount),
    selfUri: uri(pageNumber),
    ...(pageNumber < pageCount ? { nextUri: uri(pageNumber + 1) } : {}),
    ...(pageNumber > 1 ? { previousUri: uri(Math.min(pageNumber - 1, pageCount)) } : {}),
  };
}

function readPositiveInt(raw: string | null, fallback: number): number | undefined {
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= 1 ? n : undefined;
}

/** Who is on which station at one moment of simulated time. */
export interface StationState {
  /** userId → current station (absent when logged out of every station). */
  readonly userStation: ReadonlyMap<string, { stationId: string; associatedAt: number }>;
  /** userId → the station the user was last associated with (kept after logout). */
  readonly lastStation: ReadonlyMap<string, { stationId: string; associatedAt: number }>;
  /** stationId → user currently associated with it. */
  readonly stationUser: ReadonlyMap<string, string>;
}

/**
 * Whether `script`'s logout of `userId` at `at` comes while another of the user's calls still holds a station
 * login (another script logged the user in by then and logs out later, or never): the platform neither routes
 * a second voice call to a busy agent nor logs an agent off the desk mid-call, but random traffic may give one
 * hot-desk user overlapping calls, so the earlier call's logout must not end the later call's association.
 */
export function logoutSuperseded(
  scripts: readonly Pick<ConversationScript, 'stationChanges'>[],
  script: Pick<ConversationScript, 'stationChanges'>,
  userId: string,
  at: number,
): boolean {
  for (const other of scripts) {
    if (other === script) continue;
    const mine = other.stationChanges.filter((c) => c.userId === userId);
    if (!mine.some((c) => c.stationId !== undefined && c.at <= at)) continue;
    const logout = mine.find((c) => c.stationId === undefined);
    if (logout === undefined || logout.at > at) return true;
  }
  return false;
}

/**
 * Replays station associations up to `now`: initial stations (associated at `bootTime`), then every
 * script's station changes with `at <= now`, in time order (a logout {@link logoutSuperseded} is skipped).
 */
export function stationStateAt(ctx: PlatformContext, bootTime: number, now: number): StationState {
  const userStation = new Map<string, { stationId: string; associatedAt: number }>();
  const lastStation = new Map<string, { stationId: string; associatedAt: number }>();
  for (const user of ctx.org.users) {
    if (user.stationId) {
      userStation.set(user.id, { stationId: user.stationId, associatedAt: bootTime });
      lastStation.set(user.id, { stationId: user.stationId, associatedAt: bootTime });
    }
  }
  // Only the scripts that change a station can hold a login (logoutSuperseded looks through them).
  const scripts = ctx.conversations.all().filter((script) => script.stationChanges.length > 0);
  const changes = scripts
    .flatMap((script) => script.stationChanges.map((change) => ({ script, change })))
    .filter(({ change }) => change.at <= now)
    .sort((a, b) => a.change.at - b.change.at);
  for (const { script, change } of changes) {
    if (change.stationId === undefined && logoutSuperseded(scripts, script, change.userId, change.at))
      continue;
    if (change.stationId) {
      // A station serves one user: associating it elsewhere ends the previous association.
      for (const [userId, current] of userStation) {
        if (current.stationId === change.stationId && userId !== change.userId) userStation.delete(userId);
      }
      const assoc = { stationId: change.stationId, associatedAt: change.at };
      userStation.set(change.userId, assoc);
      lastStation.set(change.userId, assoc);
    } else {
      userStation.delete(change.userId);
    }
  }
  const stationUser = new Map<string, string>();
  for (const [userId, { stationId }] of userStation) stationUser.set(stationId, userId);
  return { userStation, lastStation, stationUser };
}

/** The REST `User` for a simulated user (expand options are not modelled). */
export function userEntity(org: SimOrg, user: SimUser): Models.User {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    username: user.email,
    state: 'active',
    version: 1,
    division: {
      id: user.divisionId,
      name: user.divisionId === org.divisionId ? 'Home' : undefined,
      selfUri: `/api/v2/authorization/divisions/${user.divisionId}`,
    },
    selfUri: `/api/v2/users/${user.id}`,
  };
}

/** The REST `Station` as seen at one moment. */
export function stationEntity(station: SimStation, state: StationState): Models.Station {
  const isWebRtc = station.type === 'inin_webrtc_softphone';
  const userId = state.stationUser.get(station.id);
  return {
    id: station.id,
    name: station.name,
    status: userId ? 'ASSOCIATED' : 'AVAILABLE',
    userId,
    // "Empty if station type is not inin_webrtc_softphone" — omitted rather than ''.
    webRtcUserId: isWebRtc ? station.userId : undefined,
    type: station.type,
    lineAppearanceId: station.lineAppearanceId,
    webRtcPersistentEnabled: station.webRtcPersistentEnabled,
    webRtcForceTurn: false,
    webRtcCallAppearances: isWebRtc ? station.webRtcCallAppearances : undefined,
    primaryEdge: station.primaryEdgeId
      ? { id: station.primaryEdgeId, selfUri: `/api/v2/telephony/providers/edges/${station.primaryEdgeId}` }
      : undefined,
    selfUri: `/api/v2/stations/${station.id}`,
  };
}

/** Registers `GET /api/v2/users`, `GET /api/v2/users/:userId/station` and `GET /api/v2/stations/:stationId`. */
export function registerDirectoryRoutes(ctx: PlatformContext): void {
  // Initial station associations are dated at emulator start (org "creation").
  const bootTime = ctx.clock.now();
  const usersById = new Map(ctx.org.users.map((u) => [u.id, u]));
  const stationsById = new Map(ctx.org.stations.map((s) => [s.id, s]));

  ctx.routes.add('GET', '/api/v2/users', (req) => listUsers(ctx, req));

  ctx.routes.add('GET', '/api/v2/users/:userId/station', (req) => {
    const user = usersById.get(req.params.userId ?? '');
    if (!user) return apiError(404, 'not.found', `User ${req.params.userId ?? ''} not found`);
    const state = stationStateAt(ctx, bootTime, ctx.clock.now());
    const view = (
      assoc: { stationId: string; associatedAt: number } | undefined,
    ): Models.UserStation | undefined => {
      const station = assoc ? stationsById.get(assoc.stationId) : undefined;
      if (!assoc || !station) return undefined;
      return {
        id: station.id,
        name: station.name,
        type: station.type,
        associatedUser: { id: user.id, name: user.name, version: 1, selfUri: `/api/v2/users/${user.id}` },
        associatedDate: new Date(assoc.associatedAt).toISOString(),
        webRtcCallAppearances:
          station.type === 'inin_webrtc_softphone' ? station.webRtcCallAppearances : undefined,
      };
    };
    const associated = view(state.userStation.get(user.id));
    // The default station is the one configured at org creation; effective = associated, else default.
    const defaultStation = user.stationId
      ? view({ stationId: user.stationId, associatedAt: bootTime })
      : undefined;
    const body: Models.UserStations = {
      associatedStation: associated,
      effectiveStation: associated ?? defaultStation,
      defaultStation,
      lastAssociatedStation: view(state.lastStation.get(user.id)),
    };
    return { status: 200, body };
  });

  ctx.routes.add('GET', '/api/v2/stations', (req) => {
    const paging = readPaging(req.query, 100);
    if ('status' in paging) return paging;
    const state = stationStateAt(ctx, bootTime, ctx.clock.now());
    const listing: Models.StationEntityListing = pageListing(
      ctx.org.stations.map((s) => stationEntity(s, state)),
      paging,
      '/api/v2/stations',
      req.query,
    );
    return { status: 200, body: listing };
  });

  ctx.routes.add('GET', '/api/v2/stations/:stationId', (req) => {
    const station = stationsById.get(req.params.stationId ?? '');
    if (!station) return apiError(404, 'not.found', `Station ${req.params.stationId ?? ''} not found`);
    return { status: 200, body: stationEntity(station, stationStateAt(ctx, bootTime, ctx.clock.now())) };
  });
}

function listUsers(ctx: PlatformContext, req: ApiRequest): ApiResponse {
  const paging = readPaging(req.query, 500);
  if ('status' in paging) return paging;
  const ids = req.query.getAll('id').flatMap((v) => v.split(','));
  const state = req.query.get('state');
  if (state !== null && !['active', 'inactive', 'deleted', 'any'].includes(state)) {
    return apiError(400, 'bad.request', 'state must be one of active, inactive, deleted, any');
  }
  const sortOrder = (req.query.get('sortOrder') ?? 'ASC').toUpperCase();
  if (sortOrder !== 'ASC' && sortOrder !== 'DESC') {
    return apiError(400, 'bad.request', 'sortOrder must be ASC or DESC');
  }
  let users = ctx.org.users.filter((u) => ids.length === 0 || ids.includes(u.id));
  // Every simulated user is active.
  if (state === 'inactive' || state === 'deleted') users = [];
  const sorted = [...users].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  if (sortOrder === 'DESC') sorted.reverse();
  const listing: Models.UserEntityListing = pageListing(
    sorted.map((u) => userEntity(ctx.org, u)),
    paging,
    '/api/v2/users',
    req.query,
  );
  return { status: 200, body: listing };
}
