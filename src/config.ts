/**
 * The one validated configuration of custody. Only this module reads `process.env`.
 *
 * Every setting is an environment variable (optionally also given in a JSON file named by
 * CUSTODY_CONFIG_FILE; the environment wins). `loadConfig` validates everything once, reports every
 * problem in one error (by name, never by value), and returns a deep-frozen object. Commands declare
 * which settings they need, so `custody sink` does not demand Genesys credentials.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { inspect } from 'node:util';
import * as zlib from 'node:zlib';
import { z } from 'zod';

/** The record batch compressions custody can write (`KAFKA_COMPRESSION`). */
export const KAFKA_COMPRESSIONS = ['none', 'gzip', 'zstd'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

/** Whether this Node has zstd in zlib (22.15 and later): `KAFKA_COMPRESSION=zstd` needs it. */
export function zstdAvailable(): boolean {
  return typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
}

/** A secret value that cannot leak through logs, errors, JSON or util.inspect. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}

type Group = 'genesys' | 'kafka' | 's3' | 'custody' | 'exports' | 'sink' | 'topics' | 'aws';

interface SettingDef {
  readonly schema: z.ZodType<unknown>;
  readonly description: string;
  readonly group: Group;
  readonly default?: string;
  readonly secret?: boolean;
}

const boolean = z.enum(['true', 'false']).transform((v) => v === 'true');
const positiveInt = z.coerce.number().int().positive();
const hostPortList = z
  .string()
  .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}(,[A-Za-z0-9.\-[\]:]+:\d{1,5})*$/, 'expected host:port[,host:port...]');
const httpUrl = z.url({ protocol: /^https?$/ });
const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name ([A-Za-z0-9._-], at most 249)');
const s3Bucket = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name');
const nonEmpty = z.string().min(1);

/** Every setting custody knows. The README's configuration table is generated from this list. */
export const SETTINGS = {
  GENESYS_REGION: {
    schema: z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'expected a region domain such as mypurecloud.com'),
    description:
      'Genesys Cloud region domain (e.g. `mypurecloud.com`, `mypurecloud.de`). Give this or GENESYS_API_URL.',
    group: 'genesys',
  },
  GENESYS_API_URL: {
    schema: httpUrl,
    description:
      'Full Platform API base URL, overriding GENESYS_REGION (used to point custody at the emulator).',
    group: 'genesys',
  },
  GENESYS_CLIENT_ID: {
    schema: nonEmpty,
    description: 'OAuth client id (client-credentials grant).',
    group: 'genesys',
  },
  GENESYS_CLIENT_SECRET: {
    schema: nonEmpty,
    description: 'OAuth client secret.',
    group: 'genesys',
    secret: true,
  },
  KAFKA_BROKERS: {
    schema: hostPortList,
    description: 'Kafka bootstrap servers, comma-separated `host:port`.',
    group: 'kafka',
  },
  KAFKA_CLIENT_ID: {
    schema: nonEmpty,
    description: 'Kafka client id prefix.',
    group: 'kafka',
    default: 'custody',
  },
  KAFKA_SSL: { schema: boolean, description: 'Connect to Kafka over TLS.', group: 'kafka', default: 'false' },
  KAFKA_SASL_MECHANISM: {
    schema: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
    description: 'SASL mechanism; unset for no SASL.',
    group: 'kafka',
  },
  KAFKA_SASL_USERNAME: { schema: nonEmpty, description: 'SASL user name.', group: 'kafka' },
  KAFKA_SASL_PASSWORD: { schema: nonEmpty, description: 'SASL password.', group: 'kafka', secret: true },
  KAFKA_COMPRESSION: {
    schema: z.enum(KAFKA_COMPRESSIONS),
    description:
      "Compression of the record batches custody writes: none, gzip or zstd. zstd makes the evidence log and snapshots ~10× smaller on the brokers, for ~25–35 % more ingest CPU per frame (bench:ingest, 2026-12-07); every consumer of custody's topics must read it (Kafka clients 2.1 and later, librdkafka 1.0 and later; a kafkajs consumer needs a zstd codec). custody itself reads all three whatever this says.",
    group: 'kafka',
    default: 'none',
  },
  SCHEMA_REGISTRY_URL: {
    schema: httpUrl,
    description:
      'Confluent-compatible Schema Registry. When set, records use the Confluent wire format; otherwise Avro single-object encoding.',
    group: 'kafka',
  },
  S3_ENDPOINT: {
    schema: z.union([z.literal(''), httpUrl]),
    description: 'S3 endpoint URL; empty for AWS S3.',
    group: 's3',
    default: '',
  },
  S3_REGION: { schema: nonEmpty, description: 'S3 region.', group: 's3', default: 'us-east-1' },
  S3_BUCKET: {
    schema: s3Bucket,
    description: 'Bucket the Genesys integration exports recordings into.',
    group: 's3',
  },
  S3_FORCE_PATH_STYLE: {
    schema: boolean,
    description:
      'Path-style S3 addressing (needed by most non-AWS servers). Defaults to true when S3_ENDPOINT is set.',
    group: 's3',
  },
  AWS_ACCESS_KEY_ID: {
    schema: nonEmpty,
    description: 'AWS credential (standard variable; else the AWS default chain).',
    group: 'aws',
  },
  AWS_SECRET_ACCESS_KEY: {
    schema: nonEmpty,
    description: 'AWS credential (standard variable).',
    group: 'aws',
    secret: true,
  },
  AWS_SESSION_TOKEN: {
    schema: nonEmpty,
    description: 'AWS session token (standard variable).',
    group: 'aws',
    secret: true,
  },
  AWS_PROFILE: {
    schema: nonEmpty,
    description: 'AWS shared-config profile (standard variable).',
    group: 'aws',
  },
  CUSTODY_SIGNING_KEY_FILE: {
    schema: nonEmpty,
    description: 'PEM file with the Ed25519 private key that signs manifests.',
    group: 'custody',
  },
  CUSTODY_INSTANCE_ID: {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'expected [A-Za-z0-9._-], at most 128'),
    description: 'Name of this process in custody events and logs. Defaults to the host name.',
    group: 'custody',
  },
  CUSTODY_LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    description: 'Log level of the JSON logs on stdout.',
    group: 'custody',
    default: 'info',
  },
  CUSTODY_HTTP_PORT: {
    schema: z.coerce.number().int().min(0).max(65535),
    description:
      'Port of /healthz, /readyz and /metrics (0 picks a free port). Default per role, so roles on one host never clash: ingest 9464, exports watch 9465, sink 9466.',
    group: 'custody',
  },
  CUSTODY_CONFIG_FILE: {
    schema: nonEmpty,
    description: 'Optional JSON file of `{"NAME": "value"}` settings; the environment wins over it.',
    group: 'custody',
  },
  CUSTODY_INGEST_COMBINED_TOPICS: {
    schema: boolean,
    description:
      'Subscribe with one combined topic per user (`v2.users.{id}?conversations&conversations.calls&station&persistentconnection`); false subscribes to the four topics separately (UNCONFIRMED whether Genesys allows dotted suffixes in combined topics).',
    group: 'custody',
    default: 'true',
  },
  CUSTODY_INGEST_BUFFER_MAX_FRAMES: {
    schema: positiveInt,
    description:
      'Frames held while Kafka is slow or down, and (counted apart) frames waiting for the snapshot worker; above this ingest pauses its sockets (recorded as a gap, repaired later) and reports not ready.',
    group: 'custody',
    default: '20000',
  },
  CUSTODY_INGEST_BUFFER_MAX_BYTES: {
    schema: z.coerce
      .number()
      .int()
      .min(1024 * 1024),
    description:
      'Bytes of frames held while Kafka is slow or down (the frames as they will be written); above this ingest pauses its sockets as for CUSTODY_INGEST_BUFFER_MAX_FRAMES. Bounds memory when frames are large.',
    group: 'custody',
    default: String(128 * 1024 * 1024),
  },
  CUSTODY_INGEST_RESTORE_HOURS: {
    schema: z.coerce
      .number()
      .min(0)
      .max(24 * 30),
    description:
      'At start-up, restore conversation snapshots written to custody.session-tags.v1 in the last N hours.',
    group: 'custody',
    default: '24',
  },
  CUSTODY_INGEST_MAX_FRAME_BYTES: {
    schema: z.coerce
      .number()
      .int()
      .min(64 * 1024)
      .max(100 * 1024 * 1024),
    description:
      'Largest WebSocket frame accepted; a larger one closes the socket and the interval is repaired as a gap. A frame too large for one Kafka record goes to the dead-letter topic (size, SHA-256, first 4 KiB).',
    group: 'custody',
    default: '8388608',
  },
  CUSTODY_INGEST_STOP_TIMEOUT_MS: {
    schema: z.coerce.number().int().min(100).max(25_000),
    description:
      'Longest time ingest spends flushing on SIGTERM; frames not flushed by then are repaired as part of the restart gap on the next start.',
    group: 'custody',
    default: '10000',
  },
  CUSTODY_INGEST_SOURCE: {
    schema: z.enum(['websocket', 'eventbridge']),
    description:
      'Where `custody ingest` reads Genesys notifications: websocket (the Notification API, per-user topics) or eventbridge (the Kafka topic CUSTODY_TOPIC_EVENTBRIDGE that the Amazon EventBridge integration is bridged into). `custody ingest --source` overrides it.',
    group: 'custody',
    default: 'websocket',
  },
  CUSTODY_INGEST_EVENTBRIDGE_GROUP: {
    schema: nonEmpty,
    description:
      'Kafka consumer group of `custody ingest --source eventbridge` on CUSTODY_TOPIC_EVENTBRIDGE (its offsets move once the evidence and tags are written).',
    group: 'custody',
    default: 'custody-ingest-eventbridge',
  },
  CUSTODY_INGEST_RESTART_GAP_MAX_HOURS: {
    schema: z.coerce
      .number()
      .min(0)
      .max(24 * 30),
    description:
      'At start, ingest records the time since its last capture (found in the evidence log) as a gap and repairs it through the REST API, going back at most this far; an older outage needs a backfill. Keep CUSTODY_INSTANCE_ID stable across restarts for a precise gap.',
    group: 'custody',
    default: '24',
  },
  CUSTODY_EXPORTS_PREFIX: {
    schema: z.string().regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, 'expected empty or a key prefix ending in /'),
    description:
      'Key prefix the Genesys S3 integration writes under, before `{orgId}/` (empty: the bucket root).',
    group: 'exports',
    default: '',
  },
  CUSTODY_EXPORTS_WATCH_NAME: {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'expected [A-Za-z0-9._-], at most 100'),
    description:
      'Names the exports watcher’s checkpoint (`_custody/exports-watch/{name}/checkpoint.json` in S3_BUCKET).',
    group: 'exports',
    default: 'default',
  },
  CUSTODY_EXPORTS_SCAN_INTERVAL_MS: {
    schema: positiveInt,
    description: 'Pause between two incremental scans of the export layout.',
    group: 'exports',
    default: '60000',
  },
  CUSTODY_EXPORTS_LOOKBACK_HOURS: {
    schema: z.coerce
      .number()
      .int()
      .min(1)
      .max(24 * 90),
    description:
      'Hour folders re-listed on every scan, back from now (late arrivals land in old folders). After downtime the watch also lists, a few hours per pass, every hour between its last pass and this window; hours older than that need a backfill.',
    group: 'exports',
    default: '48',
  },
  CUSTODY_EXPORTS_LOOKAHEAD_HOURS: {
    schema: z.coerce
      .number()
      .int()
      .min(0)
      .max(24 * 90),
    description:
      "Hour folders listed on every scan ahead of now. Genesys files an export under its conversation's start hour, which is never ahead of its clock, so 1 covers the skew between its clock and this host's; raise it only for a simulated clock that runs ahead of the wall clock (the emulator with `--speed` above 1).",
    group: 'exports',
    default: '1',
  },
  CUSTODY_EXPORTS_PAIR_GRACE_MS: {
    schema: z.coerce.number().int().min(0),
    description:
      'How long an audio object waits for its `.opus_metadata.json` before it is published without it (the sink then marks the manifest incomplete).',
    group: 'exports',
    default: '600000',
  },
  CUSTODY_EXPORTS_DAY_HOUR_PADDING: {
    schema: z.enum(['unpadded', 'padded', 'both']),
    description:
      'Whether the integration writes `month=3` or `month=03` folders (UNCONFIRMED; `both` lists both spellings).',
    group: 'exports',
    default: 'both',
  },
  CUSTODY_EXPORTS_S3_EVENTS_TOPIC: {
    schema: topicName,
    description:
      'Kafka topic carrying the export bucket’s S3 event notifications (AWS event JSON), when you bridge them; unset: scan only.',
    group: 'exports',
  },
  GENESYS_EXPORT_INTEGRATION_ID: {
    schema: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'expected a Genesys integration id'),
    description:
      'The AWS S3 recording bulk actions integration `custody exports run` exports through (default for `--integration-id`).',
    group: 'exports',
  },
  CUSTODY_EXPORTS_RUN_POLL_MS: {
    schema: positiveInt,
    description: 'First pause between two polls of a bulk export job (doubles up to 30 s).',
    group: 'exports',
    default: '2000',
  },
  CUSTODY_EXPORTS_RUN_TIMEOUT_MS: {
    schema: positiveInt,
    description: 'Give up waiting for a job to finish after this long (resume it with `--resume <jobId>`).',
    group: 'exports',
    default: '21600000',
  },
  CUSTODY_EXPORTS_JOB_SKEW_MS: {
    schema: z.coerce.number().int().min(0),
    description:
      'Clock skew allowed when attributing an export object to the job that wrote it (objects written before the job ran are not attributed).',
    group: 'exports',
    default: '300000',
  },
  CUSTODY_SINK_GROUP_ID: {
    schema: nonEmpty,
    description: 'Consumer group shared by all sink instances.',
    group: 'sink',
    default: 'custody-sink',
  },
  CUSTODY_BACKFILL_LOOKBACK_HOURS: {
    schema: z.coerce
      .number()
      .int()
      .min(0)
      .max(24 * 30),
    description:
      '`custody backfill --from`: how long before the range its replay of the session-tags and exports topics starts (tags are captured while a call lasts, before its export).',
    group: 'sink',
    default: '24',
  },
  CUSTODY_BACKFILL_CONCURRENCY: {
    schema: positiveInt,
    description:
      '`custody backfill`: conversations whose tags are reconstructed from the analytics API at the same time (the API client backs off on 429 as Genesys asks).',
    group: 'sink',
    default: '4',
  },
  CUSTODY_SINK_PARTITION_CONCURRENCY: {
    schema: positiveInt,
    description: 'Partitions one sink instance processes in parallel.',
    group: 'sink',
    default: '2',
  },
  CUSTODY_SINK_CONVERSATION_CONCURRENCY: {
    schema: positiveInt,
    description:
      'Conversations of one partition the sink reconciles at once (each waits mostly on S3: two reads, one conditional write). A conversation is never reconciled twice at once, and only the durable prefix of a batch is committed.',
    group: 'sink',
    default: '4',
  },
  CUSTODY_MANIFEST_BUCKET: {
    schema: s3Bucket,
    description: 'Bucket of the manifests (default: the recording’s own export bucket).',
    group: 'sink',
  },
  CUSTODY_MANIFEST_PREFIX: {
    schema: z.string().regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, 'expected empty or a key prefix ending in /'),
    description:
      'Empty: each manifest beside its audio (`{recordingId}.opus_manifest.json`); else the same relative key under this prefix.',
    group: 'sink',
    default: '',
  },
  CUSTODY_MANIFEST_LEGAL_HOLD: {
    schema: boolean,
    description: 'Put an S3 Object Lock legal hold on every manifest version (the bucket needs Object Lock).',
    group: 'sink',
    default: 'false',
  },
  CUSTODY_MANIFEST_RETENTION_MODE: {
    schema: z.enum(['GOVERNANCE', 'COMPLIANCE']),
    description: 'Object Lock retention mode of every manifest version; unset: no retention.',
    group: 'sink',
  },
  CUSTODY_MANIFEST_RETENTION_DAYS: {
    schema: positiveInt,
    description: 'Retention period in days (with CUSTODY_MANIFEST_RETENTION_MODE).',
    group: 'sink',
  },
  CUSTODY_TRUSTED_KEY_FILES: {
    schema: z.string().regex(/^[^,]+(,[^,]+)*$/, 'expected comma-separated file paths'),
    description:
      'PEM public keys of earlier signing keys (comma-separated), so manifests they signed still count after a key rotation.',
    group: 'sink',
  },
  CUSTODY_TOPIC_PARTITIONS: {
    schema: positiveInt,
    description:
      'Partitions of every custody topic when custody creates them (all equal, so a conversation meets itself).',
    group: 'topics',
    default: '6',
  },
  CUSTODY_TOPIC_NOTIFICATIONS: {
    schema: topicName,
    description: 'Evidence log of every notification as received.',
    group: 'topics',
    default: 'genesys.notifications.v1',
  },
  CUSTODY_TOPIC_EVENTBRIDGE: {
    schema: topicName,
    description:
      'Where the user bridges Genesys’ Amazon EventBridge events (one event per record, as EventBridge delivers it); read by `custody ingest --source eventbridge`, never created by custody.',
    group: 'topics',
    default: 'genesys.eventbridge.v1',
  },
  CUSTODY_TOPIC_SESSION_TAGS: {
    schema: topicName,
    description: 'Compacted snapshot of each conversation’s session tags.',
    group: 'topics',
    default: 'custody.session-tags.v1',
  },
  CUSTODY_TOPIC_RECORDING_EXPORTS: {
    schema: topicName,
    description: 'One record per recording found in the export bucket.',
    group: 'topics',
    default: 'custody.recording-exports.v1',
  },
  CUSTODY_TOPIC_LEGAL_HOLDS: {
    schema: topicName,
    description:
      'Legal holds placed and released (custody hold/release), compacted, one record per conversation and matter.',
    group: 'topics',
    default: 'custody.legal-holds.v1',
  },
  CUSTODY_TOPIC_SINK_STATE: {
    schema: topicName,
    description:
      'The sink’s join state, one compacted record per conversation (internal: only the sink reads it).',
    group: 'topics',
    default: 'custody.sink-state.v1',
  },
  CUSTODY_TOPIC_MANIFESTS: {
    schema: topicName,
    description: 'One record per manifest version written.',
    group: 'topics',
    default: 'custody.manifests.v1',
  },
  CUSTODY_TOPIC_DLQ: {
    schema: topicName,
    description: 'Dead letters: input that could not be processed, with the reason.',
    group: 'topics',
    default: 'custody.dlq.v1',
  },
} as const satisfies Record<string, SettingDef>;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/** Environment variables read by libraries custody uses, accepted without being custody settings. */
const FOREIGN_PREFIXES = ['CUSTODY_INFRA_'];

