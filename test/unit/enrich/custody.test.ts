import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../../src/enrich/canonical-json.ts';
import {
  CUSTODY_EVENTS,
  CUSTODY_EVENT_RULES,
  UTC_MILLIS,
  toCustodyInstant,
} from '../../../src/enrich/custody-entry.ts';
import { buildCustodyTimeline, verifyTimeline } from '../../../src/enrich/custody.ts';
import type { CustodyEntry } from '../../../src/enrich/custody-entry.ts';

const custody = { kind: 'custody', component: 'sink', version: '0.1.0', instance: 'sink-1' } as const;
const kafka = (offset: string) => ({ kafka: { topic: 'genesys.notifications.v1', partition: 2, offset } });
const s3 = { s3: { bucket: 'exports', key: 'o/r.opus', version_id: 'v1' } };

const started: CustodyEntry = {
  event: 'conversation_started',
  at: '2024-03-07T09:15:00.000Z',
  time_source: 'genesys',
  actor: { kind: 'genesys' },
  evidence: kafka('10'),
};
const captured: CustodyEntry = {
  event: 'session_tags_captured',
  at: '2024-03-07T09:15:00.400Z',
  time_source: 'custody-receive',
  actor: custody,
  evidence: kafka('11'),
  detail: { participant_id: 'p1', fields: ['stationId', 'isWebRtc'] },
};
const audioCreated: CustodyEntry = {
  event: 'audio_object_created',
  at: '2024-03-07T10:00:00.000Z',
  time_source: 's3-last-modified',
  actor: { kind: 's3' },
  evidence: s3,
};
const hashed: CustodyEntry = {
  event: 'audio_hashed',
  at: '2024-03-07T10:00:00.000Z',
  time_source: 'custody-process',
  actor: custody,
  evidence: s3,
  detail: { sha256: 'a'.repeat(64), size: 1234 },
};

