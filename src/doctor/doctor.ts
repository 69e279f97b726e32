/**
 * `custody doctor`: asks every system custody depends on whether it is there and set up as custody needs it, and
 * prints one line per check with what to do about a failure. Reads only; changes nothing. Clients are built by
 * main.ts and handed in.
 */
import { createPublicKey } from 'node:crypto';
import {
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import kafkajs from 'kafkajs';
import type { Kafka } from 'kafkajs';
import type { Models } from 'purecloud-platform-client-v2';
import type { Config } from '../config.ts';
import { GenesysApiError, GenesysPlatformClient, platformClient } from '../genesys/platform-client.ts';
import type { TopicRole } from '../kafka/topics.ts';
import { describeError } from '../runtime/errors.ts';
import { loadSigningKey } from '../sink/signing-key.ts';
import { USER_TOPIC_SUFFIXES } from '../ingest/subscription-plan.ts';
import {
  REQUIRED_PERMISSIONS,
  clockSkewCheck,
  eventBridgeTopicCheck,
  groupStartDelayCheck,
  GROUP_START_DELAY_SETTING,
  missingPermissions,
  subscriptionCheck,
  topicChecks,
} from './preflight.ts';
import type { DoctorCheck, GrantedPolicy, TopicFacts } from './preflight.ts';

export type DoctorDeps = Readonly<{
  config: Config;
  /** Built with few retries: a doctor answers quickly. Undefined when KAFKA_BROKERS is not set. */
  kafka?: Kafka;
  s3?: S3Client;
  now?: () => number;
  /** Longest wait for one system (ms). */
  timeoutMs?: number;
}>;

export type DoctorReport = Readonly<{
  ok: boolean;
  checks: ReadonlyArray<DoctorCheck & Readonly<{ publicKeyPem?: string }>>;
}>;

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function s3Why(e: unknown): string {
  return e instanceof S3ServiceException
    ? `${e.name} (HTTP ${e.$metadata.httpStatusCode ?? '?'})`
    : describeError(e);
}

async function signingChecks(config: Config): Promise<DoctorReport['checks']> {
  const file = config.custody.signingKeyFile;
  if (file === undefined)
    return [
      {
        name: 'signing key',
        ok: false,
        detail: 'CUSTODY_SIGNING_KEY_FILE is not set',
        fix: 'set it to a PKCS#8 PEM Ed25519 key (openssl genpkey -algorithm ed25519 -out signing.pem); the sink needs it',
      },
    ];
  try {
    const key = await loadSigningKey(file);
    const pem = createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }).toString();
    return [
      {
        name: 'signing key',
        ok: true,
        detail: `Ed25519, key id ${key.keyId} (public key below; give it to the legal team for custody verify)`,
        publicKeyPem: pem,
      },
    ];
  } catch (e) {
    return [
      {
        name: 'signing key',
        ok: false,
        detail: describeError(e).replace(/^Error: /, ''),
        fix: 'point CUSTODY_SIGNING_KEY_FILE at a readable PKCS#8 PEM Ed25519 private key',
      },
    ];
  }
}

type Extended<T> = { status: number; headers: Record<string, string | undefined>; body: T };

