/**
 * A tiny in-test PlatformContext for the data modules: a manual simulated clock, a route table whose
 * handlers are called directly, and a hand-built org with conversation scripts (no simulation, no HTTP).
 */
import type { Models } from 'purecloud-platform-client-v2';
import type {
  ConversationKind,
  ConversationScript,
  SimOrg,
  SimRecording,
  StationChange,
} from '../../../../dev/emulator/model.ts';
import type {
  ApiResponse,
  ConversationStore,
  ExportTarget,
  Handler,
  PlatformContext,
  Routes,
  SimClock,
} from '../../../../dev/emulator/platform/context.ts';

export const T0 = Date.parse('2025-03-04T09:00:00.000Z');
export const MIN = 60_000;

/** A simulated clock that only moves with `advance` (timers fire in time order). */
export function manualClock(start = T0): SimClock {
  let now = start;
  let seq = 0;
  const timers: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  const at = (when: number, fn: () => void): (() => void) => {
    const t = { at: when, seq: seq++, fn, cancelled: false };
    timers.push(t);
    return () => {
      t.cancelled = true;
    };
  };
  return {
    now: () => now,
    speed: 1,
    at,
    every(everyMs, fn) {
      let cancel = (): void => undefined;
      let due = now + everyMs;
      const tick = (): void => {
        due += everyMs;
        cancel = at(due, tick);
        fn();
      };
      cancel = at(due, tick);
      return () => cancel();
    },
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = timers.find((t) => !t.cancelled && t.at <= target);
        if (!next) break;
        next.cancelled = true;
        now = Math.max(now, next.at);
        next.fn();
        await new Promise<void>((r) => setImmediate(r));
      }
      now = target;
    },
  };
}

export interface CallOptions {
  readonly query?: Record<string, string | string[]>;
  readonly body?: unknown;
  readonly clientId?: string;
}

export interface RouteTable extends Routes {
  call(method: string, path: string, opts?: CallOptions): Promise<ApiResponse>;
}

/** Routes matched like the server's router (`:name` segments). */
export function routeTable(): RouteTable {
  const routes: { method: string; parts: string[]; handler: Handler }[] = [];
  return {
    add(method, pattern, handler) {
      routes.push({ method, parts: pattern.split('/'), handler });
    },
    async call(method, path, opts = {}) {
      const segs = path.split('/');
      for (const r of routes) {
        if (r.method !== method || r.parts.length !== segs.length) continue;
        const params: Record<string, string> = {};
        const ok = r.parts.every((p, i) => {
          const s = segs[i] ?? '';
          if (p.startsWith(':')) {
            params[p.slice(1)] = decodeURIComponent(s);
            return true;
          }
          return p === s;
        });
        if (!ok) continue;
        const query = new URLSearchParams();
        for (const [k, v] of Object.entries(opts.query ?? {})) {
          for (const one of Array.isArray(v) ? v : [v]) query.append(k, one);
        }
        return r.handler({
          method,
          path,
          params,
          query,
          headers: {},
          body: opts.body,
          clientId: opts.clientId ?? 'client-a',
        });
      }
      return { status: 404, body: { code: 'no.route' } };
    },
  };
}

export function store(
  scripts: ConversationScript[],
): ConversationStore & { add(s: ConversationScript): void } {
  return {
    add: (s) => scripts.push(s),
    all: () => [...scripts].sort((a, b) => a.startTime - b.startTime),
    get: (id) => scripts.find((s) => s.conversationId === id),
    started: (now) => scripts.filter((s) => s.startTime <= now),
  };
}

export function testOrg(): SimOrg {
  return {
    orgId: 'org-1',
    name: 'Test org',
    divisionId: 'div-1',
    integrationId: 'integration-1',
    queues: [{ id: 'queue-1', name: 'Support' }],
    users: [
      {
        id: 'user-a',
        name: 'Ada Almeida',
        email: 'ada@example.com',
        divisionId: 'div-1',
        stationId: 'st-webrtc-a',
        queueIds: ['queue-1'],
      },
      {
        id: 'user-b',
        name: 'Bruno Berg',
        email: 'bruno@example.com',
        divisionId: 'div-1',
        stationId: 'st-desk',
        queueIds: ['queue-1'],
      },
      { id: 'user-c', name: 'Chloe Costa', email: 'chloe@example.com', divisionId: 'div-1', queueIds: [] },
    ],
    stations: [
      {
        id: 'st-webrtc-a',
        name: 'WebRTC Ada',
        type: 'inin_webrtc_softphone',
        userId: 'user-a',
        webRtcPersistentEnabled: true,
        webRtcCallAppearances: 1,
        primaryEdgeId: 'edge-1',
      },
      {
        id: 'st-desk',
        name: 'Desk 2001',
        type: 'inin_physical',
        webRtcPersistentEnabled: false,
        lineAppearanceId: '2001',
        primaryEdgeId: 'edge-2',
      },
      {
        id: 'st-webrtc-c',
        name: 'WebRTC Chloe',
        type: 'inin_webrtc_softphone',
        userId: 'user-c',
        webRtcPersistentEnabled: false,
        webRtcCallAppearances: 100,
      },
    ],
  };
}

