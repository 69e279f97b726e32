/**
 * The join state in S3: read-merge-write of `session-tags.json` and `exports.json` under a per-conversation prefix,
 * each write conditional on the ETag read (or on absence). A lost race re-reads and re-merges; since the merges are
 * joins, the retry converges whoever wrote first.
 */
import { sha256Hex } from '../enrich/integrity.ts';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import type { RecordingExport } from '../kafka/avro-codec.ts';
import {
  EXPORTS_FORMAT,
  applyRecordingExport,
  applySessionTags,
  exportsStateChanged,
  isStateFailure,
  mergeExportsState,
  parseExportsState,
  parseTagsState,
  stateBytes,
  tagsStateChanged,
} from './join-state.ts';
import type { ExportsState, KafkaPointer, SessionTagsState, StateParseFailure } from './join-state.ts';
import type { S3ObjectStore } from './manifest-store.ts';
import { SinkError } from './sink-errors.ts';
import type { TagsEvidence } from './sink-timeline.ts';

export type StateLocation = Readonly<{ bucket: string; prefix: string }>;

/** Where a conversation's state objects live. */
export function stateKeys(
  location: StateLocation,
  conversationId: string,
): Readonly<{ tags: string; exports: string }> {
  const base = location.prefix === '' ? conversationId : `${location.prefix}/${conversationId}`;
  return { tags: `${base}/session-tags.json`, exports: `${base}/exports.json` };
}

/** The tags state with the evidence pointer manifests reference. */
export type TagsRead = Readonly<{ state: SessionTagsState; evidence: TagsEvidence }>;

/** The exports state with its ETag (for conditional updates). */
export type ExportsRead = Readonly<{ state: ExportsState; etag: string }>;

function parsed<T extends object>(value: T | StateParseFailure, key: string): T {
  if (isStateFailure(value)) {
    throw new SinkError(
      'CUSTODY_SINK_STATE_CORRUPT',
      `state object ${key} is unreadable: ${value.detail}`,
      false,
    );
  }
  return value;
}

/** Reads, merges and conditionally writes the state objects of conversations. */
export class JoinStateStore {
  readonly #store: S3ObjectStore;
  readonly #location: StateLocation;
  readonly #maxAttempts: number;

  constructor(store: S3ObjectStore, location: StateLocation, maxAttempts: number) {
    this.#store = store;
    this.#location = location;
    this.#maxAttempts = maxAttempts;
  }

  async readTags(conversationId: string): Promise<TagsRead | undefined> {
    const key = stateKeys(this.#location, conversationId).tags;
    const obj = await this.#store.get(this.#location.bucket, key);
    if (obj === undefined) return undefined;
    return {
      state: parsed(parseTagsState(obj.bytes), key),
      evidence: {
        bucket: this.#location.bucket,
        key,
        versionId: obj.versionId,
        sha256: sha256Hex(obj.bytes),
      },
    };
  }

  async readExports(conversationId: string): Promise<ExportsRead | undefined> {
    return this.#readExportsObject(stateKeys(this.#location, conversationId).exports);
  }

  async #readExportsObject(key: string): Promise<ExportsRead | undefined> {
    const obj = await this.#store.get(this.#location.bucket, key);
    if (obj === undefined) return undefined;
    return { state: parsed(parseExportsState(obj.bytes), key), etag: obj.etag };
  }

  /**
   * Folds snapshots of one conversation (e.g. every one in a fetched batch: coalesced into one write) into
   * `session-tags.json`; writes only on a material change.
   */
  async addSessionTags(
    conversationId: string,
    inputs: readonly Readonly<{ snapshot: SessionTagsSnapshot; pointer: KafkaPointer }>[],
  ): Promise<void> {
    if (inputs.length === 0) return;
    const key = stateKeys(this.#location, conversationId).tags;
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const obj = await this.#store.get(this.#location.bucket, key);
      const stored = obj === undefined ? undefined : parsed(parseTagsState(obj.bytes), key);
      let next = stored;
      for (const i of inputs) next = applySessionTags(next, i.snapshot, i.pointer);
      if (next === undefined) return;
      if (!tagsStateChanged(stored, next)) return;
      const outcome = await this.#store.put(
        this.#location.bucket,
        key,
        stateBytes(next),
        obj === undefined ? { ifNoneMatch: '*' } : { ifMatch: obj.etag },
      );
      if (outcome.status === 'written') return;
    }
    throw new SinkError(
      'CUSTODY_SINK_CONFLICTS',
      `gave up on ${key} after ${this.#maxAttempts} lost races`,
      true,
    );
  }

  /**
   * Folds RecordingExport records of one conversation into `exports.json` (one write). Returns the state as
   * written (or found unchanged) with its ETag, so the reconcile that follows need not read it back.
   */
  async addRecordingExports(
    conversationId: string,
    inputs: readonly Readonly<{ record: RecordingExport; pointer: KafkaPointer }>[],
  ): Promise<ExportsRead | undefined> {
    if (inputs.length === 0) return undefined;
    return this.updateExports(conversationId, (stored) => {
      let next = stored ?? { format: EXPORTS_FORMAT, conversationId, recordings: {} };
      for (const i of inputs) next = applyRecordingExport(next, i.record, i.pointer);
      return next;
    });
  }

  /**
   * Merges `delta` (e.g. new hashes or announcements) into `exports.json`; returns the merged state and its ETag.
   * `known`: the state as last read or written, used instead of a fresh read for the first attempt.
   */
  async mergeExports(delta: ExportsState, known?: ExportsRead): Promise<ExportsRead> {
    return this.updateExports(delta.conversationId, (stored) => mergeExportsState(stored, delta), known);
  }

  /**
   * Read-merge-write of `exports.json`. With `known` (a state and the ETag it was read or written with), the first
   * attempt merges into it without reading: the write is conditional on that ETag, so if the object changed since,
   * S3 refuses it and the next attempt reads afresh — the same outcome as reading first, one request fewer.
   */
  async updateExports(
    conversationId: string,
    change: (stored: ExportsState | undefined) => ExportsState,
    known?: ExportsRead,
  ): Promise<ExportsRead> {
    const key = stateKeys(this.#location, conversationId).exports;
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const base =
        attempt === 0 && known !== undefined && known.etag !== ''
          ? known
          : await this.#readExportsObject(key);
      const stored = base?.state;
      const next = change(stored);
      if (base !== undefined && !exportsStateChanged(stored, next)) return { state: next, etag: base.etag };
      const outcome = await this.#store.put(
        this.#location.bucket,
        key,
        stateBytes(next),
        base === undefined ? { ifNoneMatch: '*' } : { ifMatch: base.etag },
      );
      if (outcome.status === 'written') return { state: next, etag: outcome.etag };
    }
    throw new SinkError(
      'CUSTODY_SINK_CONFLICTS',
      `gave up on ${key} after ${this.#maxAttempts} lost races`,
      true,
    );
  }
}
