/**
 * Factories for participant legs: the customer and ACD legs of an inbound call, the external leg of an
 * outbound call, and user/agent legs on each station type. Address formats and the other UNCONFIRMED
 * conventions are in conventions.ts.
 */
import type { SimOrg, SimStation, SimUser } from '../model.ts';
import type { Rng } from './rng.ts';
import type { CallState, Direction, Endpoint, Leg, Purpose } from './call-state.ts';
import {
  deskPhoneSelfAddress,
  fictionalNumber,
  publicIpFor,
  remoteStationNumber,
  routingLegAddress,
  sendsPublicIp,
  webRtcSelfAddress,
} from './conventions.ts';
import { DEFAULT_WEBRTC_PUBLIC_IP_SHARE } from '../model.ts';

const CALLER_NAMES = ['WIRELESS CALLER', 'Mobile Caller', 'J SMITH', 'ACME LOGISTICS', 'M GARCIA', 'UNKNOWN'];
const AREA_CODES = [212, 303, 317, 415, 512, 617, 702, 919] as const;

/** An endpoint for a `tel:` or `sip:` address; `addressDisplayable` drops the scheme. */
export function endpoint(address: string, name?: string): Endpoint {
  return {
    ...(name === undefined ? {} : { name }),
    addressRaw: address,
    addressNormalized: address,
    addressDisplayable: address.replace(/^(tel|sip):/, ''),
  };
}

/** A fictional external phone number and caller-id name. */
export function externalParty(rng: Rng): { number: string; name: string } {
  return { number: fictionalNumber(rng.pick(AREA_CODES), rng.int(0, 99)), name: rng.pick(CALLER_NAMES) };
}

/** The inbound call flow in front of every queue (one per org; its id derived from the org id). */
export function inboundFlow(org: SimOrg): { id: string; name: string } {
  const hex = org.orgId.replace(/-/g, '').split('').reverse().join('');
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  return { id, name: 'Main Inbound Flow' };
}

/** The Edge that carries trunk (PSTN) media: the cloud edge of the WebRTC stations. */
export function trunkEdgeId(org: SimOrg): string {
  const station = org.stations.find((s) => s.type === 'inin_webrtc_softphone') ?? org.stations[0];
  return station?.primaryEdgeId ?? org.orgId;
}

function baseLeg(
  rng: Rng,
  fields: Pick<
    Leg,
    'purpose' | 'direction' | 'name' | 'address' | 'self' | 'other' | 'startTime' | 'ani' | 'dnis' | 'edgeId'
  > & {
    initialState: CallState;
    connected: boolean;
  },
): Leg {
  const { connected, ...rest } = fields;
  return {
    participantId: rng.uuid(),
    communicationId: rng.uuid(),
    protocolCallId: rng.uuid(),
    ...rest,
    // An inbound call is `offering` at first and connected at once to the flow/queue (real customer/ACD legs).
    state: connected ? 'connected' : fields.initialState,
    ...(connected ? { connectedTime: fields.startTime } : {}),
    held: false,
    confined: false,
    recording: false,
    recordingState: 'none',
    wrapupRequired: false,
    holds: [],
  };
}

/** The caller on an inbound call, connected (to the flow/queue) from `at`. */
export function customerLeg(
  rng: Rng,
  org: SimOrg,
  at: number,
  caller: { number: string; name: string },
  dnis: string,
): Leg {
  return baseLeg(rng, {
    purpose: 'customer',
    direction: 'inbound',
    name: caller.name,
    address: caller.number,
    self: endpoint(caller.number, caller.name),
    other: endpoint(dnis),
    startTime: at,
    ani: caller.number,
    dnis,
    edgeId: trunkEdgeId(org),
    initialState: 'offering',
    connected: true,
  });
}

