/**
 * OAuth, bearer auth, rate limits and REST faults of the emulator, driven through the official SDK.
 * Starts only the emulator (no Kafka or S3 needed).
 */
import { afterEach, describe, expect, it } from 'vitest';
import platformClient from 'purecloud-platform-client-v2';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../dev/emulator/index.ts';

type ApiClient = typeof platformClient.ApiClient;
const CLIENT = { clientId: 'oauth-test-client', clientSecret: 'oauth-test-secret' };

/** A fresh SDK client (not the shared singleton) pointed at the emulator through setGateway. */
function sdkClient(port: number, extended = false): ApiClient {
  const Ctor = platformClient.ApiClient.constructor as new () => ApiClient;
  const client = new Ctor();
  client.setGateway({
    host: '127.0.0.1',
    protocol: 'http',
    port,
    path_params_login: '',
    path_params_api: '',
  });
  client.setReturnExtendedResponses(extended);
  return client;
}

interface ExtendedFailure {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { code?: string; status?: number; message?: string };
}

/** The rejection of an SDK call made with extended responses. */
async function failure(p: Promise<unknown>): Promise<ExtendedFailure> {
  try {
    await p;
  } catch (e) {
    return e as ExtendedFailure;
  }
  throw new Error('expected the call to fail');
}

let emu: RunningEmulator | undefined;
async function start(opts: Partial<EmulatorOptions> = {}): Promise<RunningEmulator> {
  emu = await startEmulator({ ...CLIENT, ...opts });
  return emu;
}
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe('emulator OAuth (SDK loginClientCredentialsGrant)', () => {
  it('issues a bearer token that the SDK then uses for API calls', async () => {
    const e = await start({ tokenTtlSeconds: 3_600 });
    const client = sdkClient(e.port);
    const auth = await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
    expect(auth.accessToken).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const channel = await new platformClient.NotificationsApi(client).postNotificationsChannels();
    expect(channel.id).toMatch(/^streaming-0-/);
  });

  it('answers wrong credentials with 401 invalid_client', async () => {
    const e = await start();
    for (const [id, secret] of [
      [CLIENT.clientId, 'wrong-secret'],
      ['unknown-client', CLIENT.clientSecret],
    ] as const) {
      const err = (await failure(sdkClient(e.port).loginClientCredentialsGrant(id, secret))) as unknown as {
        response: { status: number; data: { error: string } };
      };
      expect(err.response.status).toBe(401);
      expect(err.response.data.error).toBe('invalid_client');
    }
  });

  it('accepts the extra clients too', async () => {
    const e = await start({ extraClients: [{ clientId: 'second', clientSecret: 'second-secret' }] });
    const auth = await sdkClient(e.port).loginClientCredentialsGrant('second', 'second-secret');
    expect(auth.accessToken).toBeTruthy();
  });

  it('rejects missing, unknown, expired and revoked tokens with 401 bad.credentials', async () => {
    const e = await start({ tokenTtlSeconds: 600 });
    const anonymous = sdkClient(e.port, true);
    expect(
      (await failure(new platformClient.NotificationsApi(anonymous).getNotificationsChannels())).status,
    ).toBe(401);
    anonymous.setAccessToken('not-a-token');
    const unknown = await failure(new platformClient.NotificationsApi(anonymous).getNotificationsChannels());
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe('bad.credentials');

    const client = sdkClient(e.port, true);
    await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
    const api = new platformClient.NotificationsApi(client);
    await api.getNotificationsChannels();
    await e.control.advance(599_000);
    await api.getNotificationsChannels();
    await e.control.advance(2_000);
    const expired = await failure(api.getNotificationsChannels());
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe('bad.credentials');

    await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
    await api.getNotificationsChannels();
    expect(e.control.revokeTokens(CLIENT.clientId)).toBe(1);
    expect((await failure(api.getNotificationsChannels())).status).toBe(401);
  });

  it('answers 429 with Retry-After once the per-client budget is spent, per client', async () => {
    const e = await start({
      rateLimit: { perMinute: 3 },
      extraClients: [{ clientId: 'other', clientSecret: 'other-secret' }],
    });
    const client = sdkClient(e.port, true);
    await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
    const api = new platformClient.NotificationsApi(client);
    for (let i = 0; i < 3; i++) await api.getNotificationsAvailabletopics();
    const limited = await failure(api.getNotificationsAvailabletopics());
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.body).toMatchObject({ status: 429, code: 'too.many.requests.retry.after' });

    const other = sdkClient(e.port, true);
    await other.loginClientCredentialsGrant('other', 'other-secret');
    await new platformClient.NotificationsApi(other).getNotificationsAvailabletopics();

    e.control.resetRateLimits();
    await api.getNotificationsAvailabletopics();
  });

  it('control faults force 503 and 429 on chosen paths for a count or a simulated duration', async () => {
    const e = await start();
    const client = sdkClient(e.port, true);
    await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
    const api = new platformClient.NotificationsApi(client);

    e.control.failRest({ pathPrefix: '/api/v2/notifications/channels', status: 503, count: 1 });
    const unavailable = await failure(api.postNotificationsChannels());
    expect(unavailable.status).toBe(503);
    expect(unavailable.body.code).toBe('service.unavailable');
    await api.postNotificationsChannels();
    await api.getNotificationsAvailabletopics();

    e.control.failRest({
      pathPrefix: '/api/v2/notifications',
      status: 429,
      durationMs: 10_000,
      retryAfterSeconds: 5,
    });
    const limited = await failure(api.getNotificationsAvailabletopics());
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('5');
    await e.control.advance(10_001);
    await api.getNotificationsAvailabletopics();
  });

  it('uses Genesys error bodies for unknown paths and methods', async () => {
    const e = await start();
    const client = sdkClient(e.port, true);
    await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
    const res404 = await failure(
      client.callApi(
        '/api/v2/nothing/here',
        'GET',
        {},
        {},
        {},
        {},
        null,
        ['PureCloud OAuth'],
        ['application/json'],
        ['application/json'],
      ),
    );
    expect(res404.status).toBe(404);
    expect(res404.body).toMatchObject({ status: 404, code: 'not.found' });
    const res405 = await failure(
      client.callApi(
        '/api/v2/notifications/availabletopics',
        'DELETE',
        {},
        {},
        {},
        {},
        null,
        ['PureCloud OAuth'],
        ['application/json'],
        ['application/json'],
      ),
    );
    expect(res405.status).toBe(405);
  });
});

describe('startEmulator', () => {
  it('rejects when the port is taken', async () => {
    const e = await start();
    await expect(startEmulator({ ...CLIENT, port: e.port })).rejects.toThrow(/EADDRINUSE/);
  });
});
