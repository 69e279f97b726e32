/**
 * The servers custody depends on starting cold, dying and coming back: all roles started with a freshly formatted
 * broker and before the export bucket exists; the broker SIGKILLed and restarted mid-stream; the S3 server
 * SIGKILLed and restarted mid-stream.
 */
import { describe, expect, inject, it } from 'vitest';
import { restartKafka, restartS3, startInfra, stopInfra } from '../../infra/local.ts';
import { expectSound, NO_EXITS, runScenario } from './scenario.ts';
import type { ScenarioResult } from './scenario.ts';

const stateName = () => {
  const name = inject('infra').stateName;
  if (!name) throw new Error('the fault suite needs its local servers (test/fault/global-setup.ts)');
  return name;
};

describe('fault suite: Kafka and S3 failing', () => {
  it('all roles started with a freshly formatted broker and before the export bucket exists', async () => {
    const name = `fault-cold-${process.pid}`;
    let scenario: Promise<ScenarioResult> | undefined;
    try {
      await startInfra({
        name,
        log: () => undefined,
        // The moment both servers are spawned, before either is ready: as a compose file starts everything at once.
        onSpawned: (infra) => {
          scenario = runScenario({
            name: 'cold-start',
            injected:
              'broker formatted and started with the roles; export bucket created by the first export',
            infra,
            trafficMs: 30_000,
          });
          scenario.catch(() => undefined);
        },
      });
      const r = await (scenario as Promise<ScenarioResult>);
      expectSound(r);
      expect(r.exits).toEqual(NO_EXITS);
    } finally {
      await stopInfra({ name, removeState: true, log: () => undefined });
    }
  });

  it('the broker SIGKILLed mid-stream and back 5 s later: no role dies, nothing is lost', async () => {
    const r = await runScenario({
      name: 'broker-restart',
      injected: 'Kafka broker SIGKILLed, restarted after 5 s',
      infra: inject('infra'),
      trafficMs: 35_000,
      fault: async ({ sleep }) => {
        await sleep(8_000);
        await restartKafka({ name: stateName(), downMs: 5_000, log: () => undefined });
      },
    });
    expectSound(r);
    expect(r.exits).toEqual(NO_EXITS);
  });

  it('the S3 server SIGKILLed mid-stream and back 5 s later: no role dies, nothing is lost', async () => {
    const r = await runScenario({
      name: 's3-restart',
      injected: 'versitygw SIGKILLed, restarted after 5 s',
      infra: inject('infra'),
      trafficMs: 30_000,
      fault: async ({ sleep }) => {
        await sleep(8_000);
        await restartS3({ name: stateName(), downMs: 5_000, log: () => undefined });
      },
    });
    expectSound(r);
    expect(r.exits).toEqual(NO_EXITS);
  });
});
