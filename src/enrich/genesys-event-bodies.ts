/**
 * The event bodies custody reads from Genesys notification frames, as zod schemas: the *specification* of what a
 * valid body is, and the source of the body types. The ingest hot path does not run these (zod costs more per frame
 * than the rest of parsing a frame): it runs the hand-written guards in genesys-body-guards.ts, which
 * test/unit/enrich/genesys-body-guards.test.ts checks against these schemas input by input (same verdict, same first
 * failing path and check, same cleaned body). Change a schema here and its guard there together.
 */
import { z } from 'zod';
import { ISO_INSTANT_RE, UUID_RE } from './genesys-formats.ts';

// ---------------------------------------------------------------------------------------------------------------
// Event bodies. Only the fields custody relies on are kept (the raw frame keeps everything); unknown fields are
// stripped. Each parsed type is assignable to its SDK model (Models.ConversationEventTopicConversation, ...), which
// test/unit/enrich/genesys-envelope.test.ts checks at compile time. Genesys may send explicit nulls for absent
// fields, so optional fields accept null and normalise it to undefined.
// ---------------------------------------------------------------------------------------------------------------

function optional<S extends z.ZodType>(schema: S) {
  return schema.nullish().transform((v): z.output<S> | undefined => v ?? undefined);
}

/** A Genesys id: a UUID, normalised to lower case. */
const genesysId = z
  .string()
  .regex(UUID_RE)
  .transform((s) => s.toLowerCase());
/** Free text from Genesys (states, providers, addresses), bounded. */
const text = z.string().max(1024);
/** An ISO-8601 instant as Genesys sends it ("2022-07-04T20:04:12.131Z"), kept as sent. */
const isoInstant = z
  .string()
  .regex(ISO_INSTANT_RE)
  .refine((s) => Number.isFinite(Date.parse(s)));
const entityRef = z.object({ id: genesysId });

const eventAddress = z.object({
  addressRaw: optional(text),
  addressNormalized: optional(text),
});

const errorInfo = z.object({ code: optional(text) });

export const conversationEventCall = z.object({
  id: genesysId,
  state: optional(text),
  disconnectType: optional(text),
  held: optional(z.boolean()),
  confined: optional(z.boolean()),
  muted: optional(z.boolean()),
  errorInfo: optional(errorInfo),
  direction: optional(text),
  self: optional(eventAddress),
  other: optional(eventAddress),
  provider: optional(text),
  peerId: optional(genesysId),
  connectedTime: optional(isoInstant),
  disconnectedTime: optional(isoInstant),
  startHoldTime: optional(isoInstant),
  recording: optional(z.boolean()),
  recordingState: optional(text),
  publicIpAddress: optional(text),
});

export const conversationEventParticipant = z.object({
  id: genesysId,
  userId: optional(genesysId),
  purpose: optional(text),
  address: optional(text),
  startAcwTime: optional(isoInstant),
  endAcwTime: optional(isoInstant),
  calls: optional(z.array(conversationEventCall).max(1000)),
});

/** `v2.users.{id}.conversations` body (Models.ConversationEventTopicConversation, the fields custody uses). */
export const conversationEventBody = z.object({
  id: genesysId,
  participants: optional(z.array(conversationEventParticipant).max(1000)),
  recordingState: optional(text),
});
export type ConversationEventBody = z.output<typeof conversationEventBody>;
/** The body with its participants still unchecked: they are validated one by one (genesys-envelope.ts). */
export const conversationEventShell = conversationEventBody.extend({
  participants: optional(z.array(z.unknown()).max(1000)),
});
export type ConversationEventCall = z.output<typeof conversationEventCall>;

export const callEventParticipant = z.object({
  id: genesysId,
  purpose: optional(text),
  state: optional(text),
  disconnectType: optional(text),
  held: optional(z.boolean()),
  confined: optional(z.boolean()),
  muted: optional(z.boolean()),
  errorInfo: optional(errorInfo),
  startAcwTime: optional(isoInstant),
  endAcwTime: optional(isoInstant),
  direction: optional(text),
  address: optional(text),
  ani: optional(text),
  dnis: optional(text),
  startTime: optional(isoInstant),
  connectedTime: optional(isoInstant),
  endTime: optional(isoInstant),
  startHoldTime: optional(isoInstant),
  user: optional(entityRef),
  queue: optional(entityRef),
  provider: optional(text),
  peer: optional(genesysId),
  recording: optional(z.boolean()),
  recordingState: optional(text),
  publicIpAddress: optional(text),
});

/**
 * `v2.users.{id}.conversations.calls` / `v2.routing.queues.{id}.conversations.calls` body
 * (Models.ConversationCallEventTopicCallConversation / QueueConversationCallEventTopicCallConversation): one flat
 * object per participant leg, without the communication id.
 */
export const callConversationEventBody = z.object({
  id: genesysId,
  participants: optional(z.array(callEventParticipant).max(1000)),
  recordingState: optional(text),
});
export type CallConversationEventBody = z.output<typeof callConversationEventBody>;
export const callConversationEventShell = callConversationEventBody.extend({
  participants: optional(z.array(z.unknown()).max(1000)),
});

/** `v2.detail.events.conversation.{id}.user.start|end` body (Models.UserStart/EndDetailEventTopicUser*Event). */
export const detailEventBody = z.object({
  eventTime: z.number().int().nonnegative(),
  conversationId: genesysId,
  participantId: genesysId,
  sessionId: optional(genesysId),
  mediaType: optional(text),
  provider: optional(text),
  direction: optional(text),
  addressTo: optional(text),
  addressFrom: optional(text),
  ani: optional(text),
  dnis: optional(text),
  userId: optional(genesysId),
  queueId: optional(genesysId),
  disconnectType: optional(text),
});
export type DetailEventBody = z.output<typeof detailEventBody>;

/** `v2.users.{id}.station` body (Models.UserStationChangeTopicUserStations). */
export const userStationBody = z.object({
  associatedStation: optional(
    z.object({
      id: optional(genesysId),
      name: optional(text),
      associatedUser: optional(z.object({ id: optional(genesysId) })),
    }),
  ),
});
export type UserStationBody = z.output<typeof userStationBody>;

/** `v2.users.{id}.persistentconnection` body (Models.PersistentConnectionChangeTopicPersistentConnectionChangeEvent). */
export const persistentConnectionBody = z.object({
  stationId: optional(genesysId),
  userId: optional(genesysId),
  persistentState: optional(text),
  eventTime: optional(isoInstant),
  errorInfo: optional(z.object({ code: optional(text) })),
});
export type PersistentConnectionBody = z.output<typeof persistentConnectionBody>;

/** `v2.system.*` body (Models.SystemMessageSystemMessage, the fields custody uses; ids there are opaque). */
export const systemMessageBody = z.object({
  channelId: optional(z.string().max(256)),
  systemTopicType: optional(text),
  reason: optional(text),
  message: optional(text),
});
export type SystemMessageBody = z.output<typeof systemMessageBody>;