export interface Config {
  readonly genesys: {
    readonly apiUrl?: string;
    readonly clientId?: string;
    readonly clientSecret?: Secret;
  };
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly ssl: boolean;
    readonly sasl?: {
      readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
      readonly username: string;
      readonly password: Secret;
    };
    readonly schemaRegistryUrl?: string;
    /** Record batch codec of custody's producers (loadConfig always sets it; none when absent). */
    readonly compression?: KafkaCompression;
  };
  readonly s3: {
    readonly endpoint?: string;
    readonly region: string;
    readonly bucket?: string;
    readonly forcePathStyle: boolean;
    readonly credentials?: {
      readonly accessKeyId: string;
      readonly secretAccessKey: Secret;
      readonly sessionToken?: Secret;
    };
    readonly profile?: string;
  };
  readonly topics: {
    readonly partitions: number;
    readonly notifications: string;
    readonly eventBridge: string;
    readonly sessionTags: string;
    readonly recordingExports: string;
    readonly legalHolds: string;
    readonly sinkState: string;
    readonly manifests: string;
    readonly dlq: string;
  };
  readonly ingest: {
    readonly combinedTopics: boolean;
    readonly bufferMaxFrames: number;
    readonly bufferMaxBytes: number;
    readonly restoreHours: number;
    readonly maxFrameBytes: number;
    readonly stopTimeoutMs: number;
    readonly restartGapMaxHours: number;
    readonly source: 'websocket' | 'eventbridge';
    readonly eventBridgeGroup: string;
  };
  readonly exports: {
    readonly prefix: string;
    readonly watchName: string;
    readonly scanIntervalMs: number;
    readonly lookbackHours: number;
    readonly lookaheadHours: number;
    readonly pairGraceMs: number;
    readonly dayHourPadding: 'unpadded' | 'padded' | 'both';
    readonly s3EventsTopic?: string;
    readonly integrationId?: string;
    readonly runPollMs: number;
    readonly runTimeoutMs: number;
    readonly jobSkewMs: number;
  };
  readonly sink: {
    readonly groupId: string;
    readonly partitionConcurrency: number;
    readonly conversationConcurrency: number;
    readonly manifestBucket?: string;
    readonly manifestPrefix: string;
    readonly legalHold: boolean;
    readonly retention?: { readonly mode: 'GOVERNANCE' | 'COMPLIANCE'; readonly days: number };
    readonly trustedKeyFiles: readonly string[];
    readonly backfillLookbackHours: number;
    readonly backfillConcurrency: number;
  };
  readonly custody: {
    readonly instanceId: string;
    readonly logLevel: string;
    /** Undefined: the role's own default port (ROLE_HTTP_PORTS). */
    readonly httpPort: number | undefined;
    readonly signingKeyFile?: string;
  };
}

