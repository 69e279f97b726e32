/**
 * Extracting session-tag observations from REST/analytics reads, to repair gaps in the live feed (Genesys events
 * are not durable: research/genesys.md §2.6–2.7). Everything here has provenance `reconciled`, never `live`.
 *
 * Inputs are structural subsets of the SDK models (`Models.AnalyticsConversationWithoutAttributes`,
 * `Models.CallConversation`; the core may not import the SDK) and are validated here, because they come from the
 * network. Analytics carries no client IP; the REST call conversation carries `clientIpAddress`, kept as the
 * `publicIpAddress` tag with `source.field = clientIpAddress` (a live value still wins over it).
 */
import { z } from 'zod';
import { err, ok } from './result.ts';
import type { Result } from './result.ts';
import { isGenesysId } from './genesys-envelope.ts';
import { isGenesysEnum } from './genesys-enum.ts';
import {
  checkReceivedAt,
  flagFields,
  instantMs,
  latestInstant,
  legAddresses,
  legObservations,
} from './session-tags-extract.ts';
import { apiSource, legKeyFor } from './session-tags.ts';
import type { ExtractionContext, ExtractionFailure, TagObservation } from './session-tags.ts';

/** Context for gap repair: like {@link ExtractionContext}, but provenance is always `reconciled`. */
export type ReconcileContext = Omit<ExtractionContext, 'provenance'>;

/** The fields of `Models.AnalyticsConversationWithoutAttributes` custody reads. */
export interface AnalyticsConversationInput {
  conversationId?: string;
  conversationEnd?: string;
  participants?: readonly {
    participantId?: string;
    purpose?: string;
    userId?: string;
    sessions?: readonly {
      sessionId?: string;
      mediaType?: string;
      direction?: string;
      peerId?: string;
      provider?: string;
      addressSelf?: string;
      addressOther?: string;
      ani?: string;
      dnis?: string;
      sessionDnis?: string;
      edgeId?: string;
      protocolCallId?: string;
      recording?: boolean;
      segments?: readonly {
        segmentStart?: string;
        segmentEnd?: string;
        segmentType?: string;
        disconnectType?: string;
      }[];
    }[];
  }[];
}

