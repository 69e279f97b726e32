/**
 * When the watcher emits a recording (pure rules, no I/O).
 *
 * A recording is its audio and metadata objects. It is emitted once per distinct pair of identities
 * `(audio etag+versionId, metadata etag+versionId)`:
 * - both objects exist and the pair differs from the last pair emitted → emit;
 * - only one exists: if the last emitted pair already had this very object, nothing (the other one vanished
 *   or never came, which was already reported); otherwise wait until the object has been seen alone for
 *   `pairGraceMs` (Genesys writes the audio, then the metadata, moments apart) and then emit with the missing
 *   side null — the sink writes an incomplete manifest;
 * - neither exists → nothing.
 *
 * A listing (ListObjectsV2) shows ETag, size and LastModified but no version id; a file whose ETag and
 * LastModified equal what was last emitted is taken to be that version ("resolved" without a HEAD). Any decision
 * that depends on a file not resolved that way answers `resolve`: HEAD it and decide again.
 */

/** What is known of one present object. `versionId` is meaningful only when `resolved`. */
export type ObservedFile = Readonly<{ etag: string; versionId: string | null; resolved: boolean }>;

/** The identity of an emitted object, kept in the checkpoint. */
export type EmittedFile = Readonly<{ etag: string; versionId: string | null; lastModifiedMs: number }>;

/** The pair last emitted for a recording. */
export type EmittedPair = Readonly<{ audio: EmittedFile | null; metadata: EmittedFile | null }>;

/** Inputs of {@link decideEmission}. */
export type EmissionInput = Readonly<{
  audio: ObservedFile | null;
  metadata: ObservedFile | null;
  /** The pair last emitted for this recording, if any. */
  emitted: EmittedPair | undefined;
  /** When this watcher first saw one object without the other (its clock, ms), if it did. */
  aloneSinceMs: number | undefined;
  nowMs: number;
  pairGraceMs: number;
}>;

/** What to do with a recording. `wait` carries the (possibly new) alone-since time to remember. */
export type EmissionDecision =
  | Readonly<{ kind: 'unchanged' }>
  | Readonly<{ kind: 'wait'; aloneSinceMs: number }>
  | Readonly<{ kind: 'resolve' }>
  | Readonly<{ kind: 'emit' }>;

function sameFile(observed: ObservedFile | null, emitted: EmittedFile | null | undefined): boolean {
  if (observed === null || emitted === null || emitted === undefined) return observed === null && !emitted;
  return observed.resolved && observed.etag === emitted.etag && observed.versionId === emitted.versionId;
}

/**
 * Decides one recording. Deterministic: the same input always gives the same decision.
 * A lone object is emitted once `nowMs - aloneSinceMs >= pairGraceMs`.
 */
export function decideEmission(input: EmissionInput): EmissionDecision {
  const { audio, metadata, emitted } = input;
  if (audio === null && metadata === null) return { kind: 'unchanged' };

  if (audio !== null && metadata !== null) {
    if (!audio.resolved || !metadata.resolved) return { kind: 'resolve' };
    if (emitted && sameFile(audio, emitted.audio) && sameFile(metadata, emitted.metadata)) {
      return { kind: 'unchanged' };
    }
    return { kind: 'emit' };
  }

  const lone = (audio ?? metadata) as ObservedFile;
  const emittedSide = audio !== null ? emitted?.audio : emitted?.metadata;
  if (emitted && sameFile(lone, emittedSide)) return { kind: 'unchanged' };
  const since = input.aloneSinceMs ?? input.nowMs;
  if (input.nowMs - since < input.pairGraceMs) return { kind: 'wait', aloneSinceMs: since };
  return lone.resolved ? { kind: 'emit' } : { kind: 'resolve' };
}

/**
 * Marks a listed object as resolved when its ETag and LastModified equal the version last emitted, so unchanged
 * objects never cost a HEAD request.
 */
export function observeListed(
  listed: Readonly<{ etag: string; lastModifiedMs: number }> | undefined,
  emitted: EmittedFile | null | undefined,
): ObservedFile | null {
  if (listed === undefined) return null;
  if (emitted && emitted.etag === listed.etag && emitted.lastModifiedMs === listed.lastModifiedMs) {
    return { etag: listed.etag, versionId: emitted.versionId, resolved: true };
  }
  return { etag: listed.etag, versionId: null, resolved: false };
}
