/**
 * The contract between the emulator's two halves:
 *
 * - the **simulation** (`dev/emulator/simulation/`): a pure, seeded generator of a simulated org and of
 *   conversation scripts — every notification the real platform would send for a conversation, every
 *   REST view of it over time, its recordings, and the ground truth a perfect capture would record;
 * - the **platform** (`dev/emulator/platform/`): the HTTP Platform API, OAuth, notification channels and
 *   WebSocket, rate limits, recording jobs, S3 exports and the control API. It schedules scripts on the
 *   simulated clock, publishes their events to subscribed channels, and answers REST from the scripts.
 *
 * Event bodies and REST shapes are the SDK's own `Models.*` types, so the compiler checks their shape.
 * Times inside scripts are absolute epoch milliseconds of *simulated* time.
 */
import type { Models } from 'purecloud-platform-client-v2';

export type StationType = 'inin_webrtc_softphone' | 'inin_remote' | 'inin_physical';

export interface SimStation {
  readonly id: string;
  readonly name: string;
  readonly type: StationType;
  /** User the station is associated with (WebRTC stations belong to one user). */
  readonly userId?: string;
  readonly webRtcPersistentEnabled: boolean;
  readonly webRtcCallAppearances?: number;
  readonly lineAppearanceId?: string;
  readonly primaryEdgeId?: string;
}

export interface SimUser {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly divisionId: string;
  /** Effective station at org creation; scripts may move users between stations (station events). */
  readonly stationId?: string;
  readonly queueIds: readonly string[];
}

export interface SimQueue {
  readonly id: string;
  readonly name: string;
}

export interface SimOrg {
  readonly orgId: string;
  readonly name: string;
  readonly divisionId: string;
  readonly users: readonly SimUser[];
  readonly queues: readonly SimQueue[];
  readonly stations: readonly SimStation[];
  /** The OAuth user that owns bulk jobs created with the org's client credentials. */
  readonly integrationId: string;
  /**
   * Share (0..1) of WebRTC users whose legs carry `publicIpAddress`. Real call frames mostly lack it, so the
   * default is low ({@link DEFAULT_WEBRTC_PUBLIC_IP_SHARE}); which users get it is stable per user id.
   */
  readonly webRtcPublicIpShare?: number;
}

/** Default of {@link SimOrg.webRtcPublicIpShare}: most WebRTC legs come without a public IP, as in production. */
export const DEFAULT_WEBRTC_PUBLIC_IP_SHARE = 0.2;

/** One notification as the platform would publish it: concrete topic name + typed body. */
export interface ScriptedEvent {
  readonly at: number;
  readonly topicName: string;
  readonly eventBody:
    | Models.ConversationEventTopicConversation
    | Models.ConversationCallEventTopicCallConversation
    | Models.QueueConversationCallEventTopicCallConversation
    | Models.UserStartDetailEventTopicUserStartEvent
    | Models.UserEndDetailEventTopicUserEndEvent
    | Models.UserStationChangeTopicUserStations
    | Models.PersistentConnectionChangeTopicPersistentConnectionChangeEvent;
}

/** A station (re)association that happens during the simulation, with the station event it causes. */
export interface StationChange {
  readonly at: number;
  readonly userId: string;
  /** New effective station, or undefined when the user logs out of the station. */
  readonly stationId?: string;
}

export interface SimRecording {
  readonly recordingId: string;
  readonly conversationId: string;
  /** Media start and end of this recording (simulated epoch ms). */
  readonly startTime: number;
  readonly endTime: number;
  readonly userIds: readonly string[];
  readonly mediaSubtype: 'Trunk' | 'Station' | 'Consult' | 'Screen';
  readonly direction: 'inbound' | 'outbound';
  /** Size of the Opus audio the export writes (realistic: ~16 kbit/s => ~2 KB per second). */
  readonly sizeBytes: number;
  /** The REST view (GET /api/v2/conversations/{id}/recordingmetadata). */
  readonly metadata: Models.RecordingMetadata;
}

/** What a perfect capture knows about one participant leg (the ingest tests compare against this). */
export interface GroundTruthLeg {
  readonly conversationId: string;
  readonly participantId: string;
  /** The leg's communication id: `calls[].id`, which detail events call `sessionId`. */
  readonly communicationId: string;
  readonly purpose: string;
  readonly direction: 'inbound' | 'outbound';
  readonly userId?: string;
  readonly stationId?: string;
  readonly stationType?: StationType;
  readonly isWebRtc: boolean;
  readonly peerId?: string;
  readonly provider?: string;
  readonly selfAddress?: string;
  readonly otherAddress?: string;
  readonly publicIpAddress?: string;
  readonly connectedTime?: number;
  readonly disconnectedTime?: number;
  readonly recording: boolean;
  /** persistentconnection state of the user's station when the leg connected, if persistent. */
  readonly persistentConnectionState?: string;
}

export type ConversationKind =
  | 'inbound-acd-webrtc'
  | 'outbound-webrtc'
  | 'blind-transfer'
  | 'consult-transfer'
  | 'same-agent-multiple-legs'
  | 'persistent-connection'
  | 'sip-desk-phone'
  | 'unrecorded'
  | 'hour-boundary';

export interface ConversationScript {
  readonly conversationId: string;
  readonly kind: ConversationKind;
  readonly startTime: number;
  readonly endTime: number;
  /** Every notification, ordered by `at`, for every topic it appears on (users, queues, detail events). */
  readonly events: readonly ScriptedEvent[];
  /** REST GET /api/v2/conversations/calls/{id}: the latest snapshot with `at <= now` is served. */
  readonly callSnapshots: ReadonlyArray<{ readonly at: number; readonly call: Models.CallConversation }>;
  /** REST analytics details; served only once `availableAt` has passed (analytics lag). */
  readonly analytics: {
    readonly availableAt: number;
    readonly conversation: Models.AnalyticsConversationWithoutAttributes;
  };
  readonly recordings: readonly SimRecording[];
  readonly stationChanges: readonly StationChange[];
  readonly groundTruth: readonly GroundTruthLeg[];
}

/** A scenario file (JSON) for `--scenario`: conversations of given kinds at given simulated times. */
export interface Scenario {
  readonly seed?: number;
  /** ISO-8601 start of simulated time. */
  readonly start: string;
  readonly conversations: ReadonlyArray<{
    readonly kind: ConversationKind;
    readonly at: string;
    readonly durationSeconds?: number;
  }>;
}