/** A routing participant (a flow's IVR or a queue's ACD) answering the customer's inbound call from `at`. */
function routingLeg(
  rng: Rng,
  org: SimOrg,
  at: number,
  purpose: 'ivr' | 'acd',
  target: { id: string; name: string },
  customer: Leg,
): Leg {
  const address = routingLegAddress(target.id, purpose);
  return {
    ...baseLeg(rng, {
      purpose,
      direction: 'inbound',
      name: target.name,
      address,
      self: endpoint(address, target.name),
      other: customer.self,
      startTime: at,
      ani: customer.ani,
      dnis: customer.dnis,
      edgeId: trunkEdgeId(org),
      initialState: 'offering',
      connected: true,
    }),
    peerId: customer.communicationId,
  };
}

/**
 * The flow's IVR participant that answers an inbound call before it reaches a queue (real inbound calls have one),
 * connected from `at`; the flow transfers it to ACD and the leg ends `terminated`.
 */
export function ivrLeg(
  rng: Rng,
  org: SimOrg,
  at: number,
  flow: { id: string; name: string },
  customer: Leg,
): Leg {
  return routingLeg(rng, org, at, 'ivr', flow, customer);
}

/** The queue's ACD participant, connected while the call waits, peered with the customer leg. */
export function acdLeg(
  rng: Rng,
  org: SimOrg,
  at: number,
  queue: { id: string; name: string },
  customer: Leg,
): Leg {
  return { ...routingLeg(rng, org, at, 'acd', queue, customer), queueId: queue.id };
}

/** The far end of an outbound call, contacting from `at`. */
export function externalLeg(
  rng: Rng,
  org: SimOrg,
  at: number,
  callee: { number: string; name: string },
  ani: string,
  peer: Leg,
): Leg {
  return {
    ...baseLeg(rng, {
      purpose: 'external',
      direction: 'outbound',
      name: callee.name,
      address: callee.number,
      self: endpoint(callee.number, callee.name),
      other: endpoint(ani),
      startTime: at,
      ani,
      dnis: callee.number,
      edgeId: trunkEdgeId(org),
      initialState: 'contacting',
      connected: false,
    }),
    peerId: peer.communicationId,
  };
}

/** The self address of a user's leg, by station type. */
export function userSelfAddress(org: SimOrg, user: SimUser, station: SimStation): string {
  switch (station.type) {
    case 'inin_webrtc_softphone':
      return webRtcSelfAddress(org, user.id, station.id);
    case 'inin_physical':
      return deskPhoneSelfAddress(station);
    case 'inin_remote':
      return remoteStationNumber(station);
  }
}

export interface UserLegOptions {
  readonly at: number;
  readonly purpose: Extract<Purpose, 'agent' | 'user'>;
  readonly direction: Direction;
  readonly initialState: Extract<CallState, 'alerting' | 'dialing'>;
  readonly other: Endpoint;
  readonly ani: string;
  readonly dnis: string;
  readonly peerId?: string;
  readonly queueId?: string;
  readonly alertingTimeoutMs?: number;
}

/** A user's (agent's) leg on their station; WebRTC legs of some users carry the client's public IP. */
export function userLeg(
  rng: Rng,
  org: SimOrg,
  user: SimUser,
  station: SimStation,
  opts: UserLegOptions,
): Leg {
  const self = userSelfAddress(org, user, station);
  const leg = baseLeg(rng, {
    purpose: opts.purpose,
    direction: opts.direction,
    name: user.name,
    address: self,
    self: endpoint(self, user.name),
    other: opts.other,
    startTime: opts.at,
    ani: opts.ani,
    dnis: opts.dnis,
    edgeId: station.primaryEdgeId ?? trunkEdgeId(org),
    initialState: opts.initialState,
    connected: false,
  });
  return {
    ...leg,
    userId: user.id,
    station,
    ...(opts.queueId === undefined ? {} : { queueId: opts.queueId }),
    ...(opts.peerId === undefined ? {} : { peerId: opts.peerId }),
    ...(opts.alertingTimeoutMs === undefined ? {} : { alertingTimeoutMs: opts.alertingTimeoutMs }),
    ...(station.type === 'inin_webrtc_softphone' &&
    sendsPublicIp(user.id, org.webRtcPublicIpShare ?? DEFAULT_WEBRTC_PUBLIC_IP_SHARE)
      ? { publicIpAddress: publicIpFor(user.id) }
      : {}),
  };
}