let counter = 0;

/** A minimal conversation script: one agent leg, `recordings` recordings spread over the call. */
export function script(opts: {
  start: number;
  durationMs?: number;
  userId?: string;
  recordings?: number;
  kind?: ConversationKind;
  stationChanges?: StationChange[];
  analyticsLagMs?: number;
  id?: string;
}): ConversationScript {
  const id = opts.id ?? `conv-${++counter}`;
  const end = opts.start + (opts.durationMs ?? 5 * MIN);
  const userId = opts.userId ?? 'user-a';
  const n = opts.recordings ?? 1;
  const recordings: SimRecording[] = Array.from({ length: n }, (_, i) => {
    const rs = opts.start + ((end - opts.start) * i) / n;
    const re = opts.start + ((end - opts.start) * (i + 1)) / n;
    const recordingId = `${id}-rec-${i}`;
    return {
      recordingId,
      conversationId: id,
      startTime: rs,
      endTime: re,
      userIds: [userId],
      mediaSubtype: i === 0 ? 'Trunk' : 'Consult',
      direction: 'inbound',
      sizeBytes: 4096 + i,
      metadata: {
        id: recordingId,
        conversationId: id,
        media: 'audio',
        mediaSubtype: i === 0 ? 'Trunk' : 'Consult',
        fileState: 'AVAILABLE',
      },
    };
  });
  const call: Models.CallConversation = {
    id,
    name: 'connected',
    participants: [{ id: `${id}-p1`, purpose: 'agent', user: { id: userId }, state: 'connected' }],
  };
  const conversation: Models.AnalyticsConversationWithoutAttributes = {
    conversationId: id,
    conversationStart: new Date(opts.start).toISOString(),
    conversationEnd: new Date(end).toISOString(),
    originatingDirection: 'inbound',
    divisionIds: ['div-1'],
    participants: [
      {
        participantId: `${id}-c`,
        purpose: 'customer',
        sessions: [
          {
            mediaType: 'voice',
            direction: 'inbound',
            sessionId: `${id}-s0`,
            segments: [{ segmentType: 'interact' }],
          },
        ],
      },
      {
        participantId: `${id}-p1`,
        purpose: 'agent',
        userId,
        sessions: [
          {
            mediaType: 'voice',
            direction: 'inbound',
            sessionId: `${id}-s1`,
            segments: [{ segmentType: 'interact', queueId: 'queue-1' }],
          },
        ],
      },
    ],
  };
  return {
    conversationId: id,
    kind: opts.kind ?? 'inbound-acd-webrtc',
    startTime: opts.start,
    endTime: end,
    events: [],
    callSnapshots: [
      { at: opts.start, call: { ...call, name: 'alerting' } },
      { at: opts.start + 1000, call },
    ],
    analytics: { availableAt: end + (opts.analyticsLagMs ?? 2 * MIN), conversation },
    recordings,
    stationChanges: opts.stationChanges ?? [],
    groundTruth: [],
  };
}

export interface TestContext extends PlatformContext {
  readonly routes: RouteTable;
  readonly scripts: ConversationScript[];
}

export function testContext(
  scripts: ConversationScript[],
  extra: { exportAfterMinutes?: number; exportTarget?: ExportTarget; clock?: SimClock } = {},
): TestContext {
  const routes = routeTable();
  return {
    org: testOrg(),
    clock: extra.clock ?? manualClock(),
    routes,
    scripts,
    conversations: store(scripts),
    publish: () => undefined,
    baseUrl: () => 'http://127.0.0.1:0',
    exportTarget: extra.exportTarget,
    exportAfterMinutes: extra.exportAfterMinutes,
  };
}
