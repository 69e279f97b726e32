/**
 * Metrics of `custody exports watch`, as a small structural interface (tests may pass a recording fake) with a
 * prom-client implementation registered on the process's registry. Names follow custody_<stage>_<thing>_<unit>.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/** What the watcher counts. Labels are fixed small sets (never keys or ids). */
export interface ExportsWatchMetrics {
  objectsListed(n: number): void;
  /** Listed objects that are not exports (other files, custody's manifests and state). */
  objectsSkipped(n: number): void;
  recordingsEmitted(detectedBy: 'scan' | 's3-event', n: number): void;
  /** Invalid export keys sent to the DLQ (alert on any increase). */
  invalidKeys(source: 'scan' | 's3-event', n: number): void;
  /** Dead letters by error code (alert on any increase). */
  deadLetters(code: string, n: number): void;
  scanDuration(seconds: number): void;
  pendingRecordings(n: number): void;
  /** Hour folders of backfill and catch-up ranges still to list (0: caught up). */
  backlogHours(n: number): void;
  checkpointWrite(): void;
  checkpointConflict(): void;
  s3Events(
    outcome: 'created' | 'ignored' | 'test-event' | 'rejected' | 'deferred' | 'other-bucket',
    n: number,
  ): void;
}

/** prom-client metrics on `registry` (call once per registry). */
export function exportsWatchMetrics(registry: Registry): ExportsWatchMetrics {
  const registers = [registry];
  const listed = new Counter({
    name: 'custody_exports_watch_objects_listed_total',
    help: 'S3 objects listed in hour folders',
    registers,
  });
  const skipped = new Counter({
    name: 'custody_exports_watch_objects_skipped_total',
    help: 'Listed objects that are not Genesys exports (other files, custody manifests and state)',
    registers,
  });
  const emitted = new Counter({
    name: 'custody_exports_watch_recordings_emitted_total',
    help: 'RecordingExport records produced, by detection path',
    labelNames: ['detected_by'],
    registers,
  });
  const invalid = new Counter({
    name: 'custody_exports_watch_invalid_keys_total',
    help: 'Keys that look like exports but break the layout, dead-lettered once each (alert on any increase)',
    labelNames: ['source'],
    registers,
  });
  const dead = new Counter({
    name: 'custody_exports_watch_dead_letters_total',
    help: 'Records written to the DLQ, by error code (alert on any increase)',
    labelNames: ['code'],
    registers,
  });
  const duration = new Histogram({
    name: 'custody_exports_watch_scan_duration_seconds',
    help: 'Duration of one scan pass (listing, HEADs, produce, checkpoint)',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers,
  });
  const pending = new Gauge({
    name: 'custody_exports_watch_pending_recordings',
    help: 'Recordings with one object seen alone, waiting for the pairing grace period',
    registers,
  });
  const backlog = new Gauge({
    name: 'custody_exports_watch_backlog_hours',
    help: 'Hours of backfill and catch-up ranges (the watcher was down longer than its lookback) still to list',
    registers,
  });
  const writes = new Counter({
    name: 'custody_exports_watch_checkpoint_writes_total',
    help: 'Checkpoint objects written',
    registers,
  });
  const conflicts = new Counter({
    name: 'custody_exports_watch_checkpoint_conflicts_total',
    help: 'Conditional checkpoint writes that lost to another writer (two watchers with one name?)',
    registers,
  });
  const events = new Counter({
    name: 'custody_exports_watch_s3_events_total',
    help: 'S3 event notification records consumed, by outcome',
    labelNames: ['outcome'],
    registers,
  });
  return {
    objectsListed: (n) => listed.inc(n),
    objectsSkipped: (n) => skipped.inc(n),
    recordingsEmitted: (detectedBy, n) => emitted.inc({ detected_by: detectedBy }, n),
    invalidKeys: (source, n) => invalid.inc({ source }, n),
    deadLetters: (code, n) => dead.inc({ code }, n),
    scanDuration: (s) => duration.observe(s),
    pendingRecordings: (n) => pending.set(n),
    backlogHours: (n) => backlog.set(n),
    checkpointWrite: () => writes.inc(),
    checkpointConflict: () => conflicts.inc(),
    s3Events: (outcome, n) => events.inc({ outcome }, n),
  };
}

/** Metrics that count nothing (for callers without a registry). */
export const NO_METRICS: ExportsWatchMetrics = {
  objectsListed: () => undefined,
  objectsSkipped: () => undefined,
  recordingsEmitted: () => undefined,
  invalidKeys: () => undefined,
  deadLetters: () => undefined,
  scanDuration: () => undefined,
  pendingRecordings: () => undefined,
  backlogHours: () => undefined,
  checkpointWrite: () => undefined,
  checkpointConflict: () => undefined,
  s3Events: () => undefined,
};
