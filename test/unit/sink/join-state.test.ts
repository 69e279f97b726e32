import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../../src/enrich/canonical-json.ts';
import { HOLDS_FORMAT } from '../../../src/enrich/legal-holds.ts';
import { joinSnapshotTags, mergeSessionTags } from '../../../src/enrich/session-tags-merge.ts';
import type { TagObservation } from '../../../src/enrich/session-tags.ts';
import { notificationSource } from '../../../src/enrich/session-tags.ts';
import type { RecordingExport } from '../../../src/kafka/avro-codec.ts';
import {
  STATE_FORMAT,
  applyRecordingExport,
  encodeConversationState,
  applySessionTags,
  mergeConversationState,
  mergeExportsState,
  mergeTagsState,
  parseConversationState,
  parseExportsState,
  parseTagsState,
  partsBytes,
  stateBytes,
  tagsStateChanged,
} from '../../../src/sink/join-state.ts';
import type {
  ConversationState,
  ExportsState,
  ObjectHash,
  SessionTagsState,
} from '../../../src/sink/join-state.ts';

const CONV = '7c1d1a8e-5a0e-4b7e-9d55-1f0b8c6f2a11';
const ORG = '9a9a9a9a-0000-4000-8000-000000000000';
const REC = 'b1b1b1b1-0000-4000-8000-000000000000';
const P1 = '0b3f6a52-6f1c-4e0e-8f3e-6b0d1f2c3a44';
const P2 = '0b3f6a52-6f1c-4e0e-8f3e-6b0d1f2c3a55';
const T = Date.parse('2026-03-01T09:02:00.000Z');
const src = notificationSource('v2.users.x.conversations', 'c');
const ptr = (offset: string, topic = 'tags') => ({ topic, partition: 0, offset });

function obs(
  participantId: string,
  receivedAt: number,
  fields: TagObservation['fields'],
  provenance: 'live' | 'reconciled' = 'live',
): TagObservation {
  return {
    conversationId: CONV,
    legKey: participantId,
    participantId,
    provenance,
    source: src,
    observedAt: receivedAt - 1,
    receivedAt,
    fields,
  };
}

const early = [
  obs(P1, T, { communicationId: 'comm-1', publicIpAddress: '203.0.113.7' }),
  obs(P2, T + 5, { userId: 'u2' }),
];
const late = [
  obs(P1, T + 1000, { publicIpAddress: '203.0.113.8', disconnectedTime: T + 900 }),
  obs(P1, T + 2000, { stationId: 'st-1' }, 'reconciled'),
];

describe('session-tags state', () => {
  it('joining snapshots equals merging all their observations, in either order (a late older snapshot loses nothing)', () => {
    const older = mergeSessionTags(undefined, early);
    const newer = mergeSessionTags(older, late);
    const all = mergeSessionTags(undefined, [...late, ...early]);
    expect(joinSnapshotTags(newer, older)).toEqual(all);
    expect(joinSnapshotTags(older, newer)).toEqual(all);
    expect(joinSnapshotTags(undefined, older)).toEqual(older);
    // The older snapshot arriving after the newer one changes nothing material.
    const s1 = applySessionTags(undefined, newer, ptr('7'));
    const s2 = applySessionTags(s1, older, ptr('3'));
    expect(s2.snapshot).toEqual(all);
    expect(s2.snapshot.legs.find((l) => l.legKey === P1)?.publicIpAddress?.value).toBe('203.0.113.8');
    expect(s2.snapshot.legs.find((l) => l.legKey === P1)?.publicIpAddress?.firstCapturedAt).toBe(T);
  });

  it('keeps the lowest Kafka record per leg and provenance, and writes only on a change', () => {
    const older = mergeSessionTags(undefined, early);
    const newer = mergeSessionTags(older, late);
    const s1 = applySessionTags(undefined, newer, ptr('12'));
    expect(s1.captures[P1]).toEqual({ live: ptr('12'), reconciled: ptr('12') });
    expect(s1.captures[P2]).toEqual({ live: ptr('12'), reconciled: null });
    const s2 = applySessionTags(s1, older, ptr('9'));
    expect(s2.captures[P1]).toEqual({ live: ptr('9'), reconciled: ptr('12') });
    expect(tagsStateChanged(s1, s2)).toBe(true);
    // A replay of the same record is not a change; nor is a later pointer.
    expect(tagsStateChanged(s2, applySessionTags(s2, newer, ptr('12')))).toBe(false);
    expect(tagsStateChanged(s2, applySessionTags(s2, newer, ptr('100')))).toBe(false);
    expect(tagsStateChanged(undefined, s2)).toBe(true);
  });

  it('round-trips through the stored bytes and rejects a tampered object', () => {
    const s = applySessionTags(undefined, mergeSessionTags(undefined, early), ptr('1'));
    expect(parseTagsState(stateBytes(s))).toEqual(s);
    const bad = JSON.parse(stateBytes(s).toString()) as { snapshot: { conversationId: string } };
    bad.snapshot.conversationId = 'not-a-uuid';
    expect(parseTagsState(Buffer.from(JSON.stringify(bad)))).toHaveProperty('detail');
  });
});

