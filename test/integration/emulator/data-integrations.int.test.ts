/** Integration discovery against the emulator's `GET /api/v2/integrations`, through the real SDK. */
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../../dev/emulator/index.ts';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import { Secret } from '../../../src/config.ts';
import { discoverExportIntegration } from '../../../src/genesys/export-integration.ts';
import { GenesysPlatformClient } from '../../../src/genesys/platform-client.ts';

const CLIENT = { clientId: 'integrations-test', clientSecret: 'integrations-secret' };
let emu: RunningEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe('GET /api/v2/integrations', () => {
  it('lists the export integration among others, and custody discovers its id', async () => {
    emu = await startEmulator({ ...CLIENT, seed: 5 });
    const token = await fetch(`${emu.baseUrl}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const listing = (await fetch(`${emu.baseUrl}/api/v2/integrations?pageSize=10`, {
      headers: { authorization: `Bearer ${token.access_token}` },
    }).then((r) => r.json())) as {
      entities: Array<{ id: string; integrationType: { id: string } }>;
      total: number;
    };
    expect(listing.total).toBe(2);
    expect(listing.entities.map((i) => i.integrationType.id).sort()).toEqual([
      'aws-s3-recording-bulk-actions-integration',
      'custom-rest-actions',
    ]);

    const client = new GenesysPlatformClient({
      apiUrl: emu.baseUrl,
      clientId: CLIENT.clientId,
      clientSecret: new Secret(CLIENT.clientSecret),
    });
    try {
      expect(await discoverExportIntegration(client)).toBe(emu.org.integrationId);
    } finally {
      client.close();
    }
  });
});
