/** The deployment with no fault: the yardstick the other scenarios are read against. */
import { describe, expect, inject, it } from 'vitest';
import { expectSound, NO_EXITS, runScenario } from './scenario.ts';

describe('fault suite: baseline', () => {
  it('three roles as processes beside the emulator: every export gets one verified manifest chain', async () => {
    const r = await runScenario({
      name: 'baseline',
      injected: 'nothing',
      infra: inject('infra'),
      trafficMs: 20_000,
    });
    expectSound(r);
    expect(r.audit.complete).toBeGreaterThan(0);
    // The manifests name the ingest process that captured the tags (from the session-tags record headers).
    // Each capture cited by its Kafka record names the ingest process that wrote the record.
    const captured = r.manifests.flatMap((m) =>
      m.chain_of_custody.filter(
        (e) => e.event === 'session_tags_captured' && e.evidence !== null && 'kafka' in e.evidence,
      ),
    );
    expect(captured.length).toBeGreaterThan(0);
    expect(new Set(captured.map((e) => ('instance' in e.actor ? e.actor.instance : 'none')))).toEqual(
      new Set([`baseline-${process.pid}-ingest`]),
    );
    expect(r.exits).toEqual(NO_EXITS);
  });
});