const KEY = (ext: string) => `${ORG}/year=2026/month=3/day=1/hour=9/conversation_id=${CONV}/${REC}${ext}`;

function exportRecord(
  over: Partial<RecordingExport> & { audioVersion?: string; audioModified?: number } = {},
): RecordingExport {
  return {
    bucket: 'exports',
    orgId: ORG,
    conversationId: CONV,
    recordingId: REC,
    partitionHour: '2026-03-01T09:00:00.000Z',
    audio: {
      key: KEY('.opus'),
      versionId: over.audioVersion ?? 'v1',
      size: 100,
      etag: `"${over.audioVersion ?? 'v1'}"`,
      lastModifiedMs: over.audioModified ?? T,
    },
    metadata: {
      key: KEY('.opus_metadata.json'),
      versionId: 'm1',
      size: 10,
      etag: '"m1"',
      lastModifiedMs: T + 1,
    },
    detectedAtMs: T + 60_000,
    detectedBy: 'scan',
    detectorInstance: 'exports-0',
    detectorVersion: '0.1.0',
    job: null,
    ...over,
  };
}

const hash = (versionId: string, at: number): ObjectHash => ({
  versionId,
  etag: `"${versionId}"`,
  sha256: 'a'.repeat(64),
  size: 100,
  hashedAtMs: at,
  instance: `sink-${at}`,
  version: '0.1.0',
});

describe('exports state', () => {
  const a = applyRecordingExport(undefined, exportRecord(), ptr('5', 'exp'));
  const again = applyRecordingExport(
    undefined,
    exportRecord({ detectedAtMs: T + 120_000, detectedBy: 's3-event' }),
    ptr('8', 'exp'),
  );
  const newer = applyRecordingExport(
    undefined,
    exportRecord({ audioVersion: 'v2', audioModified: T + 500_000, detectedAtMs: T + 600_000 }),
    ptr('11', 'exp'),
  );

  it('keeps the newest object version and, for one version, its first detection, whatever the order', () => {
    const orders = [
      [a, again, newer],
      [newer, again, a],
      [again, newer, a],
    ];
    const results = orders.map((list) =>
      list.reduce<ExportsState | undefined>((s, x) => mergeExportsState(s, x), undefined),
    );
    for (const r of results) expect(r).toEqual(results[0]);
    const rec = results[0]?.recordings[REC];
    expect(rec?.audio?.object.versionId).toBe('v2');
    expect(rec?.audio?.source).toEqual(ptr('11', 'exp'));
    // The metadata object is the same in every record: its first detection (the scan at offset 5) is kept.
    expect(rec?.metadata?.detectedBy).toBe('scan');
    expect(rec?.metadata?.source).toEqual(ptr('5', 'exp'));
    // Idempotent: merging a record again changes nothing.
    expect(mergeExportsState(results[0], a)).toEqual(results[0]);
  });

  it('keeps the earliest hash of the current version and drops hashes of superseded versions', () => {
    const withHash = (s: ExportsState, h: ObjectHash): ExportsState => {
      const rec = s.recordings[REC];
      if (rec === undefined) throw new Error('fixture');
      return { ...s, recordings: { [REC]: { ...rec, audioHash: h } } };
    };
    const h1 = withHash(a, hash('v1', T + 100));
    const h1later = withHash(a, hash('v1', T + 200));
    expect(mergeExportsState(h1later, h1).recordings[REC]?.audioHash?.hashedAtMs).toBe(T + 100);
    expect(mergeExportsState(h1, h1later).recordings[REC]?.audioHash?.hashedAtMs).toBe(T + 100);
    expect(mergeExportsState(h1, newer).recordings[REC]?.audioHash).toBeNull();
    const h2 = withHash(newer, hash('v2', T + 700_000));
    expect(mergeExportsState(mergeExportsState(h1, h2), a).recordings[REC]?.audioHash?.versionId).toBe('v2');
  });

  it('unions the states of one export job and round-trips through the stored bytes', () => {
    const j1 = applyRecordingExport(
      undefined,
      exportRecord({ job: { jobId: 'j', createdBy: null, states: [{ state: 'READY', observedAtMs: T }] } }),
      ptr('1', 'exp'),
    );
    const j2 = applyRecordingExport(
      undefined,
      exportRecord({
        job: { jobId: 'j', createdBy: 'u', states: [{ state: 'FULFILLED', observedAtMs: T + 5 }] },
      }),
      ptr('2', 'exp'),
    );
    const merged = mergeExportsState(j2, j1);
    expect(merged.recordings[REC]?.job).toEqual({
      jobId: 'j',
      createdBy: 'u',
      states: [
        { state: 'READY', observedAtMs: T },
        { state: 'FULFILLED', observedAtMs: T + 5 },
      ],
    });
    expect(parseExportsState(stateBytes(merged))).toEqual(merged);
    expect(parseExportsState(Buffer.from('{"format":"x"}'))).toHaveProperty('detail');
  });
});

