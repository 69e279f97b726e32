/**
 * The Genesys Cloud emulator, in process: `startEmulator(options)` builds a simulated org, schedules its
 * conversations on a simulated clock and serves the Platform API, OAuth, the Notification API and its
 * WebSocket, and the control API on 127.0.0.1. See dev/emulator/README.md for every behaviour and limit.
 */
import type { ConversationKind, ConversationScript, Scenario, ScriptedEvent, SimOrg } from './model.ts';
import type { ConversationStore, ExportTarget, PlatformContext, SimClock } from './platform/context.ts';
import { createSimClock } from './platform/clock.ts';
import { createTokenStore, registerOAuthRoutes, type OAuthClient } from './platform/auth.ts';
import { createFaultInjector, createRateLimiter } from './platform/rate-limit.ts';
import { createEmulatorServer, createRouter } from './platform/server.ts';
import { createNotifications } from './platform/notifications.ts';
import { createControl, registerControlRoutes, type EmulatorControl } from './platform/control.ts';
import { logoutSuperseded, registerDirectoryRoutes } from './platform/directory.ts';
import { stationLogoutUser } from './simulation/station-events.ts';
import { registerConversationRoutes } from './platform/conversations.ts';
import { registerRecordingJobRoutes, type RecordingJobOptions } from './platform/recording-jobs.ts';
import { registerIntegrationRoutes } from './platform/integrations.ts';
import { registerAuthorizationRoutes } from './platform/authorization.ts';
import type { PermissionsByClient } from './platform/authorization.ts';
import {
  createEventBridgeOutput,
  type EventBridgeOutput,
  type EventBridgeTarget,
} from './platform/eventbridge.ts';
import { registerExports, type ExportLogger, type ExportOptions, type Exports } from './platform/exports.ts';
import {
  buildConversation,
  createOrg,
  createRng,
  randomConversations,
  scriptsFromScenario,
  stationEvents,
} from './simulation/index.ts';

export interface EmulatorOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly extraClients?: readonly OAuthClient[];
  /** Seed of the simulation (default: the scenario's seed, else 1). */
  readonly seed?: number;
  /** Simulated ms per real ms (default 1). */
  readonly speed?: number;
  /** Simulated epoch ms at start (default: the scenario's start, else now). */
  readonly startTime?: number;
  /** Random mode: conversations per simulated minute (default: none). */
  readonly rate?: number;
  /** Scripted conversations at fixed simulated times. */
  readonly scenario?: Scenario;
  /** Users and queues in the simulated org (simulation defaults when omitted). */
  readonly users?: number;
  readonly queues?: number;
  /** Share (0..1) of WebRTC users whose legs carry `publicIpAddress` (default 0.2, as real frames mostly lack it). */
  readonly webRtcPublicIpShare?: number;
  readonly exportAfterMinutes?: number;
  readonly exportTarget?: ExportTarget;
  /** Simulated ms between WebSocket heartbeats (default 30,000; UNCONFIRMED). */
  readonly heartbeatIntervalMs?: number;
  /** Channel lifetime after the last (re)subscribe, simulated ms (default 24 h). */
  readonly channelTtlMs?: number;
  /** Simulated ms between `socket_closing` and the forced close (default 60,000). */
  readonly socketClosingGraceMs?: number;
  /** Access-token lifetime in simulated seconds (default 86,400). */
  readonly tokenTtlSeconds?: number;
  /** Per-client REST budget per real minute; unlimited when omitted. */
  readonly rateLimit?: { readonly perMinute: number };
  /** Channels per OAuth client before the oldest is evicted (default 20). */
  readonly maxChannelsPerClient?: number;
  /** Topics per channel (default 1,000). */
  readonly maxTopicsPerChannel?: number;
  /** Whether combined-topic suffixes may contain dots (default true; UNCONFIRMED). */
  readonly combinedTopicsAllowDottedSuffixes?: boolean;
  /** One CorrelationId per event (default) or per delivery to each channel (UNCONFIRMED). */
  readonly correlationIdPer?: 'event' | 'delivery';
  /** Remove a channel when the token that last subscribed it expires or is revoked (default true). */
  readonly channelsDieWithToken?: boolean;
  /** Most delivery-log records kept (default 100,000). */
  readonly deliveryLogLimit?: number;
  /** Recording bulk-job timings and limits (recording-jobs.ts). */
  readonly recordingJobs?: RecordingJobOptions;
  /** S3 export tuning (exports.ts); its logger defaults to `log` (warnings and errors to stderr without it). */
  readonly exports?: ExportOptions;
  /**
   * Permissions of each OAuth client (`domain:entity:action`, `*` wildcards), served by
   * `GET /api/v2/authorization/subjects/me`; a client not listed has every permission.
   */
  readonly permissions?: PermissionsByClient;
  /**
   * Also deliver every published event through the Amazon EventBridge integration, bridged into this Kafka topic
   * (platform/eventbridge.ts); off by default.
   */
  readonly eventBridge?: EventBridgeTarget;
  /** Diagnostic lines (never secrets); silent by default. */
  readonly log?: (line: string) => void;
}

