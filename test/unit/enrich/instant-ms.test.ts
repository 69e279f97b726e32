import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { parseInstantMs } from '../../../src/enrich/instant-ms.ts';

describe('parseInstantMs', () => {
  it('gives what Date.parse gives, asked once or again, valid or not', () => {
    for (const s of [
      '2026-03-02T10:00:30.000Z',
      '2022-07-04T20:04:12+02:00',
      '2022-13-04T20:04:12Z',
      'x',
      '',
    ])
      for (let i = 0; i < 2; i++) expect(Object.is(parseInstantMs(s), Date.parse(s))).toBe(true);
  });

  it('stays right past its bound', () => {
    const base = Date.parse('2026-03-02T10:00:00.000Z');
    for (let i = 0; i < 45_000; i++) {
      const s = new Date(base + i * 1000).toISOString();
      expect(parseInstantMs(s)).toBe(base + i * 1000);
    }
  });

  test.prop([
    fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
    ),
  ])('on any string', (s) => {
    expect(Object.is(parseInstantMs(s), Date.parse(s))).toBe(true);
    expect(Object.is(parseInstantMs(s), Date.parse(s))).toBe(true);
  });
});
