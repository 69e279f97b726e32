import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { CUSTODY_EVENTS, CUSTODY_EVENT_RULES } from '../../src/enrich/custody-entry.ts';
import { buildCustodyTimeline } from '../../src/enrich/custody.ts';
import type { CustodyActor, CustodyEntry, CustodyEvidence } from '../../src/enrich/custody-entry.ts';
import { parseExportMetadata } from '../../src/enrich/export-metadata.ts';
import { sealManifest, serializeSealedManifest } from '../../src/enrich/integrity.ts';
import type { SealedManifest } from '../../src/enrich/integrity.ts';
import { buildManifest } from '../../src/enrich/manifest.ts';
import type {
  CapturedTag,
  LegalHoldInput,
  ManifestInput,
  ManifestLegInput,
  MetadataInput,
} from '../../src/enrich/manifest.ts';
import { verifyManifest } from '../../src/enrich/verify.ts';
import { compileManifestJsonSchema } from '../fixtures/manifest/json-schema.ts';
import {
  AGENT,
  BUCKET,
  CONV,
  METADATA_BYTES,
  ORG,
  REC,
  custodyActor,
  testSigner,
} from '../fixtures/manifest/sample.ts';

const signer = testSigner();
const validateJsonSchema = compileManifestJsonSchema();
const OTHER_USER = '0b0b0b0b-1111-4222-8333-444444444444';
const BASE_METADATA = JSON.parse(METADATA_BYTES.toString('utf8')) as Record<string, unknown>;

// Small domains on purpose: equal times, users and ids are where ordering and selection bugs live.
// Four instants around the fixture recording (09:15:02–09:21:44): before, inside (twice) and after.
const instant = fc.constantFrom(
  '2024-03-07T09:10:00.000Z',
  '2024-03-07T09:15:00.000Z',
  '2024-03-07T09:20:00.000Z',
  '2024-03-07T09:25:00.000Z',
);
const text = fc.string({ unit: 'grapheme', maxLength: 8 });
const id = fc.constantFrom('p-1', 'p-2');
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

function tagOf<T extends string | boolean>(value: fc.Arbitrary<T>): fc.Arbitrary<CapturedTag<T>> {
  return fc.record({
    value,
    firstCapturedAt: instant,
    provenance: fc.constantFrom('live' as const, 'reconciled' as const),
    source: fc.constantFrom('v2.users.{id}.conversations.calls', '/api/v2/users/{id}/station'),
  });
}

const legArb: fc.Arbitrary<ManifestLegInput> = fc.record(
  {
    participantId: tagOf(id),
    communicationId: tagOf(id),
    userId: tagOf(fc.constantFrom(AGENT, OTHER_USER)),
    purpose: tagOf(fc.constantFrom('agent', 'customer', 'acd')),
    direction: tagOf(fc.constantFrom('inbound', 'outbound')),
    stationId: tagOf(text),
    stationType: tagOf(fc.constantFrom('inin_webrtc_softphone', 'inin_remote')),
    isWebRtc: tagOf(fc.boolean()),
    peerId: tagOf(text),
    provider: tagOf(text),
    selfAddress: tagOf(text),
    otherAddress: tagOf(text),
    publicIpAddress: tagOf(fc.ipV4()),
    connectedTime: tagOf(instant),
    disconnectedTime: tagOf(instant),
    persistentConnectionState: tagOf(text),
    recording: tagOf(fc.boolean()),
  },
  { requiredKeys: [] },
);

function actorArb(kind: CustodyActor['kind']): fc.Arbitrary<CustodyActor> {
  switch (kind) {
    case 'custody':
      return fc.constantFrom(custodyActor, { ...custodyActor, component: 'ingest' });
    case 'genesys':
      return fc.record(
        { kind: fc.constant('genesys' as const), user_id: fc.constantFrom(AGENT) },
        { requiredKeys: ['kind'] },
      );
    case 's3':
      return fc.constant({ kind: 's3' as const });
  }
}

const evidenceArb: fc.Arbitrary<CustodyEvidence | null> = fc.oneof(
  fc.constant(null),
  fc.record({
    kafka: fc.record({
      topic: fc.constant('genesys.notifications.v1'),
      partition: fc.nat(5),
      offset: fc.nat(20).map(String),
    }),
  }),
  fc.record({
    s3: fc.record({
      bucket: fc.constant(BUCKET),
      key: fc.constantFrom('a.opus', 'a.opus_metadata.json'),
      version_id: fc.option(fc.constantFrom('v1', 'v2'), { nil: null }),
    }),
  }),
  fc.record({
    api: fc.record({
      method: fc.constantFrom('GET' as const, 'PUT' as const),
      path: fc.constantFrom('/api/v2/recording/jobs/j1'),
    }),
  }),
);

