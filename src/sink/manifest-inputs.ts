/**
 * The mapping from the session-tags snapshot (`custody.session-tags.v1`, Avro shapes: absent = `null`, times in
 * epoch ms, evidence pointers as {@link TagSource}) to the manifest's leg input (`ManifestLegInput`: absent =
 * `undefined`, times as UTC-millisecond ISO text, the source as one label).
 *
 * Pure. A tag whose time cannot be expressed as a UTC instant (outside the ISO range) is left out and reported,
 * never guessed; the sink validates snapshots before they get here, so in practice nothing is left out.
 */
import { toCustodyInstant } from '../enrich/custody-entry.ts';
import type { CapturedTag, ManifestLegInput } from '../enrich/manifest.ts';
import type { LegTags, SessionTagsSnapshot, Tag, TagSource } from '../enrich/session-tags.ts';
import { LEG_TAG_FIELDS } from '../enrich/session-tags.ts';

/**
 * Texts of instants converted lately. A manifest converts a few hundred (every tag's capture time, the timeline),
 * most of them shared (a frame's fields share its receive time), and `toISOString` takes ~1 µs each.
 */
const INSTANTS = new Map<number, string>();
const MAX_INSTANTS = 4096;

/** A UTC ms ISO instant from epoch ms, or `undefined` when the number is not a representable instant. */
export function instantOfMs(ms: number): string | undefined {
  if (!Number.isSafeInteger(ms)) return undefined;
  let text = INSTANTS.get(ms);
  if (text === undefined) {
    text = toCustodyInstant(new Date(ms));
    if (text === undefined) return undefined;
    if (INSTANTS.size >= MAX_INSTANTS) INSTANTS.clear();
    INSTANTS.set(ms, text);
  }
  return text;
}

/**
 * One label for a tag's evidence pointer, as the manifest's `source`:
 * `notification:{topicName}[;correlation_id={id}]`, `api:{api}` or `user-context`, then `;field={field}` when the
 * value was read from a payload field of another name (e.g. an address from `ani`).
 */
export function tagSourceLabel(source: TagSource): string {
  const base = sourceBaseLabel(source);
  return source.field === null ? base : `${base};field=${source.field}`;
}

function sourceBaseLabel(source: TagSource): string {
  switch (source.kind) {
    case 'notification': {
      const topic = source.topicName ?? 'unknown-topic';
      return source.correlationId === null
        ? `notification:${topic}`
        : `notification:${topic};correlation_id=${source.correlationId}`;
    }
    case 'api':
      return `api:${source.api ?? 'unknown'}`;
    case 'user-context':
      return 'user-context';
    default: {
      const exhaustive: never = source.kind;
      return exhaustive;
    }
  }
}

function captured<V extends string | boolean>(tag: Tag<unknown>, value: V): CapturedTag<V> | undefined {
  const firstCapturedAt = instantOfMs(tag.firstCapturedAt);
  if (firstCapturedAt === undefined) return undefined;
  return { value, firstCapturedAt, provenance: tag.provenance, source: tagSourceLabel(tag.source) };
}

function text(tag: Tag<string> | null): CapturedTag<string> | undefined {
  return tag === null ? undefined : captured(tag, tag.value);
}

function flag(tag: Tag<boolean> | null): CapturedTag<boolean> | undefined {
  return tag === null ? undefined : captured(tag, tag.value);
}

function time(tag: Tag<number> | null): CapturedTag<string> | undefined {
  if (tag === null) return undefined;
  const value = instantOfMs(tag.value);
  return value === undefined ? undefined : captured(tag, value);
}

/**
 * The participant id is a plain string in the snapshot (it is the leg's identity, not a captured field). The
 * manifest wants it as a captured tag, so it takes the provenance, first-capture time and source of the leg's
 * earliest capture (a live one when the leg has any live field).
 */
function participantTag(leg: LegTags): CapturedTag<string> | undefined {
  const tags = LEG_TAG_FIELDS.map((f) => leg[f] as Tag<unknown> | null).filter(
    (t): t is Tag<unknown> => t !== null,
  );
  const live = tags.filter((t) => t.provenance === 'live');
  const pool = live.length > 0 ? live : tags;
  let earliest: Tag<unknown> | undefined;
  for (const t of pool) {
    if (
      earliest === undefined ||
      t.firstCapturedAt < earliest.firstCapturedAt ||
      (t.firstCapturedAt === earliest.firstCapturedAt &&
        tagSourceLabel(t.source) < tagSourceLabel(earliest.source))
    ) {
      earliest = t;
    }
  }
  return earliest === undefined ? undefined : captured(earliest, leg.participantId);
}

/** Drops `undefined` members so the input is plain data (optional means absent). */
function compact(leg: Record<string, CapturedTag<string | boolean> | undefined>): ManifestLegInput {
  return Object.fromEntries(Object.entries(leg).filter(([, v]) => v !== undefined)) as ManifestLegInput;
}

/** Maps one leg of a snapshot to the manifest's leg input. `recordingState` has no manifest field. */
export function manifestLegOf(leg: LegTags): ManifestLegInput {
  return compact({
    participantId: participantTag(leg),
    communicationId: text(leg.communicationId),
    userId: text(leg.userId),
    purpose: text(leg.purpose),
    direction: text(leg.direction),
    stationId: text(leg.stationId),
    stationType: text(leg.stationType),
    isWebRtc: flag(leg.isWebRtc),
    peerId: text(leg.peerId),
    provider: text(leg.provider),
    selfAddress: text(leg.selfAddress),
    otherAddress: text(leg.otherAddress),
    publicIpAddress: text(leg.publicIpAddress),
    connectedTime: time(leg.connectedTime),
    disconnectedTime: time(leg.disconnectedTime),
    persistentConnectionState: text(leg.persistentConnectionState),
    recording: flag(leg.recording),
    state: text(leg.state),
    disconnectType: text(leg.disconnectType),
    held: flag(leg.held),
    confined: flag(leg.confined),
    muted: flag(leg.muted),
    everHeld: flag(leg.everHeld),
    everConfined: flag(leg.everConfined),
    everMuted: flag(leg.everMuted),
    startHoldTime: time(leg.startHoldTime),
    startAcwTime: time(leg.startAcwTime),
    endAcwTime: time(leg.endAcwTime),
    edgeId: text(leg.edgeId),
    protocolCallId: text(leg.protocolCallId),
    errorCode: text(leg.errorCode),
    clientIpSourceSeen: flag(leg.clientIpSourceSeen),
  });
}

/** Every leg of a snapshot as manifest input, in snapshot order; `[]` when there is no snapshot yet. */
export function manifestLegsOf(snapshot: SessionTagsSnapshot | undefined): ManifestLegInput[] {
  return (snapshot?.legs ?? []).map(manifestLegOf);
}
