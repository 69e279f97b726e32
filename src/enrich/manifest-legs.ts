/**
 * Which participant leg a recording belongs to, and the per-leg summaries of a manifest.
 *
 * Selection rule (`recording-user-overlap/v1`), applied to the conversation's legs:
 * 1. Candidates are legs with a user id. If the metadata names the recording's users (`userIds`), only their legs.
 * 2. If the recording's start and end are known, only legs whose [connectedTime, disconnectedTime] overlaps
 *    [startTime, endTime]; an unknown connected/disconnected time leaves that side of the leg open.
 * 3. Among the candidates, prefer (in order): a WebRTC leg (`isWebRtc` true); the longest overlap with the
 *    recording; the earliest connectedTime (unknown last); then participantId, communicationId and the leg's
 *    canonical JSON as text — so several candidates always resolve the same way, whatever their input order.
 * The manifest reports the chosen leg and how many candidates there were, so an ambiguous choice is visible.
 */
import { canonicalize } from './canonical-json.ts';
import type { ExportMetadataFields } from './export-metadata.ts';

/** Where a tag value came from: seen live on the Notification API, or repaired later from REST/analytics. */
export type TagProvenance = 'live' | 'reconciled';

/** A captured session-tag value with its first-capture time (UTC ms ISO) and provenance. */
export type CapturedTag<T extends string | boolean> = Readonly<{
  value: T;
  firstCapturedAt: string;
  provenance: TagProvenance;
  /** What the value was read from (e.g. a topic name or an API path); never a payload. */
  source: string;
}>;

/** One participant leg as the manifest needs it; each field is `undefined` until captured. */
export type ManifestLegInput = Readonly<{
  participantId?: CapturedTag<string>;
  communicationId?: CapturedTag<string>;
  userId?: CapturedTag<string>;
  purpose?: CapturedTag<string>;
  direction?: CapturedTag<string>;
  stationId?: CapturedTag<string>;
  stationType?: CapturedTag<string>;
  isWebRtc?: CapturedTag<boolean>;
  peerId?: CapturedTag<string>;
  provider?: CapturedTag<string>;
  selfAddress?: CapturedTag<string>;
  otherAddress?: CapturedTag<string>;
  publicIpAddress?: CapturedTag<string>;
  /** Genesys's connected time (ISO-8601) as given. */
  connectedTime?: CapturedTag<string>;
  disconnectedTime?: CapturedTag<string>;
  persistentConnectionState?: CapturedTag<string>;
  recording?: CapturedTag<boolean>;
  // What happened on the leg (issue 11): times are Genesys's ISO-8601 text as given.
  state?: CapturedTag<string>;
  disconnectType?: CapturedTag<string>;
  held?: CapturedTag<boolean>;
  confined?: CapturedTag<boolean>;
  muted?: CapturedTag<boolean>;
  everHeld?: CapturedTag<boolean>;
  everConfined?: CapturedTag<boolean>;
  everMuted?: CapturedTag<boolean>;
  startHoldTime?: CapturedTag<string>;
  startAcwTime?: CapturedTag<string>;
  endAcwTime?: CapturedTag<string>;
  edgeId?: CapturedTag<string>;
  protocolCallId?: CapturedTag<string>;
  errorCode?: CapturedTag<string>;
  /** A source that can carry the client IP was captured for the leg (see the session-tags field). */
  clientIpSourceSeen?: CapturedTag<boolean>;
}>;

/**
 * A leg's summary in `participants`: every captured value, without provenance (which `webrtc` gives for the
 * recording's leg). Every tag value is here so that any change to a captured value changes the manifest's hash.
 */
export type ParticipantSummary = Readonly<{
  participant_id: string | null;
  communication_id: string | null;
  user_id: string | null;
  purpose: string | null;
  direction: string | null;
  station_id: string | null;
  station_type: string | null;
  is_webrtc: boolean | null;
  peer_id: string | null;
  provider: string | null;
  self_address: string | null;
  other_address: string | null;
  client_ip: string | null;
  connected_time: string | null;
  disconnected_time: string | null;
  persistent_connection_state: string | null;
  recording: boolean | null;
  /*
   * What happened on the leg while it was recorded: state, how it ended, hold/confine/mute (current and whether
   * ever), hold and after-call-work times, Edge, protocol call id, error code. Present only when captured, so a
   * leg without them summarises exactly as before these fields existed (no new manifest version for nothing).
   */
  state?: string;
  disconnect_type?: string;
  held?: boolean;
  confined?: boolean;
  muted?: boolean;
  ever_held?: boolean;
  ever_confined?: boolean;
  ever_muted?: boolean;
  start_hold_time?: string;
  start_acw_time?: string;
  end_acw_time?: string;
  edge_id?: string;
  protocol_call_id?: string;
  error_code?: string;
}>;

/** The outcome of leg selection. */
export type LegSelection = Readonly<{ leg: ManifestLegInput | undefined; candidates: number }>;

export const LEG_SELECTION_RULE = 'recording-user-overlap/v1';

/** A leg as plain JSON (for tie-breaks and de-duplication). */
export function legCanonical(leg: ManifestLegInput): string {
  return canonicalize(JSON.parse(JSON.stringify(leg)) as unknown);
}

function timeOf(tag: CapturedTag<string> | undefined): number | undefined {
  if (tag === undefined) return undefined;
  const t = Date.parse(tag.value);
  return Number.isNaN(t) ? undefined : t;
}

function compareText(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return a < b ? -1 : 1;
}