describe('conversation state (the changelog record)', () => {
  const older = applySessionTags(undefined, mergeSessionTags(undefined, early), ptr('3'));
  const newer = applySessionTags(undefined, mergeSessionTags(undefined, late), ptr('9'));
  const exports = applyRecordingExport(undefined, exportRecord(), ptr('5', 'exp'));
  const state = (tags: SessionTagsState | null, ex: ExportsState | null): ConversationState => ({
    format: STATE_FORMAT,
    conversationId: CONV,
    tags,
    exports: ex,
  });

  it('merges as a join: any order, any grouping, repeats change nothing, and tags equal folding the records', () => {
    const parts = [state(older, null), state(null, exports), state(newer, null)];
    const orders = [parts, [...parts].reverse(), [parts[1], parts[2], parts[0]]];
    const results = orders.map((list) =>
      list.reduce<ConversationState | undefined>((s, x) => (x ? mergeConversationState(s, x) : s), undefined),
    );
    for (const r of results) expect(r).toEqual(results[0]);
    const merged = results[0] as ConversationState;
    expect(mergeConversationState(merged, parts[0] as ConversationState)).toEqual(merged);
    // The same as folding both session-tags records into one tags state.
    const folded = applySessionTags(older, mergeSessionTags(undefined, late), ptr('9'));
    expect(merged.tags).toEqual(folded);
    expect(merged.tags?.captures[P1]?.live).toEqual(ptr('3'));
    expect(merged.exports).toEqual(exports);
    expect(mergeTagsState(null, older)).toBe(older);
  });

  it('keeps the highest announced version and the inputs it was built from', () => {
    const rec = exports.recordings[REC];
    if (rec === undefined) throw new Error('fixture');
    const announced = (v: number, inputs: string | null): ExportsState => ({
      ...exports,
      recordings: {
        [REC]: { ...rec, announced: { manifestVersion: v, manifestSha256: 'a'.repeat(64), inputs } },
      },
    });
    const merged = mergeExportsState(announced(2, 'b'.repeat(64)), announced(1, 'c'.repeat(64)));
    expect(merged.recordings[REC]?.announced).toEqual({
      manifestVersion: 2,
      manifestSha256: 'a'.repeat(64),
      inputs: 'b'.repeat(64),
    });
    expect(
      mergeExportsState(announced(2, null), announced(2, 'b'.repeat(64))).recordings[REC]?.announced?.inputs,
    ).toBe('b'.repeat(64));
  });

  it('read back from the changelog, gives the same canonical bytes and inputs as the state it was written from', () => {
    // parseConversationState keeps the tags' text cut from the stored JSON; a cut one character off, or a text
    // kept for the wrong object, would change these bytes.
    const holds = { format: HOLDS_FORMAT, matters: {} };
    for (const s of [state(older, exports), state(older, null), { ...state(older, exports), holds }]) {
      const read = parseConversationState(CONV, encodeConversationState(s as ConversationState));
      if ('detail' in read) throw new Error(read.detail);
      expect(stateBytes(read).toString('utf8')).toBe(canonicalize(s));
      const merged = mergeConversationState(read, state(null, exports));
      expect(stateBytes(merged).toString('utf8')).toBe(canonicalize(merged));
      expect(partsBytes({ tags: read.tags, version: 'v' }).toString('utf8')).toBe(
        canonicalize({ tags: s.tags, version: 'v' }),
      );
    }
  });

  it('round-trips through the changelog bytes and rejects records it must not trust', () => {
    const s = state(older, exports);
    expect(parseConversationState(CONV, stateBytes(s))).toEqual(s);
    const other = '7c1d1a8e-5a0e-4b7e-9d55-1f0b8c6f2a99';
    expect(parseConversationState(other, stateBytes(s))).toEqual({
      detail: 'sink state names another conversation than its key',
    });
    const tampered = JSON.parse(stateBytes(s).toString('utf8')) as Record<string, unknown>;
    tampered['format'] = 'custody.sink.state/v0';
    expect(parseConversationState(CONV, Buffer.from(JSON.stringify(tampered)))).toHaveProperty('detail');
    expect(parseConversationState(CONV, Buffer.from('{'))).toHaveProperty('detail');
    // The compressed form custody writes: about a tenth of the JSON here, and read back the same.
    const encoded = encodeConversationState(s);
    expect(encoded.byteLength).toBeLessThan(stateBytes(s).byteLength / 2);
    expect(parseConversationState(CONV, encoded)).toEqual(s);
    // A compression bomb (17 MiB of zeros deflated to a few KiB) is refused, not inflated.
    const bomb = Buffer.concat([Buffer.of(1), deflateRawSync(Buffer.alloc(17 * 1024 * 1024))]);
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    expect(parseConversationState(CONV, bomb)).toEqual({
      detail: 'sink state is neither JSON nor deflated JSON within 16 MiB',
    });
    expect(parseConversationState(CONV, Buffer.of(2, 3, 4))).toHaveProperty('detail');
    expect(() => mergeConversationState(s, { ...s, conversationId: other })).toThrow(RangeError);
  });
});
