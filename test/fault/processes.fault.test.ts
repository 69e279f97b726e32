/**
 * Roles killed, restarted and racing: `custody sink` SIGKILLed 20 times at random moments, two sinks in one group
 * killed in turn, `custody ingest` SIGKILLed and restarted (its downtime recorded as a gap and repaired).
 */
import { describe, expect, inject, it } from 'vitest';
import { expectSound, logsMatching, runScenario } from './scenario.ts';

describe('fault suite: processes killed and racing', () => {
  it('custody sink SIGKILLed 20 times at random moments: no manifest lost, no fork', async () => {
    let kills = 0;
    const r = await runScenario({
      name: 'sink-kill-20',
      injected: 'custody sink SIGKILLed 20 times, every 0.4–1.6 s (restarted 0.3 s later)',
      infra: inject('infra'),
      trafficMs: 32_000,
      restartDelayMs: 300,
      fault: async ({ roles, sleep }) => {
        await sleep(3_000);
        for (let i = 0; i < 20; i++) {
          await sleep(400 + Math.random() * 1_200);
          roles.sink.kill('SIGKILL');
          kills++;
        }
      },
    });
    expect(kills).toBe(20);
    expectSound(r);
    expect(r.exits['sink']?.length).toBeGreaterThanOrEqual(20);
    expect(r.exits['sink']?.every((c) => c === 'SIGKILL')).toBe(true);
  });

  it('two sinks in one group, killed in turn: every export has exactly one unforked chain', async () => {
    const r = await runScenario({
      name: 'two-sinks',
      injected: 'a second sink in the group; each SIGKILLed 4 times in turn',
      infra: inject('infra'),
      trafficMs: 30_000,
      restartDelayMs: 500,
      fault: async ({ deployment, roles, sleep }) => {
        const second = await deployment.start('sink', { instance: 'second-sink' });
        for (let i = 0; i < 8; i++) {
          await sleep(2_000 + Math.random() * 1_000);
          (i % 2 === 0 ? roles.sink : second).kill('SIGKILL');
        }
      },
    });
    expectSound(r);
  });

  it('custody ingest SIGKILLed and restarted 8 s later: the downtime is a gap, repaired through the REST API', async () => {
    const r = await runScenario({
      name: 'ingest-kill',
      injected: 'custody ingest SIGKILLed, restarted after 8 s',
      infra: inject('infra'),
      trafficMs: 35_000,
      restartDelayMs: 8_000,
      fault: async ({ roles, sleep, deployment }) => {
        await sleep(10_000);
        roles.ingest.kill('SIGKILL');
        await sleep(12_000);
        expect(roles.ingest.processes().length).toBe(2);
        expect(logsMatching(deployment, /^restart gap/).length).toBeGreaterThan(0);
      },
    });
    expectSound(r);
    expect(r.exits['ingest']).toEqual(['SIGKILL']);
  });
});
