/**
 * The subset of the analytics conversation-detail query language the emulator understands, shared by
 * `POST /api/v2/analytics/conversations/details/query` and recording bulk jobs' `conversationQuery`:
 * an ISO `start/end` interval (conversations overlapping it), and conversation/segment filters of
 * dimension predicates (`matches`, `exists`, `notExists`) combined with `and`/`or` and clauses.
 * Anything else is rejected with a 400 that says the emulator does not model it, never silently ignored.
 */
import type { Models } from 'purecloud-platform-client-v2';
import type { ConversationScript } from '../model.ts';

export interface Interval {
  readonly start: number;
  readonly end: number;
}

export interface DetailQuery {
  readonly interval: Interval;
  readonly conversationFilters: readonly QueryFilter[];
  readonly segmentFilters: readonly QueryFilter[];
  readonly order: 'asc' | 'desc';
  readonly orderBy: 'conversationStart' | 'conversationEnd';
}

const CONVERSATION_DIMENSIONS = new Set([
  'conversationId',
  'divisionId',
  'originatingDirection',
  'conversationInitiator',
]);
const SEGMENT_DIMENSIONS = new Set([
  'conversationId',
  'userId',
  'participantId',
  'participantName',
  'purpose',
  'mediaType',
  'direction',
  'sessionId',
  'peerId',
  'provider',
  'edgeId',
  'ani',
  'dnis',
  'queueId',
  'segmentType',
  'disconnectType',
]);

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Parses `"2024-01-01T00:00:00.000Z/2024-01-02T00:00:00.000Z"`; returns an error message when invalid. */
export function parseInterval(raw: unknown): Interval | string {
  if (typeof raw !== 'string') return 'interval is required ("start/end", ISO-8601)';
  const parts = raw.split('/');
  const [a, b] = parts;
  if (parts.length !== 2 || a === undefined || b === undefined || !ISO.test(a) || !ISO.test(b)) {
    return `interval "${raw.slice(0, 100)}" must be two ISO-8601 date-times "start/end"`;
  }
  const start = Date.parse(a);
  const end = Date.parse(b);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
    return 'interval end must be after its start';
  }
  return { start, end };
}

/** Validates a query body (detail query or a job's `conversationQuery`); returns an error message when invalid. */
export function parseDetailQuery(body: unknown): DetailQuery | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'query body must be an object';
  const q = body as Record<string, unknown>;
  const interval = parseInterval(q.interval);
  if (typeof interval === 'string') return interval;
  const order = q.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') return 'order must be asc or desc';
  const orderBy = q.orderBy ?? 'conversationStart';
  if (orderBy !== 'conversationStart' && orderBy !== 'conversationEnd') {
    return 'the emulator supports orderBy conversationStart or conversationEnd only';
  }
  for (const unsupported of ['evaluationFilters', 'surveyFilters', 'resolutionFilters', 'aggregations']) {
    const v = q[unsupported];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0))
      return `the emulator does not support ${unsupported}`;
  }
  const conversationFilters = checkFilters(
    q.conversationFilters,
    CONVERSATION_DIMENSIONS,
    'conversationFilters',
  );
  if (typeof conversationFilters === 'string') return conversationFilters;
  const segmentFilters = checkFilters(q.segmentFilters, SEGMENT_DIMENSIONS, 'segmentFilters');
  if (typeof segmentFilters === 'string') return segmentFilters;
  return {
    interval,
    conversationFilters,
    segmentFilters,
    order,
    orderBy,
  };
}

/** A validated conversation or segment filter. */
export interface QueryFilter {
  readonly type: 'and' | 'or';
  readonly predicates: readonly Predicate[];
  readonly clauses: ReadonlyArray<{ readonly type: 'and' | 'or'; readonly predicates: readonly Predicate[] }>;
}
interface Predicate {
  readonly dimension: string;
  readonly operator: 'matches' | 'exists' | 'notExists';
  readonly value?: string;
}

function checkFilters(raw: unknown, dimensions: ReadonlySet<string>, name: string): QueryFilter[] | string {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) return `${name} must be an array`;
  const out: QueryFilter[] = [];
  for (const f of raw as unknown[]) {
    if (typeof f !== 'object' || f === null) return `${name} entries must be objects`;
    const { type, predicates, clauses } = f as Record<string, unknown>;
    if (type !== 'and' && type !== 'or') return `${name}[].type must be and or or`;
    const preds = checkPredicates(predicates ?? [], dimensions, name);
    if (typeof preds === 'string') return preds;
    if (clauses !== undefined && !Array.isArray(clauses)) return `${name}[].clauses must be an array`;
    const cls: { type: 'and' | 'or'; predicates: Predicate[] }[] = [];
    for (const c of (clauses ?? []) as unknown[]) {
      if (typeof c !== 'object' || c === null) return `${name}[].clauses entries must be objects`;
      const { type: ct, predicates: cp } = c as Record<string, unknown>;
      if (ct !== 'and' && ct !== 'or') return `${name}[].clauses[].type must be and or or`;
      const p = checkPredicates(cp, dimensions, name);
      if (typeof p === 'string') return p;
      cls.push({ type: ct, predicates: p });
    }
    if (preds.length === 0 && cls.length === 0) return `${name}[] needs predicates or clauses`;
    out.push({ type, predicates: preds, clauses: cls });
  }
  return out;
}

