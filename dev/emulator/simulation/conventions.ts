/**
 * Values the real platform shows but which the research could not confirm (docs/research genesys.md
 * §2.4, §3.2, §6 item 7/8). Each choice lives here, in one place, so it can be changed when a live
 * org shows otherwise.
 *
 * UNCONFIRMED choices (the emulator's assumptions):
 * - `provider` on every voice leg (events, detail events, analytics) is `"Edge"`.
 * - A WebRTC softphone leg's address is `sip:{24 hex}+{org}.orgspan.com;tgrp={station id};trunk-context={org}@localhost`
 *   (the shape real legs show; the 24 hex digits are derived from the user id here, the org short name from the
 *   org id). ACD and IVR legs: `sip:{queue or flow id}@127.0.0.1;language=en-US;user=acd|ivr`.
 * - The conversation body's `address` is the caller's number (inbound) or the dialled number (outbound).
 * - Agent legs on ACD calls carry `mediaRoles` ["full"], `queueMediaSettings` (the queue's alerting timeout),
 *   `wrapupPrompt` "mandatory", `transferSource` "Acd" and, after after-call work, `startAcwTime`/`endAcwTime`
 *   and `wrapup` (the org's one wrap-up code); user (non-ACD) legs carry `mediaRoles` only.
 * - A SIP desk phone (`inin_physical`) leg's self address is `sip:{extension}@{phone LAN IP}` with the
 *   LAN IP in TEST-NET-1 (192.0.2.0/24); an `inin_remote` leg's is the remote number `tel:+1…`.
 * - `publicIpAddress` (event models only, SDK >= 257) is the softphone client's public IP, set only on
 *   WebRTC user legs, and only for a configurable share of users (`SimOrg.webRtcPublicIpShare`, default 0.2:
 *   real frames mostly lack it); stable per user; drawn from TEST-NET-2/3 (198.51.100.0/24, 203.0.113.0/24).
 *   REST `Call`/`CallMediaParticipant` also has `clientIpAddress` (SDK v262); whether the platform fills
 *   it is unknown, so the emulator leaves it out (custody must not depend on it).
 * - Detail-event `sessionId`, analytics `sessionId` and `RecordingMetadata.sessionId` all equal the
 *   leg's communication id (`calls[].id`).
 * - Agent legs have purpose `"agent"` on ACD calls (also after a transfer) and `"user"` on direct and
 *   outbound calls; the far end of an outbound call is `"external"`.
 * - `peerId`: agent/user legs point at the customer's (or external party's) communication; the external
 *   leg of an outbound call points back at the user's; the customer leg of an ACD call has none.
 * - Phone numbers use the fictional 555-01xx range.
 */
import { createHash } from 'node:crypto';
import type { SimOrg, SimStation } from '../model.ts';

export const VOICE_PROVIDER = 'Edge';

/** 32-bit FNV-1a, for values derived from ids (stable per entity, independent of the rng stream). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The org's short name in SIP addresses (real orgs use their org name). */
export function orgShortName(org: Pick<SimOrg, 'orgId'>): string {
  return `sim${org.orgId.slice(0, 8)}`;
}

export function webRtcSelfAddress(org: Pick<SimOrg, 'orgId'>, userId: string, stationId: string): string {
  const hex = createHash('sha256').update(`webrtc/${userId}`).digest('hex').slice(0, 24);
  const name = orgShortName(org);
  return `sip:${hex}+${name}.orgspan.com;tgrp=${stationId};trunk-context=${name}@localhost`;
}

/** The address of a queue's ACD leg or a flow's IVR leg. */
export function routingLegAddress(id: string, user: 'acd' | 'ivr'): string {
  return `sip:${id}@127.0.0.1;language=en-US;user=${user}`;
}

export const AGENT_MEDIA_ROLES: readonly string[] = ['full'];
export const WRAPUP_PROMPT = 'mandatory';
export const ACD_TRANSFER_SOURCE = 'Acd';
/** The org's wrap-up code applied at the end of after-call work (one code, stable). */
export const WRAPUP_CODE_ID = '7c1d5e2a-9b3f-4e8d-a6c0-2f4b8e1d9a53';

export function deskPhoneExtension(station: SimStation): string {
  return String(2000 + (hash32(station.id) % 1000));
}

export function deskPhoneSelfAddress(station: SimStation): string {
  return `sip:${deskPhoneExtension(station)}@192.0.2.${10 + (hash32(`${station.id}/lan`) % 200)}`;
}

/** The number an `inin_remote` station rings (the agent's own phone). */
export function remoteStationNumber(station: SimStation): string {
  return `tel:+1317555${String(100 + (hash32(station.id) % 100)).padStart(4, '0')}`;
}

/** The public IP a user's softphone client connects from (stable per user). */
export function publicIpFor(userId: string): string {
  const h = hash32(userId);
  const net = h % 2 === 0 ? '198.51.100' : '203.0.113';
  return `${net}.${1 + ((h >>> 1) % 254)}`;
}

/**
 * Whether a user's softphone legs carry `publicIpAddress`: true for about `share` of users, stable per user (real
 * call frames mostly lack the field, even for WebRTC agents).
 */
export function sendsPublicIp(userId: string, share: number): boolean {
  return hash32(`${userId}/public-ip`) % 1000 < Math.round(share * 1000);
}

/** The org's inbound number (DNIS) for a queue, by its index. */
export function queueDid(queueIndex: number): string {
  return `tel:+1800555${String(100 + (queueIndex % 100)).padStart(4, '0')}`;
}

/** The caller id the org presents on outbound calls. */
export const ORG_OUTBOUND_ANI = 'tel:+18005550199';

export function fictionalNumber(areaCode: number, line: number): string {
  return `tel:+1${areaCode}555${String(100 + (line % 100)).padStart(4, '0')}`;
}
