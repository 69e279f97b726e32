import { describe, expect, it } from 'vitest';
import { buildCustodyTimeline } from '../../../src/enrich/custody.ts';
import {
  holdsStateOf,
  isHeld,
  legalHoldCustodyEntries,
  legalHoldInputOf,
  legalHoldsStateSchema,
  matterHolds,
  mergeLegalHolds,
  otherHoldingMatters,
} from '../../../src/enrich/legal-holds.ts';
import type { HoldEvent, LegalHoldsState } from '../../../src/enrich/legal-holds.ts';
import { compileManifestJsonSchema } from '../../fixtures/manifest/json-schema.ts';
import { sealManifest } from '../../../src/enrich/integrity.ts';
import { sealedManifestSchema } from '../../../src/enrich/manifest-schema.ts';
import { sampleEntries, sampleManifest, testSigner } from '../../fixtures/manifest/sample.ts';
import { conversationPartition, legalHoldKey } from '../../../src/kafka/partitioning.ts';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
let n = 0;
function ev(action: 'hold' | 'release', minutes: number, over: Partial<HoldEvent> = {}): HoldEvent {
  n++;
  return {
    action,
    requestedAtMs: T0 + minutes * 60_000,
    requestId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    requestedBy: 'alice',
    reason: null,
    instance: 'host-1',
    version: '0.1.0',
    source: { topic: 'custody.legal-holds.v1', partition: 2, offset: String(n) },
    ...over,
  };
}
const st = (matter: string, e: HoldEvent): LegalHoldsState => holdsStateOf(matter, e);
const fold = (parts: LegalHoldsState[]) =>
  parts.reduce<LegalHoldsState | null>((a, b) => mergeLegalHolds(a, b), null);

describe('mergeLegalHolds', () => {
  const parts = [
    st('M-1', ev('hold', 0, { reason: 'litigation' })),
    st('M-2', ev('hold', 5)),
    st('M-1', ev('release', 10, { requestedBy: 'bob' })),
    st('M-2', ev('release', 20)),
  ];

  it('is commutative, associative and idempotent (any order, any duplicates, same state)', () => {
    const forward = fold(parts);
    const backward = fold([...parts].reverse());
    const shuffled = fold([parts[2], parts[0], parts[3], parts[1], parts[2], parts[0]] as LegalHoldsState[]);
    expect(backward).toEqual(forward);
    expect(shuffled).toEqual(forward);
    expect(mergeLegalHolds(forward, forward)).toEqual(forward);
    expect(legalHoldsStateSchema.safeParse(forward).success).toBe(true);
  });

  it('keeps one copy of a request read twice (the lowest Kafka offset), whatever the order', () => {
    const e = ev('hold', 0);
    const again = { ...e, source: { topic: 'custody.legal-holds.v1', partition: 2, offset: '99' } };
    const a = mergeLegalHolds(st('M-1', e), st('M-1', again));
    const b = mergeLegalHolds(st('M-1', again), st('M-1', e));
    expect(a).toEqual(b);
    expect(a?.matters['M-1']).toEqual([e]);
  });

  it('orders events by requested time, then request id (ties are deterministic)', () => {
    const x = ev('hold', 3, { requestId: '00000000-0000-4000-8000-00000000000b' });
    const y = ev('release', 3, { requestId: '00000000-0000-4000-8000-00000000000a' });
    // Same time: the larger request id is the later event, so M-1 holds.
    expect(matterHolds(fold([st('M-1', x), st('M-1', y)]))[0]?.status).toBe('on');
    expect(matterHolds(fold([st('M-1', y), st('M-1', x)]))[0]?.status).toBe('on');
  });
});

