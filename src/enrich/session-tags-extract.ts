/**
 * Extracting session-tag observations from parsed notification envelopes (live capture).
 *
 * Every call leg of every participant is taken, never only the first: the same user accumulates several legs per
 * conversation (one per alert, transfer or reconnect; research/genesys.md §3.2), each its own participant.
 */
import { err, ok } from './result.ts';
import type { Result } from './result.ts';
import { isGenesysId } from './genesys-envelope.ts';
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
  const ms = Date.parse(iso);
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
  base: Omit<TagObservation, 'fields' | 'source'>,
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
    isWebRtc: uc.stationType === undefined ? undefined : uc.stationType === WEBRTC_STATION_TYPE,
    persistentConnectionState: uc.persistentConnectionState,
  });
  if (Object.keys(fields).length === 0) return ok(undefined);
  return ok({ ...base, source: uc.source ?? USER_CONTEXT_SOURCE, fields });
}

/** Builds the observation pair (event fields + user context) for one leg. */
export function legObservations(
  base: Omit<TagObservation, 'fields' | 'source'>,
  source: TagSource,
  fields: Writable<LegFieldValues>,
  ctx: Pick<ExtractionContext, 'userContext'>,
): Result<TagObservation[], ExtractionFailure> {
  const out: TagObservation[] = [{ ...base, source, fields: definedFields(fields) }];
  const uc = userContextObservation(base, fields.userId, ctx.userContext);
  if (!uc.ok) return uc;
  if (uc.value !== undefined) out.push(uc.value);
  return ok(out);
}

/**
 * Self/other addresses from a detail event. Detail events carry `addressFrom`/`addressTo`; which one is the
 * user's side depends on the direction (UNCONFIRMED mapping: inbound → self = to, outbound → self = from).
 */
function detailAddresses(direction: string | undefined, from: string | undefined, to: string | undefined) {
  if (direction === 'inbound') return { selfAddress: to, otherAddress: from };
  if (direction === 'outbound') return { selfAddress: from, otherAddress: to };
  return { selfAddress: undefined, otherAddress: undefined };
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
            selfAddress: c.self?.addressRaw ?? c.self?.addressNormalized,
            otherAddress: c.other?.addressRaw ?? c.other?.addressNormalized,
            publicIpAddress: c.publicIpAddress,
            connectedTime,
            disconnectedTime,
            recordingState: c.recordingState,
            recording: c.recording,
          };
          results.push(legObservations(base, source, fields, ctx));
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
          selfAddress: p.address,
          publicIpAddress: p.publicIpAddress,
          connectedTime,
          disconnectedTime,
          recordingState: p.recordingState,
          recording: p.recording,
        };
        results.push(legObservations(base, source, fields, ctx));
      }
      break;
    }
    case 'user-detail-start':
    case 'user-detail-end': {
      const b = envelope.body;
      // Only voice sessions are call legs; detail events of other media are not session tags.
      if (b.mediaType !== undefined && b.mediaType !== 'voice') break;
      const base = {
        ...common,
        conversationId: b.conversationId,
        participantId: b.participantId,
        legKey: b.participantId,
        observedAt: b.eventTime,
      };
      const fields = {
        communicationId: b.sessionId,
        userId: b.userId,
        direction: b.direction,
        provider: b.provider,
        ...detailAddresses(b.direction, b.addressFrom, b.addressTo),
      };
      results.push(
        legObservations(base, notificationSource(envelope.topicName, envelope.correlationId), fields, ctx),
      );
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
