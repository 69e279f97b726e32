/** The deployment with no fault: the yardstick the other scenarios are read against. */
import { describe, expect, inject, it } from 'vitest';
import { runScenario } from './scenario.ts';

describe('fault suite: baseline', () => {
  it('three roles as processes beside the emulator: every export gets one verified manifest chain', async () => {
    const r = await runScenario({
      name: 'baseline',
      injected: 'nothing',
      infra: inject('infra'),
      trafficMs: 20_000,
    });
    expect(r.audit.expected).toBeGreaterThan(5);
    expect(r.audit.lost).toEqual([]);
    expect(r.audit.failures).toEqual([]);
    expect(r.audit.forks).toBe(0);
    expect(r.audit.complete).toBeGreaterThan(0);
    expect(r.audit.deadLetters.withoutReason).toBe(0);
    expect(r.exits).toEqual({ ingest: [], 'exports watch': [], sink: [] });
  });
});
