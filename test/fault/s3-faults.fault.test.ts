/** S3 answering 503 SlowDown and 500s, resetting connections and slow, for the exports watch and the sink. */
import { describe, expect, inject, it } from 'vitest';
import { startS3FaultProxy } from '../support/s3-fault-proxy.ts';
import { expectSound, NO_EXITS, runScenario } from './scenario.ts';

describe('fault suite: S3 misbehaving', () => {
  it('25% SlowDown, 5% InternalError-style resets and 20–150 ms latency: nothing lost, no role dies', async () => {
    const infra = inject('infra');
    const proxy = await startS3FaultProxy(infra.S3_ENDPOINT);
    try {
      const r = await runScenario({
        name: 's3-faults',
        injected: 'through a proxy: 25% 503 SlowDown, 5% connection resets, 20–150 ms added latency',
        infra,
        trafficMs: 30_000,
        // The emulator writes straight to S3; custody's roles talk to S3 through the proxy.
        roleEnv: { watch: { S3_ENDPOINT: proxy.endpoint }, sink: { S3_ENDPOINT: proxy.endpoint } },
        fault: async ({ sleep }) => {
          await sleep(3_000);
          proxy.setFaults({ errorRate: 0.25, error: 'SlowDown', resetRate: 0.05, latencyMs: [20, 150] });
          await sleep(22_000);
          proxy.clearFaults();
        },
      });
      const s = proxy.stats();
      expect(s.errors).toBeGreaterThan(20);
      expect(s.resets).toBeGreaterThan(0);
      expectSound(r);
      expect(r.exits).toEqual(NO_EXITS);
    } finally {
      await proxy.close();
    }
  });
});
