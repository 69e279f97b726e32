/**
 * Job ledgers in S3 (see export-job-ledger.ts): the runner's conditional read-merge-write, and the watcher's index
 * of every ledger, refreshed incrementally (a listing of `_custody/export-jobs/`, a GET only for changed ETags).
 *
 * Writes are conditional (`If-None-Match: *` for a new ledger, `If-Match` afterwards); losing a race means
 * re-reading, merging ({@link mergeLedgers} is a join) and writing again, so two runs resuming the same job lose
 * nothing. Ledgers are evidence: on a versioned bucket every write stays as a version.
 */
import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ExportJobFacts } from '../kafka/avro-codec.ts';
import type { Logger } from '../observability/logger.ts';
import type { ExportJobLedger, LedgerAttribution } from './export-job-ledger.ts';
import {
  attributeExport,
  LEDGER_PREFIX,
  ledgerAttribution,
  ledgerKey,
  mergeLedgers,
  parseLedger,
} from './export-job-ledger.ts';

/** A ledger that is not a ledger. Not retriable: someone must look at the object. */
export class LedgerError extends Error {
  readonly code = 'CUSTODY_SINK_EXPORT_JOB_LEDGER_INVALID';
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'LedgerError';
  }
}

const MAX_WRITE_ATTEMPTS = 5;

function status(e: unknown): number | undefined {
  return e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
}

function isConflict(e: unknown): boolean {
  const code = status(e);
  return code === 412 || code === 409 || (e instanceof S3ServiceException && e.name === 'PreconditionFailed');
}

/** The ledgers of one bucket. */
export class S3JobLedgerStore {
  readonly bucket: string;
  readonly #s3: S3Client;

  constructor(s3: S3Client, bucket: string) {
    this.#s3 = s3;
    this.bucket = bucket;
  }

  /** Reads one ledger object; undefined when it does not exist. */
  async readKey(key: string): Promise<{ ledger: ExportJobLedger; etag: string } | undefined> {
    let bytes: Uint8Array;
    let etag: string | undefined;
    try {
      const res = await this.#s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      bytes = (await res.Body?.transformToByteArray()) ?? new Uint8Array();
      etag = res.ETag;
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw e;
    }
    const parsed = parseLedger(bytes);
    if (typeof parsed === 'string') {
      throw new LedgerError(`job ledger s3://${this.bucket}/${key} is not a valid ledger (${parsed})`);
    }
    return { ledger: parsed, etag: etag ?? '' };
  }

  /** The ledger of a job; undefined when custody never wrote one. */
  read(jobId: string): Promise<{ ledger: ExportJobLedger; etag: string } | undefined> {
    return this.readKey(ledgerKey(jobId));
  }

  /**
   * Stores `ledger` merged with what is stored (conditional write; on a lost race re-read, merge, retry).
   * @returns the ledger as stored.
   */
  async save(ledger: ExportJobLedger): Promise<ExportJobLedger> {
    const key = ledgerKey(ledger.jobId);
    let stored = await this.readKey(key);
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const next = stored === undefined ? ledger : mergeLedgers(stored.ledger, ledger);
      const bytes = Buffer.from(JSON.stringify(next), 'utf8');
      try {
        await this.#s3.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: bytes,
            ContentType: 'application/json',
            ContentLength: bytes.byteLength,
            // Explicit SHA-256: Object Lock buckets refuse writes without an integrity checksum.
            ChecksumAlgorithm: 'SHA256',
            ChecksumSHA256: createHash('sha256').update(bytes).digest('base64'),
            ...(stored === undefined ? { IfNoneMatch: '*' } : { IfMatch: stored.etag }),
          }),
        );
        return next;
      } catch (e) {
        if (!isConflict(e)) throw e;
        stored = await this.readKey(key);
      }
    }
    throw new LedgerError(`job ledger s3://${this.bucket}/${key} kept changing under this writer`);
  }

  /** Every ledger key with its ETag (paged listing). */
  async list(): Promise<Array<{ key: string; etag: string }>> {
    const out: Array<{ key: string; etag: string }> = [];
    let token: string | undefined;
    do {
      const page = await this.#s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: LEDGER_PREFIX, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key?.endsWith('.json') && o.ETag !== undefined) out.push({ key: o.Key, etag: o.ETag });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
}

type Loaded = { etag: string; attribution: LedgerAttribution | undefined; conversations: readonly string[] };

/**
 * The watcher's view of every ledger: conversation → the executed jobs that cover it. `refresh()` before a scan
 * pass; `factsFor` while emitting. An invalid ledger is logged once per version and skipped (it must not stop the
 * watcher from publishing exports); a ledger that fails to load keeps its previous version.
 */
export class JobLedgerIndex {
  readonly #store: S3JobLedgerStore;
  readonly #log: Logger;
  readonly #skewMs: number;
  readonly #loaded = new Map<string, Loaded>();
  readonly #invalid = new Set<string>();
  #byConversation = new Map<string, LedgerAttribution[]>();

  constructor(store: S3JobLedgerStore, log: Logger, skewMs: number) {
    this.#store = store;
    this.#log = log;
    this.#skewMs = skewMs;
  }

  /** Lists the ledgers and loads new or changed ones. */
  async refresh(): Promise<void> {
    const listed = await this.#store.list();
    const keys = new Set(listed.map((l) => l.key));
    let changed = false;
    for (const key of [...this.#loaded.keys()]) {
      if (!keys.has(key)) {
        this.#loaded.delete(key);
        changed = true;
      }
    }
    for (const { key, etag } of listed) {
      if (this.#loaded.get(key)?.etag === etag || this.#invalid.has(`${key}@${etag}`)) continue;
      try {
        const read = await this.#store.readKey(key);
        if (read === undefined) continue;
        this.#loaded.set(key, {
          etag: read.etag === '' ? etag : read.etag,
          attribution: ledgerAttribution(read.ledger),
          conversations: Object.keys(read.ledger.coverage?.conversations ?? {}),
        });
        changed = true;
      } catch (e) {
        if (!(e instanceof LedgerError)) throw e;
        this.#invalid.add(`${key}@${etag}`);
        this.#log.error(
          { bucket: this.#store.bucket, key, err: e },
          'job ledger skipped: not a valid ledger',
        );
      }
    }
    if (changed) this.#rebuild();
  }

  #rebuild(): void {
    const by = new Map<string, LedgerAttribution[]>();
    for (const { attribution, conversations } of this.#loaded.values()) {
      if (attribution === undefined) continue;
      for (const c of conversations) {
        const list = by.get(c) ?? [];
        list.push(attribution);
        by.set(c, list);
      }
    }
    this.#byConversation = by;
  }

  /** Job facts for an export of `conversationId` whose newest object was written at `lastModifiedMs`; else null. */
  factsFor(conversationId: string, lastModifiedMs: number): ExportJobFacts | null {
    const candidates = this.#byConversation.get(conversationId.toLowerCase());
    if (candidates === undefined) return null;
    return attributeExport(candidates, lastModifiedMs, this.#skewMs) ?? null;
  }

  /** Ledgers loaded (for diagnostics). */
  size(): number {
    return this.#loaded.size;
  }
}
