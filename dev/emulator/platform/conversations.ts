/**
 * Conversation data endpoints, answered from the scripts at the current simulated time:
 * the call view, analytics details (single and query), recording metadata and recording deletion
 * protection. Nothing is visible before it would exist on the real platform.
 */
import type { Models } from 'purecloud-platform-client-v2';
import type { ConversationScript, SimRecording } from '../model.ts';
import { apiError } from './context.ts';
import type { ApiRequest, ApiResponse, PlatformContext } from './context.ts';
import { readPaging } from './directory.ts';
import { recordingLedger } from './export-ledger.ts';
import type { RecordingLedger } from './export-ledger.ts';
import { parseDetailQuery, runDetailQuery } from './export-query.ts';

/** Most conversation ids one deletion-protection request may name (the real limit is UNCONFIRMED). */
export const MAX_PROTECTION_IDS = 100;

/** A recording is visible (REST, jobs) once its media has ended and the file exists. */
export function recordingExists(recording: SimRecording, now: number): boolean {
  return recording.endTime <= now;
}

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** The REST `RecordingMetadata` of a recording, with the retention dates the platform has set so far. */
export function recordingMetadataView(
  recording: SimRecording,
  ledger: RecordingLedger,
  now: number,
): Models.RecordingMetadata {
  const r = ledger.retention(recording);
  const deleted = r.deleteDate !== undefined && r.deleteDate <= now;
  return {
    ...recording.metadata,
    ...(deleted ? { fileState: 'DELETED' } : {}),
    id: recording.metadata.id ?? recording.recordingId,
    conversationId: recording.conversationId,
    exportDate: iso(r.exportDate),
    exportedDate: iso(r.exportedDate),
    deleteDate: iso(r.deleteDate) ?? recording.metadata.deleteDate,
    archiveDate: iso(r.archiveDate) ?? recording.metadata.archiveDate,
    selfUri: `/api/v2/conversations/${recording.conversationId}/recordingmetadata/${recording.recordingId}`,
  };
}

/** Registers the conversation, analytics, recording-metadata and deletion-protection routes. */
export function registerConversationRoutes(ctx: PlatformContext): void {
  const ledger = recordingLedger(ctx);
  const startedScript = (id: string | undefined): ConversationScript | undefined => {
    const script = ctx.conversations.get(id ?? '');
    return script && script.startTime <= ctx.clock.now() ? script : undefined;
  };
  const notFound = (what: string, id: string | undefined): ApiResponse =>
    apiError(404, 'not.found', `${what} ${(id ?? '').slice(0, 100)} not found`);

  ctx.routes.add('GET', '/api/v2/conversations/calls/:conversationId', (req) => {
    const script = startedScript(req.params.conversationId);
    const now = ctx.clock.now();
    const snapshot = script?.callSnapshots.filter((s) => s.at <= now).at(-1);
    if (!snapshot) return notFound('Conversation', req.params.conversationId);
    return { status: 200, body: snapshot.call };
  });

  ctx.routes.add('GET', '/api/v2/analytics/conversations/:conversationId/details', (req) => {
    const script = startedScript(req.params.conversationId);
    if (!script || script.analytics.availableAt > ctx.clock.now()) {
      return notFound('Conversation', req.params.conversationId);
    }
    return { status: 200, body: script.analytics.conversation };
  });

  ctx.routes.add('POST', '/api/v2/analytics/conversations/details/query', (req) => detailsQuery(ctx, req));

  ctx.routes.add('GET', '/api/v2/conversations/:conversationId/recordingmetadata', (req) => {
    const script = startedScript(req.params.conversationId);
    if (!script) return notFound('Conversation', req.params.conversationId);
    const now = ctx.clock.now();
    const body: Models.RecordingMetadata[] = script.recordings
      .filter((r) => recordingExists(r, now))
      .map((r) => recordingMetadataView(r, ledger, now));
    return { status: 200, body };
  });

  ctx.routes.add('GET', '/api/v2/conversations/:conversationId/recordingmetadata/:recordingId', (req) => {
    const script = startedScript(req.params.conversationId);
    const recording = script?.recordings.find(
      (r) => r.recordingId === req.params.recordingId && recordingExists(r, ctx.clock.now()),
    );
    if (!recording) return notFound('Recording', req.params.recordingId);
    return { status: 200, body: recordingMetadataView(recording, ledger, ctx.clock.now()) };
  });

  ctx.routes.add('PUT', '/api/v2/recordings/deletionprotection', (req) => {
    const protect = req.query.get('protect');
    if (protect !== 'true' && protect !== 'false') {
      return apiError(400, 'bad.request', 'Query parameter protect must be true or false');
    }
    const ids = readConversationIds(req.body);
    if (typeof ids === 'string') return apiError(400, 'bad.request', ids);
    const failedUpdates: Models.FailedDeleteProtectionUpdate[] = [];
    for (const id of ids) {
      if (!startedScript(id)) {
        failedUpdates.push({
          conversation: { id, selfUri: `/api/v2/conversations/${id}` },
          errorCode: 'not.found',
          errorMessage: `Conversation ${id} not found`,
        });
        continue;
      }
      ledger.setProtected(id, protect === 'true');
    }
    const body: Models.ManageDeleteProtectionResult = { failedUpdates };
    return { status: 200, body };
  });

  ctx.routes.add('POST', '/api/v2/recordings/deletionprotection', (req) => {
    const ids = readConversationIds(req.body);
    if (typeof ids === 'string') return apiError(400, 'bad.request', ids);
    const body: Models.AddressableEntityRef[] = ids
      .filter((id) => ledger.isProtected(id))
      .map((id) => ({ id, selfUri: `/api/v2/conversations/${id}` }));
    return { status: 200, body };
  });
}