const entryArb: fc.Arbitrary<CustodyEntry> = fc.constantFrom(...CUSTODY_EVENTS).chain((event) => {
  const rule = CUSTODY_EVENT_RULES[event];
  return fc.record(
    {
      event: fc.constant(event),
      at: instant,
      time_source: fc.constantFrom(...rule.timeSources),
      actor: fc.constantFrom(...rule.actors).chain(actorArb),
      evidence: evidenceArb,
      detail: fc.record(
        {
          participant_id: id,
          sha256: hex64,
          size: fc.nat(),
          fields: fc.array(
            text.filter((s) => s.length > 0),
            { maxLength: 2 },
          ),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['event', 'at', 'time_source', 'actor', 'evidence'] },
  );
});

const metadataArb: fc.Arbitrary<{ kind: 'valid' | 'invalid' | 'missing'; bytes: Buffer }> = fc
  .record({
    kind: fc.constantFrom('valid' as const, 'invalid' as const, 'missing' as const),
    userIds: fc.subarray([AGENT, OTHER_USER]),
    extra: fc.jsonValue({ maxDepth: 2 }),
  })
  .map(({ kind, userIds, extra }) => {
    const body =
      kind === 'invalid' ? { mediaType: 'Call' } : { ...BASE_METADATA, userIds, futureField: extra };
    return { kind, bytes: Buffer.from(JSON.stringify(body), 'utf8') };
  });

const holdArb: fc.Arbitrary<LegalHoldInput> = fc.oneof(
  fc.constant({ status: 'none' as const, source: 'no hold recorded' }),
  fc.record({
    status: fc.constant('on' as const),
    matter: fc.constantFrom('M-1', 'M-2'),
    applied_at: instant,
    source: fc.constant('custody.legal-holds.v1'),
  }),
);

type Facts = Readonly<{
  legs: ManifestLegInput[];
  entries: CustodyEntry[];
  metadata: { kind: 'valid' | 'invalid' | 'missing'; bytes: Buffer };
  audioSha256: string | null;
  hold: LegalHoldInput;
  chain: [number, string] | null;
}>;

const factsArb: fc.Arbitrary<Facts> = fc.record({
  legs: fc.array(legArb, { maxLength: 4 }),
  entries: fc.array(entryArb, { maxLength: 10 }),
  metadata: metadataArb,
  audioSha256: fc.option(hex64, { nil: null }),
  hold: holdArb,
  chain: fc.option(fc.tuple(fc.integer({ min: 2, max: 9 }), hex64), { nil: null }),
});

const s3 = (key: string) => ({
  bucket: BUCKET,
  key,
  version_id: 'v1',
  etag: '"e"',
  last_modified: '2024-03-07T11:00:00.000Z',
});

function metadataInput(m: Facts['metadata']): MetadataInput {
  if (m.kind === 'missing') return { status: 'missing' };
  const parsed = parseExportMetadata(m.bytes, { conversationId: CONV, recordingId: REC });
  return parsed.ok
    ? { status: 'valid', metadata: parsed.value, s3: s3('m.json') }
    : { status: 'invalid', failure: parsed.error, s3: s3('m.json') };
}

function inputOf(facts: Facts): ManifestInput {
  const timeline = buildCustodyTimeline(facts.entries);
  if (!timeline.ok) throw new Error(`generated entry invalid: ${timeline.error.detail}`);
  return {
    exportKey: { orgId: ORG, conversationId: CONV, recordingId: REC },
    metadata: metadataInput(facts.metadata),
    audio: facts.audioSha256 === null ? null : { sha256: facts.audioSha256, size: 10, s3: s3('a.opus') },
    legs: facts.legs,
    legalHold: facts.hold,
    custody: timeline.value,
    manifestVersion: facts.chain?.[0] ?? 1,
    previousManifestSha256: facts.chain?.[1] ?? null,
    generatedBy: custodyActor,
  };
}

function seal(facts: Facts): SealedManifest {
  const built = buildManifest(inputOf(facts));
  if (!built.ok) throw new Error(built.error.issues.join('\n'));
  return sealManifest(built.value, signer);
}

const fileOf = (facts: Facts): Buffer => serializeSealedManifest(seal(facts));

/** A deterministic shuffle from a seed, so fast-check can shrink and replay it. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('manifest properties', () => {
  test.prop([factsArb, fc.integer(), fc.nat(3)])(
    'any permutation of the same facts (with replayed duplicate entries) gives a byte-identical sealed manifest',
    (facts, seed, duplicates) => {
      const permuted: Facts = {
        ...facts,
        legs: shuffled(facts.legs, seed),
        entries: shuffled([...facts.entries, ...facts.entries.slice(0, duplicates)], seed ^ 0x5bd1e995),
      };
      expect(fileOf(permuted).equals(fileOf(facts))).toBe(true);
    },
  );

  test.prop([factsArb, hex64])('a different audio hash gives a different manifest_sha256', (facts, other) => {
    fc.pre(facts.audioSha256 !== null && facts.audioSha256 !== other);
    const changed = seal({ ...facts, audioSha256: other });
    expect(changed.integrity.manifest_sha256).not.toBe(seal(facts).integrity.manifest_sha256);
  });

  test.prop([factsArb])(
    'different metadata bytes (even only whitespace) give a different manifest_sha256',
    (facts) => {
      fc.pre(facts.metadata.kind !== 'missing');
      const padded = {
        ...facts,
        metadata: { ...facts.metadata, bytes: Buffer.concat([facts.metadata.bytes, Buffer.from(' ')]) },
      };
      expect(seal(padded).integrity.manifest_sha256).not.toBe(seal(facts).integrity.manifest_sha256);
    },
  );

  const tagKeys = [
    'participantId',
    'userId',
    'stationId',
    'isWebRtc',
    'peerId',
    'publicIpAddress',
    'connectedTime',
    'recording',
  ] as const;
  test.prop([factsArb, fc.nat(), fc.constantFrom(...tagKeys)])(
    'a changed tag value on any leg gives a different manifest_sha256',
    (facts, which, key) => {
      fc.pre(facts.legs.length > 0);
      const index = which % facts.legs.length;
      const leg = facts.legs[index]!;
      const current = leg[key];
      const value =
        key === 'isWebRtc' || key === 'recording'
          ? !(current?.value ?? false)
          : `${String(current?.value ?? '')}~`;
      const tag = {
        value,
        firstCapturedAt: '2024-03-07T09:00:00.000Z',
        provenance: 'live' as const,
        source: 's',
      };
      const legs = facts.legs.map((l, i) =>
        i === index ? { ...l, [key]: current === undefined ? tag : { ...current, value } } : l,
      );
      expect(seal({ ...facts, legs }).integrity.manifest_sha256).not.toBe(
        seal(facts).integrity.manifest_sha256,
      );
    },
  );

  test.prop([factsArb])('a sealed manifest verifies (sign/verify round trip)', (facts) => {
    const report = verifyManifest(fileOf(facts), signer.keys);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
  });

  test.prop([factsArb, fc.nat(), fc.integer({ min: 1, max: 255 })])(
    'changing any byte of the file fails verification',
    (facts, position, xor) => {
      const file = Buffer.from(fileOf(facts));
      const at = position % file.length;
      file[at] = file[at]! ^ xor;
      expect(verifyManifest(file, signer.keys).ok).toBe(false);
    },
  );

  test.prop([factsArb])('every manifest validates against schemas/manifest.v1.schema.json', (facts) => {
    const parsed: unknown = JSON.parse(fileOf(facts).toString('utf8'));
    expect(validateJsonSchema(parsed), JSON.stringify(validateJsonSchema.errors)).toBe(true);
  });

  test.prop([fc.string({ unit: 'binary', maxLength: 6 }), factsArb])(
    'any string in a tag is either sealed or rejected as input, never thrown at sealing',
    (value, facts) => {
      const leg: ManifestLegInput = {
        userId: {
          value: AGENT,
          firstCapturedAt: '2024-03-07T09:00:00.000Z',
          provenance: 'live',
          source: 's',
        },
        peerId: { value, firstCapturedAt: '2024-03-07T09:00:00.000Z', provenance: 'live', source: 's' },
      };
      const built = buildManifest(inputOf({ ...facts, legs: [leg] }));
      if (built.ok)
        expect(
          verifyManifest(serializeSealedManifest(sealManifest(built.value, signer)), signer.keys).ok,
        ).toBe(true);
      else expect(built.error.reason).toBe('invalid-input');
    },
  );
});
