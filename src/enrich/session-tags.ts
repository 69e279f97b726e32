/**
 * Session tags: the WebRTC session details custody captures per conversation leg, each with its own provenance.
 *
 * Types here mirror `schemas/session-tags.v1.avsc` one to one (record names equal type names; an absent field is
 * `null`, exactly as Avro decodes `["null", T]`), so a snapshot is encoded and decoded without any mapping.
 *
 * - Extraction from notifications: `session-tags-extract.ts`; from REST/analytics (gap repair):
 *   `session-tags-reconcile.ts`; merging and change detection: `session-tags-merge.ts`.
 */

/**
 * Where a value came from. `live`: a Notification API event captured as it happened. `reconciled`: fetched later
 * from the REST or analytics API to repair a gap (Genesys events are not durable), so it was not witnessed live.
 */
export type Provenance = 'live' | 'reconciled';

/** What kind of evidence a value points to. */
export type TagSourceKind = 'notification' | 'api' | 'user-context';

/**
 * Evidence pointer for a value. One flat record so that it evolves as one Avro record:
 * - `notification`: the frame on `genesys.notifications.v1` with this `topicName` and `correlationId`;
 * - `api`: a REST/analytics read (`api` = `analytics` | `conversations` | `users` | `stations`);
 * - `user-context`: station/persistent-connection data the ingest shell resolved for the user and passed in as data
 *   without a more specific pointer.
 */
export type TagSource = Readonly<{
  kind: TagSourceKind;
  topicName: string | null;
  correlationId: string | null;
  api: string | null;
  /**
   * The payload field the value was read from, when the leg field has several possible sources (addresses:
   * `address`, `ani`, `dnis`, `sessionDnis`, `self.addressRaw`, `addressFrom`, ...); null when the field has one
   * source of the same name.
   */
  field: string | null;
}>;

/**
 * One captured field. Times are epoch milliseconds.
 * - `observedAt`: Genesys-side time of the observation that supplied `value` (event time, or the latest timestamp
 *   in the leg), `null` when Genesys gave none;
 * - `capturedAt`: custody receive time of that observation;
 * - `firstCapturedAt`: earliest custody receive time at which this field was captured with this `provenance`.
 */
export type Tag<T> = Readonly<{
  value: T;
  provenance: Provenance;
  source: TagSource;
  observedAt: number | null;
  capturedAt: number;
  firstCapturedAt: number;
}>;

/** A captured text value. */
export type StringTag = Tag<string>;
/** A captured flag. */
export type BooleanTag = Tag<boolean>;
/** A captured instant, epoch milliseconds. */
export type TimestampTag = Tag<number>;

/** The value type of every leg field custody captures. */
export interface LegFieldValueTypes {
  /** The WebRTC session / call communication id (`calls[].id` = detail events' `sessionId`). */
  communicationId: string;
  userId: string;
  purpose: string;
  direction: string;
  stationId: string;
  stationType: string;
  /** `stationType === 'inin_webrtc_softphone'`. */
  isWebRtc: boolean;
  peerId: string;
  provider: string;
  selfAddress: string;
  otherAddress: string;
  /**
   * The client's IP as Genesys reports it: `publicIpAddress` of the live events, or `clientIpAddress` of the REST
   * call conversation (`source.field` says which; meaning UNCONFIRMED, research §2.10).
   */
  publicIpAddress: string;
  connectedTime: number;
  disconnectedTime: number;
  recordingState: string;
  recording: boolean;
  persistentConnectionState: string;
  /** Leg state as Genesys reports it (alerting, connected, disconnected, terminated, ...). */
  state: string;
  /** How the leg ended (client, peer, endpoint, transfer, error, ...): from the leg, the user.end detail event, or the analytics segment that disconnected it (never a wrapup segment). */
  disconnectType: string;
  /** Whether the leg is on hold, as of the newest capture (held in events and REST). */
  held: boolean;
  /** Whether the leg is confined (the customer side while the agent holds), as of the newest capture. */
  confined: boolean;
  /** Whether the leg is muted, as of the newest capture. */
  muted: boolean;
  /** True once any capture showed the leg held; firstCapturedAt is when custody first saw it held (every transition is in the evidence log). */
  everHeld: boolean;
  /** True once any capture showed the leg confined; firstCapturedAt is when custody first saw it. */
  everConfined: boolean;
  /** True once any capture showed the leg muted; firstCapturedAt is when custody first saw it. */
  everMuted: boolean;
  /** Start of the newest hold (epoch ms, from Genesys). */
  startHoldTime: number;
  /** Start of after-call work on the leg (epoch ms, from Genesys). */
  startAcwTime: number;
  /** End of after-call work on the leg (epoch ms, from Genesys). */
  endAcwTime: number;
  /** Id of the Edge that handled the session (analytics edgeId). */
  edgeId: string;
  /** The voice protocol call id, e.g. the SIP Call-ID (analytics protocolCallId). */
  protocolCallId: string;
  /** errorInfo.code of the leg when Genesys reported an error. */
  errorCode: string;
  /**
   * True once the leg was captured from a source that can carry the client IP (conversation/call topics, REST call
   * conversation), with or without it: tells "Genesys did not provide it" from "custody never looked".
   */
  clientIpSourceSeen: boolean;
}

/** A captured leg field name. */
export type LegTagField = keyof LegFieldValueTypes;

/** How a leg field's value is checked: text (a string), flag (a boolean) or instant (epoch ms). */
export type LegFieldKind = 'text' | 'flag' | 'instant';
type KindOf<T> = T extends boolean ? 'flag' : T extends number ? 'instant' : 'text';

