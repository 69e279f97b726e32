/**
 * The simulated "AWS S3 recording bulk actions" integration. Each recording's export date comes from
 * the media retention policy (`ctx.exportAfterMinutes` after its conversation ends) or from an EXPORT
 * bulk job; when simulated time reaches it, the audio and its metadata file are written to the REAL S3
 * server (`ctx.exportTarget`) in Genesys's layout (export-layout.ts), audio first, and the recording's
 * `exportedDate` is set. Failed writes are retried with exponential back-off (real time) and logged —
 * never dropped. `flush()` resolves once every export due by now is written.
 */
import {
  CreateBucketCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { pino } from 'pino';
import type { SimOrg, SimRecording } from '../model.ts';
import type { ExportTarget, PlatformContext } from './context.ts';
import { recordingExists } from './conversations.ts';
import { pseudoOpusAudio } from './export-audio.ts';
import { recordingLedger } from './export-ledger.ts';
import { exportKeys } from './export-layout.ts';
import { exportMetadata } from './export-metadata.ts';

/** The structural logger exports need (pino's signature). */
export interface ExportLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ExportOptions {
  /** Zero-pad the day and hour partitions (UNCONFIRMED; default false, like the month). */
  readonly padDayHour?: boolean;
  readonly logger?: ExportLogger;
  /** First retry delay in real ms (doubles per attempt up to `maxRetryDelayMs`); default 200. */
  readonly retryBaseMs?: number;
  /** Longest retry delay in real ms; default 10 000. */
  readonly maxRetryDelayMs?: number;
  /** How often (simulated ms) to look for newly scheduled conversations' policy exports; default 60 000. */
  readonly scanEveryMs?: number;
  /** Concurrent recording uploads; default 4. */
  readonly maxInFlight?: number;
}

export interface Exports {
  /** Resolves when every export due by the current simulated time has been written; rejects after `timeoutMs` (real). */
  flush(timeoutMs?: number): Promise<void>;
  /** Stops scheduling and retrying, waits for in-flight writes, and closes the S3 client. */
  stop(): Promise<void>;
  /** Recordings written so far. */
  writtenCount(): number;
}

interface Task {
  readonly recording: SimRecording;
  readonly conversationStart: number;
  attempts: number;
}

interface Scheduled {
  readonly due: number;
  readonly cancel: () => void;
  fired: boolean;
}

const instances = new WeakMap<SimOrg, Exports>();

/**
 * Awaits every due export of an emulator (see {@link Exports.flush}). Takes anything with the emulator's
 * `org` — its PlatformContext or the running emulator.
 */
export async function flushExports(emulator: { readonly org: SimOrg }, timeoutMs?: number): Promise<void> {
  const exports = instances.get(emulator.org);
  if (!exports) throw new Error('registerExports(ctx) was not called for this emulator');
  await exports.flush(timeoutMs);
}

/** Stops an emulator's exports (see {@link Exports.stop}); a no-op when none were registered. */
export async function stopExports(emulator: { readonly org: SimOrg }): Promise<void> {
  await instances.get(emulator.org)?.stop();
}

/** Starts the export integration for one emulator. Call `stop()` on shutdown. */
export function registerExports(ctx: PlatformContext, opts: ExportOptions = {}): Exports {
  const log = opts.logger ?? pino({ name: 'emulator-exports', level: 'info' });
  const retryBaseMs = opts.retryBaseMs ?? 200;
  const maxRetryDelayMs = opts.maxRetryDelayMs ?? 10_000;
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 4);
  const ledger = recordingLedger(ctx);
  const writer = ctx.exportTarget ? createS3Writer(ctx.exportTarget) : undefined;

  const scheduled = new Map<string, Scheduled>();
  const recordings = new Map<string, { recording: SimRecording; conversationStart: number }>();
  const queue: Task[] = [];
  const inFlight = new Set<Promise<void>>();
  let busy = 0;
  let written = 0;
  let stopped = false;
  let lastError: string | undefined;
  const wakers = new Set<() => void>();

  const fire = (recordingId: string, due: number): void => {
    const entry = scheduled.get(recordingId);
    const known = recordings.get(recordingId);
    if (!entry || entry.due !== due || entry.fired || !known || stopped) return;
    entry.fired = true;
    queue.push({ ...known, attempts: 0 });
    pump();
  };

  const schedule = (recording: SimRecording, exportDate: number): void => {
    // An export can only happen once the recording exists.
    const due = Math.max(exportDate, recording.endTime);
    const existing = scheduled.get(recording.recordingId);
    if (existing && existing.due === due) return;
    existing?.cancel();
    const cancel = ctx.clock.at(due, () => fire(recording.recordingId, due));
    scheduled.set(recording.recordingId, { due, cancel, fired: false });
  };

  /** Picks up conversations added since the last scan and schedules their policy exports. */
  const scanned = new Set<string>();
  const scan = (): void => {
    for (const script of ctx.conversations.all()) {
      if (scanned.has(script.conversationId)) continue;
      scanned.add(script.conversationId);
      for (const recording of script.recordings) {
        if (recordings.has(recording.recordingId)) continue;
        recordings.set(recording.recordingId, { recording, conversationStart: script.startTime });
        const exportDate = ledger.retention(recording).exportDate;
        if (exportDate !== undefined) schedule(recording, exportDate);
      }
    }
  };

  const pump = (): void => {
    while (!stopped && busy < maxInFlight && queue.length > 0) {
      const task = queue.shift();
      if (!task) break;
      busy++;
      const p = run(task).finally(() => {
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
  };

  const run = async (task: Task): Promise<void> => {
    const { recording } = task;
    for (;;) {
      try {
        if (writer) await writer.write(ctx.org.orgId, task, opts);
        ledger.markExported(recording.recordingId, ctx.clock.now());
        written++;
        break;
      } catch (err) {
        task.attempts++;
        lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        const fields = {
          conversationId: recording.conversationId,
          recordingId: recording.recordingId,
          attempt: task.attempts,
          err: lastError,
        };
        if (stopped) {
          log.error(fields, 'export abandoned at shutdown; the recording was not written');
          break;
        }
        const delay = Math.min(maxRetryDelayMs, retryBaseMs * 2 ** Math.min(task.attempts - 1, 16));
        log.warn({ ...fields, retryInMs: delay }, 'export write failed; retrying');
        // stop() cuts the back-off short, so shutdown never waits for a retry timer.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(wake, delay);
          timer.unref();
          function wake(): void {
            clearTimeout(timer);
            wakers.delete(wake);
            resolve();
          }
          wakers.add(wake);
        });
        if (stopped) {
          log.error(fields, 'export abandoned at shutdown; the recording was not written');
          break;
        }
      }
    }
    busy--;
    pump();
  };

  const unsubscribe = ledger.onExportScheduled((recordingId, at) => {
    scan();
    const known = recordings.get(recordingId);
    if (!known) return;
    if (at === undefined) {
      scheduled.get(recordingId)?.cancel();
      scheduled.delete(recordingId);
    } else {
      schedule(known.recording, at);
    }
  });
  scan();
  const stopScan = ctx.clock.every(opts.scanEveryMs ?? 60_000, scan);

  const exports: Exports = {
    async flush(timeoutMs = 30_000) {
      scan();
      const now = ctx.clock.now();
      for (const [recordingId, entry] of scheduled) {
        const known = recordings.get(recordingId);
        if (!entry.fired && entry.due <= now && known && recordingExists(known.recording, now)) {
          entry.cancel();
          fire(recordingId, entry.due);
        }
      }
      const deadline = Date.now() + timeoutMs;
      while (queue.length > 0 || busy > 0) {
        if (Date.now() > deadline) {
          throw new Error(
            `exports not written after ${timeoutMs} ms: ${queue.length + busy} pending` +
              (lastError ? ` (last error: ${lastError})` : ''),
          );
        }
        await new Promise<void>((resolve) => setTimeout(resolve, 10));
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      stopScan();
      for (const entry of scheduled.values()) entry.cancel();
      for (const wake of [...wakers]) wake();
      if (queue.length > 0) {
        log.error({ pending: queue.length }, 'exports not yet started at shutdown were not written');
        queue.length = 0;
      }
      await Promise.allSettled([...inFlight]);
      writer?.close();
    },
    writtenCount: () => written,
  };
  instances.set(ctx.org, exports);
  return exports;
}

interface S3Writer {
  write(orgId: string, task: Task, opts: ExportOptions): Promise<void>;
  close(): void;
}

function createS3Writer(target: ExportTarget): S3Writer {
  const client = new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: true,
    // The export loop retries with its own logged back-off; SDK-internal retries would hide failures.
    maxAttempts: 1,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
  });
  let bucketReady: Promise<void> | undefined;
  const ensureBucket = (): Promise<void> => {
    bucketReady ??= (async () => {
      try {
        await client.send(new HeadBucketCommand({ Bucket: target.bucket }));
      } catch (err) {
        if (!(err instanceof S3ServiceException) || err.$metadata.httpStatusCode !== 404) throw err;
        try {
          await client.send(
            new CreateBucketCommand({ Bucket: target.bucket, ObjectLockEnabledForBucket: true }),
          );
        } catch (createErr) {
          if (!(createErr instanceof S3ServiceException) || createErr.name !== 'BucketAlreadyOwnedByYou')
            throw createErr;
        }
      }
    })().catch((err: unknown) => {
      bucketReady = undefined; // try again on the next write
      throw err;
    });
    return bucketReady;
  };
  return {
    async write(orgId, task, opts) {
      const { recording } = task;
      await ensureBucket();
      const keys = exportKeys(
        orgId,
        task.conversationStart,
        recording.conversationId,
        recording.recordingId,
        {
          padDayHour: opts.padDayHour,
        },
      );
      await client.send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: keys.audioKey,
          Body: pseudoOpusAudio(recording.recordingId, recording.sizeBytes),
          ContentType: 'audio/ogg',
        }),
      );
      // Metadata last: consumers react to `*_metadata.json` and expect the audio to be there already.
      const metadata = exportMetadata({ conversationId: recording.conversationId }, recording);
      await client.send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: keys.metadataKey,
          Body: JSON.stringify(metadata),
          ContentType: 'application/json',
        }),
      );
    },
    close: () => client.destroy(),
  };
}