async function genesysChecks(config: Config, timeoutMs: number, now: () => number): Promise<DoctorCheck[]> {
  const g = config.genesys;
  if (!g.apiUrl || !g.clientId || !g.clientSecret)
    return [
      {
        name: 'genesys oauth',
        ok: false,
        detail:
          'GENESYS_REGION (or GENESYS_API_URL), GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET are not all set',
        fix: 'set them (ingest and exports run need them)',
      },
    ];
  const client = new GenesysPlatformClient({
    apiUrl: g.apiUrl,
    clientId: g.clientId,
    clientSecret: g.clientSecret,
    maxRetries: 1,
    baseBackoffMs: 200,
  });
  const out: DoctorCheck[] = [];
  try {
    let dateHeader: string | undefined;
    let sentAt = 0;
    let receivedAt = 0;
    const subject = await within(
      timeoutMs,
      'Genesys',
      client.call<Models.AuthzSubject>('GET /api/v2/authorization/subjects/me', async () => {
        sentAt = now();
        const res = (await new platformClient.AuthorizationApi(
          client.sdk,
        ).getAuthorizationSubjectsMe()) as unknown as Extended<Models.AuthzSubject>;
        receivedAt = now();
        const headers = res.headers ?? {};
        dateHeader = Object.entries(headers).find(([k]) => k.toLowerCase() === 'date')?.[1];
        return res;
      }),
    );
    out.push({ name: 'genesys oauth', ok: true, detail: `client credentials accepted at ${g.apiUrl}` });
    const policies: GrantedPolicy[] = (subject.grants ?? []).flatMap((gr) => gr.role?.policies ?? []);
    const missing = missingPermissions(policies);
    const roles = new Map(REQUIRED_PERMISSIONS.map((p) => [p.permission, p.role]));
    out.push({
      name: 'genesys permissions',
      ok: missing.length === 0,
      detail:
        missing.length === 0
          ? `all ${REQUIRED_PERMISSIONS.length} permissions custody uses are granted`
          : `missing: ${missing.map((m) => `${m} (${roles.get(m)})`).join(', ')}`,
      fix:
        missing.length === 0
          ? undefined
          : "add them to a role of the OAuth client (Admin > Roles/Permissions; the client's Roles tab)",
    });
    try {
      const listing = await within(
        timeoutMs,
        'Genesys',
        client.call<Models.AvailableTopicEntityListing>('GET /api/v2/notifications/availabletopics', () =>
          new platformClient.NotificationsApi(client.sdk).getNotificationsAvailabletopics({
            expand: ['requiresPermissions', 'transports'],
          }),
        ),
      );
      out.push(subscriptionCheck(USER_TOPIC_SUFFIXES, listing.entities ?? [], policies));
    } catch (e) {
      out.push({
        name: 'genesys subscriptions',
        ok: false,
        detail: `cannot list the notification topics: ${describeError(e)}`,
        fix: 'check the network path to Genesys and retry',
      });
    }
    out.push(clockSkewCheck('clock skew vs Genesys', dateHeader, sentAt, receivedAt));
  } catch (e) {
    const reached = e instanceof GenesysApiError && e.status !== undefined;
    const auth = reached && (/oauth|token/i.test(e.operation) || e.status === 401);
    if (auth)
      out.push({
        name: 'genesys oauth',
        ok: false,
        detail: `the client-credentials login failed: ${`${e.status ?? ''} ${e.code ?? ''}`.trim()}`,
        fix: 'check GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET and GENESYS_REGION (a client-credentials OAuth client of this org)',
      });
    else if (reached)
      out.push(
        { name: 'genesys oauth', ok: true, detail: `client credentials accepted at ${g.apiUrl}` },
        {
          name: 'genesys permissions',
          ok: false,
          detail: `cannot read the client's grants: GET /api/v2/authorization/subjects/me answered ${e.status}${e.code ? ` ${e.code}` : ''}`,
          fix: `check by hand that the client's roles grant: ${REQUIRED_PERMISSIONS.map((p) => p.permission).join(', ')}`,
        },
      );
    else
      out.push({
        name: 'genesys oauth',
        ok: false,
        detail: `Genesys cannot be reached: ${describeError(e)}`,
        fix: 'check GENESYS_REGION / GENESYS_API_URL and the network path to it',
      });
  } finally {
    client.close();
  }
  return out;
}

