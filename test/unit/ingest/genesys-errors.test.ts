import { describe, expect, it } from 'vitest';
import { GenesysApiError } from '../../../src/ingest/genesys-api.ts';
import { genesysFatal, genesysRetryAfterMs } from '../../../src/ingest/genesys-errors.ts';
import { FatalError, isRetriable } from '../../../src/runtime/errors.ts';

describe('genesysFatal', () => {
  it('rejected client credentials name the settings to fix', () => {
    const f = genesysFatal(new GenesysApiError('oauth token', 401, 'invalid_client', 'bad client'));
    expect(f).toBeInstanceOf(FatalError);
    expect(f?.setting).toBe('GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET');
    expect(genesysFatal(new GenesysApiError('oauth token', 400, 'unauthorized_client', 'x'))?.setting).toBe(
      'GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET',
    );
  });

  it('a 403 names the permission Genesys reports missing, else the known one, else the call', () => {
    const named = new GenesysApiError(
      'GET /api/v2/users',
      403,
      'missing.permissions',
      'You are missing the following permission(s): [directory:user:view]',
    );
    expect(genesysFatal(named)?.setting).toBe('directory:user:view');
    const hinted = new GenesysApiError(
      'POST /api/v2/analytics/conversations/details/query',
      403,
      undefined,
      'no',
    );
    expect(genesysFatal(hinted)?.setting).toBe('analytics:conversationDetail:view');
    expect(
      genesysFatal(new GenesysApiError('GET /api/v2/stations/{id}', 403, undefined, 'no'))?.setting,
    ).toBe('permission for GET /api/v2/stations/{id}');
  });

  it('network errors, 429 and 5xx are not fatal but retriable, with Retry-After honoured', () => {
    const network = new GenesysApiError('oauth token', undefined, undefined, 'ECONNREFUSED');
    const throttled = new GenesysApiError('GET /api/v2/users', 429, 'too.many.requests', 'slow down', 3_000);
    const down = new GenesysApiError('GET /api/v2/users', 503, undefined, 'unavailable');
    for (const e of [network, throttled, down]) {
      expect(genesysFatal(e)).toBeUndefined();
      expect(isRetriable(e)).toBe(true);
    }
    expect(genesysRetryAfterMs(throttled)).toBe(3_000);
    expect(genesysFatal(new GenesysApiError('GET /api/v2/users', 404, undefined, 'gone'))).toBeUndefined();
  });
});
