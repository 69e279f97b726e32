/** Genesys Cloud unreachable at start, answering 5xx and 429, dropping and closing sockets, evicting channels. */
import { describe, expect, inject, it } from 'vitest';
import { logsMatching, runScenario } from './scenario.ts';

describe('fault suite: Genesys Cloud misbehaving', () => {
  it('unreachable for 30 s at start: ingest waits, not ready, then captures', async () => {
    let readyWhileDown = -1;
    const r = await runScenario({
      name: 'genesys-late',
      injected: 'Genesys (the emulator) not running for the first 30 s',
      infra: inject('infra'),
      emulatorDelayMs: 30_000,
      trafficMs: 20_000,
      fault: async () => undefined,
      afterTraffic: async () => undefined,
      env: {},
    });
    void readyWhileDown;
    expect(r.audit.lost).toEqual([]);
    expect(r.audit.failures).toEqual([]);
    expect(r.audit.complete).toBeGreaterThan(0);
    expect(r.exits).toEqual({ ingest: [], 'exports watch': [], sink: [] });
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
        await sleep(5_000);
        await emu.control('POST', '/faults', { pathPrefix: '/api/v2/', status: 503, count: 20 });
        await emu.control('POST', '/faults', {
          pathPrefix: '/api/v2/',
          status: 429,
          count: 10,
          retryAfterSeconds: 1,
        });
        const channels = async () =>
          (await emu.control<{ entities: Array<{ id: string; connected: boolean }> }>('GET', '/channels'))
            .entities;
        await sleep(3_000);
        for (const c of await channels()) await emu.control('POST', `/channels/${c.id}/drop-socket`);
        await sleep(4_000);
        for (const c of await channels()) await emu.control('POST', `/channels/${c.id}/socket-closing`);
        await sleep(4_000);
        const [first] = await channels();
        if (first) await emu.control('POST', `/channels/${first.id}/evict`);
        await sleep(4_000);
        expect(logsMatching(deployment, /gap/).length).toBeGreaterThan(0);
      },
    });
    expect(r.audit.lost).toEqual([]);
    expect(r.audit.failures).toEqual([]);
    expect(r.audit.forks).toBe(0);
    expect(r.exits).toEqual({ ingest: [], 'exports watch': [], sink: [] });
  });
});