async function kafkaChecks(
  config: Config,
  kafka: Kafka | undefined,
  timeoutMs: number,
): Promise<DoctorCheck[]> {
  if (kafka === undefined)
    return [{ name: 'kafka', ok: false, detail: 'KAFKA_BROKERS is not set', fix: 'set KAFKA_BROKERS' }];
  const admin = kafka.admin();
  try {
    const cluster = await within(
      timeoutMs,
      'Kafka',
      admin.connect().then(() => admin.describeCluster()),
    );
    const out: DoctorCheck[] = [
      {
        name: 'kafka',
        ok: true,
        detail: `${cluster.brokers.length} broker(s) at ${config.kafka.brokers.join(',')}, cluster ${cluster.clusterId}`,
      },
    ];
    out.push(
      groupStartDelayCheck(
        await within(
          timeoutMs,
          'Kafka',
          admin.describeConfigs({
            includeSynonyms: false,
            resources: cluster.brokers.map((b) => ({
              type: kafkajs.ConfigResourceTypes.BROKER,
              name: String(b.nodeId),
              configNames: [GROUP_START_DELAY_SETTING],
            })),
          }),
        ).then(
          (r) => ({
            byBroker: new Map(
              r.resources.map((x) => [
                x.resourceName,
                x.configEntries.find((c) => c.configName === GROUP_START_DELAY_SETTING)?.configValue,
              ]),
            ),
          }),
          // Reading broker settings needs DescribeConfigs on the cluster, which a locked-down client may lack.
          (e: unknown) => ({ unreadable: describeError(e) }),
        ),
      ),
    );
    const roles: Record<TopicRole, string> = {
      notifications: config.topics.notifications,
      sessionTags: config.topics.sessionTags,
      recordingExports: config.topics.recordingExports,
      legalHolds: config.topics.legalHolds,
      sinkState: config.topics.sinkState,
      manifests: config.topics.manifests,
      dlq: config.topics.dlq,
    };
    const existing = new Set(await within(timeoutMs, 'Kafka', admin.listTopics()));
    const bridge = config.ingest.source === 'eventbridge' ? config.topics.eventBridge : undefined;
    const names = [...Object.values(roles), ...(bridge === undefined ? [] : [bridge])].filter((t) =>
      existing.has(t),
    );
    const facts = new Map<string, TopicFacts>();
    if (names.length > 0) {
      const meta = await within(timeoutMs, 'Kafka', admin.fetchTopicMetadata({ topics: names }));
      const configs = await within(
        timeoutMs,
        'Kafka',
        admin.describeConfigs({
          includeSynonyms: false,
          resources: names.map((name) => ({
            type: kafkajs.ConfigResourceTypes.TOPIC,
            name,
            configNames: ['cleanup.policy', 'retention.ms'],
          })),
        }),
      );
      for (const t of meta.topics) {
        const r = configs.resources.find((x) => x.resourceName === t.name);
        facts.set(t.name, {
          partitions: t.partitions.length,
          config: Object.fromEntries((r?.configEntries ?? []).map((c) => [c.configName, c.configValue])),
        });
      }
    }
    return [
      ...out,
      ...topicChecks(roles, facts),
      ...(bridge === undefined ? [] : [eventBridgeTopicCheck(bridge, facts.get(bridge))]),
    ];
  } catch (e) {
    return [
      {
        name: 'kafka',
        ok: false,
        detail: `cannot reach Kafka at ${config.kafka.brokers.join(',')}: ${describeError(e)}`,
        fix: 'check KAFKA_BROKERS, KAFKA_SSL / KAFKA_SASL_* and the network path to the brokers',
      },
    ];
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function bucketChecks(
  s3: S3Client,
  bucket: string,
  purpose: string,
  timeoutMs: number,
  now: () => number,
  dateOfLastAnswer: (() => string | undefined) | undefined,
): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  let date: string | undefined;
  const sentAt = now();
  let receivedAt: number;
  try {
    await within(timeoutMs, 'S3', s3.send(new HeadBucketCommand({ Bucket: bucket })));
    receivedAt = now();
    date = dateOfLastAnswer?.();
    out.push({ name: `s3 bucket ${bucket}`, ok: true, detail: `reachable (${purpose})` });
  } catch (e) {
    return [
      {
        name: `s3 bucket ${bucket}`,
        ok: false,
        detail: `cannot be read: ${s3Why(e)}`,
        fix: 'check the bucket name, S3_ENDPOINT/S3_REGION and that the credentials may read it',
      },
    ];
  }
  try {
    const v = await within(timeoutMs, 'S3', s3.send(new GetBucketVersioningCommand({ Bucket: bucket })));
    out.push({
      name: `s3 versioning ${bucket}`,
      ok: v.Status === 'Enabled',
      detail: `versioning ${v.Status ?? 'never enabled'}`,
      fix:
        v.Status === 'Enabled'
          ? undefined
          : `aws s3api put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled`,
    });
  } catch (e) {
    out.push({
      name: `s3 versioning ${bucket}`,
      ok: false,
      detail: s3Why(e),
      fix: 'allow s3:GetBucketVersioning',
    });
  }
  try {
    const l = await within(
      timeoutMs,
      'S3',
      s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket })),
    );
    const on = l.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    out.push({
      name: `s3 object lock ${bucket}`,
      ok: on,
      detail: on ? 'Object Lock enabled' : 'Object Lock not enabled',
      fix: on
        ? undefined
        : 'enable Object Lock on the bucket (aws s3api put-object-lock-configuration; new buckets: --object-lock-enabled-for-bucket)',
    });
  } catch (e) {
    const none = e instanceof S3ServiceException && /ObjectLockConfiguration/i.test(e.name);
    out.push({
      name: `s3 object lock ${bucket}`,
      ok: false,
      detail: none ? 'Object Lock not enabled' : s3Why(e),
      fix: none
        ? 'enable Object Lock on the bucket (aws s3api put-object-lock-configuration; new buckets: --object-lock-enabled-for-bucket)'
        : 'allow s3:GetBucketObjectLockConfiguration',
    });
  }
  if (dateOfLastAnswer) out.push(clockSkewCheck('clock skew vs S3', date, sentAt, receivedAt));
  return out;
}