/** The fields of `Models.CallConversation` (GET /api/v2/conversations/calls/{id}) custody reads. */
export interface CallConversationInput {
  id?: string;
  participants?: readonly {
    id?: string;
    purpose?: string;
    direction?: string;
    address?: string;
    ani?: string;
    dnis?: string;
    state?: string;
    disconnectType?: string;
    held?: boolean;
    confined?: boolean;
    muted?: boolean;
    startAcwTime?: string;
    endAcwTime?: string;
    errorInfo?: { code?: string };
    clientIpAddress?: string;
    startTime?: string;
    connectedTime?: string;
    endTime?: string;
    startHoldTime?: string;
    user?: { id?: string };
    provider?: string;
    peer?: string;
    recording?: boolean;
    recordingState?: string;
  }[];
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const id = z
  .string()
  .refine(isGenesysId)
  .transform((s) => s.toLowerCase());
const text = z.string().max(1024).optional();
const instant = z
  .string()
  .regex(ISO_RE)
  .refine((s) => Number.isFinite(Date.parse(s)))
  .optional();

const analyticsSessionSchema = z.object({
  sessionId: id.optional(),
  mediaType: text,
  direction: text,
  peerId: id.optional(),
  provider: text,
  addressSelf: text,
  addressOther: text,
  ani: text,
  dnis: text,
  sessionDnis: text,
  edgeId: text,
  protocolCallId: text,
  recording: z.boolean().optional(),
  segments: z
    .array(
      z.object({
        segmentStart: instant,
        segmentEnd: instant,
        segmentType: text,
        disconnectType: text,
      }),
    )
    .max(10_000)
    .optional(),
});

/** A participant with its sessions unchecked: each session is validated on its own (one bad one drops only itself). */
const analyticsParticipantSchema = z.object({
  participantId: id,
  purpose: text,
  userId: id.optional(),
  sessions: z.array(z.unknown()).max(1000).optional(),
});

/** The conversation with its participants unchecked: each is validated on its own, like the live path's legs. */
const analyticsSchema = z.object({
  conversationId: id,
  conversationEnd: instant,
  participants: z.array(z.unknown()).max(1000).optional(),
});

const callParticipantSchema = z.object({
  id,
  purpose: text,
  direction: text,
  address: text,
  ani: text,
  dnis: text,
  state: text,
  disconnectType: text,
  held: z.boolean().optional(),
  confined: z.boolean().optional(),
  muted: z.boolean().optional(),
  startAcwTime: instant,
  endAcwTime: instant,
  errorInfo: z.object({ code: text }).optional(),
  clientIpAddress: text,
  startTime: instant,
  connectedTime: instant,
  endTime: instant,
  startHoldTime: instant,
  user: z.object({ id: id.optional() }).optional(),
  provider: text,
  peer: id.optional(),
  recording: z.boolean().optional(),
  recordingState: text,
});

const callConversationSchema = z.object({
  id,
  participants: z.array(z.unknown()).max(1000).optional(),
});

function badRecord(error: z.ZodError, what: string): Result<never, ExtractionFailure> {
  return err({ code: 'bad-record', reason: issueReason(error, what) });
}

/** A participant (or one of its sessions) left out of a repair because it failed validation. */
export type DroppedRecordPart = Readonly<{ index: number; reason: string }>;

/**
 * What a REST/analytics read yields: the observations of every participant that passed validation, and the ones
 * left out with the check they failed — one bad participant or session must not lose the others (as on the live
 * path, genesys-envelope.ts `dropped`).
 */
export type Reconciled = Readonly<{ observations: TagObservation[]; dropped: DroppedRecordPart[] }>;

function issueReason(error: z.ZodError, what: string): string {
  const issue = error.issues[0];
  const path = issue === undefined ? what : [what, ...issue.path.map((p) => String(p))].join('.');
  return `${path} failed check '${issue?.code ?? 'unknown'}'`;
}

function collect(
  results: Result<TagObservation[], ExtractionFailure>[],
  dropped: DroppedRecordPart[],
  indexes: readonly number[],
): Reconciled {
  const observations: TagObservation[] = [];
  results.forEach((r, i) => {
    if (r.ok) observations.push(...r.value);
    else dropped.push({ index: indexes[i] ?? -1, reason: r.error.reason });
  });
  return { observations, dropped };
}

/**
 * Observations from an analytics conversation detail record (POST /api/v2/analytics/conversations/details/query),
 * one per voice session of every participant. `connectedTime` is the start of the first `interact` segment and
 * `disconnectedTime` the end of the last segment other than `wrapup` that carries a `disconnectType` (UNCONFIRMED
 * equivalence with the live fields; provenance `reconciled` marks them as reconstructed).
 */
export function extractFromAnalytics(
  conversation: AnalyticsConversationInput,
  ctx: ReconcileContext,
): Result<Reconciled, ExtractionFailure> {
  const checked = checkReceivedAt(ctx.receivedAt);
  if (!checked.ok) return checked;
  const parsed = analyticsSchema.safeParse(conversation);
  if (!parsed.success) return badRecord(parsed.error, 'conversation');
  const c = parsed.data;
  const source = apiSource('analytics');
  const results: Result<TagObservation[], ExtractionFailure>[] = [];
  const resultIndexes: number[] = [];
  const dropped: DroppedRecordPart[] = [];
  for (const [index, raw] of (c.participants ?? []).entries()) {
    const pp = analyticsParticipantSchema.safeParse(raw);
    if (!pp.success) {
      dropped.push({ index, reason: issueReason(pp.error, `participants.${index}`) });
      continue;
    }
    const p = pp.data;
    const sessions: z.output<typeof analyticsSessionSchema>[] = [];
    for (const [si, rawSession] of (p.sessions ?? []).entries()) {
      const ps = analyticsSessionSchema.safeParse(rawSession);
      if (ps.success) sessions.push(ps.data);
      else dropped.push({ index, reason: issueReason(ps.error, `participants.${index}.sessions.${si}`) });
    }
    const voice = sessions.filter((s) => isGenesysEnum(s.mediaType, 'voice'));
    for (const s of voice) {
      const segments = s.segments ?? [];
      const interactStarts = segments
        .filter((g) => isGenesysEnum(g.segmentType, 'interact'))
        .map((g) => instantMs(g.segmentStart))
        .filter((t): t is number => t !== undefined);
      const connectedTime = interactStarts.length > 0 ? Math.min(...interactStarts) : undefined;
      // Wrapup (after-call work) segments carry a disconnectType too (client, peer), but the call ended before
      // them: counting them would stretch the leg to the end of after-call work.
      const disconnecting = segments.filter(
        (g) => g.disconnectType !== undefined && !isGenesysEnum(g.segmentType, 'wrapup'),
      );
      const disconnectedTime =
        latestInstant(...disconnecting.map((g) => instantMs(g.segmentEnd))) ?? undefined;
      // The disconnect type of the segment that ended the call (the latest such segment).
      const lastDisconnect = disconnecting.reduce<(typeof disconnecting)[number] | undefined>(
        (a, g) =>
          a === undefined || (instantMs(g.segmentEnd) ?? -Infinity) >= (instantMs(a.segmentEnd) ?? -Infinity)
            ? g
            : a,
        undefined,
      );
      const observedAt =
        latestInstant(...segments.flatMap((g) => [instantMs(g.segmentStart), instantMs(g.segmentEnd)])) ??
        latestInstant(instantMs(c.conversationEnd));
      const base = {
        conversationId: c.conversationId,
        participantId: p.participantId,
        legKey: legKeyFor(p.participantId, s.sessionId, voice.length),
        provenance: 'reconciled' as const,
        receivedAt: ctx.receivedAt,
        observedAt,
      };
      // Real voice sessions carry ani/dnis/sessionDnis rather than addressSelf/addressOther.
      const addresses = legAddresses(s.direction, p.purpose, {
        self: [['addressSelf', s.addressSelf]],
        other: [['addressOther', s.addressOther]],
        calling: [['ani', s.ani]],
        called: [
          ['sessionDnis', s.sessionDnis],
          ['dnis', s.dnis],
        ],
      });
      const fields = {
        communicationId: s.sessionId,
        userId: p.userId,
        purpose: p.purpose,
        direction: s.direction,
        peerId: s.peerId,
        provider: s.provider,
        selfAddress: addresses.selfAddress,
        otherAddress: addresses.otherAddress,
        connectedTime,
        disconnectedTime,
        recording: s.recording,
        disconnectType: lastDisconnect?.disconnectType,
        edgeId: s.edgeId,
        protocolCallId: s.protocolCallId,
      };
      results.push(legObservations(base, source, fields, ctx, addresses.paths));
      resultIndexes.push(index);
    }
  }
  return ok(collect(results, dropped, resultIndexes));
}

/**
 * Observations from a REST call conversation (GET /api/v2/conversations/calls/{id}), one per participant leg
 * (flat model: no communication id; the client IP is `clientIpAddress` here).
 */
export function extractFromCallConversation(
  call: CallConversationInput,
  ctx: ReconcileContext,
): Result<Reconciled, ExtractionFailure> {
  const checked = checkReceivedAt(ctx.receivedAt);
  if (!checked.ok) return checked;
  const parsed = callConversationSchema.safeParse(call);
  if (!parsed.success) return badRecord(parsed.error, 'call');
  const c = parsed.data;
  const source = apiSource('conversations');
  const results: Result<TagObservation[], ExtractionFailure>[] = [];
  const resultIndexes: number[] = [];
  const dropped: DroppedRecordPart[] = [];
  for (const [index, raw] of (c.participants ?? []).entries()) {
    const pp = callParticipantSchema.safeParse(raw);
    if (!pp.success) {
      dropped.push({ index, reason: issueReason(pp.error, `participants.${index}`) });
      continue;
    }
    const p = pp.data;
    const connectedTime = instantMs(p.connectedTime);
    const disconnectedTime = instantMs(p.endTime);
    const addresses = legAddresses(p.direction, p.purpose, {
      self: [['address', p.address]],
      calling: [['ani', p.ani]],
      called: [['dnis', p.dnis]],
    });
    const base = {
      conversationId: c.id,
      participantId: p.id,
      legKey: p.id,
      provenance: 'reconciled' as const,
      receivedAt: ctx.receivedAt,
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
      // The REST model's name for the client IP; kept in the same tag, with its field named in the source.
      publicIpAddress: p.clientIpAddress,
      clientIpSourceSeen: true,
    };
    results.push(
      legObservations(base, source, fields, ctx, { ...addresses.paths, publicIpAddress: 'clientIpAddress' }),
    );
    resultIndexes.push(index);
  }
  return ok(collect(results, dropped, resultIndexes));
}
