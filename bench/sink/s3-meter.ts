/**
 * Counts the S3 requests a client sends, by operation and by what the key holds (`GetObject audio`,
 * `PutObject join-state`, …), with the summed wall time each took from the SDK's `initialize` step to the parsed
 * response (retries included). A GetObject body is streamed after that, so its transfer is not in `ms`. Attached
 * the same way to the sink's client and the floor's, so both pay the same (negligible) overhead.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { InfraSettings } from '../../infra/local.ts';
import { S3_CLIENT_OPTIONS } from '../../src/roles/s3-client.ts';

export type OperationStats = { requests: number; ms: number };

export type MeteredS3 = Readonly<{
  client: S3Client;
  /** Counts since the last reset, e.g. `{ 'GetObject audio': { requests: 3, ms: 12 } }`. */
  snapshot(): Record<string, OperationStats>;
  reset(): void;
}>;

/** What an object key holds, in the export layout and custody's own prefixes. */
export function keyKind(key: string | undefined): string {
  if (key === undefined) return 'bucket';
  if (key.startsWith('_custody/')) return 'join-state';
  if (key.endsWith('.opus_manifest.json')) return 'manifest';
  if (key.endsWith('.opus_metadata.json')) return 'metadata';
  if (key.endsWith('.opus')) return 'audio';
  return 'other';
}

/**
 * An S3 client that counts requests and their time per kind. `latencyMs` is added before every request: a remote
 * S3's round trip (tens of ms against AWS, against the local server's ~1 ms), for custody and the floor alike.
 */
export function meteredS3(settings: InfraSettings, latencyMs = 0): MeteredS3 {
  const client = new S3Client({
    endpoint: settings.S3_ENDPOINT,
    region: settings.S3_REGION,
    forcePathStyle: true,
    credentials: {
      accessKeyId: settings.AWS_ACCESS_KEY_ID,
      secretAccessKey: settings.AWS_SECRET_ACCESS_KEY,
    },
    // As custody builds its clients (the sink's, and so the floor's, S3 work is the same as in production).
    ...S3_CLIENT_OPTIONS,
  });
  let stats = new Map<string, OperationStats>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        const key = (args.input as { Key?: string }).Key;
        const name = `${(context.commandName ?? 'unknown').replace(/Command$/, '')} ${keyKind(key)}`;
        const s = stats.get(name) ?? { requests: 0, ms: 0 };
        s.requests++;
        s.ms += performance.now() - started;
        stats.set(name, s);
      }
    },
    { step: 'initialize', name: 'benchS3Meter' },
  );
  if (latencyMs > 0)
    client.middlewareStack.add(
      (next) => async (args) => {
        await new Promise((resolve) => setTimeout(resolve, latencyMs));
        return next(args);
      },
      { step: 'finalizeRequest', name: 'benchS3Latency' },
    );
  return {
    client,
    snapshot: () =>
      Object.fromEntries(
        [...stats].map(([k, v]) => [k, { requests: v.requests, ms: Math.round(v.ms) }] as const),
      ),
    reset: () => {
      stats = new Map();
    },
  };
}

/** Sums per-operation stats (e.g. to divide by the manifests written). */
export function totals(stats: Record<string, OperationStats>): OperationStats {
  let requests = 0;
  let ms = 0;
  for (const s of Object.values(stats)) {
    requests += s.requests;
    ms += s.ms;
  }
  return { requests, ms };
}
