/**
 * Extracting session-tag observations from parsed notification envelopes (live capture).
 *
 * Every call leg of every participant is taken, never only the first: the same user accumulates several legs per
 * conversation (one per alert, transfer or reconnect; research/genesys.md §3.2), each its own participant.
 */
import { err, ok } from './result.ts';
import type { Result } from './result.ts';
import { isGenesysId } from './genesys-envelope.ts';
import { parseInstantMs } from './instant-ms.ts';
import { isAnyGenesysEnum, isGenesysEnum } from './genesys-enum.ts';
import type { NotificationEnvelope } from './genesys-envelope.ts';
import { USER_CONTEXT_SOURCE, WEBRTC_STATION_TYPE, legKeyFor, notificationSource } from './session-tags.ts';
import type {
  ExtractionContext,
  ExtractionFailure,
  LegFieldValues,
  Provenance,
  TagObservation,
  TagSource,
} from './session-tags.ts';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Epoch ms of an ISO instant the envelope parser already validated; undefined when absent. */
export function instantMs(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = parseInstantMs(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The latest of the given instants, or null: the Genesys-side time of a leg snapshot. */
export function latestInstant(...times: (number | undefined)[]): number | null {
  let max: number | null = null;
  for (const t of times) if (t !== undefined && (max === null || t > max)) max = t;
  return max;
}

/** Drops undefined entries so observations compare and serialise cleanly. */
export function definedFields(fields: Writable<LegFieldValues>): LegFieldValues {
  const out: Record<string, unknown> = {};
  // for…in over an object literal: its own keys, in insertion order, without building an entries array per leg.
  for (const k in fields) {
    const v = fields[k as keyof LegFieldValues];
    if (v !== undefined) out[k] = v;
  }
  return out as LegFieldValues;
}

/** Checks the parts of the context that come from the shell; values become evidence, so they are validated too. */
export function checkReceivedAt(receivedAt: number): Result<void, ExtractionFailure> {
  if (!Number.isSafeInteger(receivedAt) || receivedAt < 0) {
    return err({
      code: 'bad-context',
      reason: 'receivedAt is not a non-negative integer of epoch milliseconds',
    });
  }
  return ok(undefined);
}

/**
 * The user-context observation for a leg (station id/type, WebRTC flag, persistent-connection state), or none.
 * Station data is not in conversation events; the ingest shell resolves it (REST, station and persistentconnection
 * topics) and passes it in as data.
 */
export function userContextObservation(
  base: Omit<TagObservation, 'fields' | 'source' | 'fieldPaths'>,
  userId: string | undefined,
  userContext: ExtractionContext['userContext'],
): Result<TagObservation | undefined, ExtractionFailure> {
  if (userId === undefined) return ok(undefined);
  const uc = userContext(userId);
  if (uc === undefined) return ok(undefined);
  if (uc.stationId !== undefined && !isGenesysId(uc.stationId)) {
    return err({ code: 'bad-user-context', reason: 'userContext stationId is not a UUID' });
  }
  for (const v of [uc.stationType, uc.persistentConnectionState]) {
    if (v !== undefined && (typeof v !== 'string' || v.length > 1024)) {
      return err({
        code: 'bad-user-context',
        reason: 'userContext value is not a string of at most 1024 characters',
      });
    }
  }
  const fields = definedFields({
    stationId: uc.stationId?.toLowerCase(),
    stationType: uc.stationType,
    isWebRtc: uc.stationType === undefined ? undefined : isGenesysEnum(uc.stationType, WEBRTC_STATION_TYPE),
    persistentConnectionState: uc.persistentConnectionState,
  });
  if (Object.keys(fields).length === 0) return ok(undefined);
  return ok({ ...base, source: uc.source ?? USER_CONTEXT_SOURCE, fields });
}

/** Builds the observation pair (event fields + user context) for one leg. */
export function legObservations(
  base: Omit<TagObservation, 'fields' | 'source' | 'fieldPaths'>,
  source: TagSource,
  fields: Writable<LegFieldValues>,
  ctx: Pick<ExtractionContext, 'userContext'>,
  fieldPaths: FieldPaths = {},
): Result<TagObservation[], ExtractionFailure> {
  const defined = definedFields(fields);
  // The paths of the fields that have a value (a loop, not entries/filter/fromEntries: this runs for every leg).
  let paths: Record<string, string | undefined> | undefined;
  for (const k in fieldPaths)
    if ((defined as Record<string, unknown>)[k] !== undefined)
      (paths ??= {})[k] = fieldPaths[k as keyof FieldPaths];
  const event: TagObservation =
    paths === undefined
      ? { ...base, source, fields: defined }
      : { ...base, source, fields: defined, fieldPaths: paths as FieldPaths };
  const out: TagObservation[] = [event];
  const uc = userContextObservation(base, fields.userId, ctx.userContext);
  if (!uc.ok) return uc;
  if (uc.value !== undefined) out.push(uc.value);
  return ok(out);
}

/**
 * The hold/confine/mute flags of a leg: the current value, and an `ever*` flag set only when the flag is true, so
 * that the merged snapshot keeps that the leg was held (first seen when) even after it was taken off hold.
 */
export function flagFields(f: Readonly<{ held?: boolean; confined?: boolean; muted?: boolean }>) {
  return {
    held: f.held,
    confined: f.confined,
    muted: f.muted,
    everHeld: f.held === true ? true : undefined,
    everConfined: f.confined === true ? true : undefined,
    everMuted: f.muted === true ? true : undefined,
  };
}

/** Which payload field each leg field was read from, when it has several possible sources. */
export type FieldPaths = { -readonly [K in keyof LegFieldValues]?: string };

/** The self/other addresses of a leg and the payload field each came from. */
export type LegAddresses = Readonly<{
  selfAddress: string | undefined;
  otherAddress: string | undefined;
  paths: FieldPaths;
}>;

type Candidate = readonly [field: string, value: string | undefined];

/** Purposes of participants outside the org (the far end of the org's legs). */
const EXTERNAL_PURPOSES = ['customer', 'external'] as const;

/** The first candidate with a non-empty value. */
function firstOf(...candidates: Candidate[]): Candidate | undefined {
  return candidates.find(([, v]) => v !== undefined && v !== '');
}

/**
 * Addresses from every source a leg may carry them in, in order of preference, each with the field it came from.
 * `self`/`other` are explicit addresses of the leg's own and far side (conversation events' `self`/`other`,
 * analytics `addressSelf`/`addressOther`, a flat leg's `address`). Otherwise the calling (`ani`, `addressFrom`)
 * and called (`sessionDnis`, `dnis`, `addressTo`) addresses are mapped by the call's direction and the side the
 * participant is on: on an inbound call the external party (purpose customer/external) called and the org's
 * participants (agent, user, acd, ivr, ...) were called; outbound the other way round. That mapping is custody's
 * reading of the fields (UNCONFIRMED by Genesys documentation), so `source.field` says which field each value is;
 * without a direction or a purpose nothing is mapped.
 */
export function legAddresses(
  direction: string | undefined,
  purpose: string | undefined,
  s: Readonly<{
    self?: Candidate[];
    other?: Candidate[];
    calling?: Candidate[];
    called?: Candidate[];
  }>,
): LegAddresses {
  const inbound = isGenesysEnum(direction, 'inbound');
  const outbound = isGenesysEnum(direction, 'outbound');
  const external = isAnyGenesysEnum(purpose, EXTERNAL_PURPOSES);
  // Whether this participant is the calling side of the call; undefined when it cannot be told.
  const caller =
    purpose === undefined || (!inbound && !outbound) ? undefined : inbound ? external : !external;
  const calling = s.calling ?? [];
  const called = s.called ?? [];
  const mappedSelf = caller === undefined ? [] : caller ? calling : called;
  const mappedOther = caller === undefined ? [] : caller ? called : calling;
  const self = firstOf(...(s.self ?? []), ...mappedSelf);
  const other = firstOf(...(s.other ?? []), ...mappedOther);
  const paths: FieldPaths = {};
  if (self !== undefined) paths.selfAddress = self[0];
  if (other !== undefined) paths.otherAddress = other[0];
  return { selfAddress: self?.[1], otherAddress: other?.[1], paths };
}

function extractEnvelope(
  envelope: NotificationEnvelope,
  ctx: ExtractionContext,
  provenance: Provenance,
): Result<TagObservation[], ExtractionFailure> {
  const results: Result<TagObservation[], ExtractionFailure>[] = [];
  const common = { provenance, receivedAt: ctx.receivedAt };
  switch (envelope.kind) {
    case 'user-conversation': {
      const source = notificationSource(envelope.topicName, envelope.correlationId);
      for (const p of envelope.body.participants ?? []) {
        const calls = p.calls ?? [];
        for (const c of calls) {
          const connectedTime = instantMs(c.connectedTime);
          const disconnectedTime = instantMs(c.disconnectedTime);
          const addresses = legAddresses(c.direction, p.purpose, {
            self: [
              ['self.addressRaw', c.self?.addressRaw],
              ['self.addressNormalized', c.self?.addressNormalized],
              ['participant.address', p.address],
            ],
            other: [
              ['other.addressRaw', c.other?.addressRaw],
              ['other.addressNormalized', c.other?.addressNormalized],
            ],
          });
          const base = {
            ...common,
            conversationId: envelope.body.id,
            participantId: p.id,
            legKey: legKeyFor(p.id, c.id, calls.length),
            observedAt: latestInstant(connectedTime, disconnectedTime, instantMs(c.startHoldTime)),
          };
          const fields = {
            communicationId: c.id,
            userId: p.userId,
            purpose: p.purpose,
            direction: c.direction,
            peerId: c.peerId,
            provider: c.provider,
            selfAddress: addresses.selfAddress,
            otherAddress: addresses.otherAddress,
            publicIpAddress: c.publicIpAddress,
            connectedTime,
            disconnectedTime,
            recordingState: c.recordingState,
            recording: c.recording,
            state: c.state,
            disconnectType: c.disconnectType,
            ...flagFields(c),
            startHoldTime: instantMs(c.startHoldTime),
            startAcwTime: instantMs(p.startAcwTime),
            endAcwTime: instantMs(p.endAcwTime),
            errorCode: c.errorInfo?.code,
            clientIpSourceSeen: true,
          };
          results.push(legObservations(base, source, fields, ctx, addresses.paths));
        }
      }
      break;
    }
    case 'user-conversation-calls':
    case 'queue-conversation-calls': {
      // Flat model: one object per participant leg, and no communication id (it is not in these events).
      const source = notificationSource(envelope.topicName, envelope.correlationId);
      for (const p of envelope.body.participants ?? []) {
        const connectedTime = instantMs(p.connectedTime);
        const disconnectedTime = instantMs(p.endTime);
        // Real legs on these topics often carry only ani/dnis, no address.
        const addresses = legAddresses(p.direction, p.purpose, {
          self: [['address', p.address]],
          calling: [['ani', p.ani]],
          called: [['dnis', p.dnis]],
        });
        const base = {
          ...common,
          conversationId: envelope.body.id,
          participantId: p.id,
          legKey: p.id,
          observedAt: latestInstant(
            instantMs(p.startTime),
            connectedTime,
            disconnectedTime,
            instantMs(p.startHoldTime),
          ),
        };
        const fields = {
          userId: p.user?.id,
          purpose: p.purpose,
          direction: p.direction,
          peerId: p.peer,
          provider: p.provider,
          selfAddress: addresses.selfAddress,
          otherAddress: addresses.otherAddress,
          publicIpAddress: p.publicIpAddress,
          connectedTime,
          disconnectedTime,
          recordingState: p.recordingState,
          recording: p.recording,
          state: p.state,
          disconnectType: p.disconnectType,
          ...flagFields(p),
          startHoldTime: instantMs(p.startHoldTime),
          startAcwTime: instantMs(p.startAcwTime),
          endAcwTime: instantMs(p.endAcwTime),
          errorCode: p.errorInfo?.code,
          clientIpSourceSeen: true,
        };
        results.push(legObservations(base, source, fields, ctx, addresses.paths));
      }
      break;
    }
    case 'user-detail-start':
    case 'user-detail-end': {
      const b = envelope.body;
      // Only voice sessions are call legs; detail events of other media are not session tags.
      if (b.mediaType !== undefined && !isGenesysEnum(b.mediaType, 'voice')) break;
      const base = {
        ...common,
        conversationId: b.conversationId,
        participantId: b.participantId,
        legKey: b.participantId,
        observedAt: b.eventTime,
      };
      // Detail events of the user.start/end topics are always the user's (an org-side) leg.
      const addresses = legAddresses(b.direction, 'user', {
        calling: [
          ['addressFrom', b.addressFrom],
          ['ani', b.ani],
        ],
        called: [
          ['addressTo', b.addressTo],
          ['dnis', b.dnis],
        ],
      });
      const fields = {
        communicationId: b.sessionId,
        userId: b.userId,
        direction: b.direction,
        provider: b.provider,
        selfAddress: addresses.selfAddress,
        otherAddress: addresses.otherAddress,
        disconnectType: b.disconnectType,
      };
      const source = notificationSource(envelope.topicName, envelope.correlationId);
      results.push(legObservations(base, source, fields, ctx, addresses.paths));
      break;
    }
    case 'heartbeat':
    case 'pong':
    case 'socket-closing':
    case 'no-longer-subscribed':
    case 'token-revoked':
    case 'channel-gone':
    case 'subscribe-result':
    case 'user-station':
    case 'persistent-connection':
    case 'unknown':
      // Not about a conversation: station and persistent-connection frames update the shell's user context instead.
      break;
    default: {
      const _exhaustive: never = envelope;
      return _exhaustive;
    }
  }
  const out: TagObservation[] = [];
  for (const r of results) {
    if (!r.ok) return r;
    out.push(...r.value);
  }
  return ok(out);
}

/**
 * The tag observations one notification carries: one per call leg (plus one per leg for the user's station context
 * when `ctx.userContext` knows the user). Frames that are not about a conversation give an empty list.
 *
 * Pure: times come from `ctx.receivedAt` and from the event; the same inputs always give the same observations.
 */
export function extractTagObservations(
  envelope: NotificationEnvelope,
  ctx: ExtractionContext,
): Result<TagObservation[], ExtractionFailure> {
  const checked = checkReceivedAt(ctx.receivedAt);
  if (!checked.ok) return checked;
  if (ctx.provenance !== 'live' && ctx.provenance !== 'reconciled') {
    return err({ code: 'bad-context', reason: 'provenance is neither live nor reconciled' });
  }
  return extractEnvelope(envelope, ctx, ctx.provenance);
}