function readConversationIds(body: unknown): string[] | string {
  const ids =
    typeof body === 'object' && body !== null ? (body as Record<string, unknown>).conversationIds : undefined;
  if (!Array.isArray(ids) || ids.length === 0) return 'conversationIds must be a non-empty array';
  if (ids.length > MAX_PROTECTION_IDS) return `at most ${MAX_PROTECTION_IDS} conversationIds per request`;
  if (!ids.every((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= 100)) {
    return 'conversationIds must be non-empty strings';
  }
  return [...new Set(ids)];
}

function detailsQuery(ctx: PlatformContext, req: ApiRequest): ApiResponse {
  const query = parseDetailQuery(req.body);
  if (typeof query === 'string') return apiError(400, 'bad.request', query);
  const pagingBody = (req.body as Record<string, unknown>).paging;
  const paging = readBodyPaging(pagingBody);
  if ('status' in paging) return paging;
  const hits = runDetailQuery(ctx.conversations.all(), query, ctx.clock.now());
  const page = hits.slice((paging.pageNumber - 1) * paging.pageSize, paging.pageNumber * paging.pageSize);
  // The real API omits `conversations` when nothing matches.
  const body: Models.AnalyticsConversationQueryResponse = {
    ...(page.length > 0 ? { conversations: page.map((s) => s.analytics.conversation) } : {}),
    totalHits: hits.length,
  };
  return { status: 200, body };
}

function readBodyPaging(raw: unknown): { pageSize: number; pageNumber: number } | ApiResponse {
  if (raw === undefined) return { pageSize: 25, pageNumber: 1 };
  if (typeof raw !== 'object' || raw === null)
    return apiError(400, 'bad.request', 'paging must be an object');
  const { pageSize, pageNumber } = raw as Record<string, unknown>;
  const q = new URLSearchParams();
  if (pageSize !== undefined) q.set('pageSize', String(pageSize));
  if (pageNumber !== undefined) q.set('pageNumber', String(pageNumber));
  // Detail queries page at most 100 conversations at a time.
  return readPaging(q, 100);
}
