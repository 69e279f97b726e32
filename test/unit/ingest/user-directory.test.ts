import { describe, expect, it } from 'vitest';
import type { Models } from 'purecloud-platform-client-v2';
import type { GenesysApi } from '../../../src/ingest/genesys-api.ts';
import { UserDirectory } from '../../../src/ingest/user-directory.ts';

const USER = '0b6e2c9d-4f1a-4e7b-9c3d-5a8f2e1b7c40';
const HOT_DESK = '9d3a7f21-6c4e-4b8a-a1f5-2e7c9b0d4a63';
const SOFTPHONE = 'c4e8b2a6-1d3f-4a9c-8e7b-6f2a0d5c9b14';

/** Only what the directory calls; `getStation` answers when the test releases it. */
function api(stations: Models.Station[]) {
  const pending: Array<() => void> = [];
  let lookups = 0;
  const fake = {
    async *listUsers() {
      yield { id: USER } as Models.User;
    },
    async *listStations() {
      for (const s of stations) yield s;
    },
    getUserStations: async (): Promise<Models.UserStations> => ({}),
    getStation: async (id: string): Promise<Models.Station | undefined> => {
      lookups++;
      await new Promise<void>((r) => pending.push(r));
      return { id, type: 'inin_physical' } as Models.Station;
    },
  };
  return { api: fake as unknown as GenesysApi, pending, lookups: () => lookups };
}

describe('UserDirectory', () => {
  it('knows a listed station’s type at once when a user logs in to it (no lookup while a call may start)', async () => {
    const a = api([{ id: HOT_DESK, type: 'inin_physical' } as Models.Station]);
    const d = new UserDirectory(a.api, () => 1);
    await d.load();
    void d.onStationEvent(USER, HOT_DESK);
    expect(d.context(USER)).toMatchObject({ stationId: HOT_DESK, stationType: 'inin_physical' });
    expect(a.lookups()).toBe(0);
  });

  it('holds the station id from the event while its type is looked up, and a later logout wins over the lookup', async () => {
    const a = api([]);
    const d = new UserDirectory(a.api, () => 1);
    await d.load();
    const login = d.onStationEvent(USER, SOFTPHONE);
    expect(d.context(USER)).toMatchObject({ stationId: SOFTPHONE, stationType: undefined });
    await d.onStationEvent(USER, undefined);
    a.pending.forEach((release) => release());
    await login;
    expect(d.context(USER)?.stationId).toBeUndefined();
    expect(d.context(USER)?.stationType).toBeUndefined();
  });
});