export interface RunningEmulator {
  /** `http://127.0.0.1:<port>`: use it as the login and API base (SDK `setGateway`). */
  readonly baseUrl: string;
  /** `ws://127.0.0.1:<port>`. */
  readonly wsBaseUrl: string;
  readonly port: number;
  readonly org: SimOrg;
  readonly clock: SimClock;
  readonly conversations: ConversationStore;
  readonly control: EmulatorControl;
  /** The S3 export integration: `flush()` waits for every export due by now to be written. */
  readonly exports: Exports;
  /** The EventBridge output, when `eventBridge` was given. */
  readonly eventBridge: EventBridgeOutput | undefined;
  close(): Promise<void>;
}

/** Simulated minutes of random conversations generated at a time (ahead of the clock). */
const RANDOM_WINDOW_MS = 10 * 60_000;

/** Starts the emulator; resolves once it listens. */
export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const log = options.log ?? (() => undefined);
  const scenario = options.scenario;
  const seed = options.seed ?? scenario?.seed ?? 1;
  const startTime = options.startTime ?? (scenario ? Date.parse(scenario.start) : Date.now());
  if (!Number.isFinite(startTime)) throw new RangeError('startTime (or scenario.start) is not a valid time');
  if (options.rate !== undefined && !(options.rate >= 0)) throw new RangeError('rate must be >= 0');
  const clock = createSimClock({
    startTime,
    speed: options.speed ?? 1,
    onError: (err) => log(`timer failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  });
  const rng = createRng(seed);
  const org = createOrg(rng, {
    users: options.users,
    queues: options.queues,
    ...(options.webRtcPublicIpShare === undefined
      ? {}
      : { webRtcPublicIpShare: options.webRtcPublicIpShare }),
  });

  const tokens = createTokenStore(clock, options.tokenTtlSeconds ?? 86_400);
  const router = createRouter();
  const faults = createFaultInjector(() => clock.now());
  const rateLimiter = options.rateLimit ? createRateLimiter(options.rateLimit.perMinute) : undefined;
  let port = 0;
  const notifications = createNotifications({
    clock,
    routes: router,
    tokens,
    orgId: org.orgId,
    baseWsUrl: () => `ws://127.0.0.1:${port}`,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 30_000,
    channelTtlMs: options.channelTtlMs ?? 24 * 3_600_000,
    socketClosingGraceMs: options.socketClosingGraceMs ?? 60_000,
    maxChannelsPerClient: options.maxChannelsPerClient ?? 20,
    maxTopicsPerChannel: options.maxTopicsPerChannel ?? 1_000,
    topicRules: { allowDottedSuffixes: options.combinedTopicsAllowDottedSuffixes ?? true },
    correlationIdPer: options.correlationIdPer ?? 'event',
    channelsDieWithToken: options.channelsDieWithToken ?? true,
    deliveryLogLimit: options.deliveryLogLimit ?? 100_000,
    log,
  });
  registerOAuthRoutes(
    router,
    [{ clientId: options.clientId, clientSecret: options.clientSecret }, ...(options.extraClients ?? [])],
    tokens,
  );

  const store = createConversationStore();
  const eventBridge = options.eventBridge
    ? await createEventBridgeOutput({ target: options.eventBridge, orgId: org.orgId, clock, log })
    : undefined;
  const publish = (event: Pick<ScriptedEvent, 'topicName' | 'eventBody'>): void => {
    notifications.registry.publish(event);
    eventBridge?.publish(event);
  };
  const cancels: Array<() => void> = [];
  const schedule = (script: ConversationScript): void => {
    store.add(script);
    // A script's events already include the station events of its own stationChanges; a logout while another
    // of the user's calls holds the desk is not sent (logoutSuperseded).
    for (const ev of script.events)
      cancels.push(
        clock.at(ev.at, () => {
          const logoutOf = stationLogoutUser(ev);
          if (logoutOf !== undefined && logoutSuperseded(store.all(), script, logoutOf, ev.at)) return;
          publish(ev);
        }),
      );
  };

  const ctx: PlatformContext = {
    org,
    clock,
    routes: router,
    conversations: store,
    publish,
    baseUrl: () => `http://127.0.0.1:${port}`,
    exportTarget: options.exportTarget,
    exportAfterMinutes: options.exportAfterMinutes,
  };
  registerDirectoryRoutes(ctx);
  registerConversationRoutes(ctx);
  registerRecordingJobRoutes(ctx, options.recordingJobs);
  registerIntegrationRoutes(ctx);
  registerAuthorizationRoutes(ctx, options.permissions);
  const exports = registerExports(ctx, { logger: exportLogger(options.log), ...options.exports });

  const control = createControl({
    clock,
    registry: notifications.registry,
    hub: notifications.hub,
    tokens,
    faults,
    rateLimiter,
    scripts: () => store.all(),
    changeStation: (userId, stationId) => {
      const at = clock.now();
      for (const ev of stationEvents(org, [{ at, userId, stationId }])) publish(ev);
    },
    scheduleConversation: (kind: ConversationKind, opts = {}) => {
      const script = buildConversation(org, rng, kind, opts.startTime ?? clock.now(), {
        durationSeconds: opts.durationSeconds,
        userId: opts.userId,
      });
      schedule(script);
      return script;
    },
  });
  registerControlRoutes(router, control, eventBridge);

  const server = createEmulatorServer({
    router,
    tokens,
    faults,
    rateLimiter,
    onUpgrade: (req, socket, head) => notifications.hub.handleUpgrade(req, socket, head),
    log,
  });
  try {
    port = await server.listen(options.port ?? 0);
  } catch (err) {
    // E.g. the port is taken: release what was set up so the caller's process can exit.
    await exports.stop();
    clock.stop();
    await notifications.close();
    await eventBridge?.close();
    throw err;
  }

  if (scenario) for (const script of scriptsFromScenario(org, scenario)) schedule(script);
  const rate = options.rate ?? 0;
  if (rate > 0) {
    // Generate conversations one window ahead of the clock, so memory stays bounded in long runs.
    const generate = (from: number): void => {
      for (const script of randomConversations(org, rng, from, from + RANDOM_WINDOW_MS, rate))
        schedule(script);
      cancels.push(clock.at(from + RANDOM_WINDOW_MS / 2, () => generate(from + RANDOM_WINDOW_MS)));
    };
    generate(startTime);
  }
  log(`listening on 127.0.0.1:${port} (org ${org.orgId}, seed ${seed}, speed ${clock.speed})`);

  let closed = false;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    wsBaseUrl: `ws://127.0.0.1:${port}`,
    port,
    org,
    clock,
    conversations: store,
    control,
    exports,
    eventBridge,
    async close() {
      if (closed) return;
      closed = true;
      for (const c of cancels) c();
      await exports.stop();
      clock.stop();
      await notifications.close();
      await eventBridge?.close();
      await server.close();
    },
  };
}