function checkPredicates(raw: unknown, dimensions: ReadonlySet<string>, name: string): Predicate[] | string {
  if (!Array.isArray(raw)) return `${name} predicates must be an array`;
  const out: Predicate[] = [];
  for (const p of raw as unknown[]) {
    if (typeof p !== 'object' || p === null) return `${name} predicates must be objects`;
    const { type, dimension, operator, value } = p as Record<string, unknown>;
    if (type !== undefined && type !== 'dimension')
      return `the emulator supports only dimension predicates in ${name}`;
    if (typeof dimension !== 'string' || !dimensions.has(dimension)) {
      return `the emulator does not support dimension ${String(dimension).slice(0, 50)} in ${name}`;
    }
    const op = operator ?? 'matches';
    if (op !== 'matches' && op !== 'exists' && op !== 'notExists')
      return `unsupported operator ${String(op).slice(0, 20)}`;
    if (op === 'matches' && typeof value !== 'string')
      return `predicate on ${dimension} needs a string value`;
    out.push({ dimension, operator: op, value: typeof value === 'string' ? value : undefined });
  }
  return out;
}

type Dimensions = Readonly<Record<string, string | readonly string[] | undefined>>;

function predicateHolds(p: Predicate, dims: Dimensions): boolean {
  const raw = dims[p.dimension];
  const values = raw === undefined ? [] : typeof raw === 'string' ? [raw] : raw;
  if (p.operator === 'exists') return values.length > 0;
  if (p.operator === 'notExists') return values.length === 0;
  return values.includes(p.value ?? '');
}

function filterHolds(f: QueryFilter, dims: Dimensions): boolean {
  const results = [
    ...f.predicates.map((p) => predicateHolds(p, dims)),
    ...f.clauses.map((c) => {
      const r = c.predicates.map((p) => predicateHolds(p, dims));
      return c.type === 'and' ? r.every(Boolean) : r.some(Boolean);
    }),
  ];
  return f.type === 'and' ? results.every(Boolean) : results.some(Boolean);
}

/** Dimension values of every segment of a conversation (participant + session + segment context). */
function segmentContexts(conv: Models.AnalyticsConversationWithoutAttributes): Dimensions[] {
  const out: Dimensions[] = [];
  for (const p of conv.participants ?? []) {
    for (const s of p.sessions ?? []) {
      const base = {
        conversationId: conv.conversationId,
        userId: p.userId,
        participantId: p.participantId,
        participantName: p.participantName,
        purpose: p.purpose,
        mediaType: s.mediaType,
        direction: s.direction,
        sessionId: s.sessionId,
        peerId: s.peerId,
        provider: s.provider,
        edgeId: s.edgeId,
        ani: s.ani,
        dnis: s.dnis,
      };
      const segments = s.segments ?? [];
      if (segments.length === 0) out.push(base);
      for (const seg of segments) {
        out.push({
          ...base,
          queueId: seg.queueId,
          segmentType: seg.segmentType,
          disconnectType: seg.disconnectType,
        });
      }
    }
  }
  return out;
}

/** True when the conversation overlaps the query interval and satisfies every filter. */
export function matchesDetailQuery(script: ConversationScript, query: DetailQuery): boolean {
  if (!(script.startTime < query.interval.end && script.endTime >= query.interval.start)) return false;
  const conv = script.analytics.conversation;
  const convDims: Dimensions = {
    conversationId: conv.conversationId ?? script.conversationId,
    divisionId: conv.divisionIds,
    originatingDirection: conv.originatingDirection,
    conversationInitiator: conv.conversationInitiator,
  };
  if (!query.conversationFilters.every((f) => filterHolds(f, convDims))) return false;
  if (query.segmentFilters.length === 0) return true;
  const contexts = segmentContexts(conv);
  return query.segmentFilters.every((f) => contexts.some((dims) => filterHolds(f, dims)));
}

/** Conversations with analytics available at `now` that match the query, in the query's order. */
export function runDetailQuery(
  scripts: readonly ConversationScript[],
  query: DetailQuery,
  now: number,
): ConversationScript[] {
  const key =
    query.orderBy === 'conversationEnd'
      ? (s: ConversationScript) => s.endTime
      : (s: ConversationScript) => s.startTime;
  const sign = query.order === 'asc' ? 1 : -1;
  return scripts
    .filter((s) => s.analytics.availableAt <= now && matchesDetailQuery(s, query))
    .sort((a, b) => sign * (key(a) - key(b)) || a.conversationId.localeCompare(b.conversationId));
}
