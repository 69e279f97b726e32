/** Genesys Cloud unreachable at start, answering 5xx and 429, dropping and closing sockets, evicting channels. */
import { describe, expect, inject, it } from 'vitest';
import { waitUntil } from '../support/deployment.ts';
import { expectSound, logsMatching, NO_EXITS, runScenario } from './scenario.ts';

describe('fault suite: Genesys Cloud misbehaving', () => {
  it('unreachable for 30 s at start: ingest waits, not ready, then captures', async () => {
    const r = await runScenario({
      name: 'genesys-late',
      injected: 'Genesys (the emulator) not running for the first 30 s',
      infra: inject('infra'),
      emulatorDelayMs: 30_000,
      trafficMs: 25_000,
    });
    // While Genesys was away ingest waited: one line when it started waiting, one when Genesys came back.
    const waits = r.logs.ingest.filter((l) => /waiting \(retrying with backoff\)/.test(String(l['msg'])));
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits.length).toBeLessThanOrEqual(4);
    expectSound(r);
    expect(r.audit.complete).toBeGreaterThan(0);
    expect(r.exits).toEqual(NO_EXITS);
  });

  it('5xx and 429 from the Platform API, dropped sockets, socket_closing and an evicted channel', async () => {
    const r = await runScenario({
      name: 'genesys-faults',
      injected: '503 and 429 on the Platform API; sockets dropped, socket_closing, a channel evicted',
      infra: inject('infra'),
      trafficMs: 35_000,
      fault: async ({ emulator, sleep, deployment }) => {
        const emu = emulator();
        if (!emu) throw new Error('no emulator');
        const channels = async () =>
          (await emu.control<{ entities: Array<{ id: string; connected: boolean }> }>('GET', '/channels'))
            .entities;
        // Channels without a socket at that moment (reconnecting) answer 404; the connected ones get the fault.
        const each = async (action: string) => {
          await waitUntil(
            'a connected channel',
            async () => ((await channels()).some((c) => c.connected) ? true : undefined),
            20_000,
          );
          let hit = 0;
          for (const c of (await channels()).filter((x) => x.connected))
            hit += await emu.control('POST', `/channels/${c.id}/${action}`).then(
              () => 1,
              () => 0,
            );
          return hit;
        };
        await sleep(4_000);
        expect(await each('drop-socket')).toBeGreaterThan(0);
        await sleep(3_000);
        expect(await each('socket-closing')).toBeGreaterThan(0);
        await sleep(3_000);
        expect(await each('evict')).toBeGreaterThan(0);
        await sleep(3_000);
        await emu.control('POST', '/faults', { pathPrefix: '/api/v2/', status: 503, count: 20 });
        await emu.control('POST', '/faults', {
          pathPrefix: '/api/v2/',
          status: 429,
          count: 10,
          retryAfterSeconds: 1,
        });
        await sleep(3_000);
        expect(await each('drop-socket')).toBeGreaterThan(0);
        await sleep(3_000);
        expect(logsMatching(deployment, /gap/).length).toBeGreaterThan(0);
      },
    });
    expectSound(r);
    expect(r.exits).toEqual(NO_EXITS);
  });
});
