/**
 * The seams inside the emulator's platform half. `server.ts` owns the HTTP server, the router, OAuth,
 * rate limiting and the simulated clock; feature modules (notifications, users/stations, conversations,
 * analytics, recordings, jobs, S3 exports) each export `register…Routes(ctx)` and use only this context.
 */
import type { ConversationScript, ScriptedEvent, SimOrg } from '../model.ts';

/** Simulated time. `speed` simulated ms pass per real ms; tests can also jump with `advance`. */
export interface SimClock {
  /** Current simulated time, epoch ms. */
  now(): number;
  readonly speed: number;
  /** Moves simulated time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): Promise<void>;
  /** Runs `fn` when simulated time reaches `at` (immediately if already past). Returns a cancel function. */
  at(at: number, fn: () => void): () => void;
  /** Runs `fn` every `everyMs` of simulated time until cancelled. */
  every(everyMs: number, fn: () => void): () => void;
}

export interface ApiRequest {
  readonly method: string;
  /** Path without query string, e.g. `/api/v2/users/abc/station`. */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed JSON body (undefined when none). */
  readonly body: unknown;
  /** The authenticated OAuth client (set for routes that require auth). */
  readonly clientId?: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export type Handler = (req: ApiRequest) => ApiResponse | Promise<ApiResponse>;

export interface Routes {
  /** `pattern` uses `:name` segments, e.g. `/api/v2/recording/jobs/:jobId`. Auth (Bearer token) is required unless `public`. */
  add(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD',
    pattern: string,
    handler: Handler,
    opts?: { public?: boolean },
  ): void;
}

/** Genesys-style error body: `{ message, code, status, contextId, details: [], errors: [] }`. */
export function apiError(
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): ApiResponse {
  return {
    status,
    headers,
    body: { message, code, status, contextId: `emulator-${code}`, details: [], errors: [] },
  };
}

/** Conversations the simulation has scheduled (whether or not they have started yet). */
export interface ConversationStore {
  all(): readonly ConversationScript[];
  get(conversationId: string): ConversationScript | undefined;
  /** Conversations that have started by simulated time `now`. */
  started(now: number): readonly ConversationScript[];
}

/** Where the simulated "AWS S3 recording bulk actions" integration writes (a real S3 server). */
export interface ExportTarget {
  readonly endpoint?: string;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface PlatformContext {
  readonly org: SimOrg;
  readonly clock: SimClock;
  readonly routes: Routes;
  readonly conversations: ConversationStore;
  /** Delivers one event to every channel subscribed to its topic (directly or via a combined topic). */
  publish(event: Pick<ScriptedEvent, 'topicName' | 'eventBody'>): void;
  /** Base URL of the HTTP server, e.g. `http://127.0.0.1:43121`. */
  readonly baseUrl: () => string;
  /** S3 export destination; without it, exports are recorded (exportedDate) but no objects are written. */
  readonly exportTarget?: ExportTarget;
  /** Media retention policy with an export action: export every recording this long after its conversation ends. */
  readonly exportAfterMinutes?: number;
}