/** Export log lines go to `log`; without it only warnings and errors are written (to stderr). */
function exportLogger(log: ((line: string) => void) | undefined): ExportLogger {
  const line = (level: string, obj: object, msg: string) => `exports ${level}: ${msg} ${JSON.stringify(obj)}`;
  const stderr = (l: string) => process.stderr.write(`[genesys-emulator] ${l}\n`);
  return {
    info: (obj, msg) => log?.(line('info', obj, msg)),
    warn: (obj, msg) => (log ?? stderr)(line('warn', obj, msg)),
    error: (obj, msg) => (log ?? stderr)(line('error', obj, msg)),
  };
}

/** Conversations in start order; `started(now)` is what has begun by simulated `now`. */
function createConversationStore(): ConversationStore & { add(script: ConversationScript): void } {
  const scripts: ConversationScript[] = [];
  const byId = new Map<string, ConversationScript>();
  return {
    add(script) {
      if (byId.has(script.conversationId)) return;
      byId.set(script.conversationId, script);
      // Keep start order; scripts mostly arrive in order, so insert from the end.
      let i = scripts.length;
      while (i > 0 && (scripts[i - 1]?.startTime ?? 0) > script.startTime) i--;
      scripts.splice(i, 0, script);
    },
    all: () => scripts,
    get: (id) => byId.get(id),
    started: (now) => scripts.filter((s) => s.startTime <= now),
  };
}