type Scored = Readonly<{
  leg: ManifestLegInput;
  webrtc: boolean;
  overlap: number;
  connected: number;
  key: string;
}>;

function compareScored(a: Scored, b: Scored): number {
  if (a.webrtc !== b.webrtc) return a.webrtc ? -1 : 1;
  if (a.overlap !== b.overlap) return b.overlap - a.overlap;
  if (a.connected !== b.connected) return a.connected < b.connected ? -1 : 1;
  return (
    compareText(a.leg.participantId?.value, b.leg.participantId?.value) ||
    compareText(a.leg.communicationId?.value, b.leg.communicationId?.value) ||
    compareText(a.key, b.key)
  );
}

/** Chooses the leg a recording belongs to (see the module comment for the rule). */
export function selectRecordingLeg(
  legs: readonly ManifestLegInput[],
  metadata: ExportMetadataFields | undefined,
): LegSelection {
  const users = new Set((metadata?.userIds ?? []).map((u) => u.toLowerCase()));
  const recStart = metadata === undefined ? undefined : Date.parse(metadata.startTime);
  const recEnd = metadata === undefined ? undefined : Date.parse(metadata.endTime);
  const interval =
    recStart !== undefined && recEnd !== undefined && !Number.isNaN(recStart) && !Number.isNaN(recEnd)
      ? { start: recStart, end: recEnd }
      : undefined;

  const scored: Scored[] = [];
  for (const leg of legs) {
    const user = leg.userId?.value.toLowerCase();
    if (user === undefined || (users.size > 0 && !users.has(user))) continue;
    const legStart = timeOf(leg.connectedTime) ?? Number.NEGATIVE_INFINITY;
    const legEnd = timeOf(leg.disconnectedTime) ?? Number.POSITIVE_INFINITY;
    let overlap = 0;
    if (interval !== undefined) {
      if (legStart > interval.end || legEnd < interval.start) continue;
      overlap = Math.min(legEnd, interval.end) - Math.max(legStart, interval.start);
    }
    scored.push({
      leg,
      webrtc: leg.isWebRtc?.value === true,
      overlap,
      connected: timeOf(leg.connectedTime) ?? Number.POSITIVE_INFINITY,
      key: legCanonical(leg),
    });
  }
  scored.sort(compareScored);
  return { leg: scored[0]?.leg, candidates: scored.length };
}

/** Summarises a leg for `participants`. */
export function summarizeLeg(leg: ManifestLegInput): ParticipantSummary {
  return {
    participant_id: leg.participantId?.value ?? null,
    communication_id: leg.communicationId?.value ?? null,
    user_id: leg.userId?.value ?? null,
    purpose: leg.purpose?.value ?? null,
    direction: leg.direction?.value ?? null,
    station_id: leg.stationId?.value ?? null,
    station_type: leg.stationType?.value ?? null,
    is_webrtc: leg.isWebRtc?.value ?? null,
    peer_id: leg.peerId?.value ?? null,
    provider: leg.provider?.value ?? null,
    self_address: leg.selfAddress?.value ?? null,
    other_address: leg.otherAddress?.value ?? null,
    client_ip: leg.publicIpAddress?.value ?? null,
    connected_time: leg.connectedTime?.value ?? null,
    disconnected_time: leg.disconnectedTime?.value ?? null,
    persistent_connection_state: leg.persistentConnectionState?.value ?? null,
    recording: leg.recording?.value ?? null,
    ...(leg.state === undefined ? {} : { state: leg.state.value }),
    ...(leg.disconnectType === undefined ? {} : { disconnect_type: leg.disconnectType.value }),
    ...(leg.held === undefined ? {} : { held: leg.held.value }),
    ...(leg.confined === undefined ? {} : { confined: leg.confined.value }),
    ...(leg.muted === undefined ? {} : { muted: leg.muted.value }),
    ...(leg.everHeld === undefined ? {} : { ever_held: leg.everHeld.value }),
    ...(leg.everConfined === undefined ? {} : { ever_confined: leg.everConfined.value }),
    ...(leg.everMuted === undefined ? {} : { ever_muted: leg.everMuted.value }),
    ...(leg.startHoldTime === undefined ? {} : { start_hold_time: leg.startHoldTime.value }),
    ...(leg.startAcwTime === undefined ? {} : { start_acw_time: leg.startAcwTime.value }),
    ...(leg.endAcwTime === undefined ? {} : { end_acw_time: leg.endAcwTime.value }),
    ...(leg.edgeId === undefined ? {} : { edge_id: leg.edgeId.value }),
    ...(leg.protocolCallId === undefined ? {} : { protocol_call_id: leg.protocolCallId.value }),
    ...(leg.errorCode === undefined ? {} : { error_code: leg.errorCode.value }),
  };
}

/**
 * Every leg summarised, ordered by connected time, participant id, communication id, then canonical JSON —
 * independent of input order. Not de-duplicated: each input leg is one entry, so no captured value is lost.
 */
export function summarizeParticipants(legs: readonly ManifestLegInput[]): ParticipantSummary[] {
  return legs
    .map((leg) => {
      const summary = summarizeLeg(leg);
      return { summary, key: canonicalize(summary) };
    })
    .sort(
      (a, b) =>
        compareText(a.summary.connected_time ?? undefined, b.summary.connected_time ?? undefined) ||
        compareText(a.summary.participant_id ?? undefined, b.summary.participant_id ?? undefined) ||
        compareText(a.summary.communication_id ?? undefined, b.summary.communication_id ?? undefined) ||
        compareText(a.key, b.key),
    )
    .map((s) => s.summary);
}