/** Raised when settings are missing or invalid. Its message lists every problem; it has no stack in output. */
export class ConfigError extends Error {
  readonly code = 'CUSTODY_CONFIG_INVALID';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Groups of settings a command needs; `genesys` means a base URL plus client credentials. */
export type Need = 'genesys' | 'kafka' | 's3' | 'bucket' | 'signing';

function readConfigFile(path: string, problems: string[]): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      problems.push('CUSTODY_CONFIG_FILE: the file must hold one JSON object of "NAME": "value" pairs');
      return {};
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
      else problems.push(`${k} (in CUSTODY_CONFIG_FILE): expected a string, number or boolean`);
    }
    return out;
  } catch (e) {
    const reason = e instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read';
    problems.push(`CUSTODY_CONFIG_FILE: the file ${reason}`);
    return {};
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Secret)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Validates the environment (plus the optional file) and returns the frozen config.
 * @throws ConfigError with every problem at once.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, needs: readonly Need[] = []): Config {
  const problems: string[] = [];
  const fromFile = env['CUSTODY_CONFIG_FILE'] ? readConfigFile(env['CUSTODY_CONFIG_FILE'], problems) : {};
  const raw: Record<string, string | undefined> = { ...fromFile };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) raw[k] = v;

  for (const k of Object.keys(raw)) {
    const known = k in SETTINGS || FOREIGN_PREFIXES.some((p) => k.startsWith(p));
    if (k.startsWith('CUSTODY_') && !known)
      problems.push(`${k}: unknown setting (see the configuration table in the README)`);
    if (k in fromFile && !known) problems.push(`${k} (in CUSTODY_CONFIG_FILE): unknown setting`);
  }

  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of SETTING_NAMES) {
    const def: SettingDef = SETTINGS[name];
    const given = raw[name];
    const input = given === undefined || (given === '' && name !== 'S3_ENDPOINT') ? def.default : given;
    if (input === undefined) continue;
    const parsed = def.schema.safeParse(input);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  const str = (n: SettingName) => values[n] as string | undefined;
  const secret = (n: SettingName) => (values[n] === undefined ? undefined : new Secret(values[n] as string));

  const require = (names: SettingName[], why: string) => {
    for (const n of names)
      if (values[n] === undefined && !problems.some((p) => p.startsWith(`${n}:`)))
        problems.push(`${n}: required ${why}`);
  };
  const apiUrl =
    str('GENESYS_API_URL') ?? (str('GENESYS_REGION') ? `https://api.${str('GENESYS_REGION')}` : undefined);
  if (needs.includes('genesys')) {
    if (!apiUrl && !problems.some((p) => p.startsWith('GENESYS_')))
      problems.push('GENESYS_REGION or GENESYS_API_URL: one is required to reach Genesys Cloud');
    require(['GENESYS_CLIENT_ID', 'GENESYS_CLIENT_SECRET'], 'to authenticate to Genesys Cloud');
  }
  if (needs.includes('kafka')) require(['KAFKA_BROKERS'], 'to reach Kafka');
  if (needs.includes('bucket')) require(['S3_BUCKET'], 'to find the exported recordings');
  if (needs.includes('signing')) require(['CUSTODY_SIGNING_KEY_FILE'], 'to sign manifests');
  if (values.KAFKA_COMPRESSION === 'zstd' && !zstdAvailable())
    problems.push(`KAFKA_COMPRESSION: zstd needs Node 22.15 or later (this is ${process.version})`);
  if (str('KAFKA_SASL_MECHANISM'))
    require(['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'], 'when KAFKA_SASL_MECHANISM is set');
  if ((values.AWS_ACCESS_KEY_ID === undefined) !== (values.AWS_SECRET_ACCESS_KEY === undefined)) {
    require(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], 'together');
  }

  if (
    (values.CUSTODY_MANIFEST_RETENTION_MODE === undefined) !==
    (values.CUSTODY_MANIFEST_RETENTION_DAYS === undefined)
  ) {
    require(['CUSTODY_MANIFEST_RETENTION_MODE', 'CUSTODY_MANIFEST_RETENTION_DAYS'], 'together');
  }

  if (problems.length > 0) throw new ConfigError(problems);

  const endpoint = str('S3_ENDPOINT') || undefined;
  const accessKeyId = str('AWS_ACCESS_KEY_ID');
  const secretAccessKey = secret('AWS_SECRET_ACCESS_KEY');
  const sessionToken = secret('AWS_SESSION_TOKEN');
  const mechanism = values.KAFKA_SASL_MECHANISM as 'plain' | 'scram-sha-256' | 'scram-sha-512' | undefined;
  const config: Config = {
    genesys: { apiUrl, clientId: str('GENESYS_CLIENT_ID'), clientSecret: secret('GENESYS_CLIENT_SECRET') },
    kafka: {
      brokers: (str('KAFKA_BROKERS') ?? '').split(',').filter(Boolean),
      clientId: str('KAFKA_CLIENT_ID') as string,
      ssl: values.KAFKA_SSL as boolean,
      sasl: mechanism
        ? {
            mechanism,
            username: str('KAFKA_SASL_USERNAME') as string,
            password: secret('KAFKA_SASL_PASSWORD') as Secret,
          }
        : undefined,
      schemaRegistryUrl: str('SCHEMA_REGISTRY_URL'),
      compression: values.KAFKA_COMPRESSION as KafkaCompression,
    },
    s3: {
      endpoint,
      region: str('S3_REGION') as string,
      bucket: str('S3_BUCKET'),
      forcePathStyle: (values.S3_FORCE_PATH_STYLE as boolean | undefined) ?? endpoint !== undefined,
      credentials:
        accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken } : undefined,
      profile: str('AWS_PROFILE'),
    },
    topics: {
      partitions: values.CUSTODY_TOPIC_PARTITIONS as number,
      notifications: str('CUSTODY_TOPIC_NOTIFICATIONS') as string,
      eventBridge: str('CUSTODY_TOPIC_EVENTBRIDGE') as string,
      sessionTags: str('CUSTODY_TOPIC_SESSION_TAGS') as string,
      recordingExports: str('CUSTODY_TOPIC_RECORDING_EXPORTS') as string,
      legalHolds: str('CUSTODY_TOPIC_LEGAL_HOLDS') as string,
      sinkState: str('CUSTODY_TOPIC_SINK_STATE') as string,
      manifests: str('CUSTODY_TOPIC_MANIFESTS') as string,
      dlq: str('CUSTODY_TOPIC_DLQ') as string,
    },
    ingest: {
      combinedTopics: values.CUSTODY_INGEST_COMBINED_TOPICS as boolean,
      bufferMaxFrames: values.CUSTODY_INGEST_BUFFER_MAX_FRAMES as number,
      bufferMaxBytes: values.CUSTODY_INGEST_BUFFER_MAX_BYTES as number,
      restoreHours: values.CUSTODY_INGEST_RESTORE_HOURS as number,
      maxFrameBytes: values.CUSTODY_INGEST_MAX_FRAME_BYTES as number,
      stopTimeoutMs: values.CUSTODY_INGEST_STOP_TIMEOUT_MS as number,
      restartGapMaxHours: values.CUSTODY_INGEST_RESTART_GAP_MAX_HOURS as number,
      source: values.CUSTODY_INGEST_SOURCE as 'websocket' | 'eventbridge',
      eventBridgeGroup: str('CUSTODY_INGEST_EVENTBRIDGE_GROUP') as string,
    },
    exports: {
      prefix: str('CUSTODY_EXPORTS_PREFIX') as string,
      watchName: str('CUSTODY_EXPORTS_WATCH_NAME') as string,
      scanIntervalMs: values.CUSTODY_EXPORTS_SCAN_INTERVAL_MS as number,
      lookbackHours: values.CUSTODY_EXPORTS_LOOKBACK_HOURS as number,
      lookaheadHours: values.CUSTODY_EXPORTS_LOOKAHEAD_HOURS as number,
      pairGraceMs: values.CUSTODY_EXPORTS_PAIR_GRACE_MS as number,
      dayHourPadding: values.CUSTODY_EXPORTS_DAY_HOUR_PADDING as Config['exports']['dayHourPadding'],
      s3EventsTopic: str('CUSTODY_EXPORTS_S3_EVENTS_TOPIC'),
      integrationId: str('GENESYS_EXPORT_INTEGRATION_ID'),
      runPollMs: values.CUSTODY_EXPORTS_RUN_POLL_MS as number,
      runTimeoutMs: values.CUSTODY_EXPORTS_RUN_TIMEOUT_MS as number,
      jobSkewMs: values.CUSTODY_EXPORTS_JOB_SKEW_MS as number,
    },
    sink: {
      groupId: str('CUSTODY_SINK_GROUP_ID') as string,
      partitionConcurrency: values.CUSTODY_SINK_PARTITION_CONCURRENCY as number,
      conversationConcurrency: values.CUSTODY_SINK_CONVERSATION_CONCURRENCY as number,
      manifestBucket: str('CUSTODY_MANIFEST_BUCKET'),
      manifestPrefix: str('CUSTODY_MANIFEST_PREFIX') as string,
      legalHold: values.CUSTODY_MANIFEST_LEGAL_HOLD as boolean,
      retention:
        values.CUSTODY_MANIFEST_RETENTION_MODE === undefined
          ? undefined
          : {
              mode: values.CUSTODY_MANIFEST_RETENTION_MODE as 'GOVERNANCE' | 'COMPLIANCE',
              days: values.CUSTODY_MANIFEST_RETENTION_DAYS as number,
            },
      trustedKeyFiles: (str('CUSTODY_TRUSTED_KEY_FILES') ?? '').split(',').filter(Boolean),
      backfillLookbackHours: values.CUSTODY_BACKFILL_LOOKBACK_HOURS as number,
      backfillConcurrency: values.CUSTODY_BACKFILL_CONCURRENCY as number,
    },
    custody: {
      instanceId:
        str('CUSTODY_INSTANCE_ID') ??
        hostname()
          .replace(/[^A-Za-z0-9._-]/g, '-')
          .slice(0, 128),
      logLevel: str('CUSTODY_LOG_LEVEL') as string,
      httpPort: values.CUSTODY_HTTP_PORT as number | undefined,
      signingKeyFile: str('CUSTODY_SIGNING_KEY_FILE'),
    },
  };
  return deepFreeze(config);
}

/** The README's configuration table, generated from SETTINGS (a test keeps the README in step). */
export function configTableMarkdown(): string {
  const rows = SETTING_NAMES.map((name) => {
    const d: SettingDef = SETTINGS[name];
    const dflt = d.default === undefined ? '—' : d.default === '' ? '(empty)' : `\`${d.default}\``;
    return `| \`${name}\` | ${d.group} | ${dflt} | ${d.secret ? 'yes' : ''} | ${d.description} |`;
  });
  return ['| Setting | Group | Default | Secret | Meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