/**
 * Every leg field and the kind of its value, in schema order (the order of `LegTags` in the Avro schema): the one
 * list {@link LEG_TAG_FIELDS}, the sink's snapshot schema and its guard are built from (see {@link legFieldsByKind}).
 * The type makes it complete and each kind match the field's value type.
 */
export const LEG_FIELD_KINDS: { readonly [K in LegTagField]: KindOf<LegFieldValueTypes[K]> } = {
  communicationId: 'text',
  userId: 'text',
  purpose: 'text',
  direction: 'text',
  stationId: 'text',
  stationType: 'text',
  isWebRtc: 'flag',
  peerId: 'text',
  provider: 'text',
  selfAddress: 'text',
  otherAddress: 'text',
  publicIpAddress: 'text',
  connectedTime: 'instant',
  disconnectedTime: 'instant',
  recordingState: 'text',
  recording: 'flag',
  persistentConnectionState: 'text',
  state: 'text',
  disconnectType: 'text',
  held: 'flag',
  confined: 'flag',
  muted: 'flag',
  everHeld: 'flag',
  everConfined: 'flag',
  everMuted: 'flag',
  startHoldTime: 'instant',
  startAcwTime: 'instant',
  endAcwTime: 'instant',
  edgeId: 'text',
  protocolCallId: 'text',
  errorCode: 'text',
  clientIpSourceSeen: 'flag',
};

/** Every leg field, in schema order. */
export const LEG_TAG_FIELDS = Object.keys(LEG_FIELD_KINDS) as readonly LegTagField[];

/** One check per leg field, chosen by the field's kind from `byKind`. */
export function legFieldsByKind<T>(byKind: Readonly<Record<LegFieldKind, T>>): Record<LegTagField, T> {
  const fields = {} as Record<LegTagField, T>;
  for (const f of LEG_TAG_FIELDS) fields[f] = byKind[LEG_FIELD_KINDS[f]];
  return fields;
}

/** The tags of one participant leg. Every field is a {@link Tag} or `null` (never captured). */
export type LegTags = Readonly<
  {
    /** `participantId`, or `participantId/communicationId` when one participant has several call communications. */
    legKey: string;
    participantId: string;
  } & { [K in LegTagField]: Tag<LegFieldValueTypes[K]> | null }
>;

/** The snapshot of one conversation's session tags; the value on `custody.session-tags.v1`, keyed by conversationId. */
export type SessionTagsSnapshot = Readonly<{
  conversationId: string;
  /** Sorted by `legKey` (UTF-16 code unit order). */
  legs: readonly LegTags[];
}>;

/** Field values carried by one observation; absent = not observed. */
export type LegFieldValues = Readonly<{ [K in LegTagField]?: LegFieldValueTypes[K] }>;

/** What one source said about one leg at one moment: the unit {@link mergeSessionTags} folds. */
export type TagObservation = Readonly<{
  conversationId: string;
  legKey: string;
  participantId: string;
  provenance: Provenance;
  source: TagSource;
  /** Genesys-side time of the observation (epoch ms), or null. */
  observedAt: number | null;
  /** Custody receive time (epoch ms), from the shell's clock. */
  receivedAt: number;
  fields: LegFieldValues;
  /** For fields read from a payload field of another name: that name (becomes the tag's `source.field`). */
  fieldPaths?: Readonly<{ [K in LegTagField]?: string }>;
}>;

/** Station data about a user that conversation events lack; resolved by the ingest shell and passed in as data. */
export type UserContext = Readonly<{
  stationId?: string;
  stationType?: string;
  persistentConnectionState?: string;
  /** Evidence pointer for these values (e.g. the station topic frame); defaults to `user-context`. */
  source?: TagSource;
}>;

/** Inputs extraction needs besides the event itself (no clock, no I/O in the core). */
export type ExtractionContext = Readonly<{
  receivedAt: number;
  provenance: Provenance;
  userContext: (userId: string) => UserContext | undefined;
}>;

/** Machine-readable extraction failure codes. */
export type ExtractionFailureCode = 'bad-context' | 'bad-user-context' | 'bad-record';

/** Why extraction failed. `reason` never contains payload content. */
export type ExtractionFailure = Readonly<{ code: ExtractionFailureCode; reason: string }>;

/** The station type of the Genesys Cloud WebRTC phone (research/genesys.md §3.1). */
export const WEBRTC_STATION_TYPE = 'inin_webrtc_softphone';

/** Pointer to a notification frame on the evidence log. */
export function notificationSource(topicName: string, correlationId: string | undefined): TagSource {
  return { kind: 'notification', topicName, correlationId: correlationId ?? null, api: null, field: null };
}

/** Pointer to a REST/analytics read. */
export function apiSource(api: 'analytics' | 'conversations' | 'users' | 'stations'): TagSource {
  return { kind: 'api', topicName: null, correlationId: null, api, field: null };
}

/** Pointer used when the shell passed user context without a more specific source. */
export const USER_CONTEXT_SOURCE: TagSource = {
  kind: 'user-context',
  topicName: null,
  correlationId: null,
  api: null,
  field: null,
};

/** The leg key for a participant that has `callCount` call communications in the observing source. */
export function legKeyFor(
  participantId: string,
  communicationId: string | undefined,
  callCount: number,
): string {
  return callCount > 1 && communicationId !== undefined
    ? `${participantId}/${communicationId}`
    : participantId;
}