describe('legal-hold status', () => {
  it('is on while any matter holds, released only after the last release', () => {
    const h1 = st('M-1', ev('hold', 0, { reason: 'litigation' }));
    const h2 = st('M-2', ev('hold', 5, { requestedBy: 'carol' }));
    const r1 = st('M-1', ev('release', 10, { requestedBy: 'bob' }));
    const r2 = st('M-2', ev('release', 20));

    const both = fold([h1, h2]);
    expect(isHeld(both)).toBe(true);
    expect(otherHoldingMatters(both, 'M-1')).toEqual(['M-2']);
    expect(legalHoldInputOf(both, 'src', true)).toMatchObject({
      status: 'on',
      matter: 'M-1', // held longest
      applied_at: '2026-03-01T10:00:00.000Z',
      enforced: true,
    });

    const one = fold([h1, h2, r1]);
    const status = legalHoldInputOf(one, 'src', true);
    expect(status).toMatchObject({ status: 'on', matter: 'M-2', applied_at: '2026-03-01T10:05:00.000Z' });
    expect(status.status === 'on' ? status.matters : undefined).toEqual([
      {
        matter: 'M-1',
        status: 'released',
        applied_at: '2026-03-01T10:00:00.000Z',
        applied_by: 'alice',
        released_at: '2026-03-01T10:10:00.000Z',
        released_by: 'bob',
        reason: 'litigation',
      },
      {
        matter: 'M-2',
        status: 'on',
        applied_at: '2026-03-01T10:05:00.000Z',
        applied_by: 'carol',
        released_at: null,
        released_by: null,
        reason: null,
      },
    ]);

    const none = fold([h1, h2, r1, r2]);
    expect(isHeld(none)).toBe(false);
    expect(legalHoldInputOf(none, 'src', true)).toMatchObject({
      status: 'released',
      matter: 'M-2', // released last
      applied_at: '2026-03-01T10:05:00.000Z',
      released_at: '2026-03-01T10:20:00.000Z',
    });
  });

  it('is none without events, and a release with no hold before it holds nothing', () => {
    expect(legalHoldInputOf(null, 'src', true)).toEqual({ status: 'none', source: 'src' });
    const orphan = st('M-9', ev('release', 0));
    expect(matterHolds(orphan)).toEqual([]);
    expect(legalHoldInputOf(orphan, 'src', true).status).toBe('none');
  });

  it('holds again after a release, from the new hold', () => {
    const s = fold([
      st('M-1', ev('hold', 0)),
      st('M-1', ev('release', 10)),
      st('M-1', ev('hold', 30, { reason: 'reopened' })),
    ]);
    expect(legalHoldInputOf(s, 'src', false)).toMatchObject({
      status: 'on',
      applied_at: '2026-03-01T10:30:00.000Z',
      enforced: false,
    });
  });

  it('gives a chain of custody entry per event that the timeline and the manifest schemas accept', () => {
    const s = fold([
      st('M-1', ev('hold', 0, { reason: 'litigation' })),
      st('M-2', ev('hold', 5)),
      st('M-1', ev('release', 10, { requestedBy: 'bob' })),
    ]);
    const entries = legalHoldCustodyEntries(s);
    expect(entries.map((e) => [e.event, e.detail?.matter])).toEqual([
      ['legal_hold_applied', 'M-1'],
      ['legal_hold_released', 'M-1'],
      ['legal_hold_applied', 'M-2'],
    ]);
    expect(entries[0]).toMatchObject({
      time_source: 'custody-process',
      actor: { kind: 'custody', component: 'custody-hold', instance: 'host-1', version: '0.1.0' },
      evidence: { kafka: { topic: 'custody.legal-holds.v1', partition: 2 } },
      detail: { matter: 'M-1', requested_by: 'alice', reason: 'litigation' },
    });
    const timeline = buildCustodyTimeline([...sampleEntries(), ...entries]);
    expect(timeline.ok).toBe(true);
    if (!timeline.ok) return;
    const m = sampleManifest({
      custody: timeline.value,
      legalHold: legalHoldInputOf(s, 'custody.legal-holds.v1', true),
    });
    expect(m.legal_hold_status.status).toBe('on');
    expect(m.legal_hold_status.matters).toHaveLength(2);
    const sealed = JSON.parse(JSON.stringify(sealManifest(m, testSigner()))) as unknown;
    const validate = compileManifestJsonSchema();
    expect(validate(sealed), JSON.stringify(validate.errors)).toBe(true);
    expect(sealedManifestSchema.safeParse(sealed).success).toBe(true);
  });
});

describe('co-partitioning of hold records', () => {
  it('sends each hold to the partition its conversation id hashes to (Java murmur2), whatever its key', () => {
    // Kafka's Java DefaultPartitioner, toPositive(murmur2(key)) % n, with murmur2 values from Kafka's UtilsTest
    // ("abc" 479470107, "21" -973932308, "foobar" -790332482).
    expect(conversationPartition('abc', 6)).toBe(479470107 % 6);
    expect(conversationPartition('21', 6)).toBe((-973932308 & 0x7fffffff) % 6);
    expect(conversationPartition('foobar', 1000)).toBe((-790332482 & 0x7fffffff) % 1000);
    const cid = '2b5f3c1e-8d4a-4f6b-9c2e-1a3b5c7d9e0f';
    const p = conversationPartition(cid, 6);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThan(6);
    expect(conversationPartition(cid, 6)).toBe(p);
    expect(legalHoldKey(cid, 'M-1')).toBe(`${cid}/M-1`);
    // The key itself would usually hash elsewhere: that is why the partition is explicit.
    const spread = new Set(
      ['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((m) => conversationPartition(legalHoldKey(cid, m), 6)),
    );
    expect(spread.size).toBeGreaterThan(1);
  });
});
