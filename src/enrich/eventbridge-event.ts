/**
 * Parses one untrusted Amazon EventBridge event from the Genesys Cloud "Amazon EventBridge Source" integration into
 * the notification frame it carries, so the EventBridge path reuses the WebSocket path's parsing and extraction.
 *
 * Shape, from two sources (research/genesys.md §2.11):
 * - AWS, "AWS service event metadata" (docs.aws.amazon.com/eventbridge/latest/ref/events-structure.html): every
 *   event on a bus is `{ version: "0", id: UUID, "detail-type", source, account, time, region, resources[], detail }`.
 * - Genesys, the aws-eventbridge-user-presence-update blueprint's sample event (GenesysCloudBlueprints): `source` is
 *   the partner event source `aws.partner/genesys.com/cloud/{orgId}/{eventSourceSuffix}`, `detail-type` the topic
 *   template (`v2.users.{id}.conversations.calls`), and `detail` the WebSocket envelope (`topicName` concrete,
 *   `version`, `eventBody`, `metadata.CorrelationId`) plus `timestamp` (ms precision; the outer `time` has seconds).
 * UNCONFIRMED: that conversation/call topics are offered over EventBridge (check `transports` of
 * GET /api/v2/notifications/availabletopics), so `detail-type` is recorded, never checked against `topicName`.
 *
 * Failure reasons name a field and a check, never payload content.
 */
import { err, ok } from './result.ts';
import type { Result } from './result.ts';

export type EventBridgeFailureCode = 'not-json' | 'not-an-eventbridge-event' | 'not-genesys' | 'bad-detail';

export type EventBridgeFailure = Readonly<{ code: EventBridgeFailureCode; reason: string }>;

/** What custody keeps of an EventBridge event besides the notification frame it carries. */
export type EventBridgeOrigin = Readonly<{
  /** The event's `id` (a UUID EventBridge assigns; retries of the same event to a target keep it). */
  id: string;
  detailType: string;
  /** `aws.partner/genesys.com/cloud/{orgId}/{suffix}`. */
  source: string;
  /** The Genesys org id in `source`, when it has the documented form. */
  orgId: string | undefined;
  account: string | undefined;
  region: string | undefined;
  /** The outer `time` as sent (second precision). */
  time: string | undefined;
  /** `detail.timestamp` as sent (millisecond precision), when present. */
  detailTimestamp: string | undefined;
}>;

export type EventBridgeEvent = Readonly<{
  origin: EventBridgeOrigin;
  /** `detail` as a notification frame text (re-serialised; key order kept): what parseNotificationFrame reads. */
  frameText: string;
}>;

/** Every Genesys partner event source starts with this (AWS names partner sources `aws.partner/{partner}/...`). */
export const GENESYS_EVENT_SOURCE_PREFIX = 'aws.partner/genesys.com/';
const GENESYS_SOURCE_RE =
  /^aws\.partner\/genesys\.com\/cloud\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/[A-Za-z0-9._-]{1,64}$/i;
/** AWS bounds: detail-type ≤ 128 characters (PutPartnerEvents), id a UUID; sources ≤ 256. */
const ID_RE = /^[A-Za-z0-9-]{1,64}$/;
const PRINTABLE_RE = /^[\x20-\x7e]*$/;

function fail(code: EventBridgeFailureCode, reason: string): Result<never, EventBridgeFailure> {
  return err({ code, reason });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalText(v: unknown, max: number): string | undefined | null {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' && v.length <= max && PRINTABLE_RE.test(v) ? v : null;
}

/** Parses one EventBridge event (as EventBridge delivers it to a target). Never throws. */
export function parseEventBridgeEvent(text: string): Result<EventBridgeEvent, EventBridgeFailure> {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return fail('not-json', 'EventBridge event is not valid JSON');
  }
  if (!isRecord(event)) return fail('not-an-eventbridge-event', 'EventBridge event is not a JSON object');
  const { id, source } = event;
  const detailType = event['detail-type'];
  if (typeof id !== 'string' || !ID_RE.test(id))
    return fail('not-an-eventbridge-event', 'id is missing or not an event id');
  if (typeof detailType !== 'string' || detailType.length === 0 || detailType.length > 128)
    return fail('not-an-eventbridge-event', 'detail-type is missing or not a string of 1-128 characters');
  if (typeof source !== 'string' || source.length > 256)
    return fail('not-an-eventbridge-event', 'source is missing or not a string of at most 256 characters');
  if (!source.startsWith(GENESYS_EVENT_SOURCE_PREFIX))
    return fail('not-genesys', `source does not start with ${GENESYS_EVENT_SOURCE_PREFIX}`);
  const account = optionalText(event['account'], 64);
  const region = optionalText(event['region'], 64);
  const time = optionalText(event['time'], 64);
  if (account === null || region === null || time === null)
    return fail('not-an-eventbridge-event', 'account, region or time is not a short printable string');
  const detail = event['detail'];
  if (!isRecord(detail)) return fail('bad-detail', 'detail is missing or not a JSON object');
  if (typeof detail['topicName'] !== 'string')
    return fail('bad-detail', 'detail.topicName is missing or not a string');
  const detailTimestamp = optionalText(detail['timestamp'], 64);
  if (detailTimestamp === null) return fail('bad-detail', 'detail.timestamp is not a short printable string');
  return ok({
    origin: {
      id,
      detailType,
      source,
      orgId: GENESYS_SOURCE_RE.exec(source)?.[1]?.toLowerCase(),
      account,
      region,
      time,
      detailTimestamp,
    },
    frameText: JSON.stringify(detail),
  });
}
