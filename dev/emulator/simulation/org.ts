/**
 * The simulated org: users, queues and stations. The layout guarantees that every conversation kind can
 * be built from an org made with default options: users 0–2 are WebRTC softphone users (user 0 with a
 * persistent connection and one line appearance), user 3 has a SIP desk phone (`inin_physical`), user 4
 * an `inin_remote` station, user 5 no station; further users are mostly WebRTC
 * (30% of them persistent). One extra desk phone is
 * a shared hot desk that nobody is logged into.
 */
import type { SimOrg, SimQueue, SimStation, SimUser, StationType } from '../model.ts';
import type { Rng } from './rng.ts';
import { deskPhoneExtension } from './conventions.ts';

const FIRST_NAMES = [
  'Ada',
  'Bruno',
  'Chloe',
  'Dev',
  'Elena',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kemi',
  'Liam',
  'Maya',
  'Nils',
  'Olga',
  'Priya',
  'Quinn',
  'Rosa',
  'Sami',
  'Tara',
  'Umar',
  'Vera',
  'Wes',
  'Yara',
] as const;
const LAST_NAMES = [
  'Almeida',
  'Berg',
  'Costa',
  'Dubois',
  'Eriksen',
  'Fischer',
  'Garcia',
  'Hansen',
  'Ito',
  'Jensen',
  'Kowalski',
  'Larsen',
  'Moreau',
  'Novak',
  'Okafor',
  'Petrov',
  'Rossi',
  'Silva',
  'Tanaka',
  'Weber',
] as const;
const QUEUE_NAMES = ['Sales', 'Support', 'Billing', 'Retention', 'Claims', 'Onboarding', 'Escalations'];

/** Minimum user count for which every conversation kind can be built. */
export const MIN_USERS = 6;

/**
 * Creates a simulated org (default 12 users, 3 queues).
 * @throws Error when fewer than {@link MIN_USERS} users or no queue are asked for.
 */
export function createOrg(
  rng: Rng,
  opts: { users?: number; queues?: number; webRtcPublicIpShare?: number } = {},
): SimOrg {
  const share = opts.webRtcPublicIpShare;
  if (share !== undefined && !(share >= 0 && share <= 1)) {
    throw new Error(`createOrg: webRtcPublicIpShare must be within 0..1, got ${share}`);
  }
  const userCount = opts.users ?? 12;
  const queueCount = opts.queues ?? 3;
  if (!Number.isInteger(userCount) || userCount < MIN_USERS) {
    throw new Error(`createOrg: users must be an integer >= ${MIN_USERS}, got ${userCount}`);
  }
  if (!Number.isInteger(queueCount) || queueCount < 1) {
    throw new Error(`createOrg: queues must be an integer >= 1, got ${queueCount}`);
  }
  const orgId = rng.uuid();
  const divisionId = rng.uuid();
  const cloudEdgeId = rng.uuid();
  const siteEdgeId = rng.uuid();
  const queues: SimQueue[] = Array.from({ length: queueCount }, (_, i) => ({
    id: rng.uuid(),
    name: i < QUEUE_NAMES.length ? (QUEUE_NAMES[i] ?? `Queue ${i + 1}`) : `Queue ${i + 1}`,
  }));

  const users: SimUser[] = [];
  const stations: SimStation[] = [];
  const usedNames = new Set<string>();
  for (let i = 0; i < userCount; i++) {
    let name = `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
    while (usedNames.has(name)) name = `${name} ${usedNames.size}`;
    usedNames.add(name);
    const id = rng.uuid();
    const type = stationTypeFor(i);
    const persistent = i === 0 || (i >= MIN_USERS && type === 'inin_webrtc_softphone' && rng.bool(0.3));
    let stationId: string | undefined;
    if (type !== undefined) {
      const station = makeStation(
        rng,
        type,
        id,
        name,
        persistent,
        type === 'inin_physical' ? siteEdgeId : cloudEdgeId,
      );
      stations.push(station);
      stationId = station.id;
    }
    const firstQueue = i < queueCount ? i : rng.int(0, queueCount - 1);
    const queueIds = [queues[firstQueue]?.id ?? ''];
    if (queueCount > 1 && rng.bool(0.4)) {
      const second = queues[(firstQueue + rng.int(1, queueCount - 1)) % queueCount]?.id;
      if (second !== undefined) queueIds.push(second);
    }
    users.push({
      id,
      name,
      email: `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@example.com`,
      divisionId,
      ...(stationId === undefined ? {} : { stationId }),
      queueIds,
    });
  }
  stations.push(makeStation(rng, 'inin_physical', undefined, 'Hot desk', false, siteEdgeId));

  return {
    orgId,
    name: `Simulated Org ${orgId.slice(0, 8)}`,
    divisionId,
    users,
    queues,
    stations,
    integrationId: rng.uuid(),
    ...(share === undefined ? {} : { webRtcPublicIpShare: share }),
  };
}

function stationTypeFor(index: number): StationType | undefined {
  if (index <= 2) return 'inin_webrtc_softphone';
  if (index === 3) return 'inin_physical';
  if (index === 4) return 'inin_remote';
  if (index === 5) return undefined;
  // Later users: mostly WebRTC, with one desk phone and one remote station in every eight.
  if (index % 8 === 3) return 'inin_physical';
  return index % 8 === 4 ? 'inin_remote' : 'inin_webrtc_softphone';
}

function makeStation(
  rng: Rng,
  type: StationType,
  userId: string | undefined,
  userName: string,
  persistent: boolean,
  edgeId: string,
): SimStation {
  const id = rng.uuid();
  const base = { id, type, primaryEdgeId: edgeId, ...(userId === undefined ? {} : { userId }) };
  switch (type) {
    case 'inin_webrtc_softphone':
      // UNCONFIRMED: 100 call appearances for non-persistent WebRTC phones; 1 enables multiplexing.
      return {
        ...base,
        name: `WebRTC Phone - ${userName}`,
        webRtcPersistentEnabled: persistent,
        webRtcCallAppearances: persistent ? 1 : 100,
        lineAppearanceId: rng.uuid(),
      };
    case 'inin_physical': {
      const station: SimStation = {
        ...base,
        name: '',
        webRtcPersistentEnabled: false,
        lineAppearanceId: rng.uuid(),
      };
      return { ...station, name: `Desk Phone ${deskPhoneExtension(station)} (${userName})` };
    }
    case 'inin_remote':
      return { ...base, name: `Remote - ${userName}`, webRtcPersistentEnabled: false };
  }
}

/** The station a user is on at org creation, if any. */
export function stationOf(org: SimOrg, user: SimUser): SimStation | undefined {
  return user.stationId === undefined ? undefined : org.stations.find((s) => s.id === user.stationId);
}

/** Users whose current station has the given type (and persistence, when asked). */
export function usersOnStation(
  org: SimOrg,
  type: StationType,
  persistent?: boolean,
): Array<{ user: SimUser; station: SimStation }> {
  const out: Array<{ user: SimUser; station: SimStation }> = [];
  for (const user of org.users) {
    const station = stationOf(org, user);
    if (station?.type !== type) continue;
    if (persistent !== undefined && station.webRtcPersistentEnabled !== persistent) continue;
    out.push({ user, station });
  }
  return out;
}