function build(entries: readonly CustodyEntry[]) {
  const r = buildCustodyTimeline(entries);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

describe('buildCustodyTimeline', () => {
  it('orders by time, then lifecycle rank, regardless of input order', () => {
    const expected = [started, captured, audioCreated, hashed];
    expect(build([hashed, audioCreated, captured, started])).toEqual(expected);
    expect(build([captured, hashed, started, audioCreated])).toEqual(expected);
  });

  it('breaks ties of time and event by canonical JSON', () => {
    const a = { ...captured, evidence: kafka('12') };
    const b = { ...captured, evidence: kafka('13') };
    expect(build([b, a])).toEqual([a, b]);
    expect(build([a, b])).toEqual([a, b]);
  });

  it('keeps one of entries that are equal as JSON, whatever their member order', () => {
    const reordered: CustodyEntry = {
      detail: { fields: ['stationId', 'isWebRtc'], participant_id: 'p1' },
      evidence: kafka('11'),
      actor: { version: '0.1.0', kind: 'custody', instance: 'sink-1', component: 'sink' },
      time_source: 'custody-receive',
      at: captured.at,
      event: 'session_tags_captured',
    };
    expect(build([captured, reordered, captured])).toEqual([captured]);
  });

  it('keeps entries that differ only in time (both are evidence)', () => {
    expect(build([captured, { ...captured, at: '2024-03-07T09:15:01.000Z' }])).toHaveLength(2);
  });

  it('drops undefined optional members and empty details', () => {
    const t = build([{ ...started, actor: { kind: 'genesys', job_id: undefined }, detail: {} }]);
    expect(canonicalize(t)).toBe(canonicalize([started]));
  });

  it('rejects a clock an event may not use', () => {
    const r = buildCustodyTimeline([started, { ...started, time_source: 'custody-receive' }]);
    expect(r).toMatchObject({ ok: false, error: { reason: 'time-source-not-allowed', index: 1 } });
  });

  it('rejects an actor an event may not have', () => {
    const r = buildCustodyTimeline([{ ...audioCreated, actor: custody }]);
    expect(r).toMatchObject({ ok: false, error: { reason: 'actor-not-allowed', index: 0 } });
  });

  it.each([
    ['a time without milliseconds', { ...started, at: '2024-03-07T09:15:00Z' }],
    ['a time with an offset', { ...started, at: '2024-03-07T09:15:00.000+01:00' }],
    ['a bad sha256', { ...hashed, detail: { sha256: 'XYZ' } }],
    ['a negative partition', { ...started, evidence: { kafka: { topic: 't', partition: -1, offset: '1' } } }],
    ['a non-numeric offset', { ...started, evidence: { kafka: { topic: 't', partition: 0, offset: 'x' } } }],
    [
      'an API path with a query string',
      {
        ...started,
        actor: custody,
        event: 'export_job_created',
        evidence: { api: { method: 'GET', path: '/a?t=1' } },
      },
    ],
    ['an unknown detail key', { ...hashed, detail: { colour: 'red' } }],
    ['an unknown event', { ...started, event: 'coffee_made' }],
  ])('rejects %s as malformed', (_name, entry) => {
    const r = buildCustodyTimeline([entry as CustodyEntry]);
    expect(r).toMatchObject({ ok: false, error: { reason: 'malformed', index: 0 } });
  });

  it('has a rule for every event and no event without a clock', () => {
    for (const event of CUSTODY_EVENTS) {
      expect(CUSTODY_EVENT_RULES[event].timeSources.length).toBeGreaterThan(0);
      expect(CUSTODY_EVENT_RULES[event].actors.length).toBeGreaterThan(0);
    }
    // Genesys facts never take custody's clock; S3 creation only S3's.
    expect(CUSTODY_EVENT_RULES.conversation_started.timeSources).toEqual(['genesys']);
    expect(CUSTODY_EVENT_RULES.audio_object_created.timeSources).toEqual(['s3-last-modified']);
  });
});

describe('verifyTimeline', () => {
  it('accepts a built timeline and rejects swapped or duplicated entries', () => {
    const t = build([started, captured, audioCreated, hashed]);
    const roundTripped = JSON.parse(JSON.stringify(t)) as unknown[];
    expect(verifyTimeline(roundTripped).ok).toBe(true);
    const swapped = [roundTripped[1], roundTripped[0], roundTripped[2], roundTripped[3]];
    expect(verifyTimeline(swapped)).toMatchObject({ ok: false, error: { reason: 'out-of-order', index: 1 } });
    const sameTimeWrongRank = [roundTripped[0], roundTripped[1], roundTripped[3], roundTripped[2]];
    expect(verifyTimeline(sameTimeWrongRank)).toMatchObject({ ok: false, error: { index: 3 } });
    const duplicated = [roundTripped[0], roundTripped[0]];
    expect(verifyTimeline(duplicated)).toMatchObject({ ok: false, error: { reason: 'out-of-order' } });
    expect(verifyTimeline([{ ...started, time_source: 's3-last-modified' }]).ok).toBe(false);
    expect(verifyTimeline([]).ok).toBe(true);
  });
});

describe('toCustodyInstant', () => {
  it.each([
    ['2024-03-07T09:15:02.123Z', '2024-03-07T09:15:02.123Z'],
    ['2024-03-07T09:15:02Z', '2024-03-07T09:15:02.000Z'],
    ['2024-03-07T10:15:02.5+01:00', '2024-03-07T09:15:02.500Z'],
    ['2024-03-07T09:15:02.123456Z', '2024-03-07T09:15:02.123Z'],
  ])('converts %s to %s', (input, expected) => {
    expect(toCustodyInstant(input)).toBe(expected);
  });

  it('converts a Date and rejects non-timestamps', () => {
    expect(toCustodyInstant(new Date(Date.UTC(2024, 2, 7, 9, 15, 2, 7)))).toBe('2024-03-07T09:15:02.007Z');
    expect(toCustodyInstant('2024-03-07 09:15')).toBeUndefined();
    expect(toCustodyInstant('1709802902123')).toBeUndefined();
    expect(toCustodyInstant(new Date(Number.NaN))).toBeUndefined();
  });

  it('gives the timeline form for every instant of years 0-9999 and nothing outside them', () => {
    const first = Date.parse('0000-01-01T00:00:00.000Z');
    const last = Date.parse('9999-12-31T23:59:59.999Z');
    const edges = [first, first + 1, last - 1, last, 0, -1, Date.UTC(2026, 11, 6)];
    const spread = Array.from({ length: 2000 }, (_, i) => first + Math.floor(((last - first) * i) / 1999));
    for (const ms of [...edges, ...spread]) {
      const instant = toCustodyInstant(new Date(ms));
      expect(instant).toMatch(UTC_MILLIS);
      expect(Date.parse(instant as string)).toBe(ms);
    }
    for (const ms of [first - 1, last + 1, -8.64e15, 8.64e15]) {
      expect(toCustodyInstant(new Date(ms))).toBeUndefined();
      expect(toCustodyInstant(new Date(ms).toISOString())).toBeUndefined();
    }
  });
});