/** Remembers the `Date` header of the last S3 answer, for the clock check. */
function recordDate(s3: S3Client): () => string | undefined {
  let last: string | undefined;
  s3.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const headers = (result.response as { headers?: Record<string, string> } | undefined)?.headers ?? {};
      last = headers['date'] ?? headers['Date'];
      return result;
    },
    { step: 'deserialize', name: 'custodyDoctorDate', override: true },
  );
  return () => last;
}

/** Runs every check; never throws. */
export async function runDoctorChecks(deps: DoctorDeps): Promise<DoctorReport> {
  const { config } = deps;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const now = deps.now ?? (() => Date.now());
  const s3Checks = async (): Promise<DoctorCheck[]> => {
    if (deps.s3 === undefined || config.s3.bucket === undefined)
      return [{ name: 's3 bucket', ok: false, detail: 'S3_BUCKET is not set', fix: 'set S3_BUCKET' }];
    const dateOfLastAnswer = recordDate(deps.s3);
    const out = await bucketChecks(
      deps.s3,
      config.s3.bucket,
      'export bucket',
      timeoutMs,
      now,
      dateOfLastAnswer,
    );
    const manifest = config.sink.manifestBucket;
    if (manifest !== undefined && manifest !== config.s3.bucket)
      out.push(...(await bucketChecks(deps.s3, manifest, 'manifest bucket', timeoutMs, now, undefined)));
    return out;
  };
  const [signing, genesys, kafka, s3] = await Promise.all([
    signingChecks(config),
    genesysChecks(config, timeoutMs, now),
    kafkaChecks(config, deps.kafka, timeoutMs),
    s3Checks(),
  ]);
  const checks = [...genesys, ...kafka, ...s3, ...signing];
  return { ok: checks.every((c) => c.ok), checks };
}

/** The text output: one line per check, then the public key. */
export function renderDoctor(report: DoctorReport): string {
  const lines = report.checks.map(
    (c) => `${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}${c.ok || !c.fix ? '' : ` | fix: ${c.fix}`}`,
  );
  const failed = report.checks.filter((c) => !c.ok).length;
  lines.push(failed === 0 ? 'doctor: every check passed' : `doctor: ${failed} check(s) failed`);
  const pem = report.checks.find((c) => c.publicKeyPem)?.publicKeyPem;
  if (pem) lines.push('signing public key:', pem.trimEnd());
  return `${lines.join('\n')}\n`;
}
